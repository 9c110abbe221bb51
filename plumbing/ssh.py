"""One way to run a command on a host over SSH: the pinned host key is the only one trusted (no
global known-hosts file, no user ssh config), batch mode, bounded connection attempts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

CONNECT_TIMEOUT_S = 10
CONNECTION_ATTEMPTS = 3


def known_hosts_line(host: str, port: int, host_key: str) -> str:
    """A known_hosts entry pinning `host_key` for host:port (OpenSSH's [host]:port form)."""
    return f"{host if port == 22 else f'[{host}]:{port}'} {host_key}"


def ssh_argv(
    host: str,
    *,
    user: str = "root",
    port: int = 22,
    known_hosts: Path | None,
    identity: Path | None = None,
    connect_timeout: int = CONNECT_TIMEOUT_S,
    attempts: int = CONNECTION_ATTEMPTS,
    remote: Sequence[str] = (),
) -> list[str]:
    """`ssh` argv for `user@host:port`. `known_hosts` None: no host key check at all (only for
    throwaway hosts, which the caller must have been told explicitly); `identity` None: the agent."""
    argv = [
        "ssh",
        "-F",
        "/dev/null",  # no ~/.ssh/config or /etc/ssh/ssh_config: nothing but these options applies
        "-p",
        str(port),
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={connect_timeout}",
        "-o",
        f"ConnectionAttempts={attempts}",
        "-o",
        "ServerAliveInterval=10",
        "-o",
        "LogLevel=ERROR",
    ]
    if known_hosts is not None:
        argv += [
            "-o",
            f"UserKnownHostsFile={known_hosts}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=yes",
        ]
    else:
        argv += [
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=no",
        ]
    if identity is not None:
        argv += ["-i", str(identity), "-o", "IdentitiesOnly=yes"]
    return [*argv, f"{user}@{host}", *remote]
