"""Stopping the lab and checking that nothing of it is left."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

from ksched_lab import state_store
from ksched_lab.machines import ALL
from ksched_lab.node_teardown import node_leftovers, remove_cgroups, restore_sysctls, stop_nodes
from ksched_lab.settings import BRIDGE, CLUSTER_ID, CLUSTER_VERSION, ETCD_DATA, LAB, MACHINES, NODE_STATE, RUN
from ksched_lab.util import (
    cmdline,
    descendants,
    die,
    info,
    link_exists,
    log,
    pid_alive,
    read_pid,
    remove_cgroup_tree,
    run,
    stop_pid,
)

# programs a leftover scan may stop (never e.g. an ssh or tail that merely mentions .lab/)
LAB_PROGRAMS = {
    "kube-scheduler",
    "kube-apiserver",
    "kube-controller-manager",
    "etcd",
    "kwok",
    "systemd-nspawn",
    "kubectl",
    "prometheus",
}


def lab_processes() -> dict[int, str]:
    """pids of processes that belong to this lab: recorded pids plus any LAB_PROGRAMS process whose
    command line refers to the lab state dir (e.g. a kube-scheduler a test started with a .lab config)."""
    pids: dict[int, str] = {}
    if RUN.exists():
        for f in RUN.glob("*.pid"):
            pid = read_pid(f.stem)
            if pid:
                pids[pid] = f.stem
    me = os.getpid()
    marker = str(LAB).encode() + b"/"
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (me, os.getppid()):
            continue
        args = cmdline(int(entry))
        if (
            args
            and os.path.basename(args[0].decode(errors="replace")) in LAB_PROGRAMS
            and any(marker in a for a in args)
            and pid_alive(int(entry))
        ):
            pids.setdefault(int(entry), os.path.basename(args[0].decode(errors="replace")))
    return pids


def cmd_down() -> None:
    if os.geteuid() != 0:
        die("lab/lab.sh down needs root")
    stopped = list(lab_processes())
    state_store.stop()  # the state store, if it was started (nothing if not)
    # nodes first: their containers are killed (a pod's PID 1 may ignore SIGTERM), then they
    # power off like the masters; their cgroups and sysctls are given back
    stop_nodes()
    for n, _ in ALL:
        pid = read_pid(f"nspawn-{n}")
        if pid:
            log(f"powering off {n}")
            os.kill(pid, signal.SIGTERM)
    for n, _ in ALL:
        pid = read_pid(f"nspawn-{n}")
        if pid:
            # no second SIGTERM: nspawn takes that as "terminate immediately"
            stop_pid(pid, f"nspawn-{n}", sig=None, timeout=30)
    # API clients first (e.g. a kube-scheduler a test started with a .lab config): while they hold
    # watches the API server's graceful shutdown takes much longer
    core = {read_pid(n) for n in ("kwok", "kube-controller-manager", "kube-apiserver", "etcd")}
    for pid, name in lab_processes().items():
        if pid not in core:
            log(f"stopping leftover {name} (pid {pid})")
            stop_pid(pid, name, timeout=10)
    for name in ("kwok", "kube-controller-manager", "kube-apiserver", "etcd"):
        pid = read_pid(name)
        if pid:
            log(f"stopping {name} (pid {pid})")
            # the API server can linger after it stopped listening; its state is in etcd
            stop_pid(pid, name, timeout=8 if name == "kube-apiserver" else 20)
    for pid, name in lab_processes().items():
        log(f"stopping leftover {name} (pid {pid})")
        stop_pid(pid, name, timeout=10)
    remove_mounts_and_links()
    # The cluster (etcd data) and the masters' disks stay: `up` brings back the same cluster.
    shutil.rmtree(RUN, ignore_errors=True)
    # Our processes were reparented to PID 1, which reaps them a little later: wait for that so
    # that `ps` right after `down` shows no <defunct> lab process either.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in stopped):
        time.sleep(0.2)
    zombies = [p for p in stopped if Path(f"/proc/{p}").exists()]
    if zombies:
        info(f"note: exited but not yet reaped by PID 1: {zombies}")
    verify_clean()
    kept = "etcd data, machines' disks, nodes' state, pki, ssh, hosts, images, facts.json, logs"
    log(f"lab down: no lab process, mount or link left (kept in {LAB}: {kept})")


def lab_mounts() -> list[str]:
    with open("/proc/self/mounts") as f:
        return [line.split()[1] for line in f if line.split()[1].startswith(str(LAB) + "/")]


def remove_mounts_and_links() -> None:
    """Mounts under the lab dir (deepest first), the machines' links and the bridge."""
    for mp in sorted(lab_mounts(), key=len, reverse=True):
        log(f"unmounting {mp}")
        if run(["umount", mp], check=False).returncode != 0:
            run(["umount", "-l", mp], check=False)
    for n, _ in ALL:
        for link in (f"vb-{n}", f"ve-{n}"):
            if link_exists(link):
                run(["ip", "link", "del", link], check=False)
    if link_exists(BRIDGE):
        log(f"removing bridge {BRIDGE}")
        run(["ip", "link", "del", BRIDGE], check=False)
    for n, _ in ALL:
        shutil.rmtree(Path("/run/systemd/nspawn/propagate") / n, ignore_errors=True)
    # the cgroups nspawn makes at the top of the name=systemd hierarchy (empty once all are off)
    for d in ("payload", "supervisor"):
        for h in (Path("/sys/fs/cgroup/systemd"), Path("/sys/fs/cgroup/unified")):
            remove_cgroup_tree(h / d)


def verify_clean() -> None:
    problems = []
    left = lab_processes()
    if left:
        problems.append(f"processes: {left}")
    mps = lab_mounts()
    if mps:
        problems.append(f"mounts: {mps}")
    ours = {BRIDGE} | {f"vb-{n}" for n, _ in ALL}
    links = sorted(ours & set(os.listdir("/sys/class/net")))
    if links:
        problems.append(f"links: {links}")
    problems += node_leftovers()
    if problems:
        die("left behind: " + "; ".join(problems))


def cmd_crash() -> None:
    """A power loss, as a reboot leaves the lab: every process killed at once (masters included,
    nothing shut down cleanly), mounts and links gone, stale pid files; data and disks on disk."""
    if os.geteuid() != 0:
        die("lab/lab.sh crash needs root")
    victims = set(lab_processes())
    for pid in list(victims):
        victims.update(descendants(pid))
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(pid_alive(p) for p in victims):
        time.sleep(0.1)
    log(f"killed {len(victims)} lab processes (SIGKILL)")
    remove_mounts_and_links()
    remove_cgroups()
    restore_sysctls()  # a reboot starts from the machine's own values
    verify_clean()


def cmd_reset() -> None:
    """`down`, then wipe the cluster and the masters' disks: the next `up` starts a new cluster."""
    cmd_down()
    for d in (MACHINES, NODE_STATE, ETCD_DATA, CLUSTER_ID, CLUSTER_VERSION):
        if d.is_dir():
            shutil.rmtree(d)
        elif d.exists():
            d.unlink()
    log(f"lab reset: cluster data and masters' disks removed from {LAB} (CA and SSH keys kept)")
