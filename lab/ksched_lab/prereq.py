"""What the lab needs on this machine before it starts: Debian tools, built binaries, rootfs."""

import os
import shutil
import subprocess

from ksched_lab.settings import (
    CACHE,
    ETCD_BIN,
    ETCD_VERSION,
    K8S_BIN,
    K8S_VERSION,
    KWOK_BIN,
    KWOK_STAGES,
    KWOK_VERSION,
    LAB_SRC,
    ROOTFS,
)
from ksched_lab.util import die, log, run


# ------------------------------------------------------------- prerequisites
def ensure_tools():
    need = {
        "openssl": "openssl",
        "ssh": "openssh-client",
        "ssh-keygen": "openssh-client",
        "ip": "iproute2",
        "systemd-nspawn": "systemd-container",
        "debootstrap": "debootstrap",
        "curl": "curl",
    }
    missing = sorted({pkg for tool, pkg in need.items() if shutil.which(tool) is None})
    if missing:
        log(f"apt-get install {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        p = run(["apt-get", "install", "-y", *missing], check=False, env=env, timeout=600)
        if p.returncode != 0:
            run(["apt-get", "update"], env=env, timeout=600)
            run(["apt-get", "install", "-y", *missing], env=env, timeout=600)


def ensure_built():
    bins = [K8S_BIN / b for b in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")]
    if (
        all(os.access(b, os.X_OK) for b in [*bins, ETCD_BIN, KWOK_BIN])
        and KWOK_STAGES.is_dir()
        and (ROOTFS / ".ksched-rootfs-complete").exists()
    ):
        return
    log("building binaries (lab/build.sh) and root filesystem (lab/rootfs.sh)")
    env = dict(
        os.environ,
        KSCHED_CACHE=str(CACHE),
        K8S_VERSION=K8S_VERSION,
        ETCD_VERSION=ETCD_VERSION,
        KWOK_VERSION=KWOK_VERSION,
    )
    for script in ("build.sh", "rootfs.sh"):
        p = subprocess.run(["bash", str(LAB_SRC / script)], env=env)
        if p.returncode != 0:
            die(f"lab/{script} failed")
