"""The Prometheus Operator's ServiceMonitor CRD, made the way the operator's own build makes it:
controller-gen (sigs.k8s.io/controller-tools) run over the operator's API types
(github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring). The module proxy serves
both; it refuses the operator's main module, whose example/ directory holds the generated copy.

The lab serves the CRD so that the stack's detection finds the kind and the API server validates
the ServiceMonitor the stack makes against the operator's own schema. It is the CRD only: no
operator runs here, so nothing turns the ServiceMonitor into a scrape configuration (docs/monitoring.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

from ksched_lab.settings import CACHE
from ksched_lab.util import go_env, tail

API_MODULE = "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring"
API_VERSION = "v0.95.2"
GEN_MODULE = "sigs.k8s.io/controller-tools"
GEN_VERSION = "v0.23.0"
OUT = CACHE / "prometheus-operator" / API_VERSION
CRD = OUT / "monitoring.coreos.com_servicemonitors.yaml"
CONTROLLER_GEN = CACHE / "controller-tools" / GEN_VERSION / "controller-gen"
LOG = CACHE / "logs" / "build-operator-crds.log"


def say(msg: str) -> None:
    print(f"==> operator-crds: {msg}", file=sys.stderr, flush=True)


def fail(msg: str) -> NoReturn:
    print(f"operator-crds: ERROR: {msg}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    with open(LOG, "a") as log:
        log.write("$ " + " ".join(argv) + "\n")
        log.flush()
        done = subprocess.run(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    rc = done.returncode
    if rc != 0:
        fail(f"{argv[0]} {argv[1]} failed (rc={rc}); last lines of {LOG}:\n{tail(LOG)}")


def _controller_gen() -> Path:
    if os.access(CONTROLLER_GEN, os.X_OK):
        return CONTROLLER_GEN
    say(f"building controller-gen {GEN_VERSION} ({GEN_MODULE}); log {LOG}")
    gobin = CONTROLLER_GEN.parent
    gobin.mkdir(parents=True, exist_ok=True)
    env = go_env("-buildvcs=false", GOWORK="off", GOBIN=str(gobin))
    _run(["go", "install", "-trimpath", f"{GEN_MODULE}/cmd/controller-gen@{GEN_VERSION}"], gobin, env)
    return CONTROLLER_GEN


def install() -> Path:
    """The ServiceMonitor CRD in the cache, generated unless it is there; returns its path."""
    if CRD.is_file():
        return CRD
    LOG.parent.mkdir(parents=True, exist_ok=True)
    LOG.write_text("")
    gen = _controller_gen()
    env = go_env("-mod=mod -buildvcs=false", GOWORK="off")
    say(f"generating the CRDs of {API_MODULE}@{API_VERSION}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _run(["go", "mod", "download", "-json", f"{API_MODULE}@{API_VERSION}"], work, env)
        src = Path(env["GOMODCACHE"]) / f"{API_MODULE}@{API_VERSION}"
        # a writable copy: controller-gen loads the packages from the module's own go.mod
        shutil.copytree(src, work / "api")
        for p in (work / "api").rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        out = work / "crds"
        _run([str(gen), "crd:crdVersions=v1", "paths=./v1/...", f"output:crd:dir={out}"], work / "api", env)
        made = out / CRD.name
        if not made.is_file():
            fail(f"controller-gen made no {CRD.name} (made: {sorted(p.name for p in out.glob('*'))})")
        OUT.mkdir(parents=True, exist_ok=True)
        tmp_crd = CRD.with_suffix(".tmp")
        shutil.copyfile(made, tmp_crd)
        os.replace(tmp_crd, CRD)
    say(f"ServiceMonitor CRD: {CRD}")
    return CRD


def main(action: str) -> int:
    if action == "install":
        print(install())
        return 0
    fail(f"unknown action {action!r} (install)")
