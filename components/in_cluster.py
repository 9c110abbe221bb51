"""A second, custom kube-scheduler running inside the cluster (seed 004, made coherent)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.config import InCluster
from components.ownership import OwnershipGuard
from components.render.cluster_objects import (
    ObjectRef,
    config_map_name,
    in_cluster_objects,
    ownership_annotations,
    ownership_labels,
    sample_pod_name,
)
from components.render.in_cluster import (
    InClusterSpec,
    deployment_spec,
    labels,
    pdb_spec,
    sample_pod,
)
from components.render.rbac import scheduler_cluster_role_rules
from components.render.scheduler_config import SchedulerConfigSpec, render_scheduler_config
from components.render.versions import KubeVersion, health_paths

CONFIG_KEY = "config.yaml"
# `up` converges objects edited by hand: server-side apply takes back the fields the stack owns
# (pulumi-kubernetes' annotation; without it a hand edit is a field conflict that fails `up`).
# Safe because only objects of this stack get there: components/ownership.py refuses others.
CONVERGE = {"pulumi.com/patchForce": "true"}
# Built-in roles the upstream "multiple schedulers" guide binds next to the scheduler's own.
VOLUME_SCHEDULER_ROLE = "system:volume-scheduler"
AUTH_READER_ROLE = "extension-apiserver-authentication-reader"


def in_cluster_config(ic: InCluster, version: KubeVersion) -> str:
    """The scheduler's config: its own name and lease, so it never contends with the default."""
    le = ic.leader_election
    return render_scheduler_config(
        SchedulerConfigSpec(
            kubernetes_version=version,
            kubeconfig_path="",  # in-cluster service account credentials
            qps=ic.qps,
            burst=ic.burst,
            lease_name=ic.scheduler_name,
            lease_namespace=ic.namespace,
            lease_duration_s=le.lease_duration_seconds,
            renew_deadline_s=le.renew_deadline_seconds,
            retry_period_s=le.retry_period_seconds,
            scheduler_name=ic.scheduler_name,
            scoring_strategy=ic.scoring_strategy,
            resource_weights=tuple(sorted(ic.resource_weights.items())),
        )
    )


@dataclass(frozen=True)
class InClusterSchedulerArgs:
    settings: InCluster
    kubernetes_version: KubeVersion
    image: str
    owner: str  # "<project>/<stack>", written on every object (cluster_objects.OWNER_ANNOTATION)
    kubeconfig: str | None = None  # the provider's (None: ambient); the guards read with it
    guard: bool = True  # False in render mode: no cluster to read


def objects(args: InClusterSchedulerArgs) -> list[ObjectRef]:
    """What the component makes for `args` (and the Lease its scheduler takes)."""
    ic = args.settings
    config = in_cluster_config(ic, args.kubernetes_version)
    return in_cluster_objects(
        ic.scheduler_name,
        ic.namespace,
        config_map_name(ic.scheduler_name, config),
        pdb=ic.replicas > 1,
        sample=ic.create_sample_pod,
    )


class InClusterScheduler(pulumi.ComponentResource):
    """RBAC, ConfigMap, Deployment, PDB and an optional sample pod, on the parent's provider."""

    scheduler_name: pulumi.Output[str]
    lease: pulumi.Output[str]

    def __init__(
        self, name: str, args: InClusterSchedulerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kube-scheduler:incluster:InClusterScheduler", name, None, opts)
        ic = args.settings
        ns = ic.namespace
        sched = ic.scheduler_name
        config = in_cluster_config(ic, args.kubernetes_version)
        spec = InClusterSpec(
            name=sched,
            namespace=ns,
            replicas=ic.replicas,
            image=args.image,
            config_map_name=config_map_name(sched, config),
            config_key=CONFIG_KEY,
            excluded_node_label_keys=tuple(ic.excluded_node_label_keys),
            cpu=ic.resources.cpu,
            memory=ic.resources.memory,
            verbosity=ic.verbosity,
            service_account=sched,
            version_label=args.kubernetes_version.tag,
            liveness_path=health_paths(args.kubernetes_version)[0],
            readiness_path=health_paths(args.kubernetes_version)[1],
        )
        meta_labels = labels(spec)
        child = pulumi.ResourceOptions(parent=self)
        # Without kubelets (render mode, the lab) nothing ever becomes Ready.
        await_annotations = {} if ic.wait_for_ready else {"pulumi.com/skipAwait": "true"}

        owned = {**CONVERGE, **ownership_annotations(args.owner)}

        def meta(
            obj_name: str, namespace: str | None = ns, annotations: dict[str, str] | None = None
        ) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=obj_name,
                namespace=namespace,
                labels={**meta_labels, **ownership_labels()},
                annotations={**owned, **(annotations or {})},
            )

        def guarded(obj: pulumi.CustomResource, ref: ObjectRef) -> pulumi.CustomResource:
            if args.guard:
                OwnershipGuard(
                    f"{name}-owns-{ref.kind.lower()}-{ref.name}", ref, args.owner, obj, args.kubeconfig, child
                )
            return obj

        def subject() -> list[k8s.rbac.v1.SubjectArgs]:
            return [k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=sched, namespace=ns)]

        ref = {(r.kind, r.name): r for r in objects(args)}
        sa = guarded(
            k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=meta(sched), opts=child),
            ref["ServiceAccount", sched],
        )
        role = guarded(
            k8s.rbac.v1.ClusterRole(
                f"{name}-role",
                metadata=meta(sched, None),
                rules=scheduler_cluster_role_rules(args.kubernetes_version, sched),
                opts=child,
            ),
            ref["ClusterRole", sched],
        )
        bindings = [
            guarded(
                k8s.rbac.v1.ClusterRoleBinding(
                    f"{name}-binding",
                    metadata=meta(sched, None),
                    role_ref=k8s.rbac.v1.RoleRefArgs(
                        api_group="rbac.authorization.k8s.io",
                        kind="ClusterRole",
                        name=role.metadata.name,  # type: ignore[attr-defined]
                    ),
                    subjects=subject(),
                    opts=child,
                ),
                ref["ClusterRoleBinding", sched],
            ),
            guarded(
                k8s.rbac.v1.ClusterRoleBinding(
                    f"{name}-volume-binding",
                    metadata=meta(f"{sched}-as-volume-scheduler", None),
                    role_ref=k8s.rbac.v1.RoleRefArgs(
                        api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=VOLUME_SCHEDULER_ROLE
                    ),
                    subjects=subject(),
                    opts=child,
                ),
                ref["ClusterRoleBinding", f"{sched}-as-volume-scheduler"],
            ),
            # Reads the client-CA ConfigMap to authenticate requests on 10259.
            guarded(
                k8s.rbac.v1.RoleBinding(
                    f"{name}-auth-reader",
                    metadata=meta(f"{sched}-auth-reader", "kube-system"),
                    role_ref=k8s.rbac.v1.RoleRefArgs(
                        api_group="rbac.authorization.k8s.io", kind="Role", name=AUTH_READER_ROLE
                    ),
                    subjects=subject(),
                    opts=child,
                ),
                ref["RoleBinding", f"{sched}-auth-reader"],
            ),
        ]
        # Immutable and named by its content: a bad config can never reach a replica that still
        # runs the old one; the old ConfigMap is deleted after the Deployment rolled (the engine
        # deletes replaced resources last, and not at all when the rollout fails).
        cm = guarded(
            k8s.core.v1.ConfigMap(
                f"{name}-config",
                metadata=meta(spec.config_map_name),
                data={CONFIG_KEY: config},
                immutable=True,
                opts=child,
            ),
            ref["ConfigMap", spec.config_map_name],
        )
        deployment = guarded(
            k8s.apps.v1.Deployment(
                f"{name}-deployment",
                metadata=meta(sched, annotations=await_annotations or None),
                spec=deployment_spec(spec),
                # Pods start only once their identity, permissions and config exist.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[sa, cm, *bindings]),
            ),
            ref["Deployment", sched],
        )
        pdb = pdb_spec(spec)
        if pdb is not None:
            guarded(
                k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata=meta(sched), spec=pdb, opts=child),
                ref["PodDisruptionBudget", sched],
            )
        if ic.create_sample_pod:
            pod = sample_pod(sched, sample_pod_name(sched))
            pod_meta = dict(pod["metadata"])
            pod_meta["labels"] = {**pod_meta.get("labels", {}), **ownership_labels()}
            pod_meta["annotations"] = {**pod_meta.get("annotations", {}), **owned, **await_annotations}
            guarded(
                k8s.core.v1.Pod(
                    f"{name}-sample",
                    metadata=pod_meta,
                    spec=pod["spec"],
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]),
                ),
                ref["Pod", sample_pod_name(sched)],
            )
        self.scheduler_name = pulumi.Output.from_input(sched)
        self.lease = pulumi.Output.from_input(f"{ns}/{sched}")
        self.register_outputs({"scheduler_name": self.scheduler_name, "lease": self.lease})
