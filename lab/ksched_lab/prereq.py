"""What the lab needs on this machine before it starts: Debian tools, built binaries, rootfs."""

from __future__ import annotations

import os
import shutil
import subprocess

from ksched_lab.settings import (
    CACHE,
    ETCD_VERSION,
    K8S_VERSION,
    KWOK_VERSION,
    LAB_SRC,
    PAUSE_VERSION,
)
from ksched_lab.util import die, log, run


def ensure_tools() -> None:
    need = {
        "openssl": "openssl",
        "ssh": "openssh-client",
        "ssh-keygen": "openssh-client",
        "ip": "iproute2",
        "systemd-nspawn": "systemd-container",
        "debootstrap": "debootstrap",
        "curl": "curl",
        "musl-gcc": "musl-tools",  # the pause image, static
    }
    missing = sorted({pkg for tool, pkg in need.items() if shutil.which(tool) is None})
    if missing:
        log(f"apt-get install {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        p = run(["apt-get", "install", "-y", *missing], check=False, env=env, timeout=600)
        if p.returncode != 0:
            run(["apt-get", "update"], env=env, timeout=600)
            run(["apt-get", "install", "-y", *missing], env=env, timeout=600)


def ensure_built() -> None:
    """lab/build.sh and lab/rootfs.sh: both rebuild only what is missing or out of date."""
    env = dict(
        os.environ,
        KSCHED_CACHE=str(CACHE),
        K8S_VERSION=K8S_VERSION,
        ETCD_VERSION=ETCD_VERSION,
        KWOK_VERSION=KWOK_VERSION,
        PAUSE_VERSION=PAUSE_VERSION,
    )
    for script in ("build.sh", "rootfs.sh"):
        p = subprocess.run(["bash", str(LAB_SRC / script)], env=env, stdout=subprocess.PIPE, text=True)
        for line in p.stdout.splitlines():
            if "present" not in line:
                print(line, flush=True)
        if p.returncode != 0:
            die(f"lab/{script} failed")
