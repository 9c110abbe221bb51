"""Real worker nodes: kubelet, containerd, runc, the bridge CNI plugin and kube-proxy, each node in
its own nspawn machine on the lab bridge (see docs/sources.md#lab for why each setting). Their
files: node_config.py; stopping them and what they give back: node_teardown.py."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from ksched_lab.images import ensure_images
from ksched_lab.machines import boot, install_disk, is_up, runs_as_booted, wait_ssh
from ksched_lab.node_config import write_node_files
from ksched_lab.node_teardown import stop_node
from ksched_lab.settings import (
    BRIDGE,
    IMAGES,
    K8S_BIN,
    K8S_VERSION,
    NODE_STATE,
    NODE_SYSCTLS,
    NODE_SYSCTLS_SAVED,
    NODES,
)
from ksched_lab.util import kubectl, log, run, wait_for, write


def set_sysctls() -> None:
    """What the kubelet and the CNI plugin need (a node's /proc/sys is read-only), saved first."""
    saved = json.loads(NODE_SYSCTLS_SAVED.read_text()) if NODE_SYSCTLS_SAVED.exists() else {}
    for key, value in NODE_SYSCTLS.items():
        path = Path("/proc/sys") / key.replace(".", "/")
        current = path.read_text().strip()
        saved.setdefault(key, current)
        if current != value:
            path.write_text(value)
    write(NODE_SYSCTLS_SAVED, json.dumps(saved) + "\n")


def nspawn_args(name: str) -> list[str]:
    state = NODE_STATE / name
    for d in ("containerd", "kubelet"):
        (state / d).mkdir(parents=True, exist_ok=True)
    return [
        # the kubelet reads /dev/kmsg; containerd needs keyrings for its containers
        "--capability=CAP_SYSLOG",
        "--system-call-filter=@keyring",
        # this machine's ext4: the overlayfs snapshotter cannot work on the overlay root
        f"--bind={state / 'containerd'}:/var/lib/containerd",
        f"--bind={state / 'kubelet'}:/var/lib/kubelet",
        f"--bind-ro={K8S_BIN / 'kubelet'}:/usr/local/bin/kubelet",
        f"--bind-ro={K8S_BIN / 'kube-proxy'}:/usr/local/bin/kube-proxy",
        f"--bind-ro={IMAGES}:/var/lib/ksched-images",
    ]


def boot_node(name: str, ip: str, cidr: str) -> dt.datetime:
    """Mount its disk (a new one if it has none), write its files, boot it; returns when."""
    write_node_files(install_disk(name, ip), name, ip, cidr)
    since = dt.datetime.now(dt.UTC).replace(microsecond=0)
    boot(name, nspawn_args(name))
    return since


def route_pods(ip: str, cidr: str) -> None:
    """Pods on the node are reachable from this machine (kubelet probes are node-local; tests and
    benchmarks read pod endpoints)."""
    run(["ip", "route", "replace", cidr, "via", ip, "dev", BRIDGE])


def node_ready(name: str) -> bool:
    out = kubectl("get", "node", name, "-o", "json", check=False)
    if out.returncode != 0:
        return False
    conditions = json.loads(out.stdout).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def wait_node(name: str, ip: str) -> None:
    wait_ssh(name, ip)
    wait_for(f"node {name} Ready", lambda: node_ready(name), 120, interval=1)


def pods_back(booted: dict[str, dt.datetime]) -> bool:
    """Every pod bound to a node booted at booted[node] runs containers started since, and is
    Ready (the API server still shows the status from before the node went down until then)."""
    pods = json.loads(kubectl("get", "pods", "-A", "-o", "json").stdout)["items"]
    for p in pods:
        since = booted.get(p["spec"].get("nodeName"))
        status = p.get("status", {})
        if (
            since is None
            or p["metadata"].get("deletionTimestamp")
            or status.get("phase") in ("Succeeded", "Failed")
        ):
            continue
        if not any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", [])):
            return False
        for c in status.get("containerStatuses", []):
            started = c.get("state", {}).get("running", {}).get("startedAt")
            if not started or dt.datetime.fromisoformat(started.replace("Z", "+00:00")) < since:
                return False
    return True


def ensure_real_nodes() -> None:
    ensure_images()
    set_sysctls()
    booted = {}
    for name, ip, cidr in NODES:
        if is_up(name) and not runs_as_booted(name, nspawn_args(name)):
            log(f"node {name} runs another version: stopping it to boot it at {K8S_VERSION}")
            stop_node(name)
        if not is_up(name):
            log(f"booting node {name} ({ip}, pods {cidr})")
            booted[name] = boot_node(name, ip, cidr)
        route_pods(ip, cidr)
    for name, ip, _ in NODES:
        wait_node(name, ip)
    if booted:
        # a cluster is back when its workloads are: the kubelets restart the pods they had
        wait_for("the pods on the rebooted nodes to run again", lambda: pods_back(booted), 180, interval=1)


def cmd_start_node(name: str) -> None:
    """Boot a node that stop-node powered off; wait until it is Ready and its pods run."""
    ip, cidr = {n: (i, c) for n, i, c in NODES}[name]
    if is_up(name):
        return
    log(f"booting node {name} ({ip}) with its disk")
    since = boot_node(name, ip, cidr)
    route_pods(ip, cidr)
    wait_node(name, ip)
    wait_for(f"the pods on {name} to run again", lambda: pods_back({name: since}), 180, interval=1)
