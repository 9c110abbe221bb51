"""Scheduling figures from per-pod timestamps, the way scheduler_perf reports them
(test/integration/scheduler_perf: throughput sampled per second from the count of scheduled pods,
its average and percentiles; latency percentiles), plus the per-pod creation-to-binding latency.
Pure functions; bench/scheduling.py collects the timestamps, bench/plots.py draws them."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100), linear between the closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def per_second(bound_at: Sequence[float]) -> list[int]:
    """Pods bound in each whole second from the first binding (scheduler_perf samples the count of
    scheduled pods once a second and reports the differences)."""
    if not bound_at:
        return []
    start = min(bound_at)
    buckets = [0] * (int(max(bound_at) - start) + 1)
    for t in bound_at:
        buckets[int(t - start)] += 1
    return buckets


@dataclass(frozen=True)
class RunFigures:
    pods: int
    seconds: float  # first to last binding
    throughput: float  # pods/s over that span
    throughput_p50: float  # of the per-second samples, the last partial second left out
    throughput_p90: float
    latency_p50: float  # creation to binding, seconds
    latency_p90: float
    latency_p99: float
    qps: float
    ratio_to_qps: float  # one binding call per pod: the client-side limit is the ceiling


def run_figures(created_at: Sequence[float], bound_at: Sequence[float], qps: float) -> RunFigures:
    """Figures of one run; `created_at[i]` and `bound_at[i]` belong to the same pod."""
    if len(created_at) != len(bound_at) or not bound_at:
        raise ValueError("one creation and one binding time per pod, at least one pod")
    span = max(bound_at) - min(bound_at)
    throughput = (len(bound_at) - 1) / span if span > 0 else math.inf
    samples = per_second(bound_at)[:-1] or per_second(bound_at)
    latency = [b - c for c, b in zip(created_at, bound_at, strict=True)]
    return RunFigures(
        pods=len(bound_at),
        seconds=span,
        throughput=throughput,
        throughput_p50=percentile(samples, 50),
        throughput_p90=percentile(samples, 90),
        latency_p50=percentile(latency, 50),
        latency_p90=percentile(latency, 90),
        latency_p99=percentile(latency, 99),
        qps=qps,
        ratio_to_qps=throughput / qps,
    )


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(min, median, max) over the runs."""
    return min(values), statistics.median(values), max(values)


def recommend(name: str, figures: dict[float, float], default_qps: float) -> str:
    """What one scheduler's figures say of its qps default: `figures` is {qps: median throughput}.
    A throughput near qps (ratio 0.8 or more) means the client-side limit sets the pace."""
    ratio = figures[default_qps] / default_qps
    best = max(figures, key=lambda q: figures[q])
    if ratio < 0.8:
        return (
            f"{name}: qps {default_qps:g} is not what limits it ({figures[default_qps]:.0f} pods/s, "
            f"{ratio:.2f} of qps): the scheduler or this machine is"
        )
    if best > default_qps:
        return (
            f"{name}: the client-side limit sets the pace ({figures[default_qps]:.0f} pods/s at qps "
            f"{default_qps:g}, {ratio:.2f} of it); qps {best:g} reached {figures[best]:.0f} pods/s"
        )
    return f"{name}: qps {default_qps:g} is as fast as any measured ({figures[default_qps]:.0f} pods/s)"
