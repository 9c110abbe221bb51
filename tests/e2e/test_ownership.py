"""The stack touches only what it owns (issue: ownership), in the lab, with real binaries:

- renaming every host at once, then moving `paths.configDir`: one `make up` each, every master's
  service active throughout (sampled twice a second), at most one restarting at a time;
- an object that exists, is not ours and has the name ours would have: preview and up fail naming
  it, nothing is created or changed; once it is gone `up` succeeds; `destroy` refuses an object
  that lost our ownership;
- a master with a kube-scheduler installed by hand the way the guides do it: refused without
  `takeOver`, taken over with it, one hand-over of the lease.

One bare-metal stack for the module; each test first converges it to the layout it starts from
(`converge`: nothing changes when the test before left it there).
"""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pulumi import automation as auto

from components.config.schema import BareMetal
from components.render.master import unit_spec
from components.render.systemd_unit import scheduler_flags
from components.render.versions import parse_kube_version
from harness.kube import Kube
from harness.lab import LAB, MASTERS, dev_config, facts, lab, poll
from harness.ssh import ssh, ssh_argv
from harness.stacks import LabStack, Stacks, changes
from harness.watch import RELEASE_FAILOVER_BOUND_S, Monitor, ServiceWatch
from scripts.stack import deploy

pytestmark = pytest.mark.lab


def as_deployed() -> dict[str, Any]:
    """The dev stack's masters, bare-metal only."""
    cfg = dev_config()
    cfg["inCluster"] = {"enabled": False}
    return cfg


def renamed() -> dict[str, Any]:
    """Every host renamed: same machines, same addresses."""
    cfg = as_deployed()
    for i, host in enumerate(cfg["bareMetal"]["hosts"]):
        host["name"] = f"control-{i + 1}"
    return cfg


def moved() -> dict[str, Any]:
    """Renamed, and `paths.configDir` moved."""
    cfg = renamed()
    cfg["bareMetal"]["paths"] = {"configDir": "/etc/kubernetes/kube-scheduler"}
    return cfg


@pytest.fixture(scope="module")
def stack(module_stacks: Stacks) -> LabStack:
    return module_stacks("ownership", as_deployed())


def converge(stack: LabStack, cfg: dict[str, Any]) -> None:
    """One `make up` of `cfg`: the stack converged to it (nothing changes when it already is)."""
    stack.configure(cfg)
    assert deploy(stack.stack, stack.output.append).summary.result == "succeeded"


def converge_watched(stack: LabStack, kube: Kube, cfg: dict[str, Any]) -> tuple[ServiceWatch, Monitor]:
    """One `make up` of `cfg` while every master's service and the lease are watched."""
    stack.configure(cfg)
    with ServiceWatch() as watch, Monitor(kube) as mon:
        result = deploy(stack.stack, stack.output.append)
    assert result.summary.result == "succeeded"
    assert set(changes(deploy(stack.stack, stack.output.append))) == {"same"}, "not converged in one up"
    assert watch.sampled_every() <= 1.0
    return watch, mon


def running_argv(master: str) -> list[str]:
    pid = ssh(master, "systemctl show -p MainPID --value kube-scheduler.service")
    return ssh(master, f"tr '\\0' '\\n' </proc/{pid}/cmdline").splitlines()


def test_renaming_every_host_keeps_every_master_scheduling(stack: LabStack, kube: Kube) -> None:
    converge(stack, as_deployed())
    watch, mon = converge_watched(stack, kube, renamed())
    print(
        f"\nrename: longest a master was not active {watch.longest_down():.1f}s; "
        f"most down at once {watch.most_down_at_once()}; longest leaderless {mon.longest_leaderless:.2f}s"
    )
    assert watch.most_down_at_once() <= 1
    assert watch.longest_down() <= 5.0  # one restart, never left stopped
    assert mon.max_down <= 1
    for m in MASTERS:
        assert ssh(m, "systemctl is-active kube-scheduler.service") == "active"


def test_moving_the_config_dir_keeps_every_master_scheduling(stack: LabStack, kube: Kube) -> None:
    converge(stack, renamed())
    watch, mon = converge_watched(stack, kube, moved())
    assert watch.most_down_at_once() <= 1
    assert watch.longest_down() <= 5.0
    assert mon.max_down <= 1
    for m in MASTERS:
        argv = running_argv(m)
        assert "--config=/etc/kubernetes/kube-scheduler/kube-scheduler.yaml" in argv, argv
        # the old directory is gone (it was ours and empty), the new one holds the files
        listing = ssh(m, "ls /etc/kubernetes; ls /etc/kubernetes/kube-scheduler/pki")
        assert listing.split() == ["kube-scheduler", "ca.crt", "kube-scheduler.crt", "kube-scheduler.key"]


def test_every_rendered_flag_is_what_the_process_runs(stack: LabStack) -> None:
    cfg = moved()
    converge(stack, cfg)
    # the unit's inputs as the program makes them from the stack's bareMetal settings
    settings = BareMetal.model_validate(
        {k: v for k, v in cfg["bareMetal"].items() if k not in ("hosts", "binary")}
    )
    spec = unit_spec(settings, parse_kube_version(cfg["kubernetesVersion"]))
    assert spec.config_path == "/etc/kubernetes/kube-scheduler/kube-scheduler.yaml"
    for m in MASTERS:
        assert running_argv(m) == [spec.binary_path, *scheduler_flags(spec)]
        # the unit as installed passes systemd's own check
        ssh(m, "systemd-analyze verify /etc/systemd/system/kube-scheduler.service")


def test_a_unit_says_exactly_its_arguments_whatever_they_hold(lab_up: None) -> None:
    """The escaping the unit renderer applies (systemd_unit.exec_line), against systemd itself:
    arguments with spaces, specifiers, variables, quotes and backslashes arrive as written."""
    from components.render.systemd_unit import exec_line

    hostile = ["a b", "100%", "%i%n", "$HOME", "${PATH}", 'say "hi"', "back\\slash", "--x=y z", "it's"]
    argv = ["/bin/sh", "-c", 'printf "%s\\n" "$@" >/run/ksched-argv', "sh", *hostile]
    unit = f"[Service]\nType=oneshot\nExecStart={exec_line(argv)}\n"
    out = ssh(
        "master-1",
        "cat >/run/systemd/system/ksched-argv.service <<'EOF'\n" + unit + "EOF\n"
        "systemctl daemon-reload && systemctl start ksched-argv.service && cat /run/ksched-argv; "
        "rm -f /run/systemd/system/ksched-argv.service /run/ksched-argv; systemctl daemon-reload",
    )
    assert out.splitlines() == hostile


# ------------------------------------------------------------------ cluster objects not ours


def _cluster_only(name: str) -> dict[str, Any]:
    cfg = dev_config()
    cfg["bareMetal"] = {"enabled": False}
    cfg["inCluster"] = {
        "enabled": True,
        "schedulerName": name,
        "createSamplePod": False,
        "waitForReady": False,
    }
    return cfg


def test_an_object_that_is_not_ours_is_refused_until_it_is_gone(new_stack: Stacks, kube: Kube) -> None:
    name = "taken-scheduler"
    role = f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"
    kube.request(
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        {"metadata": {"name": name}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
    )
    before = kube.read(role)
    s = new_stack("ownership-cluster", _cluster_only(name))
    try:
        for attempt in (s.preview, s.up):
            with pytest.raises(auto.CommandError) as info:
                attempt()
            text = str(info.value)
            assert (
                f"kube-scheduler:inCluster.schedulerName: '{name}' would take over ClusterRole {name}" in text
            )
        # nothing created, nothing changed
        made = (s.stack.export_stack().deployment or {}).get("resources", [])
        assert [r["type"] for r in made if r["type"] != "pulumi:pulumi:Stack"] == []
        assert kube.get(f"/api/v1/namespaces/kube-system/serviceaccounts/{name}") is None
        assert kube.read(role)["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
        kube.request("DELETE", role)
        assert s.up().summary.result == "succeeded"
        assert kube.read(role)["metadata"]["annotations"]["kube-scheduler-pulumi/owner"].endswith(
            "/ownership-cluster"
        )
        # an object that lost our ownership is not deleted: destroy fails naming it
        kube.patch(role, {"metadata": {"annotations": {"kube-scheduler-pulumi/owner": None}}})
        with pytest.raises(auto.CommandError) as info:
            s.destroy()
        assert f"refusing to delete ClusterRole {name}, which this stack did not make" in str(info.value)
        assert kube.get(role) is not None
        kube.patch(
            role,
            {"metadata": {"annotations": {"kube-scheduler-pulumi/owner": f"kube-scheduler/{s.stack.name}"}}},
        )
        s.destroy()
        assert kube.get(role) is None
    finally:
        if kube.get(role) is not None:
            kube.request("DELETE", role)


# ------------------------------------------------------------------ a master installed by hand


def _hand_made_pki() -> tuple[str, str]:
    """A scheduler certificate as the guides make it with cfssl: CN and O system:kube-scheduler,
    signed by the cluster CA."""
    ca = x509.load_pem_x509_certificate((LAB / "pki" / "ca.crt").read_bytes())
    ca_key: Any = serialization.load_pem_private_key((LAB / "pki" / "ca.key").read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "system:kube-scheduler"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:kube-scheduler"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), pem.decode()


def install_by_hand(master: str) -> None:
    """Kubernetes the Hard Way's steps for the scheduler, as a user typed them: the binary in
    /usr/local/bin, the kubeconfig in /var/lib/kubernetes, the config in /etc/kubernetes/config,
    the unit in /etc/systemd/system, started."""
    cert, key = _hand_made_pki()
    ca = (LAB / "pki" / "ca.crt").read_text()
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kthw", "cluster": {
            "certificate-authority-data": base64.b64encode(ca.encode()).decode(),
            "server": facts()["api_server"]["url"]}}],
        "users": [{"name": "system:kube-scheduler", "user": {
            "client-certificate-data": base64.b64encode(cert.encode()).decode(),
            "client-key-data": base64.b64encode(key.encode()).decode()}}],
        "contexts": [{"name": "default", "context": {"cluster": "kthw", "user": "system:kube-scheduler"}}],
        "current-context": "default",
    }  # fmt: skip
    config = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": "/var/lib/kubernetes/kube-scheduler.kubeconfig"},
        "leaderElection": {"leaderElect": True},
    }
    unit = (
        "[Unit]\nDescription=Kubernetes Scheduler\n\n[Service]\n"
        "ExecStart=/usr/local/bin/kube-scheduler --config=/etc/kubernetes/config/kube-scheduler.yaml --v=2\n"
        "Restart=on-failure\nRestartSec=5\n\n[Install]\nWantedBy=multi-user.target\n"
    )
    binary = Path(facts()["binaries"]["kube-scheduler"]).read_bytes()
    put = "cat >/usr/local/bin/kube-scheduler && chmod +x /usr/local/bin/kube-scheduler"
    subprocess.run([*ssh_argv(master), put], input=binary, check=True, timeout=60)
    ssh(
        master,
        "mkdir -p /var/lib/kubernetes /etc/kubernetes/config\n"
        f"cat >/var/lib/kubernetes/kube-scheduler.kubeconfig <<'EOF'\n{yaml.safe_dump(kubeconfig)}EOF\n"
        f"cat >/etc/kubernetes/config/kube-scheduler.yaml <<'EOF'\n{yaml.safe_dump(config)}EOF\n"
        f"cat >/etc/systemd/system/kube-scheduler.service <<'EOF'\n{unit}EOF\n"
        "systemctl daemon-reload && systemctl enable --now kube-scheduler",
    )


def test_a_master_installed_by_hand_is_taken_over_explicitly(stack: LabStack, kube: Kube) -> None:
    master = "master-3"
    cfg = moved()
    converge(stack, cfg)
    lab("rebuild-master", master, timeout=600)  # a machine with nothing of ours on it
    install_by_hand(master)
    # the hand-made scheduler leads: the others stand by, as in a cluster that ran on it
    for m in MASTERS[:2]:
        ssh(m, "systemctl stop kube-scheduler.service")
    poll(lambda: kube.holder("kube-scheduler").startswith(f"{master}_"), 60)
    for m in MASTERS[:2]:
        ssh(m, "systemctl start kube-scheduler.service")
    # without takeOver: refused at preview, naming the host and what is there, nothing touched
    with pytest.raises(auto.CommandError) as info:
        stack.preview()
    text = str(info.value)
    assert (
        "kube-scheduler:bareMetal.hosts[2].takeOver: control-3 (10.231.0.13) already runs a kube-scheduler"
        in text
    )
    assert (
        "unit /etc/systemd/system/kube-scheduler.service" in text
        and "binary /usr/local/bin/kube-scheduler" in text
    )
    theirs = running_argv(master)
    assert theirs[1] == "--config=/etc/kubernetes/config/kube-scheduler.yaml"
    # with it: moved to our layout, one master at a time, one hand-over of the lease
    cfg["bareMetal"]["hosts"][2]["takeOver"] = True
    watch, mon = converge_watched(stack, kube, cfg)
    print(
        f"\ntake-over: longest leaderless {mon.longest_leaderless:.2f}s, "
        f"most down at once {watch.most_down_at_once()}"
    )
    assert mon.longest_leaderless <= RELEASE_FAILOVER_BOUND_S
    assert watch.most_down_at_once() <= 1
    assert running_argv(master)[1] == "--config=/etc/kubernetes/kube-scheduler/kube-scheduler.yaml"
    unit = ssh(master, "systemctl cat kube-scheduler.service")
    assert "ProtectSystem=strict" in unit and "/etc/kubernetes/config" not in unit
    # the guide's other files are the user's to remove: left as they were
    left = "/etc/kubernetes/config/kube-scheduler.yaml /var/lib/kubernetes/kube-scheduler.kubeconfig"
    assert ssh(master, f"ls {left}").split() == left.split()
    # and the next preview finds nothing foreign any more
    assert set(changes(deploy(stack.stack, stack.output.append))) == {"same"}
