"""The policy pack (policy/): its checks as tables, then the real CLI running it.

Tables call policy/rules.py directly. The toolchain tests run `pulumi preview --policy-pack policy`
through the Automation API with a temporary file backend: an inline program that breaks every rule
(render-only Kubernetes provider, local commands, a remote command that preview never dials) must
fail with each rule named on the right resource; a dev-stack program that stays inside the rules
must pass; and this project's own program in render mode must pass `up` and a second `preview`
with the pack, so the checks see the real keys, kubeconfigs and manifests.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from policy import rules
from tests.support import SECRET_SIG, SIG_KEY, Pki

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policy"
PASSPHRASE = "policy-test-passphrase"
KEY = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n"
    "-----END PRIVATE KEY-----\n"
)
KUBECONFIG = (
    "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n"
    "    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0t\n"
)


def secret(value: Any) -> dict[str, Any]:
    return {SIG_KEY: SECRET_SIG, "value": value}


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
        ("command:local:Command", {"stdin": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}, []),  # unknown
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
        ("tls:index/privateKey:PrivateKey", {"privateKeyPem": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}, 0),
        ("command:local:Command", {"stdout": KEY, "stdin": KEY}, 1),  # stdin: the resource rule's
        ("pulumi:pulumi:Stack", {"kubeconfig": KUBECONFIG}, 1),
        ("pulumi:pulumi:Stack", {"kubeconfig": secret(KUBECONFIG)}, 0),
        ("kubernetes:core/v1:ConfigMap", {"data": {"kc": KUBECONFIG}}, 0),  # the resource rule's
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
            _remote({"host": "h", "hostKey": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}),
            "p",
            0,
        ),
        ("command:local:Command", {"create": "true"}, "prod", 0),
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
        config_map_name="s-config", config_key="config.yaml", config_checksum="0" * 64,
        excluded_node_label_keys=("karpenter.sh/nodepool",), cpu="500m", memory="512Mi", verbosity=2,
        service_account="s", version_label="v1.34.2",
    )  # fmt: skip
    assert rules.check_pod_spec(deployment_spec(spec)["template"]["spec"]) == []
    assert rules.check_pod_spec(sample_pod("s")["spec"]) == []


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

Events = list[auto.EngineEvent]

# Small programs run by the Python language host in their own process, like the real one: inline
# programs share this process's Pulumi runtime, which a run aborted by a policy leaves unusable.
PROGRAM_HEAD = f"""
import pulumi
import pulumi_command as command
import pulumi_kubernetes as k8s

KEY = {KEY!r}
KUBECONFIG = {KUBECONFIG!r}
RESTRICTED_POD = {RESTRICTED_POD!r}
"""

COMMANDS_BREAKING_THE_RULES = """
command.local.Command("leaky-stdin", create="cat >/dev/null", stdin=KEY)
command.local.Command("kept-secret", create="cat >/dev/null", stdin=pulumi.Output.secret(KEY))
command.remote.Command(  # preview never dials it
    "unpinned",
    connection=command.remote.ConnectionArgs(host="127.0.0.1", user="nobody"),
    create="true",
)
"""

KUBERNETES_BREAKING_THE_RULES = """
# No cluster: this provider only writes YAML, and preview writes nothing.
render = pulumi.ResourceOptions(provider=k8s.Provider("render", render_yaml_to_directory=OUT))
k8s.core.v1.ConfigMap("keys-in-configmap", data={"kubeconfig": KUBECONFIG}, opts=render)
k8s.core.v1.ConfigMap("plain-config", data={"config.yaml": "kind: KubeSchedulerConfiguration"}, opts=render)
privileged = {**RESTRICTED_POD, "containers": [{"name": "c", "image": "i", "securityContext": {
    "privileged": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]}
k8s.apps.v1.Deployment("privileged", spec={
    "selector": {"matchLabels": {"app": "p"}},
    "template": {"metadata": {"labels": {"app": "p"}}, "spec": privileged},
}, opts=render)
k8s.core.v1.Pod("host-network", spec={**RESTRICTED_POD, "hostNetwork": True}, opts=render)
k8s.core.v1.Pod("restricted", spec=RESTRICTED_POD, opts=render)
k8s.rbac.v1.ClusterRole("star", rules=[{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}],
                        opts=render)
k8s.rbac.v1.Role("narrow", rules=[{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}], opts=render)
"""

COMMAND_PRINTING_A_KEY = """
command.local.Command("prints-key", create="cat", stdin=pulumi.Output.secret(KEY))
"""

WITHIN_THE_RULES_ON_DEV = """
command.local.Command("kept-secret", create="cat >/dev/null", stdin=pulumi.Output.secret(KEY))
command.remote.Command(
    "unpinned-on-dev",
    connection=command.remote.ConnectionArgs(host="127.0.0.1", user="nobody"),
    create="true",
)
"""


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    assert shutil.which("pulumi"), "pulumi not on PATH: run `make setup` (or source scripts/env.sh)"
    subprocess.run(["bash", str(POLICY / "setup.sh")], check=True, timeout=300)
    state = tmp_path_factory.mktemp("policy-state")
    yield {
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }


def _violations(events: Events) -> set[tuple[str, str]]:
    """(policy name, resource name) of every mandatory violation."""
    out = set()
    for e in events:
        p = e.policy_event
        if p is not None and p.enforcement_level == "mandatory":
            out.add((p.policy_name, (p.resource_urn or "").rsplit("::", 1)[-1]))
    return out


def _messages(events: Events) -> set[str]:
    return {e.policy_event.message for e in events if e.policy_event is not None}


@contextlib.contextmanager
def _program_stack(stack_name: str, body: str, env: dict[str, str], tmp: Path) -> Iterator[auto.Stack]:
    work = tmp / f"program-{stack_name}"
    work.mkdir()
    (work / "Pulumi.yaml").write_text(
        "name: policy-test\n"
        "runtime:\n  name: python\n  options:\n"
        f"    toolchain: pip\n    virtualenv: {ROOT / '.venv'}\n"
    )
    (work / "__main__.py").write_text(f"{PROGRAM_HEAD}\nOUT = {str(tmp / 'out')!r}\n{body}")
    stack = auto.Stack.create(stack_name, auto.LocalWorkspace(work_dir=str(work), env_vars=env))
    try:
        yield stack
    finally:
        stack.workspace.remove_stack(stack_name, force=True)


def _failing_preview(stack_name: str, body: str, env: dict[str, str], tmp: Path) -> Events:
    events: Events = []
    with _program_stack(stack_name, body, env, tmp) as stack, pytest.raises(auto.CommandError):
        stack.preview(policy_packs=[str(POLICY)], color="never", on_event=events.append)
    return events


@pytest.mark.toolchain
def test_preview_fails_on_plain_keys_and_unpinned_ssh(backend: dict[str, str], tmp_path: Path) -> None:
    events = _failing_preview("staging", COMMANDS_BREAKING_THE_RULES, backend, tmp_path)
    assert _violations(events) == {(rules.KEY_MATERIAL, "leaky-stdin"), (rules.SSH_HOST_KEY, "unpinned")}
    messages = _messages(events)
    assert any("'127.0.0.1' has no hostKey" in m and "'staging'" in m for m in messages), messages


@pytest.mark.toolchain
def test_preview_fails_on_kubernetes_violations(backend: dict[str, str], tmp_path: Path) -> None:
    events = _failing_preview("staging", KUBERNETES_BREAKING_THE_RULES, backend, tmp_path)
    assert _violations(events) == {
        (rules.KEY_MATERIAL, "keys-in-configmap"),
        (rules.POD_SECURITY, "privileged"),
        (rules.POD_SECURITY, "host-network"),
        (rules.RBAC_WILDCARDS, "star"),
    }
    messages = _messages(events)
    for part in ("privileged must not", "hostNetwork must not", "resources contains a wildcard"):
        assert any(part in m for m in messages), (part, messages)
    assert not (tmp_path / "out").exists()  # preview wrote nothing


@pytest.mark.toolchain
def test_up_fails_when_an_output_holds_a_plain_key(backend: dict[str, str], tmp_path: Path) -> None:
    """Stack validation runs on outputs: `cat` of a secret stdin makes a non-secret stdout."""
    events: Events = []
    with _program_stack("staging", COMMAND_PRINTING_A_KEY, backend, tmp_path) as stack:
        try:
            with pytest.raises(auto.CommandError):
                stack.up(policy_packs=[str(POLICY)], color="never", on_event=events.append)
        finally:
            stack.destroy(color="never")
    assert _violations(events) == {(rules.KEY_MATERIAL_OUTPUTS, "prints-key")}


@pytest.mark.toolchain
def test_preview_passes_within_the_rules_on_dev(backend: dict[str, str], tmp_path: Path) -> None:
    events: Events = []
    with _program_stack("dev", WITHIN_THE_RULES_ON_DEV, backend, tmp_path) as stack:
        stack.preview(policy_packs=[str(POLICY)], color="never", on_event=events.append)
    assert _violations(events) == set()


@pytest.mark.toolchain
def test_this_program_in_render_mode_passes(backend: dict[str, str], tmp_path: Path, pki: Pki) -> None:
    work = tmp_path / "project"
    work.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, work / name)
    (work / "components").symlink_to(ROOT / "components")
    (work / ".venv").symlink_to(ROOT / ".venv")
    ws = auto.LocalWorkspace(work_dir=str(work), env_vars=backend)
    stack = auto.Stack.create("staging", ws)
    hosts = [{"name": f"master-{i}", "address": f"10.231.0.{10 + i}"} for i in (1, 2)]
    config = {
        "kubernetesVersion": auto.ConfigValue("1.34.2"),
        "apiServerUrl": auto.ConfigValue("https://10.231.0.1:6443"),
        "caCert": auto.ConfigValue(pki.ca_cert),
        "caKey": auto.ConfigValue(pki.ca_key, secret=True),
        "outputMode": auto.ConfigValue("render"),
        "renderDir": auto.ConfigValue(str(tmp_path / "out")),
        "bareMetal": auto.ConfigValue(json.dumps({"enabled": True, "hosts": hosts})),
        "inCluster": auto.ConfigValue(json.dumps({"enabled": True, "waitForReady": False})),
    }
    stack.set_all_config({f"kube-scheduler:{k}": v for k, v in config.items()})
    events: Events = []
    try:
        # up: Analyze sees the real keys and kubeconfigs (inputs known); preview after it:
        # AnalyzeStack sees the tls keys and everything else from the state.
        stack.up(policy_packs=[str(POLICY)], color="never", on_event=events.append)
        assert (
            tmp_path / "out" / "hosts" / "master-1" / "etc/kubernetes/scheduler/pki/kube-scheduler.key"
        ).exists()
        stack.preview(policy_packs=[str(POLICY)], color="never", on_event=events.append)
    finally:
        stack.destroy(color="never")
        ws.remove_stack("staging")
    assert _violations(events) == set()
    policy_events = [e.policy_event for e in events if e.policy_event is not None]
    assert policy_events == [], [(p.policy_name, p.message) for p in policy_events]


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
