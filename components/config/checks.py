"""Rules between fields, each reported under the field it is about. They run on every part of the
config that parsed, so one run reports everything, field rules and these alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from components.config.errors import Problem
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
