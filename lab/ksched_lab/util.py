"""Process, file, HTTP and command helpers shared by the lab's parts."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from ksched_lab.settings import ADMIN_KUBECONFIG, CACHE, K8S_BIN, KNOWN_HOSTS, LAB, LOGS, RUN, SSH
from plumbing.ssh import ssh_argv

T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"==> {msg}  [{time.monotonic() - T0:5.1f}s]", flush=True)


def info(msg: str) -> None:
    print(f"    {msg}", flush=True)


def die(msg: str) -> NoReturn:
    print(f"lab: ERROR: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def run(
    cmd: Sequence[object],
    check: bool = True,
    input: str | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    argv = [str(c) for c in cmd]
    p = subprocess.run(argv, input=input, text=True, timeout=timeout, env=env, capture_output=True)
    if check and p.returncode != 0:
        die(f"{' '.join(argv)} failed (rc={p.returncode}):\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    return p


def tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def write(path: Path, text: str, mode: int = 0o644) -> None:
    """Atomically: a reader never sees half a file, nor a secret file before it has its mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    os.fchmod(fd, mode)  # whatever the umask
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def cmdline(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def read_pid(name: str) -> int | None:
    try:
        pid = int((RUN / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    # pid reuse: the process must still be the binary we started
    exe = RUN / f"{name}.exe"
    want = exe.read_text().strip() if exe.exists() else None
    args = cmdline(pid)
    if pid_alive(pid) and args and (want is None or args[0].decode(errors="replace") == want):
        return pid
    return None


def spawn(
    argv: Sequence[object], log: Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A background process in its own session (its own process group: a stop signals only that),
    appending to `log` after a line that says when and what started."""
    args = [str(a) for a in argv]
    with open(log, "ab") as logf:
        logf.write(f"\n---- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(args)}\n".encode())
        logf.flush()
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
            cwd=str(cwd),
        )


def start(name: str, argv: Sequence[object], env: dict[str, str] | None = None) -> int:
    """Start a background process in its own session; log to .lab/logs/NAME.log."""
    LOGS.mkdir(parents=True, exist_ok=True)
    RUN.mkdir(parents=True, exist_ok=True)
    args = [str(a) for a in argv]
    p = spawn(args, LOGS / f"{name}.log", LAB, env)
    write(RUN / f"{name}.pid", f"{p.pid}\n")
    write(RUN / f"{name}.exe", f"{args[0]}\n")
    write(RUN / f"{name}.argv", json.dumps(args) + "\n")
    return p.pid


def running_as(name: str, argv: Sequence[object]) -> int | None:
    """pid of `name` if it runs with exactly `argv` (a new version or flag means a restart)."""
    pid = read_pid(name)
    try:
        same = json.loads((RUN / f"{name}.argv").read_text()) == [str(a) for a in argv]
    except (OSError, ValueError):
        same = False
    return pid if pid and same else None


def stop_pid(pid: int, name: str, sig: signal.Signals | None = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Send sig (None: already signalled, just wait), wait up to timeout, then SIGKILL."""
    if not pid_alive(pid):
        return
    try:
        if sig is not None:
            os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            reap(pid)
            return
        time.sleep(0.1)
    info(f"{name} (pid {pid}) did not stop in {timeout:.0f}s: SIGKILL")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        if not pid_alive(pid):
            break
        time.sleep(0.1)
    reap(pid)


def reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_for(
    what: str, fn: Callable[[], object], timeout: float, interval: float = 0.5, logfile: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if fn():
                return
        except Exception as e:
            last = e
        time.sleep(interval)
    msg = f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last})" if last else "")
    if logfile:
        msg += f"\n--- last lines of {logfile}:\n{tail(logfile)}"
    die(msg)


def http_ok(url: str, cafile: Path | None = None) -> bool:
    """GET url answers 200 (https verified with cafile when given)."""
    ctx = ssl.create_default_context(cafile=str(cafile)) if cafile else ssl._create_unverified_context()
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=3.0) as r:
            return bool(r.status == 200)
    except Exception:
        return False


def tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def kubectl(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(
        [K8S_BIN / "kubectl", "--kubeconfig", ADMIN_KUBECONFIG, *args], input=input, check=check, timeout=60
    )


def ssh_cmd(ip: str, *remote: str) -> list[str]:
    """root@ip with the lab's key, trusting only the lab's pinned host keys."""
    return ssh_argv(
        ip,
        known_hosts=KNOWN_HOSTS,
        identity=SSH / "id_ed25519",
        connect_timeout=3,
        attempts=1,  # callers poll or check reachability first
        remote=remote,
    )


def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def mounted(path: Path) -> bool:
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == str(path) for line in f)


def descendants(pid: int | None) -> list[int]:
    """Every descendant of pid; its own children come first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = [pid] if pid is not None else []
    while todo:
        kids = children.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def remove_cgroup_tree(top: Path) -> list[str]:
    """rmdir a cgroup and everything below it, deepest first; returns what could not go."""
    if not top.is_dir():
        return []
    left = []
    for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        try:
            d.rmdir()
        except OSError:
            left.append(str(d))
    try:
        top.rmdir()
    except OSError:
        left.append(str(top))
    return left


def go_env(goflags: str, **extra: str) -> dict[str, str]:
    """Builds from the Go module proxy into the lab's Go caches (lab/build.sh uses the same): no
    toolchain download, static binaries."""
    env = dict(os.environ)
    env.update(
        GOMODCACHE=str(CACHE / "go" / "mod"),
        GOCACHE=str(CACHE / "go" / "build"),
        GOTOOLCHAIN="local",
        GOFLAGS=goflags,
        CGO_ENABLED="0",
        **extra,
    )
    if shutil.which("go") is None and Path("/usr/local/go/bin/go").exists():
        env["PATH"] = "/usr/local/go/bin:" + env.get("PATH", "")
    return env
