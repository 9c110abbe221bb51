"""Every value rule the program enforces, written once.

Each function returns None when the value is fine, or the problem as "expected ..., got ...". The
stack-config model (components/config.py) turns a problem into a line naming the config key; the
renderers call the same functions on their specs and refuse what fails (they cannot be reached
with a value the config accepted). Limits come from what the receiving side refuses: the
scheduler decodes its config into int32/float32/time.Duration fields, client-go's leader elector
refuses renewDeadline <= 1.2 * retryPeriod, the API server validates names and quantities.
"""

from __future__ import annotations

import math
import re

from components.render.names import is_dns_label, is_dns_subdomain, is_qualified_name

INT32_MAX = 2**31 - 1
FLOAT32_MAX = 3.4028234663852886e38
# Go's time.Duration is int64 nanoseconds: about 292 years.
MAX_DURATION_S = (2**63 - 1) // 10**9
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
    """clientConnection.qps is a float32."""
    if not (isinstance(value, int | float) and math.isfinite(value) and 0 < value <= FLOAT32_MAX):
        return f"expected a finite number above 0 (a float32), got {_got(value)}"
    return None


def leader_election(lease_s: int, renew_s: int, retry_s: int) -> list[tuple[str, str]]:
    """(field, problem) pairs for the three timings, in seconds."""
    out: list[tuple[str, str]] = []
    for field, value in (
        ("leaseDurationSeconds", lease_s),
        ("renewDeadlineSeconds", renew_s),
        ("retryPeriodSeconds", retry_s),
    ):
        problem = positive_int(value, MAX_DURATION_S)
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
