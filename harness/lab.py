"""The lab as the suites and benchmarks see it: its facts, `lab/lab.sh`, a lab of one's own while
they run (`own_lab`), the dev stack's config pointed at it, and polling."""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
# The suite and the benchmarks run their own lab, reset at their start and end; the user's lab
# (`make up`) is stopped meanwhile and brought back as it was, so the dev stack stays in step with it.
USER_LAB = ROOT / ".lab"
LAB = ROOT / ".lab-e2e"
MASTERS = ("master-1", "master-2", "master-3")


def facts() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((LAB / "facts.json").read_text())
    return data


def _lab(args: tuple[str, ...], timeout: float, lab_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "lab" / "lab.sh"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "KSCHED_LAB_DIR": str(lab_dir)},
    )


def lab(*args: str, timeout: float = 300, lab_dir: Path = LAB) -> str:
    """`lab/lab.sh <args>` on the suite's lab (or `lab_dir`); its output, or an error with its end."""
    out = _lab(args, timeout, lab_dir)
    if out.returncode != 0:
        raise RuntimeError(f"lab/lab.sh {' '.join(args)} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return out.stdout


def lab_is_up(lab_dir: Path) -> bool:
    """API server ready and every master reachable."""
    return lab_dir.is_dir() and _lab(("status",), 120, lab_dir).returncode == 0


@contextlib.contextmanager
def own_lab() -> Iterator[str]:
    """The suite's (or a benchmark's) own lab, reset at start and end; the user's lab (`make up`'s)
    is stopped meanwhile, its cluster and disks kept, and brought back if it was up. Every lab tool
    started meanwhile (KSCHED_LAB_DIR) works on it. Yields the output of `lab up`."""
    user_lab_was_up = lab_is_up(USER_LAB)
    if USER_LAB.is_dir():
        lab("down", lab_dir=USER_LAB, timeout=300)
    before = os.environ.get("KSCHED_LAB_DIR")
    os.environ["KSCHED_LAB_DIR"] = str(LAB)
    try:
        lab("reset", timeout=300)
        yield lab("up", timeout=1800)
    finally:
        try:
            lab("reset", timeout=300)  # raises: the user's lab stays down (one bridge, one lab)
            if user_lab_was_up:
                lab("up", lab_dir=USER_LAB, timeout=1800)
        finally:
            if before is None:
                os.environ.pop("KSCHED_LAB_DIR", None)
            else:
                os.environ["KSCHED_LAB_DIR"] = before


def master_ip(master: str) -> str:
    return str({m["name"]: m["ip"] for m in facts()["masters"]}[master])


def pause_image() -> str:
    """The pause image the lab built and imported into every node."""
    return str(next(i for i in facts()["images"] if "/pause:" in i))


def healthz(ip: str, timeout: float = 1.0) -> bool:
    """A master's kube-scheduler answers /healthz "ok" (its serving certificate checked)."""
    ctx = ssl.create_default_context(cafile=str(LAB / "pki" / "ca.crt"))
    try:
        with urllib.request.urlopen(f"https://{ip}:10259/healthz", context=ctx, timeout=timeout) as r:
            return bool(r.read() == b"ok")
    except (OSError, ssl.SSLError):
        return False


def secure_get(ip: str, path: str, context: ssl.SSLContext, timeout: float = 10) -> tuple[int, str]:
    """GET https://<ip>:10259<path>, a scheduler's secure port: (status, body), an error's too."""
    try:
        with urllib.request.urlopen(f"https://{ip}:10259{path}", context=context, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def dev_config() -> dict[str, Any]:
    """The dev stack's config with lab paths made absolute (the scratch project is elsewhere), at
    whatever version the lab runs (`K8S_VERSION=1.36.3 make test`)."""
    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    cfg = {k.split(":", 1)[1]: v for k, v in doc.items()}

    def absolute(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(".lab/"):
            return str(LAB / value.removeprefix(".lab/"))
        if isinstance(value, dict):
            return {k: absolute(v) for k, v in value.items()}
        if isinstance(value, list):
            return [absolute(v) for v in value]
        return value

    out = {k: absolute(v) for k, v in cfg.items()}
    out["kubernetesVersion"] = facts()["k8s_version"].removeprefix("v")
    return out


def write_figures(name: str, figures: Any, indent: int = 2) -> Path:
    """Measured figures, for the README: .bench/<name>.json."""
    out = ROOT / ".bench" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=indent) + "\n")
    return out


def poll(fn: Callable[[], bool], timeout: float, interval: float = 0.1, what: str = "condition") -> float:
    """Seconds until fn() is true; an AssertionError naming `what` after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if fn():
            return time.monotonic() - start
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")
