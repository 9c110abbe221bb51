"""The pull-request workflow cannot leak a secret: a job that receives one runs only approved code
of this repository (a GitHub environment that requires a reviewer, never a fork's pull request),
every job asks for the least `permissions`, and nothing runs on `pull_request_target`. Read from
.github/workflows/*.yml, so a job added later is held to the same rule."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"
# What a job may be granted at most: read the code, write its one report comment.
ALLOWED_PERMISSIONS = {"contents": {"read"}, "pull-requests": {"read", "write"}}


def _load(path: Path) -> dict[Any, Any]:
    doc: dict[Any, Any] = yaml.safe_load(path.read_text())
    return doc


def _triggers(doc: dict[Any, Any]) -> set[str]:
    on = doc.get("on", doc.get(True))  # PyYAML reads a bare `on:` key as True
    return set(on) if isinstance(on, dict | list) else {str(on)}


def _secrets_used(job: dict[str, Any]) -> set[str]:
    """`secrets.X` referenced anywhere in the job (GITHUB_TOKEN through `github.token` is not one)."""
    return set(re.findall(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)", yaml.safe_dump(job)))


def test_there_is_a_workflow() -> None:
    assert WORKFLOWS


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_nothing_runs_with_the_base_repositorys_rights_on_pull_request_code(path: Path) -> None:
    doc = _load(path)
    # pull_request_target and workflow_run hand secrets and a write token to code from a fork
    assert not _triggers(doc) & {"pull_request_target", "workflow_run"}
    assert doc.get("permissions") in ({}, {"contents": "read"}), "the default must grant nothing"


def leaks(name: str, job: dict[str, Any]) -> list[str]:
    """Why `job` could hand a secret or a write token to code nobody approved (empty: it cannot)."""
    out: list[str] = []
    granted = job.get("permissions")
    if not isinstance(granted, dict):
        return [f"{name}: no `permissions` of its own (it would inherit the default)"]
    out += [
        f"{name}: {scope}: {level}"
        for scope, level in granted.items()
        if level not in ALLOWED_PERMISSIONS.get(scope, set())
    ]
    used = _secrets_used(job)
    if used:
        environment = job.get("environment")
        environment = environment.get("name") if isinstance(environment, dict) else environment
        if not environment:
            out.append(f"{name} receives {sorted(used)} outside a GitHub environment")
        if SAME_REPO not in str(job.get("if", "")):
            out.append(f"{name} receives secrets on a fork's pull request")
    return out


@pytest.mark.parametrize(
    ("path", "name"),
    [(p, n) for p in WORKFLOWS for n in _load(p)["jobs"]],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_a_job_with_a_secret_runs_only_approved_code_of_this_repository(path: Path, name: str) -> None:
    assert leaks(name, _load(path)["jobs"][name]) == []


def test_the_render_preview_runs_for_everyone_without_a_secret() -> None:
    jobs = _load(ROOT / ".github" / "workflows" / "preview.yml")["jobs"]
    render = jobs["preview-render"]
    assert not _secrets_used(render)
    assert "environment" not in render and SAME_REPO not in str(render.get("if", ""))
    # the comment is the one step that needs this repository's token, and a fork's cannot write
    (comment,) = [s for s in render["steps"] if s.get("name", "").startswith("Comment")]
    assert SAME_REPO in comment["if"]


def test_the_rule_catches_a_job_that_would_leak() -> None:
    """The job as the issue found it: secrets from the repository, the pull request's own code, no
    environment, no fork check, a write token."""
    leaky = {
        "permissions": {"contents": "write"},
        "steps": [{"run": "pulumi preview", "env": {"PULUMI_CONFIG_PASSPHRASE": "${{ secrets.P }}"}}],
    }
    assert leaks("leaky", leaky) == [
        "leaky: contents: write",
        "leaky receives ['P'] outside a GitHub environment",
        "leaky receives secrets on a fork's pull request",
    ]
