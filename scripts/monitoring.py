"""The files a Prometheus needs to scrape both schedulers, from a stack's outputs (docs/monitoring.md):

    python -m scripts.monitoring STACK DIR    writes DIR/prometheus.yml, the rules and pki/ (the
                                              reader's key 0600), from `pulumi stack output`
    python -m scripts.monitoring --lab STACK  the same into the lab's .lab/prometheus/config, then
                                              starts (or reloads) the lab's Prometheus on them;
                                              nothing when the stack has no monitoring

`make up` and `make prometheus` run the second.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.render.monitoring import bundle  # noqa: E402

# lab/ksched_lab/prometheus.py's CONFIG_DIR for the user's lab (the stack's files, its config)
LAB_CONFIG = Path(os.environ.get("KSCHED_LAB_DIR", ROOT / ".lab")) / "prometheus" / "config"


def bundle_files(outputs: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """{path: (mode, content)} of the bundle, from the stack's outputs (values, secrets shown)."""
    if "monitoring" not in outputs:
        raise LookupError("the stack exports no monitoring outputs: set monitoring.enabled and run up")
    files: dict[str, str] = dict(outputs["monitoring"]["files"])
    reader = next(Path(p).stem for p in files if p.startswith("pki/") and p != "pki/ca.crt")
    layout = bundle(reader)
    files[layout["key"].path] = outputs["monitoringReaderKey"]
    modes = {f.path: f.mode for f in layout.values()}
    return {path: (modes[path], text) for path, text in files.items()}


def write_bundle(outputs: Mapping[str, Any], directory: Path) -> list[Path]:
    """Every file of the bundle below `directory`, each replaced whole (a reader of the directory
    never sees half a file), the key never readable by others."""
    written = []
    for path, (mode, text) in sorted(bundle_files(outputs).items()):
        dst = directory / path
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.")
        try:
            os.fchmod(fd, int(mode, 8))
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, dst)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(dst)
    return written


def main(argv: list[str]) -> int:
    lab = argv[:1] == ["--lab"]
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    from components.secrets import passphrase
    from plumbing.project import DEV_PASSPHRASE, LOCAL_STACKS
    from scripts.stack import select

    name = argv[1] if lab else argv[0]
    directory = LAB_CONFIG if lab else Path(argv[1])
    if name in LOCAL_STACKS and passphrase() is None:
        os.environ["PULUMI_CONFIG_PASSPHRASE"] = DEV_PASSPHRASE  # documented, non-secret (README)
    outputs = {k: v.value for k, v in select(name).outputs().items()}
    if lab and "monitoring" not in outputs:
        print(f"==> {name}: no monitoring outputs (monitoring.enabled is off): no Prometheus started")
        return 0
    try:
        written = write_bundle(outputs, directory)
    except LookupError as e:
        print(f"==> {name}: {e}", file=sys.stderr)
        return 1
    print(f"==> {name}: {len(written)} files in {directory} ({', '.join(p.name for p in written)})")
    if lab:
        return subprocess.run(["bash", str(ROOT / "lab" / "lab.sh"), "prometheus", "start"]).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
