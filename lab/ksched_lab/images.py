"""Container images without a registry: OCI image layouts, written as tar archives, of what the
lab already compiles, under the exact names the program's manifests use. Each node's containerd
imports them (`ctr -n k8s.io images import`), so pods start with imagePullPolicy IfNotPresent.

    registry.k8s.io/kube-scheduler:v<version>  the lab's kube-scheduler, on PATH, uid 65532 known
    registry.k8s.io/pause:<PAUSE_VERSION>      pause.c of k8s.io/kubernetes, static (musl)

Archives are rebuilt only when what goes into them changes (a digest stamp beside each).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from typing import Any

from ksched_lab.settings import IMAGES, K8S_BIN, K8S_VERSION, PAUSE_IMAGE, PAUSE_VERSION
from ksched_lab.util import log, write

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
NONROOT = 65532  # distroless "nonroot", the uid the in-cluster Deployment runs as
PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\n"
    f"nonroot:x:{NONROOT}:{NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n"
)
GROUP = f"root:x:0:\nnonroot:x:{NONROOT}:\n"


def _layer(files: dict[str, tuple[bytes, int]]) -> tuple[bytes, str]:
    """A reproducible gzip'd tar of {path: (bytes, mode)}: (compressed, uncompressed digest)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for path, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    plain = raw.getvalue()
    return gzip.compress(plain, mtime=0), "sha256:" + hashlib.sha256(plain).hexdigest()


def _blob(blobs: dict[str, bytes], data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    blobs[f"blobs/sha256/{digest}"] = data
    return {"digest": f"sha256:{digest}", "size": len(data)}


def oci_archive(names: list[str], files: dict[str, tuple[bytes, int]], config: dict[str, Any]) -> bytes:
    """An OCI image layout as tar bytes: one single-layer image, indexed under each of `names`."""
    blobs: dict[str, bytes] = {}
    layer, diff_id = _layer(files)
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, **_blob(blobs, json.dumps(image_config).encode())},
        "layers": [{"mediaType": OCI_LAYER, **_blob(blobs, layer)}],
    }
    ref = _blob(blobs, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                **ref,
                # containerd names the imported image after this annotation
                "annotations": {
                    "io.containerd.image.name": n,
                    "org.opencontainers.image.ref.name": n.split(":")[-1],
                },
            }
            for n in names
        ],
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        entries = {
            "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
            "index.json": json.dumps(index).encode(),
        }
        for path, data in {**entries, **blobs}.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def scheduler_image_name() -> str:
    return f"registry.k8s.io/kube-scheduler:{K8S_VERSION}"


def _build(
    archive: str, names: list[str], files: dict[str, tuple[bytes, int]], config: dict[str, Any]
) -> None:
    stamp = IMAGES / f"{archive}.inputs"
    key = hashlib.sha256(
        json.dumps([names, config]).encode() + b"".join(d for d, _ in files.values())
    ).hexdigest()
    if (IMAGES / archive).exists() and stamp.exists() and stamp.read_text() == key:
        return
    log(f"building image {', '.join(names)} ({IMAGES / archive})")
    write(IMAGES / archive, "")
    (IMAGES / archive).write_bytes(oci_archive(names, files, config))
    write(stamp, key)


def ensure_images() -> None:
    """The archives every node imports."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    path_env = ["PATH=/usr/local/bin:/usr/bin:/bin"]
    _build(
        "kube-scheduler.tar",
        [scheduler_image_name()],
        {
            "usr/local/bin/kube-scheduler": ((K8S_BIN / "kube-scheduler").read_bytes(), 0o755),
            "etc/passwd": (PASSWD.encode(), 0o644),
            "etc/group": (GROUP.encode(), 0o644),
        },
        {"Env": path_env, "Entrypoint": ["/usr/local/bin/kube-scheduler"], "User": f"{NONROOT}:{NONROOT}"},
    )
    _build(
        "pause.tar",
        [PAUSE_IMAGE],
        {"pause": ((K8S_BIN / "pause").read_bytes(), 0o755)},
        {
            "Env": path_env,
            "Entrypoint": ["/pause"],
            "User": "65535:65535",
            "Labels": {"version": PAUSE_VERSION},
        },
    )
