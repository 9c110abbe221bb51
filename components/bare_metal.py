"""kube-scheduler on N masters: a certificate and a host component per master, rolled one at a time."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components import steps
from components.backend import Signer
from components.certificates import SchedulerCertificate, SchedulerCertificateArgs
from components.config import StackConfig
from components.host_file import Target
from components.render.master import DEFAULT_LEASE
from components.scheduler_host import SchedulerHost, SchedulerHostArgs


@dataclass(frozen=True)
class BareMetalSchedulersArgs:
    config: StackConfig
    owner: str  # "<project>/<stack>": the masters record it and refuse any other stack
    render_root: str | None = None  # set: write each master's files below it, touch no host


class BareMetalSchedulers(pulumi.ComponentResource):
    """Hosts roll out in list order; each waits until the previous one passed its gate, so a
    rollout never has more than one master down."""

    hosts: pulumi.Output[dict[str, dict[str, str]]]

    def __init__(
        self, name: str, args: BareMetalSchedulersArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(steps.MASTERS_TYPE, name, None, opts)
        cfg = args.config
        signer = Signer.of(cfg)
        previous: pulumi.Resource | None = None
        summary: dict[str, pulumi.Output[dict[str, str]]] = {}
        for host in cfg.hosts:
            component = steps.host_component(host.name)
            cert = SchedulerCertificate(
                component,
                SchedulerCertificateArgs(host_name=host.name, addresses=[host.address], signer=signer),
                opts=pulumi.ResourceOptions(parent=self),
            )
            render = args.render_root is not None
            target = Target(
                host=None if render else host,
                backend=signer.backend,
                render_root=f"{args.render_root}/hosts/{host.name}" if render else None,
            )
            node = SchedulerHost(
                component,
                SchedulerHostArgs(
                    config=cfg,
                    host=host,
                    cert_pem=cert.cert_pem,
                    key_pem=cert.private_key_pem,
                    owner=args.owner,
                    target=target,
                    restart_after=previous,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            previous = node.service or previous
            summary[host.name] = pulumi.Output.all(address=host.address, cert_not_after=cert.not_after)
        self.hosts = pulumi.Output.all(**summary)
        self.register_outputs({"hosts": self.hosts, "lease": "/".join(DEFAULT_LEASE)})
