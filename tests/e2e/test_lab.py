"""End-to-end against the lab: a real API server, three systemd masters, the real toolchain.

One stack for the module. Every test that needs it deployed asks for `deployed`: the stack at the
dev config (deployed by the first such test, a no-op `up` afterwards, or an `up` that undoes what
the test before changed), so each test runs on what it needs, whatever ran before it. The last
test destroys it.
"""

from __future__ import annotations

import json
import re
import ssl
import time
import uuid
from typing import Any

import pytest
from cryptography import x509
from pulumi import automation as auto

from harness.kube import NS, SELECTOR, ApiError, Kube, most_allocated_nodes, ready
from harness.lab import MASTERS, dev_config, facts, healthz, lab, master_ip, poll
from harness.ssh import ssh
from harness.stacks import LabStack, Stacks, changes
from harness.watch import CRASH_FAILOVER_BOUND_S, Monitor, takeover

pytestmark = pytest.mark.lab

# Kubernetes the Hard Way's unit (docs/sources.md#defect-plain-unit).
GUIDE_UNIT = """[Unit]
Description=Kubernetes Scheduler
Documentation=https://github.com/kubernetes/kubernetes

[Service]
ExecStart=/usr/local/bin/kube-scheduler \\
  --config=/etc/kubernetes/config/kube-scheduler.yaml \\
  --v=2
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
"""


@pytest.fixture(scope="module")
def stack(module_stacks: Stacks) -> LabStack:
    return module_stacks("e2e")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def leader_master(kube: Kube) -> str:
    holder = kube.holder("kube-scheduler")
    assert holder, "nobody holds kube-system/kube-scheduler"
    name = holder.split("_", 1)[0]
    assert name in MASTERS, holder
    return name


def service_state(master: str) -> dict[str, str]:
    out = ssh(
        master,
        "systemctl show kube-scheduler.service"
        " -p ActiveState,MainPID,NRestarts,ActiveEnterTimestampMonotonic",
    )
    return dict(line.split("=", 1) for line in out.splitlines())


def schedule_one(kube: Kube, timeout: float, scheduler: str | None = None) -> tuple[str, float]:
    name = unique("probe")
    kube.create_pod(name, scheduler=scheduler)
    try:
        return kube.wait_bound(name, timeout)
    finally:
        kube.delete_pod(name)


# ------------------------------------------------------------------ 1. fresh up


def test_fresh_up_three_active_masters_one_leader(deployed: LabStack, kube: Kube) -> None:
    for m in MASTERS:
        assert service_state(m)["ActiveState"] == "active"
        assert healthz(master_ip(m)), f"{m} /healthz"
    poll(lambda: bool(kube.holder("kube-scheduler")), 20)
    leader_master(kube)
    node, seconds = schedule_one(kube, timeout=5)
    assert node in {n["name"] for n in facts()["nodes"]}  # KWOK workers are tainted
    print(f"\npod bound by the default scheduler in {seconds:.2f}s on {node}")


# ------------------------------------------------------------------ 2. custom scheduler


def test_custom_scheduler_runs_on_real_nodes_and_places_by_most_allocated(
    deployed: LabStack, kube: Kube
) -> None:
    ns = "kube-system"
    pods = poll_deployment_pods(kube, ns)
    nodes = [p["spec"]["nodeName"] for p in pods]
    real = {n["name"] for n in facts()["nodes"]}
    assert len(set(nodes)) == 2 and set(nodes) <= real, f"replicas on {nodes}, real nodes {real}"
    for p in pods:  # Pulumi awaited them: Running and Ready on a kubelet
        assert p["status"]["phase"] == "Running" and ready(p), p["metadata"]["name"]
    holder = kube.holder("custom-k8s-scheduler")
    assert holder.split("_", 1)[0] in {p["metadata"]["name"] for p in pods}
    sample = kube.pod("custom-k8s-scheduler-sample") or {}
    assert sample["status"]["phase"] == "Running" and ready(sample)
    assert "custom-k8s-scheduler" in kube.scheduled_by("custom-k8s-scheduler-sample")
    assert sample["spec"]["nodeName"] in most_allocated_nodes(kube, exclude={"custom-k8s-scheduler-sample"})
    # a fresh pod for the custom scheduler lands on a most-allocated real node too
    expected = most_allocated_nodes(kube)
    node, seconds = schedule_one(kube, timeout=10, scheduler="custom-k8s-scheduler")
    assert node in expected, (node, expected)
    print(f"\ncustom scheduler bound a pod in {seconds:.2f}s on {node}; leader {holder}")
    logs = "".join(kube.logs(ns, p["metadata"]["name"]) for p in pods)
    logs += "".join(ssh(m, "journalctl -u kube-scheduler.service --no-pager -o cat") for m in MASTERS)
    assert "forbidden" not in logs.lower()


def poll_deployment_pods(kube: Kube, ns: str) -> list[dict[str, Any]]:
    selector = "app.kubernetes.io%2Finstance%3Dcustom-k8s-scheduler"
    found: list[dict[str, Any]] = []

    def bound() -> bool:
        items = kube.items(f"/api/v1/namespaces/{ns}/pods?labelSelector={selector}")
        found[:] = [p for p in items if p["spec"].get("nodeName")]
        return len(found) == 2 and all(ready(p) for p in found)

    poll(bound, 120)
    return found


# ------------------------------------------------------------------ 3. idempotence


def test_second_up_changes_and_restarts_nothing(deployed: LabStack) -> None:
    before = {m: service_state(m) for m in MASTERS}
    result = deployed.up()
    assert set(changes(result)) == {"same"}, changes(result)
    after = {m: service_state(m) for m in MASTERS}
    for m in MASTERS:
        assert after[m]["MainPID"] == before[m]["MainPID"]
        assert after[m]["ActiveEnterTimestampMonotonic"] == before[m]["ActiveEnterTimestampMonotonic"]


# ------------------------------------------------------------------ 4. rolling change


def test_rolling_config_change_keeps_two_masters_up(deployed: LabStack, kube: Kube) -> None:
    before = {m: service_state(m)["MainPID"] for m in MASTERS}
    cfg = dev_config()
    cfg["bareMetal"]["qps"] = 60
    deployed.configure(cfg)
    start = time.monotonic()
    with Monitor(kube) as mon:
        deployed.up()
    total = time.monotonic() - start
    for m in MASTERS:
        assert "qps: 60" in ssh(m, "cat /etc/kubernetes/scheduler/kube-scheduler.yaml")
        assert service_state(m)["MainPID"] != before[m], f"{m} was not restarted"
    assert mon.max_down <= 1, "two masters were down at the same time"
    print(f"\nrolling change: {total:.1f}s, longest leaderless interval {mon.longest_leaderless:.2f}s")
    assert mon.longest_leaderless <= 15


# ------------------------------------------------------------------ 5. failover


def test_failover_after_graceful_stop(deployed: LabStack, kube: Kube) -> None:
    old = leader_master(kube)
    name = unique("failover")
    start = time.monotonic()
    ssh(old, "systemctl stop kube-scheduler.service")
    try:
        poll(lambda: kube.holder("kube-scheduler").split("_")[0] not in ("", old), 10, interval=0.05)
        new_holder = time.monotonic() - start
        kube.create_pod(name)
        kube.wait_bound(name, 5)
        total = time.monotonic() - start
    finally:
        kube.delete_pod(name)
        ssh(old, "systemctl start kube-scheduler.service")
        poll(lambda: healthz(master_ip(old)), 30)
    print(f"\ngraceful failover: new holder after {new_holder:.2f}s, pod bound after {total:.2f}s")
    assert total <= 3


def test_failover_after_sigkill_and_self_restart(deployed: LabStack, kube: Kube) -> None:
    old, holder = leader_master(kube), kube.holder("kube-scheduler")
    restarts = int(service_state(old)["NRestarts"])
    start = time.monotonic()
    ssh(old, "kill -KILL $(systemctl show -p MainPID --value kube-scheduler.service)")
    takeover(kube, "kube-scheduler", holder, 30)  # a standby, or the old master restarted
    gap = time.monotonic() - start
    schedule_one(kube, timeout=5)
    print(f"\ncrash failover: new holder after {gap:.2f}s")
    assert gap <= CRASH_FAILOVER_BOUND_S
    poll(lambda: int(service_state(old)["NRestarts"]) > restarts and healthz(master_ip(old)), 30)


# ------------------------------------------------------------------ 6. unreachable master


def test_unreachable_master_fails_up_then_converges(deployed: LabStack) -> None:
    stack = deployed
    lab("stop-master", "master-2")
    try:
        cfg = dev_config()
        cfg["bareMetal"]["qps"] = 70
        stack.configure(cfg)
        with pytest.raises(auto.CommandError) as info:
            stack.up()
        text = str(info.value)
        assert "master-2" in text and ("10.231.0.12" in text or "dial" in text.lower())
        assert "qps: 70" in ssh("master-1", "cat /etc/kubernetes/scheduler/kube-scheduler.yaml")
        assert healthz(master_ip("master-1")) and healthz(master_ip("master-3"))
    finally:
        lab("start-master", "master-2")
    result = stack.up()
    assert result.summary.result == "succeeded"
    for m in MASTERS:
        assert "qps: 70" in ssh(m, "cat /etc/kubernetes/scheduler/kube-scheduler.yaml")
        assert service_state(m)["ActiveState"] == "active" and healthz(master_ip(m))
    assert set(changes(stack.up())) == {"same"}


# ------------------------------------------------------------------ 7. API server restart


def test_schedulers_recover_from_api_server_restart_by_themselves(deployed: LabStack, kube: Kube) -> None:
    leader = leader_master(kube)
    before = {m: service_state(m) for m in MASTERS}
    lab("restart-apiserver")
    poll(lambda: bool(kube.holder("kube-scheduler")), 60, interval=0.5)
    schedule_one(kube, timeout=30)
    schedule_one(kube, timeout=30, scheduler="custom-k8s-scheduler")
    after = {m: service_state(m) for m in MASTERS}
    for m in MASTERS:
        assert after[m]["ActiveState"] == "active" and healthz(master_ip(m)), m
        if m != leader:  # standbys ride it out in the same process
            assert after[m]["MainPID"] == before[m]["MainPID"], m
    # The leader exits when it cannot renew within renewDeadline (upstream behaviour);
    # Restart=always brings it back as a standby with no action from us.
    restarted = int(after[leader]["NRestarts"]) - int(before[leader]["NRestarts"])
    print(f"\nAPI server restart: leader {leader} restarted by systemd {restarted} time(s)")


# ------------------------------------------------------------------ 8. certificate rotation


def served_serial(ip: str) -> int:
    pem = ssl.get_server_certificate((ip, 10259))
    return x509.load_pem_x509_certificate(pem.encode()).serial_number


def test_certificate_rotation_rolls_new_certs(deployed: LabStack, kube: Kube) -> None:
    before = {m: served_serial(master_ip(m)) for m in MASTERS}
    state = deployed.stack.export_stack().deployment or {}
    # the certificate of each master, whichever backend issued it
    certs = [
        r["urn"] for r in state.get("resources", []) if re.search(r"::masters-master-\d+-cert$", r["urn"])
    ]
    assert len(certs) == 3
    with Monitor(kube) as mon:
        deployed.up(replace=certs)
    after = {m: served_serial(master_ip(m)) for m in MASTERS}
    for m in MASTERS:
        assert after[m] != before[m], f"{m} still serves the old certificate"
        on_disk = ssh(m, "cat /etc/kubernetes/scheduler/pki/kube-scheduler.crt")
        assert x509.load_pem_x509_certificate(on_disk.encode()).serial_number == after[m]
    assert mon.max_down <= 1


# ------------------------------------------------------------------ 10. secrets


FILE_MODES = {
    "/etc/kubernetes/scheduler/pki/kube-scheduler.key": "640 root:kube-scheduler",
    "/etc/kubernetes/scheduler/kube-scheduler.kubeconfig": "640 root:kube-scheduler",
    "/etc/kubernetes/scheduler/kube-scheduler.yaml": "640 root:kube-scheduler",
    "/etc/kubernetes/scheduler/pki/kube-scheduler.crt": "644 root:root",
    "/etc/kubernetes/scheduler/pki/ca.crt": "644 root:root",
    "/etc/systemd/system/kube-scheduler.service": "644 root:root",
    "/usr/local/bin/kube-scheduler": "755 root:root",
    "/etc/kubernetes/scheduler": "750 root:kube-scheduler",
}


def test_secrets_stay_secret_and_files_have_our_modes(deployed: LabStack) -> None:
    state = deployed.state_on_disk()
    assert "PRIVATE KEY" not in state and "ciphertext" in state
    printed = "".join(deployed.output)
    assert "PRIVATE KEY" not in printed and "client-key-data" not in printed
    for m in MASTERS:
        out = ssh(m, "stat -c '%n %a %U:%G' " + " ".join(FILE_MODES))
        got = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in out.splitlines()}
        assert got == FILE_MODES, m


def test_pinned_host_key_mismatch_refuses_to_connect(new_stack: Stacks) -> None:
    cfg = dev_config()
    hosts = cfg["bareMetal"]["hosts"]
    cfg["bareMetal"]["hosts"] = [hosts[0] | {"hostKeyFile": hosts[1]["hostKeyFile"]}]
    cfg["inCluster"] = {"enabled": False}
    s = new_stack("e2e-badkey", cfg)
    with pytest.raises(auto.CommandError) as info:
        s.up()
    pattern = r"Host key verification failed|host key mismatch|handshake failed"
    assert re.search(pattern, str(info.value)), str(info.value)[-1500:]


# ------------------------------------------------------------------ 11. hardening


def exposure(text: str) -> float:
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", text)
    assert match, text[-500:]
    return float(match.group(1))


def test_unit_exposure_score_and_restricted_pod_template(deployed: LabStack, kube: Kube) -> None:
    ours = exposure(
        ssh("master-1", "systemd-analyze security --no-pager kube-scheduler.service", check=False)
    )
    guide_path = "/root/guide-kube-scheduler.service"
    ssh("master-1", f"cat > {guide_path} <<'EOF'\n{GUIDE_UNIT}EOF")
    try:
        guide = exposure(
            ssh("master-1", f"systemd-analyze security --offline=yes --no-pager {guide_path}", check=False)
        )
    finally:
        ssh("master-1", f"rm -f {guide_path}")
    print(f"\nsystemd-analyze security: ours {ours}, guide unit {guide}")
    assert ours <= 2.0 < guide
    deployment = kube.read("/apis/apps/v1/namespaces/kube-system/deployments/custom-k8s-scheduler")
    template = deployment["spec"]["template"]
    ns = unique("psa-restricted")
    kube.request(
        "POST",
        "/api/v1/namespaces",
        {"metadata": {"name": ns, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
    )
    try:
        # the pod's ServiceAccount must exist for admission to get as far as Pod Security
        sa = template["spec"]["serviceAccountName"]
        kube.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": sa}})
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "template"}, "spec": template["spec"]}
        kube.request("POST", f"/api/v1/namespaces/{ns}/pods?dryRun=All", pod)
        # control: the same check rejects a container-level runAsNonRoot: false
        # (docs/sources.md#defect-run-as-non-root)
        bad = json.loads(json.dumps(pod))
        bad["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = False
        with pytest.raises(ApiError, match="violates PodSecurity"):
            kube.request("POST", f"/api/v1/namespaces/{ns}/pods?dryRun=All", bad)
    finally:
        kube.request("DELETE", f"/api/v1/namespaces/{ns}")


# ------------------------------------------------------------------ 12. bad input


BAD_INPUT = [
    ("kubernetesVersion", "1.20.0", "supported: 1.29 to 1.37"),
    ("bareMetal.hosts.1.name", "master-1", "unique name"),
    ("bareMetal.hosts.0.hostKeyFile", None, "pinned SSH public key"),
    ("inCluster.replicas", 0, "expected a whole number from 1 to 2147483647, got 0"),
    ("caKeyFile", "SSH_KEY", "expected an unencrypted PEM private key"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_fails_preview_and_creates_nothing(
    new_stack: Stacks, path: str, value: Any, message: str
) -> None:
    cfg = dev_config()
    node: Any = cfg
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is None:
        del node[parts[-1]]
    else:
        node[parts[-1]] = facts()["ssh"]["private_key"] if value == "SSH_KEY" else value
    s = new_stack("e2e-bad", cfg)
    with pytest.raises(auto.CommandError) as info:
        s.preview()
    assert message in str(info.value)
    assert len((s.stack.export_stack().deployment or {}).get("resources", [])) == 0


# ------------------------------------------------------------------ 9. destroy (last)


def test_destroy_leaves_nothing_behind(deployed: LabStack, kube: Kube) -> None:
    deployed.destroy()
    for m in MASTERS:
        out = ssh(
            m,
            "ls /etc/kubernetes /usr/local/bin/kube-scheduler"
            " /etc/systemd/system/kube-scheduler.service /var/lib/kube-scheduler-pulumi 2>&1;"
            " id kube-scheduler 2>&1; systemctl is-enabled kube-scheduler.service 2>&1",
            check=False,
        )
        for path in (
            "/etc/kubernetes",
            "/usr/local/bin/kube-scheduler",
            "/etc/systemd/system/kube-scheduler.service",
            "/var/lib/kube-scheduler-pulumi",
        ):
            assert f"cannot access '{path}': No such file" in out, f"{m}: {out}"
        assert "no such user" in out, f"{m}: {out}"
        assert "Failed to get unit file state for kube-scheduler.service" in out, f"{m}: {out}"
    for path in (
        "/api/v1/namespaces/kube-system/serviceaccounts/custom-k8s-scheduler",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/custom-k8s-scheduler",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/custom-k8s-scheduler",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/custom-k8s-scheduler-as-volume-scheduler",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings/custom-k8s-scheduler-auth-reader",
        "/apis/apps/v1/namespaces/kube-system/deployments/custom-k8s-scheduler",
        "/apis/policy/v1/namespaces/kube-system/poddisruptionbudgets/custom-k8s-scheduler",
        "/api/v1/namespaces/default/pods/custom-k8s-scheduler-sample",
    ):
        obj = kube.get(path)
        assert obj is None or obj.get("metadata", {}).get("deletionTimestamp"), path
    left = kube.items(f"/api/v1/namespaces/{NS}/configmaps?labelSelector={SELECTOR}")
    assert [c for c in left if not c["metadata"].get("deletionTimestamp")] == []
