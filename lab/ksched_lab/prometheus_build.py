"""Prometheus and promtool, pinned, built from the Go module proxy into the cache (the lab's
Prometheus and the tests' `promtool` both use these binaries).

Why this build: Debian bookworm's `prometheus` (2.42.0) is built without Kubernetes service
discovery, which the in-cluster job needs (`promtool check config` refuses `kubernetes_sd_configs`).
The Go module `github.com/prometheus/prometheus` is versioned v0.3MM.P for the release 3.MM.P
(its VERSION file); v0.316.0 is Prometheus 3.16.0 and its go.mod has no replace directive, so a
plain `go install pkg@version` builds it. Build tags: `remove_all_sd,enable_kubernetes_sd` keep
only Kubernetes discovery (file and HTTP discovery always stay); `netgo` for a static binary. The
version is stamped the way upstream's release build does (ldflags on prometheus/common/version).
The module zip carries no web UI assets: the binary serves the API, /metrics and no UI pages.
Licence: Apache-2.0.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import NoReturn

from ksched_lab.settings import CACHE
from ksched_lab.util import go_env, tail

MODULE = "github.com/prometheus/prometheus"
VERSION = "v0.316.0"
RELEASE = "3.16.0"  # what `prometheus --version` reports for it
TAGS = "netgo,remove_all_sd,enable_kubernetes_sd"
BIN = CACHE / "prometheus" / RELEASE / "bin"
PROMETHEUS = BIN / "prometheus"
PROMTOOL = BIN / "promtool"
LOG = CACHE / "logs" / "build-prometheus.log"
PROGRESS_EVERY_S = 15.0


def say(msg: str) -> None:
    # stderr: `install` prints only the binaries' directory on stdout
    print(f"==> prometheus: {msg}", file=sys.stderr, flush=True)


def fail(msg: str) -> NoReturn:
    print(f"prometheus: ERROR: {msg}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def _go_env(gobin: Path) -> dict[str, str]:
    # no -mod=mod: `go install pkg@version` refuses it
    return go_env("-buildvcs=false", GOWORK="off", GOBIN=str(gobin))


def reports_release(binary: Path) -> bool:
    """`binary --version` names the pinned release (a half-written build does not run)."""
    if not os.access(binary, os.X_OK):
        return False
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return re.search(rf"^\S+, version {re.escape(RELEASE)} ", out.stdout + out.stderr, re.M) is not None


def installed() -> bool:
    return reports_release(PROMETHEUS) and reports_release(PROMTOOL)


def _ldflags() -> str:
    v = "github.com/prometheus/common/version"
    stamp = {"Version": RELEASE, "Revision": VERSION, "Branch": VERSION, "BuildUser": "ksched"}
    return " ".join(["-s", "-w", *(f"-X {v}.{key}={value}" for key, value in stamp.items())])


def _build(gobin: Path) -> None:
    """`go install -v` of both commands, its output in LOG, a progress line every 15 s (module
    downloads and compiled packages so far): a cold build takes minutes."""
    argv = [
        "go",
        "install",
        "-v",
        "-trimpath",
        "-tags",
        TAGS,
        "-ldflags",
        _ldflags(),
        f"{MODULE}/cmd/prometheus@{VERSION}",
        f"{MODULE}/cmd/promtool@{VERSION}",
    ]
    LOG.parent.mkdir(parents=True, exist_ok=True)
    t0 = last = time.monotonic()
    downloads = packages = 0
    with open(LOG, "w") as log:
        log.write(" ".join(argv) + "\n")
        log.flush()
        proc = subprocess.Popen(
            argv, env=_go_env(gobin), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if line.startswith("go: downloading "):
                downloads += 1
            elif re.fullmatch(r"[\w.~/-]+\n", line):  # -v: one package path per line, as built
                packages += 1
            if time.monotonic() - last >= PROGRESS_EVERY_S:
                last = time.monotonic()
                say(f"{last - t0:4.0f}s: {downloads} modules downloaded, {packages} packages built")
        rc = proc.wait()
    if rc != 0:
        fail(f"go install failed (rc={rc}); last lines of {LOG}:\n{tail(LOG)}")
    say(f"built {packages} packages in {time.monotonic() - t0:.0f}s ({downloads} modules downloaded)")


def install() -> Path:
    """Build the pinned Prometheus and promtool into the cache unless they are there (cold, on
    this 2-core machine: see README); returns their directory."""
    if installed():
        return BIN
    say(f"building Prometheus {RELEASE} ({MODULE}@{VERSION}, tags {TAGS}) into {BIN}; log {LOG}")
    tmp = BIN.with_name("bin.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _build(tmp)
    if not (reports_release(tmp / "prometheus") and reports_release(tmp / "promtool")):
        fail(f"the built binaries in {tmp} do not report version {RELEASE}")
    shutil.rmtree(BIN, ignore_errors=True)
    os.replace(tmp, BIN)
    return BIN
