"""KubeSchedulerConfiguration rendered for a target Kubernetes version."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import yaml

from components.render.names import is_dns_label, is_dns_subdomain, is_qualified_name
from components.render.versions import KubeVersion, scheduler_config_api_version

# scoringStrategy.type values NodeResourcesFit accepts
# (pkg/scheduler/apis/config/validation/validation_pluginargs.go).
SCORING_STRATEGIES: frozenset[str] = frozenset(
    {"LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"}
)

# Bin-packing shape from the upstream "Resource Bin Packing" docs: score rises
# with utilization. Utilization is 0..100 and score 0..10 (MaxCustomPriorityScore).
_BIN_PACKING_SHAPE: tuple[tuple[int, int], ...] = ((0, 0), (100, 10))

# client-go's leaderelection.JitterFactor: NewLeaderElector refuses
# renewDeadline <= JitterFactor * retryPeriod. Kept as a ratio of integers.
_JITTER_NUM, _JITTER_DEN = 12, 10


_DEFAULT_SCHEDULER = "default-scheduler"
_DEFAULT_LEASE = ("kube-system", "kube-scheduler")


@dataclass(frozen=True)
class SchedulerConfigSpec:
    kubernetes_version: KubeVersion
    # Must be in the file: with --config the scheduler ignores --kubeconfig.
    kubeconfig_path: str  # "" = in-cluster (omit clientConnection.kubeconfig)
    qps: float = 50.0  # upstream default (kube-api-qps)
    burst: int = 100  # upstream default (kube-api-burst)
    leader_elect: bool = True  # upstream default
    lease_name: str = "kube-scheduler"  # upstream default resourceName
    lease_namespace: str = "kube-system"  # upstream default resourceNamespace
    # Upstream leader-election defaults (component-base): 15s / 10s / 2s.
    lease_duration_s: int = 15
    renew_deadline_s: int = 10
    retry_period_s: int = 2
    scheduler_name: str = _DEFAULT_SCHEDULER
    # None = upstream default profile; else "MostAllocated" | "LeastAllocated"
    # | "RequestedToCapacityRatio"
    scoring_strategy: str | None = None
    # NodeResourcesFit default resources (cpu and memory, weight 1 each).
    resource_weights: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))


def _validate(spec: SchedulerConfigSpec) -> None:
    errors: list[str] = []
    path = spec.kubeconfig_path
    if path and not path.startswith("/"):
        errors.append(f"kubeconfig_path must be absolute or empty, got {path!r}")
    if not (isinstance(spec.qps, (int, float)) and math.isfinite(spec.qps) and spec.qps > 0):
        errors.append(f"qps must be a number > 0, got {spec.qps!r}")
    if spec.burst < 1:
        errors.append(f"burst must be >= 1, got {spec.burst!r}")
    if not is_dns_subdomain(spec.lease_name):
        errors.append(f"lease_name must be a DNS subdomain, got {spec.lease_name!r}")
    if not is_dns_label(spec.lease_namespace):
        errors.append(f"lease_namespace must be a DNS label, got {spec.lease_namespace!r}")
    if not is_dns_subdomain(spec.scheduler_name):
        errors.append(f"scheduler_name must be a DNS subdomain, got {spec.scheduler_name!r}")
    lease, renew, retry = spec.lease_duration_s, spec.renew_deadline_s, spec.retry_period_s
    if min(lease, renew, retry) <= 0:
        errors.append(
            f"lease_duration_s, renew_deadline_s and retry_period_s must be > 0, "
            f"got {lease}, {renew}, {retry}"
        )
    else:
        if renew >= lease:
            errors.append(f"renew_deadline_s must be < lease_duration_s, got {renew} >= {lease}")
        if renew * _JITTER_DEN <= retry * _JITTER_NUM:
            errors.append(
                "renew_deadline_s must be > 1.2 * retry_period_s (client-go jitter), "
                f"got renew {renew}, retry {retry}"
            )
    if (
        spec.leader_elect
        and spec.scheduler_name != _DEFAULT_SCHEDULER
        and (spec.lease_namespace, spec.lease_name) == _DEFAULT_LEASE
    ):
        # A second scheduler on the default lease fights the main one for it.
        errors.append(
            f"scheduler_name {spec.scheduler_name!r} needs its own lease_name, "
            f"not the default scheduler's {_DEFAULT_LEASE[0]}/{_DEFAULT_LEASE[1]}"
        )
    if spec.scoring_strategy is not None:
        if spec.scoring_strategy not in SCORING_STRATEGIES:
            errors.append(
                f"scoring_strategy must be one of {sorted(SCORING_STRATEGIES)} or None, "
                f"got {spec.scoring_strategy!r}"
            )
        if not spec.resource_weights:
            errors.append("resource_weights must name at least one resource")
        seen: set[str] = set()
        for name, weight in spec.resource_weights:
            # Resource names are qualified names: "cpu", "nvidia.com/gpu".
            if not is_qualified_name(name):
                errors.append(f"resource_weights: {name!r} is not a resource name")
            if name in seen:
                errors.append(f"resource_weights: {name!r} is listed twice")
            seen.add(name)
            # Upstream validateResources: weight in (0, 100].
            if isinstance(weight, bool) or not 1 <= weight <= 100:
                errors.append(f"resource_weights: {name!r} weight must be 1..100, got {weight!r}")
    if errors:
        raise ValueError("invalid scheduler config: " + "; ".join(errors))


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
    return yaml.safe_dump(doc, sort_keys=False)
