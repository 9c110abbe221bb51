"""facts.json: what the project and the tests read about the running lab."""

from __future__ import annotations

import json

from ksched_lab.images import scheduler_image_name
from ksched_lab.settings import (
    ADMIN_KUBECONFIG,
    API_PORT,
    API_URL,
    BRIDGE,
    CACHE,
    ETCD_BIN,
    ETCD_VERSION,
    FACTS,
    FILLER_NS,
    FILLERS,
    HOST_IP,
    HOSTS,
    K8S_BIN,
    K8S_VERSION,
    KNOWN_HOSTS,
    KWOK_BIN,
    KWOK_TAINT,
    KWOK_VERSION,
    LAB,
    LEAST_ALLOCATED_NODE,
    LEAST_ALLOCATED_NODE_AMONG_1_3,
    MASTERS,
    MOST_ALLOCATED_NODE,
    NODE_ALLOCATABLE,
    NODE_ALLOCATABLE_CPU_M,
    NODE_ALLOCATABLE_MEMORY_MI,
    NODES,
    PAUSE_IMAGE,
    PKI,
    PREFIX,
    SERVICE_CIDR,
    SERVICE_IP,
    SSH,
    WORKER_LABELS,
    WORKERS,
)
from ksched_lab.util import write


def write_facts() -> None:
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
            "kubelet": str(K8S_BIN / "kubelet"),
            "kube-proxy": str(K8S_BIN / "kube-proxy"),
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
        "kwok_taint": KWOK_TAINT,
        "nodes": [
            {
                "name": n,
                "ip": ip,
                "pod_cidr": cidr,
                "host_key_pub": str(HOSTS / n / "ssh_host_ed25519_key.pub"),
                "allocatable": {
                    "cpu": f"{NODE_ALLOCATABLE_CPU_M}m",
                    "memory": f"{NODE_ALLOCATABLE_MEMORY_MI}Mi",
                },
            }
            for n, ip, cidr in NODES
        ],
        "images": [scheduler_image_name(), PAUSE_IMAGE],
        "filler_namespace": FILLER_NS,
        "most_allocated_node": MOST_ALLOCATED_NODE,
        "least_allocated_node": LEAST_ALLOCATED_NODE,
        "least_allocated_node_among_worker_1_3": LEAST_ALLOCATED_NODE_AMONG_1_3,
        "nodes_kept_schedulable_by": (
            "kwok node leases (node lifecycle controller removes the not-ready taint)"
        ),
    }
    write(FACTS, json.dumps(facts, indent=2) + "\n")
