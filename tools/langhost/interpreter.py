"""Which Python a program, a policy pack or `pulumi install` runs with: Pulumi.yaml's runtime
options (`toolchain`, `virtualenv`), resolved as the official host does for the pip toolchain."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from pulumi.runtime.proto import language_pb2

from .common import STAND_IN, HostError


@dataclass(frozen=True)
class Interpreter:
    """The Python a program or plugin runs with, and the environment that activates its venv."""

    python: str
    env: dict[str, str]


def runtime_options(info: language_pb2.ProgramInfo) -> dict[str, Any]:
    """Pulumi.yaml's `runtime.options` of the program."""
    options: dict[str, Any] = json_format.MessageToDict(info.options)
    return options


def activate(env: Mapping[str, str], venv: Path) -> dict[str, str]:
    """`env` with the virtualenv first on PATH, VIRTUAL_ENV set and PYTHONHOME unset (as a
    virtualenv's activate script, and as the official host does)."""
    out = {k: v for k, v in env.items() if k not in ("PYTHONHOME", "VIRTUAL_ENV")}
    path = out.get("PATH")
    out["PATH"] = f"{venv / 'bin'}{os.pathsep}{path}" if path else str(venv / "bin")
    out["VIRTUAL_ENV"] = str(venv)
    return out


def interpreter(info: language_pb2.ProgramInfo, env: Mapping[str, str]) -> Interpreter:
    """Resolve Pulumi.yaml's runtime options (`toolchain`, `virtualenv`) for `info`."""
    options = runtime_options(info)
    toolchain = options.get("toolchain", "pip")
    if toolchain != "pip":
        raise HostError(f"runtime option toolchain: {toolchain!r} is not supported by the {STAND_IN}")
    if options.get("typechecker"):
        raise HostError(f"runtime option typechecker is not supported by the {STAND_IN}")
    venv_opt = options.get("virtualenv")
    if not venv_opt:
        return Interpreter(env.get("PULUMI_PYTHON_CMD") or "python3", dict(env))
    venv = Path(info.root_directory, str(venv_opt))
    if not (venv / "bin" / "python").is_file():
        state = "doesn't exist" if not venv.exists() else "doesn't appear to be a virtual environment"
        raise HostError(
            f"The 'virtualenv' option in Pulumi.yaml is set to {venv_opt!r}, but {str(venv)!r} {state}; "
            f"create it with `pulumi install` (or `make setup` in this repository)"
        )
    return Interpreter(str(venv / "bin" / "python"), activate(env, venv))


def environ_list(entries: Iterable[str]) -> dict[str, str]:
    """`KEY=VALUE` entries (a plugin request's environment) as a mapping; later entries win."""
    out: dict[str, str] = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        if sep:
            out[key] = value  # later entries win, as in exec
    return out
