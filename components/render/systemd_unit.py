"""systemd unit for kube-scheduler on a bare-metal master."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from components.render import rules
from components.render.versions import KubeVersion, removed_scheduler_flags

# systemd's valid_user_group_name() in strict mode.
_UNIX_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,30}")
_INI_KEY = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_INI_SECTION = re.compile(r"[A-Za-z][A-Za-z0-9 -]*")


@dataclass(frozen=True)
class UnitSpec:
    """Every value of the unit, explicit: the defaults live in the stack config (one place)."""

    kubernetes_version: KubeVersion
    binary_path: str
    config_path: str
    kubeconfig_path: str
    cert_path: str
    key_path: str
    ca_path: str
    bind_address: str
    secure_port: int
    verbosity: int
    user: str
    group: str


_PLAIN_WORD = re.compile(r"[A-Za-z0-9._/+=:,@-]+")


def exec_word(value: str) -> str:
    """One argument of an `ExecStart=` command line, exactly: systemd splits words at whitespace
    and unquotes them, expands `%` specifiers and `$` variables (systemd.service(5), "Command
    lines"). A word of plain characters stays as is; any other is double-quoted with `\\` and `"`
    escaped, and `%` / `$` are doubled everywhere. Control characters cannot be said: refused."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"a unit's command line cannot carry control characters, got {value!r}")
    escaped = value.replace("%", "%%").replace("$", "$$")
    if _PLAIN_WORD.fullmatch(value):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exec_line(argv: Sequence[str]) -> str:
    """`ExecStart=` value that runs exactly `argv` (the first word is the absolute binary path)."""
    return " ".join(exec_word(a) for a in argv)


def render_ini(sections: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> str:
    """Serialize [Section] / Key=Value data; the only writer of unit text."""
    blocks: list[str] = []
    for name, entries in sections:
        if _INI_SECTION.fullmatch(name) is None:
            raise ValueError(f"invalid section name {name!r}")
        lines = [f"[{name}]"]
        for key, value in entries:
            if _INI_KEY.fullmatch(key) is None:
                raise ValueError(f"[{name}]: invalid key {key!r}")
            if "\n" in value or "\r" in value or value != value.strip():
                raise ValueError(f"[{name}] {key}: value must be one line without edge spaces")
            lines.append(f"{key}={value}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _validate(spec: UnitSpec) -> None:
    """The rules of components/render/rules.py (the stack config applies the same ones)."""
    errors: list[str] = []
    for field in ("binary_path", "config_path", "kubeconfig_path", "cert_path", "key_path", "ca_path"):
        problem = rules.unit_path(getattr(spec, field))
        if problem:
            errors.append(f"{field}: {problem}")
    problem = rules.ip_address(spec.bind_address)
    if problem:
        errors.append(f"bind_address: {problem}")
    if not 1 <= spec.secure_port <= 65535:
        errors.append(f"secure_port: expected 1 to 65535, got {spec.secure_port!r}")
    problem = rules.verbosity(spec.verbosity)
    if problem:
        errors.append(f"verbosity: {problem}")
    for field in ("user", "group"):
        value = getattr(spec, field)
        if _UNIX_NAME.fullmatch(value) is None or value == "root":
            errors.append(f"{field}: expected an unprivileged system account name, got {value!r}")
    if errors:
        raise ValueError("invalid kube-scheduler unit: " + "; ".join(errors))


def scheduler_flags(spec: UnitSpec) -> list[str]:
    """Command-line flags, in order. Everything else lives in --config."""
    _validate(spec)
    flags = [
        f"--config={spec.config_path}",
        f"--bind-address={spec.bind_address}",
        f"--secure-port={spec.secure_port}",
        # Serving cert for 10259 (signed by the cluster CA), so scrapers can verify it.
        f"--tls-cert-file={spec.cert_path}",
        f"--tls-private-key-file={spec.key_path}",
        # Delegated authn/authz of requests to 10259 (metrics need a client cert).
        f"--authentication-kubeconfig={spec.kubeconfig_path}",
        f"--authorization-kubeconfig={spec.kubeconfig_path}",
        f"--client-ca-file={spec.ca_path}",
        f"--v={spec.verbosity}",
    ]
    removed = removed_scheduler_flags(spec.kubernetes_version)
    stale = [flag for flag in flags if flag.split("=", 1)[0] in removed]
    if stale:  # a removed flag makes the scheduler exit at start
        raise ValueError(f"flags removed in {spec.kubernetes_version}: {stale}")
    return flags


# Sandboxing for `systemd-analyze security` <= 2.0 on systemd 252 (Debian
# bookworm). kube-scheduler only reads its files and talks TCP; see systemd.exec(5).
# Checked: v1.34.2 under exactly this set on a bookworm host starts, serves
# /healthz, and comes back 2 s after SIGKILL, reading root:kube-scheduler 0640 files.
_HARDENING: tuple[tuple[str, str], ...] = (
    ("NoNewPrivileges", "yes"),
    # No capabilities at all: 10259 is unprivileged and files are group-readable.
    ("CapabilityBoundingSet", ""),
    ("AmbientCapabilities", ""),
    # Read-only OS; the scheduler writes nothing to disk (logs go to journald).
    ("ProtectSystem", "strict"),
    ("ProtectHome", "yes"),
    ("PrivateTmp", "yes"),
    ("PrivateDevices", "yes"),
    ("DevicePolicy", "closed"),
    ("PrivateIPC", "yes"),
    # Maps only root and the service's own user/group; files it must read are
    # owned by those, so ownership checks still pass.
    ("PrivateUsers", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectControlGroups", "yes"),
    ("ProtectClock", "yes"),
    ("ProtectHostname", "yes"),
    ("ProtectProc", "invisible"),
    ("ProcSubset", "pid"),
    # TCP to the API server and on 10259; AF_UNIX for journald/resolver sockets.
    ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
    ("RestrictNamespaces", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("LockPersonality", "yes"),
    # Go binaries never map memory writable and executable.
    ("MemoryDenyWriteExecute", "yes"),
    ("RemoveIPC", "yes"),
    ("KeyringMode", "private"),
    ("UMask", "0077"),
    ("SystemCallArchitectures", "native"),
    ("SystemCallFilter", "@system-service"),
    # Nothing here changes identity, priority, affinity or limits. What the Go
    # runtime calls (sched_getaffinity, prlimit64) is in @default, still allowed.
    ("SystemCallFilter", "~@privileged @resources"),
    # A denied call returns EPERM rather than killing the process with SIGSYS.
    ("SystemCallErrorNumber", "EPERM"),
)


def render_unit(spec: UnitSpec) -> str:
    """kube-scheduler.service text."""
    exec_start = exec_line([spec.binary_path, *scheduler_flags(spec)])
    unit: list[tuple[str, str]] = [
        ("Description", f"Kubernetes scheduler {spec.kubernetes_version.tag}"),
        (
            "Documentation",
            "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-scheduler/",
        ),
        ("Wants", "network-online.target"),
        ("After", "network-online.target"),
        # Never give up restarting (default: at most 5 starts per 10 s), e.g.
        # while the API server is down.
        ("StartLimitIntervalSec", "0"),
    ]
    service: list[tuple[str, str]] = [
        ("Type", "simple"),
        # Dedicated unprivileged system user that owns the key and kubeconfig.
        ("User", spec.user),
        ("Group", spec.group),
        ("ExecStart", exec_start),
        ("Restart", "always"),
        # Short, so a crashed instance rejoins as standby well within one lease
        # duration (15 s) and failover tests see it back quickly.
        ("RestartSec", "2s"),
        # SIGTERM releases the lease and exits in about a second; cap a hung
        # stop at one lease duration before SIGKILL.
        ("TimeoutStopSec", "15s"),
        *_HARDENING,
    ]
    install: list[tuple[str, str]] = [("WantedBy", "multi-user.target")]
    return render_ini([("Unit", unit), ("Service", service), ("Install", install)])
