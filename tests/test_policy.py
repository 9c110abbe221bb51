"""The policy pack (policy/): its checks as tables, then the real CLI running it.

Tables call policy/rules.py directly. The toolchain tests run preview/up with the pack through the
Automation API and a temporary file backend, each in a child process: programs that break the
rules (render-only Kubernetes provider, the builtin dynamic command resources; nothing is dialled)
must fail with each rule named on the right resource; a dev-stack program inside the rules must
pass; and this project's own program in render mode must pass `up` and a second `preview`, so the
checks see the real keys, kubeconfigs and manifests.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pulumi import automation as auto

from plumbing.pulumi_wire import UNKNOWN_STRING, secret
from policy import rules

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policy"
PASSPHRASE = "policy-test-passphrase"
# Made at import, never committed; the rules only look at its shape.
KEY = (
    ed25519.Ed25519PrivateKey.generate()
    .private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    .decode()
)
KUBECONFIG = (
    "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n"
    "    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0t\n"
)


# ---- rule tables (no toolchain) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rtype", "props", "expected"),
    [
        ("command:local:Command", {"create": "cat", "stdin": KEY}, ["stdin holds a private key"]),
        ("command:local:Command", {"create": "cat", "stdin": secret(KEY)}, []),
        ("command:remote:Command", {"stdin": KUBECONFIG, "connection": secret({})}, ["stdin holds"]),
        ("command:remote:Command", {"create": f"echo '{KEY}' > k"}, ["create holds"]),
        ("command:local:Command", {"environment": {"K": KEY}}, ["environment.K holds"]),
        ("command:local:Command", {"create": "grep -q 'PRIVATE KEY' f"}, []),  # a mention, not a key
        (
            "command:remote:Command",
            {"connection": {"host": "h", "privateKey": "x"}},
            ["connection.privateKey"],
        ),
        ("command:remote:Command", {"connection": secret({"host": "h", "privateKey": "x"})}, []),
        ("command:remote:Command", {"connection": {"host": "h", "privateKey": secret("x")}}, []),
        ("kubernetes:core/v1:Secret", {"stringData": {"k": KEY}}, ["stringData.k holds"]),
        ("kubernetes:core/v1:Secret", {"data": secret({"k": base64.b64encode(KEY.encode()).decode()})}, []),
        ("kubernetes:core/v1:Secret", {"data": {"k": base64.b64encode(KEY.encode()).decode()}}, ["data.k"]),
        (
            "kubernetes:core/v1:ConfigMap",
            {"data": {"kc": KUBECONFIG}},
            ["ConfigMap data.kc", "data.kc holds"],
        ),
        ("kubernetes:core/v1:ConfigMap", {"data": secret({"kc": KUBECONFIG})}, ["ConfigMap data.kc"]),
        ("kubernetes:core/v1:ConfigMap", {"data": {"config.yaml": "kind: KubeSchedulerConfiguration"}}, []),
        ("pulumi:providers:kubernetes", {"kubeconfig": KUBECONFIG}, ["kubeconfig holds"]),
        ("pulumi:providers:kubernetes", {"kubeconfig": secret(KUBECONFIG)}, []),
        ("command:local:Command", {"stdin": UNKNOWN_STRING}, []),  # unknown
        (rules.DYNAMIC_TYPE, {"stdin": KEY, "connection": None, "__provider": "gASV"}, ["stdin holds"]),
        (rules.DYNAMIC_TYPE, {"connection": {"host": "h", "private_key": "k"}}, ["connection.private_key"]),
        (rules.DYNAMIC_TYPE, {"connection": {"host": "h", "private_key": secret(KEY)}}, []),
    ],
)
def test_key_material_rule(rtype: str, props: dict[str, Any], expected: list[str]) -> None:
    got = rules.key_material_violations(rtype, rules.decode(props))
    assert len(got) == len(expected), got
    for message, start in zip(sorted(got), sorted(expected), strict=True):
        assert message.startswith(start), (message, start)


@pytest.mark.parametrize(
    ("rtype", "outputs", "expected"),
    [
        ("tls:index/privateKey:PrivateKey", {"privateKeyPem": KEY, "publicKeyPem": "p"}, 2),
        (
            "tls:index/privateKey:PrivateKey",
            {"privateKeyPem": secret(KEY), "privateKeyOpenssh": secret("o")},
            0,
        ),
        ("tls:index/privateKey:PrivateKey", {"privateKeyPem": UNKNOWN_STRING}, 0),
        ("command:local:Command", {"stdout": KEY, "stdin": KEY}, 1),  # stdin: the resource rule's
        ("pulumi:pulumi:Stack", {"kubeconfig": KUBECONFIG}, 1),
        ("pulumi:pulumi:Stack", {"kubeconfig": secret(KUBECONFIG)}, 0),
        ("kubernetes:core/v1:ConfigMap", {"data": {"kc": KUBECONFIG}}, 0),  # the resource rule's
        (rules.DYNAMIC_TYPE, {"private_key_pem": KEY, "cert_pem": "c"}, 1),
        (rules.DYNAMIC_TYPE, {"private_key_pem": secret(KEY), "stdin": KEY}, 0),
    ],
)
def test_key_material_outputs_rule(rtype: str, outputs: dict[str, Any], expected: int) -> None:
    assert len(rules.output_key_material_violations(rtype, rules.decode(outputs))) == expected


def _remote(conn: dict[str, Any]) -> dict[str, Any]:
    return {"create": "true", "connection": secret(conn)}


@pytest.mark.parametrize(
    ("rtype", "props", "stack", "expected"),
    [
        ("command:remote:Command", _remote({"host": "10.0.0.1"}), "prod", 1),
        ("command:remote:Command", _remote({"host": "10.0.0.1", "hostKey": ""}), None, 1),
        ("command:remote:CopyToRemote", _remote({"host": "10.0.0.1"}), "staging", 1),
        ("command:remote:Command", _remote({"host": "10.0.0.1"}), "dev", 0),
        ("command:remote:Command", _remote({"host": "h", "hostKey": "ssh-ed25519 AAAA"}), "prod", 0),
        ("command:remote:Command", _remote({"host": "h", "hostKey": "k", "proxy": {"host": "b"}}), "prod", 1),
        (
            "command:remote:Command",
            _remote({"host": "h", "hostKey": UNKNOWN_STRING}),
            "p",
            0,
        ),
        ("command:local:Command", {"create": "true"}, "prod", 0),
        (rules.DYNAMIC_TYPE, {"connection": {"host": "h", "host_key": None}}, "prod", 1),
        (rules.DYNAMIC_TYPE, {"connection": {"host": "h", "host_key": "ssh-ed25519 AAAA"}}, "prod", 0),
        (rules.DYNAMIC_TYPE, {"connection": None, "create": "true"}, "prod", 0),
        (rules.DYNAMIC_TYPE, {"connection": {"host": "h"}}, "dev", 0),
    ],
)
def test_ssh_host_key_rule(rtype: str, props: dict[str, Any], stack: str | None, expected: int) -> None:
    assert len(rules.ssh_host_key_violations(rtype, rules.decode(props), stack)) == expected


RESTRICTED_CONTAINER: dict[str, Any] = {
    "name": "c",
    "image": "i",
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
    },
}
RESTRICTED_POD: dict[str, Any] = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [RESTRICTED_CONTAINER],
    "volumes": [{"name": "cfg", "configMap": {"name": "x"}}],
}


def _pod(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = copy.deepcopy(RESTRICTED_POD)
    container = spec["containers"][0]
    for key, value in changes.items():
        if key.startswith("c_"):
            container["securityContext"][key[2:]] = value
        elif key == "ports":
            container["ports"] = value
        else:
            spec[key] = value
    return spec


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (RESTRICTED_POD, []),
        (_pod(hostNetwork=True), ["hostNetwork"]),
        (_pod(hostPID=True, hostIPC=True), ["hostPID", "hostIPC"]),
        (_pod(volumes=[{"name": "h", "hostPath": {"path": "/"}}]), ["volume 'h' uses hostPath"]),
        (_pod(ports=[{"containerPort": 80, "hostPort": 80}]), ["hostPort 80"]),
        (_pod(c_privileged=True), ["privileged"]),
        (_pod(c_allowPrivilegeEscalation=None), ["allowPrivilegeEscalation"]),
        (_pod(c_capabilities={"drop": ["NET_RAW"]}), ["capabilities.drop"]),
        (_pod(c_capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}), ["capabilities.add"]),
        (_pod(securityContext={"seccompProfile": {"type": "RuntimeDefault"}}), ["runAsNonRoot"]),
        (_pod(c_runAsNonRoot=False), ["runAsNonRoot"]),
        (_pod(securityContext={"runAsNonRoot": True}), ["seccompProfile"]),
        (_pod(c_seccompProfile={"type": "Unconfined"}), ["seccompProfile.type 'Unconfined'"]),
        (_pod(c_runAsUser=0), ["runAsUser"]),
    ],
)
def test_pod_security_rule(spec: dict[str, Any], expected: list[str]) -> None:
    got = rules.pod_security_violations("kubernetes:core/v1:Pod", {"spec": spec})
    assert len(got) == len(expected), got
    for message, part in zip(got, expected, strict=True):
        assert part in message, (message, part)
    deployment = {"spec": {"template": {"spec": spec}}}
    assert rules.pod_security_violations("kubernetes:apps/v1:Deployment", deployment) == got


def test_pod_security_uses_this_projects_specs() -> None:
    from components.render.in_cluster import InClusterSpec, deployment_spec, sample_pod

    spec = InClusterSpec(
        name="s", namespace="kube-system", replicas=2, image="registry.k8s.io/kube-scheduler:v1.34.2",
        config_map_name="s-config", excluded_node_label_keys=("karpenter.sh/nodepool",), cpu="500m",
        memory="512Mi", verbosity=2, service_account="s", version_label="v1.34.2", liveness_path="/livez",
        readiness_path="/readyz",
    )  # fmt: skip
    assert rules.check_pod_spec(deployment_spec(spec)["template"]["spec"]) == []
    assert rules.check_pod_spec(sample_pod("s", "s-sample")["spec"]) == []


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}, 0),
        ({"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]}, 1),
        ({"apiGroups": [""], "resources": ["pods/*"], "verbs": ["*"]}, 2),
        ({"apiGroups": [""], "resources": ["leases"], "verbs": ["get"], "resourceNames": ["*"]}, 1),
    ],
)
def test_rbac_wildcard_rule(rule: dict[str, Any], expected: int) -> None:
    for rtype in sorted(rules.RBAC_TYPES):
        assert len(rules.rbac_wildcard_violations(rtype, {"rules": [rule]})) == expected


# ---- the real CLI -------------------------------------------------------------------------------

# ---- the real CLI -------------------------------------------------------------------------------
# Each run is a child process (`python -m tests.test_policy ...`, see _main): inline programs share
# their process's Pulumi runtime, which a run that a policy aborted leaves unusable. The programs
# use what the offline toolchain has: the kubernetes plugin and the builtin dynamic providers
# (components/builtin.py) instead of pulumi-command/pulumi-tls.

PLUGIN_VERSION = "3.259.0"
ANALYZER = POLICY / "bin" / "pulumi-analyzer-policy-python"


def _commands_breaking_the_rules(tmp: Path) -> None:
    from components import builtin

    builtin.SshCommand("leaky-stdin", None, create="cat >/dev/null", stdin=KEY)
    builtin.SshCommand("kept-secret", None, create="cat >/dev/null", stdin=pulumi.Output.secret(KEY))
    # preview never dials it
    builtin.SshCommand("unpinned", {"host": "127.0.0.1", "user": "nobody", "host_key": None}, create="true")


def _kubernetes_breaking_the_rules(tmp: Path) -> None:
    import pulumi_kubernetes as k8s

    # No cluster: this provider only writes YAML, and preview writes nothing.
    provider = k8s.Provider("render", render_yaml_to_directory=str(tmp / "out"))
    render = pulumi.ResourceOptions(provider=provider)
    k8s.core.v1.ConfigMap("keys-in-configmap", data={"kubeconfig": KUBECONFIG}, opts=render)
    k8s.core.v1.ConfigMap(
        "plain-config", data={"config.yaml": "kind: KubeSchedulerConfiguration"}, opts=render
    )
    privileged = copy.deepcopy(RESTRICTED_POD)
    privileged["containers"][0]["securityContext"]["privileged"] = True
    template = {"metadata": {"labels": {"app": "p"}}, "spec": privileged}
    k8s.apps.v1.Deployment(
        "privileged", spec={"selector": {"matchLabels": {"app": "p"}}, "template": template}, opts=render
    )
    k8s.core.v1.Pod("host-network", spec={**RESTRICTED_POD, "hostNetwork": True}, opts=render)
    k8s.core.v1.Pod("restricted", spec=RESTRICTED_POD, opts=render)
    star = {"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}
    k8s.rbac.v1.ClusterRole("star", rules=[star], opts=render)
    k8s.rbac.v1.Role("narrow", rules=[{**star, "resources": ["pods"]}], opts=render)


def _command_printing_a_key(tmp: Path) -> None:
    from components import builtin

    builtin.SshCommand("prints-key", None, create="cat", stdin=pulumi.Output.secret(KEY))


def _within_the_rules_on_dev(tmp: Path) -> None:
    from components import builtin

    builtin.SshCommand("kept-secret", None, create="cat >/dev/null", stdin=pulumi.Output.secret(KEY))
    builtin.SshCommand("unpinned-on-dev", {"host": "127.0.0.1", "host_key": None}, create="true")


PROGRAMS: dict[str, Callable[[Path], None]] = {
    "commands": _commands_breaking_the_rules,
    "kubernetes": _kubernetes_breaking_the_rules,
    "prints-key": _command_printing_a_key,
    "dev": _within_the_rules_on_dev,
}


def _this_program_stack(tmp: Path, apply_without_host_keys: bool = False) -> auto.Stack:
    from components.stack import program
    from tests.support import configure_stack, make_pki

    work = tmp / "project"
    work.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", work / "Pulumi.yaml")
    stack = auto.Stack.create("staging", auto.LocalWorkspace(work_dir=str(work), program=program))
    pki = make_pki()
    hosts = [{"name": f"master-{i}", "address": f"10.231.0.{10 + i}"} for i in (1, 2)]
    config = {
        "kubernetesVersion": "1.34.2",
        "apiServerUrl": "https://10.231.0.1:6443",
        "caCert": pki.ca_cert,
        "caKey": pki.ca_key,
        "outputMode": "render",
        "resourceBackend": "builtin",
        "renderDir": str(tmp / "out"),
        "bareMetal": {"enabled": True, "hosts": hosts},
        "inCluster": {"enabled": True, "waitForReady": False},
    }
    if apply_without_host_keys:  # preview only: nothing is dialled
        config |= {
            "outputMode": "apply",
            "sshPrivateKey": pki.ssh_key,
            "bareMetal": {
                "enabled": True,
                "hosts": [{"name": f"master-{i}", "address": f"127.0.0.{10 + i}"} for i in (1, 2)],
                "insecureSkipHostKeyCheck": True,
                "binary": {
                    "url": "https://dl.k8s.io/v{version}/bin/linux/amd64/kube-scheduler",
                    "sha256": "ab" * 32,
                },
            },
            "inCluster": {"enabled": False},
        }
    configure_stack(stack, config, secret=frozenset({"caKey", "sshPrivateKey"}))
    return stack


def _main(stack_name: str, scenario: str, tmp: Path) -> None:
    """Child process: run one scenario with the pack, print its policy events as JSON."""
    events: list[auto.EngineEvent] = []
    packs = [str(POLICY)]
    error = ""
    if scenario == "ours":
        # up: Analyze sees the real keys and kubeconfigs; preview after it: AnalyzeStack sees
        # every output from the state.
        stack = _this_program_stack(tmp)
        try:
            stack.up(policy_packs=packs, color="never", on_event=events.append)
            rendered = tmp / "out/hosts/master-1/etc/kubernetes/scheduler/pki/kube-scheduler.key"
            assert rendered.exists(), "render mode wrote no key"
            stack.preview(policy_packs=packs, color="never", on_event=events.append)
        except auto.CommandError as e:
            error = str(e)
        finally:
            stack.destroy(color="never")
            stack.workspace.remove_stack(stack.name, force=True)
    elif scenario == "ours-unpinned":
        stack = _this_program_stack(tmp, apply_without_host_keys=True)
        try:
            stack.preview(policy_packs=packs, color="never", on_event=events.append)
        except auto.CommandError as e:
            error = str(e)
        finally:
            stack.workspace.remove_stack(stack.name, force=True)
    else:
        work = tmp / "work"
        work.mkdir()
        program = PROGRAMS[scenario]
        stack = auto.create_stack(
            stack_name,
            project_name="policy-test",
            program=lambda: program(tmp),
            opts=auto.LocalWorkspaceOptions(work_dir=str(work)),
        )
        try:
            if scenario == "prints-key":
                try:
                    stack.up(policy_packs=packs, color="never", on_event=events.append)
                finally:
                    stack.destroy(color="never")
            else:
                stack.preview(policy_packs=packs, color="never", on_event=events.append)
        except auto.CommandError as e:
            error = str(e)
        finally:
            stack.workspace.remove_stack(stack_name, force=True)
    result = {
        "error": error,
        "events": [
            [p.policy_name, p.enforcement_level, (p.resource_urn or "").rsplit("::", 1)[-1], p.message]
            for p in (e.policy_event for e in events)
            if p is not None
        ],
    }
    print("RESULT " + json.dumps(result))


class Run:
    def __init__(self, error: str, events: list[list[str]]) -> None:
        self.error = error
        self.events = events

    @property
    def violations(self) -> set[tuple[str, str]]:
        """(policy name, resource name) of every mandatory violation."""
        return {(name, resource) for name, level, resource, _ in self.events if level == "mandatory"}

    def said(self, part: str) -> bool:
        return any(part in message for *_, message in self.events)


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of the child runs; policy/.venv and the analyzer plugin made if missing."""
    assert shutil.which("pulumi"), "pulumi not on PATH: run `make setup` (or source scripts/env.sh)"
    subprocess.run(["bash", str(POLICY / "setup.sh")], check=True, timeout=300, stdout=subprocess.DEVNULL)
    plugins = subprocess.run(["pulumi", "plugin", "ls", "--json"], check=True, capture_output=True, text=True)
    have = {(p["kind"], p["name"], p.get("version")) for p in json.loads(plugins.stdout or "[]")}
    if ("analyzer", "policy-python", PLUGIN_VERSION) not in have:  # normally scripts/toolchain.sh's job
        subprocess.run(
            [
                "pulumi",
                "plugin",
                "install",
                "analyzer",
                "policy-python",
                PLUGIN_VERSION,
                "--file",
                str(ANALYZER),
            ],
            check=True,
            capture_output=True,
        )
    state = tmp_path_factory.mktemp("policy-state")
    return {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PYTHONPATH": str(ROOT),  # the dynamic providers' process imports components.builtin
    }


def _run(stack_name: str, scenario: str, env: dict[str, str], tmp: Path) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.test_policy", stack_name, scenario, str(tmp)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    return Run(result["error"], result["events"])


@pytest.mark.toolchain
def test_preview_fails_on_plain_keys_and_unpinned_ssh(cli_env: dict[str, str], tmp_path: Path) -> None:
    run = _run("staging", "commands", cli_env, tmp_path)
    assert run.error, "preview passed"
    assert run.violations == {(rules.KEY_MATERIAL, "leaky-stdin"), (rules.SSH_HOST_KEY, "unpinned")}
    assert run.said("'127.0.0.1' has no hostKey") and run.said("stack 'staging'"), run.events


@pytest.mark.toolchain
def test_preview_fails_on_kubernetes_violations(cli_env: dict[str, str], tmp_path: Path) -> None:
    run = _run("staging", "kubernetes", cli_env, tmp_path)
    assert run.error, "preview passed"
    assert run.violations == {
        (rules.KEY_MATERIAL, "keys-in-configmap"),
        (rules.POD_SECURITY, "privileged"),
        (rules.POD_SECURITY, "host-network"),
        (rules.RBAC_WILDCARDS, "star"),
    }
    for part in ("privileged must not", "hostNetwork must not", "resources contains a wildcard"):
        assert run.said(part), (part, run.events)
    assert not (tmp_path / "out").exists()  # preview wrote nothing


@pytest.mark.toolchain
def test_up_fails_when_an_output_holds_a_plain_key(cli_env: dict[str, str], tmp_path: Path) -> None:
    """Stack validation runs on outputs: `cat` of a secret stdin makes a non-secret stdout."""
    run = _run("staging", "prints-key", cli_env, tmp_path)
    assert run.error, "up passed"
    assert run.violations == {(rules.KEY_MATERIAL_OUTPUTS, "prints-key")}


@pytest.mark.toolchain
def test_preview_passes_within_the_rules_on_dev(cli_env: dict[str, str], tmp_path: Path) -> None:
    run = _run("dev", "dev", cli_env, tmp_path)
    assert (run.error, run.events) == ("", [])


@pytest.mark.toolchain
def test_this_program_in_render_mode_passes(cli_env: dict[str, str], tmp_path: Path) -> None:
    run = _run("staging", "ours", cli_env, tmp_path)
    assert (run.error, run.events) == ("", [])


def test_policy_pack_files_agree() -> None:
    """PulumiPolicy.yaml runs policy/.venv; the pack pins pulumi as the project does."""
    text = (POLICY / "PulumiPolicy.yaml").read_text()
    assert "virtualenv: .venv" in text and "name: python" in text
    pins = dict(
        line.split("==", 1)
        for line in (POLICY / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    project = (ROOT / "requirements.txt").read_text()
    assert f"pulumi=={pins['pulumi']}" in project.splitlines()
    assert pins["pulumi-policy"] == "1.21.0"
    assert os.access(POLICY / "setup.sh", os.R_OK)


@pytest.mark.toolchain
def test_this_program_without_host_keys_is_refused_outside_dev(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """bareMetal.insecureSkipHostKeyCheck passes the program's own validation; not the pack's."""
    run = _run("staging", "ours-unpinned", cli_env, tmp_path)
    assert run.error, "preview passed"
    names = {resource for _, resource in run.violations}
    assert {policy for policy, _ in run.violations} == {rules.SSH_HOST_KEY}
    for host in ("master-1", "master-2"):  # every step on every host: prepare, files, restart...
        assert len([n for n in names if host in n]) >= 5, names
    assert run.said("'127.0.0.11' has no hostKey"), run.events


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
