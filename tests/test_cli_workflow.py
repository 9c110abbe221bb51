"""The pull-request workflow's render-stack steps, rehearsed here in a clean environment.

The `run:` steps of .github/workflows/preview.yml that a runner executes for the render stack run
as they are (bash -eo pipefail, the job's env) in a scratch git repository holding the project
twice: a base commit, and a head commit that changes a setting, as a pull request would. Only the
install steps are skipped (they install the official CLI on a runner; here `make setup` did), and
the test fails if any other step is left out. No lab, no secret, no network.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "preview.yml"
# `run:` steps a runner needs and this machine does not (the toolchain here comes from `make setup`), and
# the PR comment (needs GitHub). Everything else of the render job is rehearsed.
NOT_REHEARSED = {
    "Install requirements (project and policy pack venvs)",
    "Install the kubernetes plugin",
    "Comment on the pull request (one comment per stack, updated in place)",
}
pytestmark = pytest.mark.toolchain


def render_steps(job: dict[str, Any]) -> tuple[list[dict[str, Any]], set[str]]:
    """The `run:` steps a runner executes for the render stack, and the ones left out here."""
    run: list[dict[str, Any]] = []
    skipped: set[str] = set()
    for step in job["steps"]:
        if "uses" in step:
            continue
        if step["name"] in NOT_REHEARSED:
            skipped.add(step["name"])
        else:
            run.append(step)
    return run, skipped


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_render_job_steps_rehearsed(tmp_path: Path) -> None:
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["preview-render"]
    steps, skipped = render_steps(job)
    assert skipped == NOT_REHEARSED
    assert [s["name"] for s in steps] == [
        "Throwaway CA for the render stack (never committed)",
        "Deploy the base branch's render stack (what the pull request is compared with)",
        "Preview the render stack",
        "Job summary",
    ]

    # The project as committed (tracked and untracked, not ignored) -> base; a qps change -> head.
    repo = tmp_path / "repo"
    files = git(ROOT, "ls-files", "-co", "--exclude-standard").splitlines()
    for f in files:
        if (ROOT / f).is_file():
            (repo / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, repo / f)
    (repo / ".venv").symlink_to(ROOT / ".venv")
    (repo / "policy" / ".venv").symlink_to(ROOT / "policy" / ".venv")
    git(repo, "init", "-q")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "init")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD")
    stack_file = repo / "Pulumi.render.yaml"
    stack_file.write_text(
        stack_file.read_text().replace(
            "    enabled: true\n    # Doc", "    enabled: true\n    qps: 60\n    # Doc"
        )
    )
    assert "qps: 60" in stack_file.read_text()
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "head: masters qps 60")
    head = git(repo, "rev-parse", "HEAD")

    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    summary = tmp_path / "summary.md"
    expressions = {
        "github.event.pull_request.base.sha": base,
        "github.event.pull_request.head.sha": head,
    }
    job_env = {
        k: re.sub(r"\$\{\{\s*(.*?)\s*\}\}", lambda m: expressions[m[1]], str(v))
        for k, v in job["env"].items()
    }
    # a clean environment: nothing of the caller's Pulumi settings, backend or stacks
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ["HOME"],
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_STEP_SUMMARY": str(summary),
        **job_env,
    }
    for name in ("KSCHED_CACHE", "PULUMI_HOME", "GOMODCACHE", "GOCACHE"):
        if name in os.environ:
            env[name] = os.environ[name]
    for step in steps:
        out = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, f"{step['name']}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        assert "Traceback" not in out.stdout + out.stderr

    report = (runner_temp / "preview.md").read_text()
    assert summary.read_text() == report
    assert report.startswith("### `pulumi preview` of stack `render`: succeeded")
    for host in ("master-1", "master-2", "master-3"):
        assert re.search(rf"\| {host} \| restarts \| config \|", report), report[:3000]
    assert re.search(r"-\s+qps: 50(\.0)?\n\s+\+\s+qps: 60(\.0)?\n", report), report
    assert "3 to update" in report
    assert "PRIVATE KEY" not in report
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""  # back on the head commit
    assert git(repo, "rev-parse", "HEAD") == head
