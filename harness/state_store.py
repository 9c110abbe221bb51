"""The project's S3-compatible state store (SeaweedFS, lab/ksched_lab/state_store.py) as the suites
and benchmarks use it: started through `lab/lab.sh state-store start` (which builds the pinned
binary on a machine that has none), in a data directory of their own and on ports of their own, so
that an operator's store is never touched; stopped at the end, with no process of it left.

Its exports (backend URL, access key, checksum setting) are read from `start`'s output and handed
to the processes that need them, never printed. `keys` lists the bucket through S3 itself
(ListObjectsV2, signed with AWS Signature Version 4), as any other client of the store sees it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import os
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from harness.lab import ROOT

# Away from the store's default (24833, what an operator runs with `lab/lab.sh state-store start`)
# and from the lab's ports; the store derives its other ports from this one.
S3_PORT = 25833
BUILD_TIMEOUT = 3600.0  # a machine without the binary builds it from the Go module proxy first
_EXPORT = re.compile(r"^export (\w+)='([^']*)'$")


def _state_store(command: str, data_dir: Path, port: int, timeout: float) -> str:
    out = subprocess.run(
        ["bash", str(ROOT / "lab" / "lab.sh"), "state-store", command],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "KSCHED_STATE_DIR": str(data_dir), "KSCHED_STATE_S3_PORT": str(port)},
    )
    if out.returncode != 0:
        # stdout carries only `export` lines (the secret key among them): never shown
        raise RuntimeError(f"lab/lab.sh state-store {command} failed:\n{out.stderr[-3000:]}")
    return out.stdout


def processes(data_dir: Path) -> list[int]:
    """pids of processes started on this data directory (a `weed` names it in its arguments)."""
    marker = str(data_dir.resolve()).encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"/weed") and any(marker in a for a in argv):
            found.append(int(proc.name))
    return found


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def state_store(data_dir: Path, port: int = S3_PORT) -> Iterator[dict[str, str]]:
    """The store running on `data_dir` while the block lasts; yields what an operator exports
    (PULUMI_BACKEND_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REQUEST_CHECKSUM_CALCULATION)."""
    try:
        printed = _state_store("start", data_dir, port, BUILD_TIMEOUT)
        exports: dict[str, str] = {}
        for line in printed.splitlines():
            found = _EXPORT.match(line)
            if found:
                exports[found.group(1)] = found.group(2)
        yield exports
    finally:
        _state_store("stop", data_dir, port, 120)
        deadline = time.monotonic() + 15  # stopped processes are reaped by PID 1 a moment later
        while time.monotonic() < deadline and (processes(data_dir) or _listening(port)):
            time.sleep(0.2)
        left = processes(data_dir)
        if left or _listening(port):
            raise RuntimeError(
                f"the state store left processes {left} (port {port} open: {_listening(port)})"
            )


def _sign(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def keys(env: dict[str, str], prefix: str = "") -> list[str]:
    """Every key in the backend's bucket under `prefix` (ListObjectsV2, path-style, SigV4)."""
    url = urllib.parse.urlsplit(env["PULUMI_BACKEND_URL"])
    query = dict(urllib.parse.parse_qsl(url.query))
    bucket, host, region = url.netloc, query["endpoint"], query.get("region", "us-east-1")
    scheme = "http" if query.get("disableSSL") == "true" else "https"
    found: list[str] = []
    token = ""
    while True:
        params = {"list-type": "2", "prefix": prefix} | ({"continuation-token": token} if token else {})
        canonical_query = "&".join(
            f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
            for k, v in sorted(params.items())
        )
        now = dt.datetime.now(dt.UTC)
        stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        empty = hashlib.sha256(b"").hexdigest()
        headers = {"host": host, "x-amz-content-sha256": empty, "x-amz-date": stamp}
        signed = ";".join(sorted(headers))
        request = "\n".join(
            ["GET", f"/{bucket}", canonical_query, *(f"{k}:{headers[k]}" for k in sorted(headers)), "",
             signed, empty]
        )  # fmt: skip
        scope = f"{day}/{region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(request.encode()).hexdigest()])
        key = _sign(("AWS4" + env["AWS_SECRET_ACCESS_KEY"]).encode(), day)
        for part in (region, "s3", "aws4_request"):
            key = _sign(key, part)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        req = urllib.request.Request(f"{scheme}://{host}/{bucket}?{canonical_query}")
        req.add_header("x-amz-content-sha256", empty)
        req.add_header("x-amz-date", stamp)
        req.add_header(
            "Authorization",
            f"AWS4-HMAC-SHA256 Credential={env['AWS_ACCESS_KEY_ID']}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            doc = ET.fromstring(resp.read())
        ns = {"s3": doc.tag.split("}")[0].strip("{")} if doc.tag.startswith("{") else {}
        p = "s3:" if ns else ""
        found += [k.text or "" for k in doc.findall(f"{p}Contents/{p}Key", ns)]
        more = doc.find(f"{p}IsTruncated", ns)
        token_el = doc.find(f"{p}NextContinuationToken", ns)
        if more is None or more.text != "true" or token_el is None or not token_el.text:
            return found
        token = token_el.text
