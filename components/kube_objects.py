"""Cluster objects from complete manifests (components/render/), each with the typed resource of
its kind, and each guarded so that it is deleted only while it is still this stack's
(components/ownership.py). The in-cluster path and monitoring make theirs this way."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.ownership import OwnershipGuard
from components.render.cluster import ref

_Make = Callable[[str, dict[str, Any], pulumi.ResourceOptions], pulumi.CustomResource]


def _rbac_binding(kind: Any) -> _Make:
    return lambda n, m, o: kind(
        n, metadata=m["metadata"], role_ref=m["roleRef"], subjects=m["subjects"], opts=o
    )


# The typed resource for each kind, given (name, manifest, opts).
_CREATE: dict[str, _Make] = {
    "ServiceAccount": lambda n, m, o: k8s.core.v1.ServiceAccount(n, metadata=m["metadata"], opts=o),
    "ClusterRole": lambda n, m, o: k8s.rbac.v1.ClusterRole(
        n, metadata=m["metadata"], rules=m["rules"], opts=o
    ),
    "Role": lambda n, m, o: k8s.rbac.v1.Role(n, metadata=m["metadata"], rules=m["rules"], opts=o),
    "ClusterRoleBinding": _rbac_binding(k8s.rbac.v1.ClusterRoleBinding),
    "RoleBinding": _rbac_binding(k8s.rbac.v1.RoleBinding),
    "ConfigMap": lambda n, m, o: k8s.core.v1.ConfigMap(
        n, metadata=m["metadata"], data=m["data"], immutable=m["immutable"], opts=o
    ),
    "Secret": lambda n, m, o: k8s.core.v1.Secret(
        n, metadata=m["metadata"], type=m["type"], string_data=m["stringData"], opts=o
    ),
    "Service": lambda n, m, o: k8s.core.v1.Service(n, metadata=m["metadata"], spec=m["spec"], opts=o),
    "Deployment": lambda n, m, o: k8s.apps.v1.Deployment(n, metadata=m["metadata"], spec=m["spec"], opts=o),
    "PodDisruptionBudget": lambda n, m, o: k8s.policy.v1.PodDisruptionBudget(
        n, metadata=m["metadata"], spec=m["spec"], opts=o
    ),
    "Pod": lambda n, m, o: k8s.core.v1.Pod(n, metadata=m["metadata"], spec=m["spec"], opts=o),
    "ServiceMonitor": lambda n, m, o: k8s.apiextensions.CustomResource(
        n, api_version=m["apiVersion"], kind=m["kind"], metadata=m["metadata"], spec=m["spec"], opts=o
    ),
}


def create_owned(
    prefix: str,
    manifests: Mapping[str, dict[str, Any]],
    after: Mapping[str, Sequence[str]],
    owner: str,
    kubeconfig: str | None,
    guard: bool,
    parent: pulumi.Resource,
) -> dict[str, pulumi.CustomResource]:
    """Every manifest by role as `<prefix>-<role>`, after the roles `after` names for it; with
    `guard`, an OwnershipGuard per object (`<prefix>-owns-<role>`)."""
    made: dict[str, pulumi.CustomResource] = {}
    for role, manifest in manifests.items():
        depends = [made[r] for r in after.get(role, ()) if r in made]
        obj = _CREATE[manifest["kind"]](
            f"{prefix}-{role}", manifest, pulumi.ResourceOptions(parent=parent, depends_on=depends)
        )
        if guard:
            OwnershipGuard(
                f"{prefix}-owns-{role}",
                ref(manifest),
                owner,
                obj,
                kubeconfig,
                pulumi.ResourceOptions(parent=parent),
            )
        made[role] = obj
    return made
