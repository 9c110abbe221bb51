"""ClusterRole rules for a kube-scheduler that is not `system:kube-scheduler`.

Source: the `system:kube-scheduler` ClusterRole in
plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go of k8s.io/kubernetes
v1.29.15, v1.30.14, v1.31.14, v1.32.13, v1.33.13, v1.34.4, v1.35.4, v1.36.3,
v1.37.2,
and the feature-gate defaults in pkg/features (k8s.io/apiserver for
CoordinatedLeaderElection). Rules that upstream grants only behind a feature
gate are included from the minor in which that gate is on by default, because
that is when the scheduler starts the matching informers.

Deliberate differences from the built-in role:
- The lease rules name the given lease instead of `kube-scheduler`.
- 1.31+ upstream also grants lease list/watch and `leasecandidates`
  unconditionally; both serve CoordinatedLeaderElection only, off by default
  through 1.37, so they are kept behind that gate here.
- 1.35+ upstream grants scheduling.k8s.io workloads (1.35) / podgroups (1.36)
  behind GenericWorkload, off by default through 1.37 (beta in 1.37); 1.37 adds
  compositepodgroups behind CompositePodGroup (alpha): not included.
`system:volume-scheduler` is bound separately by the component.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.render.names import is_dns_subdomain
from components.render.versions import KubeVersion

# First minor in which each gate is on by default (None: off in every
# supported minor). Upstream: DynamicResourceAllocation GA in 1.34;
# DRAExtendedResource and DRAResourceClaimGranularStatusAuthorization default on
# in 1.36; DRADeviceTaintRules (devicetaintrules) GA and on by default in 1.37.
_GATE_DEFAULT_ON_FROM: dict[str, int | None] = {
    "CoordinatedLeaderElection": None,
    "DynamicResourceAllocation": 34,
    "DRAExtendedResource": 36,
    "DRAResourceClaimGranularStatusAuthorization": 36,
    "DRADeviceTaintRules": 37,
}

_READ = ("get", "list", "watch")
_READ_UPDATE = ("get", "list", "watch", "update", "patch")


@dataclass(frozen=True)
class _Rule:
    why: str
    groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    first: int = 0  # first minor with this rule
    last: int | None = None  # last minor with this rule (None: still current)
    gates: tuple[str, ...] = ()  # all must be on by default
    lease_name: bool = False  # restrict to the configured lease


# Gates whose rules upstream grants whatever the gate says (policy.go adds them unconditionally):
# the deliberate difference is to leave them out while the gate is off.
_UPSTREAM_GRANTS_REGARDLESS = frozenset({"CoordinatedLeaderElection"})

# Upstream order. The lease pair replaces upstream's lease rules.
_RULES: tuple[_Rule, ...] = (
    _Rule("scheduling results and failures are recorded as Events",
          ("", "events.k8s.io"), ("events",), ("create", "update", "patch")),
    _Rule("create the lease on first start; create cannot be limited by name",
          ("coordination.k8s.io",), ("leases",), ("create",)),
    _Rule("acquire and renew only this scheduler's own lease",
          ("coordination.k8s.io",), ("leases",), ("get", "update"), lease_name=True),
    _Rule("coordinated leader election watches the lease (1.31+)",
          ("coordination.k8s.io",), ("leases",), ("list", "watch"), first=31,
          gates=("CoordinatedLeaderElection",), lease_name=True),
    _Rule("coordinated leader election candidacy (1.31+)",
          ("coordination.k8s.io",), ("leasecandidates",),
          ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"),
          first=31, gates=("CoordinatedLeaderElection",)),
    _Rule("nodes are what pods are placed on",
          ("",), ("nodes",), _READ),
    _Rule("pods to schedule; delete evicts victims during preemption",
          ("",), ("pods",), ("get", "list", "watch", "delete")),
    _Rule("binding a pod to its node",
          ("",), ("pods/binding", "bindings"), ("create",)),
    _Rule("PodScheduled condition and nominatedNodeName",
          ("",), ("pods/status",), ("patch", "update")),
    _Rule("selector spreading looks at what selects pods",
          ("",), ("services", "replicationcontrollers"), _READ),
    _Rule("selector spreading: replicasets",
          ("apps", "extensions"), ("replicasets",), _READ),
    _Rule("selector spreading: statefulsets",
          ("apps",), ("statefulsets",), _READ),
    _Rule("preemption respects PodDisruptionBudgets",
          ("policy",), ("poddisruptionbudgets",), _READ),
    _Rule("volume binding and zone checks",
          ("",), ("persistentvolumeclaims", "persistentvolumes"), _READ),
    _Rule("delegated authentication of requests to the secure port",
          ("authentication.k8s.io",), ("tokenreviews",), ("create",)),
    _Rule("delegated authorization of requests to the secure port",
          ("authorization.k8s.io",), ("subjectaccessreviews",), ("create",)),
    _Rule("CSI volume limits per node",
          ("storage.k8s.io",), ("csinodes",), _READ),
    _Rule("CSI volume limits count attachments (added in 1.32)",
          ("storage.k8s.io",), ("volumeattachments",), _READ, first=32),
    _Rule("namespaceSelector in pod affinity",
          ("",), ("namespaces",), _READ),
    _Rule("CSI driver capabilities for volume scheduling",
          ("storage.k8s.io",), ("csidrivers",), _READ),
    _Rule("storage capacity tracking",
          ("storage.k8s.io",), ("csistoragecapacities",), _READ),
    # Dynamic resource allocation (resource.k8s.io).
    _Rule("DRA: device classes requested by claims",
          ("resource.k8s.io",), ("deviceclasses",), _READ,
          gates=("DynamicResourceAllocation",)),
    _Rule("DRA: claims of pods being scheduled",
          ("resource.k8s.io",), ("resourceclaims",), _READ_UPDATE,
          gates=("DynamicResourceAllocation",)),
    _Rule("DRA: writes the allocation into claim status",
          ("resource.k8s.io",), ("resourceclaims/status",), _READ_UPDATE,
          gates=("DynamicResourceAllocation",)),
    _Rule("DRA: pod finalizers while claims are reserved",
          ("",), ("pods/finalizers",), ("update",),
          gates=("DynamicResourceAllocation",)),
    _Rule("DRA: devices published by drivers",
          ("resource.k8s.io",), ("resourceslices",), _READ,
          gates=("DynamicResourceAllocation",)),
    _Rule("DRA extended resources: the scheduler creates and deletes claims",
          ("resource.k8s.io",), ("resourceclaims",), ("create", "delete"),
          gates=("DynamicResourceAllocation", "DRAExtendedResource")),
    _Rule("DRA device taint rules",
          ("resource.k8s.io",), ("devicetaintrules",), _READ,
          gates=("DynamicResourceAllocation", "DRADeviceTaintRules")),
    _Rule("DRA: allocation is written through the binding subresource",
          ("resource.k8s.io",), ("resourceclaims/binding",), ("update", "patch"),
          gates=("DynamicResourceAllocation", "DRAResourceClaimGranularStatusAuthorization")),
)  # fmt: skip


def _applies(rule: _Rule, minor: int) -> bool:
    if minor < rule.first or (rule.last is not None and minor > rule.last):
        return False
    for gate in rule.gates:
        on_from = _GATE_DEFAULT_ON_FROM[gate]
        if on_from is None or minor < on_from:
            return False
    return True


def scheduler_cluster_role_rules(v: KubeVersion, lease_name: str) -> list[dict[str, Any]]:
    """PolicyRule dicts for a scheduler of version `v` that leads with `lease_name`."""
    if not is_dns_subdomain(lease_name):
        raise ValueError(f"lease_name must be a DNS subdomain, got {lease_name!r}")
    rules: list[dict[str, Any]] = []
    for rule in _RULES:
        if not _applies(rule, v.minor):
            continue
        entry: dict[str, Any] = {
            "apiGroups": list(rule.groups),
            "resources": list(rule.resources),
        }
        if rule.lease_name:
            entry["resourceNames"] = [lease_name]
        entry["verbs"] = list(rule.verbs)
        rules.append(entry)
    return rules


# One permission: (apiGroup, resource, verb, resourceName or "").
Permission = tuple[str, str, str, str]


def permissions(rules: list[dict[str, Any]]) -> set[Permission]:
    """PolicyRules flattened to single permissions, to compare roles exactly."""
    return {
        (group, resource, verb, name)
        for r in rules
        for group in r.get("apiGroups", [])
        for resource in r.get("resources", [])
        for verb in r.get("verbs", [])
        for name in (r.get("resourceNames") or [""])
    }


def deliberately_left_out(v: KubeVersion) -> set[Permission]:
    """What upstream's system:kube-scheduler grants under default gates and this role does not
    (module docstring): the coordinated-leader-election rules while that gate is off by default."""
    left_out: set[Permission] = set()
    for rule in _RULES:
        gated_off = [g for g in rule.gates if not _applies(_Rule("", (), (), (), gates=(g,)), v.minor)]
        if rule.first <= v.minor and gated_off and set(gated_off) <= _UPSTREAM_GRANTS_REGARDLESS:
            entry: dict[str, Any] = {
                "apiGroups": rule.groups,
                "resources": rule.resources,
                "verbs": rule.verbs,
            }
            if rule.lease_name:
                entry["resourceNames"] = ["kube-scheduler"]
            left_out |= permissions([entry])
    return left_out


def gate_defaults(v: KubeVersion) -> dict[str, bool]:
    """The default of each gate this module reads, at version `v` (as the table says)."""
    return {
        gate: on_from is not None and v.minor >= on_from for gate, on_from in _GATE_DEFAULT_ON_FROM.items()
    }
