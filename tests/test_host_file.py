"""The one file-writing step, run for real on a local directory (as root, like on a master)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from components.host_file import FileSpec, delete_script, write_script

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sets owners like on a master (root)")


def write(spec: FileSpec, content: str) -> None:
    subprocess.run(
        ["sh", "-c", write_script(spec)], input=content, text=True, check=True, capture_output=True
    )


def test_writes_keep_the_running_version_until_the_service_is_healthy(tmp_path: Path) -> None:
    dst = tmp_path / "kube-scheduler.yaml"
    prev = tmp_path / "kube-scheduler.yaml.ksched-prev"
    spec = FileSpec(str(dst), "0640", "root", "root")
    write(spec, "v1")
    assert dst.read_text() == "v1" and not prev.exists()
    assert oct(dst.stat().st_mode & 0o777) == "0o640"
    # the same content again: not replaced (same inode and time), nothing left behind
    before = dst.stat()
    write(spec, "v1")
    after = dst.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kube-scheduler.yaml"]
    # a new version: the running one is kept for a rollback...
    write(spec, "v2")
    assert (dst.read_text(), prev.read_text()) == ("v2", "v1")
    # ...and stays the kept one until a healthy restart clears it, however many writes come
    write(spec, "v3")
    assert (dst.read_text(), prev.read_text()) == ("v3", "v1")
    subprocess.run(["sh", "-c", delete_script(spec)], check=True)
    assert list(tmp_path.iterdir()) == []
