"""Test-side access to the lab: its facts, the API server (admin client cert), the masters over
SSH (pinned host keys), and a dev-like stack in a scratch project driven by the Automation API."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from components.stack import program
from tests.support import configure_stack, state_file_text

ROOT = Path(__file__).resolve().parents[2]
# The suite runs its own lab, reset at its start and end; the user's lab (`make up`) is stopped
# meanwhile and brought back as it was, so the dev stack stays in step with it.
USER_LAB = ROOT / ".lab"
LAB = ROOT / ".lab-e2e"
os.environ["KSCHED_LAB_DIR"] = str(LAB)  # for every lab tool a test or benchmark runs
PASSPHRASE = "e2e-test-passphrase"
MASTERS = ("master-1", "master-2", "master-3")
POLICY_PACKS = [str(ROOT / "policy")]


def timestamp(text: str) -> float:
    """Seconds since the epoch of an API time (RFC 3339, `Z`; MicroTime has microseconds)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


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
    is stopped meanwhile, its cluster and disks kept, and brought back if it was up. Yields the
    output of `lab up`."""
    user_lab_was_up = lab_is_up(USER_LAB)
    if USER_LAB.is_dir():
        lab("down", lab_dir=USER_LAB, timeout=300)
    try:
        lab("reset", timeout=300)
        yield lab("up", timeout=1800)
    finally:
        lab("reset", timeout=300)
        if user_lab_was_up:
            lab("up", lab_dir=USER_LAB, timeout=1800)


class Kube:
    """A minimal API client with the lab's admin certificate (kubectl is too slow to poll with)."""

    def __init__(self) -> None:
        kc = yaml.safe_load((LAB / "admin.kubeconfig").read_text())
        self._dir = Path(tempfile.mkdtemp(prefix="ksched-kube-"))
        user = kc["users"][0]["user"]
        cluster = kc["clusters"][0]["cluster"]
        for name, data in (
            ("crt", user["client-certificate-data"]),
            ("key", user["client-key-data"]),
            ("ca", cluster["certificate-authority-data"]),
        ):
            path = self._dir / name
            path.touch(mode=0o600)
            path.write_bytes(base64.b64decode(data))
        self.server = cluster["server"]
        self.ctx = ssl.create_default_context(cafile=str(self._dir / "ca"))
        self.ctx.load_cert_chain(str(self._dir / "crt"), str(self._dir / "key"))

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)

    def request(self, method: str, path: str, body: Any = None, timeout: float = 5) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            if e.code == 404 and method == "GET":
                return None
            raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:300]!r}") from None

    def request_patch(self, path: str, body: Any) -> Any:
        req = urllib.request.Request(self.server + path, data=json.dumps(body).encode(), method="PATCH")
        req.add_header("Content-Type", "application/merge-patch+json")
        with urllib.request.urlopen(req, context=self.ctx, timeout=5) as resp:
            return json.loads(resp.read() or b"null")

    def get(self, path: str, timeout: float = 5) -> Any:
        return self.request("GET", path, timeout=timeout)

    def lease(self, name: str, namespace: str = "kube-system") -> dict[str, Any] | None:
        lease: dict[str, Any] | None = self.get(
            f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        )
        return lease

    def holder(self, name: str, namespace: str = "kube-system") -> str:
        """The current, unexpired holder of a lease, or "" when nobody leads."""
        lease = self.lease(name, namespace)
        spec = (lease or {}).get("spec", {})
        holder = spec.get("holderIdentity") or ""
        renew = spec.get("renewTime")
        if not holder or not renew:
            return ""
        expires = timestamp(renew) + (spec.get("leaseDurationSeconds") or 15)
        return holder if time.time() < expires else ""

    def create_pod(self, name: str, namespace: str = "default", scheduler: str | None = None) -> None:
        spec: dict[str, Any] = {
            "containers": [
                {
                    "name": "pause",
                    "image": pause_image(),
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }
            ],
            "terminationGracePeriodSeconds": 0,
        }
        if scheduler:
            spec["schedulerName"] = scheduler
        self.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/pods",
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec},
        )

    def logs(self, namespace: str, pod: str) -> str:
        """The pod's log through the API server (and so the kubelet)."""
        req = urllib.request.Request(f"{self.server}/api/v1/namespaces/{namespace}/pods/{pod}/log")
        with urllib.request.urlopen(req, context=self.ctx, timeout=10) as resp:
            return str(resp.read().decode(errors="replace"))

    def pod(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        pod: dict[str, Any] | None = self.get(f"/api/v1/namespaces/{namespace}/pods/{name}")
        return pod

    def delete_pod(self, name: str, namespace: str = "default") -> None:
        try:
            self.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}?gracePeriodSeconds=0")
        except RuntimeError as e:
            if " 404 " not in str(e):
                raise

    def wait_bound(self, name: str, timeout: float, namespace: str = "default") -> tuple[str, float]:
        """(node, seconds since this call) once the pod is bound; raises after `timeout`."""
        start = time.monotonic()
        node = ""
        while time.monotonic() - start < timeout:
            pod = self.pod(name, namespace) or {}
            node = pod.get("spec", {}).get("nodeName") or ""
            if node:
                return node, time.monotonic() - start
            time.sleep(0.05)
        raise AssertionError(f"pod {namespace}/{name} not bound within {timeout}s")

    def scheduled_by(self, name: str, namespace: str = "default") -> list[str]:
        """Reporting controllers of the pod's Scheduled events."""
        events = self.get(
            f"/apis/events.k8s.io/v1/namespaces/{namespace}/events?fieldSelector=regarding.name%3D{name}"
        )
        return [
            e.get("reportingController") or e.get("deprecatedSource", {}).get("component", "")
            for e in (events or {}).get("items", [])
            if e.get("reason") == "Scheduled"
        ]


def pause_image() -> str:
    """The pause image the lab built and imported into every node."""
    return str(next(i for i in facts()["images"] if "/pause:" in i))


def ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _quantity(value: str) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


# kube-scheduler scores a container without requests as if it asked for this much
# (pkg/scheduler/util: DefaultMilliCPURequest, DefaultMemoryRequest).
_NONZERO = {"cpu": 0.1, "memory": 200 * 2**20}


def most_allocated_nodes(
    kube: Kube,
    exclude: frozenset[str] | set[str] = frozenset(),
    incoming: tuple[str, str] = ("10m", "16Mi"),
) -> set[str]:
    """The real nodes MostAllocated ranks first for a pod requesting `incoming` (cpu, memory):
    among those it fits on, the highest mean of (requested + incoming) / allocatable over cpu and
    memory (weights 1 and 1), ties included."""
    real = {n["name"] for n in facts()["nodes"]}
    all_nodes = kube.get("/api/v1/nodes")["items"]
    nodes = {n["metadata"]["name"]: n for n in all_nodes if n["metadata"]["name"] in real}
    requested = {name: {"cpu": 0.0, "memory": 0.0} for name in nodes}
    for p in kube.get("/api/v1/pods")["items"]:
        node = p["spec"].get("nodeName")
        if node not in requested or p["metadata"]["name"] in exclude:
            continue
        if p.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            continue
        for c in p["spec"]["containers"]:
            asked = c.get("resources", {}).get("requests", {})
            for r in ("cpu", "memory"):
                requested[node][r] += _quantity(asked[r]) if r in asked else _NONZERO[r]
    want = {"cpu": _quantity(incoming[0]), "memory": _quantity(incoming[1])}
    score = {}
    for name, n in nodes.items():
        alloc = {r: _quantity(n["status"]["allocatable"][r]) for r in ("cpu", "memory")}
        fits = all(requested[name][r] + want[r] <= alloc[r] for r in alloc)
        if fits and not n["spec"].get("unschedulable"):
            score[name] = sum((requested[name][r] + want[r]) / alloc[r] for r in alloc)
    best = max(score.values())
    return {name for name, s in score.items() if abs(s - best) < 1e-9}


def ssh_argv(machine: str) -> list[str]:
    """ssh to a lab machine as root, its host key pinned."""
    f = facts()
    ip = {m["name"]: m["ip"] for m in [*f["masters"], *f["nodes"]]}[machine]
    return [
        "ssh",
        "-i",
        f["ssh"]["private_key"],
        "-o",
        f"UserKnownHostsFile={f['ssh']['known_hosts']}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
        f"root@{ip}",
    ]


def ssh(master: str, script: str, timeout: float = 30, check: bool = True) -> str:
    out = subprocess.run([*ssh_argv(master), script], capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise RuntimeError(f"ssh {master} {script!r}: rc={out.returncode} {out.stderr[-500:]}")
    return out.stdout.strip()


def master_ip(master: str) -> str:
    return str({m["name"]: m["ip"] for m in facts()["masters"]}[master])


def healthz(ip: str, timeout: float = 1.0) -> bool:
    ctx = ssl.create_default_context(cafile=str(LAB / "pki" / "ca.crt"))
    try:
        with urllib.request.urlopen(f"https://{ip}:10259/healthz", context=ctx, timeout=timeout) as r:
            return bool(r.read() == b"ok")
    except (OSError, ssl.SSLError):
        return False


def dev_config() -> dict[str, Any]:
    """The dev stack's config with lab paths made absolute (the scratch project is elsewhere)."""
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
    # the suite runs at whatever version the lab runs (`K8S_VERSION=1.36.3 make test`)
    out["kubernetesVersion"] = facts()["k8s_version"].removeprefix("v")
    return out


class LabStack:
    """The program in a scratch project (no stack file or state in the repository)."""

    def __init__(self, name: str, tmp: Path) -> None:
        work = tmp / "project"
        work.mkdir(parents=True)
        shutil.copy(ROOT / "Pulumi.yaml", work / "Pulumi.yaml")
        self.backend = tmp / "state"
        self.backend.mkdir()
        self.env = {
            "PULUMI_BACKEND_URL": f"file://{self.backend}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PYTHONPATH": str(ROOT),  # the builtin dynamic providers import components
        }
        # inline: the same program as __main__.py, without a language host
        self.ws = auto.LocalWorkspace(work_dir=str(work), env_vars=self.env, program=program)
        self.stack = auto.Stack.create(name, self.ws)
        self.output: list[str] = []
        self.configure(dev_config())

    def configure(self, cfg: dict[str, Any]) -> None:
        configure_stack(self.stack, cfg)

    def _log(self, line: str) -> None:
        self.output.append(line)

    def up(self, **kwargs: Any) -> auto.UpResult:
        return self.stack.up(color="never", on_output=self._log, policy_packs=POLICY_PACKS, **kwargs)

    def preview(self, **kwargs: Any) -> auto.PreviewResult:
        return self.stack.preview(color="never", on_output=self._log, policy_packs=POLICY_PACKS, **kwargs)

    def destroy(self) -> None:
        self.stack.destroy(color="never", on_output=self._log)

    def state_on_disk(self) -> str:
        return state_file_text(self.backend, self.stack.name)

    def remove(self) -> None:
        self.ws.remove_stack(self.stack.name)


def changes(result: auto.UpResult) -> dict[str, int]:
    return {str(k): int(v) for k, v in (result.summary.resource_changes or {}).items()}


# client-go leader election at the upstream timings every stack here uses (15 s lease, 2 s retry).
LEASE_S, RETRY_S, JITTER = 15, 2, 1.2
# one wait of a standby's acquire loop: retryPeriod stretched by up to JitterFactor (wait.Jitter)
MAX_RETRY_WAIT_S = RETRY_S * (1 + JITTER)
# A leader that dies without releasing: a standby first sees its last renewal (within one wait),
# counts the lease from when it saw it (observedTime, not the record's renewTime), then notices the
# expiry on a later attempt (within one more wait).
CRASH_FAILOVER_BOUND_S = LEASE_S + 2 * MAX_RETRY_WAIT_S
# A leader that releases the lease (SIGTERM): a standby takes it on its next attempt.
RELEASE_FAILOVER_BOUND_S = MAX_RETRY_WAIT_S + 1


def poll(fn: Callable[[], bool], timeout: float, interval: float = 0.1) -> float:
    """Seconds until fn() is true; raises after timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if fn():
            return time.monotonic() - start
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def takeover(kube: Kube, lease: str, old: str, timeout: float) -> tuple[float, float]:
    """Waits until another process than `old` (a full holder identity, `<host>_<uuid>`) has the
    lease - a standby, or the old one restarted (a new uuid); returns (seconds waited, seconds
    without a leader), the latter from the old holder's last renewal (or its release: an empty
    holder) to the new holder's acquisition, as the schedulers themselves wrote them in the lease
    (MicroTime): what a crash costs, whatever it took to bring the old leader down."""
    start, last_renew = time.monotonic(), ""
    while time.monotonic() - start < timeout:
        spec = (kube.lease(lease) or {}).get("spec", {})
        holder = spec.get("holderIdentity") or ""
        if holder in (old, ""):
            last_renew = spec.get("renewTime") or last_renew
        elif spec.get("acquireTime"):
            if not last_renew:
                raise AssertionError(f"{old} never seen renewing {lease}")
            return time.monotonic() - start, timestamp(spec["acquireTime"]) - timestamp(last_renew)
        time.sleep(0.05)
    raise AssertionError(f"no holder but {old} took {lease} within {timeout}s")


class Monitor:
    """Polls every master's /healthz and the default lease every 100 ms during a change."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.samples: list[tuple[float, int, str]] = []  # (t, masters down, holder)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        ips = [master_ip(m) for m in MASTERS]
        while not self._stop.is_set():
            down = sum(not healthz(ip, timeout=0.5) for ip in ips)
            self.samples.append((time.monotonic(), down, self.kube.holder("kube-scheduler")))
            time.sleep(0.1)

    def __enter__(self) -> Monitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def max_down(self) -> int:
        return max(d for _, d, _ in self.samples)

    @property
    def longest_leaderless(self) -> float:
        longest, start = 0.0, None
        for t, _, holder in self.samples:
            if not holder and start is None:
                start = t
            elif holder and start is not None:
                longest, start = max(longest, t - start), None
        return longest


# ------------------------------------------------------------------ the in-cluster scheduler
NS = "kube-system"
NAME = "custom-k8s-scheduler"
SELECTOR = f"app.kubernetes.io%2Finstance%3D{NAME}"


def config_map_path(kube: Kube) -> str:
    """The in-cluster scheduler's ConfigMap (its name carries the hash of its content)."""
    items = kube.get(f"/api/v1/namespaces/{NS}/configmaps?labelSelector={SELECTOR}")["items"]
    (name,) = [c["metadata"]["name"] for c in items]
    return f"/api/v1/namespaces/{NS}/configmaps/{name}"


def scheduler_pods(kube: Kube) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kube.get(f"/api/v1/namespaces/{NS}/pods?labelSelector={SELECTOR}")["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def settled(kube: Kube) -> list[dict[str, Any]]:
    """Two Ready replicas and a leader; returns the replicas."""
    found: list[dict[str, Any]] = []

    def ok() -> bool:
        found[:] = scheduler_pods(kube)
        return len(found) == 2 and all(ready(p) for p in found) and bool(kube.holder(NAME))

    poll(ok, 180, interval=0.5)
    return found


class LeaseWatch:
    """Samples the lease holder and the Ready replicas every 100 ms."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.samples: list[tuple[float, str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pods = scheduler_pods(self.kube)
            self.samples.append((time.monotonic(), self.kube.holder(NAME), sum(ready(p) for p in pods)))
            time.sleep(0.1)

    def __enter__(self) -> LeaseWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def longest_leaderless(self) -> float:
        longest, start = 0.0, None
        for t, holder, _ in self.samples:
            if not holder and start is None:
                start = t
            elif holder and start is not None:
                longest, start = max(longest, t - start), None
        return longest
