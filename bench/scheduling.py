"""Scheduling performance of what we deploy, measured the way kube-scheduler measures itself
(scheduler_perf's throughput and latency figures), on the lab: the bare-metal default-scheduler
(three masters, one leading) and the in-cluster custom scheduler (two replicas on real nodes),
each at three client-side limits (qps/burst) set the way a user sets them (the stack's config and
`up`), on 100 KWOK nodes, three runs each; then the lease holder through failovers and rolling
changes, and a rolling change of the masters under load as the lab's Prometheus sees it
(bench/prometheus_view.py). Writes .bench/scheduling.json and the PNG plots in docs/bench/,
removes everything it created, prints a table and what the figures say.

    python bench/scheduling.py [--pods 1000] [--nodes 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the repository root

from bench.plots import write_plots
from bench.prometheus_view import rolling_change
from bench.records import (
    Results,
    RunRecord,
    case_record,
    load,
    observed_summary,
    recommendations,
    run_record,
    save,
    summary_line,
    table,
)
from components.config import BareMetal, InCluster
from harness.kube import NAME, NS, Kube, settled, timestamp
from harness.lab import ROOT, dev_config, facts, own_lab, pause_image, poll
from harness.ssh import ssh
from harness.stacks import LabStack, Stacks, lab_passphrase
from harness.watch import LeaseWatch, Monitor

DEFAULT = "default-scheduler"
KWOK_TAINT = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
PERF_LABEL = "ksched-perf"
# upstream's defaults, the guides' (docs/sources.md#default-client-rate), one higher
SETTINGS = [(50.0, 100), (100.0, 200), (200.0, 400)]
WORKLOADS = {
    # scheduler_perf's SchedulingBasic: small pods on many nodes
    "basic": {"cpu": "100m", "memory": "100Mi"},
    # bin packing: pods a quarter of a node, where MostAllocated fills nodes one by one
    "binpack": {"cpu": "2", "memory": "4Gi"},
}
NODE_SIZE = {"cpu": "8", "memory": "16Gi", "pods": "110"}
CREATORS = 16  # threads creating pods: about 900 pods/s on this machine with nothing scheduling
PER_NODE = {"binpack": 4}  # binpack pods a node holds
# each scheduler's (qps, burst) as the program deploys it by default
DEFAULTS = {DEFAULT: (BareMetal().qps, BareMetal().burst), NAME: (InCluster().qps, InCluster().burst)}


def make_nodes(kube: Kube, count: int) -> list[str]:
    """KWOK nodes for the benchmark (their own label; tainted like the lab's KWOK workers)."""
    names = [f"perf-{i:03d}" for i in range(count)]

    def create(name: str) -> None:
        kube.request(
            "POST",
            "/api/v1/nodes",
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": {"kubernetes.io/hostname": name, PERF_LABEL: "1", "type": "kwok"},
                    "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                },
                "spec": {"taints": [{"key": KWOK_TAINT["key"], "value": "fake", "effect": "NoSchedule"}]},
                "status": {"allocatable": NODE_SIZE, "capacity": NODE_SIZE},
            },
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, names))

    def all_ready() -> bool:
        nodes = kube.items(f"/api/v1/nodes?labelSelector={PERF_LABEL}%3D1")
        return len(nodes) == count and all(
            any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in n.get("status", {}).get("conditions", [])
            )
            and not any(t["key"] == "node.kubernetes.io/not-ready" for t in n["spec"].get("taints", []))
            for n in nodes
        )

    poll(all_ready, 180, interval=1)
    return names


def remove_nodes(kube: Kube, names: list[str]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: kube.request("DELETE", f"/api/v1/nodes/{n}"), names))


def perf_pod(scheduler: str, requests: dict[str, str]) -> dict[str, Any]:
    """The spec of a benchmark pod: on the perf nodes only, asking for `scheduler`."""
    return {
        "schedulerName": scheduler,
        "nodeSelector": {PERF_LABEL: "1"},
        "tolerations": [KWOK_TAINT],
        "containers": [{"name": "pause", "image": pause_image(), "resources": {"requests": requests}}],
        "terminationGracePeriodSeconds": 0,
    }


def default_pod(kube: Kube, ns: str, name: str) -> None:
    """One small perf pod for the masters' scheduler."""
    spec = perf_pod(DEFAULT, WORKLOADS["basic"])
    kube.request("POST", f"/api/v1/namespaces/{ns}/pods", {"metadata": {"name": name}, "spec": spec})


def one_run(kube: Kube, scheduler: str, pods: int, requests: dict[str, str], qps: float) -> RunRecord:
    """Create `pods` pods as fast as this machine can, wait until all are bound, read when."""
    ns = f"perf-{uuid.uuid4().hex[:6]}"
    kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    poll(lambda: kube.get(f"/api/v1/namespaces/{ns}/serviceaccounts/default") is not None, 30)
    created: dict[str, float] = {}
    local = threading.local()  # one kept-alive connection per thread: a TLS handshake per pod
    host, port = kube.server.removeprefix("https://").rsplit(":", 1)  # would cap creation at ~150/s

    def create(i: int) -> None:
        name = f"p-{i:05d}"
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPSConnection(host, int(port), context=kube.context, timeout=30)
        body = json.dumps({"metadata": {"name": name}, "spec": perf_pod(scheduler, requests)})
        local.conn.request(
            "POST", f"/api/v1/namespaces/{ns}/pods", body, {"Content-Type": "application/json"}
        )
        resp = local.conn.getresponse()
        if resp.status != 201:
            raise RuntimeError(f"creating {ns}/{name}: {resp.status} {resp.read()[:300]!r}")
        resp.read()
        created[name] = time.time()

    start = time.time()
    with ThreadPoolExecutor(CREATORS) as pool:
        list(pool.map(create, range(pods)))
    created_in = time.time() - start

    def all_bound() -> bool:
        items = kube.items(f"/api/v1/namespaces/{ns}/pods", timeout=30)
        return sum(bool(p["spec"].get("nodeName")) for p in items) == pods

    poll(all_bound, 600, interval=0.5)
    # the scheduler's Scheduled event carries a MicroTime: sub-second binding times
    events = kube.items(f"/apis/events.k8s.io/v1/namespaces/{ns}/events", timeout=60)
    bound = {
        e["regarding"]["name"]: timestamp(e["eventTime"])
        for e in events
        if e.get("reason") == "Scheduled" and e.get("eventTime")
    }
    fallback = 0
    if len(bound) < pods:  # an event the broadcaster dropped: the condition's time (seconds)
        for p in kube.items(f"/api/v1/namespaces/{ns}/pods", timeout=30):
            name = p["metadata"]["name"]
            if name not in bound:
                cond = next(c for c in p["status"]["conditions"] if c["type"] == "PodScheduled")
                bound[name] = timestamp(cond["lastTransitionTime"])
                fallback += 1
    nodes_used = len({p["spec"]["nodeName"] for p in kube.items(f"/api/v1/namespaces/{ns}/pods", timeout=30)})
    kube.request("DELETE", f"/api/v1/namespaces/{ns}")
    poll(lambda: kube.get(f"/api/v1/namespaces/{ns}") is None, 300, interval=1)
    return run_record(
        created, bound, start, qps, created_in=created_in, nodes_used=nodes_used, from_conditions=fallback
    )


def set_limits(stack: LabStack, kube: Kube, scheduler: str, qps: float, burst: int) -> None:
    """As a user would: the stack's config, then `up` (masters roll, or the Deployment rolls)."""
    cfg = dev_config()
    key = "bareMetal" if scheduler == DEFAULT else "inCluster"
    cfg[key]["qps"], cfg[key]["burst"] = qps, burst
    stack.configure(cfg)
    stack.up()
    settled(kube)
    poll(lambda: bool(kube.holder("kube-scheduler")), 60)


def lease_timelines(kube: Kube, stack: LabStack) -> dict[str, list[tuple[float, str]]]:
    """The lease holder over time: a graceful failover and a rolling change on the masters; a
    deleted leader pod and a ConfigMap rollout for the in-cluster replicas."""
    cfg = dev_config()

    def stop_leader() -> None:
        leader = kube.holder("kube-scheduler").split("_", 1)[0]
        ssh(leader, "systemctl stop kube-scheduler.service")
        time.sleep(8)
        ssh(leader, "systemctl start kube-scheduler.service")
        time.sleep(4)

    def delete_leader_pod() -> None:
        old = kube.holder(NAME).split("_", 1)[0]
        kube.request("DELETE", f"/api/v1/namespaces/{NS}/pods/{old}")
        time.sleep(10)

    def roll(key: str) -> Callable[[], None]:
        def change() -> None:
            cfg[key]["verbosity"] = 3
            stack.configure(cfg)
            stack.up()

        return change

    episodes: list[tuple[str, type[Monitor] | type[LeaseWatch], Callable[[], None]]] = [
        ("masters: leader stopped", Monitor, stop_leader),
        ("masters: rolling change", Monitor, roll("bareMetal")),
        ("in-cluster: leader pod deleted", LeaseWatch, delete_leader_pod),
        ("in-cluster: ConfigMap rollout", LeaseWatch, roll("inCluster")),
    ]
    out: dict[str, list[tuple[float, str]]] = {}
    for title, watcher, action in episodes:
        with watcher(kube) as watch:
            time.sleep(2)
            action()
            time.sleep(2)
        out[title] = watch.timeline()
    stack.apply(dev_config())
    return out


def binpack_pods(nodes: int) -> int:
    """Three quarters of what the perf nodes hold of the bin-packing pods: they fit on fewer nodes
    than there are, so a packing scheduler leaves some empty and a spreading one does not."""
    return nodes * PER_NODE["binpack"] * 3 // 4


def measure(a: argparse.Namespace) -> Results:
    kube = Kube.admin()
    results: Results = {"pods": a.pods, "nodes": a.nodes, "runs": a.runs, "cases": [], "leases": {}}

    def case(scheduler: str, qps: float, burst: int, workload: str, pods: int) -> None:
        runs = [one_run(kube, scheduler, pods, WORKLOADS[workload], qps) for _ in range(a.runs)]
        c = case_record(scheduler, qps, burst, workload, pods, runs, PER_NODE.get(workload))
        results["cases"].append(c)
        print(summary_line(c), flush=True)

    with Stacks() as stacks:
        stack = stacks("perf")
        stack.up()
        settled(kube)
        nodes = make_nodes(kube, a.nodes)
        try:
            for scheduler, default in ((DEFAULT, DEFAULTS[DEFAULT]), (NAME, DEFAULTS[NAME])):
                for qps, burst in SETTINGS:
                    set_limits(stack, kube, scheduler, qps, burst)
                    case(scheduler, qps, burst, "basic", a.pods)
                set_limits(stack, kube, scheduler, *default)
                case(scheduler, *default, "binpack", binpack_pods(a.nodes))
            results["leases"] = lease_timelines(kube, stack)
            results["observed"] = rolling_change(kube, stack, default_pod)
        finally:
            remove_nodes(kube, nodes)
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--replot", action="store_true", help="plot and report the last results, measure nothing")
    a = ap.parse_args()
    out = ROOT / ".bench" / "scheduling.json"
    if a.replot:
        results = load(out)
    else:
        with own_lab(), lab_passphrase():
            results = measure(a)
            results["k8s_version"] = facts()["k8s_version"]
        save(results, out)
    for path in write_plots(results, ROOT / "docs" / "bench"):
        print(f"plot: {path.relative_to(ROOT)}")
    print("\n".join(table(results)))
    print("\n".join(recommendations(results, {name: qps for name, (qps, _) in DEFAULTS.items()})))
    if "observed" in results:
        print("\n".join(observed_summary(results["observed"])))
    print(f"figures in {out.relative_to(ROOT)} (Kubernetes {results.get('k8s_version', '?')})")


if __name__ == "__main__":
    main()
