"""Bridge, etcd, kube-apiserver, kube-controller-manager, KWOK and its worker nodes."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from typing import Any

from ksched_lab.settings import (
    API_PORT,
    API_URL,
    BRIDGE,
    BRIDGE_MAC,
    CLUSTER_ID,
    CLUSTER_VERSION,
    ETCD_BIN,
    ETCD_CLIENT,
    ETCD_DATA,
    ETCD_PEER,
    ETCD_VERSION,
    FILLER_NS,
    FILLERS,
    HOST_IP,
    K8S_BIN,
    K8S_VERSION,
    KCM_PORT,
    KWOK_ANNOTATION,
    KWOK_BIN,
    KWOK_STAGES,
    KWOK_TAINT,
    KWOK_VERSION,
    LOGS,
    NODE_ALLOCATABLE,
    PKI,
    POD_CIDR,
    PREFIX,
    RUN,
    SERVICE_CIDR,
    WORKER_LABELS,
    WORKERS,
)
from ksched_lab.util import (
    die,
    http_ok,
    kubectl,
    link_exists,
    log,
    read_pid,
    run,
    running_as,
    start,
    stop_pid,
    tail,
    wait_for,
    write,
)


def ensure_bridge() -> None:
    if not link_exists(BRIDGE):
        log(f"creating bridge {BRIDGE} {HOST_IP}/{PREFIX}")
        run(["ip", "link", "add", BRIDGE, "address", BRIDGE_MAC, "type", "bridge"])
    run(["ip", "link", "set", BRIDGE, "address", BRIDGE_MAC])
    addrs = run(["ip", "-o", "-4", "addr", "show", "dev", BRIDGE]).stdout
    if f"{HOST_IP}/{PREFIX}" not in addrs:
        run(["ip", "addr", "add", f"{HOST_IP}/{PREFIX}", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])


def ensure_etcd() -> None:
    if read_pid("etcd") and http_ok(f"{ETCD_CLIENT}/health"):
        return
    ca_sum = hashlib.sha256((PKI / "ca.crt").read_bytes()).hexdigest()
    if (ETCD_DATA / "member").is_dir():
        made_with = CLUSTER_ID.read_text().strip() if CLUSTER_ID.exists() else ""
        if made_with != ca_sum:
            die(
                f"the cluster data in {ETCD_DATA} was made with another CA; `make lab-reset` starts a new one"
            )
        log(f"starting etcd {ETCD_VERSION} on {ETCD_CLIENT} (existing cluster)")
    else:
        log(f"starting etcd {ETCD_VERSION} on {ETCD_CLIENT} (new cluster)")
        write(CLUSTER_ID, ca_sum + "\n")
    ETCD_DATA.mkdir(parents=True, exist_ok=True)
    os.chmod(ETCD_DATA, 0o700)
    start(
        "etcd",
        [
            ETCD_BIN,
            "--name=lab",
            f"--data-dir={ETCD_DATA}",
            f"--listen-client-urls={ETCD_CLIENT}",
            f"--advertise-client-urls={ETCD_CLIENT}",
            f"--listen-peer-urls={ETCD_PEER}",
            f"--initial-advertise-peer-urls={ETCD_PEER}",
            f"--initial-cluster=lab={ETCD_PEER}",
            "--initial-cluster-state=new",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ],
    )
    wait_for(
        "etcd /health (if its data is damaged, `make lab-reset` starts a new cluster)",
        lambda: http_ok(f"{ETCD_CLIENT}/health"),
        30,
        logfile=LOGS / "etcd.log",
    )


def apiserver_ready() -> bool:
    return http_ok(f"{API_URL}/readyz", PKI / "ca.crt")


def apiserver_argv() -> list[object]:
    return [
        K8S_BIN / "kube-apiserver",
        f"--etcd-servers={ETCD_CLIENT}",
        f"--bind-address={HOST_IP}",
        f"--advertise-address={HOST_IP}",
        f"--secure-port={API_PORT}",
        f"--tls-cert-file={PKI / 'apiserver.crt'}",
        f"--tls-private-key-file={PKI / 'apiserver.key'}",
        f"--client-ca-file={PKI / 'ca.crt'}",
        "--authorization-mode=Node,RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={PKI / 'sa.pub'}",
        f"--service-account-signing-key-file={PKI / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--allow-privileged=true",
        # kubectl logs/exec/port-forward reach the real kubelets, whose serving certs it verifies
        f"--kubelet-client-certificate={PKI / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={PKI / 'apiserver-kubelet-client.key'}",
        f"--kubelet-certificate-authority={PKI / 'ca.crt'}",
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        f"--cert-dir={RUN / 'apiserver-certs'}",
        "--profiling=false",
        "--v=1",
    ]


def ensure_process(
    name: str, argv: list[object], ready: Callable[[], bool], timeout: float, what: str
) -> None:
    """Start `name` unless it already runs with exactly `argv` and is ready; a process running
    with other flags or another binary (a new version) is stopped first."""
    if running_as(name, argv) and ready():
        return
    old = read_pid(name)
    if old:
        log(f"restarting {name}: its binary or flags changed")
        stop_pid(old, name)
    log(f"starting {what}")
    start(name, argv)
    wait_for(f"{name} ({what})", ready, timeout, logfile=LOGS / f"{name}.log")


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


def check_cluster_version() -> None:
    """An existing cluster moves up one minor at a time, never down (etcd holds objects stored by
    the newer API server); anything else needs a new cluster."""
    if not CLUSTER_VERSION.exists() or not (ETCD_DATA / "member").is_dir():
        return
    was = CLUSTER_VERSION.read_text().strip()
    (major, minor), (to_major, to_minor) = _minor(was), _minor(K8S_VERSION)
    if (to_major, to_minor) < (major, minor) or to_major != major or to_minor > minor + 1:
        die(
            f"this lab's cluster runs {was}; {K8S_VERSION} is not the same minor or the next one up. "
            "`make lab-reset` starts a new cluster at any version"
        )


def ensure_apiserver() -> None:
    check_cluster_version()
    ensure_process(
        "kube-apiserver", apiserver_argv(), apiserver_ready, 90, f"kube-apiserver {K8S_VERSION} on {API_URL}"
    )
    write(CLUSTER_VERSION, K8S_VERSION + "\n")


def ensure_kcm() -> None:
    url = f"https://127.0.0.1:{KCM_PORT}/healthz"
    kc = RUN / "kube-controller-manager.kubeconfig"
    ensure_process(
        "kube-controller-manager",
        [
            K8S_BIN / "kube-controller-manager",
            f"--kubeconfig={kc}",
            f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}",
            "--bind-address=127.0.0.1",
            f"--secure-port={KCM_PORT}",
            f"--cert-dir={RUN / 'kcm-certs'}",
            # One instance, unsupervised: with leader election it would exit ("leaderelection
            # lost") whenever the API server is down longer than its renew deadline.
            "--leader-elect=false",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={PKI / 'sa.key'}",
            f"--root-ca-file={PKI / 'ca.crt'}",
            f"--cluster-signing-cert-file={PKI / 'ca.crt'}",
            f"--cluster-signing-key-file={PKI / 'ca.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--cluster-name=ksched-lab",
            "--profiling=false",
            "--v=1",
        ],
        lambda: http_ok(url),
        60,
        f"kube-controller-manager {K8S_VERSION}",
    )


def kwok_config() -> None:
    """kwok run standalone needs its Stage objects in its config (kwokctl normally injects them)."""
    docs = []  # options come from flags; a KwokConfiguration document here skips kwok's defaulting
    for rel in (
        "node/fast/node-initialize.yaml",
        "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
        "pod/fast/pod-ready.yaml",
        "pod/fast/pod-complete.yaml",
        "pod/fast/pod-delete.yaml",
    ):
        p = KWOK_STAGES / rel
        if not p.exists():
            die(f"missing KWOK stage {p} (run lab/build.sh kwok)")
        docs.append(p.read_text())
    write(RUN / "kwok.yaml", "---\n".join(docs))


def ensure_kwok() -> None:
    if read_pid("kwok"):
        return
    log(f"starting kwok {KWOK_VERSION} (fake kubelets for {', '.join(WORKERS)})")
    kwok_config()
    start(
        "kwok",
        [
            KWOK_BIN,
            f"--config={RUN / 'kwok.yaml'}",
            f"--kubeconfig={RUN / 'kwok.kubeconfig'}",
            f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION[0]}={KWOK_ANNOTATION[1]}",
            f"--node-ip={HOST_IP}",
            f"--cidr={POD_CIDR}",
            "--node-lease-duration-seconds=40",
        ],
    )
    time.sleep(0.5)
    if not read_pid("kwok"):
        die(f"kwok exited:\n{tail(LOGS / 'kwok.log')}")


def node_manifest(name: str) -> dict[str, Any]:
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
        "node-role.kubernetes.io/worker": "",
    }
    labels.update(WORKER_LABELS.get(name, {}))
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {KWOK_ANNOTATION[0]: KWOK_ANNOTATION[1], "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {"taints": [KWOK_TAINT]},
        # status is honoured at create time; KWOK keeps allocatable/capacity as given
        "status": {"allocatable": NODE_ALLOCATABLE, "capacity": NODE_ALLOCATABLE},
    }


def filler_pod(node: str, cpu_m: int, mem_mi: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"filler-{node}",
            "namespace": FILLER_NS,
            "labels": {"app.kubernetes.io/name": "lab-filler"},
        },
        "spec": {
            "nodeName": node,  # bound directly: no scheduler involved
            "containers": [
                {
                    "name": "filler",
                    "image": "registry.k8s.io/pause:3.10",
                    "resources": {
                        "requests": {"cpu": f"{cpu_m}m", "memory": f"{mem_mi}Mi"},
                        "limits": {"cpu": f"{cpu_m}m", "memory": f"{mem_mi}Mi"},
                    },
                }
            ],
            "tolerations": [{"operator": "Exists"}],
            "terminationGracePeriodSeconds": 0,
        },
    }


def ensure_kwok_workers() -> None:
    existing = set(kubectl("get", "nodes", "-o", "name").stdout.split())
    items = [node_manifest(n) for n in WORKERS if f"node/{n}" not in existing]
    if items:
        log(f"creating nodes {', '.join(i['metadata']['name'] for i in items)}")
        kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    # a cluster made before KWOK nodes were tainted
    taint = f"{KWOK_TAINT['key']}={KWOK_TAINT['value']}:{KWOK_TAINT['effect']}"
    kubectl("taint", "nodes", *WORKERS, taint, "--overwrite")
    ns = kubectl("get", "namespace", FILLER_NS, "--ignore-not-found", "-o", "name").stdout.strip()
    if not ns:
        kubectl("create", "namespace", FILLER_NS)
    # the ServiceAccount admission plugin rejects pods until the namespace's `default` SA exists
    wait_for(
        f"serviceaccount {FILLER_NS}/default",
        lambda: kubectl("get", "serviceaccount", "default", "-n", FILLER_NS, check=False).returncode == 0,
        30,
    )
    pods = set(kubectl("get", "pods", "-n", FILLER_NS, "-o", "name").stdout.split())
    items = [filler_pod(n, c, m) for n, (c, m) in FILLERS.items() if f"pod/filler-{n}" not in pods]
    if items:
        log(f"binding filler pods in {FILLER_NS}")
        kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))

    def schedulable() -> bool:
        nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
        ok = {}
        for n in nodes:
            name = n["metadata"]["name"]
            ready = any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in n.get("status", {}).get("conditions", [])
            )
            bad_taints = [
                t
                for t in n["spec"].get("taints", [])
                if t["effect"] in ("NoSchedule", "NoExecute") and t["key"] != KWOK_TAINT["key"]
            ]
            ok[name] = ready and not bad_taints and not n["spec"].get("unschedulable")
        return all(ok.get(w) for w in WORKERS)

    wait_for(
        "worker nodes Ready without NoSchedule taints", schedulable, 90, interval=1, logfile=LOGS / "kwok.log"
    )
