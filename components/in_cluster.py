"""A second, custom kube-scheduler running inside the cluster: the objects of
components/render/cluster.py, created with the parent's Kubernetes provider, each guarded so that
it is deleted only while it is still this stack's (components/ownership.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import InCluster
from components.ownership import OwnershipGuard
from components.render.cluster import manifests, ref
from components.render.versions import KubeVersion

# The typed resource for each kind, given (name, manifest, opts).
_CREATE: dict[str, Callable[[str, dict[str, Any], pulumi.ResourceOptions], pulumi.CustomResource]] = {
    "ServiceAccount": lambda n, m, o: k8s.core.v1.ServiceAccount(n, metadata=m["metadata"], opts=o),
    "ClusterRole": lambda n, m, o: k8s.rbac.v1.ClusterRole(
        n, metadata=m["metadata"], rules=m["rules"], opts=o
    ),
    "ClusterRoleBinding": lambda n, m, o: k8s.rbac.v1.ClusterRoleBinding(
        n, metadata=m["metadata"], role_ref=m["roleRef"], subjects=m["subjects"], opts=o
    ),
    "RoleBinding": lambda n, m, o: k8s.rbac.v1.RoleBinding(
        n, metadata=m["metadata"], role_ref=m["roleRef"], subjects=m["subjects"], opts=o
    ),
    "ConfigMap": lambda n, m, o: k8s.core.v1.ConfigMap(
        n, metadata=m["metadata"], data=m["data"], immutable=m["immutable"], opts=o
    ),
    "Deployment": lambda n, m, o: k8s.apps.v1.Deployment(n, metadata=m["metadata"], spec=m["spec"], opts=o),
    "PodDisruptionBudget": lambda n, m, o: k8s.policy.v1.PodDisruptionBudget(
        n, metadata=m["metadata"], spec=m["spec"], opts=o
    ),
    "Pod": lambda n, m, o: k8s.core.v1.Pod(n, metadata=m["metadata"], spec=m["spec"], opts=o),
}
# What each object waits for: pods start only once their identity, permissions and config exist;
# a binding after its role; the sample pod once its scheduler runs.
_AFTER = {
    "binding": ("role",),
    "deployment": ("sa", "config", "binding", "volume-binding", "auth-reader"),
    "sample": ("deployment",),
}


@dataclass(frozen=True)
class InClusterSchedulerArgs:
    settings: InCluster
    kubernetes_version: KubeVersion
    image: str
    owner: str  # "<project>/<stack>", written on every object (cluster_objects.OWNER_ANNOTATION)
    kubeconfig: str | None = None  # the provider's (None: ambient); the guards read with it
    guard: bool = True  # False in render mode: no cluster to read


class InClusterScheduler(pulumi.ComponentResource):
    """RBAC, ConfigMap, Deployment, PDB and an optional sample pod, on the parent's provider."""

    scheduler_name: pulumi.Output[str]
    lease: pulumi.Output[str]

    def __init__(
        self, name: str, args: InClusterSchedulerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kube-scheduler:incluster:InClusterScheduler", name, None, opts)
        ic = args.settings
        made: dict[str, pulumi.CustomResource] = {}
        for role, manifest in manifests(ic, args.kubernetes_version, args.image, args.owner).items():
            after = [made[r] for r in _AFTER.get(role, ()) if r in made]
            obj = _CREATE[manifest["kind"]](
                f"{name}-{role}", manifest, pulumi.ResourceOptions(parent=self, depends_on=after)
            )
            if args.guard:
                OwnershipGuard(
                    f"{name}-owns-{role}",
                    ref(manifest),
                    args.owner,
                    obj,
                    args.kubeconfig,
                    pulumi.ResourceOptions(parent=self),
                )
            made[role] = obj
        self.scheduler_name = pulumi.Output.from_input(ic.scheduler_name)
        self.lease = pulumi.Output.from_input(f"{ic.namespace}/{ic.scheduler_name}")
        self.register_outputs({"scheduler_name": self.scheduler_name, "lease": self.lease})
