"""A dev-like stack in a scratch project, driven by the Automation API's inline mode (the same
program as __main__.py), and `make up`'s entry point run on it the way a user runs it: a process of
its own, which a test or benchmark may kill."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

from pulumi import automation as auto

from components.stack import program
from harness.config import configure_stack, state_file_text
from harness.lab import ROOT, dev_config

PASSPHRASE = "e2e-test-passphrase"
POLICY_PACKS = [str(ROOT / "policy")]


@contextlib.contextmanager
def lab_passphrase() -> Iterator[None]:
    """The lab stacks' passphrase in this process's environment while it lasts (restored after):
    an inline program runs in this process, not under the CLI that gets the workspace's
    environment, and refuses to run unless the passphrase it finds here is a stack's own
    (components/secrets.py). Scripts and tests that run lab stacks inline run them inside it."""
    before = {k: os.environ.get(k) for k in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")}
    os.environ["PULUMI_CONFIG_PASSPHRASE"] = PASSPHRASE
    os.environ.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class LabStack:
    """The program in a scratch project (no stack file or state in the repository), configured
    as the dev stack until told otherwise."""

    def __init__(self, name: str, tmp: Path) -> None:
        work = tmp / "project"
        work.mkdir(parents=True)
        shutil.copy(ROOT / "Pulumi.yaml", work / "Pulumi.yaml")
        self.backend = tmp / "state"
        self.backend.mkdir()
        self.env = {
            "PULUMI_BACKEND_URL": f"file://{self.backend}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PYTHONPATH": str(ROOT),  # the builtin dynamic providers import components
        }
        # inline: the same program as __main__.py, without a language host
        self.ws = auto.LocalWorkspace(work_dir=str(work), env_vars=self.env, program=program)
        self.stack = auto.Stack.create(name, self.ws)
        self.output: list[str] = []
        self.configure(dev_config())

    def configure(self, cfg: dict[str, Any]) -> None:
        configure_stack(self.stack, cfg)

    def _log(self, line: str) -> None:
        self.output.append(line)

    def up(self, **kwargs: Any) -> auto.UpResult:
        return self.stack.up(color="never", on_output=self._log, policy_packs=POLICY_PACKS, **kwargs)

    def apply(self, cfg: dict[str, Any]) -> auto.UpResult:
        """This config, deployed (nothing changes when the stack already runs it)."""
        self.configure(cfg)
        result = self.up()
        assert result.summary.result == "succeeded", result.stdout[-2000:]
        return result

    def preview(self, **kwargs: Any) -> auto.PreviewResult:
        return self.stack.preview(color="never", on_output=self._log, policy_packs=POLICY_PACKS, **kwargs)

    def destroy(self) -> None:
        self.stack.destroy(color="never", on_output=self._log)

    def state_on_disk(self) -> str:
        return state_file_text(self.backend, self.stack.name)

    def has_resources(self) -> bool:
        """The checkpoint on disk holds resources (read without the CLI)."""
        if not list(self.backend.glob(f".pulumi/stacks/**/{self.stack.name}.json")):
            return False
        checkpoint = json.loads(self.state_on_disk()).get("checkpoint") or {}
        return bool((checkpoint.get("latest") or {}).get("resources"))

    def remove(self) -> None:
        self.ws.remove_stack(self.stack.name)


class Stacks:
    """LabStacks made in scratch directories (`scratch(name)`, a fresh temporary one by default);
    `close` (or leaving the `with` block) destroys what each deployed and removes it from its
    backend, every stack in turn, and raises the first error."""

    def __init__(self, scratch: Callable[[str], Path] | None = None) -> None:
        self._scratch = scratch or (lambda name: Path(tempfile.mkdtemp(prefix=f"ksched-{name}-")))
        self._made: list[LabStack] = []

    def __call__(self, name: str, config: dict[str, Any] | None = None) -> LabStack:
        """A new stack `name`, configured as the dev stack or with `config`."""
        stack = LabStack(name, self._scratch(name))
        self._made.append(stack)
        if config is not None:
            stack.configure(config)
        return stack

    def close(self) -> None:
        errors: list[Exception] = []
        for stack in reversed(self._made):
            try:
                if stack.has_resources():
                    stack.destroy()
                stack.remove()
            except Exception as e:
                errors.append(e)
        self._made.clear()
        if errors:
            raise errors[0]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def changes(result: auto.UpResult) -> dict[str, int]:
    return {str(k): int(v) for k, v in (result.summary.resource_changes or {}).items()}


def make_up(
    stack: LabStack, on_line: Callable[[str, subprocess.Popen[str]], None] | None = None
) -> tuple[int, str]:
    """`python -m scripts.stack up <stack>` (what `make up` runs after lab-up) on this lab stack:
    (exit status, everything it printed). `on_line` sees each line as it comes, with the process."""
    env = {**os.environ, **stack.env, "KSCHED_PROJECT_DIR": str(stack.ws.work_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.stack", "up", stack.stack.name],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if on_line is not None:
            on_line(line, proc)
    return proc.wait(timeout=900), "".join(lines)


def run_printed_command(text: str, stack: LabStack) -> subprocess.CompletedProcess[str]:
    """Run the one command a stale-lock message names ("Clear it with: <command>")."""
    found = re.search(r"Clear it with: (.+?)\.?$", text, re.MULTILINE)
    assert found, text[-2000:]
    env = {**os.environ, **stack.env}
    return subprocess.run(
        ["bash", "-c", found.group(1)],
        cwd=stack.ws.work_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def cli_of(wrapper: subprocess.Popen[str]) -> int | None:
    """The `pulumi` CLI process the wrapper started (its child), if it runs."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            argv0 = (proc / "cmdline").read_bytes().split(b"\0", 1)[0]
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == wrapper.pid and argv0.endswith(b"pulumi"):
            return int(proc.name)
    return None


def kill_cli(wrapper: subprocess.Popen[str]) -> None:
    """SIGKILL the wrapper's `pulumi` CLI (a run interrupted the hard way)."""
    pid = cli_of(wrapper)
    assert pid is not None, "no pulumi CLI under the wrapper"
    os.kill(pid, signal.SIGKILL)
