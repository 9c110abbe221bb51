"""Real kube-scheduler binaries for tests: found in (or built into) the cache by version, and a
config loaded the way the scheduler loads it at start (`--config F --write-config-to OUT` runs
option validation and the plugin constructors, needs a syntactically valid kubeconfig, no server)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import yaml

from tests.support import token_kubeconfig

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("KSCHED_CACHE") or Path.home() / ".cache" / "ksched")
# The newest patch of each supported minor the Go module proxy serves complete (v1.31.14's
# k8s.io/kube-scheduler staging module is refused: 403, so 1.31 is v1.31.13).
NEWEST_PATCH = {
    29: "v1.29.15",
    30: "v1.30.14",
    31: "v1.31.13",
    32: "v1.32.13",
    33: "v1.33.13",
    34: "v1.34.4",
    35: "v1.35.4",
    36: "v1.36.3",
    37: "v1.37.2",
}
_KUBECONFIG = token_kubeconfig("https://127.0.0.1:1", "not-used")


def kube_scheduler(version: str) -> Path:
    """The kube-scheduler of `version` ("v1.37.2"), built by lab/build.sh when missing."""
    binary = CACHE / "k8s" / version / "bin" / "kube-scheduler"
    if not binary.exists():
        env = {**os.environ, "K8S_VERSION": version, "KSCHED_CACHE": str(CACHE)}
        subprocess.run(["bash", str(ROOT / "lab" / "build.sh"), "kube-scheduler"], env=env, check=True)
    return binary


def load(binary: Path, config_text: str) -> subprocess.CompletedProcess[str]:
    """Start `binary` on the config as far as it gets without a server. The kubeconfig the config
    names lives on a host; a throwaway one takes its place (nothing else of the config changes)."""
    with tempfile.TemporaryDirectory(prefix="ksched-load-") as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(_KUBECONFIG))
        doc = yaml.safe_load(config_text)
        doc.setdefault("clientConnection", {})["kubeconfig"] = str(kubeconfig)
        (Path(tmp) / "config.yaml").write_text(yaml.safe_dump(doc))
        return subprocess.run(
            [str(binary), f"--config={tmp}/config.yaml", f"--write-config-to={tmp}/out.yaml"],
            capture_output=True,
            text=True,
            timeout=60,
        )


def upstream_facts(version: str) -> dict[str, object]:
    """tools/upstream built against `version` and run: its system:kube-scheduler role under
    default gates and every gate's default."""
    import json

    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "k8s-upstream.sh"), version],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KSCHED_CACHE": str(CACHE)},
    )
    facts: dict[str, object] = json.loads(
        subprocess.run([out.stdout.strip()], capture_output=True, check=True).stdout
    )
    return facts


def module_source(version: str) -> Path:
    """The k8s.io/kubernetes module of `version` in the Go module cache (the build put it there)."""
    return CACHE / "go" / "mod" / "k8s.io" / f"kubernetes@{version}"
