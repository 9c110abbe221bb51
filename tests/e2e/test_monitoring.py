"""Observability in the lab (docs/monitoring.md): the lab's real Prometheus (the pinned build),
started on nothing but the stack's monitoring outputs (scrape configuration, rules, the reader's
certificate and key), scrapes both schedulers and fires the stack's alerts:

- every master and every in-cluster replica is `up == 1`;
- with the Prometheus Operator's ServiceMonitor CRD served (generated from the operator's API
  types by its own generator; no operator runs), the stack detects the kind and makes a
  ServiceMonitor the API server accepts, which selects the metrics Service and carries the
  reader's identity;
- a master's /metrics refuses a client certificate the cluster CA signed for a user without the
  reader's role (403), and serves the reader's;
- every master's kube-scheduler stopped: the scheduler-down alert of the masters' job fires within
  a scrape interval (Prometheus sees the failed scrapes) plus its `for:` plus an evaluation
  interval, and resolves after `make up`'s deploy restarts them;
- the in-cluster Deployment scaled to zero with pods waiting for it: the scheduler-down alert of
  its job fires (no replica exports a pending-pods count any more: that alert cannot, see
  docs/monitoring.md); scaled back, it cannot place them and more keep coming: the pending-pods
  alert fires; both resolve once it is restored and the pods are gone.

Short intervals keep it quick (5 s scrape and evaluation). Which rendered alert is which is read
from the rules the stack rendered, never restated: each alert under test gets a `for:` no other
alert has (its config key), and the test finds the one rule with that `for:` (its name and `for:`
are the rule's).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from components.render import rules
from components.render.monitoring import MASTERS_JOB, RULES_FILE
from harness import prometheus
from harness.kube import NAME, NS, Kube, scheduler_pods, settled
from harness.lab import LAB, MASTERS, dev_config, lab, master_ip, pause_image, poll, secure_get
from harness.pki import pem_key
from harness.ssh import ssh
from harness.stacks import LabStack, Stacks
from scripts.monitoring import bundle_files
from scripts.stack import deploy

pytestmark = pytest.mark.lab

SCRAPE_S = 5
EVALUATION_S = 5
# A `for:` per alert under test that no other alert of the rendered rules has (checked below).
FOR = {"downFor": "20s", "instanceDownFor": "25s", "pendingPodsFor": "30s"}
DEPLOYMENT = f"/apis/apps/v1/namespaces/{NS}/deployments/{NAME}"
WAITING = "ksched-e2e-waiting"  # the label of the pods the test leaves waiting for the in-cluster scheduler
POLL_S = 0.5


def config() -> dict[str, Any]:
    cfg = dev_config()
    cfg["monitoring"] = {
        "enabled": True,
        "scrapeInterval": f"{SCRAPE_S}s",
        "evaluationInterval": f"{EVALUATION_S}s",
        "alerts": dict(FOR),
    }
    return cfg


CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
SERVICE_MONITORS = f"/apis/monitoring.coreos.com/v1/namespaces/{NS}/servicemonitors"


@pytest.fixture(scope="module")
def operator_crd(kube: Kube) -> Iterator[None]:
    """The Prometheus Operator's ServiceMonitor CRD, generated from the operator's API types by
    its own generator (`lab/lab.sh operator-crds install`), served before the stack deploys and
    removed after it is destroyed. No operator runs: the API server validates what the stack makes."""
    path = lab("operator-crds", "install", timeout=1800).strip().splitlines()[-1]
    crd = yaml.safe_load(Path(path).read_text())
    name = crd["metadata"]["name"]

    def established() -> bool:
        # a CRD just made has status.conditions null until the API server has looked at it
        conditions = ((kube.get(f"{CRDS}/{name}") or {}).get("status") or {}).get("conditions") or []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    kube.request("POST", CRDS, crd)
    try:
        poll(established, 60, what=f"CRD {name} established")
        yield
    finally:
        kube.request("DELETE", f"{CRDS}/{name}")


@pytest.fixture(scope="module")
def stack(operator_crd: None, module_stacks: Stacks) -> LabStack:
    # the CRD first: served when the stack asks, removed only after the stack is destroyed
    s = module_stacks("monitoring", config())
    assert deploy(s.stack, s.output.append).summary.result == "succeeded"
    return s


@pytest.fixture(scope="module")
def outputs(stack: LabStack) -> dict[str, Any]:
    return {k: v.value for k, v in stack.stack.outputs().items()}


@pytest.fixture(scope="module")
def prom(outputs: dict[str, Any]) -> Iterator[prometheus.Prometheus]:
    """The lab's Prometheus on the stack's files, written below the suite's lab
    (.lab-e2e/prometheus/config); stopped at the end (the lab's reset would too)."""
    p = prometheus.start(outputs)
    try:
        yield p
    finally:
        lab("prometheus", "stop")


def alert_for(outputs: dict[str, Any], key: str) -> tuple[str, float]:
    """(name, `for:` in seconds) of the one rendered alert whose `for:` is monitoring.alerts.<key>'s."""
    doc = yaml.safe_load(outputs["monitoring"]["files"][RULES_FILE])
    alerts = [r for g in doc["groups"] for r in g["rules"] if "alert" in r]
    found = [r for r in alerts if r["for"] == FOR[key]]
    assert len({r["alert"] for r in found}) == 1, (key, found)
    return found[0]["alert"], rules.duration_s(found[0]["for"])


def since(text: str) -> float:
    """Seconds since the epoch of Prometheus' activeAt (RFC 3339, up to nanoseconds)."""
    m = re.fullmatch(r"(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    assert m, text
    base = dt.datetime.fromisoformat(m[1] + m[3].replace("Z", "+00:00")).timestamp()
    return base + float(f"0.{m[2] or 0}")


def firing(p: prometheus.Prometheus, name: str, job: str) -> dict[str, Any] | None:
    found = [a for a in p.active(name) if a["labels"].get("job") == job and a["state"] == "firing"]
    return found[0] if found else None


def wait_firing(
    p: prometheus.Prometheus, name: str, job: str, timeout: float
) -> tuple[float, dict[str, Any]]:
    """(seconds until alert `name` of `job` fires, the alert)."""
    got: list[dict[str, Any]] = []

    def fired() -> bool:
        a = firing(p, name, job)
        got[:] = [a] if a else []
        return bool(got)

    took = p.wait(f"{name}{{job={job!r}}} firing", fired, timeout, POLL_S)
    return took, got[0]


def wait_resolved(p: prometheus.Prometheus, name: str, job: str, timeout: float) -> float:
    return p.wait(
        f"{name}{{job={job!r}}} resolved",
        lambda: not [a for a in p.active(name) if a["labels"].get("job") == job],
        timeout,
        POLL_S,
    )


def job_up(p: prometheus.Prometheus, job: str, label: str) -> dict[str, str]:
    """{target's `label`: value of `up`} of `job`."""
    return {r["metric"].get(label, "?"): r["value"][1] for r in p.query(f'up{{job="{job}"}}')}


def in_cluster_job(outputs: dict[str, Any]) -> str:
    (job,) = [j for j in outputs["monitoring"]["jobs"] if j != MASTERS_JOB]
    return str(job)


# ------------------------------------------------------------------ (a) everything up


def test_every_master_and_every_replica_is_up(
    outputs: dict[str, Any], prom: prometheus.Prometheus, kube: Kube
) -> None:
    assert outputs["monitoring"]["jobs"] == [MASTERS_JOB, NAME]
    replicas = {p["metadata"]["name"] for p in settled(kube)}
    want = {MASTERS_JOB: ("node", {m: "1" for m in MASTERS}), NAME: ("pod", {r: "1" for r in replicas})}

    def all_up() -> bool:
        return all(job_up(prom, job, label) == up for job, (label, up) in want.items())

    start = time.monotonic()
    try:
        prom.wait("every target up", all_up, 90, POLL_S)
    except AssertionError:
        raise AssertionError({job: job_up(prom, job, label) for job, (label, _) in want.items()}) from None
    print(
        f"\nPrometheus: {len(MASTERS)} masters and {len(replicas)} replicas up "
        f"{time.monotonic() - start:.1f}s after it started"
    )
    # every connection verified the target's certificate with the reader's identity: no target errs
    assert all(t["health"] == "up" and not t["lastError"] for t in prom.targets())


def test_a_service_monitor_where_the_operator_crd_is_served(
    outputs: dict[str, Any], stack: LabStack, kube: Kube
) -> None:
    """The stack found the kind and made a ServiceMonitor the API server accepted under the
    operator's schema; it selects the metrics Service (whose instance label names the job the
    rules alert on), scrapes its port over TLS for the serving certificate's name, with the
    reader's certificate from a Secret that holds it."""
    (monitor,) = kube.items(SERVICE_MONITORS)
    assert "kubernetes:monitoring.coreos.com/v1:ServiceMonitor" in stack.state_on_disk()  # the stack's
    spec = monitor["spec"]
    (service,) = [
        s
        for s in kube.items(f"/api/v1/namespaces/{NS}/services")
        if spec["selector"]["matchLabels"].items() <= s["metadata"].get("labels", {}).items()
    ]
    assert service["metadata"]["labels"][spec["jobLabel"]] == in_cluster_job(outputs)
    assert spec["namespaceSelector"]["matchNames"] == [NS]
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["scheme"].lower() == "https"
    tls = endpoint["tlsConfig"]
    secret = kube.read(f"/api/v1/namespaces/{NS}/secrets/{tls['cert']['secret']['name']}")

    def held(ref: dict[str, str]) -> str:
        return base64.b64decode(secret["data"][ref["key"]]).decode()

    # what the Prometheus bundle holds: the reader's certificate and key, the cluster CA
    files = bundle_files(outputs)
    (reader_crt,) = [
        text
        for path, (_, text) in files.items()
        if path.startswith("pki/") and path.endswith(".crt") and path != "pki/ca.crt"
    ]
    assert held(tls["cert"]["secret"]) == reader_crt
    assert held(tls["ca"]["secret"]) == files["pki/ca.crt"][1]
    # compared by digest: a failing assertion prints its operands, and this one is a private key
    digest = hashlib.sha256
    assert (
        digest(held(tls["keySecret"]).encode()).digest()
        == digest(outputs["monitoringReaderKey"].encode()).digest()
    )
    # the name the replicas' serving certificate is for: a scrape verifies it
    (pod,) = scheduler_pods(kube)[:1]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    serving = next(v["secret"]["secretName"] for v in volumes.values() if "secret" in v)
    served = kube.read(f"/api/v1/namespaces/{NS}/secrets/{serving}")
    cert = x509.load_pem_x509_certificate(base64.b64decode(served["data"]["tls.crt"]))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    )
    assert tls["serverName"] in names


# ------------------------------------------------------------------ (d) /metrics needs the role


def client_cert(tmp: Path, cn: str) -> tuple[Path, Path]:
    """A client certificate the lab's CA signs for user `cn`, no organisation (so no group)."""
    ca_cert = x509.load_pem_x509_certificate((LAB / "pki" / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((LAB / "pki" / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    crt, pem = tmp / f"{cn}.crt", tmp / f"{cn}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_text(pem_key(key))
    pem.chmod(0o600)
    return crt, pem


def metrics(ip: str, cert: Path, key: Path) -> tuple[int, str]:
    """GET https://<ip>:10259/metrics with this client certificate, the master's checked."""
    ctx = ssl.create_default_context(cafile=str(LAB / "pki" / "ca.crt"))
    ctx.load_cert_chain(str(cert), str(key))
    return secure_get(ip, "/metrics", ctx)


def test_masters_metrics_refuse_a_certificate_without_the_role(
    outputs: dict[str, Any], prom: prometheus.Prometheus, tmp_path: Path
) -> None:
    nobody = "ksched-e2e-no-metrics-role"
    crt, key = client_cert(tmp_path, nobody)
    files = bundle_files(outputs)
    reader = next(p for p in files if p.startswith("pki/") and p.endswith(".crt") and p != "pki/ca.crt")
    reader_crt, reader_key = tmp_path / "reader.crt", tmp_path / "reader.key"
    reader_crt.write_text(files[reader][1])
    reader_key.write_text(files[reader.removesuffix(".crt") + ".key"][1])
    reader_key.chmod(0o600)
    for m in MASTERS:
        status, body = metrics(master_ip(m), crt, key)
        # authenticated (the CA signed it), not authorised: the SubjectAccessReview names the user
        assert status == 403 and nobody in body, (m, status, body[:300])
        status, body = metrics(master_ip(m), reader_crt, reader_key)
        assert status == 200 and "scheduler_pending_pods" in body, (m, status, body[:300])


# ------------------------------------------------------------------ (b) the masters stopped


def test_all_masters_stopped_fire_the_scheduler_down_alert_and_make_up_resolves_it(
    stack: LabStack, outputs: dict[str, Any], prom: prometheus.Prometheus
) -> None:
    name, for_s = alert_for(outputs, "downFor")
    assert firing(prom, name, MASTERS_JOB) is None
    for m in MASTERS:
        ssh(m, "systemctl stop kube-scheduler.service")
    stopped, stopped_at = time.monotonic(), time.time()
    try:
        bound = SCRAPE_S + for_s + EVALUATION_S
        took, alert = wait_firing(prom, name, MASTERS_JOB, bound + 30)
        seen = since(alert["activeAt"]) - stopped_at  # when an evaluation first saw every master down
    finally:
        # what `make up` runs: up --refresh finds the services inactive and starts them again
        result = deploy(stack.stack, stack.output.append)
    redeployed = time.monotonic() - stopped
    resolved = wait_resolved(prom, name, MASTERS_JOB, 3 * (SCRAPE_S + EVALUATION_S) + 30)
    print(
        f"\n{name} (for {for_s:g}s, scrape {SCRAPE_S}s, evaluation {EVALUATION_S}s): pending {seen:.1f}s "
        f"after the masters stopped, firing after {took:.1f}s ({took - seen:.1f}s after pending); "
        f"make up's deploy done {redeployed:.1f}s after the stop, resolved {resolved:.1f}s after it"
    )
    assert result.summary.result == "succeeded"
    # Prometheus sees the failed scrapes within a scrape interval and an evaluation; from then on
    # it fires after its `for:`, at the first evaluation past it
    assert seen <= SCRAPE_S + EVALUATION_S + 2, seen
    assert for_s - 1 <= took - seen <= for_s + EVALUATION_S + 1, (took, seen)
    assert took <= bound + 1, took
    every = {m: "1" for m in MASTERS}
    prom.wait("every master up again", lambda: job_up(prom, MASTERS_JOB, "node") == every, 30, POLL_S)


# ------------------------------------------------------------------ (c) the in-cluster scheduler at zero


def waiting_pod(kube: Kube, name: str, scheduler: str) -> None:
    """A pod for `scheduler` that no node can take (a node label no node has): it waits."""
    spec = {
        "schedulerName": scheduler,
        "nodeSelector": {"ksched-e2e/no-such-node": "true"},
        "containers": [
            {
                "name": "pause",
                "image": pause_image(),
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
            }
        ],
        "terminationGracePeriodSeconds": 0,
    }
    meta = {"name": name, "labels": {WAITING: "true"}}
    kube.request(
        "POST",
        "/api/v1/namespaces/default/pods",
        {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec},
    )


def test_in_cluster_scheduler_at_zero_with_pods_waiting_fires_down_then_pending_pods(
    outputs: dict[str, Any], prom: prometheus.Prometheus, kube: Kube
) -> None:
    job = in_cluster_job(outputs)
    down, down_s = alert_for(outputs, "downFor")
    pending, pending_s = alert_for(outputs, "pendingPodsFor")
    replicas = kube.read(DEPLOYMENT)["spec"]["replicas"]
    settled(kube)
    made: list[str] = []

    def more() -> None:
        name = f"waiting-{len(made)}"
        waiting_pod(kube, name, job)
        made.append(name)

    try:
        kube.patch(DEPLOYMENT, {"spec": {"replicas": 0}})
        zero = time.monotonic()
        poll(lambda: not scheduler_pods(kube), 60, POLL_S)
        for _ in range(3):
            more()
        wait_firing(prom, down, job, SCRAPE_S + down_s + EVALUATION_S + 60)
        took = time.monotonic() - zero
        # nothing exports the pending count of a scheduler with no replica: no such alert of its job
        assert [a for a in prom.active(pending) if a["labels"].get("job") == job] == []
        print(
            f"\n{down}{{job={job!r}}} (for {down_s:g}s): firing {took:.1f}s after the Deployment was "
            f"scaled to zero, {len(made)} pods waiting for it; {pending}: none (no replica counts them)"
        )
        scaled = time.monotonic()
        kube.patch(DEPLOYMENT, {"spec": {"replicas": replicas}})
        settled(kube)
        back = time.monotonic()
        resolved = wait_resolved(prom, down, job, 3 * (SCRAPE_S + EVALUATION_S) + 30)
        print(
            f"scaled back to {replicas}: ready and leading after {back - scaled:.1f}s, "
            f"{down} resolved {resolved:.1f}s later ({scaled - zero:.0f}s at zero)"
        )
        # back, it cannot place them (no node has their label), and more keep coming
        deadline = time.monotonic() + SCRAPE_S + 2 * pending_s + EVALUATION_S + 60
        fired = None
        while fired is None and time.monotonic() < deadline:
            more()
            time.sleep(2)
            fired = firing(prom, pending, job)
        assert fired is not None, f"{pending}{{job={job!r}}} not firing with {len(made)} pods waiting"
        print(
            f"{pending}{{job={job!r}}} (for {pending_s:g}s): firing {time.monotonic() - back:.1f}s after "
            f"the replicas were back, {fired['value']} pods waiting"
        )
    finally:
        kube.patch(DEPLOYMENT, {"spec": {"replicas": replicas}})
        for name in made:
            kube.delete_pod(name)
    # the count falls: the growth alert resolves at the first evaluation after the next scrape
    gone = wait_resolved(prom, pending, job, 3 * (SCRAPE_S + EVALUATION_S) + 30)
    print(f"pods deleted: {pending} resolved after {gone:.1f}s")
    now = {p["metadata"]["name"]: "1" for p in settled(kube)}
    prom.wait("every replica up", lambda: job_up(prom, job, "pod") == now, 60, POLL_S)
