"""The scheduling benchmark's arithmetic (bench/perf_analysis.py) on figures worked out by hand, and
its records, table and plots on records built by the benchmark's own code (bench/records.py, as
bench/scheduling.py builds them) from made-up timestamps, through the JSON file `--replot` reads
back; the benchmark itself runs in `make bench`, not here."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench import records
from bench.perf_analysis import per_second, percentile, recommend, run_figures, spread
from bench.plots import write_plots
from harness.watch import MasterSample, ReplicaSample, timeline


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


START = 1000.0  # when creation started (epoch seconds in a real run)


def measured_run(pods: int, rate: float, qps: float, nodes_used: int) -> records.RunRecord:
    """What one_run records of a run whose pods were all created in the first 0.1 s and bound at
    `rate` a second from 0.5 s on."""
    created = {f"p-{i:05d}": START + i * 0.1 / pods for i in range(pods)}
    bound = {name: START + 0.5 + i / rate for i, name in enumerate(sorted(created))}
    return records.run_record(created, bound, START, qps, created_in=0.1, nodes_used=nodes_used)


def measured_results() -> records.Results:
    """The benchmark's results as scheduling.py assembles them, from made-up measurements."""
    cases = [
        records.case_record(
            "default-scheduler", 50.0, 100, "basic", 120, [measured_run(120, r, 50, 10) for r in (48, 50)]
        ),
        records.case_record("default-scheduler", 100.0, 200, "basic", 120, [measured_run(120, 90, 100, 10)]),
        records.case_record(
            "custom-k8s-scheduler", 100.0, 200, "basic", 120, [measured_run(120, 95, 100, 10)]
        ),
        records.case_record(
            "default-scheduler", 50.0, 100, "binpack", 30, [measured_run(30, 40, 50, 10)], per_node=4
        ),
        records.case_record(
            "custom-k8s-scheduler",
            100.0,
            200,
            "binpack",
            30,
            [measured_run(30, 60, 100, n) for n in (8, 9)],
            per_node=4,
        ),
    ]
    rolling = [
        MasterSample(100.0, "master-1_a1", 0),
        MasterSample(100.1, "", 1),
        MasterSample(100.2, "master-2_b2", 0),
    ]
    deleted = [ReplicaSample(200.0, "custom-k8s-scheduler-x_c3", 2), ReplicaSample(200.1, "", 1)]
    return {
        "pods": 120,
        "nodes": 10,
        "runs": 2,
        "cases": cases,
        "leases": {
            "masters: rolling change": timeline(rolling),
            "in-cluster: leader pod deleted": timeline(deleted),
        },
        "observed": observed(),
    }


OBSERVED_START = 5000.0


def matrix(values: dict[str, Callable[[int], float | None]]) -> list[dict[str, Any]]:
    """A range query's result as Prometheus' API gives it: a series per master (its `node` label),
    a [time, "value"] pair a second from 0 to 60 s, none where the function gives None."""
    return [
        {
            "metric": {"job": "kube-scheduler", "node": node},
            "values": [[OBSERVED_START + s, str(v)] for s in range(61) if (v := f(s)) is not None],
        }
        for node, f in values.items()
    ]


def observed() -> records.ObservedRecord:
    """master-1 leads and schedules 20 pods/s until it restarts (not scraped at 28-30 s); master-2
    leads from 31 s and schedules from 32 s; the change's `up` runs from 25 to 45 s."""

    def m1_up(s: int) -> float:
        return 0.0 if 28 <= s <= 30 else 1.0

    return records.observed_record(
        {
            "up": matrix({"master-1": m1_up, "master-2": lambda s: 1.0}),
            "leader": matrix(
                {
                    "master-1": lambda s: None if 28 <= s <= 30 else float(s < 28),
                    "master-2": lambda s: float(s >= 31),
                }
            ),
            "scheduled": matrix(
                {"master-1": lambda s: 20.0 * (s < 28), "master-2": lambda s: 20.0 * (s >= 32)}
            ),
        },
        OBSERVED_START,
        (OBSERVED_START + 25, OBSERVED_START + 45),
        OBSERVED_START + 60,
        2,
    )


def test_what_prometheus_saw_of_a_rolling_change_is_summed_per_sample(tmp_path: Path) -> None:
    path = tmp_path / "scheduling.json"
    records.save(measured_results(), path)
    seen = records.load(path)["observed"]
    assert list(seen["change"]) == [25.0, 45.0] and seen["end_s"] == 60.0  # relative to the start
    assert [list(p) for p in seen["series"]["leader"]["master-1"][:2]] == [[0.0, 1.0], [1.0, 1.0]]
    assert records.observed_summary(seen) == [
        "rolling change under load: 20.0 s of `up`, scrapes every 2 s",
        # before 25 s: 20 a second; from 28 to 31 s nobody schedules
        "pods scheduled a second, all masters: before 20.0, lowest during the change 0.0",
        # 28, 29 and 30 s: master-1 not scraped and master-2 not yet leading
        "longest stretch with no master reporting the lease: 3.0 s (one sample: 1 s)",
    ]


def test_a_run_record_holds_its_timestamps_relative_to_the_start() -> None:
    run = measured_run(120, 50, 50, 10)
    assert run["bound_at"][0] == pytest.approx(0.5) and run["bound_at"] == sorted(run["bound_at"])
    assert run["latency_s"][0] == pytest.approx(0.5)  # the first pod: created at 0, bound at 0.5
    assert run["figures"]["pods"] == 120
    assert run["figures"]["throughput"] == pytest.approx(50.0)  # 119 intervals in 2.38 s
    assert (run["nodes_used"], run["created_in_s"]) == (10, 0.1)


def test_a_case_records_the_fewest_nodes_only_where_a_node_holds_few_pods() -> None:
    results = measured_results()
    assert [c.get("fewest_nodes") for c in results["cases"]] == [None, None, None, 8, 8]  # 30 pods, 4 a node


def test_case_figures_summary_and_table_of_recorded_runs(tmp_path: Path) -> None:
    path = tmp_path / "scheduling.json"
    records.save(measured_results(), path)
    results = records.load(path)  # as --replot reads them: tuples are lists now
    first = records.case_figures(results["cases"][0])
    assert first.throughput == pytest.approx((48.0, 49.0, 50.0))
    assert first.steady == pytest.approx(49.0, abs=1)  # the per-second counts, last second left out
    assert first.created_per_s == pytest.approx(1200.0)
    assert first.nodes_used == (10, 10, 10)
    line = records.summary_line(results["cases"][0])
    assert line.startswith("default-scheduler") and "120 pods (created 1200/s)" in line
    rows = records.table(results)
    assert len(rows) == 2 + len(results["cases"])
    assert rows[2].startswith("| default-scheduler | 50/100 | basic | 120 (1200/s) | 48.0 / 49.0 / 50.0 |")
    assert rows[-1].endswith("| 8 / 8.5 / 9 |")
    said = records.recommendations(results, {"default-scheduler": 50.0, "custom-k8s-scheduler": 100.0})
    assert said[0].startswith("default-scheduler: the client-side limit sets the pace"), said
    assert said[1].startswith("custom-k8s-scheduler: qps 100 is as fast as any measured"), said


def test_plots_of_recorded_runs_are_written_as_pngs(tmp_path: Path) -> None:
    path = tmp_path / "scheduling.json"
    records.save(measured_results(), path)
    paths = write_plots(records.load(path), tmp_path / "plots")
    assert [p.name for p in paths] == [
        "throughput.png",
        "latency-cdf.png",
        "binpack.png",
        "lease-holder.png",
        "prometheus-rolling-change.png",
    ]
    for p in paths:
        width, height = _png_size(p)
        assert width >= 600 and height >= 150
