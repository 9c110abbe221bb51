"""The host scripts run for real in a scratch directory (what needs systemd runs on the lab's
masters: tests/e2e). Paths, state directory and claims all point into tmp_path."""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components import hostscripts
from tests.support import Pki, Run, as_raw, base_config, mutate, run_program, script_params

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sets owners like on a master (root)")


def run(name: str, params: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", hostscripts.script(name, params)], input=stdin, text=True, capture_output=True
    )


def stage(state: Path, claim: str, dst: Path, content: str, mode: str = "0640") -> str:
    params = {"STATE": str(state), "CLAIM": claim, "DST": str(dst), "MODE": mode, "OWNER_GROUP": "root:root"}
    out = run("stage", params, content)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def unstage(state: Path, claim: str, dst: Path) -> str:
    out = run("unstage", {"STATE": str(state), "CLAIM": claim, "DST": str(dst)})
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def check(dst: Path, state: Path, claim: str) -> str:
    return run("file_check", {"STATE": str(state), "CLAIM": claim, "DST": str(dst)}).stdout.strip()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_write_stages_beside_the_file_and_the_same_content_changes_nothing(tmp_path: Path) -> None:
    state, dst = tmp_path / "state", tmp_path / "kube-scheduler.yaml"
    nxt = Path(f"{dst}{hostscripts.NEXT}")
    assert stage(state, "a", dst, "v1") == f"staged {dst} (0640 root:root)"
    # nothing in place yet: the rollout puts it there; the check reads the staged version
    assert not dst.exists() and nxt.read_text() == "v1"
    assert oct(nxt.stat().st_mode & 0o777) == "0o640"
    assert check(dst, state, "a") == f"{sha('v1')} 640 root:root"
    nxt.rename(dst)  # what the rollout does
    before = dst.stat()
    assert stage(state, "a", dst, "v1", mode="0600").startswith("unchanged")
    after = dst.stat()
    # same content: owner and mode set, the file not replaced (same inode, same time)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert oct(after.st_mode & 0o777) == "0o600" and not nxt.exists()
    assert check(dst, state, "a") == f"{sha('v1')} 600 root:root"
    # a new version is staged; a version that returns to what is in place drops the staged one
    stage(state, "a", dst, "v2")
    assert nxt.read_text() == "v2" and check(dst, state, "a") == f"{sha('v2')} 640 root:root"
    stage(state, "a", dst, "v1")
    assert not nxt.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["kube-scheduler.yaml", "state"]


def test_a_file_the_step_does_not_claim_is_not_in_place(tmp_path: Path) -> None:
    """Our content at our path, but no claim of this step (our records were lost, a hand-made
    install of the same binary, another step's file): the step's check differs from what it
    expects, so the step writes it again and claims it, and its delete removes it later."""
    state, dst = tmp_path / "state", tmp_path / "kube-scheduler"
    assert check(dst, state, "a") == "absent"
    dst.write_text("binary")
    for claim in ("a", "other"):
        assert check(dst, state, claim) == f"unclaimed {dst}"
    stage(state, "other", dst, "binary")
    assert check(dst, state, "a") == f"unclaimed {dst}"
    assert check(dst, state, "other") == f"{sha('binary')} 640 root:root"
    stage(state, "a", dst, "binary")
    assert check(dst, state, "a") == f"{sha('binary')} 640 root:root"
    assert unstage(state, "a", dst) == f"removed {dst}" and not dst.exists()


def test_a_delete_removes_only_what_its_own_step_still_claims(tmp_path: Path) -> None:
    state, dst = tmp_path / "state", tmp_path / "kube-scheduler.kubeconfig"
    stage(state, "old-step", dst, "v1")
    Path(f"{dst}{hostscripts.NEXT}").rename(dst)
    # a replacement (renamed host, other backend) writes the same path under its own claim...
    stage(state, "new-step", dst, "v2")
    # ...so the old step's delete, which the engine runs after it, leaves the file alone
    assert unstage(state, "old-step", dst).endswith("left in place")
    assert dst.read_text() == "v1" and Path(f"{dst}{hostscripts.NEXT}").read_text() == "v2"
    # the step that holds it removes the file, its staged and kept versions, and its claim
    Path(f"{dst}{hostscripts.PREVIOUS}").write_text("v0")
    assert unstage(state, "new-step", dst) == f"removed {dst}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]
    assert list((state / "claims").iterdir()) == []


def test_an_uploaded_binary_is_staged_only_with_the_expected_sha256(tmp_path: Path) -> None:
    state, dst = tmp_path / "state", tmp_path / "kube-scheduler"
    uploaded = tmp_path / "kube-scheduler.upload"
    params = {"STATE": str(state), "CLAIM": "b", "DST": str(dst), "STAGED": str(uploaded)}
    uploaded.write_text("binary")
    bad = run("install_upload", params | {"SHA256": sha("other")})
    assert bad.returncode == 1 and f"SHA-256 mismatch for the uploaded {uploaded}" in bad.stderr
    assert not Path(f"{dst}{hostscripts.NEXT}").exists()
    good = run("install_upload", params | {"SHA256": sha("binary")})
    assert good.returncode == 0 and check(dst, state, "b") == f"{sha('binary')} 755 root:root"
    # run again with nothing uploaded (only the step changed): already staged, fine
    assert run("install_upload", params | {"SHA256": sha("binary")}).returncode == 0
    Path(f"{dst}{hostscripts.NEXT}").rename(dst)
    uploaded.write_text("binary")
    again = run("install_upload", params | {"SHA256": sha("binary")})
    assert again.returncode == 0 and "already installed" in again.stdout and not uploaded.exists()


def test_the_running_record_is_what_the_service_check_digests(tmp_path: Path) -> None:
    # the same bytes in Python (expected value of the check) and in the rollout (FILES as written)
    files = {str(tmp_path / "b"): sha("b"), str(tmp_path / "a"): sha("a")}
    record = hostscripts.running_record(files)
    assert record.splitlines() == [f"{sha('a')}  {tmp_path / 'a'}", f"{sha('b')}  {tmp_path / 'b'}"]
    (tmp_path / "running").write_text(record)
    shell = subprocess.run(
        ["sh", "-c", f"sha256sum < {tmp_path / 'running'} | cut -c1-16"], capture_output=True, text=True
    )
    assert hostscripts.running_digest(files) == f"running {shell.stdout.strip()}"


def test_a_directory_of_someone_else_is_reported(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    theirs, empty, ours = tmp_path / "theirs", tmp_path / "empty", tmp_path / "ours"
    for d in (theirs, empty, ours):
        d.mkdir()
    (theirs / "kube-scheduler.yaml").write_text("x")
    (ours / "kube-scheduler.yaml").write_text("x")
    (state / "dirs").write_text(f"{ours}\n")
    (tmp_path / "file").write_text("x")
    script = "".join(f"foreign_dir {d}\n" for d in (theirs, empty, ours, tmp_path / "file", tmp_path / "x"))
    out = subprocess.run(
        ["sh", "-c", hostscripts.inline(script, {"STATE": str(state)})], capture_output=True, text=True
    )
    assert out.stdout.splitlines() == [
        f"directory {theirs} (not empty, not created by this stack)",
        f"directory {tmp_path / 'file'} (exists and is not a directory)",
    ]


# ------------------------------------------------------------------ a replaced step's delete

_LIB_START = "# Shared by every host script"


def _rebased(script: str, root: Path) -> str:
    """The same script with its state and file paths moved below `root` (a scratch master)."""
    params = script_params(script)
    for key in ("STATE", "DST", "STAGED"):
        if key in params:
            params[key] = f"{root}{params[key]}"
    if "OWNER_GROUP" in params:
        params["OWNER_GROUP"] = "root:root"  # this machine has no kube-scheduler group
    body = script[script.index(_LIB_START) :]
    return "set -eu\n" + "".join(f"{k}={shlex.quote(v)}\n" for k, v in params.items()) + body


def _file_steps(r: Run, host: str) -> dict[str, dict[str, Any]]:
    steps = {}
    for res in r.recorder.resources:
        inputs = res.inputs
        create = inputs.get("create") or ""
        if res.name.startswith(f"masters-{host}-file-") and "DST" in script_params(create):
            steps[res.name] = inputs
    return steps


@pytest.mark.parametrize(
    ("change", "old", "new"),
    [
        ("another resourceBackend", {"resourceBackend": "plugins"}, {"resourceBackend": "builtin"}),
        ("a renamed host", {}, {"bareMetal.hosts.0.name": "control-1"}),
    ],
)
def test_a_replaced_step_never_deletes_a_path_its_replacement_writes(
    pki: Pki, tmp_path: Path, change: str, old: dict[str, Any], new: dict[str, Any]
) -> None:
    """The engine's plan for a change that replaces every step of a host (other URNs): the new
    steps are created, then the old ones deleted. Played on a scratch master in that order, the old
    deletes leave every file the new steps wrote."""

    def program(changes: dict[str, Any]) -> Run:
        c = base_config(pki, hosts=1)
        for key, value in changes.items():
            c = mutate(c, key, value) if "." in key else c | {key: value}
        return run_program(as_raw(c))

    before, after = program(old), program(new)
    old_steps = _file_steps(before, "master-1")
    new_steps = _file_steps(after, "master-1" if "bareMetal.hosts.0.name" not in new else "control-1")
    assert len(old_steps) == len(new_steps) == 6
    assert not set(old_steps) & set(new_steps) or change == "another resourceBackend"
    for steps, content in ((old_steps, "old"), (new_steps, "new")):
        for inputs in steps.values():
            dst = tmp_path / script_params(inputs["create"])["DST"].lstrip("/")
            dst.parent.mkdir(parents=True, exist_ok=True)
            out = subprocess.run(["sh", "-c", _rebased(inputs["create"], tmp_path)], input=content, text=True,
                                 capture_output=True)  # fmt: skip
            assert out.returncode == 0, out.stderr
            Path(f"{dst}{hostscripts.NEXT}").replace(dst)  # the rollout puts it in place
    for inputs in old_steps.values():  # the engine deletes the replaced steps last
        out = subprocess.run(
            ["sh", "-c", _rebased(inputs["delete"], tmp_path)], capture_output=True, text=True
        )
        assert out.returncode == 0 and "left in place" in out.stdout, out.stdout + out.stderr
    for inputs in new_steps.values():
        dst = tmp_path / script_params(inputs["create"])["DST"].lstrip("/")
        assert dst.read_text() == "new", f"{change}: {dst} lost"
