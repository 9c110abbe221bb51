"""PNG plots of bench/scheduling.py's results (matplotlib, no display): throughput over time and
latency CDFs per scheduler and client-side limit, nodes used by the bin-packing workload, and the
lease holder over time during failovers and rolling changes, and the lab's Prometheus' view of a
rolling change under load. They draw the records bench/records.py builds, and nothing those records
do not carry."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.perf_analysis import per_second
from bench.records import CaseRecord, ObservedRecord, Results, RunRecord, sample_step

DPI = 90


def _label(case: CaseRecord) -> str:
    return f"{case['scheduler']} qps {case['qps']:g}/burst {case['burst']}"


def _median_run(case: CaseRecord) -> RunRecord:
    """The run whose throughput is the median of the case's runs (the one a reader should see)."""
    runs = sorted(case["runs"], key=lambda r: float(r["figures"]["throughput"]))
    return runs[len(runs) // 2]


def _basic(results: Results) -> list[CaseRecord]:
    return [c for c in results["cases"] if c["workload"] == "basic"]


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _lines(ax: Any, title: str, xlabel: str, ylabel: str, path: Path) -> Path:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(ax.figure, path)


def throughput_plot(results: Results, path: Path) -> Path:
    """One panel per scheduler: pods bound per second (median run) and each setting's qps, the
    client-side ceiling, dashed in the same colour."""
    cases = _basic(results)
    schedulers = list(dict.fromkeys(c["scheduler"] for c in cases))
    fig, axes = plt.subplots(1, len(schedulers), figsize=(10, 4.2), sharey=True, squeeze=False)
    for ax, scheduler in zip(axes[0], schedulers, strict=True):
        for n, case in enumerate(c for c in cases if c["scheduler"] == scheduler):
            counts = per_second(_median_run(case)["bound_at"])
            colour = f"C{n}"
            label = f"qps {case['qps']:g}/burst {case['burst']}"
            ax.step(range(len(counts)), counts, where="post", color=colour, label=label)
            ax.axhline(case["qps"], color=colour, linestyle="--", linewidth=0.8)
        ax.set_title(scheduler, fontsize=10)
        ax.set_xlabel("seconds since the first binding")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("pods bound in that second (dashed: qps)")
    fig.suptitle(f"Throughput over time, {results['pods']} pods on {results['nodes']} nodes (median run)")
    return _save(fig, path)


def latency_plot(results: Results, path: Path) -> Path:
    _, ax = plt.subplots(figsize=(8, 4.5))
    for case in _basic(results):
        latency = sorted(x for run in case["runs"] for x in run["latency_s"])
        n = len(latency)
        ax.plot(latency, [(i + 1) / n for i in range(n)], label=_label(case))
    title = f"Scheduling latency CDF, {results['pods']} pods x {results['runs']} runs"
    return _lines(ax, title, "creation to binding (s)", "fraction of pods", path)


def binpack_plot(results: Results, path: Path) -> Path:
    """Nodes the bin-packing workload used, per scheduler (each ranks nodes its own way: the
    masters with upstream's default profile, the in-cluster scheduler with its configured one)."""
    cases = [c for c in results["cases"] if c["workload"] == "binpack"]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    used = [sorted(r["nodes_used"] for r in c["runs"]) for c in cases]
    ax.barh([_label(c) for c in cases], [u[len(u) // 2] for u in used], color="tab:blue")
    for i, u in enumerate(used):
        ax.plot(u, [i] * len(u), "k|", markersize=14)
    ax.axvline(results["nodes"], color="grey", linestyle="--", label=f"all {results['nodes']} nodes")
    fewest = {c["fewest_nodes"] for c in cases if "fewest_nodes" in c}
    for n in sorted(fewest):
        ax.axvline(n, color="green", linestyle=":", label=f"fewest that fit: {n}")
    pods = sorted({c["pods"] for c in cases})
    ax.set_xlabel("nodes used (bar: median, ticks: each run)")
    ax.set_title(f"Bin packing: {'/'.join(map(str, pods))} pods of a quarter node each")
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def lease_plot(results: Results, path: Path) -> Path:
    """One panel per episode: which holder has the lease at each sample (blank: nobody)."""
    episodes = results["leases"]
    fig, axes = plt.subplots(len(episodes), 1, figsize=(8, 1.6 * len(episodes) + 0.6), squeeze=False)
    for ax, (title, samples) in zip(axes[:, 0], episodes.items(), strict=True):
        t0 = samples[0][0] if samples else 0.0
        holders = sorted({h for _, h in samples if h})
        rows = {h: i for i, h in enumerate(holders)}
        for h in holders:
            ts = [t - t0 for t, s in samples if s == h]
            ax.plot(ts, [rows[h]] * len(ts), "|", markersize=8)
        ax.set_yticks(range(len(holders)), [h[-12:] for h in holders], fontsize=7)
        ax.set_ylim(-0.7, max(len(holders) - 0.3, 0.7))
        ax.set_title(title, fontsize=9, loc="left")
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel("seconds (100 ms samples; a gap: no unexpired holder)")
    fig.suptitle("Lease holder over time")
    return _save(fig, path)


def _broken(samples: list[tuple[float, float]], step: float) -> tuple[list[float], list[float]]:
    """The samples with a NaN after each one that the next does not follow by one step, so that a
    line stops where a series has no sample."""
    ts: list[float] = []
    vs: list[float] = []
    for i, (t, v) in enumerate(samples):
        ts.append(t)
        vs.append(v)
        if i + 1 < len(samples) and samples[i + 1][0] - t > 1.5 * step:
            ts.append(t + step)
            vs.append(math.nan)
    return ts, vs


def observed_plot(observed: ObservedRecord, path: Path) -> Path:
    """Prometheus' view of the rolling change, per master: scraped (up), leading (the leader
    gauge), pods scheduled a second (stacked); the change's `up` shaded."""
    panels = [
        ("up", "scraped (up == 1: band; failed scrape: thin line)"),
        ("leader", "leads (leader_election_master_status == 1: band)"),
        ("scheduled", "pods scheduled / s"),
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 6.4), sharex=True, squeeze=False)
    step = sample_step(observed)
    masters = sorted({m for panel in observed["series"].values() for m in panel})
    for ax, (panel, title) in zip(axes[:, 0], panels, strict=True):
        series = observed["series"].get(panel, {})
        if panel == "scheduled":
            stacked = [series.get(m, []) for m in masters]
            times = sorted({t for s in stacked for t, _ in s})
            values = [[dict(s).get(t, 0.0) for t in times] for s in stacked]
            ax.stackplot(times, values, labels=masters, step="post", alpha=0.8)
        else:
            for n, m in enumerate(masters):
                # one row per master: a thin line where it has a sample (a gap where it has none),
                # a wide band where the value is 1 (scraped; leading)
                ts, vs = _broken(series.get(m, []), step)
                (line,) = ax.step(ts, [n] * len(ts), where="post", linewidth=0.8, label=m)
                on = [v >= 1 for v in vs]
                band = {"step": "post", "color": line.get_color(), "alpha": 0.7}
                ax.fill_between(ts, n - 0.3, n + 0.3, where=on, **band)
            ax.set_yticks(range(len(masters)), masters, fontsize=7)
            ax.set_ylim(-0.6, len(masters) - 0.4)
        ax.axvspan(*observed["change"], color="grey", alpha=0.15, label="rolling change (`up`)")
        ax.set_title(title, fontsize=9, loc="left")
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel(f"seconds (Prometheus range queries; scrapes every {observed['scrape_s']:g} s)")
    fig.suptitle("The masters during a rolling change under load, as the lab's Prometheus saw them")
    return _save(fig, path)


def write_plots(results: Results, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        throughput_plot(results, out / "throughput.png"),
        latency_plot(results, out / "latency-cdf.png"),
        binpack_plot(results, out / "binpack.png"),
        lease_plot(results, out / "lease-holder.png"),
    ]
    if "observed" in results:
        paths.append(observed_plot(results["observed"], out / "prometheus-rolling-change.png"))
    return paths
