"""Probes that mean something, shown with the real binary: a scheduler whose role lacks one resource
it watches answers /healthz "ok" but is not ready (/readyz), so its pod is not Ready, and the
bare-metal health gate fails the update instead of declaring it done.

The role is broken by hand for the test and restored the way a user would: `make up` (the
custom role, read back on refresh) and an API server restart (the built-in role's rules are
reconciled when it starts).
"""

from __future__ import annotations

import ssl
import time
from typing import Any

import pytest
from pulumi import automation as auto

from harness.kube import NAME, NS, Kube, ready, scheduler_pods, settled
from harness.lab import MASTERS, dev_config, lab, poll, secure_get
from harness.ssh import ssh
from harness.stacks import LabStack, Stacks
from scripts.stack import deploy

pytestmark = pytest.mark.lab
WATCHED = "csinodes"  # the scheduler's informers list and watch it (the CSI volume limits plugin)


@pytest.fixture(scope="module")
def stack(module_stacks: Stacks) -> LabStack:
    return module_stacks("readiness")


def without(kube: Kube, role: str, resource: str) -> list[dict[str, Any]]:
    """Remove `resource` from a ClusterRole's rules; return the rules it had."""
    path = f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{role}"
    rules: list[dict[str, Any]] = kube.read(path)["rules"]
    kept = [r | {"resources": [x for x in r.get("resources", []) if x != resource]} for r in rules]
    kube.patch(path, {"rules": [r for r in kept if r["resources"]]})
    return rules


def probe(ip: str, path: str) -> tuple[int, str]:
    # the pod serves a self-signed certificate (no --tls-cert-file): reachability, not identity
    return secure_get(ip, path, ssl._create_unverified_context(), timeout=3)


def test_in_cluster_scheduler_without_a_watched_resource_is_alive_but_not_ready(
    deployed: LabStack, kube: Kube
) -> None:
    settled(kube)
    without(kube, NAME, WATCHED)
    for p in scheduler_pods(kube):  # new processes start with the broken role
        kube.request("DELETE", f"/api/v1/namespaces/{NS}/pods/{p['metadata']['name']}")

    def running_not_ready() -> bool:
        pods = scheduler_pods(kube)
        return len(pods) == 2 and all(
            p["status"].get("phase") == "Running" and p["status"].get("podIP") and not ready(p) for p in pods
        )

    poll(running_not_ready, 120, interval=1)
    time.sleep(20)  # well past the startup probe's first checks: still not ready
    for p in scheduler_pods(kube):
        assert not ready(p), p["metadata"]["name"]
        ip = p["status"]["podIP"]
        assert probe(ip, "/healthz") == (200, "ok")  # what the probes used to ask
        status, body = probe(ip, "/readyz?verbose")
        assert status != 200 and "[-]sched-handler-sync failed" in body, body
    assert not kube.holder(NAME), "a scheduler that cannot see the cluster took the lease"
    # make up reads the role back (refresh) and restores it; the pods become ready and lead
    deploy(deployed.stack, deployed.output.append)
    assert kube.get(f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{NAME}")
    settled(kube)


def test_bare_metal_gate_fails_an_update_that_cannot_become_ready(deployed: LabStack, kube: Kube) -> None:
    stack = deployed
    pids = {m: ssh(m, "systemctl show -p MainPID --value kube-scheduler.service") for m in MASTERS}
    without(kube, "system:kube-scheduler", WATCHED)
    cfg = dev_config()
    cfg["bareMetal"]["qps"] = 55
    cfg["bareMetal"]["healthTimeoutSeconds"] = 20
    stack.configure(cfg)
    stack.output.clear()
    try:
        with pytest.raises(auto.CommandError):
            stack.up()
        text = "\n".join(stack.output)
        assert "master-1: kube-scheduler failed its gate: not ready after 20s" in text
        # the masters after it were not touched
        assert {m: pids[m] for m in MASTERS[1:]} == {
            m: ssh(m, "systemctl show -p MainPID --value kube-scheduler.service") for m in MASTERS[1:]
        }
    finally:
        lab("restart-apiserver")  # reconciles the built-in role's rules
    stack.configure(dev_config())
    result = stack.up()
    assert result.summary.result == "succeeded"
    # master-1 syncs by itself once the role is whole again (its informer retries the list)
    ready = "curl -s --cacert /etc/kubernetes/scheduler/pki/ca.crt https://127.0.0.1:10259/readyz"
    for master in MASTERS:

        def is_ready(m: str = master) -> bool:
            return ssh(m, ready) == "ok"

        poll(is_ready, 120, 2)
