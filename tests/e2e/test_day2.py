"""Day 2 on the masters: a rolling Kubernetes upgrade (1.36 masters against a 1.37 API server, to
1.37), the version-skew guard, the rollback of a master whose new version fails its health gate,
drift reported and converged, certificate expiry in view.

The bare-metal path only (the lab builds in-cluster images for its own version). One stack for
the module; each test first brings it to the version it starts from (an `up` that changes nothing
when the test before left it there). Figures go to .bench/day2.json for the README.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from pulumi import automation as auto

from harness.kube import Kube
from harness.lab import MASTERS, ROOT, dev_config, facts, poll
from harness.ssh import ssh
from harness.stacks import LabStack, Stacks, changes
from harness.watch import RELEASE_FAILOVER_BOUND_S, Monitor
from scripts.stack import deploy, summary
from tests.scheduler_binary import NEWEST_PATCH

pytestmark = pytest.mark.lab


def below_lab(minors: int) -> str:
    """The newest patch `minors` minors below the lab's version (read once the lab is up)."""
    return NEWEST_PATCH[int(facts()["k8s_version"].split(".")[1]) - minors]


CONFIG = "/etc/kubernetes/scheduler/kube-scheduler.yaml"
FIGURES: dict[str, Any] = {}


def old_binary() -> str:
    """The previous minor's real kube-scheduler, built like the lab's (cached by version)."""
    path = Path(facts()["cache_dir"]) / "k8s" / below_lab(1) / "bin" / "kube-scheduler"
    if not path.exists():
        subprocess.run(
            ["bash", str(ROOT / "lab" / "build.sh"), "kube-scheduler"],
            env={**os.environ, "K8S_VERSION": below_lab(1)},
            check=True,
            timeout=1800,
        )
    return str(path)


def bare_metal(version: str, binary: str | None = None) -> dict[str, Any]:
    cfg = dev_config()
    cfg["kubernetesVersion"] = version.removeprefix("v")
    cfg["inCluster"] = {"enabled": False}
    if binary is not None:
        cfg["bareMetal"]["binary"] = {"localFile": binary}
    return cfg


def at_previous_minor() -> dict[str, Any]:
    """The masters one minor behind the API server: the previous minor's binary, uploaded."""
    return bare_metal(below_lab(1), old_binary())


def at_lab_version() -> dict[str, Any]:
    """The masters at the lab's version: its binary, its version."""
    return bare_metal(facts()["k8s_version"])


@pytest.fixture(scope="module")
def stack(module_stacks: Stacks) -> LabStack:
    return module_stacks("day2", at_previous_minor())


def versions_on_masters() -> dict[str, str]:
    return {m: ssh(m, "/usr/local/bin/kube-scheduler --version") for m in MASTERS}


def main_pids() -> dict[str, str]:
    return {m: ssh(m, "systemctl show -p MainPID --value kube-scheduler.service") for m in MASTERS}


def test_masters_at_the_previous_minor_against_the_newer_api_server(stack: LabStack, kube: Kube) -> None:
    stack.apply(at_previous_minor())
    assert set(versions_on_masters().values()) == {f"Kubernetes {below_lab(1)}"}
    poll(lambda: bool(kube.holder("kube-scheduler")), 30)


def test_rolling_upgrade_one_master_at_a_time_lease_held(stack: LabStack, kube: Kube) -> None:
    stack.apply(at_previous_minor())
    new = facts()["k8s_version"]
    stack.configure(at_lab_version())
    start = time.monotonic()
    with Monitor(kube) as mon:
        result = stack.up()
    total = time.monotonic() - start
    assert result.summary.result == "succeeded"
    assert set(versions_on_masters().values()) == {f"Kubernetes {new}"}
    for m in MASTERS:
        unit = ssh(m, "cat /etc/systemd/system/kube-scheduler.service")
        assert f"Description=Kubernetes scheduler {new}" in unit
    FIGURES["upgrade"] = {
        "from": below_lab(1),
        "to": new,
        "total_s": round(total, 1),
        "longest_leaderless_s": round(mon.longest_leaderless, 2),
        "max_masters_down": mon.max_down,
    }
    print(f"\nupgrade {below_lab(1)} -> {new}: {FIGURES['upgrade']}")
    assert mon.max_down <= 1, "two masters were down at the same time"
    # the leader releases its lease on SIGTERM; a standby takes it on its next retry
    assert mon.longest_leaderless <= RELEASE_FAILOVER_BOUND_S


def test_skew_guard_refuses_at_preview_and_creates_nothing(new_stack: Stacks) -> None:
    too_old = below_lab(2)  # two minors below the API server
    s = new_stack("day2-skew", bare_metal(too_old, old_binary()))
    with pytest.raises(auto.CommandError) as info:
        s.preview()
    text = str(info.value)
    assert "kube-scheduler:kubernetesVersion: expected a version the API server at" in text
    assert "may be at most one minor version older (Kubernetes version skew policy)" in text
    assert f"got {too_old.removeprefix('v')}, more than one minor older" in text
    assert len((s.stack.export_stack().deployment or {}).get("resources", [])) == 0


def test_a_master_that_fails_its_health_gate_is_rolled_back(stack: LabStack) -> None:
    stack.apply(at_lab_version())
    before = {m: ssh(m, f"sha256sum {CONFIG} /etc/systemd/system/kube-scheduler.service") for m in MASTERS}
    pids = main_pids()
    cfg = at_lab_version()
    # valid input the scheduler cannot run with: an address no master has
    cfg["bareMetal"]["bindAddress"] = "10.231.0.250"
    cfg["bareMetal"]["healthTimeoutSeconds"] = 15
    stack.configure(cfg)
    stack.output.clear()
    with pytest.raises(auto.CommandError):
        stack.up()
    text = "\n".join(stack.output)
    assert "master-1: kube-scheduler failed its gate: not ready after 15s (got: no answer)" in text
    assert "cannot assign requested address" in text  # the failed run's journal
    assert "master-1: rolled back to its last good version after: not ready after 15s" in text
    # master-1 runs its last good files again; the masters after it were not touched
    after = {m: ssh(m, f"sha256sum {CONFIG} /etc/systemd/system/kube-scheduler.service") for m in MASTERS}
    assert after == before
    assert ssh("master-1", "systemctl is-active kube-scheduler.service") == "active"
    assert ssh("master-1", "ls /etc/kubernetes/scheduler/*.ksched-prev 2>/dev/null | wc -l") == "0"
    now = main_pids()
    assert now["master-1"] != pids["master-1"]
    assert (now["master-2"], now["master-3"]) == (pids["master-2"], pids["master-3"])
    # the change withdrawn, the next up converges with no restart anywhere
    stack.apply(at_lab_version())
    assert main_pids() == now


def run_summary(stack: LabStack) -> str:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        summary(stack.stack)
    return printed.getvalue()


def test_drift_is_reported_with_both_hashes_and_converged_by_make_up(stack: LabStack) -> None:
    stack.apply(at_lab_version())
    wrote = ssh("master-2", f"sha256sum {CONFIG}").split()[0]
    ssh("master-2", f"sed -i 's/qps: 50.0/qps: 5.0/' {CONFIG}")
    edited = ssh("master-2", f"sha256sum {CONFIG}").split()[0]
    text = run_summary(stack)
    line = next(x for x in text.splitlines() if "master-2 " + CONFIG in x)
    assert edited[:16] in line and wrote[:16] in line, line
    assert "`make up` writes them back" in text
    result = deploy(stack.stack, stack.output.append)
    assert {k: v for k, v in changes(result).items() if k != "same"} == {"update": 2}  # file, restart
    assert ssh("master-2", f"sha256sum {CONFIG}").split()[0] == wrote
    assert "drift (host vs what the stack wrote): none" in run_summary(stack)


def test_certificate_expiry_and_renewal_date_in_the_summary(stack: LabStack) -> None:
    stack.apply(at_lab_version())
    text = run_summary(stack)
    for m in MASTERS:
        pem = ssh(m, "cat /etc/kubernetes/scheduler/pki/kube-scheduler.crt")
        end = x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc
        renew = end.timestamp() - 720 * 3600  # certificate.earlyRenewalHours, default
        line = next(x for x in text.splitlines() if x.strip().startswith(m))
        found = re.search(r"expires (\S+ \S+)Z, renewed by `make up` from (\S+ \S+)Z", line)
        assert found, line
        assert found.group(1) == f"{end:%Y-%m-%d %H:%M}"
        assert found.group(2) == time.strftime("%Y-%m-%d %H:%M", time.gmtime(renew))
