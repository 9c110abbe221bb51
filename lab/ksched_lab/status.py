"""`lab.sh status`: what runs and how healthy it is."""

from __future__ import annotations

import json

from ksched_lab.control_plane import apiserver_ready
from ksched_lab.machines import ALL, ssh_ok
from ksched_lab.settings import API_URL, KNOWN_HOSTS, LAB, PKI
from ksched_lab.util import kubectl, read_pid, run, ssh_cmd


def cmd_status() -> int:
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
    print("machines (masters, then real nodes):")
    for n, ip in ALL:
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


def parse_cpu(quantity: object) -> int:
    v = str(quantity)
    return int(v[:-1]) if v.endswith("m") else int(float(v) * 1000)


def parse_mem(quantity: object) -> int:
    v = str(quantity)
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "k": 10**3, "M": 10**6, "G": 10**9}
    for u, m in units.items():
        if v.endswith(u):
            return int(float(v[: -len(u)]) * m)
    return int(float(v))
