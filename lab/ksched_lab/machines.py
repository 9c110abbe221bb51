"""The lab's machines (masters and nodes): Debian systemd hosts booted with systemd-nspawn, each on
its own overlay of one rootfs (its "disk"), on the lab bridge, reachable over SSH with pinned keys.

A machine keeps its disk across power-off, `lab down` and reboots, like a real host;
`rebuild-master` gives a master a fresh one (docs/sources.md#lab-masters).
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Sequence
from pathlib import Path

from ksched_lab.settings import (
    BRIDGE,
    HOST_IP,
    HOSTS,
    LOGS,
    MACHINES,
    MASTERS,
    NODES,
    PKI,
    PREFIX,
    ROOTFS,
    SSH,
)
from ksched_lab.util import (
    link_exists,
    log,
    mounted,
    read_pid,
    run,
    running_as,
    ssh_cmd,
    start,
    stop_pid,
    tcp_open,
    wait_for,
    write,
)

ALL = [(n, ip) for n, ip in MASTERS] + [(n, ip) for n, ip, _ in NODES]


def machine_dirs(name: str) -> tuple[Path, Path, Path, Path]:
    d = MACHINES / name
    return d, d / "upper", d / "work", d / "root"


def mount_overlay(upper: Path, work: Path, root: Path, lower: str | Path) -> None:
    run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={lower},upperdir={upper},workdir={work}",
            root,
        ]
    )


def install_disk(name: str, ip: str, keep_disk: bool = True) -> Path:
    """Mount the machine's disk; install a fresh one (identity, network, sshd, lab CA) when it has
    none or `keep_disk` is false. Returns the root directory."""
    d, upper, work, root = machine_dirs(name)
    installed = d / ".installed"
    if keep_disk and installed.exists():
        if not mounted(root):
            mount_overlay(upper, work, root, installed.read_text().strip() or ROOTFS.resolve())
        return root
    if mounted(root):
        run(["umount", root])
    if d.exists():
        shutil.rmtree(d)
    for p in (upper, work, root):
        p.mkdir(parents=True)
    lower = ROOTFS.resolve()
    mount_overlay(upper, work, root, lower)
    h = HOSTS / name
    write(root / "etc/hostname", f"{name}\n")
    write(root / "etc/machine-id", (h / "machine-id").read_text(), mode=0o444)
    hosts = ["127.0.0.1\tlocalhost", f"127.0.1.1\t{name}", f"{HOST_IP}\tksched-lab-host kubernetes"]
    hosts += [f"{mip}\t{mname}" for mname, mip in ALL if mname != name]
    write(root / "etc/hosts", "\n".join(hosts) + "\n")
    write(
        root / "etc/systemd/network/10-host0.network",
        f"[Match]\nName=host0\n\n[Network]\nAddress={ip}/{PREFIX}\n"
        "LinkLocalAddressing=no\nIPv6AcceptRA=no\nLLDP=no\nEmitLLDP=no\n",
    )
    (root / "etc/ssh").mkdir(parents=True, exist_ok=True)
    for f in (root / "etc/ssh").glob("ssh_host_*"):
        f.unlink()
    shutil.copyfile(h / "ssh_host_ed25519_key", root / "etc/ssh/ssh_host_ed25519_key")
    os.chmod(root / "etc/ssh/ssh_host_ed25519_key", 0o600)
    shutil.copyfile(h / "ssh_host_ed25519_key.pub", root / "etc/ssh/ssh_host_ed25519_key.pub")
    write(
        root / "etc/ssh/sshd_config.d/ksched-lab.conf",
        "HostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\n",
    )
    (root / "root/.ssh").mkdir(parents=True, exist_ok=True)
    os.chmod(root / "root/.ssh", 0o700)
    write(root / "root/.ssh/authorized_keys", (SSH / "id_ed25519.pub").read_text(), mode=0o600)
    # the lab CA, for checks from inside a machine (the project installs its own copy)
    write(root / "etc/ksched-lab/ca.crt", (PKI / "ca.crt").read_text())
    installed.write_text(f"{lower}\n")
    return root


def is_up(name: str) -> bool:
    return read_pid(f"nspawn-{name}") is not None


def boot_argv(name: str, extra_args: Sequence[str] = ()) -> list[str]:
    root = machine_dirs(name)[3]
    return [
        shutil.which("systemd-nspawn") or "/usr/bin/systemd-nspawn",
        f"--directory={root}",
        f"--machine={name}",
        f"--hostname={name}",
        "--boot",
        "--keep-unit",
        "--register=no",  # PID 1 here is not systemd: no machined, no scope
        f"--network-bridge={BRIDGE}",
        "--resolv-conf=off",
        "--timezone=off",
        "--link-journal=no",
        "--console=read-only",
        *extra_args,
    ]


def boot(name: str, extra_args: Sequence[str] = ()) -> None:
    start(f"nspawn-{name}", boot_argv(name, extra_args))


def runs_as_booted(name: str, extra_args: Sequence[str] = ()) -> bool:
    """Up, and booted with these arguments (a node's bind-mounted binaries name their version)."""
    return running_as(f"nspawn-{name}", boot_argv(name, extra_args)) is not None


def ssh_ok(ip: str) -> bool:
    if not tcp_open(ip, 22):
        return False
    return run(ssh_cmd(ip, "true"), check=False, timeout=15).returncode == 0


def wait_ssh(name: str, ip: str) -> None:
    wait_for(
        f"sshd on {name} ({ip})", lambda: ssh_ok(ip), 90, interval=0.5, logfile=LOGS / f"nspawn-{name}.log"
    )


def power_off(name: str) -> None:
    """An orderly halt (SIGTERM to systemd-nspawn); the disk is kept."""
    pid = read_pid(f"nspawn-{name}")
    if pid:
        log(f"powering off {name} (disk kept)")
        os.kill(pid, signal.SIGTERM)
        # no second SIGTERM: nspawn takes that as "terminate immediately"
        stop_pid(pid, f"nspawn-{name}", sig=None, timeout=60)
    root = machine_dirs(name)[3]
    if mounted(root):
        run(["umount", root])
    for link in (f"vb-{name}", f"ve-{name}"):
        if link_exists(link):
            run(["ip", "link", "del", link], check=False)
