"""The shell that runs on a master, as real scripts (`*.sh` beside this file) and pure builders.

Each builder returns a complete POSIX sh script: `set -eu`, its parameters as shell assignments
(quoted with shlex), the shared functions of `lib.sh`, then the script's body. Nothing here talks to
a host: the components send these scripts over SSH (components/host_file.py), the tests run them
in a scratch root and on the lab's masters.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Mapping
from functools import cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent

# Our records on a master (ownership, claims, what the service runs): lib.sh describes them.
STATE_DIR = "/var/lib/kube-scheduler-pulumi"
SERVICE = "kube-scheduler.service"
UNIT_PATH = "/etc/systemd/system/" + SERVICE
USER = "kube-scheduler"
ROLLOUT_UNIT = "ksched-rollout.service"
# What a write stages for the rollout, and what the rollout keeps of the version it replaces.
NEXT = ".ksched-next"
PREVIOUS = ".ksched-prev"
# The line a check prints when the host is as the step left it (prepare).
CHECK_OK = "ok"


@cache
def _body(name: str) -> str:
    return (_HERE / f"{name}.sh").read_text()


def script(name: str, params: Mapping[str, str]) -> str:
    """`name`.sh with its parameters and the shared functions."""
    return inline(_body(name), params)


def inline(code: str, params: Mapping[str, str]) -> str:
    """`code` with parameters and the shared functions: for checks that are one line."""
    header = "".join(f"{key}={shlex.quote(value)}\n" for key, value in params.items())
    return "set -eu\n" + header + _body("lib") + code


def claim_id(step: str, identity: Mapping[str, object]) -> str:
    """The id a step writes into the host's claims: it names this step instance. A replacement (a
    renamed host, another backend, another connection, other paths) gets another id, so the old
    step's delete leaves the new step's files alone."""
    text = json.dumps({"step": step, **identity}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def running_record(files: Mapping[str, str]) -> str:
    """What the rollout records as running (`<sha256>  <path>` lines, sorted by path), and so what
    the service check compares: the same bytes."""
    return "".join(f"{sha}  {path}\n" for path, sha in sorted(files.items()))


def rollout_id(files: Mapping[str, str]) -> str:
    """Names a rollout by what it puts in place: the same files, the same rollout."""
    return hashlib.sha256(running_record(files).encode()).hexdigest()[:16]


def running_digest(files: Mapping[str, str]) -> str:
    """The line the service check prints while the service runs exactly `files`."""
    return f"running {rollout_id(files)}"
