"""A `pulumi preview` as Markdown that reads on its own: which masters restart and why, whether the
custom scheduler's pods roll, every changed resource with its changed values, policy violations
and errors. Secrets never appear (the engine hands them over encrypted; they show as [secret]).

    PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true pulumi preview --json --policy-pack policy >preview.jsonl
    python -m scripts.preview_report preview.jsonl >preview.md     (or - for stdin)

The input is the CLI's stream of engine events (one JSON object a line): unlike the plain `--json`
summary it carries the policy violations. Exit status: 0 when the preview succeeded, 1 otherwise
(the report is printed either way).
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components import steps
from components.config import InstallPaths
from components.render import master
from plumbing.pulumi_wire import UNKNOWNS, is_secret

SECRET, AFTER_APPLY = "[secret]", "(known after apply)"
# What the service reads; a change to any makes its master restart (components/render/master.py).
RESTART_TRIGGERS = frozenset(master.layout(InstallPaths()))
OPS = {"create": "+", "update": "~", "replace": "+-", "create-replacement": "+-", "delete": "-"}
MAX_DIFF_LINES = 40
MAX_CHARS = 60000  # a GitHub comment holds 65536


@dataclass
class Step:
    op: str
    urn: str
    type: str
    old: dict[str, Any]
    new: dict[str, Any]

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


@dataclass
class Preview:
    steps: list[Step] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    result: str = "failed"
    config: dict[str, str] = field(default_factory=dict)
    stack: str = "?"


def read_events(lines: Iterator[str]) -> Preview:
    p = Preview()
    for line in lines:
        if not line.strip():
            continue
        event = json.loads(line)
        if "resourcePreEvent" in event:
            m = event["resourcePreEvent"]["metadata"]
            p.stack = m["urn"].split(":")[2]  # urn:pulumi:<stack>::<project>::...
            if m["op"] in ("same", "read", "refresh"):
                continue
            inputs = [(m.get(side) or {}).get("inputs") or {} for side in ("old", "new")]
            p.steps.append(Step(m["op"], m["urn"], m["type"], inputs[0], inputs[1]))
        elif "preludeEvent" in event:
            p.config = event["preludeEvent"].get("config") or {}
        elif "policyEvent" in event:
            p.violations.append(event["policyEvent"])
        elif "diagnosticEvent" in event and event["diagnosticEvent"].get("severity") == "error":
            p.errors.append(event["diagnosticEvent"]["message"].strip())
        elif "summaryEvent" in event:
            p.counts = event["summaryEvent"].get("resourceChanges") or {}
            p.result = event["summaryEvent"].get("result", "failed")
    return p


def leaves(value: Any, path: str = "") -> dict[str, Any]:
    """Flatten inputs to dotted paths; secrets and unknowns become markers."""
    if isinstance(value, dict):
        if is_secret(value):
            return {path: SECRET}
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k != "__provider":
                out |= leaves(v, f"{path}.{k}" if path else k)
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out |= leaves(v, f"{path}[{i}]")
        return out
    return {path: AFTER_APPLY if value in UNKNOWNS else value}


def changed_values(step: Step) -> list[tuple[str, Any, Any]]:
    """(path, old, new) of every input that differs; secret inputs are listed, never shown."""
    old, new = leaves(step.old), leaves(step.new)
    out = []
    for path in sorted(old.keys() | new.keys()):
        a, b = old.get(path), new.get(path)
        if a != b or SECRET in (a, b):
            out.append((path, a, b))
    return out


def render_change(path: str, old: Any, new: Any) -> str:
    if SECRET in (old, new):
        return f"  {path}: {SECRET} (not shown)"
    if isinstance(old, str) and isinstance(new, str) and ("\n" in old or "\n" in new):
        lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1))[2:]
        more = len(lines) - MAX_DIFF_LINES
        body = "\n".join(f"    {line}" for line in lines[:MAX_DIFF_LINES])
        return f"  {path}:\n{body}" + (f"\n    ... {more} more lines" if more > 0 else "")
    return f"  {path}: {json.dumps(old)} => {json.dumps(new)}"


def masters(p: Preview) -> dict[str, tuple[str, list[str]]]:
    """master -> (what happens, the triggers that changed)."""
    by_host: dict[str, list[tuple[Step, str]]] = {}
    for step in p.steps:
        found = steps.parse_step(step.name)
        if f"{steps.HOST_TYPE}$" in step.urn and found:
            by_host.setdefault(found[0], []).append((step, found[1]))
    out = {}
    for host, host_steps in sorted(by_host.items()):
        ops = {s.op for s, _ in host_steps}
        whats = {what for _, what in host_steps}
        reasons = sorted(
            {w.removeprefix("file-") for w in whats if w.removeprefix("file-") in RESTART_TRIGGERS}
            | ({"binary"} if any(w.startswith(steps.BINARY) for w in whats) else set())
        )
        if ops == {"create"}:
            out[host] = ("installed and started (new master)", reasons)
        elif ops == {"delete"}:
            out[host] = ("stopped and removed", reasons)
        elif reasons or "service" in whats:
            out[host] = ("restarts", reasons)
    return out


def pods_roll(p: Preview) -> list[str]:
    """Changed pod-template paths of updated Deployments (a change there rolls the pods)."""
    out = []
    for step in p.steps:
        if step.type == "kubernetes:apps/v1:Deployment" and step.op in ("update", "replace"):
            out += [
                f"{step.name}: {path}" for path, _, _ in changed_values(step) if ".template." in f".{path}."
            ]
    return out


def report(p: Preview) -> str:
    render_mode = p.config.get("kube-scheduler:outputMode") == "render"
    counts = ", ".join(
        f"{n} to {op}" if op != "same" else f"{n} unchanged" for op, n in sorted(p.counts.items())
    )
    status = "succeeded" if p.result == "succeeded" else "**FAILED**"
    out = [f"### `pulumi preview` of stack `{p.stack}`: {status}", "", counts or "no changes", ""]
    if p.errors or p.violations:
        out += ["#### Why it failed", ""]
        out += [f"- error: {e.splitlines()[0] if e else ''}" for e in p.errors if e != "preview failed"]
        for v in p.violations:
            resource = (v.get("resourceUrn") or "").rsplit("::", 1)[-1] or "the stack"
            message = " ".join(v.get("message", "").split())
            out.append(f"- policy `{v['policyName']}` ({v['enforcementLevel']}) on `{resource}`: {message}")
        out.append("")
    restarts = masters(p)
    out += ["#### Masters", ""]
    if restarts:
        note = " (render stack: what applying this change to a real stack would do)" if render_mode else ""
        out += [
            "One at a time, each through its gate (ready, up for the soak time, the lease renewed) "
            f"before the next{note}:",
            "",
        ]
        out += ["| master | what happens | because these changed |", "| --- | --- | --- |"]
        out += [f"| {h} | {what} | {', '.join(why) or '-'} |" for h, (what, why) in restarts.items()]
    else:
        out.append("No master restarts.")
    roll = pods_roll(p)
    out += ["", "#### In-cluster scheduler", ""]
    out.append(
        "Pods roll (pod template changed): " + "; ".join(f"`{r}`" for r in roll) if roll else "No pod rolls."
    )
    out += ["", "#### Changed resources", ""]
    if not p.steps:
        out.append("None.")
    else:
        out += ["| op | resource | type |", "| --- | --- | --- |"]
        out += [f"| {OPS.get(s.op, s.op)} {s.op} | `{s.name}` | `{s.type}` |" for s in p.steps]
        for s in p.steps:
            if s.op in ("update", "replace", "create-replacement"):
                body = "\n".join(render_change(*c) for c in changed_values(s)) or "  (no input changed)"
                out += ["", f"<details><summary><code>{s.name}</code>: changed values</summary>", ""]
                out += ["```diff", body, "```", "</details>"]
    text = "\n".join(out) + "\n"
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + "\n\n... (cut; the job log has the full preview)\n"
    return text


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "events", help="PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true pulumi preview --json output, or -"
    )
    args = ap.parse_args(argv)
    try:
        if args.events == "-":
            p = read_events(iter(sys.stdin))
        else:
            with Path(args.events).open() as f:
                p = read_events(iter(f))
    except (OSError, json.JSONDecodeError) as e:
        print(f"preview_report: cannot read {args.events}: {e}", file=sys.stderr)
        return 2
    print(report(p), end="")
    return 0 if p.result == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
