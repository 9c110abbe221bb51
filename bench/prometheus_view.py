"""A rolling change of the masters under a steady load, as the lab's Prometheus sees it (README
"Monitoring"). The stack's own monitoring outputs (scrape configuration, rules, the reader's
certificate) start the lab's Prometheus with short scrapes; pods are created at a steady rate for
the masters' scheduler while `up` rolls a flag change through the masters; Prometheus' range
queries then give, per master, `up`, the leader gauge and the pods it scheduled a second.
bench/records.py keeps them, bench/plots.py draws them."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.records import ObservedRecord, observed_record
from components.config import BareMetal
from components.render.monitoring import MASTERS_JOB
from harness import prometheus
from harness.kube import Kube, settled
from harness.lab import dev_config, lab, poll
from harness.stacks import LabStack

SCRAPE_S = 2  # short, so that a restart of a few seconds shows (the stack's default is 30 s)
RATE_WINDOW_S = 4 * SCRAPE_S  # what `rate` needs to see a few scrapes
RATE_PER_S = 20.0  # pods created a second: far under every client-side limit
STEADY_S = 20.0  # load before the change starts and after it ends
# Prometheus' own view, one matrix per panel: the masters' job, by master
QUERIES = {
    "up": f'up{{job="{MASTERS_JOB}"}}',
    "leader": f'leader_election_master_status{{job="{MASTERS_JOB}",name="kube-scheduler"}}',
    "scheduled": "sum by (node) (rate(scheduler_schedule_attempts_total"
    f'{{job="{MASTERS_JOB}",result="scheduled"}}[{RATE_WINDOW_S}s]))',
}


def _steady_load(kube: Kube, create: Callable[[Kube, str, str], None], stop: threading.Event) -> str:
    """Starts creating pods at RATE_PER_S in a namespace of their own until `stop`; its name."""
    ns = f"observed-{uuid.uuid4().hex[:6]}"
    kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    poll(lambda: kube.get(f"/api/v1/namespaces/{ns}/serviceaccounts/default") is not None, 30)

    def run() -> None:
        due, i = time.monotonic(), 0
        while not stop.is_set():
            create(kube, ns, f"p-{i:05d}")
            i += 1
            due += 1 / RATE_PER_S
            time.sleep(max(0.0, due - time.monotonic()))

    threading.Thread(target=run, name="steady-load", daemon=True).start()
    return ns


def rolling_change(kube: Kube, stack: LabStack, create: Callable[[Kube, str, str], None]) -> ObservedRecord:
    """The episode, measured; the stack is left as dev_config() deploys it, Prometheus stopped.
    `create(kube, namespace, name)` creates one pod for the masters' scheduler."""
    cfg = dev_config()
    interval = f"{SCRAPE_S}s"
    cfg["monitoring"] = {"enabled": True, "scrapeInterval": interval, "evaluationInterval": interval}
    stack.apply(cfg)
    settled(kube)
    outputs = {k: v.value for k, v in stack.stack.outputs().items()}
    prom = prometheus.start(outputs)
    stop = threading.Event()
    ns = ""
    try:
        prom.wait("every master up", lambda: len(prom.query(f"{QUERIES['up']} == 1")) == 3, 90)
        start = time.time()
        ns = _steady_load(kube, create, stop)
        time.sleep(STEADY_S)
        cfg["bareMetal"]["verbosity"] = int(cfg["bareMetal"].get("verbosity", BareMetal().verbosity)) + 1
        print(
            f"==> rolling change (bareMetal.verbosity {cfg['bareMetal']['verbosity']}) under load", flush=True
        )
        began = time.time()
        stack.apply(cfg)
        ended = time.time()
        time.sleep(STEADY_S)
        stop.set()
        time.sleep(RATE_WINDOW_S)  # the last rate window, scraped
        end = time.time()
        matrices: dict[str, list[dict[str, Any]]] = {
            name: prom.query_range(expr, start, end, SCRAPE_S / 2) for name, expr in QUERIES.items()
        }
        return observed_record(matrices, start, (began, ended), end, SCRAPE_S)
    finally:
        stop.set()
        if ns:
            kube.request("DELETE", f"/api/v1/namespaces/{ns}")
        lab("prometheus", "stop")
        stack.apply(dev_config())
