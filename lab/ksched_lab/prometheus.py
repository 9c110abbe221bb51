"""`lab/lab.sh prometheus start|stop|status|install`: a real Prometheus for the lab, scraping both
schedulers with the stack's scraper identity (docs/monitoring.md).

It runs the files the stack made (its `monitoring` outputs): `make prometheus` (python -m
scripts.monitoring) writes them to `.lab/prometheus/config`, then starts it. `start` checks them
with promtool first, starts Prometheus (the pinned build, prometheus_build.py) on 127.0.0.1, or has
a running one reload them; `lab down` stops it with everything else. Its data (.lab/prometheus/data)
stays, like the cluster's.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from ksched_lab.prometheus_build import PROMETHEUS, PROMTOOL, RELEASE, install
from ksched_lab.settings import LAB, LOGS
from ksched_lab.util import die, log, read_pid, running_as, start, stop_pid, tail

HOST = "127.0.0.1"
PORT = int(os.environ.get("KSCHED_PROMETHEUS_PORT", "19090"))
URL = f"http://{HOST}:{PORT}"
DIR = LAB / "prometheus"
CONFIG_DIR = DIR / "config"
CONFIG = CONFIG_DIR / "prometheus.yml"
DATA = DIR / "data"
NAME = "prometheus"
START_TIMEOUT_S = 60.0


def argv() -> list[str]:
    return [
        str(PROMETHEUS),
        f"--config.file={CONFIG}",
        f"--storage.tsdb.path={DATA}",
        f"--web.listen-address={HOST}:{PORT}",
        "--web.enable-lifecycle",  # POST /-/reload: new files from the stack without a restart
        "--storage.tsdb.retention.time=15d",
    ]


def _get(path: str, timeout: float = 3.0) -> bytes | None:
    try:
        with urllib.request.urlopen(URL + path, timeout=timeout) as r:
            body: bytes = r.read()
            return body
    except (OSError, urllib.error.URLError):
        return None


def _ready() -> bool:
    return _get("/-/ready") is not None


def cmd_start() -> None:
    install()
    if not CONFIG.exists():
        die(
            f"no Prometheus configuration in {CONFIG_DIR}: `make prometheus` writes the stack's "
            "(python -m scripts.monitoring STACK DIR, then lab/lab.sh prometheus start)"
        )
    check = subprocess.run(
        [str(PROMTOOL), "check", "config", str(CONFIG)], capture_output=True, text=True, timeout=60
    )
    if check.returncode != 0:
        die(f"promtool check config {CONFIG} failed:\n{check.stdout}{check.stderr}")
    DATA.mkdir(parents=True, exist_ok=True)
    pid = running_as(NAME, argv())
    if pid is not None:
        req = urllib.request.Request(URL + "/-/reload", method="POST")
        with urllib.request.urlopen(req, timeout=30):
            pass
        log(f"Prometheus {RELEASE} (pid {pid}) reloaded {CONFIG}")
    else:
        old = read_pid(NAME)
        if old is not None:
            stop_pid(old, NAME)
        pid = start(NAME, argv())
        logfile = LOGS / f"{NAME}.log"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _ready():
            if read_pid(NAME) is None or time.monotonic() > deadline:
                die(f"Prometheus did not become ready; last lines of {logfile}:\n{tail(logfile)}")
            time.sleep(0.5)
        log(f"Prometheus {RELEASE} (pid {pid}) on {URL}, data {DATA}, log {logfile}")
    print(URL, flush=True)


def cmd_stop() -> None:
    pid = read_pid(NAME)
    if pid is not None:
        log(f"stopping Prometheus (pid {pid})")
        stop_pid(pid, NAME, timeout=30)


def cmd_status() -> int:
    """0 when Prometheus runs and every target is up; prints each target's health."""
    pid = read_pid(NAME)
    print(f"Prometheus {RELEASE}: {f'pid {pid}' if pid else 'not running'}; {URL}; config {CONFIG}")
    body = _get("/api/v1/targets?state=active") if pid else None
    if body is None:
        return 1
    targets = json.loads(body)["data"]["activeTargets"]
    for t in sorted(targets, key=lambda t: (t["labels"].get("job", ""), t["labels"].get("instance", ""))):
        labels = t["labels"]
        error = f" ({t['lastError']})" if t.get("lastError") else ""
        print(f"  {labels.get('job', '?'):<24} {labels.get('instance', '?'):<22} {t['health']}{error}")
    return 0 if targets and all(t["health"] == "up" for t in targets) else 1


def main(command: str) -> int:
    if command == "install":
        print(Path(install()))
        return 0
    if command == "start":
        cmd_start()
        return 0
    if command == "stop":
        cmd_stop()
        return 0
    return cmd_status()
