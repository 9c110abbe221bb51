"""Process, file, HTTP and command helpers shared by the lab's parts."""

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ksched_lab.settings import ADMIN_KUBECONFIG, K8S_BIN, KNOWN_HOSTS, LAB, LOGS, RUN, SSH

# ----------------------------------------------------------------- helpers
T0 = time.monotonic()


def log(msg):
    print(f"==> {msg}  [{time.monotonic() - T0:5.1f}s]", flush=True)


def info(msg):
    print(f"    {msg}", flush=True)


def die(msg):
    print(f"lab: ERROR: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def run(cmd, check=True, capture=True, input=None, timeout=120, env=None):
    cmd = [str(c) for c in cmd]
    p = subprocess.run(
        cmd,
        input=input,
        text=True,
        timeout=timeout,
        env=env,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
    )
    if check and p.returncode != 0:
        out, err = (p.stdout or "")[-2000:], (p.stderr or "")[-2000:]
        die(f"{' '.join(cmd)} failed (rc={p.returncode}):\n{out}{err}")
    return p


def tail(path, n=30):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def write(path, text, mode=0o644):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def read_pid(name):
    try:
        pid = int((RUN / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    # guard against pid reuse: the process must still be the binary we started
    exe = RUN / f"{name}.exe"
    want = exe.read_text().strip() if exe.exists() else None
    args = cmdline(pid)
    if pid_alive(pid) and args and (want is None or args[0].decode(errors="replace") == want):
        return pid
    return None


def start(name, argv, env=None):
    """Start a background process in its own session; log to .lab/logs/NAME.log."""
    LOGS.mkdir(parents=True, exist_ok=True)
    RUN.mkdir(parents=True, exist_ok=True)
    logf = open(LOGS / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child, closed below
    logf.write(f"\n---- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(map(str, argv))}\n".encode())
    logf.flush()
    p = subprocess.Popen(
        [str(a) for a in argv],
        stdin=subprocess.DEVNULL,
        stdout=logf,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=True,
        env=env,
        cwd=str(LAB),
    )
    logf.close()
    write(RUN / f"{name}.pid", f"{p.pid}\n")
    write(RUN / f"{name}.exe", f"{argv[0]}\n")
    write(RUN / f"{name}.argv", json.dumps([str(a) for a in argv]) + "\n")
    return p.pid


def running_as(name, argv):
    """pid of `name` if it runs with exactly `argv` (a new version or flag means a restart)."""
    pid = read_pid(name)
    try:
        same = json.loads((RUN / f"{name}.argv").read_text()) == [str(a) for a in argv]
    except (OSError, ValueError):
        same = False
    return pid if pid and same else None


def stop_pid(pid, name, sig=signal.SIGTERM, timeout=20.0):
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


def reap(pid):
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_for(what, fn, timeout, interval=0.5, logfile=None):
    deadline = time.monotonic() + timeout
    last = None
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


def https_get(url, cafile=None, timeout=3.0):
    ctx = ssl.create_default_context(cafile=str(cafile)) if cafile else ssl._create_unverified_context()
    with urllib.request.urlopen(url, context=ctx, timeout=timeout) as r:
        return r.status, r.read().decode(errors="replace")


def http_ok(url, cafile=None):
    try:
        status, _ = https_get(url, cafile)
        return status == 200
    except Exception:
        return False


def tcp_open(host, port, timeout=1.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def kubectl(*args, input=None, check=True, timeout=60):
    return run(
        [K8S_BIN / "kubectl", "--kubeconfig", ADMIN_KUBECONFIG, *args],
        input=input,
        check=check,
        timeout=timeout,
    )


def ssh_cmd(ip, *remote):
    return [
        "ssh",
        "-i",
        SSH / "id_ed25519",
        "-o",
        f"UserKnownHostsFile={KNOWN_HOSTS}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=3",
        "-o",
        "LogLevel=ERROR",
        f"root@{ip}",
        *remote,
    ]


# ------------------------------------------------------------------- network
def link_exists(name):
    return Path(f"/sys/class/net/{name}").exists()


# ------------------------------------------------------------------- masters
def mounted(path):
    path = str(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


def descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def remove_cgroup_tree(top):
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
