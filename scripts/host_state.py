"""What the masters hold now, compared with what the stack last wrote: the host checks each
`SchedulerHost` records in its `checks` output, run over SSH (one connection per host).

Used by `make status` (the drift report) and by `make up` with the pulumi-command backend, whose
resources cannot read a host back on `pulumi refresh`: there the steps whose host no longer holds
what they made are forgotten (`pulumi state delete --target-dependents`) so that `up` makes them
again, as a refresh of the builtin backend's resources would.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from components import steps as names

_MARK = "@@ksched-check "


@dataclass(frozen=True)
class Step:
    host: str
    name: str  # the resource's name, e.g. masters-master-1-file-config
    urn: str
    label: str  # what it is about: a path, or e.g. "service running its current files"
    script: str
    expected: str


@dataclass(frozen=True)
class Drift:
    step: Step
    observed: str

    def describe(self) -> str:
        s = self.step
        if s.label.startswith("/"):
            wrote, has = s.expected.split(" ", 1)[0], self.observed.split(" ", 1)
            if has[0] == "absent":
                return f"{s.host} {s.label}: missing (the stack wrote sha256 {wrote[:16]}…)"
            if has[0] != wrote:
                return f"{s.host} {s.label}: sha256 {has[0][:16]}… on the host, the stack wrote {wrote[:16]}…"
            return f"{s.host} {s.label}: {' '.join(has[1:])}, the stack set {s.expected.split(' ', 1)[1]}"
        return f"{s.host} {s.label}: {self.observed}"


def steps_from_state(resources: Iterable[Mapping[str, Any]]) -> list[Step]:
    """Every recorded host check, with the URN of the step it belongs to."""
    resources = list(resources)
    urns = {r["urn"].rsplit("::", 1)[-1]: r["urn"] for r in resources}
    found: list[Step] = []
    for r in resources:
        if r.get("type") != names.HOST_TYPE:
            continue
        host = r["urn"].rsplit("::", 1)[-1].removeprefix(names.host_component(""))
        for name, c in sorted((r.get("outputs") or {}).get("checks", {}).items()):
            if name in urns:
                found.append(Step(host, name, urns[name], c["label"], c["script"], c["expected"]))
    return found


def batch_script(steps: Iterable[Step]) -> str:
    """One script that runs every check of a host, each in its own shell, output marked."""
    return "".join(f"echo {shlex.quote(_MARK + s.name)}; sh -c {shlex.quote(s.script)}\n" for s in steps)


def parse_batch(output: str) -> dict[str, str]:
    observed: dict[str, str] = {}
    name = None
    for line in output.splitlines():
        if line.startswith(_MARK):
            name = line.removeprefix(_MARK)
            observed[name] = ""
        elif name is not None and not observed[name]:
            observed[name] = line.strip()
    return observed


def drift(steps: list[Step], run_on: Callable[[str, str], str | None]) -> tuple[list[Drift], list[str]]:
    """(steps whose host differs, hosts that could not be read). `run_on(host, script)` returns
    the script's output, or None when the host cannot be reached."""
    found: list[Drift] = []
    unreachable: list[str] = []
    by_host: dict[str, list[Step]] = {}
    for s in steps:
        by_host.setdefault(s.host, []).append(s)
    for host, host_steps in by_host.items():
        output = run_on(host, batch_script(host_steps))
        if output is None:
            unreachable.append(host)
            continue
        observed = parse_batch(output)
        found += [
            Drift(s, observed.get(s.name, "")) for s in host_steps if observed.get(s.name) != s.expected
        ]
    return found, unreachable
