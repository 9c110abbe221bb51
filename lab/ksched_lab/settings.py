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

DEFAULT_K8S_VERSION = "v1.37.2"  # the newest release the Go module proxy serves


def _k8s_version() -> str:
    """K8S_VERSION if given; else the version this lab's cluster runs; else the newest."""
    if os.environ.get("K8S_VERSION"):
        return "v" + os.environ["K8S_VERSION"].removeprefix("v")
    recorded = LAB / "cluster-version"
    return recorded.read_text().strip() if recorded.exists() else DEFAULT_K8S_VERSION


K8S_VERSION = _k8s_version()
ETCD_VERSION = os.environ.get("ETCD_VERSION", "v3.6.16")
KWOK_VERSION = os.environ.get("KWOK_VERSION", "v0.8.0")
K8S_BIN = CACHE / "k8s" / K8S_VERSION / "bin"
ETCD_BIN = CACHE / "etcd" / ETCD_VERSION / "bin" / "etcd"
KWOK_BIN = CACHE / "kwok" / KWOK_VERSION / "bin" / "kwok"
KWOK_STAGES = CACHE / "go" / "mod" / "sigs.k8s.io" / f"kwok@{KWOK_VERSION}" / "kustomize" / "stage"
# what lab/rootfs.sh built last; each machine keeps the one its disk was made on
ROOTFS = CACHE / "rootfs" / "current"

BRIDGE = "ksched0"
# Set, not inherited: an unset bridge address follows its lowest port's, so a machine powering off
# could change it, and its neighbours' ARP entries for the API server went stale for ~40 s.
BRIDGE_MAC = "02:6b:73:63:68:01"
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

# Real worker nodes: kubelet + containerd + kube-proxy, each in its own nspawn machine on the
# bridge, with its own pod range (bridge CNI, host-local IPAM).
NODES = [(f"node-{i}", f"10.231.0.3{i}", f"10.231.{63 + i}.0/24") for i in (1, 2, 3)]
NODE_POD_CIDRS = "10.231.64.0/18"
# Allocatable per node (the kubelet reserves the rest of this machine's capacity), small enough
# that a handful of pods fills a node: MostAllocated placement is visible.
NODE_ALLOCATABLE_CPU_M = 1500
NODE_ALLOCATABLE_MEMORY_MI = 3072
NODE_MAX_PODS = 20
PAUSE_VERSION = "3.10.2"  # kubeadm's pause for 1.37 (cmd/kubeadm/app/constants)
PAUSE_IMAGE = f"registry.k8s.io/pause:{PAUSE_VERSION}"
# What kubelet and containerd need from the machine's sysctls (inside a node /proc/sys is
# read-only): set before the nodes start, restored by down.
NODE_SYSCTLS = {
    "vm.overcommit_memory": "1",
    "kernel.panic": "10",
    "kernel.panic_on_oops": "1",
    "net.ipv4.ip_forward": "1",
}
# KWOK workers carry this taint: nothing lands there unless it tolerates it (tests that want many
# fake nodes say so); what the program deploys runs on real nodes.
KWOK_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}

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
IMAGES = LAB / "images"
NODE_STATE = LAB / "nodes"  # per node: containerd and kubelet state on this machine's ext4
ETCD_DATA = LAB / "etcd"
# the CA the cluster data was made with: a new CA needs a new cluster (lab reset)
CLUSTER_ID = LAB / "cluster-ca.sha256"
CLUSTER_VERSION = LAB / "cluster-version"  # the Kubernetes version its API server last ran
ADMIN_KUBECONFIG = LAB / "admin.kubeconfig"
KNOWN_HOSTS = SSH / "known_hosts"
NODE_SYSCTLS_SAVED = RUN / "sysctl-before-nodes.json"  # this machine's values, for down
FACTS = LAB / "facts.json"
