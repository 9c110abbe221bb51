"""Deployment of a second ("custom") kube-scheduler inside the cluster.

Returns plain dicts for pulumi_kubernetes `spec=` arguments. The pod template
meets Pod Security "restricted": non-root, no privilege escalation, all
capabilities dropped, RuntimeDefault seccomp, only ConfigMap, Secret and projected volumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.render import rules
from components.render.cluster_objects import SAMPLE_NAMESPACE, ownership_labels
from components.render.names import is_dns_subdomain, is_label_value

CONFIG_MOUNT_DIR = "/etc/kubernetes/custom-k8s-scheduler"  # docs/sources.md#default-in-cluster-names
# The serving certificate a scraper verifies (monitoring), from a kubernetes.io/tls Secret. Without
# it the scheduler serves a certificate it makes up at each start, which nothing can verify.
SERVING_CERT_DIR = "/etc/kubernetes/serving-cert"
SECURE_PORT = 10259  # upstream default; the insecure 10251 is gone
_PORT_NAME = "https"

# The ConfigMap's key the scheduler reads its config from.
CONFIG_KEY = "config.yaml"
# distroless's "nonroot" uid: the image writes nothing, any non-zero uid works.
RUN_AS_USER = 65532


@dataclass(frozen=True)
class InClusterSpec:
    """Every value of the Deployment, explicit: the defaults live in the stack config."""

    name: str
    namespace: str
    replicas: int
    image: str
    config_map_name: str
    excluded_node_label_keys: tuple[str, ...]
    cpu: str
    memory: str
    verbosity: int
    service_account: str
    version_label: str
    # versions.health_paths of the target version
    liveness_path: str
    readiness_path: str
    # the Secret of the serving certificate (monitoring), or None: a self-signed one per start
    serving_secret: str | None = None


def _validate(spec: InClusterSpec) -> None:
    """The rules of components/render/rules.py (the stack config applies the same ones)."""
    errors: list[str] = []

    def check(field: str, problem: str | None) -> None:
        if problem:
            errors.append(f"{field}: {problem}")

    for field in ("name", "namespace"):
        check(field, rules.dns_label(getattr(spec, field)))
    for field in ("config_map_name", "service_account"):
        check(field, rules.dns_subdomain(getattr(spec, field)))
    if spec.serving_secret is not None:
        check("serving_secret", rules.dns_subdomain(spec.serving_secret))
    check("replicas", rules.positive_int(spec.replicas))
    check("image", rules.image_reference(spec.image))
    for key in spec.excluded_node_label_keys:
        check("excluded_node_label_keys", rules.qualified_name(key, "label key"))
    check("cpu", rules.quantity(spec.cpu))
    check("memory", rules.quantity(spec.memory))
    check("verbosity", rules.verbosity(spec.verbosity))
    if not spec.version_label or not is_label_value(spec.version_label):
        errors.append(f"version_label: expected a label value, got {spec.version_label!r}")
    if errors:
        raise ValueError("invalid in-cluster scheduler: " + "; ".join(errors))


def selector_labels(spec: InClusterSpec) -> dict[str, str]:
    """Labels that never change over the Deployment's life (selectors are immutable)."""
    return {
        "app.kubernetes.io/name": "kube-scheduler",
        "app.kubernetes.io/instance": spec.name,
    }


def labels(spec: InClusterSpec) -> dict[str, str]:
    """Kubernetes recommended labels."""
    _validate(spec)
    return {
        **selector_labels(spec),
        "app.kubernetes.io/component": "scheduler",
        "app.kubernetes.io/part-of": "kubernetes",
        **ownership_labels(),
        "app.kubernetes.io/version": spec.version_label,
    }


def _probe(path: str, *, initial_delay: int, period: int, failure_threshold: int) -> dict[str, Any]:
    # The secure port answers /healthz, /livez and /readyz without credentials (always-allowed
    # paths); /readyz only once the informers synced (versions.health_paths).
    return {
        "httpGet": {"path": path, "port": _PORT_NAME, "scheme": "HTTPS"},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": period,
        "timeoutSeconds": 15,
        "failureThreshold": failure_threshold,
    }


def _affinity(spec: InClusterSpec) -> dict[str, Any]:
    affinity: dict[str, Any] = {}
    keys = spec.excluded_node_label_keys
    if keys:
        affinity["nodeAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                # One term: its expressions are ANDed, so every key must be absent.
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": key, "operator": "DoesNotExist"} for key in keys]}
                ]
            }
        }
    # Never two replicas on one node: losing a node must not take both.
    affinity["podAntiAffinity"] = {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {
                "labelSelector": {"matchLabels": selector_labels(spec)},
                "topologyKey": "kubernetes.io/hostname",
            }
        ]
    }
    return affinity


def _restricted_container_security() -> dict[str, Any]:
    """Container securityContext that Pod Security "restricted" admits."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _container(spec: InClusterSpec) -> dict[str, Any]:
    quantities = {"cpu": spec.cpu, "memory": spec.memory}
    mounts = [{"name": "config", "mountPath": CONFIG_MOUNT_DIR, "readOnly": True}]
    serving: list[str] = []
    if spec.serving_secret is not None:
        # the scheduler watches these files: a renewed Secret is served without a restart
        serving = [
            f"--tls-cert-file={SERVING_CERT_DIR}/tls.crt",
            f"--tls-private-key-file={SERVING_CERT_DIR}/tls.key",
        ]
        mounts.append({"name": "serving-cert", "mountPath": SERVING_CERT_DIR, "readOnly": True})
    return {
        "name": "kube-scheduler",
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",  # the image is pinned
        "command": [
            "kube-scheduler",
            f"--config={CONFIG_MOUNT_DIR}/{CONFIG_KEY}",
            # Kubelet probes arrive on the pod IP, not on loopback.
            "--bind-address=0.0.0.0",
            f"--secure-port={SECURE_PORT}",
            f"--v={spec.verbosity}",
            *serving,
        ],
        "ports": [{"name": _PORT_NAME, "containerPort": SECURE_PORT, "protocol": "TCP"}],
        # Timings are kubeadm's for its kube-scheduler static pod
        # (cmd/kubeadm/app/util/staticpod/utils.go); the startup probe allows
        # 4 minutes (kubeadm's control-plane health check timeout).
        # Started and alive: the process serves. Ready: it synced what it watches (a role that
        # lacks a resource leaves it not ready, instead of restarted or falsely ready).
        "startupProbe": _probe(spec.liveness_path, initial_delay=10, period=10, failure_threshold=24),
        "livenessProbe": _probe(spec.liveness_path, initial_delay=10, period=10, failure_threshold=8),
        "readinessProbe": _probe(spec.readiness_path, initial_delay=0, period=1, failure_threshold=3),
        # requests == limits: Guaranteed QoS, last to be evicted under pressure.
        "resources": {"requests": dict(quantities), "limits": dict(quantities)},
        # The custom-scheduler guide set runAsNonRoot false here (docs/sources.md#defect-run-as-non-root).
        "securityContext": _restricted_container_security(),
        "volumeMounts": mounts,
    }


def _volumes(spec: InClusterSpec) -> list[dict[str, Any]]:
    config = {"name": spec.config_map_name, "items": [{"key": CONFIG_KEY, "path": CONFIG_KEY}]}
    out: list[dict[str, Any]] = [{"name": "config", "configMap": config}]
    if spec.serving_secret is not None:
        # 0440 and the pod's fsGroup: the non-root scheduler reads the key, nothing else can
        out.append(
            {"name": "serving-cert", "secret": {"secretName": spec.serving_secret, "defaultMode": 0o440}}
        )
    return out


def deployment_spec(spec: InClusterSpec) -> dict[str, Any]:
    """DeploymentSpec of the in-cluster scheduler."""
    # The ConfigMap's name is the hash of its content: a new config changes the template (the
    # volume's ConfigMap), and so rolls the pods.
    template_meta: dict[str, Any] = {"labels": labels(spec)}
    return {
        "replicas": spec.replicas,
        "selector": {"matchLabels": selector_labels(spec)},
        # No surge: with required anti-affinity and as many eligible nodes as
        # replicas, a surge pod has nowhere to go and the rollout deadlocks.
        # Replacing one pod at a time keeps the other one leading or standing by.
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
        },
        "template": {
            "metadata": template_meta,
            "spec": {
                "serviceAccountName": spec.service_account,
                # The scheduler talks to the API server with this token.
                "automountServiceAccountToken": True,
                # Pods naming this scheduler stay Pending without it: keep it
                # ahead of workloads under pressure (kubeadm uses the node-level
                # class for its static pods; a Deployment takes the cluster one).
                "priorityClassName": "system-cluster-critical",
                "affinity": _affinity(spec),
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": RUN_AS_USER,
                    "runAsGroup": RUN_AS_USER,
                    "fsGroup": RUN_AS_USER,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [_container(spec)],
                "volumes": _volumes(spec),
            },
        },
    }


def metrics_service_spec(spec: InClusterSpec) -> dict[str, Any]:
    """A headless Service for discovery only (no virtual IP, no traffic through it): its
    EndpointSlices list every replica's secure port, ready or not, so a replica that runs but is
    not ready is still scraped (and shows as up, not as gone)."""
    _validate(spec)
    return {
        "clusterIP": "None",
        "publishNotReadyAddresses": True,
        "selector": selector_labels(spec),
        "ports": [{"name": _PORT_NAME, "port": SECURE_PORT, "targetPort": _PORT_NAME, "protocol": "TCP"}],
    }


def pdb_spec(spec: InClusterSpec) -> dict[str, Any] | None:
    """PodDisruptionBudgetSpec keeping one replica through drains; None for 1 replica."""
    _validate(spec)
    if spec.replicas <= 1:
        # minAvailable 1 of 1 would block every node drain.
        return None
    return {
        "minAvailable": 1,
        "selector": {"matchLabels": selector_labels(spec)},
        # A crash-looping replica must not block drains (GA in 1.31, default in 1.29).
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }


# kubeadm's pause for 1.37 (cmd/kubeadm/app/constants PauseVersion); the lab builds it locally
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.2"
_PAUSE_UID = 65535  # the pause image's own non-root user


def sample_pod(scheduler_name: str, name: str) -> dict[str, Any]:
    """Metadata and spec of a tiny pod that only `scheduler_name` may place."""
    if not is_dns_subdomain(scheduler_name):
        raise ValueError(f"scheduler_name must be a DNS subdomain, got {scheduler_name!r}")
    if not is_dns_subdomain(name):
        raise ValueError(f"name must be a DNS subdomain, got {name!r}")
    quantities = {"cpu": "100m", "memory": "64Mi"}
    return {
        "metadata": {
            "name": name,
            # explicit: the provider would take a kubeconfig context's namespace otherwise
            "namespace": SAMPLE_NAMESPACE,
            "labels": {"app.kubernetes.io/name": name},
        },
        "spec": {
            "schedulerName": scheduler_name,
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 5,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": _PAUSE_UID,
                "runAsGroup": _PAUSE_UID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "pause",
                    "image": PAUSE_IMAGE,
                    "resources": {"requests": dict(quantities), "limits": dict(quantities)},
                    "securityContext": _restricted_container_security(),
                }
            ],
        },
    }
