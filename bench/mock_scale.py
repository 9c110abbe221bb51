"""Mock-scale benchmark: the program with 3, 30 and 300 hosts under Pulumi mocks.

Prints resources per host (must not grow with the host count), seconds, and the ratio to a
floor that registers the same number of bare resources without our code. The ratio grows with
the host count: masters change one at a time, and the SDK's cycle check walks that chain for every
dependency (README, "Tests and figures").
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the repository root

import pulumi
import pulumi_command as command

from harness.config import as_raw, base_config
from harness.lab import ROOT, write_figures
from harness.mocks import Recorder, RecordingMonitor, awaited, run_program
from harness.pki import make_pki

SIZES = (3, 30, 300)


def floor(count: int) -> float:
    """Register `count` bare Command resources under the same mocks and wait for them."""
    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, preview=False, monitor=RecordingMonitor(recorder))
    start = time.perf_counter()

    @awaited
    def program() -> pulumi.Output[object]:
        cmds = [command.local.Command(f"r{i}", create="true") for i in range(count)]
        return pulumi.Output.all(*[c.stdout for c in cmds])

    program()
    return time.perf_counter() - start


def main() -> None:
    pki = make_pki()
    rows = []
    for n in SIZES:
        raw = as_raw(base_config(pki, hosts=n) | {"inCluster": {"enabled": False}})
        start = time.perf_counter()
        resources = len(run_program(raw).recorder.resources)
        ours = time.perf_counter() - start
        base = floor(resources)
        rows.append(
            {
                "hosts": n,
                "resources": resources,
                "per_host": round((resources - 1) / n, 2),
                "seconds": round(ours, 2),
                "floor_seconds": round(base, 2),
                "ratio": round(ours / base, 2),
            }
        )
    print(f"{'hosts':>6} {'resources':>10} {'per host':>9} {'seconds':>8} {'floor s':>8} {'ratio':>6}")
    for r in rows:
        print(
            f"{r['hosts']:>6} {r['resources']:>10} {r['per_host']:>9} {r['seconds']:>8} "
            f"{r['floor_seconds']:>8} {r['ratio']:>6}"
        )
    out = write_figures("mock_scale", rows)
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
