"""Team use (issue: team use), in the lab, with the state on the project's S3-compatible store:

- two operators, each in a checkout of their own (clones of one origin, each with its own git
  identity), deploy the same stack: while one's `up` runs, the other's is refused, naming the
  process that holds the lock; the state afterwards is the first one's, intact; `pulumi stack
  history` lists every update with the commit and the author it ran;
- a stack exported, its state removed from the store and imported again: `up` changes nothing;
- the state lost entirely (stack, history and backups removed from the store): a new stack of the
  same name and config takes back what is its own (the cluster objects with its owner annotation,
  the masters with its owner record and claims) and converges, one master restarting at a time.

What the operators run is what `make up STACK=team` runs once the lab is up: `source
scripts/env.sh team`, then `python -m scripts.stack up team`, in their checkout, with the store's
exports and the stack's own passphrase file. The store is started for this module
(harness.state_store; a machine without its binary builds it first) and stopped at the end. The
origin is a snapshot of this working tree (tracked and untracked files, not the ignored ones):
the code the other lab suites run.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.kube import Kube
from harness.lab import MASTERS, ROOT, dev_config
from harness.ssh import ssh
from harness.stacks import cli_of
from harness.state_store import keys, state_store
from harness.watch import RELEASE_FAILOVER_BOUND_S, Monitor, ServiceWatch
from plumbing.project import PROJECT

pytestmark = pytest.mark.lab

STACK = "team"
OWNER = f"{PROJECT}/{STACK}"
STATE = "/var/lib/kube-scheduler-pulumi"
# Pulumi's marker of a secret value in a state file (sdk/go/common/resource/sig)
SECRET_SIG = "4dabf18193072939515e22adb298388d"
# The collections the in-cluster path writes to (README: what the stack owns)
COLLECTIONS = (
    "/api/v1/serviceaccounts",
    "/api/v1/configmaps",
    "/api/v1/pods",
    "/apis/apps/v1/deployments",
    "/apis/policy/v1/poddisruptionbudgets",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "/apis/rbac.authorization.k8s.io/v1/rolebindings",
)


class Operator:
    """One person's checkout of the repository, with their git identity and the team's exports."""

    def __init__(self, name: str, origin: Path, where: Path, env: dict[str, str]) -> None:
        self.name = name
        self.dir = where
        subprocess.run(["git", "clone", "-q", str(origin), str(where)], check=True, timeout=60)
        self.git("config", "user.name", name)
        self.git("config", "user.email", f"{name.split()[0].lower()}@example.test")
        # the checkout's virtualenvs are the repository's (make setup's), kept out of git status
        for venv in (".venv", "policy/.venv"):
            (where / venv).symlink_to(ROOT / venv)
        with (where / ".git" / "info" / "exclude").open("a") as f:
            f.write("/.venv\n/policy/.venv\n")
        self.env = env

    def git(self, *args: str) -> str:
        out = subprocess.run(
            ["git", *args], cwd=self.dir, capture_output=True, text=True, timeout=60, check=True
        )
        return out.stdout.strip()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def argv(self, *args: str) -> list[str]:
        """A command in this checkout's shell: `source scripts/env.sh team` first."""
        return ["bash", "-c", f'source scripts/env.sh {STACK} && exec "$@"', "bash", *args]

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), cwd=self.dir, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def pulumi(self, *args: str) -> str:
        out = self.run("pulumi", *args)
        # never echo stdout: it may be a state with secrets shown
        assert out.returncode == 0, (
            f"pulumi {args[0]} {args[1] if len(args) > 1 else ''}: {out.stderr[-2000:]}"
        )
        return out.stdout

    def start_up(self) -> subprocess.Popen[str]:
        """`make up STACK=team` after lab-up, as a process of its own (its output merged)."""
        return subprocess.Popen(
            self.argv("python", "-m", "scripts.stack", "up", STACK),
            cwd=self.dir,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def up(self) -> tuple[int, str]:
        proc = self.start_up()
        out, _ = proc.communicate(timeout=900)
        return proc.returncode, out

    def commit(self, message: str) -> str:
        self.git("commit", "-qam", message)
        self.git("push", "-q", "origin", "HEAD:main")
        return self.head()

    def export(self) -> dict[str, Any]:
        """The stack's state with its secrets decrypted (held in memory only)."""
        doc: dict[str, Any] = json.loads(self.pulumi("stack", "export", "--show-secrets"))
        return doc


def resource_summary(output: str) -> dict[str, int]:
    """The counts of the last `Resources:` block Pulumi printed ({"created": 55} ...)."""
    blocks = output.split("\nResources:\n")
    assert len(blocks) > 1, output[-3000:]
    counts: dict[str, int] = {}
    for line in blocks[-1].splitlines():
        found = re.match(r"^\s+(?:[-+~]+\s+)?(\d+) (\w+)", line)
        if not found:
            break
        counts[found.group(2)] = int(found.group(1))
    return counts


def succeeded(result: tuple[int, str]) -> str:
    rc, out = result
    assert rc == 0 and "==> pulumi up: succeeded" in out, out[-4000:]
    return out


def by_urn(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in state["deployment"]["resources"]}


def _numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _masked(state: dict[str, dict[str, Any]], path: str) -> str:
    """The plaintext of the secret at a secret_digests path of `state` (by URN), key material
    masked: what a failure shows."""
    urn, _, rest = path.lstrip("/").partition("/")
    doc: Any = state.get(urn, {})
    for part in rest.split("/"):
        doc = doc[int(part)] if isinstance(doc, list) else (doc or {}).get(part)
    text = doc.get("plaintext", "") if isinstance(doc, dict) else str(doc)
    return re.sub(r"-----BEGIN[^-]*-----[^-]*-----END[^-]*-----", "<pem>", str(text))[:400]


def secret_digests(value: Any, where: str = "") -> dict[str, str]:
    """{path in the state: SHA-256 of the secret's plaintext} of every secret in `value`."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) is not None and "plaintext" in value:
            # the plaintext is JSON as the engine wrote it: compared as values, not as key order
            # (and numbers as numbers: a dynamic provider's outputs carry 22 as 22.0 after a create)
            try:
                plain = json.dumps(_numbers(json.loads(value["plaintext"])), sort_keys=True)
            except (TypeError, ValueError):
                plain = str(value["plaintext"])
            return {where: hashlib.sha256(plain.encode()).hexdigest()}
        return {
            k: v for key, item in value.items() for k, v in secret_digests(item, f"{where}/{key}").items()
        }
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in secret_digests(item, f"{where}/{i}").items()}
    return {}


def ours_in_cluster(kube: Kube) -> dict[str, dict[str, Any]]:
    """Every object the cluster says is this stack's: {kind/namespace/name: uid and generation}."""
    label = "app.kubernetes.io/managed-by=kube-scheduler-pulumi"
    found = {}
    for collection in COLLECTIONS:
        for obj in kube.items(f"{collection}?labelSelector={label}"):
            meta = obj["metadata"]
            if (meta.get("annotations") or {}).get("kube-scheduler-pulumi/owner") == OWNER:
                where = f"{collection.rsplit('/', 1)[1]}/{meta.get('namespace', '')}/{meta['name']}"
                found[where] = {"uid": meta["uid"], "generation": meta.get("generation")}
    return found


def master_records() -> dict[str, str]:
    """Each master's owner record and claims, as the host keeps them."""
    script = f"cat {STATE}/owner; cat {STATE}/claims/* | sort"
    return {m: ssh(m, script) for m in MASTERS}


def snapshot_repository(dest: Path) -> Path:
    """A bare origin holding this working tree as one commit (ignored files left out)."""
    seed = dest / "seed"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (seed / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, seed / rel)
    who = ["-c", "user.name=Working tree", "-c", "user.email=tree@example.test"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], [*who, "commit", "-qm", "this working tree"]):
        subprocess.run(["git", *args], cwd=seed, check=True, capture_output=True, timeout=120)
    origin = dest / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(origin)], check=True, timeout=120)
    return origin


def team_env(store: dict[str, str], passphrase_file: Path) -> dict[str, str]:
    """What each operator exports: the store's variables and the stack's own passphrase file (no
    other Pulumi, AWS or git setting of this process leaks in)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PULUMI_", "AWS_", "GIT_")) and k != "KSCHED_PROJECT_DIR"
    }
    return base | store | {"PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase_file)}


@pytest.fixture(scope="module")
def store(lab_up: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    start = time.monotonic()
    with state_store(tmp_path_factory.mktemp("state-store")) as exports:
        print(f"\nstate store up in {time.monotonic() - start:.1f}s")
        yield exports


@pytest.fixture(scope="module")
def operators(store: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Operator]]:
    """Alice and Bob, each in a checkout; Alice made the stack in the store and committed its
    config (the lab's dev config, nothing secret in it); Bob pulled it. Destroyed at the end."""
    tmp = tmp_path_factory.mktemp("team")
    origin = snapshot_repository(tmp)
    passphrase = tmp / "team.passphrase"  # the stack's own, handed to each operator out of band
    passphrase.write_text(secrets.token_urlsafe(24) + "\n")
    passphrase.chmod(0o600)
    env = team_env(store, passphrase)
    alice = Operator("Alice Operator", origin, tmp / "alice", env)
    bob = Operator("Bob Operator", origin, tmp / "bob", env)
    alice.pulumi("stack", "init", STACK)
    stack_file = alice.dir / f"Pulumi.{STACK}.yaml"
    doc = yaml.safe_load(stack_file.read_text())  # the encryption salt of `stack init` is kept
    doc["config"] = {f"{PROJECT}:{k}": v for k, v in dev_config().items()}
    stack_file.write_text(yaml.safe_dump(doc))
    alice.git("add", stack_file.name)
    alice.commit(f"stack {STACK}: the lab, both paths")
    bob.git("pull", "-q", "--ff-only")
    try:
        yield [alice, bob]
    finally:
        out = alice.run("python", "-m", "scripts.stack", "destroy", STACK, timeout=900)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        alice.pulumi("stack", "rm", "--yes", "--remove-backups", STACK)


@pytest.fixture
def converged(operators: list[Operator]) -> list[Operator]:
    """The team stack at the origin's newest commit, deployed and converged (a no-op when the
    test before left it so)."""
    for op in operators:
        op.git("pull", "-q", "--ff-only")
    succeeded(operators[0].up())
    return operators


def run_during(proc: subprocess.Popen[str], marker: str, during: Callable[[int], Any]) -> tuple[str, Any]:
    """Reads `proc`'s output; at the first line matching `marker`, calls `during(pid of its pulumi
    CLI)` while `proc` still runs. (all of proc's output, what `during` returned)"""
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if re.search(marker, line):
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert seen.wait(300), "".join(lines)[-3000:]
    cli = cli_of(proc)
    assert cli is not None, "no pulumi CLI under the first operator's run"
    result = during(cli)
    assert proc.poll() is None, "the first run ended before the second was refused: nothing was concurrent"
    proc.wait(timeout=900)
    reader.join(timeout=30)
    return "".join(lines), result


def test_two_operators_one_stack(operators: list[Operator], store: dict[str, str]) -> None:
    alice, bob = operators
    first = alice.head()
    created = succeeded(alice.up())
    assert resource_summary(created).get("created", 0) >= 50, created[-3000:]
    before = alice.export()

    # Alice rolls a change out; Bob, with the same stack file pulled, runs `up` while hers runs
    alice.pulumi("config", "set", "--path", "bareMetal.qps", "60")
    second = alice.commit("masters: qps 60")
    bob.git("pull", "-q", "--ff-only")

    def bob_up(holder: int) -> tuple[int, int, str]:
        return (holder, *bob.up())

    out, (holder, rc, refused) = run_during(alice.start_up(), r"\bupdating\b", bob_up)
    assert "==> pulumi up: succeeded" in out, out[-4000:]
    assert rc != 0, refused[-3000:]
    lock = re.search(r"currently locked by .*?created by (\S+)@(\S+) \(pid (\d+)\)", refused, re.S)
    assert lock, refused[-3000:]
    assert lock.groups() == (pwd.getpwuid(os.getuid()).pw_name, socket.gethostname(), str(holder))
    assert "another update holds the stack's lock" in refused  # what scripts.stack makes of it
    # the lock went with the run that held it, and nothing of it is listed any more
    assert keys(store, ".pulumi/locks/") == []

    # the state is Alice's, intact: the same resources (none replaced), every secret unchanged,
    # nothing pending, and it agrees with the program and the lab as Bob sees them
    after = alice.export()
    b, a = by_urn(before), by_urn(after)
    assert set(a) == set(b)
    for urn, r in a.items():
        assert (r["type"], r.get("id"), r.get("parent")) == (
            b[urn]["type"],
            b[urn].get("id"),
            b[urn].get("parent"),
        ), urn
    # by URN: the checkpoint's order of resources may change from one update to the next
    # every secret the program gives (the resources' inputs: keys, kubeconfig) unchanged; outputs
    # are what Alice's update made (the service step's record of the new files among them)
    digests = {k: v for k, v in secret_digests(b).items() if "/inputs/" in k}
    now = {k: v for k, v in secret_digests(a).items() if "/inputs/" in k}
    changed = sorted(k for k in digests.keys() | now.keys() if digests.get(k) != now.get(k))
    assert digests and not changed, [(k, _masked(b, k), _masked(a, k)) for k in changed[:2]]
    assert not after["deployment"].get("pending_operations")
    preview = bob.run("pulumi", "preview", "--expect-no-changes", "--policy-pack", "policy", timeout=600)
    assert preview.returncode == 0, preview.stdout[-3000:] + preview.stderr[-2000:]
    for m in MASTERS:
        config = yaml.safe_load(ssh(m, "cat /etc/kubernetes/scheduler/kube-scheduler.yaml"))
        assert config["clientConnection"]["qps"] == 60, m

    # Bob's own change, from his checkout
    bob.git("pull", "-q", "--ff-only")
    bob.pulumi("config", "set", "--path", "bareMetal.qps", "70")
    third = bob.commit("masters: qps 70")
    assert resource_summary(succeeded(bob.up())).get("updated", 0) > 0

    # history: every update (not the refused attempt), newest first, with who ran which commit
    history = json.loads(bob.pulumi("stack", "history", "--json"))
    ran = [
        (
            e["environment"].get("git.head"),
            e["environment"].get("git.author"),
            e["result"],
            e["environment"].get("git.dirty"),
        )
        for e in history
    ]
    assert ran == [
        (third, "Bob Operator", "succeeded", "false"),
        (second, "Alice Operator", "succeeded", "false"),
        (first, "Alice Operator", "succeeded", "false"),
    ], ran
    shown = bob.pulumi("stack", "history")
    assert "git.author: Bob Operator" in shown and "git.author: Alice Operator" in shown


def test_export_delete_import_then_up_changes_nothing(
    converged: list[Operator], store: dict[str, str], tmp_path: Path
) -> None:
    alice = converged[0]
    backup = tmp_path / f"{STACK}.json"
    backup.write_text(alice.pulumi("stack", "export"))  # secrets as ciphertext, as a backup keeps them
    checkpoint = f".pulumi/stacks/{PROJECT}/{STACK}.json"
    assert checkpoint in keys(store, ".pulumi/stacks/")
    alice.pulumi("stack", "rm", "--force", "--preserve-config", "--yes", STACK)
    assert checkpoint not in keys(store, ".pulumi/stacks/")
    assert alice.run("pulumi", "stack", "select", STACK).returncode != 0
    alice.pulumi("stack", "init", STACK)
    alice.pulumi("stack", "import", "--file", str(backup))
    assert set(resource_summary(succeeded(alice.up()))) == {"unchanged"}


def test_state_lost_entirely_is_taken_back_from_the_world(
    converged: list[Operator], store: dict[str, str], kube: Kube
) -> None:
    alice = converged[0]
    objects, records = ours_in_cluster(kube), master_records()
    assert objects and all(OWNER in r for r in records.values())
    alice.pulumi("stack", "rm", "--force", "--remove-backups", "--preserve-config", "--yes", STACK)
    # nothing of the stack is left in the store: no checkpoint, backup or history
    assert [k for k in keys(store) if f"/{PROJECT}/{STACK}" in k] == []
    alice.pulumi("stack", "init", STACK)  # the same name and config (Pulumi.team.yaml is in git)
    with ServiceWatch() as watch, Monitor(kube) as mon:
        start = time.monotonic()
        out = succeeded(alice.up())
        took = time.monotonic() - start
    print(
        f"\nstate lost: up took back the world in {took:.1f}s, {resource_summary(out)}; most masters down "
        f"{max(watch.most_down_at_once(), mon.max_down)}, longest leaderless {mon.longest_leaderless:.2f}s"
    )
    assert watch.sampled_every() <= 1.0
    assert watch.most_down_at_once() <= 1 and mon.max_down <= 1
    assert mon.longest_leaderless <= RELEASE_FAILOVER_BOUND_S
    # taken back, not made anew: the same objects (uid) at the same generation, the same records
    assert ours_in_cluster(kube) == objects
    assert master_records() == records
    assert set(resource_summary(succeeded(alice.up()))) == {"unchanged"}
