"""What lands on a bare-metal master, as one pure function of the config: `master_files(cfg, host,
cert, key)` -> {host path: (file, content)}. The component writes exactly these (given the
certificate pulumi issued), the tests and the version matrix check exactly these, the scripts read
back exactly these. The renderers' inputs are made here and nowhere else."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from components.config.resolve import ResolvedHost, StackConfig
from components.config.schema import DEFAULT_SCHEDULER_NAME, BareMetal, InstallPaths
from components.hostscripts import UNIT_PATH, USER
from components.render.kubeconfig import render_kubeconfig
from components.render.scheduler_config import SchedulerConfigSpec, render_scheduler_config
from components.render.systemd_unit import UnitSpec, render_unit
from components.render.versions import KubeVersion, health_paths

# kube-scheduler's secure port (upstream default): the unit passes it, the gate and scrapers ask it.
SECURE_PORT = 10259
# The main scheduler's leader-election lock (upstream default, docs/sources.md#leader-election).
DEFAULT_LEASE = ("kube-system", "kube-scheduler")


@dataclass(frozen=True)
class HostFile:
    """A file the stack owns on a master: where, whose, which mode, and whether it holds a secret.
    Keys and the kubeconfig are root-owned and readable by the service's group only: the service
    cannot modify anything it reads."""

    label: str  # what it is ("config", "key", ...): the write step is named after it
    path: str
    mode: str
    owner: str = "root"
    group: str = "root"
    secret: bool = False


def layout(paths: InstallPaths) -> dict[str, HostFile]:
    """Every file of a master by label, the binary included."""
    d, pki = paths.config_dir, f"{paths.config_dir}/pki"
    files = [
        HostFile("ca", f"{pki}/ca.crt", "0644"),
        HostFile("cert", f"{pki}/kube-scheduler.crt", "0644"),
        HostFile("key", f"{pki}/kube-scheduler.key", "0640", "root", USER, secret=True),
        HostFile("kubeconfig", f"{d}/kube-scheduler.kubeconfig", "0640", "root", USER, secret=True),
        HostFile("config", f"{d}/kube-scheduler.yaml", "0640", "root", USER),
        HostFile("unit", UNIT_PATH, "0644"),
        HostFile("binary", paths.binary, "0755"),
    ]
    return {f.label: f for f in files}


def directories(paths: InstallPaths) -> list[str]:
    """The directories the stack makes for those files (the unit's and the binary's are the system's)."""
    return [paths.config_dir, f"{paths.config_dir}/pki"]


def unit_spec(bare_metal: BareMetal, version: KubeVersion) -> UnitSpec:
    files = layout(bare_metal.paths)
    return UnitSpec(
        kubernetes_version=version,
        binary_path=files["binary"].path,
        config_path=files["config"].path,
        kubeconfig_path=files["kubeconfig"].path,
        cert_path=files["cert"].path,
        key_path=files["key"].path,
        ca_path=files["ca"].path,
        bind_address=bare_metal.bind_address,
        secure_port=SECURE_PORT,
        verbosity=bare_metal.verbosity,
        user=USER,
        group=USER,
    )


def config_spec(bare_metal: BareMetal, version: KubeVersion) -> SchedulerConfigSpec:
    return SchedulerConfigSpec.of(
        bare_metal,
        version,
        kubeconfig_path=layout(bare_metal.paths)["kubeconfig"].path,
        lease=DEFAULT_LEASE,
        scheduler_name=DEFAULT_SCHEDULER_NAME,  # upstream's default profile (no scoring set)
    )


def health_url(bind_address: str, version: KubeVersion) -> str:
    """Where the service says it is ready: /readyz (informers synced) where the version serves
    it, else /healthz; on loopback when it listens everywhere, else on the one address it binds
    (the serving certificate names the host's addresses too)."""
    host = "127.0.0.1"
    if not ipaddress.ip_address(bind_address).is_unspecified:
        host = f"[{bind_address}]" if ":" in bind_address else bind_address
    return f"https://{host}:{SECURE_PORT}{health_paths(version)[1]}"


def contents(cfg: StackConfig, host: ResolvedHost, cert_pem: str, key_pem: str) -> dict[str, str]:
    """The text of every file but the binary, by label."""
    bm, version = cfg.bare_metal, cfg.kubernetes_version
    kubeconfig = render_kubeconfig(
        cluster_name=cfg.cluster_name,
        server=host.api_server_url,
        ca_pem=cfg.ca_cert_pem,
        client_cert_pem=cert_pem,
        client_key_pem=key_pem,
    )
    return {
        "ca": cfg.ca_cert_pem,
        "cert": cert_pem,
        "key": key_pem,
        "kubeconfig": kubeconfig,
        "config": render_scheduler_config(config_spec(bm, version)),
        "unit": render_unit(unit_spec(bm, version)),
    }


def master_files(
    cfg: StackConfig, host: ResolvedHost, cert_pem: str, key_pem: str
) -> dict[str, tuple[HostFile, str]]:
    """{host path: (file, content)} of one master (the binary's content is the config's binary)."""
    files = layout(cfg.bare_metal.paths)
    return {
        files[label].path: (files[label], text)
        for label, text in contents(cfg, host, cert_pem, key_pem).items()
    }
