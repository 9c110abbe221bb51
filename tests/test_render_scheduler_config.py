"""KubeSchedulerConfiguration rendering."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import yaml

from components.config import BareMetal
from components.render import master
from components.render.scheduler_config import (
    SCORING_STRATEGIES,
    SchedulerConfigSpec,
    render_scheduler_config,
)
from components.render.versions import SUPPORTED_MINORS, KubeVersion

V134 = KubeVersion(1, 34, 2)
KUBECONFIG = "/etc/kubernetes/scheduler/kube-scheduler.kubeconfig"
MINORS = range(SUPPORTED_MINORS[0], SUPPORTED_MINORS[1] + 1)
# A second scheduler (the custom-scheduler guide's, docs/sources.md#guide-custom-scheduler), with
# its own lease: a scheduler with another schedulerName must use another lease.
SECOND_SCHEDULER = SchedulerConfigSpec(
    kubernetes_version=V134,
    kubeconfig_path="",
    qps=100,
    burst=200,
    leader_elect=True,
    lease_name="custom-k8s-scheduler",
    lease_namespace="kube-system",
    lease_duration_s=15,
    renew_deadline_s=10,
    retry_period_s=2,
    scheduler_name="custom-k8s-scheduler",
    scoring_strategy="MostAllocated",
    resource_weights=(("cpu", 1), ("memory", 1)),
)


def bare_metal(v: KubeVersion) -> SchedulerConfigSpec:
    """The masters' config for the stack config's defaults."""
    return master.config_spec(BareMetal(), v)


def _load(spec: SchedulerConfigSpec) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(render_scheduler_config(spec))
    return doc


@pytest.mark.parametrize("minor", MINORS, ids=lambda m: f"1.{m}")
def test_api_version_per_minor(minor: int) -> None:
    doc = _load(bare_metal(KubeVersion(1, minor, 0)))
    # v1 GA in 1.25; the guides' v1alpha1/v1beta1 load nowhere (docs/sources.md#defect-config-api).
    assert doc["apiVersion"] == "kubescheduler.config.k8s.io/v1"
    assert doc["kind"] == "KubeSchedulerConfiguration"


def test_defaults_are_upstream_defaults() -> None:
    doc = _load(bare_metal(V134))
    # --config makes the scheduler ignore --kubeconfig: the path must be here.
    assert doc["clientConnection"] == {"kubeconfig": KUBECONFIG, "qps": 50.0, "burst": 100}
    # Upstream leader election: lease 15s, renew 10s, retry 2s, Lease lock
    # kube-system/kube-scheduler.
    assert doc["leaderElection"] == {
        "leaderElect": True,
        "resourceLock": "leases",
        "resourceName": "kube-scheduler",
        "resourceNamespace": "kube-system",
        "leaseDuration": "15s",
        "renewDeadline": "10s",
        "retryPeriod": "2s",
    }
    assert doc["profiles"] == [{"schedulerName": "default-scheduler"}]


def test_in_cluster_omits_kubeconfig() -> None:
    doc = _load(SECOND_SCHEDULER)
    assert doc["clientConnection"] == {"qps": 100.0, "burst": 200}


def test_second_scheduler_profile() -> None:
    doc = _load(SECOND_SCHEDULER)
    assert doc["leaderElection"]["resourceName"] == "custom-k8s-scheduler"
    assert doc["leaderElection"]["resourceNamespace"] == "kube-system"
    assert doc["profiles"] == [
        {
            "schedulerName": "custom-k8s-scheduler",
            "pluginConfig": [
                {
                    "name": "NodeResourcesFit",
                    "args": {
                        "scoringStrategy": {
                            "type": "MostAllocated",
                            "resources": [
                                {"name": "cpu", "weight": 1},
                                {"name": "memory", "weight": 1},
                            ],
                        }
                    },
                }
            ],
        }
    ]


STRATEGIES = ["LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy(strategy: str) -> None:
    spec = dataclasses.replace(
        SECOND_SCHEDULER, scoring_strategy=strategy, resource_weights=(("cpu", 3), ("nvidia.com/gpu", 100))
    )
    (plugin,) = _load(spec)["profiles"][0]["pluginConfig"]
    scoring = plugin["args"]["scoringStrategy"]
    assert scoring["type"] == strategy
    assert scoring["resources"] == [
        {"name": "cpu", "weight": 3},
        {"name": "nvidia.com/gpu", "weight": 100},
    ]
    if strategy == "RequestedToCapacityRatio":
        shape = scoring["requestedToCapacityRatio"]["shape"]
        # Upstream: utilization 0..100 strictly increasing, score 0..10.
        utilizations = [point["utilization"] for point in shape]
        assert utilizations == sorted(set(utilizations))
        assert all(0 <= p["utilization"] <= 100 and 0 <= p["score"] <= 10 for p in shape)
        assert shape[0]["score"] < shape[-1]["score"]  # bin packing: fuller scores higher
    else:
        assert "requestedToCapacityRatio" not in scoring


def test_strategies_are_the_upstream_three() -> None:
    assert {"LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"} == SCORING_STRATEGIES


def test_deterministic() -> None:
    copy = dataclasses.replace(SECOND_SCHEDULER)
    assert render_scheduler_config(SECOND_SCHEDULER) == render_scheduler_config(copy)


def test_leader_election_off_still_names_lease() -> None:
    doc = _load(dataclasses.replace(SECOND_SCHEDULER, leader_elect=False))
    assert doc["leaderElection"]["leaderElect"] is False


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"renew_deadline_s": 15},
            "renewDeadlineSeconds: expected less than leaseDurationSeconds (15), got 15",
            id="renew-equals-lease",
        ),
        pytest.param(
            {"retry_period_s": 10},
            "retryPeriodSeconds: expected renewDeadlineSeconds (10) above 1.2 x retryPeriodSeconds",
            id="retry-equals-renew",
        ),
        pytest.param(
            {"renew_deadline_s": 6, "retry_period_s": 5},
            "(client-go's leader election refuses less), got 5",
            id="retry-within-jitter",
        ),
        pytest.param(
            {"retry_period_s": 0}, "retryPeriodSeconds: expected a whole number from 1 to", id="zero-retry"
        ),
        pytest.param(
            {"qps": 0.0}, "qps: expected a finite number above 0 (a float32), got 0.0", id="zero-qps"
        ),
        pytest.param(
            {"qps": float("nan")}, "qps: expected a finite number above 0 (a float32), got nan", id="nan-qps"
        ),
        pytest.param(
            {"burst": 0}, "burst: expected a whole number from 1 to 2147483647, got 0", id="zero-burst"
        ),
        pytest.param(
            {"scoring_strategy": "Balanced"}, "scoring_strategy: expected one of", id="unknown-strategy"
        ),
        pytest.param(
            {"resource_weights": (("cpu", 0),)}, "expected a weight from 1 to 100, got 0", id="weight-zero"
        ),
        pytest.param(
            {"resource_weights": (("cpu", 101),)},
            "expected a weight from 1 to 100, got 101",
            id="weight-over-100",
        ),
        pytest.param({"resource_weights": ()}, "at least one resource", id="no-resources"),
        pytest.param(
            {"resource_weights": (("cpu", 1), ("cpu", 2))},
            "expected each resource once, got 'cpu' twice",
            id="duplicate-resource",
        ),
        pytest.param(
            {"resource_weights": (("c p u", 1),)},
            "expected a resource name such as 'example.com/gpu', got 'c p u'",
            id="bad-resource-name",
        ),
        pytest.param(
            {"lease_name": "kube-scheduler"}, "expected a lease of its own", id="custom-name-on-default-lease"
        ),
        pytest.param(
            {"lease_name": "Custom_Lease"},
            "lease_name: expected a DNS-1123 subdomain, got 'Custom_Lease'",
            id="bad-lease-name",
        ),
        pytest.param(
            {"lease_namespace": "kube.system"},
            "lease_namespace: expected a DNS-1123 label",
            id="bad-namespace",
        ),
        pytest.param(
            {"scheduler_name": ""},
            "scheduler_name: expected a DNS-1123 subdomain, got ''",
            id="empty-scheduler-name",
        ),
        pytest.param(
            {"kubeconfig_path": "kube.conf"},
            "kubeconfig_path: expected an absolute path",
            id="relative-kubeconfig",
        ),
    ],
)
def test_rejects(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="invalid scheduler config") as err:
        render_scheduler_config(dataclasses.replace(SECOND_SCHEDULER, **changes))
    assert message in str(err.value)


def test_reports_all_errors_at_once() -> None:
    with pytest.raises(ValueError) as err:
        render_scheduler_config(dataclasses.replace(SECOND_SCHEDULER, qps=-1, burst=0))
    assert "qps" in str(err.value) and "burst" in str(err.value)


def test_default_lease_allowed_without_leader_election() -> None:
    spec = dataclasses.replace(SECOND_SCHEDULER, lease_name="kube-scheduler", leader_elect=False)
    assert _load(spec)["leaderElection"]["leaderElect"] is False
