"""Running the program (Run): the SDK's `pulumi-language-python-exec` with the engine's request as
arguments and environment, its exit status as the RPC's answer, and stopping it when the engine
gives up on it."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Mapping

from pulumi.runtime.proto import language_pb2

USER_ACTIONABLE_EXIT = 32  # pulumi-language-python-exec: the error was already shown to the user


def run_arguments(request: language_pb2.RunRequest, engine: str) -> list[str]:
    """pulumi-language-python-exec's arguments for a Run request (empty values are left out)."""
    flags = {
        "monitor": request.monitor_address,
        "engine": engine,
        "project": request.project,
        "root_directory": request.info.root_directory,
        "stack": request.stack,
        "pwd": request.pwd,
        "dry_run": "true" if request.dryRun else "false",
        "parallel": str(request.parallel),
        "organization": request.organization,
    }
    args = [arg for k, v in flags.items() if v for arg in (f"--{k}", v)]
    return [*args, request.info.entry_point or ".", *request.args]


def run_environment(request: language_pb2.RunRequest, env: Mapping[str, str]) -> dict[str, str]:
    """The program's environment: its config and the names of the secret keys, as JSON."""
    out = dict(env)
    if request.config:
        out["PULUMI_CONFIG"] = json.dumps(dict(request.config))
    out["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys))
    return out


def run_result(returncode: int) -> language_pb2.RunResponse:
    if returncode == 0:
        return language_pb2.RunResponse()
    if returncode == USER_ACTIONABLE_EXIT:
        return language_pb2.RunResponse(bail=True)
    if returncode < 0:
        return language_pb2.RunResponse(error=f"program exited unexpectedly: signal {-returncode}")
    return language_pb2.RunResponse(error=f"program exited with non-zero exit code: {returncode}")


def interrupt(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop a child the engine no longer waits for: SIGTERM (Python exits without a traceback, unlike
    on SIGINT), then SIGKILL after `grace` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()

    def kill_late() -> None:
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()

    threading.Thread(target=kill_late, daemon=True).start()
