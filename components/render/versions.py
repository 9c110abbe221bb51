"""Kubernetes versions this project renders for, and what changes between them."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Inclusive range of supported 1.x minors. 1.29 is the first release without
# kubescheduler.config.k8s.io/v1beta3, so v1 is the only config API left.
SUPPORTED_MINORS: tuple[int, int] = (29, 37)

_VERSION_RE = re.compile(r"v?(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)")


@dataclass(frozen=True, order=True)
class KubeVersion:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def tag(self) -> str:
        """Release tag form, as used by image tags and binaries ("v1.34.2")."""
        return f"v{self}"


def supported_text() -> str:
    low, high = SUPPORTED_MINORS
    return f"supported: 1.{low} to 1.{high}"


def parse_kube_version(text: str) -> KubeVersion:
    """Parse "1.34.2" or "v1.34.2"; reject anything outside SUPPORTED_MINORS."""
    match = _VERSION_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"kubernetes version {text!r} is not of the form 1.MINOR.PATCH ({supported_text()})")
    version = KubeVersion(int(match["major"]), int(match["minor"]), int(match["patch"]))
    low, high = SUPPORTED_MINORS
    if version.major != 1 or not low <= version.minor <= high:
        raise ValueError(f"kubernetes version {text!r} is not supported ({supported_text()})")
    return version


# (first minor, apiVersion, why). The newest row whose minor is <= the target
# wins, so supporting older releases is one more row, e.g.
# (23, "kubescheduler.config.k8s.io/v1beta3", "v1beta3 served 1.23 to 1.28").
_SCHEDULER_CONFIG_API: tuple[tuple[int, str, str], ...] = (
    (25, "kubescheduler.config.k8s.io/v1", "v1 GA in 1.25; v1beta3 removed in 1.29"),
)


def scheduler_config_api_version(v: KubeVersion) -> str:
    """apiVersion of KubeSchedulerConfiguration that the scheduler of `v` loads."""
    chosen = [api for first, api, _why in _SCHEDULER_CONFIG_API if first <= v.minor]
    if v.major != 1 or not chosen:
        raise ValueError(f"no scheduler config apiVersion known for {v} ({supported_text()})")
    return chosen[-1]


# Flags a kube-scheduler of at least that minor rejects as unknown at start
# (flag, minor it was removed in). Sources: cmd/kube-scheduler/app/options of
# k8s.io/kubernetes v1.22.0 to v1.28.0, and component-base/logs/klogflags
# (v0.26.0) which keeps only -v and -vmodule of klog's flags.
_REMOVED_FLAGS: tuple[tuple[str, int], ...] = (
    # Legacy Policy API, replaced by profiles in the config file.
    ("--policy-config-file", 23),
    ("--policy-configmap", 23),
    ("--policy-configmap-namespace", 23),
    ("--use-legacy-policy-config", 23),
    # Insecure HTTP serving (port 10251); health and metrics are on 10259 only.
    ("--port", 24),
    ("--address", 24),
    # Old leader-election lock flags (--leader-elect-resource-* remain).
    ("--lock-object-name", 28),
    ("--lock-object-namespace", 28),
    # klog flags removed by KEP-2845.
    ("--add-dir-header", 26),
    ("--alsologtostderr", 26),
    ("--log-backtrace-at", 26),
    ("--log-dir", 26),
    ("--log-file", 26),
    ("--log-file-max-size", 26),
    ("--logtostderr", 26),
    ("--one-output", 26),
    ("--skip-headers", 26),
    ("--skip-log-headers", 26),
    ("--stderrthreshold", 26),
)


def removed_scheduler_flags(v: KubeVersion) -> frozenset[str]:
    """Flags that the kube-scheduler of `v` no longer accepts."""
    return frozenset(flag for flag, removed_in in _REMOVED_FLAGS if removed_in <= v.minor)


# The scheduler's secure port serves /livez and /readyz from 1.31 on (cmd/kube-scheduler/app/
# server.go: healthz.InstallReadyzHandler; checked in the v1.29.15 to v1.37.2 sources): /readyz
# fails until the informers synced and their handlers ran ("sched-handler-sync"), on a standby too
# (informers start before leader election), so a scheduler whose role lacks a watched resource is
# not ready. /healthz answers ok regardless; it is all 1.29 and 1.30 have.
_READYZ_FROM_MINOR = 31


def health_paths(v: KubeVersion) -> tuple[str, str]:
    """(liveness path, readiness path) on the secure port for the scheduler of `v`."""
    if v.minor >= _READYZ_FROM_MINOR:
        return "/livez", "/readyz"
    return "/healthz", "/healthz"
