"""`lab/lab.sh COMMAND`: the commands, and `up`'s order."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from ksched_lab import operator_crds, prometheus, state_store
from ksched_lab.control_plane import (
    ensure_apiserver,
    ensure_bridge,
    ensure_etcd,
    ensure_kcm,
    ensure_kwok,
    ensure_kwok_workers,
)
from ksched_lab.facts import write_facts
from ksched_lab.machines import power_off
from ksched_lab.masters import cmd_rebuild_master, cmd_start_master, ensure_masters
from ksched_lab.node_teardown import stop_node
from ksched_lab.nodes import cmd_start_node, ensure_real_nodes
from ksched_lab.pki import ensure_pki, ensure_ssh_keys
from ksched_lab.prereq import ensure_built, ensure_tools
from ksched_lab.settings import (
    ADMIN_KUBECONFIG,
    API_URL,
    FACTS,
    HOSTS,
    K8S_BIN,
    LAB,
    LOGS,
    MACHINES,
    MASTERS,
    NODES,
    RUN,
)
from ksched_lab.status import cmd_status
from ksched_lab.teardown import cmd_crash, cmd_down, cmd_reset
from ksched_lab.util import die, log, read_pid, stop_pid


def cmd_up() -> None:
    if os.geteuid() != 0:
        die("lab/lab.sh up needs root (bridge, overlay mounts, systemd-nspawn)")
    for d in (LAB, LOGS, RUN, HOSTS, MACHINES):
        d.mkdir(parents=True, exist_ok=True)
    ensure_tools()
    ensure_built()
    ensure_pki()
    ensure_ssh_keys()
    ensure_bridge()
    ensure_etcd()
    ensure_apiserver()
    ensure_kcm()
    ensure_kwok()
    ensure_kwok_workers()
    ensure_masters()
    ensure_real_nodes()
    # the binary the dev stack uploads (bareMetal.binary.localFile), at a path the repo can name
    (LAB / "bin").mkdir(exist_ok=True)
    link = LAB / "bin" / "kube-scheduler"
    if not link.is_symlink() or os.readlink(link) != str(K8S_BIN / "kube-scheduler"):
        link.unlink(missing_ok=True)
        link.symlink_to(K8S_BIN / "kube-scheduler")
    write_facts()
    log(f"lab up: {API_URL}, kubeconfig {ADMIN_KUBECONFIG}, facts {FACTS}")


def cmd_restart_apiserver() -> None:
    """Stop and start kube-apiserver (same flags, same etcd)."""
    pid = read_pid("kube-apiserver")
    if pid:
        log(f"stopping kube-apiserver (pid {pid})")
        stop_pid(pid, "kube-apiserver")
    ensure_apiserver()


USAGE = """usage: lab/lab.sh COMMAND
  up                   start the lab (the same cluster and masters as before, or new ones)
  down                 stop everything; keep the cluster's data and the masters' disks
  reset                down, then wipe the cluster and the masters' disks (the next up starts anew)
  crash                a power loss: kill everything at once, as a reboot would (for tests)
  status               what runs and how healthy it is
  stop-master NAME     power a master off (an outage); start-master NAME boots it with its disk
  rebuild-master NAME  reinstall a master on a fresh disk
  stop-node NAME       a node outage (its containers die, it powers off); start-node NAME boots it
  restart-apiserver    stop and start kube-apiserver (same flags, same etcd)
  state-store start|stop|status|env
                       the S3-compatible Pulumi state store (SeaweedFS) for team use (README)
  prometheus start|stop|status|install
                       Prometheus on the stack's monitoring files (`make prometheus` writes them
                       and starts it; docs/monitoring.md); install: only build it
  operator-crds install
                       generate the Prometheus Operator's ServiceMonitor CRD (no operator) and
                       print its path; the monitoring suite serves it in the lab"""

PER_MASTER: dict[str, Callable[[str], None]] = {
    "stop-master": power_off,  # an outage: the disk is kept for start-master
    "start-master": cmd_start_master,
    "rebuild-master": cmd_rebuild_master,
}
PER_NODE: dict[str, Callable[[str], None]] = {"stop-node": stop_node, "start-node": cmd_start_node}
COMMANDS: dict[str, Callable[[], None]] = {
    "up": cmd_up,
    "down": cmd_down,
    "reset": cmd_reset,
    "crash": cmd_crash,
    "restart-apiserver": cmd_restart_apiserver,
}


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] in PER_MASTER and argv[2] in dict(MASTERS):
        PER_MASTER[argv[1]](argv[2])
        return 0
    if len(argv) == 3 and argv[1] in PER_NODE and argv[2] in {n for n, _, _ in NODES}:
        PER_NODE[argv[1]](argv[2])
        return 0
    if len(argv) == 2 and argv[1] in COMMANDS:
        COMMANDS[argv[1]]()
        return 0
    if len(argv) == 2 and argv[1] == "status":
        return cmd_status()
    if len(argv) == 3 and argv[1] == "state-store" and argv[2] in ("start", "stop", "status", "env"):
        return state_store.main([argv[2]])
    if len(argv) == 3 and argv[1] == "prometheus" and argv[2] in ("start", "stop", "status", "install"):
        return prometheus.main(argv[2])
    if argv[1:] == ["operator-crds", "install"]:
        return operator_crds.main("install")
    print(USAGE, file=sys.stderr)
    return 2
