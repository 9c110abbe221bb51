"""The version-skew rule, as a table; the API server read is exercised against the lab (e2e)."""

from __future__ import annotations

import pytest

from components.render.versions import KubeVersion, parse_kube_version
from components.skew import skew_problem, skew_problems

# (kube-scheduler, kube-apiserver, allowed) — the policy: not newer, at most one minor older.
CASES = [
    ("1.37.2", "1.37.2", True),
    ("1.37.0", "1.37.2", True),
    ("1.37.2", "1.37.0", True),  # patch versions do not matter
    ("1.36.3", "1.37.2", True),  # one minor older: a live upgrade
    ("1.35.4", "1.37.2", False),  # two minors older
    ("1.29.15", "1.37.2", False),
    ("1.37.2", "1.36.3", False),  # newer than the API server
]


@pytest.mark.parametrize(("scheduler", "apiserver", "allowed"), CASES)
def test_skew_rule(scheduler: str, apiserver: str, allowed: bool) -> None:
    problem = skew_problem(parse_kube_version(scheduler), parse_kube_version(apiserver))
    assert (problem is None) is allowed, problem


def test_problems_name_the_key_and_quote_the_rule_and_unreadable_servers_warn() -> None:
    versions = {"https://a:6443": KubeVersion(1, 37, 2), "https://b:6443": KubeVersion(1, 36, 3)}

    def read(url: str, _ca: str) -> KubeVersion:
        if url not in versions:
            raise OSError("connection refused")
        return versions[url]

    urls = ["https://a:6443", "https://b:6443", "https://c:6443", "https://a:6443"]
    problems, warnings = skew_problems(KubeVersion(1, 37, 2), urls, "CA", read)
    (problem,) = problems
    assert problem.key == "kubernetesVersion"
    assert problem.message.startswith(
        "expected a version the API server at https://b:6443 (v1.36.3) supports"
    )
    assert problem.message.endswith("got 1.37.2, newer than the API server's 1.36.3")
    # the policy, as kubernetes.io states it (version-skew-policy, kube-scheduler)
    assert "must not be newer than the kube-apiserver" in problem.message
    assert "at most one minor version older" in problem.message
    assert warnings == [
        "could not read the version of the API server at https://c:6443 (connection refused): "
        "skew not checked"
    ]
