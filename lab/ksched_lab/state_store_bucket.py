"""Where the state store listens and keeps its data, its one access key, its bucket, and what an
operator exports to use it."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

from ksched_lab.settings import LAB
from ksched_lab.state_store_build import WEED, run_captured
from ksched_lab.util import write

DATA_DIR = Path(os.environ.get("KSCHED_STATE_DIR", LAB / "state-store")).resolve()
HOST = "127.0.0.1"
# Away from SeaweedFS's defaults (9333/8080/8888/8333) and from the lab's ports. Each service also
# listens for gRPC, by default on its port + 10000: that is inside Linux's ephemeral range
# (32768-60999), where an outgoing connection can hold it (measured: "bind: address already in
# use" on a CI run), so each gRPC port is set explicitly, 10000 below instead. SeaweedFS names a
# unix socket /tmp/seaweedfs-<service>-grpc-<grpc port>.sock after it.
S3_PORT = int(os.environ.get("KSCHED_STATE_S3_PORT", "24833"))
MASTER_PORT = S3_PORT - 500  # 24333
VOLUME_PORT = S3_PORT - 753  # 24080
FILER_PORT = S3_PORT + 55  # 24888
PORTS = {"master": MASTER_PORT, "volume": VOLUME_PORT, "filer": FILER_PORT, "s3": S3_PORT}
GRPC_PORTS = {service: port - 10000 for service, port in PORTS.items()}
BUCKET = "pulumi-state"
REGION = "us-east-1"


def paths(data_dir: Path) -> dict[str, Path]:
    return {
        "pid": data_dir / "weed.pid",
        "argv": data_dir / "weed.argv",
        "log": data_dir / "weed.log",
        "creds": data_dir / "credentials.json",
        "s3config": data_dir / "s3.json",
        "volumes": data_dir / "volumes",
    }


def tcp_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def _shell(command: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return run_captured(
        [str(WEED), "shell", f"-master={HOST}:{MASTER_PORT}.{GRPC_PORTS['master']}"],
        input=command + "\n",
        timeout=timeout,
    )


def bucket_exists() -> bool:
    out = _shell("s3.bucket.list")
    return out.returncode == 0 and re.search(rf"^\s*{re.escape(BUCKET)}\s", out.stdout, re.M) is not None


def create_bucket() -> bool:
    return _shell(f"s3.bucket.create -name {BUCKET}").returncode == 0


def writable() -> bool:
    """The master hands out file ids: after a restart it refuses (503) for a warm-up of ~15-30 s
    while volume servers report in, and S3 writes stall until then. An unused id costs nothing."""
    url = f"http://{HOST}:{MASTER_PORT}/dir/assign?collection={BUCKET}"
    try:
        with urllib.request.urlopen(url, timeout=5.0) as r:
            return r.status == 200 and "fid" in json.loads(r.read())
    except (OSError, ValueError):
        return False


def credentials(data_dir: Path = DATA_DIR) -> dict[str, str]:
    """The store's one access key, made on first use and kept with the data it guards."""
    p = paths(data_dir)
    if p["creds"].exists():
        creds: dict[str, str] = json.loads(p["creds"].read_text())
        return creds
    data_dir.mkdir(parents=True, exist_ok=True)
    creds = {"accessKey": "ksched" + secrets.token_hex(6), "secretKey": secrets.token_urlsafe(30)}
    config = {
        "identities": [
            {
                "name": "pulumi",
                "credentials": [creds],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    for key, body in (("creds", creds), ("s3config", config)):
        write(p[key], json.dumps(body, indent=1) + "\n", 0o600)
    return creds


def backend_url() -> str:
    """What `pulumi login` takes (Pulumi turns disableSSL/endpoint into the v2 SDK's form)."""
    query = urllib.parse.urlencode(
        {
            "endpoint": f"{HOST}:{S3_PORT}",
            "disableSSL": "true",
            "s3ForcePathStyle": "true",
            "region": REGION,
        },
        safe=":",
    )
    return f"s3://{BUCKET}?{query}"


def env(data_dir: Path = DATA_DIR) -> dict[str, str]:
    """What an operator exports to use the store."""
    creds = credentials(data_dir)
    return {
        "PULUMI_BACKEND_URL": backend_url(),
        "AWS_ACCESS_KEY_ID": creds["accessKey"],
        "AWS_SECRET_ACCESS_KEY": creds["secretKey"],
        # checksums on upload, which SeaweedFS stores and returns, so every read is verified
        "AWS_REQUEST_CHECKSUM_CALCULATION": "when_supported",
    }
