"""The stack's configuration: one typed model, validated before any resource exists.

Values come from Pulumi config (`<project>:<key>`); structured keys hold JSON objects. Every
problem is reported at once, each naming the config key, what was expected and what was received
(secret values are never echoed).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components import material
from components.render import rules
from components.render.cluster_objects import in_cluster_objects
from components.render.scheduler_config import SCORING_STRATEGIES
from components.render.upstream_objects import collisions
from components.render.versions import KubeVersion, parse_kube_version

PROJECT = "kube-scheduler"

# Every top-level key the program reads; Pulumi.yaml declares the same set (a test checks).
TOP_LEVEL_KEYS = (
    "kubernetesVersion",
    "clusterName",
    "apiServerUrl",
    "caCert",
    "caCertFile",
    "caKey",
    "caKeyFile",
    "sshPrivateKey",
    "sshPrivateKeyFile",
    "certificate",
    "bareMetal",
    "inCluster",
    "kubeconfig",
    "kubeconfigFile",
    "outputMode",
    "renderDir",
    "resourceBackend",
)
# The name pods ask for when they name no scheduler: the bare-metal (main) scheduler's.
DEFAULT_SCHEDULER_NAME = "default-scheduler"
STRUCTURED_KEYS = frozenset({"certificate", "bareMetal", "inCluster"})
SECRET_KEYS = frozenset({"caKey", "sshPrivateKey", "kubeconfig"})


class ConfigError(Exception):
    """All problems found in the stack config; `problems` holds one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid stack configuration ({len(problems)} problem(s)):\n{lines}")


class _Model(BaseModel):
    # camelCase keys as Pulumi config conventionally uses; unknown keys are typos, not ignored.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


def _rule(problem: str | None) -> None:
    """Raise a rule's problem (components/render/rules.py) as the field's validation error."""
    if problem:
        raise ValueError(problem)


class Subject(_Model):
    # Defaults from the seeds' cfssl CSR ("Kubernetes The Hard Way").
    country: str = "US"
    province: str = "Oregon"
    locality: str = "Portland"
    organizational_unit: str = "Kubernetes The Hard Way"


class CertificateSettings(_Model):
    key_algorithm: Literal["RSA", "ECDSA"] = "RSA"  # seeds: rsa 2048
    rsa_bits: Literal[2048, 3072, 4096] = 2048
    ecdsa_curve: Literal["P256", "P384"] = "P256"
    subject: Subject = Subject()
    validity_hours: int = 8760  # one year, like kubeadm
    early_renewal_hours: int = 720  # renew 30 days before expiry

    @model_validator(mode="after")
    def _lifetime(self) -> CertificateSettings:
        problems = rules.certificate_lifetime(self.validity_hours, self.early_renewal_hours)
        if problems:  # "<field>: <problem>", so the key names the field (load_config)
            raise ValueError("; ".join(f"{field}: {problem}" for field, problem in problems))
        return self


class Host(_Model):
    name: str
    address: str
    port: int = Field(default=22, ge=1, le=65535)
    user: str = "root"
    private_key_file: str | None = None
    use_agent: bool = False
    host_key: str | None = None
    host_key_file: str | None = None
    api_server_url: str | None = None  # opsnull points each master at its own API server
    # Replace a kube-scheduler installed by hand on this host (README: taking over a master).
    take_over: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        _rule(rules.dns_label(v))
        return v

    @field_validator("user")
    @classmethod
    def _user(cls, v: str) -> str:
        # The steps run useradd, chown, systemctl as the login user: no sudo in between.
        if v != "root":
            raise ValueError(
                f"expected root (the steps manage users, files and units without sudo), got {v!r}"
            )
        return v

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        _rule(rules.host_address(v))
        return v

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, v: str | None) -> str | None:
        if v is not None:
            _rule(rules.host_key_line(v))
        return v.strip() if v else v

    @field_validator("api_server_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return _https_url(v) if v is not None else v


class BinarySource(_Model):
    # Upstream release layout; {version} is the Kubernetes version without "v".
    url: str | None = None
    sha256: str | None = None
    local_file: str | None = None

    @field_validator("sha256")
    @classmethod
    def _sha(cls, v: str | None) -> str | None:
        if v is not None:
            _rule(rules.sha256_hex(v))
        return v

    @model_validator(mode="after")
    def _one_source(self) -> BinarySource:
        if (self.url is None) == (self.local_file is None):
            raise ValueError(
                "expected exactly one of url (with sha256) or localFile, "
                f"got url={self.url!r} localFile={self.local_file!r}"
            )
        if self.url is not None:
            if not self.url.startswith("https://"):
                raise ValueError(f"url: expected an https:// URL, got {self.url!r}")
            if self.sha256 is None:
                raise ValueError(f"sha256: required with url (no unverified downloads), got {self.url!r}")
        return self


class InstallPaths(_Model):
    binary: str = "/usr/local/bin/kube-scheduler"
    config_dir: str = "/etc/kubernetes/scheduler"

    @field_validator("binary")
    @classmethod
    def _binary(cls, v: str) -> str:
        _rule(rules.binary_path(v))
        return v

    @field_validator("config_dir")
    @classmethod
    def _config_dir(cls, v: str) -> str:
        _rule(rules.config_dir(v.rstrip("/") or v))
        return v.rstrip("/")


class LeaderElection(_Model):
    # Upstream kube-scheduler defaults.
    lease_duration_seconds: int = 15
    renew_deadline_seconds: int = 10
    retry_period_seconds: int = 2

    @model_validator(mode="after")
    def _timings(self) -> LeaderElection:
        problems = rules.leader_election(
            self.lease_duration_seconds, self.renew_deadline_seconds, self.retry_period_seconds
        )
        if problems:  # "<field>: <problem>", so the key names the field (load_config)
            raise ValueError("; ".join(f"{field}: {problem}" for field, problem in problems))
        return self


class BareMetal(_Model):
    enabled: bool = False
    hosts: list[Host] = []
    insecure_skip_host_key_check: bool = False
    binary: BinarySource = BinarySource(
        url="https://dl.k8s.io/v{version}/bin/linux/amd64/kube-scheduler", sha256="0" * 64
    )
    paths: InstallPaths = InstallPaths()
    bind_address: str = "0.0.0.0"  # metrics/healthz reachable for scraping (anchors: trip 6)
    verbosity: int = 2
    leader_election: LeaderElection = LeaderElection()
    # Upstream's defaults, kept on the figures (README, "Scheduling performance"): throughput
    # follows qps (50 pods/s steady, 1,000 pods in 18 s), so qps is the knob, but the cluster's
    # main scheduler shares the API server with everything else; raise both for big bursts.
    qps: float = 50.0
    burst: int = 100
    health_timeout_seconds: int = Field(default=60, ge=5, le=600)
    # After a restart the gate also waits this long for the service to stay up (no restart, still
    # ready): a scheduler that crashes soon after it first answered is rolled back too.
    soak_seconds: int = Field(default=5, ge=1, le=300)

    @field_validator("verbosity")
    @classmethod
    def _verbosity(cls, v: int) -> int:
        _rule(rules.verbosity(v))
        return v

    @field_validator("qps")
    @classmethod
    def _qps(cls, v: float) -> float:
        _rule(rules.client_qps(v))
        return v

    @field_validator("burst")
    @classmethod
    def _burst(cls, v: int, info: ValidationInfo) -> int:
        _rule(rules.client_burst(v, info.data.get("qps", 0.0)))
        return v

    @field_validator("bind_address")
    @classmethod
    def _bind(cls, v: str) -> str:
        _rule(rules.ip_address(v))
        return rules.canonical_ip(v)


class Resources(_Model):
    cpu: str = "500m"  # seed 004
    memory: str = "512Mi"

    @field_validator("cpu", "memory")
    @classmethod
    def _q(cls, v: str) -> str:
        _rule(rules.quantity(v))
        return v


class InCluster(_Model):
    enabled: bool = False
    scheduler_name: str = "custom-k8s-scheduler"  # seed 004
    namespace: str = "kube-system"
    replicas: int = 2
    image: str | None = None  # default registry.k8s.io/kube-scheduler:v<version>
    image_digest: str | None = None
    scoring_strategy: str = "MostAllocated"
    resource_weights: dict[str, int] = {"cpu": 1, "memory": 1}
    # Seed 004's, kept on the figures: twice upstream's throughput (108 pods/s steady); 200 went
    # as fast as this machine could create pods (~185/s), so the ceiling lies beyond what it shows.
    qps: float = 100.0
    burst: int = 200
    excluded_node_label_keys: list[str] = ["karpenter.sh/nodepool"]
    resources: Resources = Resources()
    verbosity: int = 2
    create_sample_pod: bool = True
    # Wait for the Deployment and sample pod to be ready (needs kubelets that run them).
    wait_for_ready: bool = True
    leader_election: LeaderElection = LeaderElection()

    @field_validator("scheduler_name", "namespace")
    @classmethod
    def _dns(cls, v: str) -> str:
        _rule(rules.dns_label(v))
        return v

    @field_validator("scheduler_name")
    @classmethod
    def _not_default(cls, v: str) -> str:
        # Pods without schedulerName ask for this name: a second scheduler by it claims every pod.
        if v == DEFAULT_SCHEDULER_NAME:
            raise ValueError(
                f"expected a name of its own (pods that name no scheduler ask for "
                f"{DEFAULT_SCHEDULER_NAME!r}), got {v!r}"
            )
        return v

    @field_validator("replicas")
    @classmethod
    def _count(cls, v: int) -> int:
        _rule(rules.positive_int(v))
        return v

    @field_validator("burst")
    @classmethod
    def _burst(cls, v: int, info: ValidationInfo) -> int:
        _rule(rules.client_burst(v, info.data.get("qps", 0.0)))
        return v

    @field_validator("qps")
    @classmethod
    def _qps(cls, v: float) -> float:
        _rule(rules.client_qps(v))
        return v

    @field_validator("verbosity")
    @classmethod
    def _verbosity(cls, v: int) -> int:
        _rule(rules.verbosity(v))
        return v

    @field_validator("scoring_strategy")
    @classmethod
    def _strategy(cls, v: str) -> str:
        if v not in SCORING_STRATEGIES:
            raise ValueError(f"expected one of {sorted(SCORING_STRATEGIES)}, got {v!r}")
        return v

    @field_validator("resource_weights")
    @classmethod
    def _weights(cls, v: dict[str, int]) -> dict[str, int]:
        if not v:
            raise ValueError("expected at least one resource with a weight from 1 to 100, got {}")
        problems = [
            f"{name!r}: {problem}"
            for name, weight in v.items()
            for problem in (rules.qualified_name(name, "resource name"), rules.resource_weight(weight))
            if problem
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return v

    @field_validator("excluded_node_label_keys")
    @classmethod
    def _labels(cls, v: list[str]) -> list[str]:
        problems = [p for p in (rules.qualified_name(k, "label key") for k in v) if p]
        if problems:
            raise ValueError("; ".join(problems))
        return v

    @field_validator("image_digest")
    @classmethod
    def _digest(cls, v: str | None) -> str | None:
        if v is not None:
            _rule(rules.image_digest(v))
        return v


def _https_url(v: str) -> str:
    _rule(rules.https_url(v))
    return v.rstrip("/")


class _Raw(_Model):
    """The shape of the config as written; files are resolved into `StackConfig` afterwards."""

    kubernetes_version: str
    cluster_name: str = "kubernetes"
    api_server_url: str
    ca_cert: str | None = None
    ca_cert_file: str | None = None
    ca_key: SecretStr | None = None
    ca_key_file: str | None = None
    ssh_private_key: SecretStr | None = None
    ssh_private_key_file: str | None = None
    certificate: CertificateSettings = CertificateSettings()
    bare_metal: BareMetal = BareMetal()
    in_cluster: InCluster = InCluster()
    kubeconfig: SecretStr | None = None
    kubeconfig_file: str | None = None
    output_mode: Literal["apply", "render"] = "apply"
    render_dir: str = ".render"
    # plugins: pulumi-tls and pulumi-command; builtin: components/builtin.py (no plugins needed)
    resource_backend: Literal["plugins", "builtin"] = "plugins"

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, v: str) -> str:
        try:
            parse_kube_version(v)
        except ValueError as e:
            supported = re.search(r"supported: [^)]*", str(e))
            span = supported.group(0) if supported else "see components/render/versions.py"
            raise ValueError(f"expected a version 1.MINOR.PATCH ({span}), got {v!r}") from None
        return v

    @field_validator("cluster_name")
    @classmethod
    def _cluster(cls, v: str) -> str:
        _rule(rules.dns_subdomain(v))
        return v

    @field_validator("api_server_url")
    @classmethod
    def _api(cls, v: str) -> str:
        return _https_url(v)


class ResolvedHost(BaseModel):
    """A host with its files read: what the components consume."""

    model_config = ConfigDict(frozen=True)
    name: str
    address: str
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
    kubeconfig: SecretStr | None
    output_mode: Literal["apply", "render"]
    render_dir: str
    resource_backend: Literal["plugins", "builtin"]


# ---------------------------------------------------------------------------- loading


def _loc(loc: tuple[int | str, ...]) -> str:
    """The config key of a location: `bareMetal.hosts[0].name`; a key that is not a plain name
    (a typo with odd characters) is quoted: `certificate[": "]`."""
    out = PROJECT + ":"
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", str(part)):
            out += ("." if i else "") + str(part)
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


def _describe(err: Mapping[str, Any], secret: bool) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Input should be ")
    if err["type"] == "extra_forbidden":
        return "unknown key (typo?); see Pulumi.yaml for the keys this program reads"
    if err["type"] == "missing":
        return "required, got nothing"
    if "got " in msg or secret:
        return msg
    return f"expected {msg[0].lower()}{msg[1:]}, got {err['input']!r}"


_FIELD_PROBLEM = re.compile(r"([a-z][A-Za-z0-9]*): (expected .*)")


def _problems_of(err: Mapping[str, Any]) -> list[str]:
    """One line per problem; a model-level rule that names a field ("renewDeadlineSeconds:
    expected ...") is reported under that field's key."""
    loc = tuple(err["loc"])
    secret = bool(loc) and loc[0] in SECRET_KEYS
    text = _describe(err, secret)
    parts = text.split("; ")
    named = [_FIELD_PROBLEM.fullmatch(part) for part in parts]
    if err["type"] == "value_error" and all(named):
        return [f"{_loc((*loc, m.group(1)))}: {m.group(2)}" for m in named if m]
    return [f"{_loc(loc)}: {text}"]


def _parse_raw(raw: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    data: dict[str, Any] = {}
    problems: list[str] = []
    for key, text in raw.items():
        if key in STRUCTURED_KEYS:
            try:
                data[key] = json.loads(text)
            except json.JSONDecodeError as e:
                problems.append(f"{PROJECT}:{key}: expected a YAML/JSON object, got {text!r} ({e.msg})")
        else:
            data[key] = text
    return data, problems


def _read_file(key: str, path: str, problems: list[str], base: Path) -> str | None:
    p = (base / path).expanduser()
    try:
        return p.read_text()
    except OSError as e:
        problems.append(f"{PROJECT}:{key}: expected a readable file, got {path!r} ({e.strerror})")
        return None


def _one_of(
    raw: _Raw, value_key: str, file_key: str, problems: list[str], base: Path, required: bool
) -> str | None:
    value = getattr(raw, _snake(value_key))
    path = getattr(raw, _snake(file_key))
    if value is not None and path is not None:
        problems.append(f"{PROJECT}:{value_key}: expected either {value_key} or {file_key}, got both")
        return None
    if value is not None:
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    if path is not None:
        return _read_file(file_key, path, problems, base)
    if required:
        problems.append(f"{PROJECT}:{value_key}: required (or {file_key}), got nothing")
    return None


def _snake(camel: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _resolve_hosts(raw: _Raw, problems: list[str], base: Path) -> list[ResolvedHost]:
    bm = raw.bare_metal
    connects = raw.output_mode == "apply"
    shared_key = _one_of(raw, "sshPrivateKey", "sshPrivateKeyFile", problems, base, required=False)
    if shared_key is not None and connects and bm.hosts:
        from_file = raw.ssh_private_key_file is not None
        key_name = "sshPrivateKeyFile" if from_file else "sshPrivateKey"
        key_path = (base / raw.ssh_private_key_file).expanduser() if raw.ssh_private_key_file else None
        problems += material.ssh_key_problems(shared_key, key_name, key_path, uses_agent=False)
    hosts: list[ResolvedHost] = []
    # One machine is one entry: names compare case-folded, addresses in their canonical spelling.
    canonical = {"name": str.casefold, "address": rules.canonical_host_address}
    for kind, same in canonical.items():
        seen: dict[str, int] = {}
        for i, h in enumerate(bm.hosts):
            value = getattr(h, kind)
            key = same(value)
            if key in seen:
                problems.append(
                    f"{PROJECT}:bareMetal.hosts[{i}].{kind}: expected a unique {kind}, "
                    f"got {value!r} again (also hosts[{seen[key]}])"
                )
            seen.setdefault(key, i)
    for i, h in enumerate(bm.hosts):
        key_loc = f"{PROJECT}:bareMetal.hosts[{i}]"
        private_key = shared_key
        if h.private_key_file is not None:
            private_key = _read_file(
                f"bareMetal.hosts[{i}].privateKeyFile", h.private_key_file, problems, base
            )
            if private_key is not None and connects:
                problems += material.ssh_key_problems(
                    private_key,
                    f"bareMetal.hosts[{i}].privateKeyFile",
                    (base / h.private_key_file).expanduser(),
                    uses_agent=h.use_agent,
                )
        # Render mode connects to nothing: SSH credentials and pins are not needed.
        if private_key is None and not h.use_agent and connects:
            problems.append(
                f"{key_loc}.privateKeyFile: expected a key (privateKeyFile, sshPrivateKey) "
                f"or useAgent: true for host {h.name!r}, got none"
            )
        host_key = h.host_key
        if h.host_key_file is not None:
            text = _read_file(f"bareMetal.hosts[{i}].hostKeyFile", h.host_key_file, problems, base)
            if text is not None:
                host_key = text.strip()
                problem = rules.host_key_line(host_key)
                if problem:
                    problems.append(f"{key_loc}.hostKeyFile: {problem} in {h.host_key_file!r}")
        if host_key is None and not bm.insecure_skip_host_key_check and connects:
            problems.append(
                f"{key_loc}.hostKey: expected the host's pinned SSH public key (hostKey or hostKeyFile) "
                f"for host {h.name!r}, got none; set bareMetal.insecureSkipHostKeyCheck: true only "
                "for throwaway test hosts"
            )
        hosts.append(
            ResolvedHost(
                name=h.name,
                address=rules.canonical_host_address(h.address),
                port=h.port,
                user=h.user,
                private_key=SecretStr(private_key) if private_key is not None else None,
                use_agent=h.use_agent,
                host_key=host_key,
                api_server_url=h.api_server_url or raw.api_server_url,
                take_over=h.take_over,
            )
        )
    return hosts


def _resolve_binary(raw: _Raw, problems: list[str], base: Path) -> ResolvedBinary:
    src = raw.bare_metal.binary
    if src.local_file is not None:
        path = base / src.local_file
        if not path.is_file():
            problems.append(
                f"{PROJECT}:bareMetal.binary.localFile: expected an existing file, got {src.local_file!r}"
            )
            return ResolvedBinary(url=None, local_file=str(path), sha256="")
        digest = _sha256_file(path)
        if src.sha256 is not None and src.sha256 != digest:
            problems.append(
                f"{PROJECT}:bareMetal.binary.sha256: expected the SHA-256 of {src.local_file!r} "
                f"({digest}), got {src.sha256!r}"
            )
        return ResolvedBinary(url=None, local_file=str(path), sha256=digest)
    assert src.url is not None and src.sha256 is not None  # guaranteed by BinarySource
    if src.sha256 == "0" * 64:
        problems.append(
            f"{PROJECT}:bareMetal.binary.sha256: expected the published SHA-256 of the "
            f"kube-scheduler binary, got the placeholder {src.sha256!r}"
        )
    url = src.url.replace("{version}", str(raw_version(raw)))
    return ResolvedBinary(url=url, local_file=None, sha256=src.sha256)


def raw_version(raw: _Raw) -> KubeVersion:
    return parse_kube_version(raw.kubernetes_version)


def load_config(
    raw: Mapping[str, str], base_dir: Path | str = ".", secret_keys: set[str] | None = None
) -> StackConfig:
    """Validate `raw` (config key -> string as Pulumi stores it) into a `StackConfig`.

    `secret_keys`, when known, names the keys that were set as secrets: a secret key given in
    plain text is refused. Raises `ConfigError` listing every problem found.
    """
    base = Path(base_dir)
    # Pulumi.yaml gives optional keys an empty default ("" or {}): the same as not set.
    raw = {k: v for k, v in raw.items() if v not in ("", "{}")}
    data, problems = _parse_raw(raw)
    if secret_keys is not None:
        for key in sorted(SECRET_KEYS & set(raw) - secret_keys):
            problems.append(
                f"{PROJECT}:{key}: expected a secret (pulumi config set --secret {key}), "
                "got a plain-text value"
            )
    # Cross-path check that must not wait for field validation, so all problems come out at once.
    bm_raw, ic_raw = data.get("bareMetal"), data.get("inCluster")
    bm_on = isinstance(bm_raw, dict) and bm_raw.get("enabled") is True
    ic_on = isinstance(ic_raw, dict) and ic_raw.get("enabled") is True
    if not bm_on and not ic_on:
        problems.append(
            f"{PROJECT}:bareMetal.enabled / inCluster.enabled: expected at least one path enabled, "
            "got both disabled"
        )
    try:
        parsed = _Raw.model_validate(data)
    except ValidationError as e:
        for err in e.errors():
            problems += _problems_of(err)
        # what _resolve would also have said, so that one run reports it all
        for value_key, file_key in (("caCert", "caCertFile"), ("caKey", "caKeyFile")):
            if value_key not in data and file_key not in data:
                problems.append(f"{PROJECT}:{value_key}: required (or {file_key}), got nothing")
        raise ConfigError(problems) from None
    return _resolve(parsed, problems, base)


def _resolve(raw: _Raw, problems: list[str], base: Path) -> StackConfig:
    version = raw_version(raw)
    ca_cert = _one_of(raw, "caCert", "caCertFile", problems, base, required=True)
    ca_key = _one_of(raw, "caKey", "caKeyFile", problems, base, required=True)
    if ca_cert is not None and ca_key is not None:
        problems += material.ca_problems(ca_cert, ca_key, raw.certificate.validity_hours)
    bm = raw.bare_metal
    hosts: list[ResolvedHost] = []
    binary = ResolvedBinary(url=None, local_file=None, sha256="")
    if bm.enabled:
        if not bm.hosts:
            problems.append(f"{PROJECT}:bareMetal.hosts: expected at least one host, got []")
        hosts = _resolve_hosts(raw, problems, base)
        if raw.output_mode == "apply":  # render mode installs no binary
            binary = _resolve_binary(raw, problems, base)
    ic = raw.in_cluster
    kubeconfig = _one_of(raw, "kubeconfig", "kubeconfigFile", problems, base, required=False)
    if kubeconfig is not None and ic.enabled and raw.output_mode == "apply":
        key = "kubeconfigFile" if raw.kubeconfig_file is not None else "kubeconfig"
        problems += material.kubeconfig_problems(kubeconfig, key)
    if ic.enabled:
        problems += _reserved_name_problems(ic, version)
    image = ic.image or f"registry.k8s.io/kube-scheduler:v{version}"
    if ic.image_digest:
        image = f"{image}@{ic.image_digest}"
    if ic.enabled:
        problem = rules.image_reference(image)
        if problem:
            key = "inCluster.image" if ic.image else "inCluster.imageDigest"
            problems.append(f"{PROJECT}:{key}: {problem}")
    if problems:
        raise ConfigError(problems)
    return StackConfig(
        kubernetes_version=version,
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
        kubeconfig=SecretStr(kubeconfig) if kubeconfig is not None else None,
        output_mode=raw.output_mode,
        render_dir=raw.render_dir,
        resource_backend=raw.resource_backend,
    )


def _reserved_name_problems(ic: InCluster, version: KubeVersion) -> list[str]:
    """A scheduler name whose objects (or lease) Kubernetes or kubeadm of that minor makes itself:
    `up` would overwrite them, or the scheduler would fight their owner for the lease."""
    # the ConfigMap's name is <name>-config-<hash of the config>: its fixed part is what a name decides
    refs = in_cluster_objects(
        ic.scheduler_name, ic.namespace, f"{ic.scheduler_name}-config", pdb=True, sample=ic.create_sample_pod
    )
    found = collisions(version, [(r.kind, r.namespace, r.name) for r in refs])
    if not found:
        return []
    named = ", ".join(f"{kind} {ns + '/' if ns else ''}{name}" for kind, ns, name in found)
    return [
        f"{PROJECT}:inCluster.schedulerName: expected a name Kubernetes does not use itself, got "
        f"{ic.scheduler_name!r} (in namespace {ic.namespace!r}), whose objects Kubernetes "
        f"{version.major}.{version.minor} or kubeadm make: {named}"
    ]


def project_values(all_config: Mapping[str, str]) -> dict[str, str]:
    """The `<project>:<key>` entries of the stack's config, keyed by `<key>`.

    Unknown keys under the project namespace are kept so that validation reports them as typos.
    """
    prefix = PROJECT + ":"
    return {k.removeprefix(prefix): v for k, v in all_config.items() if k.startswith(prefix)}


def program_values() -> tuple[dict[str, str], set[str]]:
    """This program's config values inside a running Pulumi program (or under mocks), and the
    keys among them that were set as secrets."""
    from pulumi.runtime.config import CONFIG, get_config_env, is_config_secret

    values = project_values({**get_config_env(), **CONFIG.get()})
    return values, {k for k in values if is_config_secret(f"{PROJECT}:{k}")}
