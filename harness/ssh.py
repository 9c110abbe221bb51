"""A lab machine over SSH as root: plumbing's one SSH command line with the lab's key and its
pinned host keys (`ssh/known_hosts`), failing fast (one attempt, 5 s to connect)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness.lab import facts
from plumbing import ssh as plumbing_ssh


def ssh_argv(machine: str) -> list[str]:
    """`ssh` to a lab machine (master or node) by name, the remote command to be appended."""
    f = facts()
    found = {m["name"]: m for m in [*f["masters"], *f["nodes"]]}[machine]
    return plumbing_ssh.ssh_argv(
        found["ip"],
        user=f["ssh"].get("user", "root"),
        port=int(found.get("ssh_port", 22)),
        known_hosts=Path(f["ssh"]["known_hosts"]),
        identity=Path(f["ssh"]["private_key"]),
        connect_timeout=5,
        attempts=1,
    )


def ssh(machine: str, script: str, timeout: float = 30, check: bool = True) -> str:
    """Run `script` on a lab machine; its output, stripped (an error when it fails and `check`)."""
    out = subprocess.run([*ssh_argv(machine), script], capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise RuntimeError(f"ssh {machine} {script!r}: rc={out.returncode} {out.stderr[-500:]}")
    return out.stdout.strip()
