"""The lab's fixed facts: where its state and binaries live, versions, addresses, machines."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAB_SRC = REPO / "lab"
LAB = Path(os.environ.get("KSCHED_LAB_DIR", REPO / ".lab")).resolve()
CACHE = Path(
    os.environ.get("KSCHED_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ksched"
)

K8S_VERSION = os.environ.get("K8S_VERSION", "v1.37.2")
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
# the CA the cluster data was made with: a new CA needs a new cluster (lab reset)
CLUSTER_ID = LAB / "cluster-ca.sha256"
ADMIN_KUBECONFIG = LAB / "admin.kubeconfig"
KNOWN_HOSTS = SSH / "known_hosts"
FACTS = LAB / "facts.json"
