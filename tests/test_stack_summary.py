"""`make status`/`make up`'s pod lines (scripts/stack.py `pod_line`): which pod is a problem."""

from __future__ import annotations

from typing import Any

import pytest

from scripts.stack import pod_line


def pod(node: str | None, ready: bool, deleting: bool = False, phase: str = "Running") -> dict[str, Any]:
    meta: dict[str, Any] = {"namespace": "kube-system", "name": "custom-k8s-scheduler-7c-x"}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-08T01:10:00Z"
    spec: dict[str, Any] = {"schedulerName": "default-scheduler"} | ({"nodeName": node} if node else {})
    cond = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"metadata": meta, "spec": spec, "status": {"phase": phase, "conditions": cond}}


@pytest.mark.parametrize(
    ("p", "want_ready", "problem", "shown"),
    [
        (pod("node-1", True), True, False, "node-1     Running  ready     by default-scheduler"),
        (pod(None, False, phase="Pending"), True, True, "(not bound) Pending  NOT ready"),
        (pod(None, False, phase="Pending"), False, True, "(not bound) Pending"),  # unbound: always
        (pod("node-2", False), True, True, "node-2     Running  NOT ready"),
        (pod("node-2", False), False, False, "node-2     Running  NOT ready"),  # readiness not waited for
        # stuck on its way out (a node that came back after a power loss): its replacement counts
        (pod("node-3", False, deleting=True), True, False, "node-3     Terminating NOT ready"),
        (pod(None, False, deleting=True, phase="Pending"), True, False, "(not bound) Terminating"),
    ],
)
def test_pod_line(p: dict[str, Any], want_ready: bool, problem: bool, shown: str) -> None:
    line, is_problem = pod_line(p, want_ready)
    assert is_problem is problem
    assert "kube-system/custom-k8s-scheduler-7c-x" in line and shown in line
