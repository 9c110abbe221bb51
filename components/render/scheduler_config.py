"""KubeSchedulerConfiguration rendered for a target Kubernetes version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from components.render import rules, yamltext
from components.render.versions import KubeVersion, scheduler_config_api_version

if TYPE_CHECKING:  # config imports this module's SCORING_STRATEGIES
    from components.config.schema import ClientSettings

# scoringStrategy.type values NodeResourcesFit accepts
# (pkg/scheduler/apis/config/validation/validation_pluginargs.go).
SCORING_STRATEGIES: frozenset[str] = frozenset(
    {"LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"}
)

# Bin-packing shape from the upstream "Resource Bin Packing" docs: score rises
# with utilization. Utilization is 0..100 and score 0..10 (MaxCustomPriorityScore).
_BIN_PACKING_SHAPE: tuple[tuple[int, int], ...] = ((0, 0), (100, 10))

_DEFAULT_SCHEDULER = "default-scheduler"
_DEFAULT_LEASE = ("kube-system", "kube-scheduler")


@dataclass(frozen=True)
class SchedulerConfigSpec:
    """Every value of the file, explicit: the defaults live in the stack config (one place)."""

    kubernetes_version: KubeVersion
    # Must be in the file: with --config the scheduler ignores --kubeconfig.
    kubeconfig_path: str  # "" = in-cluster (omit clientConnection.kubeconfig)
    qps: float
    burst: int
    leader_elect: bool
    lease_name: str
    lease_namespace: str
    lease_duration_s: int
    renew_deadline_s: int
    retry_period_s: int
    scheduler_name: str
    # None = upstream's default profile; else "MostAllocated" | "LeastAllocated"
    # | "RequestedToCapacityRatio", scoring `resource_weights`
    scoring_strategy: str | None
    resource_weights: tuple[tuple[str, int], ...]

    @classmethod
    def of(
        cls,
        settings: ClientSettings,
        version: KubeVersion,
        *,
        kubeconfig_path: str,
        lease: tuple[str, str],  # (namespace, name)
        scheduler_name: str,
        scoring_strategy: str | None = None,
        resource_weights: tuple[tuple[str, int], ...] = (),
    ) -> SchedulerConfigSpec:
        """A path's file: its client settings, where its lease is (both paths elect a leader), and
        its profile."""
        le = settings.leader_election
        return cls(
            kubernetes_version=version,
            kubeconfig_path=kubeconfig_path,
            qps=settings.qps,
            burst=settings.burst,
            leader_elect=True,
            lease_name=lease[1],
            lease_namespace=lease[0],
            lease_duration_s=le.lease_duration_seconds,
            renew_deadline_s=le.renew_deadline_seconds,
            retry_period_s=le.retry_period_seconds,
            scheduler_name=scheduler_name,
            scoring_strategy=scoring_strategy,
            resource_weights=resource_weights,
        )


def _validate(spec: SchedulerConfigSpec) -> None:
    """The rules of components/render/rules.py (the stack config applies the same ones)."""
    errors: list[str] = []

    def check(field: str, problem: str | None) -> None:
        if problem:
            errors.append(f"{field}: {problem}")

    path = spec.kubeconfig_path
    if path:
        check("kubeconfig_path", rules.unit_path(path))
    check("qps", rules.client_qps(spec.qps))
    check("burst", rules.positive_int(spec.burst))
    check("lease_name", rules.dns_subdomain(spec.lease_name))
    check("lease_namespace", rules.dns_label(spec.lease_namespace))
    check("scheduler_name", rules.dns_subdomain(spec.scheduler_name))
    for field, problem in rules.leader_election(
        spec.lease_duration_s, spec.renew_deadline_s, spec.retry_period_s
    ):
        check(field, problem)
    if (
        spec.leader_elect
        and spec.scheduler_name != _DEFAULT_SCHEDULER
        and (spec.lease_namespace, spec.lease_name) == _DEFAULT_LEASE
    ):
        # A second scheduler on the default lease fights the main one for it.
        errors.append(
            f"lease_name: expected a lease of its own for scheduler {spec.scheduler_name!r}, "
            f"got the default scheduler's {_DEFAULT_LEASE[0]}/{_DEFAULT_LEASE[1]}"
        )
    if spec.scoring_strategy is not None:
        if spec.scoring_strategy not in SCORING_STRATEGIES:
            expected = sorted(SCORING_STRATEGIES)
            errors.append(f"scoring_strategy: expected one of {expected}, got {spec.scoring_strategy!r}")
        if not spec.resource_weights:
            errors.append("resource_weights: expected at least one resource, got none")
        names = [name for name, _ in spec.resource_weights]
        for name, weight in spec.resource_weights:
            check(f"resource_weights[{name!r}]", rules.qualified_name(name, "resource name"))
            check(f"resource_weights[{name!r}]", rules.resource_weight(weight))
            if names.count(name) > 1:
                errors.append(f"resource_weights: expected each resource once, got {name!r} twice")
    if errors:
        raise ValueError("invalid scheduler config: " + "; ".join(dict.fromkeys(errors)))


def _seconds(value: int) -> str:
    return f"{value}s"


def _node_resources_fit(spec: SchedulerConfigSpec, strategy: str) -> dict[str, Any]:
    scoring: dict[str, Any] = {
        "type": strategy,
        "resources": [{"name": name, "weight": weight} for name, weight in spec.resource_weights],
    }
    if strategy == "RequestedToCapacityRatio":
        scoring["requestedToCapacityRatio"] = {
            "shape": [{"utilization": u, "score": s} for u, s in _BIN_PACKING_SHAPE]
        }
    # No apiVersion/kind in args: the v1 loader types them from the plugin
    # name (NodeResourcesFit -> NodeResourcesFitArgs), as in the upstream docs.
    return {"name": "NodeResourcesFit", "args": {"scoringStrategy": scoring}}


def render_scheduler_config(spec: SchedulerConfigSpec) -> str:
    """KubeSchedulerConfiguration YAML; same spec -> identical bytes."""
    _validate(spec)
    client: dict[str, Any] = {}
    if spec.kubeconfig_path:
        client["kubeconfig"] = spec.kubeconfig_path
    client["qps"] = float(spec.qps)
    client["burst"] = spec.burst

    profile: dict[str, Any] = {"schedulerName": spec.scheduler_name}
    if spec.scoring_strategy is not None:
        profile["pluginConfig"] = [_node_resources_fit(spec, spec.scoring_strategy)]

    doc: dict[str, Any] = {
        "apiVersion": scheduler_config_api_version(spec.kubernetes_version),
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": client,
        "leaderElection": {
            "leaderElect": spec.leader_elect,
            # Leader state lives in a Lease; Endpoints/ConfigMap locks are gone.
            "resourceLock": "leases",
            "resourceName": spec.lease_name,
            "resourceNamespace": spec.lease_namespace,
            "leaseDuration": _seconds(spec.lease_duration_s),
            "renewDeadline": _seconds(spec.renew_deadline_s),
            "retryPeriod": _seconds(spec.retry_period_s),
        },
        # Always one explicit profile, so a second scheduler's name is in the file.
        "profiles": [profile],
    }
    return yamltext.dump(doc)
