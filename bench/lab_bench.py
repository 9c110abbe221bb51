"""Lab benchmarks: failover gaps, rolling change vs the HA guide's restart-all
(docs/sources.md#defect-restart-all), scheduling latency, `up`/`preview` wall times and warm
`lab-up`. Restarts the lab fresh and takes it down at the end.

    python bench/lab_bench.py [--runs 5] [--pods 50]

Writes .bench/lab.json and prints a table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the repository root

from harness.kube import NAME, NS, Kube, settled
from harness.lab import (
    MASTERS,
    ROOT,
    dev_config,
    facts,
    healthz,
    lab,
    master_ip,
    own_lab,
    poll,
    write_figures,
)
from harness.ssh import ssh, ssh_argv
from harness.stacks import LabStack, Stacks, changes, kill_cli, lab_passphrase, make_up, run_printed_command
from harness.watch import CRASH_FAILOVER_BOUND_S, LeaseWatch, Monitor, takeover


def timed(fn: Any) -> tuple[Any, float]:
    start = time.monotonic()
    result = fn()
    return result, time.monotonic() - start


def leader(kube: Kube) -> str:
    poll(lambda: bool(kube.holder("kube-scheduler")), 30)
    return kube.holder("kube-scheduler").split("_", 1)[0]


def all_healthy() -> bool:
    return all(healthz(master_ip(m)) for m in MASTERS)


def failover(kube: Kube, how: str) -> float:
    """Seconds from stopping/killing the leader until another process holds the lease (a standby,
    or after a kill possibly the old master restarted)."""
    old, holder = leader(kube), kube.holder("kube-scheduler")
    command = {
        "stop": "systemctl stop kube-scheduler.service",
        "kill": "kill -KILL $(systemctl show -p MainPID --value kube-scheduler.service)",
    }[how]
    start = time.monotonic()
    ssh(old, command)
    takeover(kube, "kube-scheduler", holder, 30)
    gap = time.monotonic() - start
    if how == "stop":
        ssh(old, "systemctl start kube-scheduler.service")
    poll(all_healthy, 60, interval=0.2)
    return gap


def killed_and_recovered(stack: LabStack) -> None:
    """`make up` with its CLI killed during master-2's restart, then the command it names and
    `make up` again: the whole interrupted rolling change, until converged."""
    killed: list[bool] = []

    def kill(line: str, proc: subprocess.Popen[str]) -> None:
        if "masters-master-2-service updating" in line and not killed:
            time.sleep(3)
            kill_cli(proc)
            killed.append(True)

    make_up(stack, kill)
    _, told = make_up(stack)
    assert run_printed_command(told, stack).returncode == 0, told[-1000:]
    rc, out = make_up(stack)
    assert rc == 0, out[-2000:]


def naive_restart_all() -> None:
    """The HA guide's way (docs/sources.md#defect-restart-all), without even its loop's pauses:
    every master restarted at once over SSH, no health check in between."""
    with ThreadPoolExecutor(len(MASTERS)) as pool:
        list(pool.map(lambda m: ssh(m, "systemctl restart kube-scheduler.service"), MASTERS))
    poll(all_healthy, 60, interval=0.1)


def upgrade_figures(kube: Kube, stacks: Stacks) -> dict[str, Any]:
    """Masters at the previous minor upgraded to the lab's: ours (one master at a time, each
    health-gated) beside the same change applied to all masters at once."""
    old, new = "v1.36.3", facts()["k8s_version"]
    old_bin = Path(facts()["cache_dir"]) / "k8s" / old / "bin" / "kube-scheduler"
    if not old_bin.exists():
        env = {**os.environ, "K8S_VERSION": old}
        subprocess.run(["bash", str(ROOT / "lab/build.sh"), "kube-scheduler"], env=env, check=True)
    stack = stacks("bench-upgrade")

    def at(version: str, binary: str | None) -> dict[str, Any]:
        cfg = dev_config()
        cfg["kubernetesVersion"] = version.removeprefix("v")
        cfg["inCluster"] = {"enabled": False}
        if binary:
            cfg["bareMetal"]["binary"] = {"localFile": binary}
        return cfg

    out: dict[str, Any] = {}
    stack.apply(at(old, str(old_bin)))
    stack.configure(at(new, None))
    with Monitor(kube) as ours:
        _, total = timed(stack.up)
    out["ours"] = {"total_s": total, "leaderless_s": ours.longest_leaderless, "max_down": ours.max_down}
    stack.apply(at(old, str(old_bin)))
    binary = Path(facts()["binaries"]["kube-scheduler"]).read_bytes()

    def naive(m: str) -> None:  # the guides' way (docs/sources.md#defect-restart-all): all at once
        subprocess.run(
            [
                *ssh_argv(m),
                "cat > /usr/local/bin/kube-scheduler.new && chmod 755 /usr/local/bin/kube-scheduler.new"
                " && mv -f /usr/local/bin/kube-scheduler.new /usr/local/bin/kube-scheduler"
                " && systemctl restart kube-scheduler.service",
            ],
            input=binary,
            check=True,
        )

    with Monitor(kube) as all_at_once:
        start = time.monotonic()
        with ThreadPoolExecutor(len(MASTERS)) as pool:
            list(pool.map(naive, MASTERS))
        poll(all_healthy, 60, interval=0.1)
        naive_total = time.monotonic() - start
    out["restart_all"] = {
        "total_s": naive_total,
        "leaderless_s": all_at_once.longest_leaderless,
        "max_down": all_at_once.max_down,
    }
    return out


def latency(kube: Kube, count: int, scheduler: str | None) -> list[float]:
    out = []
    for _ in range(count):
        name = f"bench-{uuid.uuid4().hex[:8]}"
        kube.create_pod(name, scheduler=scheduler)
        start = time.monotonic()

        def bound(n: str = name) -> bool:
            return bool((kube.pod(n) or {}).get("spec", {}).get("nodeName"))

        poll(bound, 30, interval=0.01)
        out.append(time.monotonic() - start)
        kube.delete_pod(name)
    return out


def incluster_failover(kube: Kube, how: str) -> float:
    """Seconds without a leader (the old leader's last renewal to the new one's acquisition) when
    the leader pod is deleted or its node stops (in the background: the lease expires meanwhile)."""
    identity = kube.holder(NAME)
    holder = identity.split("_", 1)[0]
    pod = next(p for p in settled(kube) if p["metadata"]["name"] == holder)
    node = pod["spec"]["nodeName"]
    stopping = threading.Thread(target=lab, args=("stop-node", node), kwargs={"timeout": 300})
    if how == "delete":
        kube.request("DELETE", f"/api/v1/namespaces/{NS}/pods/{holder}")
    else:
        stopping.start()
    gap = takeover(kube, NAME, identity, 60)[1]
    if how == "node":
        stopping.join()
        lab("start-node", node, timeout=300)
    settled(kube)
    return gap


def incluster_figures(kube: Kube, stack: LabStack, runs: int) -> dict[str, Any]:
    """The custom scheduler on real nodes: failover when its leader pod is deleted or its node
    stops, and a ConfigMap change rolled through the Deployment."""
    settled(kube)
    out: dict[str, Any] = {
        "pod_delete_failover_s": [incluster_failover(kube, "delete") for _ in range(runs)],
        "node_stop_failover_s": [incluster_failover(kube, "node") for _ in range(max(1, runs // 2))],
    }
    cfg = dev_config()
    cfg["inCluster"]["qps"] = 125
    stack.configure(cfg)
    with LeaseWatch(kube) as watch:
        _, total = timed(stack.up)
    out["rollout"] = {
        "total_s": total,
        "leaderless_s": watch.longest_leaderless,
        "min_ready": watch.min_ready,
    }
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pods", type=int, default=50)
    a = ap.parse_args()
    results: dict[str, Any] = {}
    with own_lab(), lab_passphrase():  # builds and first boot, not timed
        lab("down")
        _, results["warm_lab_up_s"] = timed(lambda: lab("up"))
        measure(results, a)
    report(results, write_figures("lab", results))


def measure(results: dict[str, Any], a: argparse.Namespace) -> None:
    kube = Kube.admin()
    with Stacks() as stacks:
        stack = stacks("bench")
        _, results["preview_s"] = timed(stack.preview)
        _, results["first_up_s"] = timed(stack.up)
        noop, results["noop_up_s"] = timed(stack.up)
        results["noop_up_changes"] = changes(noop)
        results["graceful_failover_s"] = [failover(kube, "stop") for _ in range(a.runs)]
        results["crash_failover_s"] = [failover(kube, "kill") for _ in range(a.runs)]
        cfg = dev_config()
        cfg["bareMetal"]["qps"] = 75
        stack.configure(cfg)
        with Monitor(kube) as ours:
            _, ours_total = timed(stack.up)
        with Monitor(kube) as naive:
            _, naive_total = timed(naive_restart_all)
        cfg["bareMetal"]["qps"] = 90
        stack.configure(cfg)
        with Monitor(kube) as killed:
            _, killed_total = timed(lambda: killed_and_recovered(stack))
        results["rolling"] = {
            "ours": {
                "total_s": ours_total,
                "leaderless_s": ours.longest_leaderless,
                "max_down": ours.max_down,
            },
            "naive": {
                "total_s": naive_total,
                "leaderless_s": naive.longest_leaderless,
                "max_down": naive.max_down,
            },
            "killed": {
                "total_s": killed_total,
                "leaderless_s": killed.longest_leaderless,
                "max_down": killed.max_down,
            },
        }
        results["latency_default_s"] = latency(kube, a.pods, None)
        results["latency_custom_s"] = latency(kube, a.pods, "custom-k8s-scheduler")
        results["incluster"] = incluster_figures(kube, stack, a.runs)
        stack.destroy()  # the upgrade starts from masters with nothing of ours
        results["upgrade"] = upgrade_figures(kube, stacks)


def report(results: dict[str, Any], out: Path) -> None:
    med = statistics.median
    r = results["rolling"]
    rows = [
        ("warm lab-up", f"{results['warm_lab_up_s']:.1f} s", "< 60 s"),
        ("preview (dev-like stack, fresh)", f"{results['preview_s']:.1f} s", ""),
        ("first up", f"{results['first_up_s']:.1f} s", ""),
        ("no-op up", f"{results['noop_up_s']:.1f} s, changes {results['noop_up_changes']}", "0 commands"),
        ("graceful failover, median", f"{med(results['graceful_failover_s']):.2f} s", "<= 3 s"),
        ("crash failover (SIGKILL), median", f"{med(results['crash_failover_s']):.2f} s", "<= 17 s"),
        (
            "rolling change: ours",
            f"leaderless {r['ours']['leaderless_s']:.2f} s, total {r['ours']['total_s']:.1f} s, "
            f"max down {r['ours']['max_down']}",
            "<= 3 s",
        ),
        (
            "rolling change: naive restart-all",
            f"leaderless {r['naive']['leaderless_s']:.2f} s, total {r['naive']['total_s']:.1f} s, "
            f"max down {r['naive']['max_down']}",
            "",
        ),
        (
            "rolling change, CLI killed (SIGKILL) in master-2's restart, then what make up says",
            f"leaderless {r['killed']['leaderless_s']:.2f} s, total {r['killed']['total_s']:.1f} s "
            f"(with the recovery), max down {r['killed']['max_down']}",
            "",
        ),
        (
            "latency default scheduler",
            f"median {med(results['latency_default_s']) * 1000:.0f} ms, "
            f"p95 {p95(results['latency_default_s']) * 1000:.0f} ms",
            "",
        ),
        (
            "in-cluster failover, leader pod deleted, median",
            f"{med(results['incluster']['pod_delete_failover_s']):.2f} s",
            "< 15 s (released, not expired)",
        ),
        (
            "in-cluster failover, leader's node stopped, median",
            f"{med(results['incluster']['node_stop_failover_s']):.2f} s",
            f"<= {CRASH_FAILOVER_BOUND_S:.1f} s (lease + 2 jittered retries)",
        ),
        (
            "in-cluster ConfigMap rollout",
            f"total {results['incluster']['rollout']['total_s']:.1f} s, leaderless "
            f"{results['incluster']['rollout']['leaderless_s']:.2f} s, "
            f"min Ready {results['incluster']['rollout']['min_ready']}",
            "",
        ),
        (
            "upgrade v1.36.3 -> lab's version: ours",
            f"leaderless {results['upgrade']['ours']['leaderless_s']:.2f} s, total "
            f"{results['upgrade']['ours']['total_s']:.1f} s, "
            f"max down {results['upgrade']['ours']['max_down']}",
            "",
        ),
        (
            "upgrade, same change to all masters at once",
            f"leaderless {results['upgrade']['restart_all']['leaderless_s']:.2f} s, total "
            f"{results['upgrade']['restart_all']['total_s']:.1f} s, "
            f"max down {results['upgrade']['restart_all']['max_down']}",
            "",
        ),
        (
            "latency custom scheduler",
            f"median {med(results['latency_custom_s']) * 1000:.0f} ms, "
            f"p95 {p95(results['latency_custom_s']) * 1000:.0f} ms",
            "",
        ),
    ]
    width = max(len(k) for k, _, _ in rows)
    for k, v, target in rows:
        print(f"{k:<{width}}  {v}  {('target ' + target) if target else ''}")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
