"""No interruption takes scheduling down (issue: no outage), in the lab, with real binaries:

- the CLI killed (SIGKILL) in the middle of a rolling change, before, during and after a master's
  restart: at most one master is ever down, the interrupted master ends healthy on one of the two
  configurations, no plugin of the killed run is left, and what `make up` prints (the stale-lock
  command, then `make up`) converges;
- the SSH connection cut during a restart: the master finishes its rollout alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from typing import Any

import pytest
import yaml

from harness.kube import Kube
from harness.lab import MASTERS, dev_config, master_ip, poll
from harness.ssh import ssh
from harness.stacks import LabStack, Stacks, kill_cli, make_up, run_printed_command
from harness.watch import Monitor, ServiceWatch
from scripts import leftovers
from scripts.stack import deploy

pytestmark = pytest.mark.lab

CONFIG = "/etc/kubernetes/scheduler/kube-scheduler.yaml"


def bare_metal(qps: float) -> dict[str, Any]:
    cfg = dev_config()
    cfg["inCluster"] = {"enabled": False}
    cfg["bareMetal"]["qps"] = qps
    return cfg


@pytest.fixture(scope="module")
def stack(module_stacks: Stacks) -> LabStack:
    """Deployed and converged at qps 50; each test's change (another qps) ends converged too."""
    s = module_stacks("no-outage", bare_metal(50))
    assert deploy(s.stack, s.output.append).summary.result == "succeeded"
    return s


def config_hash(master: str) -> str:
    return ssh(master, f"sha256sum {CONFIG} | cut -c1-64")


def settled_rollout(master: str) -> str:
    """Wait until no rollout runs on `master`; its last outcome."""
    poll(lambda: ssh(master, "systemctl is-active ksched-rollout.service", check=False) != "active", 300, 1)
    return ssh(master, "cat /var/lib/kube-scheduler-pulumi/rollout.result", check=False)


# (moment, the line of the run's output after which the CLI is killed, seconds to wait after it)
MOMENTS = [
    ("before master-2's restart", "masters-master-2-file-config updated", 0.0),
    ("during master-2's restart", "masters-master-2-service updating", 3.0),
    ("after master-2's restart", "masters-master-2-service updated", 0.0),
]


@pytest.mark.parametrize(("moment", "marker", "delay"), MOMENTS, ids=[m[0].split()[0] for m in MOMENTS])
def test_a_killed_cli_leaves_at_most_one_master_down_and_one_command_recovers(
    stack: LabStack, kube: Kube, moment: str, marker: str, delay: float
) -> None:
    old = {m: config_hash(m) for m in MASTERS}
    qps = 50 + 10 * (MOMENTS.index((moment, marker, delay)) + 1)
    stack.configure(bare_metal(qps))
    killed = threading.Event()

    def kill_at(line: str, proc: subprocess.Popen[str]) -> None:
        if marker in line and not killed.is_set():
            time.sleep(delay)
            kill_cli(proc)
            killed.set()

    with ServiceWatch() as watch, Monitor(kube) as mon:
        rc, out = make_up(stack, kill_at)
        assert killed.is_set() and rc != 0, out[-2000:]
        # what the killed run left: no plugin process, a master that finished its rollout alone
        assert leftovers.orphaned_plugins() == []
        result = settled_rollout("master-2")
        assert ssh("master-2", "systemctl is-active kube-scheduler.service") == "active", result
        # one of the two configurations (the new one once its rollout passed its gate)
        assert config_hash("master-2") in (old["master-2"], config_hash("master-1")), result
        # what make up says now, and the one command it names
        rc, told = make_up(stack)
        assert rc == 1 and "the lock on no-outage is stale" in told, told[-2000:]
        cleared = run_printed_command(told, stack)
        assert cleared.returncode == 0, cleared.stderr
        rc, out = make_up(stack)
        assert rc == 0, out[-3000:]
    print(
        f"\nkill -9 {moment}: most masters down {max(watch.most_down_at_once(), mon.max_down)}, "
        f"longest leaderless {mon.longest_leaderless:.2f}s"
    )
    assert watch.most_down_at_once() <= 1 and mon.max_down <= 1
    new = {m: config_hash(m) for m in MASTERS}
    assert len(set(new.values())) == 1 and new != old
    assert "traceback" not in told.lower()


def test_a_cut_ssh_connection_does_not_stop_a_restart(stack: LabStack, kube: Kube) -> None:
    stack.configure(bare_metal(55))
    ip = master_ip("master-1")
    cut = threading.Event()

    def cut_at(line: str, proc: subprocess.Popen[str]) -> None:
        if "masters-master-1-service updating" in line and not cut.is_set():
            time.sleep(1.5)
            # the ssh client of that step (the rollout runs on the master, under systemd)
            out = subprocess.run(["pgrep", "-f", f"ssh .*root@{ip} sh -c"], capture_output=True, text=True)
            for pid in out.stdout.split():
                os.kill(int(pid), signal.SIGKILL)
            cut.set()

    rc, out = make_up(stack, cut_at)
    assert cut.is_set() and rc != 0, out[-2000:]
    result = settled_rollout("master-1")
    assert " ok " in f" {result} ", result
    assert ssh("master-1", "systemctl is-active kube-scheduler.service") == "active"
    assert yaml.safe_load(ssh("master-1", f"cat {CONFIG}"))["clientConnection"]["qps"] == 55
    rc, out = make_up(stack)
    assert rc == 0, out[-3000:]
