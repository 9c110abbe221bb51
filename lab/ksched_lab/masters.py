"""The "bare-metal" masters: plain Debian systemd hosts (machines.py) the project deploys to."""

from __future__ import annotations

from ksched_lab.machines import boot, install_disk, is_up, power_off, wait_ssh
from ksched_lab.settings import API_URL, MASTERS
from ksched_lab.util import die, log, run, ssh_cmd


def ensure_masters() -> None:
    for n, ip in MASTERS:
        if not is_up(n):
            log(f"booting {n} ({ip})")
            install_disk(n, ip)
            boot(n)
    for n, ip in MASTERS:
        wait_ssh(n, ip)
    # the masters must reach the API server (verified with the lab CA)
    for n, ip in MASTERS:
        cmd = ssh_cmd(
            ip, "curl", "-sS", "--max-time", "5", "--cacert", "/etc/ksched-lab/ca.crt", f"{API_URL}/healthz"
        )
        p = run(cmd, check=False, timeout=20)
        if p.stdout.strip() != "ok":
            die(f"{n} cannot reach {API_URL}/healthz: {p.stdout}{p.stderr}")


def cmd_start_master(name: str) -> None:
    """Boot a master that stop-master powered off, with the disk it had."""
    ip = dict(MASTERS)[name]
    if not is_up(name):
        log(f"booting {name} ({ip}) with its disk")
        install_disk(name, ip)
        boot(name)
    wait_ssh(name, ip)


def cmd_rebuild_master(name: str) -> None:
    """Reinstall a master: power it off, give it a fresh disk (nothing of ours on it), boot it."""
    power_off(name)
    ip = dict(MASTERS)[name]
    log(f"reinstalling {name} ({ip}) on a fresh disk")
    install_disk(name, ip, keep_disk=False)
    boot(name)
    wait_ssh(name, ip)
