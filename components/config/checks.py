"""Rules between fields, each reported under the field it is about. They run on every part of the
config that parsed, so one run reports everything, field rules and these alike."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from components.config.errors import Problem
from components.config.monitoring import Monitoring
from components.config.schema import CertificateSettings, LeaderElection
from components.render import rules

M = TypeVar("M", bound=BaseModel)


def _parsed(data: Mapping[str, Any], path: tuple[str, ...], model: type[M]) -> M | None:
    """The part of `data` at `path` as `model`, or None when it is absent-and-invalid (its own
    field problems are reported by the main pass)."""
    node: Any = data
    for part in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part, {})
    try:
        return model.model_validate(node)
    except ValidationError:
        return None


def _leader_election(le: LeaderElection) -> list[tuple[str, str]]:
    return rules.leader_election(
        le.lease_duration_seconds, le.renew_deadline_seconds, le.retry_period_seconds
    )


def _certificate(c: CertificateSettings) -> list[tuple[str, str]]:
    return rules.certificate_lifetime(c.validity_hours, c.early_renewal_hours)


_CHECKS: list[tuple[tuple[str, ...], type[BaseModel], Callable[[Any], list[tuple[str, str]]]]] = [
    (("certificate",), CertificateSettings, _certificate),
    (("bareMetal", "leaderElection"), LeaderElection, _leader_election),
    (("inCluster", "leaderElection"), LeaderElection, _leader_election),
]


def cross_field_problems(data: Mapping[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    for path, model, check in _CHECKS:
        parsed = _parsed(data, path, model)
        if parsed is not None:
            out += [Problem(".".join((*path, field)), problem) for field, problem in check(parsed)]
    return out + _monitoring(data)


def _enabled(data: Mapping[str, Any], path: str) -> bool:
    part = data.get(path)
    return isinstance(part, Mapping) and part.get("enabled") is True


def _monitoring(data: Mapping[str, Any]) -> list[Problem]:
    """What monitoring asks of the paths: a no-leader alert that a normal crash fail-over never
    fires, and masters a scraper can reach."""
    mon = _parsed(data, ("monitoring",), Monitoring)
    if mon is None or not mon.enabled:
        return []
    out: list[Problem] = []
    scrape_s = rules.duration_s(mon.scrape_interval)
    for path in ("bareMetal", "inCluster"):
        le = _parsed(data, (path, "leaderElection"), LeaderElection)
        if not _enabled(data, path) or le is None:
            continue
        failover_s = rules.failover_bound_s(le.lease_duration_seconds, le.retry_period_seconds)
        if rules.duration_s(mon.alerts.no_leader_for) < failover_s + scrape_s:
            out.append(
                Problem(
                    "monitoring.alerts.noLeaderFor",
                    f"expected at least {math.ceil(failover_s + scrape_s)}s (a crash fail-over of "
                    f"{path} leaves no leader for up to {failover_s:.1f} s with its leaderElection "
                    f"timings, and Prometheus sees the new leader up to a scrape interval, "
                    f"{mon.scrape_interval}, later), got {mon.alerts.no_leader_for!r}",
                )
            )
    bind = data.get("bareMetal", {}).get("bindAddress") if _enabled(data, "bareMetal") else None
    if isinstance(bind, str) and rules.ip_address(bind) is None and ipaddress.ip_address(bind).is_loopback:
        out.append(
            Problem(
                "bareMetal.bindAddress",
                f"expected an address a scraper can reach (monitoring.enabled), got {bind!r} (loopback: "
                "only the master itself could read /metrics)",
            )
        )
    return out


def paths_enabled(data: Mapping[str, Any]) -> list[Problem]:
    """At least one path: checked before field validation, so it comes out with everything else."""
    on = [
        isinstance(data.get(k), dict) and data[k].get("enabled") is True for k in ("bareMetal", "inCluster")
    ]
    if any(on):
        return []
    return [
        Problem(
            "bareMetal.enabled / inCluster.enabled", "expected at least one path enabled, got both disabled"
        )
    ]


def unique(values: Iterable[tuple[int, str, str]], kind: str) -> list[Problem]:
    """(index, value as written, canonical form) of each host: one machine is one entry."""
    seen: dict[str, int] = {}
    out: list[Problem] = []
    for i, value, key in values:
        if key in seen:
            out.append(
                Problem(
                    f"bareMetal.hosts[{i}].{kind}",
                    f"expected a unique {kind}, got {value!r} again (also hosts[{seen[key]}])",
                )
            )
        seen.setdefault(key, i)
    return out
