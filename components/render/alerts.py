"""The alert rules for both paths, as data (a Prometheus rules file): what each alert means and why
it fires is in docs/monitoring.md. Names, labels and annotations in the style of the
kubernetes-mixin (https://github.com/kubernetes-monitoring/kubernetes-mixin): CamelCase `Kube*`
names, a `severity` label, `summary` and `description` annotations.

Facts of kube-scheduler the expressions lean on (its source, 1.29 and 1.37):
- `leader_election_master_status` is 1 on the instance that holds the lease and 0 on the others;
  its `name` label is "kube-scheduler" on both paths whatever the Lease is called, so the paths are
  told apart by `job`. A leader that cannot renew within renewDeadline sets it to 0 and exits: an
  instance that reports 1 renewed its lease within the last renewDeadline.
- Standbys run their informers, so their queue holds every pending pod too, and only the leader
  records attempts: aggregate pending pods with max over instances, never sum.
- No metric carries a scheduler's serving-certificate expiry, nor a Lease's renew time (that is
  kube-state-metrics', not run here): see docs/monitoring.md for what is left out and why.
"""

from __future__ import annotations

from typing import Any

from components.config.resolve import StackConfig
from components.render.monitoring import jobs
from components.render.yamltext import dump

GROUP = "kubernetes-system-scheduler"  # the mixin's group for its scheduler alert
PENDING_RECORD = "job:scheduler_pending_pods:max"
# The mixin's KubeClientCertificateExpiration: 7 days (warning), 24 hours (critical); both are
# bucket bounds of apiserver_client_certificate_expiration_seconds, so the quantile is not guessed.
READER_CERT_LEFT_S = {"warning": 7 * 86400, "critical": 86400}


def selector(job_names: list[str]) -> str:
    return f'job="{job_names[0]}"' if len(job_names) == 1 else f'job=~"{"|".join(job_names)}"'


def _alert(name: str, expr: str, wait: str, severity: str, summary: str, description: str) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": wait,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "description": description},
    }


def rules(cfg: StackConfig) -> list[dict[str, Any]]:
    """The recording rule first, then the alerts: rules of a group run in order, so an alert reads
    this evaluation's recorded value."""
    a, names = cfg.monitoring.alerts, jobs(cfg)
    j = selector(names)
    absent = "".join(f'\nor absent(up{{job="{name}"}})' for name in names)
    out: list[dict[str, Any]] = [
        {
            # Pods waiting for the scheduler, per instance all queues but "gated" (waiting for their
            # schedulingGates by design) and "incomplete" (1.37 pod groups still missing members).
            "record": PENDING_RECORD,
            "expr": "max by (job) (sum by (job, instance) "
            f'(scheduler_pending_pods{{{j}, queue!~"gated|incomplete"}}))',
        },
        # Not the mixin's absent(up{...} == 1): absent() of an expression loses the job label.
        _alert(
            "KubeSchedulerDown",
            f"sum by (job) (up{{{j}}}) == 0{absent}",
            a.down_for,
            "critical",
            "No instance of a kube-scheduler path can be scraped.",
            f"No instance of {{{{ $labels.job }}}} has been scraped for {a.down_for}: the pods that ask "
            "for it are not scheduled, or nothing watches them.",
        ),
        _alert(
            "KubeSchedulerInstanceDown",
            f"up{{{j}}} == 0",
            a.instance_down_for,
            "warning",
            "A kube-scheduler instance cannot be scraped.",
            f"{{{{ $labels.job }}}} instance {{{{ $labels.instance }}}} has failed its scrapes for "
            f"{a.instance_down_for}: its path has lost redundancy, or the scraper its access.",
        ),
        _alert(
            "KubeSchedulerNoLeader",
            f"max by (job) (leader_election_master_status{{{j}}}) == 0",
            a.no_leader_for,
            "critical",
            "No kube-scheduler instance holds its lease.",
            f"No scraped instance of {{{{ $labels.job }}}} has held and renewed its lease for "
            f"{a.no_leader_for}: nothing of this path is scheduled.",
        ),
        _alert(
            "KubeSchedulerMultipleLeaders",
            f"sum by (job) (leader_election_master_status{{{j}}}) > 1",
            a.no_leader_for,
            "warning",
            "More than one kube-scheduler instance says it leads.",
            "{{ $value }} instances of {{ $labels.job }} report holding the lease: they do not share "
            "one Lease.",
        ),
        _alert(
            "KubeSchedulerPendingPodsGrowing",
            f"{PENDING_RECORD} > 0 and deriv({PENDING_RECORD}[{a.pending_pods_for}]) > 0",
            a.pending_pods_for,
            "warning",
            "Pods waiting for a kube-scheduler keep growing.",
            f"{{{{ $value }}}} pods wait for {{{{ $labels.job }}}}, more and more for {a.pending_pods_for}.",
        ),
        _alert(
            "KubeSchedulerNotScheduling",
            f"sum by (job) (\n"
            f'  scheduler_pending_pods{{{j}, queue="active"}}\n'
            f"  * on (job, instance) group_left () (leader_election_master_status{{{j}}} == 1)\n"
            f") > 0\n"
            f"unless on (job)\n"
            f"sum by (job) (rate(scheduler_schedule_attempts_total{{{j}}}[{a.not_scheduling_for}])) > 0",
            a.not_scheduling_for,
            "critical",
            "The leading kube-scheduler has pods to try and tries none.",
            f"The leader of {{{{ $labels.job }}}} has had pods ready to schedule and made no attempt for "
            f"{a.not_scheduling_for}.",
        ),
        _alert(
            "KubeSchedulerSchedulingErrors",
            f'sum by (job, profile) (rate(scheduler_schedule_attempts_total{{{j}, result="error"}}[5m])) > 0',
            a.scheduling_errors_for,
            "warning",
            "Scheduling attempts end in errors.",
            f"Profile {{{{ $labels.profile }}}} of {{{{ $labels.job }}}} has ended attempts in an error "
            f"(not for lack of room) for {a.scheduling_errors_for}: "
            "{{ $value | humanize }} per second.",
        ),
        _alert(
            "KubeSchedulerClientErrors",
            f"(\n"
            f'  sum by (job, instance) (rate(rest_client_requests_total{{{j}, code=~"5..|<error>"}}[5m]))\n'
            f"/\n"
            f"  sum by (job, instance) (rate(rest_client_requests_total{{{j}}}[5m]))\n"
            f") > {a.client_error_ratio:g}",
            a.client_errors_for,
            "warning",
            "A kube-scheduler's requests to the API server fail.",
            "{{ $value | humanizePercentage }} of the API requests of {{ $labels.job }} instance "
            "{{ $labels.instance }} end in a 5xx status or no answer.",
        ),
    ]
    # The client certificate a scraper presents, as the scheduler's authenticator measures it;
    # nothing else sends client certificates to a scheduler's port. The mixin's
    # KubeClientCertificateExpiration, on the schedulers.
    for severity, left_s in READER_CERT_LEFT_S.items():
        days = "7 days" if left_s == 7 * 86400 else "24 hours"
        series = f"apiserver_client_certificate_expiration_seconds_bucket{{{j}}}"
        out.append(
            _alert(
                "KubeSchedulerMetricsReaderCertificateExpiration",
                f"apiserver_client_certificate_expiration_seconds_count{{{j}}} > 0\n"
                f"and on (job, instance)\n"
                f"histogram_quantile(0.01, sum by (job, instance, le) (rate({series}[5m]))) < {left_s}",
                "5m",
                severity,
                f"The metrics reader's certificate expires within {days}.",
                "A client certificate presented to {{ $labels.job }} instance {{ $labels.instance }} "
                f"(the metrics reader's) expires within {days}: `make up` renews it, then give the "
                "scraper the new one.",
            )
        )
    return out


def rules_file(cfg: StackConfig) -> dict[str, Any]:
    return {"groups": [{"name": GROUP, "rules": rules(cfg)}]}


def rules_yaml(cfg: StackConfig) -> str:
    return dump(rules_file(cfg))
