"""kube-scheduler on N masters: a certificate and a host component per master, rolled one at a time."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.certificates import SchedulerCertificate, SchedulerCertificateArgs
from components.config import StackConfig
from components.scheduler_host import DEFAULT_LEASE as LEASE
from components.scheduler_host import SchedulerHost, SchedulerHostArgs


@dataclass(frozen=True)
class BareMetalSchedulersArgs:
    config: StackConfig
    owner: str  # "<project>/<stack>": the masters record it and refuse any other stack
    render_root: str | None = None


class BareMetalSchedulers(pulumi.ComponentResource):
    """Hosts restart in list order; each waits until the previous one is healthy again, so a
    rollout never has more than one instance down."""

    hosts: pulumi.Output[dict[str, dict[str, str]]]

    def __init__(
        self, name: str, args: BareMetalSchedulersArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kube-scheduler:baremetal:BareMetalSchedulers", name, None, opts)
        cfg = args.config
        ca_key = pulumi.Output.secret(cfg.ca_key_pem.get_secret_value())
        previous: pulumi.Resource | None = None
        summary: dict[str, pulumi.Output[dict[str, str]]] = {}
        for host in cfg.hosts:
            cert = SchedulerCertificate(
                f"{name}-{host.name}",
                SchedulerCertificateArgs(
                    host_name=host.name,
                    addresses=[host.address],
                    ca_cert_pem=cfg.ca_cert_pem,
                    ca_key_pem=ca_key,
                    settings=cfg.certificate,
                    builtin=cfg.resource_backend == "builtin",
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            node = SchedulerHost(
                f"{name}-{host.name}",
                SchedulerHostArgs(
                    host=host,
                    bare_metal=cfg.bare_metal,
                    binary=cfg.binary,
                    kubernetes_version=cfg.kubernetes_version,
                    cluster_name=cfg.cluster_name,
                    ca_cert_pem=cfg.ca_cert_pem,
                    cert_pem=cert.cert_pem,
                    key_pem=cert.private_key_pem,
                    owner=args.owner,
                    render_root=args.render_root,
                    restart_after=previous,
                    builtin=cfg.resource_backend == "builtin",
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            previous = node.service or previous
            summary[host.name] = pulumi.Output.all(address=host.address, cert_not_after=cert.not_after)
        self.hosts = pulumi.Output.all(**summary)
        self.register_outputs({"hosts": self.hosts, "lease": LEASE})
