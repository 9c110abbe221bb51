"""The README's CLI workflow, run verbatim by the real `pulumi` CLI on the render stack.

The commands are read from the README (the block after `<!-- cli-workflow`, and the throwaway-CA
line), so they cannot drift. They run in a scratch copy of the project (the program, Pulumi.yaml,
Pulumi.render.yaml, scripts/) with its own file backend, through the language host the toolchain
installed (the stand-in here): preview, up, a no-op preview that expects no changes, a config change
whose `preview --diff` shows the changed value and whose report names the masters that restart,
destroy. Then config secrets, a config error and a policy violation through the same path.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.toolchain


def readme_commands() -> list[str]:
    """The workflow block's command lines (trailing comments cut), then the CA line."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- cli-workflow.*?-->\s*```sh\n(.*?)```", text, re.S)
    assert block, "README has no <!-- cli-workflow --> block"
    lines = [re.sub(r"\s+#\s.*$", "", line).strip() for line in block[1].splitlines()]
    return [line for line in lines if line] + re.findall(r"^mkdir -p \.render-ca && openssl .*$", text, re.M)


COMMANDS = readme_commands()


def command(prefix: str) -> str:
    """The one README command that starts with `prefix`."""
    (found,) = [c for c in COMMANDS if c.startswith(prefix)]
    return found


@dataclass
class Result:
    rc: int
    out: str


class Project:
    """A scratch copy of the project; each command runs in a fresh bash after `source scripts/env.sh`."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "project"
        self.dir.mkdir()
        for name in ("Pulumi.yaml", "Pulumi.render.yaml", "__main__.py"):
            shutil.copy(ROOT / name, self.dir / name)
        for name in ("components", "plumbing", "scripts"):
            shutil.copytree(ROOT / name, self.dir / name, ignore=shutil.ignore_patterns("__pycache__"))
        for name in (".venv", "policy"):  # the venvs are big and read-only here
            (self.dir / name).symlink_to(ROOT / name)
        # a clean environment: no backend, passphrase or stack of the caller's
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "KSCHED_REPO"))}
        self.env["PULUMI_HOME"] = os.environ.get(
            "PULUMI_HOME", str(Path.home() / ".cache/ksched/pulumi-home")
        )
        self.env["PULUMI_SKIP_CONFIRMATIONS"] = "true"  # `pulumi up` and `destroy` ask otherwise

    def run(self, cmd: str, ok: bool = True) -> Result:
        full = f"source scripts/env.sh render && {cmd}"
        out = subprocess.run(
            ["bash", "-c", full], cwd=self.dir, env=self.env, capture_output=True, text=True, timeout=600
        )
        text = out.stdout + out.stderr
        assert "Traceback" not in text, text[-3000:]
        if ok:
            assert out.returncode == 0, f"{cmd}\n{text[-3000:]}"
        return Result(out.returncode, text)


@dataclass
class Workflow:
    project: Project
    results: dict[str, Result]


@pytest.fixture(scope="module")
def workflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workflow]:
    p = Project(tmp_path_factory.mktemp("cli-readme"))
    r: dict[str, Result] = {}
    r["ca"] = p.run(command("mkdir -p .render-ca"))
    r["select"] = p.run(command("pulumi stack select").replace(" dev", " render"))
    r["first preview"] = p.run(command("pulumi preview --diff"))
    r["up"] = p.run(command("pulumi up"))
    r["no-op preview"] = p.run(command("pulumi preview --expect-no-changes"))
    r["output"] = p.run(command("pulumi stack output") + " --json")
    r["config"] = p.run(command("pulumi config set"))
    r["diff"] = p.run(command("pulumi preview --diff"))
    r["report"] = p.run(command("PULUMI_ENABLE_STREAMING_JSON_PREVIEW"))
    try:
        yield Workflow(p, r)
    finally:
        p.run(command("pulumi destroy"))
        p.run("pulumi stack rm --yes render")


def test_readme_has_the_commands_a_pulumi_user_expects() -> None:
    for prefix in (
        "pulumi stack select",
        "pulumi config set",
        "pulumi preview --diff",
        "pulumi up",
        "pulumi stack output",
        "pulumi destroy",
    ):
        assert command(prefix).startswith(prefix)


def test_first_preview_and_up_create_both_paths(workflow: Workflow) -> None:
    assert re.search(r"\+ (\d+) to create", workflow.results["first preview"].out)
    created = int(re.search(r"\+ (\d+) created", workflow.results["up"].out)[1])  # type: ignore[index]
    # stack, masters component; per master: certificate component + its key/cert, host component +
    # 6 files (render mode: no SSH commands); in-cluster: provider, component, 9 objects
    assert created == 1 + 1 + 3 * (2 + 1 + 6) + 1 + 1 + 9
    assert "Policies:" in workflow.results["up"].out and "kube-scheduler@v0.1.0" in workflow.results["up"].out


def test_second_preview_expects_no_changes(workflow: Workflow) -> None:
    assert re.search(r"\n\s+\d+ unchanged\n", workflow.results["no-op preview"].out)
    assert "to update" not in workflow.results["no-op preview"].out


def test_stack_outputs_name_every_master(workflow: Workflow) -> None:
    outputs = json.loads(workflow.results["output"].out[workflow.results["output"].out.index("{") :])
    stack_file = yaml.safe_load((ROOT / "Pulumi.render.yaml").read_text())["config"]
    hosts = {h["name"]: h["address"] for h in stack_file["kube-scheduler:bareMetal"]["hosts"]}
    assert {name: m["address"] for name, m in outputs["masters"].items()} == hosts
    assert outputs["kubernetesVersion"] == stack_file["kube-scheduler:kubernetesVersion"]
    assert outputs["customSchedulerLease"] == "kube-system/custom-k8s-scheduler"


def test_dynamic_providers_wrote_each_masters_files(workflow: Workflow) -> None:
    for host in ("master-1", "master-2", "master-3"):
        config = (
            workflow.project.dir / ".render" / "hosts" / host / "etc/kubernetes/scheduler/kube-scheduler.yaml"
        )
        assert yaml.safe_load(config.read_text())["clientConnection"]["qps"] == 50  # before the change
        key = config.parent / "pki" / "kube-scheduler.key"
        assert oct(key.stat().st_mode & 0o777) == "0o640"


def test_config_change_diff_shows_the_value(workflow: Workflow) -> None:
    new = command("pulumi config set").split()[-1]
    diff = workflow.results["diff"].out
    # the file content is YAML: the CLI shows it as a structured diff
    assert re.search(rf"~ qps\s*: 50 => {new}\n", diff), diff[-3000:]
    assert "~ 3 to update" in diff


def test_config_change_report_names_the_masters_that_restart(workflow: Workflow) -> None:
    report = workflow.results["report"].out
    for host in ("master-1", "master-2", "master-3"):
        assert re.search(rf"\| {host} \| restarts \| config \|", report), report[:3000]
    assert "No pod rolls." in report
    assert "PRIVATE KEY" not in report


def test_secrets_go_through_the_cli_path(workflow: Workflow) -> None:
    p = workflow.project
    key = (p.dir / ".render-ca" / "ca.key").read_text()
    # a plain value for a secret key is refused by the program, without a traceback
    p.run('pulumi config rm caKeyFile && pulumi config set caKey -- "$(cat .render-ca/ca.key)"')
    refused = p.run("pulumi preview", ok=False)
    assert refused.rc != 0
    assert "kube-scheduler:caKey: expected a secret (pulumi config set --secret caKey)" in refused.out
    assert key.strip().splitlines()[1] not in refused.out
    # as the README says: --secret, and the key stays encrypted in the stack file and the state
    p.run('pulumi config set --secret caKey -- "$(cat .render-ca/ca.key)"')
    p.run(command("pulumi up"))
    assert "PRIVATE KEY" not in (p.dir / "Pulumi.render.yaml").read_text()
    for state in (p.dir / ".pulumi-state").rglob("render.json"):
        assert "PRIVATE KEY" not in state.read_text()
    p.run("pulumi config rm caKey && pulumi config set caKeyFile .render-ca/ca.key")


def test_policy_pack_refuses_a_violating_config(workflow: Workflow) -> None:
    """Another stack of the same project: masters over SSH without pinned host keys (the preview
    dials nothing; the address is loopback all the same)."""
    p = workflow.project
    p.run("ssh-keygen -q -t ed25519 -N '' -f .render-ca/ssh-key")
    # a stack of its own has a passphrase of its own (the documented one is refused for it)
    own = "export PULUMI_CONFIG_PASSPHRASE=unpinned-stack-passphrase && "
    p.run(own + "pulumi stack init unpinned")
    settings = {
        "kubernetesVersion": "1.34.2",
        "apiServerUrl": "https://127.0.0.1:6443",
        "caCertFile": ".render-ca/ca.crt",
        "caKeyFile": ".render-ca/ca.key",
        "sshPrivateKeyFile": ".render-ca/ssh-key",
        "resourceBackend": "builtin",
    }
    paths = {
        "bareMetal.enabled": "true",
        "bareMetal.hosts[0].name": "master-1",
        "bareMetal.hosts[0].address": "127.0.0.1",
        "bareMetal.insecureSkipHostKeyCheck": "true",
        "bareMetal.binary.url": "https://dl.k8s.io/v{version}/bin/linux/amd64/kube-scheduler",
        "bareMetal.binary.sha256": "a" * 64,
        "certificate.validityHours": "168",  # the throwaway CA lives eight days
        "certificate.earlyRenewalHours": "24",
    }
    sets = [f"pulumi config set {k} {shlex.quote(v)}" for k, v in settings.items()]
    sets += [f"pulumi config set --path {shlex.quote(k)} {shlex.quote(v)}" for k, v in paths.items()]
    p.run(own + " && ".join(sets))
    refused = p.run(own + command("pulumi preview --diff"), ok=False)
    p.run("pulumi stack rm --yes --force unpinned && pulumi stack select render")
    assert refused.rc != 0
    assert re.search(
        r"\[mandatory\]\s+ssh-host-key-must-be-pinned\s+\(pulumi-python:dynamic:Resource: "
        r"masters-master-1-service\)",
        refused.out,
    ), refused.out[-3000:]
