"""`kube-scheduler:monitoring`: a scraper identity for both paths, the scrape configuration and the
alert rules (docs/monitoring.md). Every default once, next to its reason; rules between these and
the paths' own settings are in checks.py."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, field_validator

from components.config.model import MODEL_CONFIG, DnsLabel, rule
from components.render import rules

# Prometheus `for:` of an alert: from a second (tests) to a week.
_FOR = (1, 7 * 86400)


class Model(BaseModel):
    model_config = MODEL_CONFIG


def _for(value: str) -> str:
    rule(rules.prometheus_duration(value, *_FOR))
    return value


class AlertSettings(Model):
    """How long each condition must hold before its alert fires (Prometheus `for:`), and the
    thresholds. Defaults follow the kubernetes-mixin (kube-prometheus' alerts,
    https://github.com/kubernetes-monitoring/kubernetes-mixin) where it has the alert."""

    # The mixin's KubeSchedulerDown and TargetDown: 15m.
    down_for: str = "15m"
    instance_down_for: str = "15m"
    # Longer than a crash fail-over as Prometheus sees it (leaseDuration + 2 jittered retries, 23.8 s
    # with upstream's timings, plus a scrape interval): a normal fail-over never fires it (checked).
    no_leader_for: str = "2m"
    # Growth, not a count: a burst of pods that drains within the window is normal.
    pending_pods_for: str = "15m"
    # Pods ready to try and no attempt at all: a stuck loop, not a busy one (the research's 10m:
    # at the lowest qps the config allows, 5, a scheduler attempts 3,000 pods in that time).
    not_scheduling_for: str = "10m"
    scheduling_errors_for: str = "15m"
    # The mixin's KubeClientErrors: more than 1 % of API requests failing, for 15m.
    client_errors_for: str = "15m"
    client_error_ratio: float = 0.01

    _fors = field_validator(
        "down_for",
        "instance_down_for",
        "no_leader_for",
        "pending_pods_for",
        "not_scheduling_for",
        "scheduling_errors_for",
        "client_errors_for",
    )(_for)

    @field_validator("client_error_ratio")
    @classmethod
    def _ratio(cls, v: float) -> float:
        if not 0 < v < 1:
            raise ValueError(f"expected a fraction between 0 and 1 (0.01 is 1 %), got {v!r}")
        return v


class Monitoring(Model):
    # Opt-in: it writes cluster-wide RBAC (also for a bare-metal-only stack, whose masters ask the
    # API server who may read /metrics) and rolls the in-cluster pods once (their serving cert).
    enabled: bool = False
    # The scraper's client-certificate CN, so its RBAC user: no O, so no group and no other rights.
    reader_name: DnsLabel = "kube-scheduler-metrics-reader"
    # kube-prometheus' scrape and evaluation interval.
    scrape_interval: str = "30s"
    evaluation_interval: str = "30s"
    # A ServiceMonitor for the in-cluster path where the Prometheus Operator's CRD is served (asked
    # at preview and up; render mode has no cluster to ask, so it makes none).
    service_monitor: Literal["auto", "never"] = "auto"
    alerts: AlertSettings = AlertSettings()

    @field_validator("scrape_interval", "evaluation_interval")
    @classmethod
    def _interval(cls, v: str) -> str:
        rule(rules.prometheus_duration(v, 1, 300))
        return v
