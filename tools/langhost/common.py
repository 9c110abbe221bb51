"""What every part of the stand-in host shares: its version, its name in messages, its error."""

from __future__ import annotations

from importlib import metadata

import grpc

# The CLI and official host this stands in for: the version of the Pulumi SDK the host's venv pins
# (requirements.txt), which scripts/toolchain.sh checks against the CLI's on every build.
VERSION = metadata.version("pulumi")
STAND_IN = "ksched stand-in (tools/langhost), not the official pulumi-language-python"


class HostError(Exception):
    """A problem the user can act on; reported to the CLI as the RPC's error, no traceback."""

    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION) -> None:
        super().__init__(message)
        self.code = code
