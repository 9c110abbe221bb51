"""Unit-test helpers: what the lab suites share comes from `harness` (key material, stack config,
the program under mocks); here only what unit tests alone use (config edits, script parameters,
config problems as the user reads them)."""

from __future__ import annotations

import copy
from typing import Any

from harness.config import as_raw, base_config, configure_stack, state_file_text
from harness.mocks import Recorder, RecordingMonitor, Registered, Run, fake_pem, run_program
from harness.pki import Pki, make_ca, make_pki, pem_key

__all__ = [
    "DELETE",
    "Pki",
    "Recorder",
    "RecordingMonitor",
    "Registered",
    "Run",
    "as_raw",
    "base_config",
    "configure_stack",
    "fake_pem",
    "make_ca",
    "make_pki",
    "mutate",
    "pem_key",
    "problem_texts",
    "run_program",
    "script_params",
    "state_file_text",
]

DELETE = object()


def token_kubeconfig(server: str, token: str, context: str = "c") -> dict[str, Any]:
    """A kubeconfig of one cluster "c" at `server`, one user "u" with a bearer token, and the
    context `context` between them, current."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
        "current-context": context,
    }


def mutate(config: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Copy of `config` with `path` ("bareMetal.hosts.1.address") set, or deleted if value is DELETE."""
    out = copy.deepcopy(config)
    node: Any = out
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
    last = parts[-1]
    if value is DELETE:
        del node[int(last) if isinstance(node, list) else last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


def script_params(script: str) -> dict[str, str]:
    """The parameters a host script was built with (components.hostscripts.script): the shell
    assignments after `set -eu`, unquoted as the shell would."""
    import shlex

    params: dict[str, str] = {}
    lines = script.split("\n")
    start = next((i for i, line in enumerate(lines) if line == "set -eu"), len(lines) - 1) + 1
    text = "\n".join(lines[start:])
    for word in shlex.split(text.split("\n# ", 1)[0], comments=False, posix=True):
        key, eq, value = word.partition("=")
        if not eq or not key.isupper():
            break
        params[key] = value
    return params


def problem_texts(error: Any) -> list[str]:
    """A ConfigError's problems as the user reads them (`kube-scheduler:<key>: <message>`)."""
    return [str(p) for p in error.problems]
