"""`kube-scheduler:monitoring`: its defaults, and every bad value reported with its key, what was
expected and the value received (docs/monitoring.md)."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError, load_config
from tests.support import DELETE, Pki, as_raw, base_config, mutate, problem_texts


def _on(pki: Pki, **monitoring: Any) -> dict[str, Any]:
    return base_config(pki) | {"monitoring": {"enabled": True, **monitoring}}


def test_off_by_default_and_the_defaults_when_on(pki: Pki) -> None:
    assert load_config(as_raw(base_config(pki))).monitoring.enabled is False
    mon = load_config(as_raw(_on(pki))).monitoring
    assert (mon.reader_name, mon.scrape_interval, mon.evaluation_interval) == (
        "kube-scheduler-metrics-reader",
        "30s",
        "30s",
    )
    assert mon.service_monitor == "auto"
    a = mon.alerts
    # the kubernetes-mixin's where it has the alert (KubeSchedulerDown, TargetDown, KubeClientErrors)
    assert (a.down_for, a.instance_down_for, a.client_errors_for, a.client_error_ratio) == (
        "15m",
        "15m",
        "15m",
        0.01,
    )
    assert (a.no_leader_for, a.pending_pods_for, a.not_scheduling_for, a.scheduling_errors_for) == (
        "2m",
        "15m",
        "10m",
        "15m",
    )


BAD = [
    (
        "a duration without unit",
        {"alerts": {"downFor": "15"}},
        "monitoring.alerts.downFor: expected a duration with one unit (s, m, h or d), such as 30s or 15m, "
        "got '15'",
    ),
    (
        "two units",
        {"alerts": {"pendingPodsFor": "1h30m"}},
        "monitoring.alerts.pendingPodsFor: expected a duration with one unit",
    ),
    (
        "longer than a week",
        {"alerts": {"downFor": "8d"}},
        "monitoring.alerts.downFor: expected from 1s to 604800s, got '8d'",
    ),
    (
        "a scrape every ten minutes",
        {"scrapeInterval": "10m"},
        "monitoring.scrapeInterval: expected from 1s to 300s, got '10m'",
    ),
    (
        "a ratio of 1",
        {"alerts": {"clientErrorRatio": 1}},
        "monitoring.alerts.clientErrorRatio: expected a fraction between 0 and 1",
    ),
    ("a reader with capitals", {"readerName": "Reader"}, "monitoring.readerName: expected a DNS-1123 label"),
    (
        "a reader named like a role Kubernetes makes",
        {"readerName": "admin"},
        "monitoring.readerName: expected a name Kubernetes does not use itself, got 'admin', whose objects "
        "Kubernetes 1.34 or kubeadm make: ClusterRole admin",
    ),
    (
        "a ServiceMonitor asked for",
        {"serviceMonitor": "always"},
        "monitoring.serviceMonitor: expected 'auto' or 'never'",
    ),
    ("a typo", {"alert": {}}, "monitoring.alert: unknown key"),
    (
        # 15 + 2 x 2 x 2.2 = 23.8 s without a leader at worst, plus a 30 s scrape: at least 54 s
        "a no-leader alert a crash fail-over fires",
        {"alerts": {"noLeaderFor": "50s"}},
        "monitoring.alerts.noLeaderFor: expected at least 54s (a crash fail-over of bareMetal leaves no "
        "leader for up to 23.8 s",
    ),
]


@pytest.mark.parametrize(("case", "monitoring", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_monitoring_config_names_key_and_value(
    pki: Pki, case: str, monitoring: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(as_raw(_on(pki, **monitoring)))
    texts = problem_texts(info.value)
    assert any(expected in t for t in texts), texts


def test_the_no_leader_floor_follows_each_paths_lease_and_the_scrape_interval(pki: Pki) -> None:
    # a 5 s scrape: 23.8 + 5 = 28.8, so 29 s is enough and 28 s is not
    assert load_config(as_raw(_on(pki, scrapeInterval="5s", alerts={"noLeaderFor": "29s"})))
    with pytest.raises(ConfigError):
        load_config(as_raw(_on(pki, scrapeInterval="5s", alerts={"noLeaderFor": "28s"})))
    # the in-cluster path's longer lease (30 + 2 x 2 x 2.2 = 38.8 s, + 5 s) raises its floor alone
    c = mutate(
        _on(pki, scrapeInterval="5s", alerts={"noLeaderFor": "29s"}),
        "inCluster.leaderElection",
        {
            "leaseDurationSeconds": 30,
            "renewDeadlineSeconds": 20,
        },
    )
    with pytest.raises(ConfigError) as info:
        load_config(as_raw(c))
    assert [t for t in problem_texts(info.value) if "noLeaderFor" in t] == [
        "kube-scheduler:monitoring.alerts.noLeaderFor: expected at least 44s (a crash fail-over of "
        "inCluster leaves no leader for up to 38.8 s with its leaderElection timings, and Prometheus sees "
        "the new leader up to a scrape interval, 5s, later), got '29s'"
    ]


def test_masters_bound_to_loopback_cannot_be_scraped(pki: Pki) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(as_raw(mutate(_on(pki), "bareMetal.bindAddress", "127.0.0.1")))
    assert problem_texts(info.value) == [
        "kube-scheduler:bareMetal.bindAddress: expected an address a scraper can reach "
        "(monitoring.enabled), got '127.0.0.1' (loopback: only the master itself could read /metrics)"
    ]
    # without monitoring it is the user's choice
    assert load_config(as_raw(mutate(base_config(pki), "bareMetal.bindAddress", "127.0.0.1")))


def test_a_path_turned_off_sets_no_floor(pki: Pki) -> None:
    c = mutate(_on(pki, scrapeInterval="5s", alerts={"noLeaderFor": "29s"}), "inCluster", {"enabled": False})
    c = mutate(c, "inCluster.leaderElection", {"leaseDurationSeconds": 60, "renewDeadlineSeconds": 40})
    assert load_config(as_raw(c)).monitoring.alerts.no_leader_for == "29s"
    assert load_config(as_raw(mutate(c, "monitoring.enabled", DELETE)))
