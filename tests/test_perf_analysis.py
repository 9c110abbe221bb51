"""The scheduling benchmark's arithmetic (bench/perf_analysis.py) and its plots, on figures worked
out by hand; the benchmark itself runs in `make bench`, not here."""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import pytest

from bench.perf_analysis import per_second, percentile, recommend, run_figures, spread
from bench.plots import write_plots


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([3.0, 1.0, 2.0], 50, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),  # between the two middle ranks
        ([1.0, 2.0, 3.0, 4.0, 5.0], 90, 4.6),  # rank 3.6
        ([10.0, 20.0], 99, 19.9),
        ([7.0], 99, 7.0),
        ([1.0, 2.0], 0, 1.0),
        ([1.0, 2.0], 100, 2.0),
    ],
)
def test_percentile_interpolates_between_ranks(values: list[float], p: float, expected: float) -> None:
    assert percentile(values, p) == pytest.approx(expected)


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 50))


@pytest.mark.parametrize(
    ("bound_at", "expected"),
    [
        ([], []),
        ([5.0], [1]),
        ([5.0, 5.2, 5.99, 6.0, 8.5], [3, 1, 0, 1]),  # seconds counted from the first binding
        ([1.5, 0.5], [1, 1]),
    ],
)
def test_per_second_counts_bindings_in_each_second(bound_at: list[float], expected: list[int]) -> None:
    assert per_second(bound_at) == expected


def test_run_figures_of_a_steady_run() -> None:
    # 11 pods created at 0 s, bound one every 0.1 s from 1.0 s: 10 intervals in 1.0 s
    created = [0.0] * 11
    bound = [1.0 + i / 10 for i in range(11)]
    f = run_figures(created, bound, qps=10)
    assert f.pods == 11
    assert f.seconds == pytest.approx(1.0)
    assert f.throughput == pytest.approx(10.0)
    assert f.ratio_to_qps == pytest.approx(1.0)
    # per-second samples [10, 1]: the last, partial second is left out
    assert (f.throughput_p50, f.throughput_p90) == (10, 10)
    assert f.latency_p50 == pytest.approx(1.5)
    assert f.latency_p99 == pytest.approx(1.99)


def test_run_figures_pairs_creation_and_binding_per_pod() -> None:
    f = run_figures([0.0, 10.0], [0.5, 10.1], qps=1)
    assert f.latency_p50 == pytest.approx(0.3)
    assert f.throughput == pytest.approx(1 / 9.6)


@pytest.mark.parametrize(("created", "bound"), [([], []), ([0.0], [])])
def test_run_figures_refuses_unpaired_times(created: list[float], bound: list[float]) -> None:
    with pytest.raises(ValueError, match="one creation and one binding"):
        run_figures(created, bound, qps=1)


def test_spread_is_min_median_max() -> None:
    assert spread([3.0, 1.0, 2.0]) == (1.0, 2.0, 3.0)


@pytest.mark.parametrize(
    ("figures", "default", "says"),
    [
        ({50.0: 48.0, 100.0: 95.0, 200.0: 150.0}, 50.0, "the client-side limit sets the pace"),
        ({50.0: 48.0, 100.0: 47.0}, 50.0, "as fast as any measured"),
        ({50.0: 20.0, 100.0: 21.0}, 50.0, "is not what limits it"),
    ],
)
def test_recommend_reads_the_ratio_to_qps(figures: dict[float, float], default: float, says: str) -> None:
    line = recommend("bare metal", figures, default)
    assert line.startswith("bare metal: ") and says in line


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_plots_are_written_as_pngs(tmp_path: Path) -> None:
    def run(tput: float, used: int) -> dict[str, Any]:
        bound = [i / tput for i in range(20)]
        return {"figures": {"throughput": tput}, "bound_at": bound, "latency_s": bound, "nodes_used": used}

    results: dict[str, Any] = {
        "pods": 20,
        "nodes": 10,
        "runs": 2,
        "cases": [
            {
                "scheduler": "s",
                "qps": 10.0,
                "burst": 20,
                "workload": "basic",
                "runs": [run(9, 10), run(10, 10)],
            },
            {
                "scheduler": "s",
                "qps": 10.0,
                "burst": 20,
                "workload": "binpack",
                "fewest_nodes": 5,
                "scoring": "MostAllocated",
                "runs": [run(9, 5), run(9, 6)],
            },
        ],
        "leases": {"masters: rolling change": [(100.0, "master-1"), (100.1, ""), (100.2, "master-2")]},
    }
    paths = write_plots(results, tmp_path / "plots")
    assert [p.name for p in paths] == ["throughput.png", "latency-cdf.png", "binpack.png", "lease-holder.png"]
    for p in paths:
        width, height = _png_size(p)
        assert width >= 600 and height >= 150
