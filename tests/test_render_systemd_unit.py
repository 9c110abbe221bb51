"""kube-scheduler systemd unit: flags, restart policy and sandboxing."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.config import BareMetal
from components.render import master
from components.render.systemd_unit import render_ini, render_unit, scheduler_flags
from components.render.versions import SUPPORTED_MINORS, KubeVersion, removed_scheduler_flags

SPEC = master.unit_spec(BareMetal(), KubeVersion(1, 34, 2))
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def _parse(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) triples, in order."""
    entries: list[tuple[str, str, str]] = []
    section = ""
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif line:
            key, _, value = line.partition("=")
            entries.append((section, key, value))
    return entries


def _values(text: str, section: str, key: str) -> list[str]:
    return [v for s, k, v in _parse(text) if s == section and k == key]


def test_exact_flags() -> None:
    assert scheduler_flags(SPEC) == [
        "--config=/etc/kubernetes/scheduler/kube-scheduler.yaml",
        "--bind-address=0.0.0.0",
        "--secure-port=10259",
        "--tls-cert-file=/etc/kubernetes/scheduler/pki/kube-scheduler.crt",
        "--tls-private-key-file=/etc/kubernetes/scheduler/pki/kube-scheduler.key",
        "--authentication-kubeconfig=/etc/kubernetes/scheduler/kube-scheduler.kubeconfig",
        "--authorization-kubeconfig=/etc/kubernetes/scheduler/kube-scheduler.kubeconfig",
        "--client-ca-file=/etc/kubernetes/scheduler/pki/ca.crt",
        "--v=2",
    ]


def test_exec_start_is_binary_and_flags() -> None:
    (exec_start,) = _values(render_unit(SPEC), "Service", "ExecStart")
    assert exec_start.split(" ") == ["/usr/local/bin/kube-scheduler", *scheduler_flags(SPEC)]


@pytest.mark.parametrize("minor", range(SUPPORTED_MINORS[0], SUPPORTED_MINORS[1] + 1), ids=lambda m: f"1.{m}")
def test_no_removed_flag_in_unit(minor: int) -> None:
    version = KubeVersion(1, minor, 0)
    (exec_start,) = _values(render_unit(master.unit_spec(BareMetal(), version)), "Service", "ExecStart")
    used = {arg.split("=", 1)[0] for arg in exec_start.split(" ")[1:]}
    assert not used & removed_scheduler_flags(version)
    assert (
        "--port" not in used
    )  # the HA guide's --port=0 is an unknown flag now (docs/sources.md#removed-flags)


@pytest.mark.parametrize(
    ("section", "key", "expected"),
    [
        pytest.param("Unit", "StartLimitIntervalSec", "0", id="never-give-up"),
        pytest.param("Service", "Type", "simple", id="type"),
        pytest.param("Service", "User", "kube-scheduler", id="user"),
        pytest.param("Service", "Group", "kube-scheduler", id="group"),
        pytest.param("Service", "Restart", "always", id="restart"),
        pytest.param("Service", "RestartSec", "2s", id="restart-sec"),
        pytest.param("Service", "TimeoutStopSec", "15s", id="timeout-stop"),
        pytest.param("Service", "NoNewPrivileges", "yes", id="no-new-privileges"),
        pytest.param("Service", "CapabilityBoundingSet", "", id="no-capabilities"),
        pytest.param("Service", "AmbientCapabilities", "", id="no-ambient-capabilities"),
        pytest.param("Service", "ProtectSystem", "strict", id="protect-system"),
        pytest.param("Service", "ProtectHome", "yes", id="protect-home"),
        pytest.param("Service", "PrivateTmp", "yes", id="private-tmp"),
        pytest.param("Service", "PrivateDevices", "yes", id="private-devices"),
        pytest.param("Service", "ProtectProc", "invisible", id="protect-proc"),
        pytest.param("Service", "RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX",
                     id="address-families"),
        pytest.param("Service", "MemoryDenyWriteExecute", "yes", id="no-wx-memory"),
        pytest.param("Service", "SystemCallArchitectures", "native", id="native-syscalls"),
        pytest.param("Service", "UMask", "0077", id="umask"),
        pytest.param("Install", "WantedBy", "multi-user.target", id="wanted-by"),
    ],
)  # fmt: skip
def test_directive(section: str, key: str, expected: str) -> None:
    assert _values(render_unit(SPEC), section, key) == [expected]


def test_syscall_filter() -> None:
    assert _values(render_unit(SPEC), "Service", "SystemCallFilter") == [
        "@system-service",
        "~@privileged @resources",
    ]


def test_network_is_not_blocked() -> None:
    # The scheduler must reach the API server and serve 10259.
    text = render_unit(SPEC)
    for key in ("IPAddressDeny", "PrivateNetwork", "IPAddressAllow"):
        assert _values(text, "Service", key) == []


def test_no_root() -> None:
    text = render_unit(SPEC)
    assert _values(text, "Service", "User") != ["root"]
    assert "DynamicUser" not in text  # files are owned by the fixed system user


def test_render_ini_exact() -> None:
    text = render_ini([("Unit", [("Description", "x")]), ("Service", [("A", ""), ("B", "1 2")])])
    assert text == "[Unit]\nDescription=x\n\n[Service]\nA=\nB=1 2\n"


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        pytest.param([("Service", [("ExecStart", "a\nb")])], "one line", id="newline-in-value"),
        pytest.param([("Service", [("Exec Start", "a")])], "invalid key", id="space-in-key"),
        pytest.param([("Ser]vice", [])], "invalid section", id="bracket-in-section"),
    ],
)
def test_render_ini_rejects(sections: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_ini(sections)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"config_path": "kube-scheduler.yaml"},
            "config_path: expected an absolute path",
            id="relative-path",
        ),
        pytest.param(
            {"key_path": "/etc/k 8s/key"}, "key_path: expected an absolute path", id="space-in-path"
        ),
        pytest.param(
            {"binary_path": "/usr/bin/%n"}, "binary_path: expected an absolute path", id="systemd-specifier"
        ),
        pytest.param({"ca_path": "/etc/$CA"}, "ca_path: expected an absolute path", id="dollar"),
        pytest.param(
            {"bind_address": "localhost"}, "bind_address: expected an IP address", id="hostname-bind"
        ),
        pytest.param({"secure_port": 0}, "secure_port: expected 1 to 65535", id="port-zero"),
        pytest.param(
            {"verbosity": 11}, "verbosity: expected a log verbosity from 0 to 10, got 11", id="verbosity"
        ),
        pytest.param({"user": "root"}, "user: expected an unprivileged", id="root-user"),
        pytest.param({"group": "Kube Sched"}, "group: expected an unprivileged", id="bad-group"),
    ],
)
def test_rejects(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_unit(dataclasses.replace(SPEC, **changes))


def test_ipv6_bind_address() -> None:
    assert "--bind-address=::" in scheduler_flags(dataclasses.replace(SPEC, bind_address="::"))


def _exposure(unit: Path) -> tuple[float, int]:
    # --threshold=20 is an exposure of 2.0 on the 0..100 internal scale.
    result = subprocess.run(
        [SYSTEMD_ANALYZE or "systemd-analyze", "security", "--offline=yes", "--threshold=20",
         "--no-pager", str(unit)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    return float(match.group(1)), result.returncode


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze not installed")
def test_systemd_analyze_security_score(tmp_path: Path) -> None:
    unit = tmp_path / "kube-scheduler.service"
    unit.write_text(render_unit(SPEC))
    score, returncode = _exposure(unit)
    assert score <= 2.0
    assert returncode == 0


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify needs ExecStart to exist: point it at any executable.
    binary = shutil.which("true")
    if binary is None or re.fullmatch(r"/[A-Za-z0-9._/+-]*", binary) is None:
        pytest.skip("no usable `true` executable")
    unit = tmp_path / "kube-scheduler.service"
    unit.write_text(render_unit(dataclasses.replace(SPEC, binary_path=binary)))
    result = subprocess.run(
        [SYSTEMD_ANALYZE or "systemd-analyze", "verify", str(unit)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
