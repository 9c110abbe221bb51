"""The rendered alert rules under `promtool test rules` (the pinned Prometheus 3.16.0): each alert
fires in the scenario it is for, and not in its near miss. The expected values are worked out by
hand from each scenario (the comments say how), never read from the rules under test.

The rules are rendered for the stack config's defaults (both paths; `for` 15m, 2m, 10m; the 1 %
client-error ratio): job "kube-scheduler" (the masters) and "custom-k8s-scheduler" (in-cluster)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import load_config
from components.render import alerts
from harness.prometheus import promtool
from tests.support import Pki, as_raw, base_config

pytestmark = pytest.mark.toolchain

BM, IC = "kube-scheduler", "custom-k8s-scheduler"
M1, M2, M3 = "10.231.0.11:10259", "10.231.0.12:10259", "10.231.0.13:10259"
P1, P2 = "10.231.64.7:10259", "10.231.65.9:10259"
# the labels the scrape configuration gives each target
TARGET = {
    M1: {"job": BM, "instance": M1, "node": "master-1"},
    M2: {"job": BM, "instance": M2, "node": "master-2"},
    M3: {"job": BM, "instance": M3, "node": "master-3"},
    P1: {
        "job": IC,
        "instance": P1,
        "namespace": "kube-system",
        "pod": "custom-k8s-scheduler-7d-a",
        "node": "node-1",
    },
    P2: {
        "job": IC,
        "instance": P2,
        "namespace": "kube-system",
        "pod": "custom-k8s-scheduler-7d-b",
        "node": "node-2",
    },
}


def s(metric: str, target: str, values: str, **labels: str) -> dict[str, str]:
    """An input series of `metric` on `target` ("0+1x40": 0, 1, ... 40 at each interval)."""
    all_labels = TARGET[target] | labels
    return {
        "series": metric + "{" + ", ".join(f'{k}="{v}"' for k, v in all_labels.items()) + "}",
        "values": values,
    }


def fires(name: str, at: str, *alerts_: tuple[dict[str, str], dict[str, str]]) -> dict[str, Any]:
    """At `at`, exactly these (labels, annotations) alerts of `name` fire (none: it does not)."""
    return {
        "eval_time": at,
        "alertname": name,
        "exp_alerts": [{"exp_labels": lab, "exp_annotations": ann} for lab, ann in alerts_],
    }


def alert(labels: dict[str, str], summary: str, description: str) -> tuple[dict[str, str], dict[str, str]]:
    return labels, {"summary": summary, "description": description}


def starts(
    name: str, before: str, at: str, *alerts_: tuple[dict[str, str], dict[str, str]]
) -> list[dict[str, Any]]:
    """The edge of `name`'s `for`: it does not fire at `before`, and fires exactly `alerts_` at `at`."""
    return [fires(name, before), fires(name, at, *alerts_)]


def down(job: str) -> tuple[dict[str, str], dict[str, str]]:
    return {"job": job, "severity": "critical"}, {
        "summary": "No instance of a kube-scheduler path can be scraped.",
        "description": f"No instance of {job} has been scraped for 15m: the pods that ask for it are not "
        "scheduled, or nothing watches them.",
    }


def instance_down(target: str) -> tuple[dict[str, str], dict[str, str]]:
    t = TARGET[target]
    return t | {"severity": "warning"}, {
        "summary": "A kube-scheduler instance cannot be scraped.",
        "description": f"{t['job']} instance {target} has failed its scrapes for 15m: its path has lost "
        "redundancy, or the scraper its access.",
    }


def reader_cert(target: str, severity: str, left: str) -> tuple[dict[str, str], dict[str, str]]:
    return TARGET[target] | {"severity": severity}, {
        "summary": f"The metrics reader's certificate expires within {left}.",
        "description": f"A client certificate presented to {TARGET[target]['job']} instance {target} (the "
        f"metrics reader's) expires within {left}: `make up` renews it, then give the scraper the new one.",
    }


BUCKETS = [
    0,
    1800,
    3600,
    7200,
    21600,
    43200,
    86400,
    172800,
    345600,
    604800,
    2592000,
    7776000,
    15552000,
    31104000,
]


def certificate_seen(target: str, left_s: int) -> list[dict[str, str]]:
    """The histogram a scheduler keeps of the client certificates it authenticates: one scrape a
    minute, each with a certificate that has `left_s` seconds left."""
    series = [s("apiserver_client_certificate_expiration_seconds_count", target, "0+1x40")]
    for le in [*(str(b) for b in BUCKETS), "+Inf"]:
        counts = "0+1x40" if le == "+Inf" or int(le) >= left_s else "0x40"
        series.append(s("apiserver_client_certificate_expiration_seconds_bucket", target, counts, le=le))
    return series


LE = "leader_election_master_status"


def leads(target: str, values: str) -> dict[str, str]:
    """The leader gauge of `target` (1: it holds the lease); both paths' lease is "kube-scheduler"."""
    return s(LE, target, values, name="kube-scheduler")


PENDING = "scheduler_pending_pods"
ATTEMPTS = "scheduler_schedule_attempts_total"
REQUESTS = "rest_client_requests_total"
API = {"host": "10.231.0.1:6443", "method": "GET"}

# what each alert says when it fires in its scenario below
NO_LEADER = alert(
    {"job": BM, "severity": "critical"},
    "No kube-scheduler instance holds its lease.",
    "No scraped instance of kube-scheduler has held and renewed its lease "
    "for 2m: nothing of this path is scheduled.",
)
MULTIPLE_LEADERS = alert(
    {"job": BM, "severity": "warning"},
    "More than one kube-scheduler instance says it leads.",
    "2 instances of kube-scheduler report holding the lease: they do not share one Lease.",
)
PENDING_PODS_GROWING = alert(
    {"job": IC, "severity": "warning"},
    "Pods waiting for a kube-scheduler keep growing.",
    "16 pods wait for custom-k8s-scheduler, more and more for 15m.",
)
NOT_SCHEDULING = alert(
    {"job": IC, "severity": "critical"},
    "The leading kube-scheduler has pods to try and tries none.",
    "The leader of custom-k8s-scheduler has had pods ready to schedule and made no attempt for 10m.",
)
SCHEDULING_ERRORS = alert(
    {"job": IC, "profile": IC, "severity": "warning"},
    "Scheduling attempts end in errors.",
    "Profile custom-k8s-scheduler of custom-k8s-scheduler has ended "
    "attempts in an error (not for lack of room) for 15m: 100m per second.",
)
CLIENT_ERRORS = alert(
    {"job": BM, "instance": M1, "severity": "warning"},
    "A kube-scheduler's requests to the API server fail.",
    "2% of the API requests of kube-scheduler instance 10.231.0.11:10259 end in a 5xx status or no answer.",
)

TESTS: dict[str, dict[str, Any]] = {
    "every master fails its scrapes: the path is down (at 15m, not at 14m), each master too": {
        "input_series": [s("up", m, "0x30") for m in (M1, M2, M3)] + [s("up", p, "1x30") for p in (P1, P2)],
        "alert_rule_test": [
            *starts("KubeSchedulerDown", "14m", "15m", down(BM)),
            fires("KubeSchedulerInstanceDown", "15m", *(instance_down(m) for m in (M1, M2, M3))),
        ],
    },
    "no replica discovered at all (scaled to 0): the in-cluster path is down": {
        "input_series": [s("up", m, "1x30") for m in (M1, M2, M3)],
        "alert_rule_test": [
            fires("KubeSchedulerDown", "15m", down(IC)),
            fires("KubeSchedulerInstanceDown", "15m"),
        ],
    },
    "one master down: the path is not, the master is": {
        "input_series": [s("up", M1, "0x30"), s("up", M2, "1x30"), s("up", M3, "1x30"), s("up", P1, "1x30")],
        "alert_rule_test": [
            fires("KubeSchedulerDown", "20m"),
            fires("KubeSchedulerInstanceDown", "20m", instance_down(M1)),
        ],
    },
    # master-1 leads until 4m and reports 0 from 5m; nobody takes over: no leader from 5m, 2m later it fires
    "the masters' leader stops leading and no standby takes over": {
        "input_series": [
            leads(M1, "1x4 0x20"),
            leads(M2, "0x25"),
            leads(M3, "0x25"),
            # the in-cluster scheduler's gauge is named "kube-scheduler" too: told apart by job
            leads(P1, "1x25"),
            leads(P2, "0x25"),
        ],
        "alert_rule_test": [
            *starts("KubeSchedulerNoLeader", "6m", "7m", NO_LEADER),
            fires("KubeSchedulerMultipleLeaders", "7m"),
        ],
    },
    "a fail-over: master-2 leads one scrape after master-1 stopped (no alert)": {
        "input_series": [
            leads(M1, "1x4 0x20"),
            leads(M2, "0x5 1x20"),
        ],
        "alert_rule_test": [fires("KubeSchedulerNoLeader", "7m"), fires("KubeSchedulerNoLeader", "20m")],
    },
    "two masters say they lead for 2m": {
        "input_series": [leads(M1, "1x10"), leads(M2, "1x10")],
        "alert_rule_test": [
            *starts("KubeSchedulerMultipleLeaders", "1m", "2m", MULTIPLE_LEADERS),
        ],
    },
    # one more unschedulable pod a minute; the standby holds them all in its active queue (max, not
    # sum: 16 at 16m, not 32); the 5 gated pods wait by design (not counted). Growing from 1m: fires
    # 15m later, at 16m, with 16 pods waiting.
    "pods waiting for the in-cluster scheduler grow for 15m": {
        "input_series": [
            s(PENDING, P1, "0+1x40", queue="unschedulable"),
            s(PENDING, P1, "0x40", queue="active"),
            s(PENDING, P1, "5x40", queue="gated"),
            s(PENDING, P2, "0+1x40", queue="active"),
            s(PENDING, P2, "5x40", queue="gated"),
        ],
        "promql_expr_test": [
            {
                "expr": "job:scheduler_pending_pods:max",
                "eval_time": "10m",
                "exp_samples": [
                    {"labels": 'job:scheduler_pending_pods:max{job="custom-k8s-scheduler"}', "value": 10}
                ],
            }
        ],
        "alert_rule_test": [
            *starts("KubeSchedulerPendingPodsGrowing", "15m", "16m", PENDING_PODS_GROWING),
        ],
    },
    "seven pods wait and stay seven (no alert)": {
        "input_series": [s(PENDING, P1, "7x40", queue="unschedulable")],
        "alert_rule_test": [fires("KubeSchedulerPendingPodsGrowing", "30m")],
    },
    # the leader has 3 pods in its active queue and no attempt ever recorded (the standby's 3 do not
    # count): from 0, so 10m later
    "the leader has pods to try and tries none": {
        "input_series": [
            leads(P1, "1x30"),
            leads(P2, "0x30"),
            s(PENDING, P1, "3x30", queue="active"),
            s(PENDING, P2, "3x30", queue="active"),
        ],
        "alert_rule_test": [
            *starts("KubeSchedulerNotScheduling", "9m", "10m", NOT_SCHEDULING),
        ],
    },
    "the leader has pods to try and schedules one a minute (no alert)": {
        "input_series": [
            leads(P1, "1x30"),
            s(PENDING, P1, "3x30", queue="active"),
            s(ATTEMPTS, P1, "0+1x30", result="scheduled", profile=IC),
        ],
        "alert_rule_test": [
            fires("KubeSchedulerNotScheduling", "10m"),
            fires("KubeSchedulerNotScheduling", "20m"),
        ],
    },
    # 6 errors a minute: 0.1/s ("100m" humanized); a rate from 1m on, so firing at 16m
    "attempts end in errors for 15m": {
        "input_series": [
            s(ATTEMPTS, P1, "0+6x40", result="error", profile=IC),
            s(ATTEMPTS, P1, "0+60x40", result="scheduled", profile=IC),
        ],
        "alert_rule_test": [
            *starts("KubeSchedulerSchedulingErrors", "15m", "16m", SCHEDULING_ERRORS),
        ],
    },
    "pods that do not fit are not errors (no alert)": {
        "input_series": [s(ATTEMPTS, P1, "0+6x40", result="unschedulable", profile=IC)],
        "alert_rule_test": [fires("KubeSchedulerSchedulingErrors", "30m")],
    },
    # 100 requests a minute: 1 answered 503 and 1 with no answer ("<error>"): 2 %, above 1 %
    "2 % of a master's API requests fail": {
        "input_series": [
            s(REQUESTS, M1, "0+98x40", code="200", **API),
            s(REQUESTS, M1, "0+1x40", code="503", **API),
            s(REQUESTS, M1, "0+1x40", code="<error>", **API),
        ],
        "alert_rule_test": [
            *starts("KubeSchedulerClientErrors", "15m", "16m", CLIENT_ERRORS),
        ],
    },
    "0.5 % fail (no alert)": {
        "input_series": [
            s(REQUESTS, M1, "0+199x40", code="200", **API),
            s(REQUESTS, M1, "0+1x40", code="503", **API),
        ],
        "alert_rule_test": [fires("KubeSchedulerClientErrors", "30m")],
    },
    # 3 days left: every observation in the (2 d, 4 d] bucket, whose 1st percentile is 2 d + 1 % of
    # 2 d: below 7 days, not below 1 day. Counted from 1m (a rate needs two scrapes): firing at 6m.
    "the reader's certificate has 3 days left": {
        "input_series": certificate_seen(M1, 3 * 86400),
        "alert_rule_test": [
            *starts(
                "KubeSchedulerMetricsReaderCertificateExpiration",
                "5m",
                "6m",
                reader_cert(M1, "warning", "7 days"),
            ),
        ],
    },
    # 10 hours left: the (6 h, 12 h] bucket, under 24 hours too: both severities
    "the reader's certificate has 10 hours left": {
        "input_series": certificate_seen(P1, 10 * 3600),
        "alert_rule_test": [
            fires(
                "KubeSchedulerMetricsReaderCertificateExpiration",
                "6m",
                reader_cert(P1, "warning", "7 days"),
                reader_cert(P1, "critical", "24 hours"),
            ),
        ],
    },
    "the reader's certificate has 300 days left (no alert)": {
        "input_series": certificate_seen(M2, 300 * 86400),
        "alert_rule_test": [fires("KubeSchedulerMetricsReaderCertificateExpiration", "30m")],
    },
}


def test_every_alert_has_a_scenario(pki: Pki) -> None:
    rendered = alerts.rules(load_config(as_raw(base_config(pki) | {"monitoring": {"enabled": True}})))
    named = {r["alert"] for r in rendered if "alert" in r}
    tested = {t["alertname"] for case in TESTS.values() for t in case.get("alert_rule_test", [])}
    firing = {
        t["alertname"] for case in TESTS.values() for t in case.get("alert_rule_test", []) if t["exp_alerts"]
    }
    assert named == tested == firing


def test_promtool_runs_every_scenario_on_the_rendered_rules(pki: Pki, tmp_path: Path) -> None:
    cfg = load_config(as_raw(base_config(pki) | {"monitoring": {"enabled": True}}))
    rules = tmp_path / "kube-scheduler.rules.yml"
    rules.write_text(alerts.rules_yaml(cfg))
    tests = [{"name": name, "interval": "1m", **case} for name, case in TESTS.items()]
    spec = {"rule_files": [rules.name], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    out = subprocess.run(
        [str(promtool()), "test", "rules", "tests.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-3000:]
    assert "SUCCESS" in out.stdout
