"""`make up` converges from whatever state it finds (issue: the state is read, not believed).

Each test puts the lab in a state a user meets — the lab stopped and started, a power loss, a
master reinstalled, our files deleted on a master, our objects deleted from the cluster, a new
cluster with new masters — then runs what `make up` runs (`scripts.stack.deploy`: up --refresh)
and the summary `make up` prints, which must be all green. One stack for the module: the first
test deploys it from nothing; every other test starts from it deployed and converged
(`converged`). Timings go to .bench/converge.json.
"""

from __future__ import annotations

import contextlib
import io
import time
from typing import Any

import pytest

from harness.kube import Kube, config_map_path
from harness.lab import MASTERS, lab
from harness.ssh import ssh
from harness.stacks import LabStack, Stacks, changes
from scripts.stack import deploy, summary

pytestmark = pytest.mark.lab

FIGURES: dict[str, dict[str, Any]] = {}
OBJECTS = (
    "/apis/apps/v1/namespaces/kube-system/deployments/custom-k8s-scheduler",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles/custom-k8s-scheduler",
    "/api/v1/namespaces/kube-system/serviceaccounts/custom-k8s-scheduler",
)


@pytest.fixture(scope="module")
def stack(module_stacks: Stacks) -> LabStack:
    return module_stacks("converge")


@pytest.fixture
def converged(stack: LabStack) -> LabStack:
    """The stack deployed and in step with the lab (a `make up` that changes nothing when it is)."""
    assert deploy(stack.stack, stack.output.append).summary.result == "succeeded"
    return stack


def make_up(stack: LabStack, state: str) -> dict[str, int]:
    """What `make up` runs after `lab-up`: deploy, then the summary; both must succeed."""
    start = time.monotonic()
    result = deploy(stack.stack, stack.output.append)
    seconds = time.monotonic() - start
    assert result.summary.result == "succeeded"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = summary(stack.stack)
    text = printed.getvalue()
    assert "drift (host vs what the stack wrote): none" in text, text
    for m in MASTERS:
        assert f"{m} " in text and "active ok" in text.split(m, 1)[1].splitlines()[0], text
    assert "kube-system/kube-scheduler           held by master-" in text, text
    assert rc == 0, text
    found = changes(result)
    FIGURES[state] = {"up_seconds": round(seconds, 1), "changes": found}
    print(f"\n{state}: make up converged in {seconds:.1f}s, {found}")
    return found


def assert_objects(kube: Kube) -> None:
    for path in (*OBJECTS, config_map_path(kube)):
        assert kube.get(path) is not None, path


def test_first_up(stack: LabStack, kube: Kube) -> None:
    if stack.has_resources():  # from nothing, whatever ran before
        stack.destroy()
    assert make_up(stack, "first up").get("create", 0) >= 50
    assert_objects(kube)


def test_after_lab_down_and_up_nothing_changes(converged: LabStack, kube: Kube) -> None:
    lab("down")
    lab("up", timeout=900)
    assert set(make_up(converged, "after lab-down, lab-up")) == {"same"}
    assert_objects(kube)


def test_after_a_power_loss(converged: LabStack) -> None:
    lab("crash")
    lab("up", timeout=900)
    assert set(make_up(converged, "after a power loss (reboot)")) == {"same"}


def test_after_a_master_is_reinstalled(converged: LabStack) -> None:
    lab("rebuild-master", "master-2")
    assert "no such user" in ssh("master-2", "id kube-scheduler 2>&1", check=False)
    found = make_up(converged, "after master-2 was reinstalled")
    assert found.get("update", 0) >= 10  # every step of master-2, none of the others
    assert ssh("master-2", "systemctl is-active kube-scheduler.service") == "active"


def test_after_our_files_are_deleted_on_a_master(converged: LabStack) -> None:
    before = ssh("master-3", "systemctl show -p MainPID --value kube-scheduler.service")
    conf = "/etc/kubernetes/scheduler"
    ssh("master-3", f"rm -f {conf}/kube-scheduler.yaml {conf}/pki/kube-scheduler.key")
    found = make_up(converged, "after files deleted on master-3")
    assert found.get("update", 0) == 3  # the two files and the restart
    assert ssh("master-3", "test -s /etc/kubernetes/scheduler/kube-scheduler.yaml && echo there") == "there"
    after = ssh("master-3", "systemctl show -p MainPID --value kube-scheduler.service")
    assert after != before, "master-3 kept running without the files it reads"


def test_after_our_objects_are_deleted_from_the_cluster(converged: LabStack, kube: Kube) -> None:
    paths = (*OBJECTS, config_map_path(kube))
    for path in paths:
        kube.request("DELETE", path)
    found = make_up(converged, "after objects deleted by hand")
    assert found.get("create", 0) >= len(paths)
    assert_objects(kube)


def test_after_a_new_cluster_with_new_masters(converged: LabStack, kube: Kube) -> None:
    # What `make test` used to leave the dev stack with: the state claims everything, the world
    # has nothing of it.
    lab("reset")
    lab("up", timeout=900)
    found = make_up(converged, "after lab-reset (new cluster, new masters)")
    # every host step made again (10 a master), every object created again (and its guard)
    assert found.get("update", 0) >= 30 and found.get("create", 0) >= 9
    assert_objects(kube)
    assert set(make_up(converged, "the next up")) == {"same"}
