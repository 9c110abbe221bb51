"""SSH as the program runs it (components/builtin.py over plumbing/ssh.py), checked against the
real OpenSSH client on this machine: only the pinned host key is trusted, no ssh config of the
user's or the system's applies, a step that handles a secret shows nothing the remote side printed,
and the private key never touches a disk, even when the process is killed mid-connection."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from components import builtin
from plumbing.ssh import ssh_argv

ROOT = Path(__file__).resolve().parent.parent


def _effective(argv: list[str], home: Path) -> dict[str, str]:
    """What ssh would do with `argv` (`ssh -G`: resolves the options, connects to nothing)."""
    out = subprocess.run(
        [argv[0], "-G", *argv[1:]],
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        text=True,
        check=True,
    )
    return {k: v for k, _, v in (line.partition(" ") for line in out.stdout.splitlines())}


def test_only_the_pinned_key_is_trusted_whatever_the_users_ssh_config_says(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    # a user's config that would weaken the pin and send us elsewhere
    (home / ".ssh" / "config").write_text(
        "Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile ~/.ssh/other\n  Port 2222\n  User alice\n"
        "  ProxyCommand nc elsewhere 22\n"
    )
    known = tmp_path / "known_hosts"
    got = _effective(ssh_argv("10.231.0.11", known_hosts=known), home)
    assert got["stricthostkeychecking"] == "true"
    assert got["userknownhostsfile"] == str(known)
    assert got["globalknownhostsfile"] == "/dev/null"
    assert (got["port"], got["user"]) == ("22", "root")
    assert "proxycommand" not in got
    assert got["batchmode"] == "yes"


class _Silent:
    """A TCP port on loopback that accepts and never answers: ssh waits in its handshake."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.sock.close()


def _private_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()


def test_no_private_key_reaches_a_disk_even_when_the_run_is_killed(tmp_path: Path) -> None:
    key = _private_key()
    marker = key.splitlines()[2]  # a line of the key's body
    silent = _Silent()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    runner = (
        "import sys; from components import builtin\n"
        f"builtin._run({{'host': '127.0.0.1', 'port': {silent.port}, 'user': 'root', "
        f"'private_key': sys.stdin.read(), 'host_key': None}}, 'true', None, quiet=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", runner],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(key)
    proc.stdin.close()
    deadline = time.monotonic() + 10
    while not silent.conns and time.monotonic() < deadline:  # ssh is connected, mid-handshake
        time.sleep(0.05)
    assert silent.conns, "ssh never connected"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    subprocess.run(["pkill", "-KILL", "-f", f"-p {silent.port} "], check=False)  # the orphaned ssh
    silent.close()
    # where a temporary file of the run would be: its TMPDIR, its working directory, shared memory
    places = [str(tmp), "/dev/shm", *(str(p) for p in ROOT.iterdir() if p.is_file())]
    found = subprocess.run(["grep", "-rlF", "--", marker, *places], capture_output=True, text=True)
    assert found.stdout == "", f"the private key is on disk: {found.stdout}"


def test_a_quiet_step_shows_only_what_ssh_itself_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The remote side's output never appears for a step that handles a secret, even when the
    command exits 255 (which is also what ssh exits with when it cannot connect)."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ssh").write_text(
        "#!/bin/sh\ncat >/dev/null\necho 'SECRET-LOOKING REMOTE OUTPUT' >&2\n"
        "echo 'ssh: connect to host 10.231.0.11 port 22: Connection refused' >&2\nexit 255\n"
    )
    (fake / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    conn = {"host": "10.231.0.11", "port": 22, "user": "root", "private_key": None, "host_key": None}
    with pytest.raises(builtin.UnreachableError) as quiet:
        builtin._run(conn, "cat", "key material", quiet=True)
    assert "SECRET-LOOKING" not in str(quiet.value)
    assert "Connection refused" in str(quiet.value)
    with pytest.raises(builtin.UnreachableError) as loud:
        builtin._run(conn, "true", None, quiet=False)
    assert "SECRET-LOOKING" in str(loud.value)  # a step without a secret shows it all


def test_the_real_client_can_read_the_key_it_is_given() -> None:
    """OpenSSH closes every descriptor it inherits above stderr as it starts: the in-memory key
    must be named by a path that survives that (a key it cannot read fails every master's step
    with `Identity file ... not accessible`, then with the pin missing)."""
    with socket.socket() as closed:  # a port nothing listens on: ssh fails right after start
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    conn = {
        "host": "127.0.0.1",
        "port": port,
        "user": "root",
        "private_key": _private_key(),
        "host_key": None,
    }
    with pytest.raises(builtin.UnreachableError) as refused:
        builtin._run(conn, "true", None, quiet=False)
    assert "Connection refused" in str(refused.value)
    assert "not accessible" not in str(refused.value), str(refused.value)
