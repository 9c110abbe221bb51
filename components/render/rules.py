"""Every value rule the program enforces, written once.

Each function returns None when the value is fine, or the problem as "expected ..., got ...". The
stack-config model (components/config/schema.py, where a field's rule is its type) turns a problem
into a line naming the config key; the renderers call the same functions on their specs and refuse
what fails (they cannot be reached with a value the config accepted). Limits come from what the
receiving side refuses: the scheduler decodes its config into int32/float32/time.Duration fields,
client-go's leader elector refuses renewDeadline <= 1.2 * retryPeriod, the API server validates
names and quantities.
"""

from __future__ import annotations

import ipaddress
import math
import re

from components.render.names import is_dns_label, is_dns_subdomain, is_qualified_name

INT32_MAX = 2**31 - 1
FLOAT32_MAX = 3.4028234663852886e38
# Go's time.Duration is int64 nanoseconds: about 292 years.
MAX_DURATION_S = (2**63 - 1) // 10**9
# Floors that keep a scheduler useful (README, configuration): a tenth of upstream's qps (50), and
# a burst that covers the informers' start-up requests.
MIN_CLIENT_QPS = 5.0
MIN_CLIENT_BURST = 10
# Ceilings on leader election: the failover they imply (failover_bound_s) stays under 105 s.
MAX_LEASE_DURATION_S = 60
MAX_RETRY_PERIOD_S = 10
# Certificates: a lifetime of at least a week, and a renewal window of at least a day (a daily
# pipeline cannot miss it) and at most half the lifetime (a renewed certificate is not inside its
# own window at once).
MIN_CERT_VALIDITY_H = 7 * 24
MIN_RENEWAL_WINDOW_H = 24
# client-go leaderelection.JitterFactor: NewLeaderElector refuses renewDeadline <= 1.2 * retryPeriod.
_JITTER_NUM, _JITTER_DEN = 12, 10
# apimachinery resource.Quantity: a number (no exponent overflow here) and a decimal/binary suffix.
_QUANTITY = re.compile(
    r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?"
)
# An absolute path that can go unquoted into a unit's ExecStart: no whitespace, quotes, "%"
# (systemd specifiers) or "$" (expansion), no "..".
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._/+-]*")

# The distribution project's reference grammar (github.com/distribution/reference, regexp.go):
# [domain[:port]/]path-component(/path-component)*[:tag][@digest]
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?")
_NAME_MAX = 255  # distribution's NameTotalLengthMax


def _got(value: object) -> str:
    return repr(value)


def positive_int(value: int, maximum: int = INT32_MAX) -> str | None:
    if isinstance(value, bool) or not 1 <= value <= maximum:
        return f"expected a whole number from 1 to {maximum}, got {_got(value)}"
    return None


def client_qps(value: float) -> str | None:
    """clientConnection.qps: a float32 at or above the floor that keeps a scheduler working."""
    if not (isinstance(value, int | float) and math.isfinite(value) and 0 < value <= FLOAT32_MAX):
        return f"expected a finite number above 0 (a float32), got {_got(value)}"
    if value < MIN_CLIENT_QPS:
        return (
            f"expected at least {MIN_CLIENT_QPS:g} (every binding is one request: below that a "
            f"scheduler binds fewer than {MIN_CLIENT_QPS:g} pods/s), got {_got(value)}"
        )
    return None


def client_burst(value: int, qps: float) -> str | None:
    """clientConnection.burst: the token bucket's size, at least one second of qps and the floor."""
    problem = positive_int(value)
    if problem:
        return problem
    finite = isinstance(qps, int | float) and math.isfinite(qps)
    floor = max(MIN_CLIENT_BURST, math.ceil(qps)) if finite else MIN_CLIENT_BURST
    if value < floor:
        return (
            f"expected at least {floor} (at least qps, and {MIN_CLIENT_BURST}: the scheduler lists and "
            f"watches about 20 resource types at start through this client), got {_got(value)}"
        )
    return None


def failover_bound_s(lease_s: float, retry_s: float) -> float:
    """Worst-case time without a leader after one dies without releasing its lease: a standby
    counts the lease from when it saw the last renewal (within one jittered retry) and notices the
    expiry on a later attempt (one more): client-go's leaderelection, JitterFactor 1.2."""
    return lease_s + 2 * retry_s * (1 + _JITTER_NUM / _JITTER_DEN)


def leader_election(lease_s: int, renew_s: int, retry_s: int) -> list[tuple[str, str]]:
    """(field, problem) pairs for the three timings, in seconds."""
    out: list[tuple[str, str]] = []
    for field, value, ceiling in (
        ("leaseDurationSeconds", lease_s, MAX_LEASE_DURATION_S),
        ("renewDeadlineSeconds", renew_s, MAX_LEASE_DURATION_S),
        ("retryPeriodSeconds", retry_s, MAX_RETRY_PERIOD_S),
    ):
        problem = positive_int(value, MAX_DURATION_S)
        if problem is None and value > ceiling:
            problem = (
                f"expected at most {ceiling} (a leader that dies without releasing its lease blocks "
                f"failover for up to leaseDuration + 2 x 2.2 x retryPeriod, which the ceilings keep "
                f"under {failover_bound_s(MAX_LEASE_DURATION_S, MAX_RETRY_PERIOD_S):.0f} s), got {value}"
            )
        if problem:
            out.append((field, problem))
    if out:
        return out
    if renew_s >= lease_s:
        out.append(
            ("renewDeadlineSeconds", f"expected less than leaseDurationSeconds ({lease_s}), got {renew_s}")
        )
    if renew_s * _JITTER_DEN <= retry_s * _JITTER_NUM:
        out.append(
            (
                "retryPeriodSeconds",
                f"expected renewDeadlineSeconds ({renew_s}) above 1.2 x retryPeriodSeconds "
                f"(client-go's leader election refuses less), got {retry_s}",
            )
        )
    return out


def quantity(value: str) -> str | None:
    """A Kubernetes resource quantity above zero."""
    if not isinstance(value, str) or _QUANTITY.fullmatch(value) is None:
        return f"expected a positive Kubernetes quantity such as 500m or 512Mi, got {_got(value)}"
    number = re.match(r"[0-9.]+(?:[eE][-+]?[0-9]+)?", value)
    try:
        positive = number is not None and float(number.group(0)) > 0
    except ValueError:
        positive = False
    if not positive:
        return f"expected a positive Kubernetes quantity such as 500m or 512Mi, got {_got(value)}"
    return None


def image_reference(value: str) -> str | None:
    """An OCI/distribution image reference with a tag or a digest (never an implicit latest)."""
    match = _REFERENCE.fullmatch(value) if isinstance(value, str) else None
    if match is None or len(match["name"]) > _NAME_MAX:
        return (
            f"expected an image reference such as registry.k8s.io/kube-scheduler:v1.37.2, got {_got(value)}"
        )
    if not match["tag"] and not match["digest"]:
        return f"expected an image pinned by :tag or @sha256:digest, got {_got(value)}"
    return None


def dns_label(value: str) -> str | None:
    if not isinstance(value, str) or not is_dns_label(value):
        return f"expected a DNS-1123 label (lowercase letters, digits, '-', at most 63), got {_got(value)}"
    return None


def dns_subdomain(value: str) -> str | None:
    if not isinstance(value, str) or not is_dns_subdomain(value):
        return f"expected a DNS-1123 subdomain, got {_got(value)}"
    return None


def qualified_name(value: str, what: str) -> str | None:
    """Label keys and resource names ("cpu", "example.com/gpu")."""
    if not isinstance(value, str) or not is_qualified_name(value):
        return f"expected a {what} such as 'example.com/gpu', got {_got(value)}"
    return None


def unit_path(value: str) -> str | None:
    if not isinstance(value, str) or _SAFE_PATH.fullmatch(value) is None or value == "/":
        return f"expected an absolute path of [A-Za-z0-9._/+-], got {_got(value)}"
    if ".." in value.split("/"):
        return f"expected an absolute path without '..', got {_got(value)}"
    return None


def verbosity(value: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        return f"expected a log verbosity from 0 to 10, got {_got(value)}"
    return None


def resource_weight(value: int) -> str | None:
    """NodeResourcesFit scoring weights: upstream validateResources allows (0, 100]."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        return f"expected a weight from 1 to 100, got {_got(value)}"
    return None


def certificate_lifetime(validity_h: int, renewal_h: int) -> list[tuple[str, str]]:
    """(field, problem) pairs for certificate.validityHours and certificate.earlyRenewalHours."""
    out: list[tuple[str, str]] = []
    problem = positive_int(validity_h)
    if problem is None and validity_h < MIN_CERT_VALIDITY_H:
        problem = (
            f"expected at least {MIN_CERT_VALIDITY_H} (a week: room for a renewal window of at least "
            f"{MIN_RENEWAL_WINDOW_H} h), got {validity_h}"
        )
    if problem:
        return [("validityHours", problem)]
    if isinstance(renewal_h, bool) or not isinstance(renewal_h, int):
        return [("earlyRenewalHours", f"expected a whole number of hours, got {_got(renewal_h)}")]
    if not MIN_RENEWAL_WINDOW_H <= renewal_h <= validity_h // 2:
        out.append(
            (
                "earlyRenewalHours",
                f"expected {MIN_RENEWAL_WINDOW_H} to {validity_h // 2} (at least a day, so that a "
                "`pulumi up` falls inside the window before the certificate expires, and at most half "
                f"of validityHours {validity_h}), got {renewal_h}",
            )
        )
    return out


def _zone_free_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if "%" in value or value != value.strip():
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def ip_address(value: str) -> str | None:
    """A plain IPv4 or IPv6 address: no zone (`%eth0`: systemd would expand `%` in a unit), no
    spaces."""
    if not isinstance(value, str) or _zone_free_ip(value) is None:
        return f"expected an IP address (IPv4 or IPv6, without a %zone), got {_got(value)}"
    return None


def canonical_ip(value: str) -> str:
    """One spelling per address: IPv4-mapped IPv6 as IPv4, IPv6 compressed and lowercase."""
    ip = ipaddress.ip_address(value)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


_DNS_NAME_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def host_address(value: str) -> str | None:
    """An IP address or a DNS name (any case, optional trailing dot)."""
    if not isinstance(value, str):
        return f"expected an IP address or DNS name, got {_got(value)}"
    if _zone_free_ip(value) is not None:
        return None
    name = value.lower().removesuffix(".")
    labels = name.split(".")
    numeric = all(part.isdigit() for part in labels)  # a mistyped IP, not a name
    if numeric or not 1 <= len(name) <= 253 or not all(_DNS_NAME_LABEL.fullmatch(part) for part in labels):
        return f"expected an IP address or DNS name, got {_got(value)}"
    return None


def canonical_host_address(value: str) -> str:
    """How two spellings of one host compare equal: IPs canonical, names lowercase without the
    trailing dot."""
    if _zone_free_ip(value) is not None:
        return canonical_ip(value)
    return value.lower().removesuffix(".")


_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256_hex(value: str) -> str | None:
    if not isinstance(value, str) or _SHA256.fullmatch(value) is None:
        return f"expected 64 lowercase hex digits, got {_got(value)}"
    return None


def image_digest(value: str) -> str | None:
    if not isinstance(value, str) or not value.startswith("sha256:") or sha256_hex(value[7:]):
        return f"expected 'sha256:' and 64 hex digits, got {_got(value)}"
    return None


_HOST_KEY = re.compile(
    r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|rsa-sha2-(256|512)) [A-Za-z0-9+/]+=*( [^\n\r]*)?"
)


def host_key_line(value: str) -> str | None:
    """One OpenSSH public key line (type, base64, optional comment)."""
    if not isinstance(value, str) or _HOST_KEY.fullmatch(value.strip()) is None:
        shown = value[:40] if isinstance(value, str) else value
        return f"expected an OpenSSH public key line ('ssh-ed25519 AAAA...'), got {_got(shown)}"
    return None


_HTTPS_URL = re.compile(r"https://[A-Za-z0-9.\-\[\]:]+(:[0-9]{1,5})?/?")


def https_url(value: str) -> str | None:
    """The API server's URL: https, a host and an optional port, no path."""
    if not isinstance(value, str) or _HTTPS_URL.fullmatch(value) is None:
        return f"expected an https:// URL of the API server, got {_got(value)}"
    return None


# Trees no component may own: virtual or volatile filesystems, and systemd's unit directories.
_FOREIGN_TREES = (
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/tmp",
    "/var/tmp",
    "/boot",
    "/etc/systemd",
    "/lib/systemd",
    "/usr/lib/systemd",
)


def _under(path: str, tree: str) -> bool:
    return path == tree or path.startswith(tree + "/")


def config_dir(value: str) -> str | None:
    """bareMetal.paths.configDir: a directory dedicated to this scheduler. The stack creates it,
    owns everything in it that it wrote, and removes it when it is empty and its own; so its name
    must say it is the scheduler's, and it must not lie in a tree the system or systemd owns."""
    problem = unit_path(value)
    if problem:
        return problem
    parts = value.strip("/").split("/")
    if len(parts) < 2 or "scheduler" not in parts[-1]:
        return (
            "expected a directory dedicated to kube-scheduler: at least two levels deep and named "
            f"for it (its last part contains 'scheduler', e.g. /etc/kubernetes/scheduler), got {_got(value)}"
        )
    for tree in _FOREIGN_TREES:
        if _under(value, tree):
            return f"expected a directory outside {tree} (the system's), got {_got(value)}"
    return None


def binary_path(value: str) -> str | None:
    """bareMetal.paths.binary: the kube-scheduler binary, named so (never another program's)."""
    problem = unit_path(value)
    if problem:
        return problem
    if value.rsplit("/", 1)[-1] != "kube-scheduler":
        return f"expected a path whose file name is kube-scheduler, got {_got(value)}"
    for tree in _FOREIGN_TREES:
        if _under(value, tree):
            return f"expected a path outside {tree} (the system's), got {_got(value)}"
    return None


# Prometheus durations as the monitoring config writes them: one unit (what promtool and Prometheus
# accept, in the form readers know from the kubernetes-mixin's `for: 15m`).
_PROMETHEUS_DURATION = re.compile(r"([1-9][0-9]{0,5})(s|m|h|d)")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def prometheus_duration(value: str, minimum_s: int, maximum_s: int) -> str | None:
    found = _PROMETHEUS_DURATION.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        return f"expected a duration with one unit (s, m, h or d), such as 30s or 15m, got {_got(value)}"
    if not minimum_s <= duration_s(value) <= maximum_s:
        return f"expected from {minimum_s}s to {maximum_s}s, got {value!r}"
    return None


def duration_s(value: str) -> int:
    """Seconds of a duration `prometheus_duration` accepted."""
    return int(value[:-1]) * _UNIT_S[value[-1]]
