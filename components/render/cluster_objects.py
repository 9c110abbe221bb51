"""What the in-cluster path puts in the cluster, by kind and name, and how its objects say whose they
are (the way Helm 3 marks a release's objects: a managed-by label and an owner annotation).

Pure: components/render/cluster.py names and marks the objects with these, the preflight reads them
back before anything is created, the ownership guard reads them before anything is deleted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "kube-scheduler-pulumi"
# "<project>/<stack>" of the stack that made the object; an object without it, or with another
# stack's, is not ours: never overwritten, never deleted.
OWNER_ANNOTATION = "kube-scheduler-pulumi/owner"

SAMPLE_NAMESPACE = "default"

# API path prefix -> {kind: namespaced}
_GROUPS: dict[str, dict[str, bool]] = {
    "/api/v1": {"ServiceAccount": True, "ConfigMap": True, "Pod": True, "Secret": True, "Service": True},
    "/apis/rbac.authorization.k8s.io/v1": {
        "ClusterRole": False,
        "ClusterRoleBinding": False,
        "Role": True,
        "RoleBinding": True,
    },
    "/apis/apps/v1": {"Deployment": True},
    "/apis/policy/v1": {"PodDisruptionBudget": True},
    "/apis/coordination.k8s.io/v1": {"Lease": True},
    "/apis/monitoring.coreos.com/v1": {"ServiceMonitor": True},  # the Prometheus Operator's
}
# kind -> (API path prefix, namespaced)
_PATHS = {kind: (prefix, ns) for prefix, kinds in _GROUPS.items() for kind, ns in kinds.items()}


@dataclass(frozen=True, order=True)
class ObjectRef:
    kind: str
    namespace: str  # "" for cluster-scoped kinds
    name: str

    @property
    def api_path(self) -> str:
        prefix, namespaced = _PATHS[self.kind]
        plural = self.kind.lower() + "s"
        where = f"/namespaces/{self.namespace}" if namespaced else ""
        return f"{prefix}{where}/{plural}/{self.name}"

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


def ownership_labels() -> dict[str, str]:
    return {MANAGED_BY_LABEL: MANAGED_BY}


def ownership_annotations(owner: str) -> dict[str, str]:
    return {OWNER_ANNOTATION: owner}


def owner_of(obj: dict[str, Any]) -> str | None:
    """The stack an object says made it, or None."""
    meta = obj.get("metadata") or {}
    if (meta.get("labels") or {}).get(MANAGED_BY_LABEL) != MANAGED_BY:
        return None
    owner = (meta.get("annotations") or {}).get(OWNER_ANNOTATION)
    return str(owner) if owner else None


def not_ours(ref: ObjectRef, live: dict[str, Any] | None, owner: str) -> str | None:
    """Why the live object of `ref` may not be written or deleted by the stack `owner`, or None.

    A Lease carries no labels of ours (the scheduler makes it): it is ours while its holder is one
    of our scheduler's pods (`<Deployment>-<hash>-<id>_<uuid>`) or nobody."""
    if live is None:
        return None
    if ref.kind == "Lease":
        holder = str((live.get("spec") or {}).get("holderIdentity") or "")
        deployment = ref.name
        if holder and not holder.startswith(f"{deployment}-"):
            return f"{ref}, held by {holder!r}, which is not this scheduler"
        return None
    theirs = owner_of(live)
    if theirs == owner:
        return None
    if theirs is None:
        return f"{ref}, which this stack did not make (it has no {OWNER_ANNOTATION} annotation)"
    return f"{ref}, which belongs to the stack {theirs!r}"


def config_map_name(scheduler_name: str, config_text: str) -> str:
    """The ConfigMap is immutable and named by its content: a new config is a new ConfigMap the
    Deployment rolls to; the old one goes once the rollout succeeded."""
    return f"{scheduler_name}-config-{hashlib.sha256(config_text.encode()).hexdigest()[:10]}"


def sample_pod_name(scheduler_name: str) -> str:
    return f"{scheduler_name}-sample"
