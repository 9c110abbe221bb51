"""`up` of the render stack that changes nothing, with the state on the local file backend and on
the project's S3-compatible store (SeaweedFS, lab/ksched_lab/state_store.py), side by side.

    make setup && flock /tmp/ksched-lab.lock .venv/bin/python bench/state_backends.py [--runs 7]

Each run is `pulumi up --yes --stack render --policy-pack policy` after `source scripts/env.sh
render` (the README's CLI workflow; what the pull-request workflow runs for the base branch), in a
scratch copy of the repository with a throwaway CA, timed from start to exit: the CLI's preview and
update, the program, the policy pack. (`make up STACK=render` cannot be timed: its `up --refresh`
fails on a render stack's Kubernetes resources, README: the render stack.) The first `up` on each
backend creates the stack and is not counted; the runs then alternate between the backends, each
checked to have changed nothing. The store runs on a data directory and port of its own
(harness.state_store; a machine without its binary builds it first, ~10 min) and is stopped at
the end: nothing is left in the repository, in the operator's store or running. The store is a
machine-wide singleton, hence the flock.

Every `up` on the store checks the stack's lock directory that the previous run just emptied:
with a SeaweedFS that lists an empty directory as a 0-byte object (docs/team.md), each would fail
with `unexpected end of JSON input`. Prints a Markdown table, writes .bench/state_backends.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the repository root

from harness.lab import ROOT
from harness.state_store import keys, state_store

STACK = "render"
CHECKSUM_WARNING = "no supported checksum"


def scratch_project(where: Path) -> Path:
    """A copy of the repository as committed (tracked and untracked, not ignored), its venvs
    linked, with a throwaway CA for the render stack (README: the render stack): what the
    pull-request workflow checks out. Renders go to its own .render/."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    for rel in filter(None, listed.split("\0")):
        if (ROOT / rel).is_file():
            (where / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, where / rel)
    for venv in (".venv", "policy/.venv"):
        (where / venv).symlink_to(ROOT / venv)
    (where / ".render-ca").mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "8", "-subj", "/CN=render-preview-ca",
         "-keyout", ".render-ca/ca.key", "-out", ".render-ca/ca.crt"],
        cwd=where, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return where


def base_env() -> dict[str, str]:
    """This process's environment without any Pulumi, AWS or project setting of its own."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PULUMI_", "AWS_")) and k not in ("KSCHED_PROJECT_DIR", "PYTHONPATH")
    }


def pulumi(project: Path, backend: dict[str, str], *args: str) -> tuple[float, str]:
    """(seconds, everything printed) of `pulumi <args>` in the project's shell on that backend:
    `source scripts/env.sh render` first, as the README's CLI workflow and the workflow do."""
    script = f'source scripts/env.sh {STACK} && exec pulumi "$@"'
    start = time.monotonic()
    out = subprocess.run(
        ["bash", "-c", script, "bash", *args],
        cwd=project,
        env=base_env() | backend,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
    )
    took = time.monotonic() - start
    if out.returncode != 0:
        where = backend["PULUMI_BACKEND_URL"].split("?")[0]
        raise SystemExit(f"pulumi {args[0]} on {where} failed:\n{out.stdout[-4000:]}")
    return took, out.stdout


def up(project: Path, backend: dict[str, str]) -> tuple[float, str]:
    return pulumi(project, backend, "up", "--yes", "--stack", STACK, "--policy-pack", "policy")


def summary(output: str) -> dict[str, int]:
    """The counts of the last `Resources:` block Pulumi printed ({"unchanged": 20} ...)."""
    counts: dict[str, int] = {}
    for line in output.split("\nResources:\n")[-1].splitlines():
        found = re.match(r"^\s+(?:[-+~]+\s+)?(\d+) (\w+)", line)
        if not found:
            break
        counts[found.group(2)] = int(found.group(1))
    return counts


def pulumi_version() -> str:
    argv = ["bash", "-c", f'source "{ROOT}/scripts/env.sh" && exec pulumi version']  # no stack
    return subprocess.run(argv, env=base_env(), capture_output=True, text=True, timeout=60).stdout.strip()


def report(result: dict[str, Any], times: dict[str, list[float]]) -> None:
    print(
        f"\n`up` of the render stack changing nothing ({result['resources']} resources, "
        f"{result['pulumi']}), {result['runs']} runs each:\n"
    )
    print("| backend | median | min | max | SDK checksum warnings |")
    print("| --- | --- | --- | --- | --- |")
    for name, label in (("file", "local file backend"), ("s3", "S3 store (SeaweedFS, 127.0.0.1)")):
        t = times[name]
        print(
            f"| {label} | {statistics.median(t):.2f} s | {min(t):.2f} s | {max(t):.2f} s "
            f"| {result['checksum_warnings'][name]} |"
        )
    f, s = result["median"]["file"], result["median"]["s3"]
    print(f"\nthe store: {s - f:+.2f} s per up ({s / f:.2f}x); no lock entry listed after the runs")


def main() -> int:
    parser = argparse.ArgumentParser(formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.description = __doc__
    parser.add_argument("--runs", type=int, default=7, help="timed no-op runs per backend (default 7)")
    args = parser.parse_args()
    times: dict[str, list[float]] = {"file": [], "s3": []}
    warnings = {"file": 0, "s3": 0}
    resources = 0
    with tempfile.TemporaryDirectory(prefix="ksched-state-bench-") as tmp_name:
        tmp = Path(tmp_name)
        projects = {name: scratch_project(tmp / name) for name in times}
        (tmp / "file-state").mkdir()
        start = time.monotonic()
        with state_store(tmp / "store") as store:
            print(f"state store up in {time.monotonic() - start:.1f}s", file=sys.stderr)
            backends = {"file": {"PULUMI_BACKEND_URL": f"file://{tmp / 'file-state'}"}, "s3": store}
            for name, backend in backends.items():
                pulumi(projects[name], backend, "stack", "init", STACK)
                took, out = up(projects[name], backend)
                created = summary(out).get("created", 0)
                print(f"{name}: first up (creates {created} resources) {took:.1f}s", file=sys.stderr)
            for i in range(args.runs):
                for name, backend in backends.items():
                    took, out = up(projects[name], backend)
                    counts = summary(out)
                    if set(counts) != {"unchanged"}:
                        raise SystemExit(f"run {i + 1} on {name} was not a no-op: {counts}\n{out[-3000:]}")
                    resources = counts["unchanged"]
                    warnings[name] += out.lower().count(CHECKSUM_WARNING)
                    times[name].append(took)
                    print(f"{name}: run {i + 1}/{args.runs}: {took:.2f}s", file=sys.stderr)
            locks = keys(store, ".pulumi/locks/")
            objects = len(keys(store))
            if locks:
                raise SystemExit(f"the store still lists lock entries after every run ended: {locks}")
    version = pulumi_version()
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "pulumi": version,
        "stack": STACK,
        "resources": resources,
        "runs": args.runs,
        "seconds": {k: [round(t, 3) for t in v] for k, v in times.items()},
        "median": {k: round(statistics.median(v), 2) for k, v in times.items()},
        "checksum_warnings": warnings,
        "store_objects_after": objects,
    }
    out_dir = ROOT / ".bench"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "state_backends.json").write_text(json.dumps(result, indent=1) + "\n")
    report(result, times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
