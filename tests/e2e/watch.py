"""Watching the masters' services during a change, and running `make up`'s entry point on a lab
stack the way a user does (a process of its own, which a test may kill)."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.e2e.lab import MASTERS, ROOT, LabStack, ssh_argv

# One line per sample: "<epoch> <is-active>"; twice a second per master.
_SAMPLER = (
    'while :; do printf \'%s %s\\n\' "$(date +%s.%N)" "$(systemctl is-active kube-scheduler.service)";'
    " sleep 0.5; done"
)


class ServiceWatch:
    """Samples `systemctl is-active kube-scheduler` on every master twice a second (one SSH
    session each, kept open), for 'active throughout, at most one restarting at a time'."""

    def __init__(self, masters: tuple[str, ...] = MASTERS) -> None:
        self.samples: dict[str, list[tuple[float, str]]] = {m: [] for m in masters}
        self._procs: list[subprocess.Popen[str]] = []
        self._threads: list[threading.Thread] = []

    def _read(self, master: str, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            t, _, state = line.strip().partition(" ")
            if state:
                self.samples[master].append((float(t), state))

    def __enter__(self) -> ServiceWatch:
        for m in self.samples:
            proc = subprocess.Popen([*ssh_argv(m), _SAMPLER], stdout=subprocess.PIPE, text=True)
            self._procs.append(proc)
            thread = threading.Thread(target=self._read, args=(m, proc), daemon=True)
            thread.start()
            self._threads.append(thread)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(self.samples.values()):
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self._procs:
            proc.kill()
            proc.wait()
        for thread in self._threads:
            thread.join(timeout=5)

    def not_active(self) -> dict[str, list[float]]:
        return {m: [t for t, state in s if state != "active"] for m, s in self.samples.items()}

    def most_down_at_once(self) -> int:
        """Masters not active at the same time (samples within a second count as the same time)."""
        down = sorted((t, m) for m, ts in self.not_active().items() for t in ts)
        most = 0
        for t, _ in down:
            most = max(most, len({m for u, m in down if abs(u - t) <= 1.0}))
        return most

    def longest_down(self) -> float:
        """The longest run of non-active samples of one master, in seconds (0 when always active)."""
        longest = 0.0
        for samples in self.samples.values():
            start = None
            for t, state in samples:
                if state != "active" and start is None:
                    start = t
                elif state == "active" and start is not None:
                    longest, start = max(longest, t - start), None
            if start is not None:
                longest = float("inf")  # still down at the end
        return longest

    def sampled_every(self) -> float:
        """The widest gap between two samples of one master, in seconds."""
        gaps = [b - a for s in self.samples.values() for (a, _), (b, _) in itertools.pairwise(s)]
        return max(gaps, default=0.0)


def make_up(
    stack: LabStack, on_line: Callable[[str, subprocess.Popen[str]], None] | None = None
) -> tuple[int, str]:
    """`python -m scripts.stack up <stack>` (what `make up` runs after lab-up) on this lab stack:
    (exit status, everything it printed). `on_line` sees each line as it comes, with the process."""
    env = {**os.environ, **stack.env, "KSCHED_PROJECT_DIR": str(stack.ws.work_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.stack", "up", stack.stack.name],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if on_line is not None:
            on_line(line, proc)
    return proc.wait(timeout=900), "".join(lines)


def run_printed_command(text: str, stack: LabStack) -> subprocess.CompletedProcess[str]:
    """Run the one command a stale-lock message names ("Clear it with: <command>")."""
    found = re.search(r"Clear it with: (.+?)\.?$", text, re.MULTILINE)
    assert found, text[-2000:]
    env = {**os.environ, **stack.env}
    return subprocess.run(
        ["bash", "-c", found.group(1)],
        cwd=stack.ws.work_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def cli_of(wrapper: subprocess.Popen[str]) -> int | None:
    """The `pulumi` CLI process the wrapper started (its child), if it runs."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            argv0 = (proc / "cmdline").read_bytes().split(b"\0", 1)[0]
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == wrapper.pid and argv0.endswith(b"pulumi"):
            return int(proc.name)
    return None


def kill_cli(wrapper: subprocess.Popen[str]) -> None:
    pid = cli_of(wrapper)
    assert pid is not None, "no pulumi CLI under the wrapper"
    os.kill(pid, signal.SIGKILL)
