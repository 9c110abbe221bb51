"""Regenerate components/render/upstream_objects.json: per supported minor, the objects with fixed
names that the control plane and kubeadm create, as tools/upstream (built against that version's
k8s.io/kubernetes by scripts/k8s-upstream.sh) reads them from upstream's code.

    .venv/bin/python scripts/upstream_objects.py            every version in NEWEST_PATCH
    .venv/bin/python scripts/upstream_objects.py v1.37.2    only that minor's row

A cold build takes minutes per version (its kube-scheduler first); versions are built one at a
time. The versions are tests/scheduler_binary.py's NEWEST_PATCH, read from its source so that
this script needs nothing beyond the standard library.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "components" / "render" / "upstream_objects.json"
_VERSIONS_SOURCE = ROOT / "tests" / "scheduler_binary.py"


def newest_patches() -> dict[int, str]:
    """NEWEST_PATCH of tests/scheduler_binary.py (a literal dict), without importing it."""
    tree = ast.parse(_VERSIONS_SOURCE.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "NEWEST_PATCH" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            if isinstance(value, dict):
                return {int(k): str(v) for k, v in value.items()}
    raise SystemExit(f"no NEWEST_PATCH literal in {_VERSIONS_SOURCE}")


def minor_key(version: str) -> str:
    """ "v1.37.2" -> "1.37", the table's key."""
    major, minor, _patch = version.lstrip("v").split(".")
    return f"{major}.{minor}"


def rows(facts: dict[str, object]) -> list[list[str]]:
    """The tool's "objects" as sorted [kind, namespace, name] rows."""
    objects = facts.get("objects")
    if not isinstance(objects, list) or not objects:
        raise ValueError("tools/upstream printed no objects")
    out = {(str(o["kind"]), str(o["namespace"]), str(o["name"])) for o in objects}
    return [list(row) for row in sorted(out)]


def upstream_rows(version: str) -> list[list[str]]:
    """Build (or reuse) tools/upstream for `version`, run it, return its object rows."""
    built = subprocess.run(
        ["bash", str(ROOT / "scripts" / "k8s-upstream.sh"), version],
        stdout=subprocess.PIPE,
        check=True,
        text=True,
        env=os.environ.copy(),
    )
    printed = subprocess.run([built.stdout.strip()], stdout=subprocess.PIPE, check=True, text=True)
    facts: dict[str, object] = json.loads(printed.stdout)
    return rows(facts)


def dump(table: dict[str, list[list[str]]]) -> str:
    """Deterministic text: minors in numeric order, one row a line, trailing newline."""
    keys = sorted(table, key=lambda k: tuple(int(p) for p in k.split(".")))
    lines = ["{"]
    for i, key in enumerate(keys):
        lines.append(f"  {json.dumps(key)}: [")
        body = table[key]
        for j, row in enumerate(body):
            lines.append(f"    {json.dumps(row)}{',' if j < len(body) - 1 else ''}")
        lines.append(f"  ]{',' if i < len(keys) - 1 else ''}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="*", help="versions to regenerate (default: every NEWEST_PATCH)")
    args = parser.parse_args(argv)
    versions: list[str] = args.versions or [newest_patches()[m] for m in sorted(newest_patches())]
    table: dict[str, list[list[str]]] = json.loads(TABLE.read_text()) if TABLE.exists() else {}
    for version in versions:
        t0 = time.monotonic()
        table[minor_key(version)] = upstream_rows(version)
        n = len(table[minor_key(version)])
        print(f"{version}: {n} objects in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    TABLE.write_text(dump(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
