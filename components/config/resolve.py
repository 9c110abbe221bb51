"""From the config as written to what the components consume: files read, key material checked
(components/material.py), hosts resolved with their credentials, the binary's digest known."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr

from components.config import material
from components.config.checks import unique
from components.config.errors import Problem
from components.config.monitoring import Monitoring
from components.config.schema import (
    PLACEHOLDER_SHA256,
    BareMetal,
    CertificateSettings,
    InCluster,
    RawConfig,
)
from components.render import rules
from components.render.cluster import object_refs
from components.render.upstream_objects import collisions
from components.render.versions import KubeVersion


class ResolvedHost(BaseModel):
    """A host with its files read: what the components consume."""

    model_config = ConfigDict(frozen=True)
    name: str
    address: str  # canonical (rules.canonical_host_address)
    port: int
    user: str
    private_key: SecretStr | None
    use_agent: bool
    host_key: str | None
    api_server_url: str
    take_over: bool = False


class ResolvedBinary(BaseModel):
    model_config = ConfigDict(frozen=True)
    url: str | None
    local_file: str | None
    sha256: str


class StackConfig(BaseModel):
    """Validated and resolved stack configuration."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    kubernetes_version: KubeVersion
    cluster_name: str
    api_server_url: str
    ca_cert_pem: str
    ca_key_pem: SecretStr
    certificate: CertificateSettings
    bare_metal: BareMetal
    hosts: list[ResolvedHost]
    binary: ResolvedBinary
    in_cluster: InCluster
    in_cluster_image: str
    monitoring: Monitoring
    kubeconfig: SecretStr | None
    output_mode: Literal["apply", "render"]
    render_dir: str
    resource_backend: Literal["plugins", "builtin"]


class Resolver:
    """Reads what the config names; every problem is collected, none raised."""

    def __init__(self, raw: RawConfig, base: Path) -> None:
        self.raw = raw
        self.base = base
        self.problems: list[Problem] = []

    def read_file(self, key: str, path: str) -> str | None:
        try:
            return (self.base / path).expanduser().read_text()
        except OSError as e:
            self.problems.append(Problem(key, f"expected a readable file, got {path!r} ({e.strerror})"))
            return None

    def one_of(self, value_key: str, file_key: str, value: str | SecretStr | None, path: str | None,
               required: bool) -> str | None:  # fmt: skip
        """The value given inline or read from its file (never both)."""
        if value is not None and path is not None:
            self.problems.append(Problem(value_key, f"expected either {value_key} or {file_key}, got both"))
            return None
        if value is not None:
            return value.get_secret_value() if isinstance(value, SecretStr) else value
        if path is not None:
            return self.read_file(file_key, path)
        if required:
            self.problems.append(Problem(value_key, f"required (or {file_key}), got nothing"))
        return None

    def hosts(self) -> list[ResolvedHost]:
        raw, bm = self.raw, self.raw.bare_metal
        connects = raw.output_mode == "apply"
        shared_key = self.one_of("sshPrivateKey", "sshPrivateKeyFile", raw.ssh_private_key,
                                 raw.ssh_private_key_file, required=False)  # fmt: skip
        if shared_key is not None and connects and bm.hosts:
            from_file = raw.ssh_private_key_file is not None
            key_path = (
                (self.base / raw.ssh_private_key_file).expanduser() if raw.ssh_private_key_file else None
            )
            name = "sshPrivateKeyFile" if from_file else "sshPrivateKey"
            self.problems += material.ssh_key_problems(shared_key, name, key_path, uses_agent=False)
        self.problems += unique(((i, h.name, h.name.casefold()) for i, h in enumerate(bm.hosts)), "name")
        self.problems += unique(
            ((i, h.address, rules.canonical_host_address(h.address)) for i, h in enumerate(bm.hosts)),
            "address",
        )
        return [self._host(i, shared_key, connects) for i in range(len(bm.hosts))]

    def _host(self, i: int, shared_key: str | None, connects: bool) -> ResolvedHost:
        bm = self.raw.bare_metal
        h = bm.hosts[i]
        key = f"bareMetal.hosts[{i}]"
        private_key = shared_key
        if h.private_key_file is not None:
            private_key = self.read_file(f"{key}.privateKeyFile", h.private_key_file)
            if private_key is not None and connects:
                path = (self.base / h.private_key_file).expanduser()
                self.problems += material.ssh_key_problems(
                    private_key, f"{key}.privateKeyFile", path, h.use_agent
                )
        # Render mode connects to nothing: SSH credentials and pins are not needed.
        if private_key is None and not h.use_agent and connects:
            self.problems.append(
                Problem(
                    f"{key}.privateKeyFile",
                    "expected a key (privateKeyFile, sshPrivateKey) or useAgent: true for host "
                    f"{h.name!r}, got none",
                )
            )
        host_key = h.host_key
        if h.host_key_file is not None:
            text = self.read_file(f"{key}.hostKeyFile", h.host_key_file)
            if text is not None:
                host_key = text.strip()
                problem = rules.host_key_line(host_key)
                if problem:
                    self.problems.append(Problem(f"{key}.hostKeyFile", f"{problem} in {h.host_key_file!r}"))
        if host_key is None and not bm.insecure_skip_host_key_check and connects:
            self.problems.append(
                Problem(
                    f"{key}.hostKey",
                    "expected the host's pinned SSH public key (hostKey or hostKeyFile) for host "
                    f"{h.name!r}, got none; set bareMetal.insecureSkipHostKeyCheck: true only for "
                    "throwaway test hosts",
                )
            )
        return ResolvedHost(
            name=h.name,
            address=rules.canonical_host_address(h.address),
            port=h.port,
            user=h.user,
            private_key=SecretStr(private_key) if private_key is not None else None,
            use_agent=h.use_agent,
            host_key=host_key,
            api_server_url=h.api_server_url or self.raw.api_server_url,
            take_over=h.take_over,
        )

    def binary(self) -> ResolvedBinary:
        src = self.raw.bare_metal.binary
        if src.local_file is not None:
            path = self.base / src.local_file
            if not path.is_file():
                self.problems.append(
                    Problem(
                        "bareMetal.binary.localFile", f"expected an existing file, got {src.local_file!r}"
                    )
                )
                return ResolvedBinary(url=None, local_file=str(path), sha256="")
            digest = _sha256_file(path)
            if src.sha256 is not None and src.sha256 != digest:
                self.problems.append(
                    Problem(
                        "bareMetal.binary.sha256",
                        f"expected the SHA-256 of {src.local_file!r} ({digest}), got {src.sha256!r}",
                    )
                )
            return ResolvedBinary(url=None, local_file=str(path), sha256=digest)
        assert src.url is not None and src.sha256 is not None  # guaranteed by BinarySource
        if src.sha256 == PLACEHOLDER_SHA256:
            self.problems.append(
                Problem(
                    "bareMetal.binary.sha256",
                    "expected the published SHA-256 of the kube-scheduler binary, got the placeholder "
                    f"{src.sha256!r}",
                )
            )
        url = src.url.replace("{version}", str(self.raw.kubernetes_version))
        return ResolvedBinary(url=url, local_file=None, sha256=src.sha256)


def _reserved(
    key: str, value: str, where: str, version: KubeVersion, objects: Iterable[tuple[str, str, str]]
) -> list[Problem]:
    """`value` at `key` names `objects` (kind, namespace, name); those Kubernetes or kubeadm of that
    minor make themselves are not ours to write: one problem naming them."""
    found = collisions(version, list(objects))
    if not found:
        return []
    named = ", ".join(f"{kind} {ns + '/' if ns else ''}{name}" for kind, ns, name in found)
    return [
        Problem(
            key,
            f"expected a name Kubernetes does not use itself, got {value!r}{where}, whose objects "
            f"Kubernetes {version.major}.{version.minor} or kubeadm make: {named}",
        )
    ]


def reserved_name_problems(ic: InCluster, version: KubeVersion, monitored: bool = False) -> list[Problem]:
    """A scheduler name whose objects (or lease) Kubernetes or kubeadm of that minor make
    themselves: `up` would overwrite them, or the scheduler would fight their owner for the lease."""
    # the ConfigMap's name is <name>-config-<hash of the config>: its fixed part is what a name decides
    objects = object_refs(ic, f"{ic.scheduler_name}-config", monitored).values()
    where = f" (in namespace {ic.namespace!r})"
    refs = ((r.kind, r.namespace, r.name) for r in objects)
    return _reserved("inCluster.schedulerName", ic.scheduler_name, where, version, refs)


def reader_name_problems(monitoring: Monitoring, version: KubeVersion) -> list[Problem]:
    """A reader whose ClusterRole or binding Kubernetes makes itself (`admin`, `view`, ...)."""
    reader = monitoring.reader_name
    refs = [("ClusterRole", "", reader), ("ClusterRoleBinding", "", reader)]
    return _reserved("monitoring.readerName", reader, "", version, refs)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve(raw: RawConfig, base: Path) -> tuple[StackConfig | None, list[Problem]]:
    """The resolved config, or the problems that stop it."""
    r = Resolver(raw, base)
    ca_cert = r.one_of("caCert", "caCertFile", raw.ca_cert, raw.ca_cert_file, required=True)
    ca_key = r.one_of("caKey", "caKeyFile", raw.ca_key, raw.ca_key_file, required=True)
    if ca_cert is not None and ca_key is not None:
        r.problems += material.ca_problems(ca_cert, ca_key, raw.certificate.validity_hours)
    bm = raw.bare_metal
    hosts: list[ResolvedHost] = []
    binary = ResolvedBinary(url=None, local_file=None, sha256="")
    if bm.enabled:
        if not bm.hosts:
            r.problems.append(Problem("bareMetal.hosts", "expected at least one host, got []"))
        hosts = r.hosts()
        if raw.output_mode == "apply":  # render mode installs no binary
            binary = r.binary()
    ic = raw.in_cluster
    kubeconfig = r.one_of("kubeconfig", "kubeconfigFile", raw.kubeconfig, raw.kubeconfig_file, required=False)
    if kubeconfig is not None and ic.enabled and raw.output_mode == "apply":
        key = "kubeconfigFile" if raw.kubeconfig_file is not None else "kubeconfig"
        r.problems += material.kubeconfig_problems(kubeconfig, key)
    if ic.enabled:
        r.problems += reserved_name_problems(ic, raw.kubernetes_version, raw.monitoring.enabled)
    if raw.monitoring.enabled:
        r.problems += reader_name_problems(raw.monitoring, raw.kubernetes_version)
    image = ic.image or f"registry.k8s.io/kube-scheduler:{raw.kubernetes_version.tag}"
    if ic.image_digest:
        image = f"{image}@{ic.image_digest}"
    if ic.enabled:
        problem = rules.image_reference(image)
        if problem:
            r.problems.append(Problem("inCluster.image" if ic.image else "inCluster.imageDigest", problem))
    if r.problems:
        return None, r.problems
    return StackConfig(
        kubernetes_version=raw.kubernetes_version,
        cluster_name=raw.cluster_name,
        api_server_url=raw.api_server_url,
        ca_cert_pem=ca_cert or "",
        ca_key_pem=SecretStr(ca_key or ""),
        certificate=raw.certificate,
        bare_metal=bm,
        hosts=hosts,
        binary=binary,
        in_cluster=ic,
        in_cluster_image=image,
        monitoring=raw.monitoring,
        kubeconfig=SecretStr(kubeconfig) if kubeconfig is not None else None,
        output_mode=raw.output_mode,
        render_dir=raw.render_dir,
        resource_backend=raw.resource_backend,
    ), []
