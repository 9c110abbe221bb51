"""Monitoring of both paths (docs/monitoring.md): the scraper's identity (a client certificate the
cluster CA signs, its own CN, no group) and its rights in the cluster, a ServiceMonitor where the
Prometheus Operator runs, and the files a Prometheus needs (render/monitoring.py, render/alerts.py):
stack outputs, and in render mode files below `<renderDir>/monitoring`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components import steps
from components.backend import CertificateRequest, Signer
from components.config import StackConfig
from components.host_file import Target, write_file
from components.kube_objects import create_owned
from components.ownership import client_for
from components.render import alerts, monitoring
from components.render.master import HostFile
from plumbing.kube_api import ApiError, UnsupportedCredentialsError

# Client auth only: the reader authenticates to the schedulers, and serves nothing.
READER_USES = ["digital_signature", "key_encipherment", "client_auth"]
_AFTER = {"reader-binding": ("reader-role",), "discovery-binding": ("discovery-role",)}


def service_monitor_served(kubeconfig: str | None) -> tuple[bool, str | None]:
    """(whether the cluster serves the Prometheus Operator's ServiceMonitor, a warning when it
    could not be asked)."""
    try:
        client = client_for(kubeconfig)
        found = client.get("/apis/monitoring.coreos.com/v1") if client is not None else None
    except (OSError, ApiError, UnsupportedCredentialsError, ValueError) as e:
        return False, f"could not ask the cluster for the ServiceMonitor kind ({e}): none made"
    kinds = [r.get("kind") for r in (found or {}).get("resources", [])]
    return "ServiceMonitor" in kinds, None


@dataclass(frozen=True)
class SchedulerMonitoringArgs:
    config: StackConfig
    owner: str
    service_monitor: bool  # make one (the CRD is served, monitoring.serviceMonitor allows it)
    kubeconfig: str | None = None  # the provider's (None: ambient); the guards read with it
    guard: bool = True  # False in render mode: no cluster to read
    render_root: str | None = None  # render mode: write the Prometheus files below it


class SchedulerMonitoring(pulumi.ComponentResource):
    """The reader's certificate and rights; `files` (every file of the Prometheus bundle but the
    key, by path) and `reader_key` (secret) are what a Prometheus needs."""

    files: pulumi.Output[dict[str, str]]
    reader_key: pulumi.Output[str]

    def __init__(
        self, name: str, args: SchedulerMonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(steps.MONITORING_TYPE, name, None, opts)
        cfg = args.config
        mon = cfg.monitoring
        # no organization, so no group: the reader has the rights bound to its name only
        request = CertificateRequest(mon.reader_name, None, [], [], READER_USES)
        signer = Signer.of(cfg)
        reader = signer.issue(f"{name}-reader", request, pulumi.ResourceOptions(parent=self))
        reader_tls: dict[str, Any] = {
            "ca.crt": cfg.ca_cert_pem,
            "tls.crt": reader.cert_pem,
            "tls.key": reader.private_key_pem,
        }
        objects = monitoring.objects(cfg, args.owner, args.service_monitor, reader_tls)
        create_owned(name, objects, _AFTER, args.owner, args.kubeconfig, args.guard, self)
        bundle = monitoring.bundle(mon.reader_name)
        contents: dict[str, pulumi.Input[str]] = {
            "config": monitoring.prometheus_yaml(cfg),
            "rules": alerts.rules_yaml(cfg),
            "ca": cfg.ca_cert_pem,
            "cert": reader.cert_pem,
            "key": reader.private_key_pem,
        }
        if args.render_root is not None:
            target = Target(host=None, backend=signer.backend, render_root=args.render_root)
            for label, f in bundle.items():
                file = HostFile(label, f"/{f.path}", f.mode, secret=f.secret)
                write_file(
                    f"{name}-file-{label}", target, file, contents[label], pulumi.ResourceOptions(parent=self)
                )
        self.files = pulumi.Output.all(
            **{f.path: contents[label] for label, f in bundle.items() if not f.secret}
        ).apply(lambda d: dict(d))
        self.reader_key = pulumi.Output.secret(reader.private_key_pem)
        self.register_outputs({"files": self.files, "reader_key": self.reader_key})
