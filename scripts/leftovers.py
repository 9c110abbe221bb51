"""What a killed `pulumi` leaves behind, found before the next run: its lock on the stack (named as
stale with the one command that clears it, never removed silently) and its plugin processes
(stopped: their engine is gone, nobody can talk to them again)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# Plugins are started with the engine's gRPC address as an argument.
_ENGINE = re.compile(r"127\.0\.0\.1:(\d+)")
_PLUGIN = re.compile(
    r"pulumi-(resource|analyzer|language)-|-m pulumi\.(dynamic|policy)|pulumi_language_python"
)


@dataclass(frozen=True)
class Lock:
    path: Path
    pid: int
    user: str
    host: str
    since: str

    @property
    def alive(self) -> bool:
        """Held by a process that still runs (only knowable on the machine that took it)."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def describe(self) -> str:
        return f"pid {self.pid} ({self.user} on {self.host}) since {self.since}"


def locks(backend_url: str, project: str, stack: str) -> list[Lock]:
    """The stack's locks in a file:// backend (the DIY layout: .pulumi/locks/<org>/<project>/<stack>).
    Other backends: [] (their locks are the CLI's to report)."""
    parts = urlsplit(backend_url)
    if parts.scheme != "file":
        return []
    root = Path(parts.path) / ".pulumi" / "locks"
    out = []
    for path in sorted(root.glob(f"*/{project}/{stack}/*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        out.append(
            Lock(
                path,
                int(doc.get("pid", 0)),
                doc.get("username", "?"),
                doc.get("hostname", "?"),
                str(doc.get("timestamp", "?"))[:19] + "Z",
            )
        )
    return out


def lock_problem(backend_url: str, project: str, stack: str, project_dir: Path, env: Path) -> str | None:
    """What to tell the user when the stack is locked, or None."""
    for lock in locks(backend_url, project, stack):
        if lock.alive:
            return f"another update of {stack} is running ({lock.describe()}): wait for it to finish"
        return (
            f"the lock on {stack} is stale: the pulumi that took it ({lock.describe()}) is gone from "
            f"this machine. Clear it with: source {env} && "
            f"pulumi -C {project_dir} cancel --yes --stack {stack}"
        )
    return None


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def orphaned_plugins() -> list[tuple[int, str]]:
    """(pid, command line) of plugin processes whose engine no longer listens."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        engine = _ENGINE.search(cmdline)
        if engine and _PLUGIN.search(cmdline) and not _listening(int(engine.group(1))):
            out.append((int(proc.name), cmdline))
    return out


def stop_orphaned_plugins() -> list[str]:
    """Stop them (TERM, then KILL after 2 s); returns what was stopped."""
    found = orphaned_plugins()
    for pid, _ in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid, _ in found):
        time.sleep(0.1)
    for pid, _ in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return [f"{pid} {cmd[:100]}" for pid, cmd in found]
