"""In-cluster scheduler Deployment, PDB and sample pod."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from components.config import InCluster
from components.render.cluster import deployment_input
from components.render.in_cluster import (
    CONFIG_MOUNT_DIR,
    InClusterSpec,
    deployment_spec,
    labels,
    pdb_spec,
    sample_pod,
    selector_labels,
)
from components.render.versions import KubeVersion, health_paths

# The Deployment's input for the stack config's defaults at 1.34, its ConfigMap's name made fixed.
SPEC = dataclasses.replace(
    deployment_input(InCluster(), KubeVersion(1, 34, 2), "registry.k8s.io/kube-scheduler:v1.34.2"),
    config_map_name="custom-k8s-scheduler-config-0123456789",
)

# Pod Security Standards, "restricted" profile (v1.29+): the volume types it
# allows, and the checks applied below.
_RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
    "persistentVolumeClaim", "projected", "secret",
}  # fmt: skip


def restricted_violations(pod_spec: dict[str, Any]) -> list[str]:
    """Violations of Pod Security "restricted" in a pod spec (empty list: compliant)."""
    found: list[str] = []
    pod_sc = pod_spec.get("securityContext", {})
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(field):
            found.append(field)
    for volume in pod_spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= _RESTRICTED_VOLUMES:
            found.append(f"volume {volume['name']}: {sorted(kinds)}")
    containers = pod_spec.get("containers", []) + pod_spec.get("initContainers", [])
    for c in containers:
        sc = c.get("securityContext", {})
        if sc.get("privileged"):
            found.append(f"{c['name']}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"{c['name']}: allowPrivilegeEscalation not false")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            found.append(f"{c['name']}: capabilities not dropped")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"{c['name']}: capabilities added")
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if non_root is not True:
            found.append(f"{c['name']}: runAsNonRoot not true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            found.append(f"{c['name']}: runAsUser 0")
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            found.append(f"{c['name']}: seccomp")
        if any("hostPort" in port for port in c.get("ports", [])):
            found.append(f"{c['name']}: hostPort")
    return found


def _pod(spec: InClusterSpec = SPEC) -> dict[str, Any]:
    pod: dict[str, Any] = deployment_spec(spec)["template"]["spec"]
    return pod


def _container(spec: InClusterSpec = SPEC) -> dict[str, Any]:
    containers: list[dict[str, Any]] = _pod(spec)["containers"]
    assert len(containers) == 1
    return containers[0]


def test_checker_catches_the_custom_scheduler_guides_defect() -> None:
    pod = copy.deepcopy(_pod())
    pod["containers"][0]["securityContext"]["runAsNonRoot"] = False  # as the custom-scheduler guide did
    assert restricted_violations(pod) == ["kube-scheduler: runAsNonRoot not true"]


def test_pod_template_is_restricted() -> None:
    assert restricted_violations(_pod()) == []


def test_sample_pod_is_restricted() -> None:
    assert restricted_violations(sample_pod("custom-k8s-scheduler", "sample")["spec"]) == []


def test_labels() -> None:
    assert labels(SPEC) == {
        "app.kubernetes.io/name": "kube-scheduler",
        "app.kubernetes.io/instance": "custom-k8s-scheduler",
        "app.kubernetes.io/component": "scheduler",
        "app.kubernetes.io/part-of": "kubernetes",
        "app.kubernetes.io/managed-by": "kube-scheduler-pulumi",
        "app.kubernetes.io/version": "v1.34.2",
    }


def test_selector_is_stable_subset() -> None:
    selector = selector_labels(SPEC)
    assert selector.items() <= labels(SPEC).items()
    assert "app.kubernetes.io/version" not in selector
    upgraded = dataclasses.replace(SPEC, version_label="v1.35.0", image="r.example/ks:v1.35.0")
    assert selector_labels(upgraded) == selector  # selectors are immutable


def test_deployment_top_level() -> None:
    dep = deployment_spec(SPEC)
    assert dep["replicas"] == 2
    assert dep["selector"] == {"matchLabels": selector_labels(SPEC)}
    assert dep["template"]["metadata"]["labels"] == labels(SPEC)
    # maxSurge 0: with required anti-affinity a surge pod may find no node.
    assert dep["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }


def test_a_new_config_map_rolls_the_pods() -> None:
    # the ConfigMap is named by its content (cluster_objects.config_map_name): another config is
    # another name in the pod template, so the Deployment rolls
    other = deployment_spec(
        dataclasses.replace(SPEC, config_map_name="custom-k8s-scheduler-config-fedcba9876")
    )
    assert other["template"] != deployment_spec(SPEC)["template"]
    (volume,) = other["template"]["spec"]["volumes"]
    assert volume["configMap"]["name"] == "custom-k8s-scheduler-config-fedcba9876"


def test_pod_settings() -> None:
    pod = _pod()
    assert pod["serviceAccountName"] == "custom-k8s-scheduler"
    assert pod["automountServiceAccountToken"] is True
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(field)


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param(("karpenter.sh/nodepool",), id="guide-default"),
        pytest.param(("karpenter.sh/nodepool", "example.com/spot"), id="two-keys"),
    ],
)
def test_node_affinity_excludes_every_key(keys: tuple[str, ...]) -> None:
    affinity = _pod(dataclasses.replace(SPEC, excluded_node_label_keys=keys))["affinity"]
    required = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    # One term, so the expressions are ANDed: a node with any of the keys is out.
    (term,) = required["nodeSelectorTerms"]
    assert term["matchExpressions"] == [{"key": k, "operator": "DoesNotExist"} for k in keys]


def test_no_node_affinity_without_keys() -> None:
    affinity = _pod(dataclasses.replace(SPEC, excluded_node_label_keys=()))["affinity"]
    assert "nodeAffinity" not in affinity


def test_pod_anti_affinity_one_per_node() -> None:
    anti = _pod()["affinity"]["podAntiAffinity"]
    assert anti == {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {
                "labelSelector": {"matchLabels": selector_labels(SPEC)},
                "topologyKey": "kubernetes.io/hostname",
            }
        ]
    }
    # The selector must match the pods' own labels, or it keeps nothing apart.
    assert selector_labels(SPEC).items() <= labels(SPEC).items()


def test_container_command() -> None:
    assert _container()["command"] == [
        "kube-scheduler",
        "--config=/etc/kubernetes/custom-k8s-scheduler/config.yaml",
        "--bind-address=0.0.0.0",  # kubelet probes come to the pod IP
        "--secure-port=10259",
        "--v=2",
    ]
    assert not any(arg.startswith("--port") for arg in _container()["command"])


@pytest.mark.parametrize("probe", ["startupProbe", "livenessProbe", "readinessProbe"])
def test_probes_over_https_on_10259(probe: str) -> None:
    container = _container()
    get = container[probe]["httpGet"]
    assert get["scheme"] == "HTTPS"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports[get["port"]] == 10259


# (minor, startup/liveness path, readiness path): /livez and /readyz from 1.31 (the sources of
# v1.29.15..v1.37.2: InstallReadyzHandler appears in 1.31); /healthz before.
PROBE_PATHS = [
    (29, "/healthz", "/healthz"),
    (30, "/healthz", "/healthz"),
    (31, "/livez", "/readyz"),
    (34, "/livez", "/readyz"),
    (37, "/livez", "/readyz"),
]


@pytest.mark.parametrize(("minor", "live", "ready"), PROBE_PATHS, ids=[f"1.{m}" for m, *_ in PROBE_PATHS])
def test_probe_paths_follow_the_version(minor: int, live: str, ready: str) -> None:
    live_path, ready_path = health_paths(KubeVersion(1, minor, 0))
    container = _container(dataclasses.replace(SPEC, liveness_path=live_path, readiness_path=ready_path))
    assert container["startupProbe"]["httpGet"]["path"] == live
    assert container["livenessProbe"]["httpGet"]["path"] == live
    assert container["readinessProbe"]["httpGet"]["path"] == ready


@pytest.mark.parametrize(
    ("probe", "period", "failures", "initial"),
    [
        # kubeadm's values for the kube-scheduler static pod.
        pytest.param("livenessProbe", 10, 8, 10, id="liveness"),
        pytest.param("readinessProbe", 1, 3, 0, id="readiness"),
        pytest.param("startupProbe", 10, 24, 10, id="startup"),
    ],
)
def test_probe_timings(probe: str, period: int, failures: int, initial: int) -> None:
    spec = _container()[probe]
    assert (spec["periodSeconds"], spec["failureThreshold"]) == (period, failures)
    assert spec["initialDelaySeconds"] == initial
    assert spec["timeoutSeconds"] == 15
    # Liveness must tolerate longer than one lease duration (15 s) of hiccups.
    if probe == "livenessProbe":
        assert period * failures > 15


def test_resources_guaranteed() -> None:
    assert _container()["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"},  # docs/sources.md#default-resources
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }


def test_container_security_context() -> None:
    assert _container()["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def test_config_volume() -> None:
    pod = _pod()
    (mount,) = _container()["volumeMounts"]
    assert mount == {"name": "config", "mountPath": CONFIG_MOUNT_DIR, "readOnly": True}
    (volume,) = pod["volumes"]
    assert volume["name"] == "config"
    assert volume["configMap"]["name"] == "custom-k8s-scheduler-config-0123456789"
    (item,) = volume["configMap"]["items"]
    # The file --config names is the one the volume provides.
    assert f"--config={CONFIG_MOUNT_DIR}/{item['path']}" in _container()["command"]
    assert item["key"] == "config.yaml"


@pytest.mark.parametrize(
    ("replicas", "expected"),
    [
        pytest.param(1, None, id="single-replica-no-pdb"),
        pytest.param(2, 1, id="two-replicas"),
        pytest.param(3, 1, id="three-replicas"),
    ],
)
def test_pdb(replicas: int, expected: int | None) -> None:
    pdb = pdb_spec(dataclasses.replace(SPEC, replicas=replicas))
    if expected is None:
        assert pdb is None
        return
    assert pdb is not None
    assert pdb["minAvailable"] == expected
    assert pdb["selector"] == {"matchLabels": selector_labels(SPEC)}


def test_sample_pod() -> None:
    pod = sample_pod("custom-k8s-scheduler", "custom-k8s-scheduler-sample")
    assert pod["metadata"]["name"] == "custom-k8s-scheduler-sample"
    spec = pod["spec"]
    assert spec["schedulerName"] == "custom-k8s-scheduler"
    (container,) = spec["containers"]
    assert container["image"] == "registry.k8s.io/pause:3.10.2"
    assert container["resources"]["requests"] == {"cpu": "100m", "memory": "64Mi"}


def test_sample_pod_name() -> None:
    assert sample_pod("s", name="probe-1")["metadata"]["name"] == "probe-1"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"image": "registry.k8s.io/kube-scheduler"},
            "image: expected an image pinned by :tag or @sha256:digest",
            id="unpinned-image",
        ),
        pytest.param(
            {"replicas": 0},
            "replicas: expected a whole number from 1 to 2147483647, got 0",
            id="zero-replicas",
        ),
        pytest.param(
            {"excluded_node_label_keys": ("bad key",)},
            "excluded_node_label_keys: expected a label key such as 'example.com/gpu', got 'bad key'",
            id="bad-label-key",
        ),
        pytest.param(
            {"cpu": "half"},
            "cpu: expected a positive Kubernetes quantity such as 500m or 512Mi, got 'half'",
            id="bad-cpu",
        ),
        pytest.param({"name": "Custom_Scheduler"}, "name: expected a DNS-1123 label", id="bad-name"),
        pytest.param(
            {"version_label": "v1.34.2+build/x"},
            "version_label: expected a label value",
            id="bad-version-label",
        ),
    ],
)
def test_rejects(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        deployment_spec(dataclasses.replace(SPEC, **changes))


def test_sample_pod_rejects_bad_scheduler_name() -> None:
    with pytest.raises(ValueError, match="scheduler_name must be a DNS subdomain"):
        sample_pod("Custom Scheduler", "sample")
