"""The dev stack deployed into the lab through the plain `pulumi` CLI (not the Automation API), so
__main__.py and the language host are proven against real hosts: up, masters healthy, in-cluster
objects present, a no-op preview, destroy leaving the masters clean.

The stack lives in a scratch copy of the project with its own file backend; its config is the dev
stack's (lab paths made absolute by harness.lab.dev_config). A test that needs it deployed asks
for `deployed` (a `pulumi up` when nothing is, as at first or after the destroy test).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.kube import Kube, config_map_path
from harness.lab import MASTERS, ROOT, dev_config, healthz, master_ip
from harness.ssh import ssh
from harness.stacks import PASSPHRASE

pytestmark = pytest.mark.lab


class CliStack:
    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "project"
        self.dir.mkdir()
        shutil.copy(ROOT / "Pulumi.yaml", self.dir / "Pulumi.yaml")
        shutil.copy(ROOT / "__main__.py", self.dir / "__main__.py")
        for name in ("components", "plumbing", "scripts"):
            shutil.copytree(ROOT / name, self.dir / name, ignore=shutil.ignore_patterns("__pycache__"))
        for name in (".venv", "policy"):
            (self.dir / name).symlink_to(ROOT / name)
        (tmp / "state").mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
        self.env |= {
            "PULUMI_HOME": os.environ.get("PULUMI_HOME", str(Path.home() / ".cache/ksched/pulumi-home")),
            "PULUMI_BACKEND_URL": f"file://{tmp / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_CONFIRMATIONS": "true",
        }
        self.up_output = ""  # of the `pulumi up` that deployed it; "" while nothing is deployed

    def run(self, cmd: str, timeout: float = 900) -> str:
        out = subprocess.run(
            ["bash", "-c", f"source scripts/env.sh && {cmd}"],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        text = out.stdout + out.stderr
        assert out.returncode == 0, f"{cmd}\n{text[-4000:]}"
        assert "Traceback" not in text
        return text


@pytest.fixture(scope="module")
def cli_stack(lab_up: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliStack]:
    s = CliStack(tmp_path_factory.mktemp("cli-e2e"))
    s.run("pulumi stack init dev-cli")
    # The dev stack's config (no secret in it: lab facts by path), structured keys as objects as
    # `pulumi config set --path` stores them; the encryption salt of `stack init` is kept.
    stack_file = s.dir / "Pulumi.dev-cli.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    doc["config"] = {f"kube-scheduler:{k}": v for k, v in dev_config().items()}
    stack_file.write_text(yaml.safe_dump(doc))
    try:
        yield s
    finally:
        s.run("pulumi destroy")  # also what a failed first `up` made
        s.run("pulumi stack rm --yes dev-cli")


@pytest.fixture
def deployed(cli_stack: CliStack) -> CliStack:
    if not cli_stack.up_output:
        cli_stack.up_output = cli_stack.run("pulumi up --policy-pack policy")
    return cli_stack


def test_up_through_the_cli_creates_and_starts_every_master(deployed: CliStack) -> None:
    assert "kube-scheduler@v0.1.0" in deployed.up_output
    for master in MASTERS:
        assert ssh(master, "systemctl is-active kube-scheduler.service") == "active"
        assert healthz(master_ip(master))


def test_in_cluster_objects_exist(deployed: CliStack, kube: Kube) -> None:
    assert kube.get("/apis/apps/v1/namespaces/kube-system/deployments/custom-k8s-scheduler") is not None
    assert kube.get(config_map_path(kube)) is not None
    assert kube.get("/api/v1/namespaces/default/pods/custom-k8s-scheduler-sample") is not None


def test_outputs_and_a_no_op_preview(deployed: CliStack) -> None:
    outputs = json.loads(deployed.run("pulumi stack output --json"))
    assert sorted(outputs["masters"]) == sorted(MASTERS)
    deployed.run("pulumi preview --expect-no-changes --policy-pack policy")


def test_destroy_through_the_cli_leaves_the_masters_clean(deployed: CliStack) -> None:
    s = deployed
    s.run("pulumi destroy")
    s.up_output = ""
    for master in MASTERS:
        left = ssh(
            master, "ls -d /etc/kubernetes/scheduler /usr/local/bin/kube-scheduler 2>/dev/null || true"
        )
        assert left == "", f"{master} keeps {left}"
