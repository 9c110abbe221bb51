#!/usr/bin/env python3
"""Local test lab for the kube-scheduler project (python3 stdlib only).

    lab/lab.sh up | down | status

What `up` brings up (all state under <repo>/.lab, git-ignored):
  * bridge ksched0 with 10.231.0.1/24 on this machine;
  * etcd on 127.0.0.1:23790 (data in .lab/etcd);
  * kube-apiserver serving https://10.231.0.1:6443 (TLS, client certs signed by
    the lab CA, Node,RBAC, service accounts);
  * kube-controller-manager (own client cert, --use-service-account-credentials,
    leader election); NO kube-scheduler: the project deploys schedulers;
  * KWOK as the fake kubelet of worker-1..4: it creates the node leases
    (heartbeats) so the node lifecycle controller keeps the nodes Ready and
    removes the node.kubernetes.io/not-ready taint, and it moves pods bound to
    those nodes to Running/Ready (so Deployments become Available);
  * filler pods in namespace lab-filler, bound with spec.nodeName, so that
    worker-1..3 have different allocations (see FILLERS below);
  * master-1..3: Debian bookworm systemd hosts booted with systemd-nspawn on an
    overlay of the cached rootfs, sshd with the lab key at 10.231.0.11..13.

`down` stops all of it and removes the bridge, overlays, mounts, the etcd data
and the masters' writable layers (each `up` starts from a fresh cluster and
fresh masters). It KEEPS .lab/pki (CA, certificates, admin.kubeconfig),
.lab/ssh (lab SSH key), .lab/hosts (per-master SSH host keys and machine-ids)
and .lab/facts.json, so pins such as known_hosts and the CA stay valid across
down/up. Delete .lab to start over completely.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAB_SRC = REPO / "lab"
LAB = Path(os.environ.get("KSCHED_LAB_DIR", REPO / ".lab")).resolve()
CACHE = Path(
    os.environ.get("KSCHED_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ksched"
)

K8S_VERSION = os.environ.get("K8S_VERSION", "v1.34.2")
ETCD_VERSION = os.environ.get("ETCD_VERSION", "v3.6.16")
KWOK_VERSION = os.environ.get("KWOK_VERSION", "v0.8.0")
K8S_BIN = CACHE / "k8s" / K8S_VERSION / "bin"
ETCD_BIN = CACHE / "etcd" / ETCD_VERSION / "bin" / "etcd"
KWOK_BIN = CACHE / "kwok" / KWOK_VERSION / "bin" / "kwok"
KWOK_STAGES = CACHE / "go" / "mod" / "sigs.k8s.io" / f"kwok@{KWOK_VERSION}" / "kustomize" / "stage"
ROOTFS = CACHE / "rootfs" / "bookworm"

BRIDGE = "ksched0"
HOST_IP = "10.231.0.1"
PREFIX = 24
API_PORT = 6443
API_URL = f"https://{HOST_IP}:{API_PORT}"
SERVICE_CIDR = "10.231.16.0/24"
SERVICE_IP = "10.231.16.1"  # first address of SERVICE_CIDR: the `kubernetes` Service
POD_CIDR = "10.231.32.0/20"  # KWOK writes fake pod IPs from here (no traffic goes there)
ETCD_CLIENT = "http://127.0.0.1:23790"
ETCD_PEER = "http://127.0.0.1:23800"
KCM_PORT = 10257
MASTERS = [(f"master-{i}", f"10.231.0.1{i}") for i in (1, 2, 3)]

# Worker nodes: same size; worker-4 carries the karpenter nodepool label.
WORKERS = ["worker-1", "worker-2", "worker-3", "worker-4"]
NODE_ALLOCATABLE = {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"}
WORKER_LABELS = {"worker-4": {"karpenter.sh/nodepool": "default"}}
# Existing allocations (cpu millicores, memory MiB), kept proportional (cpu/4 == mem/8Gi) so that
# NodeResourcesBalancedAllocation is equal everywhere and only the Fit strategy decides:
#   MostAllocated  -> worker-1 (62.5 % used) wins among all workers;
#   LeastAllocated -> worker-4 (empty) wins; among worker-1..3 it is worker-3.
FILLERS = {"worker-1": (2500, 5120), "worker-2": (1500, 3072), "worker-3": (500, 1024)}
MOST_ALLOCATED_NODE = "worker-1"
LEAST_ALLOCATED_NODE = "worker-4"
LEAST_ALLOCATED_NODE_AMONG_1_3 = "worker-3"
FILLER_NS = "lab-filler"
KWOK_ANNOTATION = ("kwok.x-k8s.io/node", "fake")

PKI = LAB / "pki"
SSH = LAB / "ssh"
HOSTS = LAB / "hosts"
LOGS = LAB / "logs"
RUN = LAB / "run"
MACHINES = LAB / "machines"
ETCD_DATA = LAB / "etcd"
ADMIN_KUBECONFIG = LAB / "admin.kubeconfig"
KNOWN_HOSTS = SSH / "known_hosts"
FACTS = LAB / "facts.json"


# ----------------------------------------------------------------- helpers
T0 = time.monotonic()


def log(msg):
    print(f"==> {msg}  [{time.monotonic() - T0:5.1f}s]", flush=True)


def info(msg):
    print(f"    {msg}", flush=True)


def die(msg):
    print(f"lab: ERROR: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def run(cmd, check=True, capture=True, input=None, timeout=120, env=None):
    cmd = [str(c) for c in cmd]
    p = subprocess.run(
        cmd,
        input=input,
        text=True,
        timeout=timeout,
        env=env,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
    )
    if check and p.returncode != 0:
        out, err = (p.stdout or "")[-2000:], (p.stderr or "")[-2000:]
        die(f"{' '.join(cmd)} failed (rc={p.returncode}):\n{out}{err}")
    return p


def tail(path, n=30):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def write(path, text, mode=0o644):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def read_pid(name):
    try:
        pid = int((RUN / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    # guard against pid reuse: the process must still be the binary we started
    exe = RUN / f"{name}.exe"
    want = exe.read_text().strip() if exe.exists() else None
    args = cmdline(pid)
    if pid_alive(pid) and args and (want is None or args[0].decode(errors="replace") == want):
        return pid
    return None


def start(name, argv, env=None):
    """Start a background process in its own session; log to .lab/logs/NAME.log."""
    LOGS.mkdir(parents=True, exist_ok=True)
    RUN.mkdir(parents=True, exist_ok=True)
    logf = open(LOGS / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child, closed below
    logf.write(f"\n---- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(map(str, argv))}\n".encode())
    logf.flush()
    p = subprocess.Popen(
        [str(a) for a in argv],
        stdin=subprocess.DEVNULL,
        stdout=logf,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=True,
        env=env,
        cwd=str(LAB),
    )
    logf.close()
    write(RUN / f"{name}.pid", f"{p.pid}\n")
    write(RUN / f"{name}.exe", f"{argv[0]}\n")
    return p.pid


def stop_pid(pid, name, sig=signal.SIGTERM, timeout=20.0):
    """Send sig (None: already signalled, just wait), wait up to timeout, then SIGKILL."""
    if not pid_alive(pid):
        return
    try:
        if sig is not None:
            os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            reap(pid)
            return
        time.sleep(0.1)
    info(f"{name} (pid {pid}) did not stop in {timeout:.0f}s: SIGKILL")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        if not pid_alive(pid):
            break
        time.sleep(0.1)
    reap(pid)


def reap(pid):
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_for(what, fn, timeout, interval=0.5, logfile=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if fn():
                return
        except Exception as e:
            last = e
        time.sleep(interval)
    msg = f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last})" if last else "")
    if logfile:
        msg += f"\n--- last lines of {logfile}:\n{tail(logfile)}"
    die(msg)


def https_get(url, cafile=None, timeout=3.0):
    ctx = ssl.create_default_context(cafile=str(cafile)) if cafile else ssl._create_unverified_context()
    with urllib.request.urlopen(url, context=ctx, timeout=timeout) as r:
        return r.status, r.read().decode(errors="replace")


def http_ok(url, cafile=None):
    try:
        status, _ = https_get(url, cafile)
        return status == 200
    except Exception:
        return False


def tcp_open(host, port, timeout=1.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def kubectl(*args, input=None, check=True, timeout=60):
    return run(
        [K8S_BIN / "kubectl", "--kubeconfig", ADMIN_KUBECONFIG, *args],
        input=input,
        check=check,
        timeout=timeout,
    )


def ssh_cmd(ip, *remote):
    return [
        "ssh",
        "-i",
        SSH / "id_ed25519",
        "-o",
        f"UserKnownHostsFile={KNOWN_HOSTS}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=3",
        "-o",
        "LogLevel=ERROR",
        f"root@{ip}",
        *remote,
    ]


# ------------------------------------------------------------- prerequisites
def ensure_tools():
    need = {
        "openssl": "openssl",
        "ssh": "openssh-client",
        "ssh-keygen": "openssh-client",
        "ip": "iproute2",
        "systemd-nspawn": "systemd-container",
        "debootstrap": "debootstrap",
        "curl": "curl",
    }
    missing = sorted({pkg for tool, pkg in need.items() if shutil.which(tool) is None})
    if missing:
        log(f"apt-get install {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        p = run(["apt-get", "install", "-y", *missing], check=False, env=env, timeout=600)
        if p.returncode != 0:
            run(["apt-get", "update"], env=env, timeout=600)
            run(["apt-get", "install", "-y", *missing], env=env, timeout=600)


def ensure_built():
    bins = [K8S_BIN / b for b in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")]
    if (
        all(os.access(b, os.X_OK) for b in [*bins, ETCD_BIN, KWOK_BIN])
        and KWOK_STAGES.is_dir()
        and (ROOTFS / ".ksched-rootfs-complete").exists()
    ):
        return
    log("building binaries (lab/build.sh) and root filesystem (lab/rootfs.sh)")
    env = dict(
        os.environ,
        KSCHED_CACHE=str(CACHE),
        K8S_VERSION=K8S_VERSION,
        ETCD_VERSION=ETCD_VERSION,
        KWOK_VERSION=KWOK_VERSION,
    )
    for script in ("build.sh", "rootfs.sh"):
        p = subprocess.run(["bash", str(LAB_SRC / script)], env=env)
        if p.returncode != 0:
            die(f"lab/{script} failed")


# ----------------------------------------------------------------------- PKI
def openssl(*args, input=None):
    return run(["openssl", *args], input=input)


def ensure_ca():
    PKI.mkdir(parents=True, exist_ok=True)
    os.chmod(PKI, 0o700)
    if (PKI / "ca.crt").exists() and (PKI / "ca.key").exists():
        return
    log("creating lab CA (.lab/pki/ca.crt)")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", PKI / "ca.key")
    openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        PKI / "ca.key",
        "-sha256",
        "-days",
        "3650",
        "-subj",
        "/CN=ksched-lab-ca",
        "-out",
        PKI / "ca.crt",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    )
    os.chmod(PKI / "ca.key", 0o600)


def ensure_cert(name, subj, server_sans=None, client=True):
    crt, key = PKI / f"{name}.crt", PKI / f"{name}.key"
    if crt.exists() and key.exists():
        return
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
    os.chmod(key, 0o600)
    csr = PKI / f"{name}.csr"
    openssl("req", "-new", "-key", key, "-subj", subj, "-out", csr)
    eku = ",".join((["serverAuth"] if server_sans else []) + (["clientAuth"] if client else []))
    ext = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={eku}",
    ]
    if server_sans:
        ext.append("subjectAltName=" + ",".join(server_sans))
    extfile = PKI / f"{name}.ext"
    extfile.write_text("\n".join(ext) + "\n")
    openssl(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        PKI / "ca.crt",
        "-CAkey",
        PKI / "ca.key",
        "-CAcreateserial",
        "-days",
        "3650",
        "-sha256",
        "-extfile",
        extfile,
        "-out",
        crt,
    )
    csr.unlink()
    extfile.unlink()


def kubeconfig(path, user, crt, key, server=API_URL):
    import base64

    def b64(p):
        return base64.b64encode(Path(p).read_bytes()).decode()

    # JSON is valid YAML: no PyYAML needed
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {
                "name": "ksched-lab",
                "cluster": {"server": server, "certificate-authority-data": b64(PKI / "ca.crt")},
            }
        ],
        "users": [{"name": user, "user": {"client-certificate-data": b64(crt), "client-key-data": b64(key)}}],
        "contexts": [{"name": "ksched-lab", "context": {"cluster": "ksched-lab", "user": user}}],
        "current-context": "ksched-lab",
    }
    write(path, json.dumps(cfg, indent=2) + "\n", mode=0o600)


def ensure_pki():
    ensure_ca()
    sans = [
        f"IP:{HOST_IP}",
        "IP:127.0.0.1",
        f"IP:{SERVICE_IP}",
        "DNS:localhost",
        "DNS:kubernetes",
        "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc",
        "DNS:kubernetes.default.svc.cluster.local",
    ]
    ensure_cert("apiserver", "/CN=kube-apiserver", server_sans=sans, client=False)
    ensure_cert("admin", "/O=system:masters/CN=ksched-lab-admin")
    ensure_cert("kube-controller-manager", "/CN=system:kube-controller-manager")
    ensure_cert("kwok", "/O=system:masters/CN=ksched-lab-kwok")
    if not (PKI / "sa.key").exists():
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", PKI / "sa.key")
        os.chmod(PKI / "sa.key", 0o600)
        openssl("ec", "-in", PKI / "sa.key", "-pubout", "-out", PKI / "sa.pub")
    kubeconfig(ADMIN_KUBECONFIG, "ksched-lab-admin", PKI / "admin.crt", PKI / "admin.key")
    kubeconfig(
        RUN / "kube-controller-manager.kubeconfig",
        "system:kube-controller-manager",
        PKI / "kube-controller-manager.crt",
        PKI / "kube-controller-manager.key",
    )
    kubeconfig(RUN / "kwok.kubeconfig", "ksched-lab-kwok", PKI / "kwok.crt", PKI / "kwok.key")


# ----------------------------------------------------------------------- SSH
def ensure_ssh_keys():
    SSH.mkdir(parents=True, exist_ok=True)
    os.chmod(SSH, 0o700)
    if not (SSH / "id_ed25519").exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ksched-lab", "-f", SSH / "id_ed25519"])
    lines = []
    for name, ip in MASTERS:
        d = HOSTS / name
        d.mkdir(parents=True, exist_ok=True)
        if not (d / "ssh_host_ed25519_key").exists():
            run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    f"root@{name}",
                    "-f",
                    d / "ssh_host_ed25519_key",
                ]
            )
        if not (d / "machine-id").exists():
            write(d / "machine-id", os.urandom(16).hex() + "\n")
        kt, kb = (d / "ssh_host_ed25519_key.pub").read_text().split()[:2]
        lines.append(f"{name},{ip} {kt} {kb}")
    write(KNOWN_HOSTS, "\n".join(lines) + "\n")


# ------------------------------------------------------------------- network
def link_exists(name):
    return Path(f"/sys/class/net/{name}").exists()


def ensure_bridge():
    if not link_exists(BRIDGE):
        log(f"creating bridge {BRIDGE} {HOST_IP}/{PREFIX}")
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    addrs = run(["ip", "-o", "-4", "addr", "show", "dev", BRIDGE]).stdout
    if f"{HOST_IP}/{PREFIX}" not in addrs:
        run(["ip", "addr", "add", f"{HOST_IP}/{PREFIX}", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])


# ------------------------------------------------------------ control plane
def ensure_etcd():
    if read_pid("etcd") and http_ok(f"{ETCD_CLIENT}/health"):
        return
    log(f"starting etcd {ETCD_VERSION} on {ETCD_CLIENT}")
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
    wait_for("etcd /health", lambda: http_ok(f"{ETCD_CLIENT}/health"), 30, logfile=LOGS / "etcd.log")


def apiserver_ready():
    return http_ok(f"{API_URL}/readyz", PKI / "ca.crt")


def ensure_apiserver():
    if read_pid("kube-apiserver") and apiserver_ready():
        return
    log(f"starting kube-apiserver {K8S_VERSION} on {API_URL}")
    start(
        "kube-apiserver",
        [
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
            f"--cert-dir={RUN / 'apiserver-certs'}",
            "--profiling=false",
            "--v=1",
        ],
    )
    wait_for("kube-apiserver /readyz", apiserver_ready, 90, logfile=LOGS / "kube-apiserver.log")


def ensure_kcm():
    url = f"https://127.0.0.1:{KCM_PORT}/healthz"
    if read_pid("kube-controller-manager") and http_ok(url):
        return
    log("starting kube-controller-manager")
    kc = RUN / "kube-controller-manager.kubeconfig"
    start(
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
    )
    wait_for(
        "kube-controller-manager /healthz",
        lambda: http_ok(url),
        60,
        logfile=LOGS / "kube-controller-manager.log",
    )


def kwok_config():
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


def ensure_kwok():
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


def node_manifest(name):
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
        "spec": {},
        # status is honoured at create time; KWOK keeps allocatable/capacity as given
        "status": {"allocatable": NODE_ALLOCATABLE, "capacity": NODE_ALLOCATABLE},
    }


def filler_pod(node, cpu_m, mem_mi):
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


def ensure_nodes():
    existing = set(kubectl("get", "nodes", "-o", "name").stdout.split())
    items = [node_manifest(n) for n in WORKERS if f"node/{n}" not in existing]
    if items:
        log(f"creating nodes {', '.join(i['metadata']['name'] for i in items)}")
        kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
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

    def schedulable():
        nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
        ok = {}
        for n in nodes:
            name = n["metadata"]["name"]
            ready = any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in n.get("status", {}).get("conditions", [])
            )
            bad_taints = [
                t for t in n["spec"].get("taints", []) if t["effect"] in ("NoSchedule", "NoExecute")
            ]
            ok[name] = ready and not bad_taints and not n["spec"].get("unschedulable")
        return all(ok.get(w) for w in WORKERS)

    wait_for(
        "worker nodes Ready without NoSchedule taints", schedulable, 90, interval=1, logfile=LOGS / "kwok.log"
    )


# ------------------------------------------------------------------- masters
def mounted(path):
    path = str(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


def master_dirs(name):
    d = MACHINES / name
    return d, d / "upper", d / "work", d / "root"


def mount_overlay(upper, work, root):
    run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={ROOTFS},upperdir={upper},workdir={work}",
            root,
        ]
    )


def prepare_master(name, ip, keep_disk=False):
    d, upper, work, root = master_dirs(name)
    if keep_disk and upper.is_dir():
        # a master coming back from an outage keeps its disk, like a real host
        if not mounted(root):
            mount_overlay(upper, work, root)
        return
    if mounted(root):
        run(["umount", root])
    if d.exists():
        shutil.rmtree(d)  # fresh writable layer each time the lab starts a master
    for p in (upper, work, root):
        p.mkdir(parents=True)
    mount_overlay(upper, work, root)
    h = HOSTS / name
    write(root / "etc/hostname", f"{name}\n")
    write(root / "etc/machine-id", (h / "machine-id").read_text(), mode=0o444)
    hosts = ["127.0.0.1\tlocalhost", f"127.0.1.1\t{name}", f"{HOST_IP}\tksched-lab-host kubernetes"]
    hosts += [f"{mip}\t{mname}" for mname, mip in MASTERS if mname != name]
    write(root / "etc/hosts", "\n".join(hosts) + "\n")
    write(
        root / "etc/systemd/network/10-host0.network",
        f"[Match]\nName=host0\n\n[Network]\nAddress={ip}/{PREFIX}\n"
        "LinkLocalAddressing=no\nIPv6AcceptRA=no\nLLDP=no\nEmitLLDP=no\n",
    )
    (root / "etc/ssh").mkdir(parents=True, exist_ok=True)
    for f in (root / "etc/ssh").glob("ssh_host_*"):
        f.unlink()
    shutil.copyfile(h / "ssh_host_ed25519_key", root / "etc/ssh/ssh_host_ed25519_key")
    os.chmod(root / "etc/ssh/ssh_host_ed25519_key", 0o600)
    shutil.copyfile(h / "ssh_host_ed25519_key.pub", root / "etc/ssh/ssh_host_ed25519_key.pub")
    write(
        root / "etc/ssh/sshd_config.d/ksched-lab.conf",
        "HostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\n",
    )
    (root / "root/.ssh").mkdir(parents=True, exist_ok=True)
    os.chmod(root / "root/.ssh", 0o700)
    write(root / "root/.ssh/authorized_keys", (SSH / "id_ed25519.pub").read_text(), mode=0o600)
    # the lab CA, for checks from inside a master (the project installs its own copy)
    write(root / "etc/ksched-lab/ca.crt", (PKI / "ca.crt").read_text())


def master_up(name, ip):
    return read_pid(f"nspawn-{name}") is not None


def start_master(name, ip, keep_disk=False):
    prepare_master(name, ip, keep_disk)
    _, _, _, root = master_dirs(name)
    start(
        f"nspawn-{name}",
        [
            shutil.which("systemd-nspawn") or "/usr/bin/systemd-nspawn",
            f"--directory={root}",
            f"--machine={name}",
            f"--hostname={name}",
            "--boot",
            "--keep-unit",
            "--register=no",  # PID 1 here is not systemd: no machined, no scope
            f"--network-bridge={BRIDGE}",
            "--resolv-conf=off",
            "--timezone=off",
            "--link-journal=no",
            "--console=read-only",
        ],
    )


def ssh_ok(ip):
    if not tcp_open(ip, 22):
        return False
    return run(ssh_cmd(ip, "true"), check=False, timeout=15).returncode == 0


def ensure_masters():
    todo = [(n, ip) for n, ip in MASTERS if not master_up(n, ip)]
    for n, ip in todo:
        log(f"booting {n} ({ip})")
        start_master(n, ip)
    for n, ip in MASTERS:
        wait_for(
            f"sshd on {n} ({ip})",
            lambda ip=ip: ssh_ok(ip),
            90,
            interval=0.5,
            logfile=LOGS / f"nspawn-{n}.log",
        )
    # the masters must reach the API server (verified with the lab CA)
    for n, ip in MASTERS:
        p = run(
            ssh_cmd(
                ip,
                "curl",
                "-sS",
                "--max-time",
                "5",
                "--cacert",
                "/etc/ksched-lab/ca.crt",
                f"{API_URL}/healthz",
            ),
            check=False,
            timeout=20,
        )
        if p.stdout.strip() != "ok":
            die(f"{n} cannot reach {API_URL}/healthz: {p.stdout}{p.stderr}")


# --------------------------------------------------------------------- facts
def write_facts():
    facts = {
        "lab_dir": str(LAB),
        "cache_dir": str(CACHE),
        "k8s_version": K8S_VERSION,
        "etcd_version": ETCD_VERSION,
        "kwok_version": KWOK_VERSION,
        "binaries": {
            "kube-apiserver": str(K8S_BIN / "kube-apiserver"),
            "kube-controller-manager": str(K8S_BIN / "kube-controller-manager"),
            "kube-scheduler": str(K8S_BIN / "kube-scheduler"),
            "kubectl": str(K8S_BIN / "kubectl"),
            "etcd": str(ETCD_BIN),
            "kwok": str(KWOK_BIN),
        },
        "api_server": {
            "url": API_URL,
            "host": HOST_IP,
            "port": API_PORT,
            "service_cluster_ip_range": SERVICE_CIDR,
            "kubernetes_service_ip": SERVICE_IP,
        },
        "network": {"bridge": BRIDGE, "host_ip": HOST_IP, "cidr": f"{HOST_IP.rsplit('.', 1)[0]}.0/{PREFIX}"},
        "pki": {
            "ca_crt": str(PKI / "ca.crt"),
            "ca_key": str(PKI / "ca.key"),
            "admin_kubeconfig": str(ADMIN_KUBECONFIG),
        },
        "ssh": {
            "user": "root",
            "private_key": str(SSH / "id_ed25519"),
            "public_key": str(SSH / "id_ed25519.pub"),
            "known_hosts": str(KNOWN_HOSTS),
        },
        "masters": [
            {
                "name": n,
                "ip": ip,
                "ssh_port": 22,
                "host_key_pub": str(HOSTS / n / "ssh_host_ed25519_key.pub"),
                "host_key_type": "ssh-ed25519",
                "host_key": (HOSTS / n / "ssh_host_ed25519_key.pub").read_text().split()[1],
            }
            for n, ip in MASTERS
        ],
        "workers": [
            {
                "name": w,
                "allocatable": NODE_ALLOCATABLE,
                "labels": WORKER_LABELS.get(w, {}),
                "filler_requests": (
                    {"cpu": f"{FILLERS[w][0]}m", "memory": f"{FILLERS[w][1]}Mi"} if w in FILLERS else {}
                ),
            }
            for w in WORKERS
        ],
        "filler_namespace": FILLER_NS,
        "most_allocated_node": MOST_ALLOCATED_NODE,
        "least_allocated_node": LEAST_ALLOCATED_NODE,
        "least_allocated_node_among_worker_1_3": LEAST_ALLOCATED_NODE_AMONG_1_3,
        "nodes_kept_schedulable_by": (
            "kwok node leases (node lifecycle controller removes the not-ready taint)"
        ),
    }
    write(FACTS, json.dumps(facts, indent=2) + "\n")


# ------------------------------------------------------------------ commands
def cmd_up():
    if os.geteuid() != 0:
        die("lab/lab.sh up needs root (bridge, overlay mounts, systemd-nspawn)")
    for d in (LAB, LOGS, RUN, HOSTS, MACHINES):
        d.mkdir(parents=True, exist_ok=True)
    ensure_tools()
    ensure_built()
    ensure_pki()
    ensure_ssh_keys()
    ensure_bridge()
    ensure_etcd()
    ensure_apiserver()
    ensure_kcm()
    ensure_kwok()
    ensure_nodes()
    ensure_masters()
    # the binary the dev stack uploads (bareMetal.binary.localFile), at a path the repo can name
    (LAB / "bin").mkdir(exist_ok=True)
    link = LAB / "bin" / "kube-scheduler"
    if not link.is_symlink() or os.readlink(link) != str(K8S_BIN / "kube-scheduler"):
        link.unlink(missing_ok=True)
        link.symlink_to(K8S_BIN / "kube-scheduler")
    write_facts()
    log(f"lab up: {API_URL}, kubeconfig {ADMIN_KUBECONFIG}, facts {FACTS}")


# programs a leftover scan may stop (never e.g. an ssh or tail that merely mentions .lab/)
LAB_PROGRAMS = {
    "kube-scheduler",
    "kube-apiserver",
    "kube-controller-manager",
    "etcd",
    "kwok",
    "systemd-nspawn",
    "kubectl",
}


def lab_processes():
    """pids of processes that belong to this lab: recorded pids plus any LAB_PROGRAMS process whose
    command line refers to the lab state dir (e.g. a kube-scheduler a test started with a .lab config)."""
    pids = {}
    if RUN.exists():
        for f in RUN.glob("*.pid"):
            pid = read_pid(f.stem)
            if pid:
                pids[pid] = f.stem
    me = os.getpid()
    marker = str(LAB).encode() + b"/"
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (me, os.getppid()):
            continue
        args = cmdline(int(entry))
        if (
            args
            and os.path.basename(args[0].decode(errors="replace")) in LAB_PROGRAMS
            and any(marker in a for a in args)
            and pid_alive(int(entry))
        ):
            pids.setdefault(int(entry), os.path.basename(args[0].decode(errors="replace")))
    return pids


def cmd_down():
    if os.geteuid() != 0:
        die("lab/lab.sh down needs root")
    # the in-cluster scheduler "pods" (lab/incluster.py): processes, network namespaces, veths
    run([sys.executable, str(Path(__file__).with_name("incluster.py")), "stop"], check=False, timeout=60)
    stopped = [pid for pid in lab_processes()]
    # masters first (SIGTERM to systemd-nspawn = orderly poweroff of the container)
    for n, _ in MASTERS:
        pid = read_pid(f"nspawn-{n}")
        if pid:
            log(f"powering off {n}")
            os.kill(pid, signal.SIGTERM)
    for n, _ in MASTERS:
        pid = read_pid(f"nspawn-{n}")
        if pid:
            # no second SIGTERM: nspawn takes that as "terminate immediately"
            stop_pid(pid, f"nspawn-{n}", sig=None, timeout=30)
    # API clients first (e.g. a kube-scheduler a test started with a .lab config): while they hold
    # watches the API server's graceful shutdown takes much longer
    core = {read_pid(n) for n in ("kwok", "kube-controller-manager", "kube-apiserver", "etcd")}
    for pid, name in lab_processes().items():
        if pid not in core:
            log(f"stopping leftover {name} (pid {pid})")
            stop_pid(pid, name, timeout=10)
    for name in ("kwok", "kube-controller-manager", "kube-apiserver", "etcd"):
        pid = read_pid(name)
        if pid:
            log(f"stopping {name} (pid {pid})")
            stop_pid(pid, name)
    for pid, name in lab_processes().items():
        log(f"stopping leftover {name} (pid {pid})")
        stop_pid(pid, name, timeout=10)
    # mounts under the lab dir, deepest first
    with open("/proc/self/mounts") as f:
        mps = [line.split()[1] for line in f if line.split()[1].startswith(str(LAB) + "/")]
    for mp in sorted(mps, key=len, reverse=True):
        log(f"unmounting {mp}")
        if run(["umount", mp], check=False).returncode != 0:
            run(["umount", "-l", mp], check=False)
    for n, _ in MASTERS:
        for link in (f"vb-{n}", f"ve-{n}"):
            if link_exists(link):
                run(["ip", "link", "del", link], check=False)
    if link_exists(BRIDGE):
        log(f"removing bridge {BRIDGE}")
        run(["ip", "link", "del", BRIDGE], check=False)
    for d in [MACHINES, ETCD_DATA, RUN] + [Path("/run/systemd/nspawn/propagate") / n for n, _ in MASTERS]:
        if d.exists():
            shutil.rmtree(d, ignore_errors=True)
    # Our processes were reparented to PID 1, which reaps them a little later: wait for that so
    # that `ps` right after `down` shows no <defunct> lab process either.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in stopped):
        time.sleep(0.2)
    zombies = [p for p in stopped if Path(f"/proc/{p}").exists()]
    if zombies:
        info(f"note: exited but not yet reaped by PID 1: {zombies}")
    # verify
    problems = []
    left = lab_processes()
    if left:
        problems.append(f"processes: {left}")
    with open("/proc/self/mounts") as f:
        mps = [line.split()[1] for line in f if line.split()[1].startswith(str(LAB) + "/")]
    if mps:
        problems.append(f"mounts: {mps}")
    links = [link for link in os.listdir("/sys/class/net") if link == BRIDGE or link.startswith("vb-master-")]
    if links:
        problems.append(f"links: {links}")
    if problems:
        die("down left: " + "; ".join(problems))
    kept = ".lab/pki, .lab/ssh, .lab/hosts, facts.json, logs"
    log(f"lab down: no lab process, mount or link left (kept: {kept})")


def cmd_status():
    rc = 0
    print(f"lab dir: {LAB}")
    for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kwok"):
        pid = read_pid(name)
        print(f"  {name:26s} {'running pid ' + str(pid) if pid else 'NOT running'}")
    ready = (PKI / "ca.crt").exists() and apiserver_ready()
    print(f"API server {API_URL}/readyz: {'ok' if ready else 'NOT ready'}")
    if not ready:
        rc = 1
    if ready:
        nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
        pods = json.loads(kubectl("get", "pods", "-A", "-o", "json").stdout)["items"]
        print("nodes:")
        for n in nodes:
            name = n["metadata"]["name"]
            st = n.get("status", {})
            alloc = st.get("allocatable", {})
            ready_c = next((c["status"] for c in st.get("conditions", []) if c["type"] == "Ready"), "?")
            taints = ",".join(f"{t['key']}:{t['effect']}" for t in n["spec"].get("taints", [])) or "-"
            cpu_req = mem_req = 0
            for p in pods:
                if p["spec"].get("nodeName") == name and p["status"].get("phase") not in (
                    "Succeeded",
                    "Failed",
                ):
                    for c in p["spec"]["containers"]:
                        r = c.get("resources", {}).get("requests", {})
                        cpu_req += parse_cpu(r.get("cpu", "0"))
                        mem_req += parse_mem(r.get("memory", "0"))
            labels = n["metadata"].get("labels", {})
            extra = (
                " nodepool=" + labels["karpenter.sh/nodepool"] if "karpenter.sh/nodepool" in labels else ""
            )
            print(
                f"  {name:10s} Ready={ready_c:5s} cpu={alloc.get('cpu')} mem={alloc.get('memory')} "
                f"pods={alloc.get('pods')} requested cpu={cpu_req}m mem={mem_req // (1 << 20)}Mi "
                f"taints={taints}{'' if not n['spec'].get('unschedulable') else ' UNSCHEDULABLE'}{extra}"
            )
    print("masters:")
    for n, ip in MASTERS:
        pid = read_pid(f"nspawn-{n}")
        sshd = ssh_ok(ip) if pid and KNOWN_HOSTS.exists() else False
        state = (
            run(ssh_cmd(ip, "systemctl", "is-system-running"), check=False, timeout=15).stdout.strip()
            if sshd
            else "-"
        )
        print(
            f"  {n} {ip}: {'nspawn pid ' + str(pid) if pid else 'NOT running'}, "
            f"sshd {'ok' if sshd else 'NOT reachable'}, system {state}"
        )
        if not sshd:
            rc = 1
    return rc


def parse_cpu(v):
    v = str(v)
    return int(v[:-1]) if v.endswith("m") else int(float(v) * 1000)


def parse_mem(v):
    v = str(v)
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "k": 10**3, "M": 10**6, "G": 10**9}
    for u, m in units.items():
        if v.endswith(u):
            return int(float(v[: -len(u)]) * m)
    return int(float(v))


def cmd_stop_master(name):
    """Power a master off (an outage); its disk is kept for start-master."""
    pid = read_pid(f"nspawn-{name}")
    if pid:
        log(f"powering off {name} (disk kept)")
        os.kill(pid, signal.SIGTERM)
        stop_pid(pid, f"nspawn-{name}", sig=None, timeout=30)
    root = master_dirs(name)[3]
    if mounted(root):
        run(["umount", root])
    for link in (f"vb-{name}", f"ve-{name}"):
        if link_exists(link):
            run(["ip", "link", "del", link], check=False)


def cmd_start_master(name):
    """Boot a master that stop-master powered off, with the disk it had."""
    ip = dict(MASTERS)[name]
    if not master_up(name, ip):
        log(f"booting {name} ({ip}) with its disk")
        start_master(name, ip, keep_disk=True)
    wait_for(
        f"sshd on {name} ({ip})", lambda: ssh_ok(ip), 90, interval=0.5, logfile=LOGS / f"nspawn-{name}.log"
    )


def cmd_restart_apiserver():
    """Stop and start kube-apiserver (same flags, same etcd)."""
    pid = read_pid("kube-apiserver")
    if pid:
        log(f"stopping kube-apiserver (pid {pid})")
        stop_pid(pid, "kube-apiserver")
    ensure_apiserver()


def main(argv):
    masters = dict(MASTERS)
    if len(argv) == 3 and argv[1] in ("stop-master", "start-master") and argv[2] in masters:
        (cmd_stop_master if argv[1] == "stop-master" else cmd_start_master)(argv[2])
        return 0
    if len(argv) == 2 and argv[1] == "restart-apiserver":
        cmd_restart_apiserver()
        return 0
    if len(argv) != 2 or argv[1] not in ("up", "down", "status"):
        usage = "usage: lab/lab.sh up|down|status|restart-apiserver|stop-master NAME|start-master NAME"
        print(__doc__.split("\n\n")[0] + "\n\n" + usage, file=sys.stderr)
        return 2
    if argv[1] == "up":
        cmd_up()
        return 0
    if argv[1] == "down":
        cmd_down()
        return 0
    return cmd_status()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
