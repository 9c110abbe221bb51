"""The in-cluster scheduler as a kubelet runs it: real nodes, a locally built image, the restricted
security context in force inside the process, probes, restarts, failover, rollout, drain, and
placement by MostAllocated compared with the default scheduler on the same workload.

One dev-like stack for the module; each test starts from it deployed at the dev config
(`deployed`), and leaves the cluster's nodes as it found them.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from typing import Any

import pytest

from harness.kube import NAME, NS, ApiError, Kube, config_map_path, most_allocated_nodes, ready, settled
from harness.lab import LAB, dev_config, facts, lab, poll
from harness.ssh import ssh
from harness.stacks import LabStack, Stacks
from harness.watch import CRASH_FAILOVER_BOUND_S, RELEASE_FAILOVER_BOUND_S, LeaseWatch, takeover

pytestmark = pytest.mark.lab

CONFIG_FLAG = f"--config=/etc/kubernetes/{NAME}/config.yaml"


@pytest.fixture(scope="module")
def stack(module_stacks: Stacks) -> LabStack:
    return module_stacks("nodes")  # `up` waits for the Deployment and the sample pod


def leader_pod(kube: Kube) -> dict[str, Any]:
    """The replica holding the lease, once both replicas are Ready and one of them leads."""
    found: list[dict[str, Any]] = []

    def leads() -> bool:
        holder = kube.holder(NAME).split("_", 1)[0]
        found[:] = [p for p in settled(kube) if p["metadata"]["name"] == holder]
        return len(found) == 1

    poll(leads, 60, interval=0.5)
    return found[0]


def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [facts()["binaries"]["kubectl"], "--kubeconfig", str(LAB / "admin.kubeconfig"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=check,
    )


def scheduler_process(node: str, pod_uid: str) -> str:
    """The pid, on its node, of the kube-scheduler container of that pod."""
    pids = ssh(node, f"pgrep -f -- '{CONFIG_FLAG}'").split()
    for pid in pids:
        if f"pod{pod_uid}" in ssh(node, f"cat /proc/{pid}/cgroup"):  # cgroupfs driver paths
            return pid
    raise AssertionError(f"no kube-scheduler of pod {pod_uid} on {node} among {pids}")


# ------------------------------------------------------------------ the pod as it runs


def test_pods_run_on_real_nodes_from_the_locally_built_image(deployed: LabStack, kube: Kube) -> None:
    real = {n["name"] for n in facts()["nodes"]}
    pods = settled(kube)
    assert {p["spec"]["nodeName"] for p in pods} <= real
    for p in pods:
        (status,) = p["status"]["containerStatuses"]
        assert status["image"] == f"registry.k8s.io/kube-scheduler:{facts()['k8s_version']}"
        assert status["ready"] and "running" in status["state"]
    # the program's manifests name only images the lab built (no lab-only names)
    names = {c["image"] for p in pods for c in p["spec"]["containers"]}
    sample = kube.pod("custom-k8s-scheduler-sample") or {}
    names |= {c["image"] for c in sample["spec"]["containers"]}
    assert names <= set(facts()["images"]), names
    assert sample["status"]["phase"] == "Running" and sample["spec"]["nodeName"] in real


def test_restricted_context_is_in_force_inside_the_process(deployed: LabStack, kube: Kube) -> None:
    for p in settled(kube):
        node, uid = p["spec"]["nodeName"], p["metadata"]["uid"]
        pid = scheduler_process(node, uid)
        status = dict(
            line.split(":\t", 1)
            for line in ssh(node, f"cat /proc/{pid}/status").splitlines()
            if ":\t" in line
        )
        assert status["Uid"].split() == ["65532"] * 4, status["Uid"]
        assert status["Gid"].split() == ["65532"] * 4, status["Gid"]
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(status[cap], 16) == 0, (cap, status[cap])
        assert status["NoNewPrivs"].strip() == "1"
        assert status["Seccomp"].strip() == "2"  # a filter (RuntimeDefault)
        root = [
            m.split() for m in ssh(node, f"cat /proc/{pid}/mountinfo").splitlines() if m.split()[4] == "/"
        ]
        assert root and "ro" in root[0][5].split(","), root
        print(f"\n{p['metadata']['name']} on {node}: pid {pid}, uid 65532, no capabilities, seccomp 2, ro /")


def test_probes_pass_and_logs_and_exec_go_through_the_api_server(deployed: LabStack, kube: Kube) -> None:
    pod = leader_pod(kube)
    container = pod["spec"]["containers"][0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["scheme"] == "HTTPS"
    assert ready(pod)
    name = pod["metadata"]["name"]
    assert f'"Successfully acquired lease" lock="{NS}/{NAME}"' in kubectl("-n", NS, "logs", name).stdout
    version = kubectl("-n", NS, "exec", name, "--", "kube-scheduler", "--version").stdout.strip()
    assert version == f"Kubernetes {facts()['k8s_version']}"
    # it reached the API server (it leads) through the `kubernetes` Service, as any pod does
    node = pod["spec"]["nodeName"]
    pid = scheduler_process(node, pod["metadata"]["uid"])
    env = dict(
        v.split("=", 1) for v in ssh(node, f"tr '\\0' '\\n' < /proc/{pid}/environ").splitlines() if "=" in v
    )
    assert env["KUBERNETES_SERVICE_HOST"] == facts()["api_server"]["kubernetes_service_ip"]


def test_a_killed_container_is_restarted_by_the_kubelet(deployed: LabStack, kube: Kube) -> None:
    pod = settled(kube)[0]
    name, node = pod["metadata"]["name"], pod["spec"]["nodeName"]
    restarts = pod["status"]["containerStatuses"][0]["restartCount"]
    ssh(node, f"kill -9 {scheduler_process(node, pod['metadata']['uid'])}")

    def restarted() -> bool:
        p = kube.pod(name, NS) or {}
        statuses = p.get("status", {}).get("containerStatuses", [{}])
        return statuses[0].get("restartCount", 0) > restarts and ready(p)

    seconds = poll(restarted, 120, interval=0.5)
    print(f"\n{name}: killed on {node}, restarted by the kubelet and Ready after {seconds:.1f}s")


# ------------------------------------------------------------------ failover


def new_holder_after(kube: Kube, old: str, timeout: float) -> float:
    return poll(lambda: kube.holder(NAME).split("_", 1)[0] not in ("", old), timeout, interval=0.05)


def test_failover_when_the_leader_pod_is_deleted(deployed: LabStack, kube: Kube) -> None:
    old = leader_pod(kube)["metadata"]["name"]
    start = time.monotonic()
    kube.request("DELETE", f"/api/v1/namespaces/{NS}/pods/{old}")
    gap = new_holder_after(kube, old, 30)
    print(f"\nleader pod deleted: new holder after {gap:.2f}s (+{time.monotonic() - start - gap:.2f}s)")
    # The kubelet's SIGTERM makes the leader release the lease: a standby takes it on a retry,
    # well before the lease could have expired (15 s, what a crash costs).
    assert gap < 15
    settled(kube)


def test_failover_when_the_leader_node_stops(deployed: LabStack, kube: Kube) -> None:
    node, holder = leader_pod(kube)["spec"]["nodeName"], kube.holder(NAME)
    # the node goes down in the background: its kubelet stops, its containers die, it powers off
    stopping = threading.Thread(target=lab, args=("stop-node", node), kwargs={"timeout": 300})
    stopping.start()
    try:
        waited, leaderless = takeover(kube, NAME, holder, 60)
        print(f"\nnode {node} stopped: new holder after {waited:.2f}s, leaderless {leaderless:.2f}s")
        assert leaderless <= CRASH_FAILOVER_BOUND_S
    finally:
        stopping.join()
        lab("start-node", node, timeout=300)
    settled(kube)


# ------------------------------------------------------------------ rollout and drain


def test_a_config_change_rolls_the_pods_one_at_a_time(deployed: LabStack, kube: Kube) -> None:
    before = {p["metadata"]["name"] for p in settled(kube)}
    cfg = dev_config()
    cfg["inCluster"]["qps"] = 120
    start = time.monotonic()
    with LeaseWatch(kube) as watch:
        deployed.apply(cfg)
    took = time.monotonic() - start
    after = settled(kube)
    assert before.isdisjoint(p["metadata"]["name"] for p in after), "the pods were not replaced"
    config = kube.read(config_map_path(kube))["data"]["config.yaml"]
    assert "qps: 120.0" in config
    min_ready, gap = watch.min_ready, watch.longest_leaderless
    print(
        f"\nConfigMap change: rolled in {took:.1f}s, at least {min_ready} replica Ready, "
        f"longest leaderless {gap:.2f}s"
    )
    assert min_ready >= 1  # maxUnavailable 1, maxSurge 0: one at a time
    # the leader's replacement releases the lease; a standby takes it within a retry period
    assert gap <= RELEASE_FAILOVER_BOUND_S


def evict(kube: Kube, pod: str) -> None:
    kube.request(
        "POST",
        f"/api/v1/namespaces/{NS}/pods/{pod}/eviction",
        {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": NS}},
    )


def cordon(kube: Kube, node: str, on: bool) -> None:
    kube.patch(f"/api/v1/nodes/{node}", {"spec": {"unschedulable": on or None}})


def test_a_node_drain_honours_the_disruption_budget(deployed: LabStack, kube: Kube) -> None:
    pods = settled(kube)
    real = [n["name"] for n in facts()["nodes"]]
    a, b = sorted(pods, key=lambda p: p["spec"]["nodeName"])
    spare = [n for n in real if n not in (a["spec"]["nodeName"], b["spec"]["nodeName"])]
    try:
        # no room for a replacement anywhere: the evicted replica stays Pending
        for n in [a["spec"]["nodeName"], *spare]:
            cordon(kube, n, True)
        evict(kube, a["metadata"]["name"])
        with pytest.raises(ApiError, match=r"429.*disruption budget"):
            evict(kube, b["metadata"]["name"])
        assert kube.pod(b["metadata"]["name"], NS) is not None
        # the replica the budget kept leads (at once, or a retry after the evicted one released it)
        poll(lambda: kube.holder(NAME).split("_", 1)[0] == b["metadata"]["name"], 10)
    finally:
        for n in real:
            cordon(kube, n, False)
    settled(kube)


# ------------------------------------------------------------------ placement


FILL = ("250m", "256Mi")  # what each placed pod asks for (cpu, memory)


def place(kube: Kube, count: int, scheduler: str | None) -> list[tuple[str, set[str]]]:
    """Create `count` pods one after another (each bound before the next); return for each the
    node it got and the nodes MostAllocated ranked first just before."""
    placed = []
    for i in range(count):
        expected = most_allocated_nodes(kube, incoming=FILL)
        name = f"fill-{scheduler or 'default'}-{i}-{uuid.uuid4().hex[:4]}"
        kube.create_pod(name, scheduler=scheduler, requests=FILL, labels={"fill": "1"})
        node, _ = kube.wait_bound(name, 30)
        placed.append((node, expected))
    return placed


def clear_fill(kube: Kube) -> None:
    kube.request("DELETE", "/api/v1/namespaces/default/pods?labelSelector=fill%3D1&gracePeriodSeconds=0")
    poll(lambda: not kube.items("/api/v1/namespaces/default/pods?labelSelector=fill%3D1"), 60)


def test_most_allocated_fills_one_real_node_before_the_next(deployed: LabStack, kube: Kube) -> None:
    settled(kube)
    try:
        custom = place(kube, 6, NAME)
    finally:
        clear_fill(kube)
    try:
        default = place(kube, 6, None)
    finally:
        clear_fill(kube)
    print(
        f"\nsame workload, 6 x 250m: {NAME} -> {[n for n, _ in custom]}; default -> {[n for n, _ in default]}"
    )
    for node, expected in custom:
        assert node in expected, (node, expected)
    # bin packing: the custom scheduler fills a node before it uses another; the default spreads
    used = [n for n, _ in custom]
    assert used == sorted(used, key=used.index), used  # each node's pods come one after another
    assert len(set(used)) < len({n for n, _ in default}), (custom, default)
