"""Prometheus as the suites and benchmarks see it: the pinned binaries (built by the lab when
missing), the lab's Prometheus started on a stack's monitoring outputs, and its HTTP API."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from harness.lab import LAB, ROOT, lab, poll
from scripts.monitoring import write_bundle


@cache
def binaries() -> Path:
    """The directory of the pinned prometheus and promtool (`lab/lab.sh prometheus install`
    builds them into the cache when missing: minutes, cold)."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "lab" / "lab.py"), "prometheus", "install"],
        stdout=subprocess.PIPE,
        text=True,
        timeout=3600,
        check=True,
    )
    return Path(out.stdout.strip().splitlines()[-1])


def promtool() -> Path:
    return binaries() / "promtool"


@dataclass(frozen=True)
class Prometheus:
    url: str

    def _get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as r:
            body = json.loads(r.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant vector: [{"metric": {...}, "value": [t, "v"]}]."""
        params = {"query": expr} | ({"time": f"{at:.3f}"} if at is not None else {})
        result: list[dict[str, Any]] = self._get("/api/v1/query", **params)["result"]
        return result

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """A range matrix: [{"metric": {...}, "values": [[t, "v"], ...]}]."""
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        result: list[dict[str, Any]] = self._get("/api/v1/query_range", **params)["result"]
        return result

    def alerts(self, name: str, state: str = "firing") -> list[dict[str, str]]:
        """The labels of each alert `name` in `state` (pending, firing)."""
        return [a["labels"] for a in self.active(name) if a["state"] == state]

    def active(self, name: str) -> list[dict[str, Any]]:
        """Each pending or firing alert `name` as the API gives it ({"labels", "state", "activeAt":
        when its expression first held, "value", ...})."""
        found: list[dict[str, Any]] = self._get("/api/v1/alerts")["alerts"]
        return [a for a in found if a["labels"]["alertname"] == name]

    def targets(self) -> list[dict[str, Any]]:
        active: list[dict[str, Any]] = self._get("/api/v1/targets", state="active")["activeTargets"]
        return active

    def wait(self, what: str, condition: Callable[[], bool], timeout: float, interval: float = 1.0) -> float:
        """Seconds until `condition()` holds; an AssertionError naming `what` after `timeout`."""
        return poll(condition, timeout, interval, what)


def start(outputs: Mapping[str, Any], lab_dir: Path = LAB) -> Prometheus:
    """The lab's Prometheus (`lab/lab.sh prometheus start`) on the files a stack's outputs hold:
    the stack's scrape configuration, rules and scraper identity, nothing of the test's own."""
    write_bundle(outputs, lab_dir / "prometheus" / "config")
    url = lab("prometheus", "start", timeout=3600, lab_dir=lab_dir).strip().splitlines()[-1]
    return Prometheus(url)
