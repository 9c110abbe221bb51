"""What lands in the cluster for the in-cluster scheduler, as one pure function of the config:
`manifests(...)` -> every object, complete (apiVersion, kind, metadata, body), in the order they
depend on each other. The component creates exactly these, render mode writes exactly these, the
tests and the preflight read exactly these. The renderers' inputs are made here and nowhere else."""

from __future__ import annotations

from typing import Any

from components.config.schema import InCluster
from components.render.cluster_objects import (
    SAMPLE_NAMESPACE,
    ObjectRef,
    config_map_name,
    ownership_annotations,
    ownership_labels,
    sample_pod_name,
)
from components.render.in_cluster import (
    CONFIG_KEY,
    InClusterSpec,
    deployment_spec,
    labels,
    metrics_service_spec,
    pdb_spec,
    sample_pod,
)
from components.render.rbac import scheduler_cluster_role_rules
from components.render.scheduler_config import SchedulerConfigSpec, render_scheduler_config
from components.render.versions import KubeVersion, health_paths

# `up` converges objects edited by hand: server-side apply takes back the fields the stack owns
# (pulumi-kubernetes' annotation; without it a hand edit is a field conflict that fails `up`).
# Safe because only objects of this stack get there: components/ownership.py refuses others.
CONVERGE = {"pulumi.com/patchForce": "true"}
# Where nothing runs the pods (render mode, no kubelets), waiting for them would never end.
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}
# Built-in roles the upstream "multiple schedulers" docs bind next to the scheduler's own
# (docs/sources.md#second-scheduler-rbac).
VOLUME_SCHEDULER_ROLE = "system:volume-scheduler"
AUTH_READER_ROLE = "extension-apiserver-authentication-reader"
_RBAC = "rbac.authorization.k8s.io/v1"


def scheduler_config(ic: InCluster, version: KubeVersion) -> str:
    """The scheduler's config: its own name and lease, so it never contends with the default."""
    return render_scheduler_config(
        SchedulerConfigSpec.of(
            ic,
            version,
            kubeconfig_path="",  # in-cluster service account credentials
            lease=(ic.namespace, ic.scheduler_name),
            scheduler_name=ic.scheduler_name,
            scoring_strategy=ic.scoring_strategy,
            resource_weights=tuple(sorted(ic.resource_weights.items())),
        )
    )


def metrics_service_name(ic: InCluster) -> str:
    """The headless Service whose EndpointSlices list the replicas to scrape (monitoring)."""
    return f"{ic.scheduler_name}-metrics"


def serving_name(ic: InCluster) -> str:
    """The name the replicas' serving certificate carries and a scraper verifies: their pod IPs
    change, the Service's name does not."""
    return f"{metrics_service_name(ic)}.{ic.namespace}.svc"


def serving_secret_name(ic: InCluster) -> str:
    return f"{ic.scheduler_name}-serving-cert"


def deployment_input(
    ic: InCluster, version: KubeVersion, image: str, monitored: bool = False
) -> InClusterSpec:
    config = scheduler_config(ic, version)
    live, ready = health_paths(version)
    return InClusterSpec(
        name=ic.scheduler_name,
        namespace=ic.namespace,
        replicas=ic.replicas,
        image=image,
        config_map_name=config_map_name(ic.scheduler_name, config),
        excluded_node_label_keys=tuple(ic.excluded_node_label_keys),
        cpu=ic.resources.cpu,
        memory=ic.resources.memory,
        verbosity=ic.verbosity,
        service_account=ic.scheduler_name,
        version_label=version.tag,
        liveness_path=live,
        readiness_path=ready,
        serving_secret=serving_secret_name(ic) if monitored else None,
    )


def object_refs(ic: InCluster, config_map: str, monitored: bool = False) -> dict[str, ObjectRef]:
    """The name of every object of the in-cluster path by role, and of the Lease its scheduler
    takes ("lease"): what `manifests` names them, known without rendering anything. Monitored:
    the serving certificate's Secret and the metrics Service too."""
    sched, ns = ic.scheduler_name, ic.namespace
    out = {
        "sa": ObjectRef("ServiceAccount", ns, sched),
        "role": ObjectRef("ClusterRole", "", sched),
        "binding": ObjectRef("ClusterRoleBinding", "", sched),
        "volume-binding": ObjectRef("ClusterRoleBinding", "", f"{sched}-as-volume-scheduler"),
        # Reads the client-CA ConfigMap in kube-system to authenticate requests on 10259.
        "auth-reader": ObjectRef("RoleBinding", "kube-system", f"{sched}-auth-reader"),
        "config": ObjectRef("ConfigMap", ns, config_map),
        "serving-cert": ObjectRef("Secret", ns, serving_secret_name(ic)),
        "deployment": ObjectRef("Deployment", ns, sched),
        "metrics": ObjectRef("Service", ns, metrics_service_name(ic)),
        "pdb": ObjectRef("PodDisruptionBudget", ns, sched),
        "sample": ObjectRef("Pod", SAMPLE_NAMESPACE, sample_pod_name(sched)),
        "lease": ObjectRef("Lease", ns, sched),
    }
    if not monitored:
        del out["serving-cert"], out["metrics"]
    if ic.replicas <= 1:  # minAvailable 1 of 1 would block every drain: no PDB
        del out["pdb"]
    if not ic.create_sample_pod:
        del out["sample"]
    return out


def manifests(
    ic: InCluster, version: KubeVersion, image: str, owner: str, serving: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Every object of the in-cluster path by role ("sa", "role", ..., the component's resource
    names end with it), each marked as `owner`'s (cluster_objects), in dependency order. `serving`
    ({"tls.crt", "tls.key"}, values as the caller has them): the replicas serve that certificate,
    and a metrics Service lists them (monitoring)."""
    monitored = serving is not None
    spec = deployment_input(ic, version, image, monitored)
    names = object_refs(ic, spec.config_map_name, monitored)
    sched, ns = ic.scheduler_name, ic.namespace
    meta_labels = {**labels(spec), **ownership_labels()}
    owned = {**CONVERGE, **ownership_annotations(owner)}
    wait = {} if ic.wait_for_ready else SKIP_AWAIT

    def meta(role: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
        ref = names[role]
        out: dict[str, Any] = {
            "name": ref.name,
            "labels": meta_labels,
            "annotations": {**owned, **(annotations or {})},
        }
        if ref.namespace:
            out["namespace"] = ref.namespace
        return out

    subjects = [{"kind": "ServiceAccount", "name": sched, "namespace": ns}]

    def binding(role: str, role_kind: str, role_name: str) -> dict[str, Any]:
        return {
            "apiVersion": _RBAC,
            "kind": names[role].kind,
            "metadata": meta(role),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
            "subjects": subjects,
        }

    out: dict[str, dict[str, Any]] = {
        "sa": {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("sa")},
        "role": {
            "apiVersion": _RBAC,
            "kind": "ClusterRole",
            "metadata": meta("role"),
            "rules": scheduler_cluster_role_rules(version, sched),
        },
        "binding": binding("binding", "ClusterRole", names["role"].name),
        "volume-binding": binding("volume-binding", "ClusterRole", VOLUME_SCHEDULER_ROLE),
        "auth-reader": binding("auth-reader", "Role", AUTH_READER_ROLE),
        # Immutable and named by its content: a bad config can never reach a replica that still
        # runs the old one; the old ConfigMap is deleted once the Deployment rolled.
        "config": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("config"),
            "data": {CONFIG_KEY: scheduler_config(ic, version)},
            "immutable": True,
        },
    }
    if serving is not None:
        out["serving-cert"] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta("serving-cert"),
            "type": "kubernetes.io/tls",
            "stringData": serving,
        }
    out["deployment"] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta("deployment", annotations=wait),
        "spec": deployment_spec(spec),
    }
    if serving is not None:
        out["metrics"] = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta("metrics"),
            "spec": metrics_service_spec(spec),
        }
    pdb = pdb_spec(spec)
    if pdb is not None:
        out["pdb"] = {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": meta("pdb"),
            "spec": pdb,
        }
    if "sample" in names:
        pod = sample_pod(sched, names["sample"].name)
        pod_meta = dict(pod["metadata"])
        pod_meta["labels"] = {**pod_meta.get("labels", {}), **ownership_labels()}
        pod_meta["annotations"] = {**owned, **wait}
        out["sample"] = {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": pod["spec"]}
    return out


def ref(manifest: dict[str, Any]) -> ObjectRef:
    meta = manifest["metadata"]
    return ObjectRef(manifest["kind"], meta.get("namespace", ""), meta["name"])


def refs(ic: InCluster, version: KubeVersion, image: str, monitored: bool = False) -> list[ObjectRef]:
    """Every object `manifests` makes, and the Lease the scheduler takes (not ours to create)."""
    return list(object_refs(ic, deployment_input(ic, version, image).config_map_name, monitored).values())
