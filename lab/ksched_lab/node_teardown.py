"""Stopping real nodes, and giving back what they changed on this machine: the kubelet's sysctls
(restored to what they were), its cgroups (`ksched-<node>` in every v1 hierarchy) and the routes
to the pod ranges (gone with the bridge). A node's state under .lab/nodes/<node> is kept, like a
disk; `reset` wipes it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path

from ksched_lab.machines import power_off
from ksched_lab.node_config import cgroup_root
from ksched_lab.settings import NODE_POD_CIDRS, NODE_SYSCTLS, NODE_SYSCTLS_SAVED, NODES
from ksched_lab.util import (
    descendants,
    die,
    info,
    log,
    pid_alive,
    read_pid,
    remove_cgroup_tree,
    run,
    wait_for,
)

CGROUP_ROOT = Path("/sys/fs/cgroup")


def v1_hierarchies() -> list[Path]:
    return [p for p in CGROUP_ROOT.iterdir() if p.is_dir() and p.name != "unified"]


def restore_sysctls() -> None:
    if not NODE_SYSCTLS_SAVED.exists():
        return
    for key, value in json.loads(NODE_SYSCTLS_SAVED.read_text()).items():
        (Path("/proc/sys") / key.replace(".", "/")).write_text(value)
    NODE_SYSCTLS_SAVED.unlink()
    log(f"restored sysctls {', '.join(NODE_SYSCTLS)}")


def remove_cgroups(names: list[str] | None = None) -> list[str]:
    """The nodes' kubelet cgroup roots (their processes are gone by then); what could not go."""
    names = names if names is not None else [n for n, _, _ in NODES]
    return [d for h in v1_hierarchies() for n in names for d in remove_cgroup_tree(h / cgroup_root(n))]


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def kill_containers(name: str) -> int:
    """Every container process of a node, then its shims: a pod's PID 1 that ignores SIGTERM
    would otherwise hold the node's shutdown for 90 s (docs/sources.md#lab-shutdown)."""
    pid = read_pid(f"nspawn-{name}")
    if not pid:
        return 0
    shims = [p for p in descendants(pid) if comm(p).startswith("containerd-shim")]
    victims = [d for s in shims for d in descendants(s)] + shims
    for p in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    wait_for(f"{name}'s containers to exit", lambda: not any(pid_alive(p) for p in victims), 20)
    return len(victims)


def stop_kubelet(name: str) -> None:
    """First, so that it does not start again what is killed next; never fails (a node may be
    unhealthy when it is stopped)."""
    node_init = descendants(read_pid(f"nspawn-{name}"))[:1]
    if node_init:
        units = ["kubelet.service", "kube-proxy.service"]
        nsenter = ["nsenter", "-t", str(node_init[0]), "-m", "-u", "-i", "-n", "-p", "--"]
        subprocess.run([*nsenter, "systemctl", "stop", *units], capture_output=True, timeout=60)


def stop_node(name: str) -> None:
    """A node outage: its kubelet stops, its containers die, it powers off (disk kept)."""
    stop_kubelet(name)
    killed = kill_containers(name)
    info(f"{name}: kubelet stopped, {killed} container processes killed")
    power_off(name)
    left = remove_cgroups([name])
    if left:
        die(f"{name}'s cgroups still in use: {left}")


def stop_nodes() -> None:
    for name, _, _ in NODES:
        if read_pid(f"nspawn-{name}"):
            stop_node(name)
    left = remove_cgroups()
    if left:
        die(f"node cgroups still in use: {left}")
    restore_sysctls()


def node_leftovers() -> list[str]:
    """What a node may leave on this machine (empty when clean)."""
    problems = []
    cgroups = [
        str(h / cgroup_root(n))
        for h in v1_hierarchies()
        for n, _, _ in NODES
        if (h / cgroup_root(n)).exists()
    ]
    if cgroups:
        problems.append(f"cgroups: {cgroups}")
    if NODE_SYSCTLS_SAVED.exists():
        problems.append(f"sysctls not restored: {NODE_SYSCTLS_SAVED}")
    routes = run(["ip", "route", "show", "root", NODE_POD_CIDRS], check=False).stdout.strip()
    if routes:
        problems.append(f"routes: {routes}")
    return problems
