"""The shape of the stack's config, as a user writes it (camelCase keys under `kube-scheduler:`),
with every default once, next to its reason. Each field's own rule comes from
components/render/rules.py; rules between fields are in checks.py."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from components.config.model import MODEL_CONFIG, DnsLabel, checked
from components.config.model import rule as _rule
from components.config.monitoring import Monitoring
from components.render import rules
from components.render.scheduler_config import SCORING_STRATEGIES
from components.render.versions import KubeVersion, parse_kube_version, supported_text

# The name pods ask for when they name no scheduler: the bare-metal (main) scheduler's.
DEFAULT_SCHEDULER_NAME = "default-scheduler"


def _version(value: object) -> KubeVersion:
    if isinstance(value, KubeVersion):
        return value
    try:
        return parse_kube_version(str(value))
    except ValueError:
        raise ValueError(f"expected a version 1.MINOR.PATCH ({supported_text()}), got {value!r}") from None


Version = Annotated[KubeVersion, BeforeValidator(_version)]
# Field types of one rule each (components/render/rules.py), shared by the fields they check.
Qps = Annotated[float, checked(rules.client_qps)]
Quantity = Annotated[str, checked(rules.quantity)]


class _Model(BaseModel):
    model_config = MODEL_CONFIG


class Subject(_Model):
    # The Hard Way's certificate request (docs/sources.md#default-cert-subject).
    country: str = "US"
    province: str = "Oregon"
    locality: str = "Portland"
    organizational_unit: str = "Kubernetes The Hard Way"


class CertificateSettings(_Model):
    key_algorithm: Literal["RSA", "ECDSA"] = "RSA"  # RSA 2048 like the guides and kubeadm
    rsa_bits: Literal[2048, 3072, 4096] = 2048
    ecdsa_curve: Literal["P256", "P384"] = "P256"
    subject: Subject = Subject()
    validity_hours: int = 8760  # one year, like kubeadm (docs/sources.md#default-cert-lifetime)
    early_renewal_hours: int = 720  # renewed 30 days before expiry


class Host(_Model):
    name: DnsLabel
    address: Annotated[str, checked(rules.host_address)]
    port: int = Field(default=22, ge=1, le=65535)
    user: str = "root"
    private_key_file: str | None = None
    use_agent: bool = False
    host_key: str | None = None
    host_key_file: str | None = None
    # Each master may talk to its own API server (docs/sources.md#default-own-api-server).
    api_server_url: str | None = None
    # Replace a kube-scheduler installed by hand on this host (README: taking over a master).
    take_over: bool = False

    @field_validator("user")
    @classmethod
    def _user(cls, v: str) -> str:
        # The steps run useradd, chown, systemctl as the login user: no sudo in between.
        if v != "root":
            raise ValueError(
                f"expected root (the steps manage users, files and units without sudo), got {v!r}"
            )
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
        return https_url(v) if v is not None else v


class BinarySource(_Model):
    # Upstream's release layout; {version} is the Kubernetes version without "v".
    url: str | None = None
    sha256: Annotated[str, checked(rules.sha256_hex)] | None = None
    local_file: str | None = None

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


# The placeholder digest of the default binary source: refused, so a user always pins the real one.
PLACEHOLDER_SHA256 = "0" * 64


class InstallPaths(_Model):
    binary: Annotated[str, checked(rules.binary_path)] = "/usr/local/bin/kube-scheduler"
    config_dir: str = "/etc/kubernetes/scheduler"

    @field_validator("config_dir")
    @classmethod
    def _config_dir(cls, v: str) -> str:
        _rule(rules.config_dir(v.rstrip("/") or v))
        return v.rstrip("/")


class LeaderElection(_Model):
    # Upstream kube-scheduler defaults (docs/sources.md#leader-election).
    lease_duration_seconds: int = 15
    renew_deadline_seconds: int = 10
    retry_period_seconds: int = 2


class ClientSettings(_Model):
    """What both paths set on their scheduler: log level, client rate limits, leader election."""

    # the guides' --v=2 (docs/sources.md#default-verbosity)
    verbosity: Annotated[int, checked(rules.verbosity)] = 2
    qps: Qps = 50.0
    burst: int = 100
    leader_election: LeaderElection = LeaderElection()

    @field_validator("burst")
    @classmethod
    def _burst(cls, v: int, info: ValidationInfo) -> int:
        _rule(rules.client_burst(v, info.data.get("qps", 0.0)))
        return v


class BareMetal(ClientSettings):
    enabled: bool = False
    hosts: list[Host] = []
    insecure_skip_host_key_check: bool = False
    binary: BinarySource = BinarySource(
        url="https://dl.k8s.io/v{version}/bin/linux/amd64/kube-scheduler", sha256=PLACEHOLDER_SHA256
    )
    paths: InstallPaths = InstallPaths()
    # Every interface, so the secure port can be scraped (a scheduler bound to 127.0.0.1 cannot).
    bind_address: str = "0.0.0.0"
    # Upstream's client limits, kept on the figures (README, "Scheduling performance"): throughput
    # follows qps, but the cluster's main scheduler shares the API server with everything else.
    qps: Qps = 50.0
    burst: int = 100
    health_timeout_seconds: int = Field(default=60, ge=5, le=600)
    # After it is ready, the service must stay up this long (no restart, still ready): a scheduler
    # that crashes soon after it first answered is rolled back too.
    soak_seconds: int = Field(default=5, ge=1, le=300)

    @field_validator("bind_address")
    @classmethod
    def _bind(cls, v: str) -> str:
        _rule(rules.ip_address(v))
        return rules.canonical_ip(v)


class Resources(_Model):
    cpu: Quantity = "500m"  # docs/sources.md#default-resources
    memory: Quantity = "512Mi"


class InCluster(ClientSettings):
    enabled: bool = False
    scheduler_name: DnsLabel = "custom-k8s-scheduler"
    namespace: DnsLabel = "kube-system"  # docs/sources.md#default-in-cluster-names
    # one leads, one stands by (docs/sources.md#default-replicas)
    replicas: Annotated[int, checked(rules.positive_int)] = 2
    image: str | None = None  # default registry.k8s.io/kube-scheduler:v<version>
    image_digest: Annotated[str, checked(rules.image_digest)] | None = None
    scoring_strategy: str = "MostAllocated"  # docs/sources.md#default-scoring
    resource_weights: dict[str, int] = {"cpu": 1, "memory": 1}
    # The guides' 100/200 (docs/sources.md#default-client-rate), kept on the figures: twice
    # upstream's throughput; 200 went as fast as the lab could create pods.
    qps: Qps = 100.0
    burst: int = 200
    # Nodes that come and go (docs/sources.md#default-karpenter).
    excluded_node_label_keys: list[str] = ["karpenter.sh/nodepool"]
    resources: Resources = Resources()
    create_sample_pod: bool = True
    # Wait for the Deployment and sample pod to be ready (needs kubelets that run them).
    wait_for_ready: bool = True

    @field_validator("scheduler_name")
    @classmethod
    def _not_default(cls, v: str) -> str:
        # Pods without schedulerName ask for this name: a second scheduler by it claims every pod.
        if v == DEFAULT_SCHEDULER_NAME:
            raise ValueError(
                "expected a name of its own (pods that name no scheduler ask for "
                f"{DEFAULT_SCHEDULER_NAME!r}), got {v!r}"
            )
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
        for name, weight in v.items():
            for problem in (rules.qualified_name(name, "resource name"), rules.resource_weight(weight)):
                if problem:
                    raise ValueError(f"{name!r}: {problem}")
        return v

    @field_validator("excluded_node_label_keys")
    @classmethod
    def _labels(cls, v: list[str]) -> list[str]:
        for key in v:
            _rule(rules.qualified_name(key, "label key"))
        return v


def https_url(v: str) -> str:
    _rule(rules.https_url(v))
    return v.rstrip("/")


class RawConfig(_Model):
    """The config as written; files and key material are read into `StackConfig` (resolve.py)."""

    kubernetes_version: Version
    cluster_name: Annotated[str, checked(rules.dns_subdomain)] = "kubernetes"
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
    monitoring: Monitoring = Monitoring()
    kubeconfig: SecretStr | None = None
    kubeconfig_file: str | None = None
    output_mode: Literal["apply", "render"] = "apply"
    render_dir: str = ".render"
    # plugins: pulumi-tls and pulumi-command; builtin: components/builtin.py (no plugins needed)
    resource_backend: Literal["plugins", "builtin"] = "plugins"

    @field_validator("api_server_url")
    @classmethod
    def _api(cls, v: str) -> str:
        return https_url(v)
