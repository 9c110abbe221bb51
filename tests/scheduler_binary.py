"""Real kube-scheduler binaries for tests: found in (or built into) the cache by version, and a
config loaded the way the scheduler loads it at start (`--config F --write-config-to OUT` runs
option validation and the plugin constructors, needs a syntactically valid kubeconfig, no server)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("KSCHED_CACHE") or Path.home() / ".cache" / "ksched")
_KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
    "users": [{"name": "u", "user": {"token": "not-used"}}],
    "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "c",
}


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
