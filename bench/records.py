"""What bench/scheduling.py records (.bench/scheduling.json) and reads back: a run's record built
from its measured timestamps, a case's record (one scheduler, one client-side limit, one workload,
its runs), the figures of a case, the line printed per case, the README table and what the figures
say of each scheduler's qps default. Pure functions of the records: bench/plots.py draws the same
records, and tests/test_perf_analysis.py feeds both with records built here."""

from __future__ import annotations

import dataclasses
import itertools
import json
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from bench.perf_analysis import RunFigures, recommend, run_figures, spread


class RunRecord(TypedDict):
    figures: dict[str, Any]  # RunFigures' fields
    created_in_s: float  # creating every pod took this long
    bound_at: list[float]  # per pod, seconds from the start of creation, ascending
    latency_s: list[float]  # per pod, creation to binding, ascending
    binding_times_from_conditions: int  # pods whose Scheduled event was missing (seconds only)
    nodes_used: int


class CaseRecord(TypedDict):
    scheduler: str
    qps: float
    burst: int
    workload: str  # "basic" or "binpack"
    pods: int
    runs: list[RunRecord]
    fewest_nodes: NotRequired[int]  # a workload of pods a node holds only so many of


class ObservedRecord(TypedDict):
    """bench/prometheus_view.py's episode: per panel, per master, (seconds from the start, value)."""

    scrape_s: float
    change: tuple[float, float]  # the rolling change's `up`: seconds from the start
    end_s: float
    series: dict[str, dict[str, list[tuple[float, float]]]]


class Results(TypedDict):
    pods: int
    nodes: int
    runs: int
    cases: list[CaseRecord]
    # episode -> (time, holder's host or pod; "" when none) per sample (harness.watch.timeline)
    leases: dict[str, list[tuple[float, str]]]
    k8s_version: NotRequired[str]
    observed: NotRequired[ObservedRecord]


def run_record(
    created: Mapping[str, float],
    bound: Mapping[str, float],
    start: float,
    qps: float,
    *,
    created_in: float,
    nodes_used: int,
    from_conditions: int = 0,
) -> RunRecord:
    """One run from its timestamps (epoch seconds): when each pod was created and bound, when
    creation started."""
    names = sorted(created)
    figures = run_figures([created[n] for n in names], [bound[n] for n in names], qps)
    return {
        "figures": dataclasses.asdict(figures),
        "created_in_s": created_in,
        "bound_at": sorted(bound[n] - start for n in names),
        "latency_s": sorted(bound[n] - created[n] for n in names),
        "binding_times_from_conditions": from_conditions,
        "nodes_used": nodes_used,
    }


def case_record(
    scheduler: str,
    qps: float,
    burst: int,
    workload: str,
    pods: int,
    runs: list[RunRecord],
    per_node: int | None = None,
) -> CaseRecord:
    """One case; `per_node`: how many of the workload's pods a node holds, if that is what limits
    them (the case then records the fewest nodes they fit on)."""
    case: CaseRecord = {
        "scheduler": scheduler,
        "qps": qps,
        "burst": burst,
        "workload": workload,
        "pods": pods,
        "runs": runs,
    }
    if per_node:
        case["fewest_nodes"] = -(-pods // per_node)
    return case


def observed_record(
    matrices: Mapping[str, list[dict[str, Any]]],
    start: float,
    change: tuple[float, float],
    end: float,
    scrape_s: float,
) -> ObservedRecord:
    """The episode from Prometheus' range-query results ({panel: [{"metric": {...}, "values":
    [[t, "v"], ...]}]}, each series named by its `node` label) and its epoch timestamps."""
    series = {
        panel: {
            str(s["metric"].get("node", "?")): [(float(t) - start, float(v)) for t, v in s["values"]]
            for s in matrix
        }
        for panel, matrix in matrices.items()
    }
    return {
        "scrape_s": scrape_s,
        "change": (change[0] - start, change[1] - start),
        "end_s": end - start,
        "series": series,
    }


def observed_summary(observed: ObservedRecord) -> list[str]:
    """What the episode shows, from its samples: the lowest scheduling rate during the change and
    the longest stretch with no master reporting the lease, each in seconds of the samples."""
    step = sample_step(observed)
    lo, hi = observed["change"]
    rates = _totals(observed["series"].get("scheduled", {}))
    during = [v for t, v in rates if lo <= t <= hi]
    leaders = _totals(observed["series"].get("leader", {}))
    gap = longest = 0.0
    for _, v in leaders:
        gap = gap + step if v < 1 else 0.0
        longest = max(longest, gap)
    steady = [v for t, v in rates if t < lo]
    return [
        f"rolling change under load: {hi - lo:.1f} s of `up`, scrapes every {observed['scrape_s']:g} s",
        f"pods scheduled a second, all masters: before {statistics.median(steady) if steady else 0:.1f}, "
        f"lowest during the change {min(during) if during else 0:.1f}",
        f"longest stretch with no master reporting the lease: {longest:.1f} s (one sample: {step:g} s)",
    ]


def sample_step(observed: ObservedRecord) -> float:
    """The range queries' step: the shortest time between two samples."""
    times = sorted({t for panel in observed["series"].values() for s in panel.values() for t, _ in s})
    return min((b - a for a, b in itertools.pairwise(times)), default=observed["scrape_s"])


def _totals(panel: Mapping[str, list[tuple[float, float]]]) -> list[tuple[float, float]]:
    """The sum over masters at each sample time."""
    total: dict[float, float] = {}
    for samples in panel.values():
        for t, v in samples:
            total[t] = total.get(t, 0.0) + v
    return sorted(total.items())


def save(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))


def load(path: Path) -> Results:
    results: Results = json.loads(path.read_text())
    return results


@dataclasses.dataclass(frozen=True)
class CaseFigures:
    throughput: tuple[float, float, float]  # pods/s, first to last binding: min, median, max run
    steady: float  # scheduler_perf's Perc50 of the per-second samples, median run
    ratio: float  # steady / qps
    median_run: RunFigures  # the run of median throughput
    created_per_s: float
    nodes_used: tuple[float, float, float]


def case_figures(case: CaseRecord) -> CaseFigures:
    figs = [RunFigures(**r["figures"]) for r in case["runs"]]
    steady = statistics.median(f.throughput_p50 for f in figs)
    return CaseFigures(
        throughput=spread([f.throughput for f in figs]),
        steady=steady,
        ratio=steady / case["qps"],
        median_run=sorted(figs, key=lambda f: f.throughput)[len(figs) // 2],
        created_per_s=statistics.median(case["pods"] / r["created_in_s"] for r in case["runs"]),
        nodes_used=spread([r["nodes_used"] for r in case["runs"]]),
    )


def summary_line(case: CaseRecord) -> str:
    f = case_figures(case)
    t, mid = f.throughput, f.median_run
    return (
        f"{case['scheduler']:<22} qps {case['qps']:>5g}/{case['burst']:<4} {case['workload']:<8} "
        f"{case['pods']:>5} pods (created {f.created_per_s:4.0f}/s): "
        f"pods/s min/med/max {t[0]:6.1f} {t[1]:6.1f} {t[2]:6.1f}, steady {f.steady:4.0f} "
        f"(x{f.ratio:.2f} of qps); latency p50 {mid.latency_p50:5.2f}s p90 {mid.latency_p90:5.2f}s "
        f"p99 {mid.latency_p99:5.2f}s"
    )


def table(results: Results) -> list[str]:
    """The figures as Markdown rows, for the README."""
    rows = [
        "| scheduler | qps/burst | workload | pods (created/s) | pods/s, first to last binding: "
        "min / median / max | steady pods/s (÷ qps) | latency p50 / p90 / p99 "
        "| nodes used: min / median / max |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case in results["cases"]:
        f = case_figures(case)
        t, mid, used = f.throughput, f.median_run, f.nodes_used
        rows.append(
            f"| {case['scheduler']} | {case['qps']:g}/{case['burst']} | {case['workload']} "
            f"| {case['pods']} ({f.created_per_s:.0f}/s) | {t[0]:.1f} / {t[1]:.1f} / {t[2]:.1f} "
            f"| {f.steady:.0f} ({f.ratio:.2f}) "
            f"| {mid.latency_p50:.2f} / {mid.latency_p90:.2f} / {mid.latency_p99:.2f} s "
            f"| {used[0]:g} / {used[1]:g} / {used[2]:g} |"
        )
    return rows


def recommendations(results: Results, default_qps: Mapping[str, float]) -> list[str]:
    """What each scheduler's basic-workload figures say of its qps default (measured among them)."""
    steady: dict[str, dict[float, float]] = {name: {} for name in default_qps}
    for case in results["cases"]:
        if case["workload"] == "basic" and case["scheduler"] in steady:
            steady[case["scheduler"]][case["qps"]] = case_figures(case).steady
    return [recommend(name, steady[name], qps) for name, qps in default_qps.items()]
