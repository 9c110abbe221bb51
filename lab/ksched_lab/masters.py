"""The "bare-metal" masters: Debian systemd hosts in systemd-nspawn on overlays of one rootfs."""

import os
import shutil
import signal

from ksched_lab.settings import (
    API_URL,
    BRIDGE,
    HOST_IP,
    HOSTS,
    LOGS,
    MACHINES,
    MASTERS,
    PKI,
    PREFIX,
    ROOTFS,
    SSH,
)
from ksched_lab.util import (
    die,
    link_exists,
    log,
    mounted,
    read_pid,
    run,
    ssh_cmd,
    start,
    stop_pid,
    tcp_open,
    wait_for,
    write,
)


def master_dirs(name):
    d = MACHINES / name
    return d, d / "upper", d / "work", d / "root"


def mount_overlay(upper, work, root):
    run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={ROOTFS},upperdir={upper},workdir={work}",
            root,
        ]
    )


def prepare_master(name, ip, keep_disk=True):
    """Mount the master's disk (its overlay's upper layer); install a fresh one when it has none
    or `keep_disk` is false (a rebuilt host)."""
    d, upper, work, root = master_dirs(name)
    installed = d / ".installed"
    if keep_disk and installed.exists():
        # like a real host, a master keeps its disk across power-off, lab-down and reboots
        if not mounted(root):
            mount_overlay(upper, work, root)
        return
    if mounted(root):
        run(["umount", root])
    if d.exists():
        shutil.rmtree(d)
    for p in (upper, work, root):
        p.mkdir(parents=True)
    mount_overlay(upper, work, root)
    h = HOSTS / name
    write(root / "etc/hostname", f"{name}\n")
    write(root / "etc/machine-id", (h / "machine-id").read_text(), mode=0o444)
    hosts = ["127.0.0.1\tlocalhost", f"127.0.1.1\t{name}", f"{HOST_IP}\tksched-lab-host kubernetes"]
    hosts += [f"{mip}\t{mname}" for mname, mip in MASTERS if mname != name]
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
    # the lab CA, for checks from inside a master (the project installs its own copy)
    write(root / "etc/ksched-lab/ca.crt", (PKI / "ca.crt").read_text())
    installed.touch()


def master_up(name, ip):
    return read_pid(f"nspawn-{name}") is not None


def start_master(name, ip, keep_disk=True):
    prepare_master(name, ip, keep_disk)
    _, _, _, root = master_dirs(name)
    start(
        f"nspawn-{name}",
        [
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
        ],
    )


def ssh_ok(ip):
    if not tcp_open(ip, 22):
        return False
    return run(ssh_cmd(ip, "true"), check=False, timeout=15).returncode == 0


def ensure_masters():
    todo = [(n, ip) for n, ip in MASTERS if not master_up(n, ip)]
    for n, ip in todo:
        log(f"booting {n} ({ip})")
        start_master(n, ip)
    for n, ip in MASTERS:
        wait_for(
            f"sshd on {n} ({ip})",
            lambda ip=ip: ssh_ok(ip),
            90,
            interval=0.5,
            logfile=LOGS / f"nspawn-{n}.log",
        )
    # the masters must reach the API server (verified with the lab CA)
    for n, ip in MASTERS:
        p = run(
            ssh_cmd(
                ip,
                "curl",
                "-sS",
                "--max-time",
                "5",
                "--cacert",
                "/etc/ksched-lab/ca.crt",
                f"{API_URL}/healthz",
            ),
            check=False,
            timeout=20,
        )
        if p.stdout.strip() != "ok":
            die(f"{n} cannot reach {API_URL}/healthz: {p.stdout}{p.stderr}")


def cmd_stop_master(name):
    """Power a master off (an outage); its disk is kept for start-master."""
    pid = read_pid(f"nspawn-{name}")
    if pid:
        log(f"powering off {name} (disk kept)")
        os.kill(pid, signal.SIGTERM)
        stop_pid(pid, f"nspawn-{name}", sig=None, timeout=30)
    root = master_dirs(name)[3]
    if mounted(root):
        run(["umount", root])
    for link in (f"vb-{name}", f"ve-{name}"):
        if link_exists(link):
            run(["ip", "link", "del", link], check=False)


def cmd_start_master(name):
    """Boot a master that stop-master powered off, with the disk it had."""
    ip = dict(MASTERS)[name]
    if not master_up(name, ip):
        log(f"booting {name} ({ip}) with its disk")
        start_master(name, ip, keep_disk=True)
    wait_for(
        f"sshd on {name} ({ip})", lambda: ssh_ok(ip), 90, interval=0.5, logfile=LOGS / f"nspawn-{name}.log"
    )


def cmd_rebuild_master(name):
    """Reinstall a master: power it off, give it a fresh disk (nothing of ours on it), boot it."""
    cmd_stop_master(name)
    ip = dict(MASTERS)[name]
    log(f"reinstalling {name} ({ip}) on a fresh disk")
    start_master(name, ip, keep_disk=False)
    wait_for(
        f"sshd on {name} ({ip})", lambda: ssh_ok(ip), 90, interval=0.5, logfile=LOGS / f"nspawn-{name}.log"
    )
