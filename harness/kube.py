"""The lab's API server as the suites and benchmarks poll it: plumbing's KubeClient with the lab's
admin certificate, plus what they ask of it (leases, pods, the in-cluster scheduler's objects, the
nodes MostAllocated ranks first)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
import urllib.error
import urllib.request
from typing import Any

from harness.lab import LAB, facts, pause_image, poll
from plumbing.kube_api import ApiError, KubeClient

__all__ = ["NAME", "NS", "SELECTOR", "ApiError", "Kube", "ready", "timestamp"]


def timestamp(text: str) -> float:
    """Seconds since the epoch of an API time (RFC 3339, `Z`; MicroTime has microseconds)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Kube(KubeClient):
    """KubeClient with a timeout per call, merge patches, logs, and the lab's questions."""

    @classmethod
    def admin(cls) -> Kube:
        """The lab's admin (O system:masters), from its kubeconfig."""
        path = LAB / "admin.kubeconfig"
        client = cls.from_kubeconfig(path.read_text(), path.parent)
        assert isinstance(client, cls)
        return client

    def request(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        """KubeClient's request (None for a 404, ApiError for any other error status)."""
        client = self if timeout is None else dataclasses.replace(self, timeout=timeout)
        return KubeClient.request(client, method, path, body)

    def get(self, path: str, timeout: float | None = None) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.request("GET", path, timeout=timeout)
        return found

    def read(self, path: str, timeout: float | None = None) -> dict[str, Any]:
        """An object that must exist."""
        found = self.get(path, timeout)
        if found is None:
            raise LookupError(f"GET {path}: not found")
        return found

    def items(self, path: str, timeout: float | None = None) -> list[dict[str, Any]]:
        """The items of a list."""
        items: list[dict[str, Any]] = self.read(path, timeout)["items"]
        return items

    def _send(self, req: urllib.request.Request, timeout: float) -> bytes:
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=timeout) as resp:
                body: bytes = resp.read()
                return body
        except urllib.error.HTTPError as e:
            raise ApiError(
                f"{req.get_method()} {req.full_url}: HTTP {e.code}: {e.read()[:300].decode(errors='replace')}"
            ) from None

    def patch(self, path: str, body: Any) -> Any:
        """A JSON merge patch (RFC 7386): null deletes a key."""
        req = urllib.request.Request(self.server + path, data=json.dumps(body).encode(), method="PATCH")
        req.add_header("Content-Type", "application/merge-patch+json")
        return json.loads(self._send(req, self.timeout) or b"null")

    def logs(self, namespace: str, pod: str) -> str:
        """The pod's log through the API server (and so the kubelet)."""
        req = urllib.request.Request(f"{self.server}/api/v1/namespaces/{namespace}/pods/{pod}/log")
        return self._send(req, 10).decode(errors="replace")

    def lease(self, name: str, namespace: str = "kube-system") -> dict[str, Any] | None:
        return self.get(f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}")

    def holder(self, name: str, namespace: str = "kube-system") -> str:
        """The current, unexpired holder of a lease, or "" when nobody leads."""
        spec = (self.lease(name, namespace) or {}).get("spec", {})
        holder = spec.get("holderIdentity") or ""
        renew = spec.get("renewTime")
        if not holder or not renew:
            return ""
        expires = timestamp(renew) + (spec.get("leaseDurationSeconds") or 15)
        return str(holder) if time.time() < expires else ""

    def create_pod(
        self,
        name: str,
        namespace: str = "default",
        scheduler: str | None = None,
        requests: tuple[str, str] = ("10m", "16Mi"),
        labels: dict[str, str] | None = None,
    ) -> None:
        """A pause pod asking for `requests` (cpu, memory), for `scheduler` or the default one."""
        cpu, memory = requests
        asks = {"requests": {"cpu": cpu, "memory": memory}}
        pause = {"name": "pause", "image": pause_image(), "resources": asks}
        spec: dict[str, Any] = {"containers": [pause], "terminationGracePeriodSeconds": 0}
        if scheduler:
            spec["schedulerName"] = scheduler
        meta = {"name": name, "labels": labels or {}}
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
        self.request("POST", f"/api/v1/namespaces/{namespace}/pods", body)

    def pod(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        return self.get(f"/api/v1/namespaces/{namespace}/pods/{name}")

    def delete_pod(self, name: str, namespace: str = "default") -> None:
        """Deleted at once (grace period 0); a pod already gone is fine."""
        self.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}?gracePeriodSeconds=0")

    def wait_bound(self, name: str, timeout: float, namespace: str = "default") -> tuple[str, float]:
        """(node, seconds since this call) once the pod is bound; raises after `timeout`."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            node = (self.pod(name, namespace) or {}).get("spec", {}).get("nodeName") or ""
            if node:
                return str(node), time.monotonic() - start
            time.sleep(0.05)
        raise AssertionError(f"pod {namespace}/{name} not bound within {timeout}s")

    def scheduled_by(self, name: str, namespace: str = "default") -> list[str]:
        """Reporting controllers of the pod's Scheduled events."""
        events = self.items(
            f"/apis/events.k8s.io/v1/namespaces/{namespace}/events?fieldSelector=regarding.name%3D{name}"
        )
        return [
            e.get("reportingController") or e.get("deprecatedSource", {}).get("component", "")
            for e in events
            if e.get("reason") == "Scheduled"
        ]


def ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


# ------------------------------------------------------------------ the in-cluster scheduler
NS = "kube-system"
NAME = "custom-k8s-scheduler"
SELECTOR = f"app.kubernetes.io%2Finstance%3D{NAME}"


def config_map_path(kube: Kube) -> str:
    """The in-cluster scheduler's ConfigMap (its name carries the hash of its content)."""
    items = kube.items(f"/api/v1/namespaces/{NS}/configmaps?labelSelector={SELECTOR}")
    (name,) = [c["metadata"]["name"] for c in items]
    return f"/api/v1/namespaces/{NS}/configmaps/{name}"


def scheduler_pods(kube: Kube) -> list[dict[str, Any]]:
    """The in-cluster scheduler's replicas that are not being deleted."""
    items = kube.items(f"/api/v1/namespaces/{NS}/pods?labelSelector={SELECTOR}")
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def settled(kube: Kube) -> list[dict[str, Any]]:
    """Two Ready replicas and a leader; returns the replicas."""
    found: list[dict[str, Any]] = []

    def ok() -> bool:
        found[:] = scheduler_pods(kube)
        return len(found) == 2 and all(ready(p) for p in found) and bool(kube.holder(NAME))

    poll(ok, 180, interval=0.5)
    return found


# ------------------------------------------------------------------ placement
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
    nodes = {n["metadata"]["name"]: n for n in kube.items("/api/v1/nodes") if n["metadata"]["name"] in real}
    requested = {name: {"cpu": 0.0, "memory": 0.0} for name in nodes}
    for p in kube.items("/api/v1/pods"):
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
