"""What a real node's disk holds besides the rootfs: containerd, CNI, kubelet and kube-proxy
configuration, their kubeconfigs and certificates, and the units that start them. Rendered from
the lab's settings and written at every boot, so that they follow its version and certificates
(why each setting: docs/sources.md#lab-kubelet, #lab-containerd, #lab-nspawn-nodes)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ksched_lab.pki import kubeconfig_json
from ksched_lab.settings import (
    HOST_IP,
    IMAGES,
    K8S_VERSION,
    NODE_ALLOCATABLE_CPU_M,
    NODE_ALLOCATABLE_MEMORY_MI,
    NODE_MAX_PODS,
    NODE_POD_CIDRS,
    PAUSE_IMAGE,
    PKI,
    SERVICE_CIDR,
)
from ksched_lab.util import write

ETC = "etc/kubernetes"


def cgroup_root(name: str) -> str:
    """The node's kubelet cgroupRoot: its own, as the v1 hierarchies are shared with this machine."""
    return f"ksched-{name}"


def toml(table: dict[str, Any], prefix: str = "") -> str:
    """The few TOML shapes containerd's config needs: nested tables of strings, bools, ints."""
    lines, subtables = [], []
    for key, value in table.items():
        if isinstance(value, dict):
            subtables.append((key, value))
        elif isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, sub in subtables:
        name = f"{prefix}.{json.dumps(key) if '.' in key else key}" if prefix else key
        out += f"\n[{name}]\n" + toml(sub, name)
    return out


def containerd_config() -> str:
    cri = {
        "sandbox_image": PAUSE_IMAGE,
        # root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj (docs/sources.md#lab-containerd)
        "restrict_oom_score_adj": True,
        "containerd": {"runtimes": {"runc": {"runtime_type": "io.containerd.runc.v2"}}},
        "cni": {"bin_dir": "/usr/lib/cni", "conf_dir": "/etc/cni/net.d"},
    }
    return "version = 2\n\n" + toml({"plugins": {"io.containerd.grpc.v1.cri": cri}})


def cni_config(cidr: str) -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "name": "ksched-lab",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": True,  # pods reach the API server as their node
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            }
        ],
    }


def machine_capacity() -> tuple[int, int]:
    """This machine's (cpu millicores, memory MiB): what every kubelet here sees."""
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_ki = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    return (os.cpu_count() or 1) * 1000, mem_ki // 1024


def kubelet_config(name: str) -> dict[str, Any]:
    cpu_m, mem_mi = machine_capacity()
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": f"/{ETC}/pki/ca.crt"},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": f"/{ETC}/pki/kubelet.crt",
        "tlsPrivateKeyFile": f"/{ETC}/pki/kubelet.key",
        "readOnlyPort": 0,
        "containerRuntimeEndpoint": "unix:///run/containerd/containerd.sock",
        # cgroup v1 here, driven directly (PID 1 of this machine is not systemd)
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/{cgroup_root(name)}",
        "failCgroupV1": False,
        "failSwapOn": False,
        "maxPods": NODE_MAX_PODS,
        # allocatable = what this lab gives each node; the rest of the machine is reserved
        "systemReserved": {
            "cpu": f"{max(cpu_m - NODE_ALLOCATABLE_CPU_M, 0)}m",
            "memory": f"{max(mem_mi - NODE_ALLOCATABLE_MEMORY_MI, 0)}Mi",
        },
        "enforceNodeAllocatable": ["pods"],
        "evictionHard": {},
        # no registry to pull from again: never collect the imported images
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
    }


def kube_proxy_config(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": f"/{ETC}/kube-proxy.kubeconfig"},
        "mode": "iptables",
        "clusterCIDR": NODE_POD_CIDRS,
        "hostnameOverride": name,
        # leave the conntrack sysctls alone (shared with this machine or read-only here)
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        "iptables": {"localhostNodePorts": False},
        "metricsBindAddress": "127.0.0.1:10249",
        "healthzBindAddress": "0.0.0.0:10256",
    }


def unit(
    description: str, exec_start: str, after: str, oneshot: bool = False, extra: tuple[str, ...] = ()
) -> str:
    service = (
        [("Type", "oneshot"), ("RemainAfterExit", "yes")]
        if oneshot
        else [("Restart", "always"), ("RestartSec", "2s")]
    )
    lines = [
        "[Unit]",
        f"Description={description}",
        f"After={after}",
        f"Wants={after}",
        *extra,
        "",
        "[Service]",
        f"ExecStart={exec_start}",
        *(f"{k}={v}" for k, v in service),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def prepare_script(name: str) -> str:
    """Runs inside the node before containerd: what its kubelet needs from the machine."""
    lines = [
        "#!/bin/sh",
        "set -eu",
        "for h in /sys/fs/cgroup/*/; do",
        '  [ "$(basename "$h")" = unified ] && continue',
        # mounted read-only by nspawn; a plain remount fails "busy"
        '  mount -o remount,bind,rw "$h" "$h"',
        f'  mkdir -p "${{h}}{cgroup_root(name)}"',
        "done",
        "[ -e /dev/kmsg ] || mknod /dev/kmsg c 1 11",
        "mkdir -p /var/log/containers",
    ]
    return "\n".join(lines) + "\n"


def node_units(name: str, ip: str) -> dict[str, str]:
    return {
        "ksched-node-prepare.service": unit(
            "cgroups and /dev/kmsg for the kubelet",
            "/usr/local/sbin/ksched-node-prepare",
            "local-fs.target",
            oneshot=True,
            extra=("Before=containerd.service",),
        ),
        "ksched-import-images.service": unit(
            "images built by the lab (no registry)",
            "/usr/local/sbin/ksched-import-images",
            "containerd.service",
            oneshot=True,
            extra=("Requires=containerd.service",),
        ),
        "kubelet.service": unit(
            f"kubelet {K8S_VERSION}",
            f"/usr/local/bin/kubelet --config=/{ETC}/kubelet-config.json "
            f"--kubeconfig=/{ETC}/kubelet.kubeconfig --node-ip={ip} --hostname-override={name} "
            "--node-labels=ksched-lab/node=real --v=1",
            "ksched-import-images.service",
        ),
        "kube-proxy.service": unit(
            f"kube-proxy {K8S_VERSION}",
            f"/usr/local/bin/kube-proxy --config=/{ETC}/kube-proxy.json --v=1",
            "network-online.target",
        ),
    }


def write_node_files(root: Path, name: str, ip: str, cidr: str) -> None:
    """Everything above, onto the node's mounted disk at `root`."""
    etc = root / ETC
    for src, dst, mode in (
        ("ca.crt", "pki/ca.crt", 0o644),
        (f"{name}-serving.crt", "pki/kubelet.crt", 0o644),
        (f"{name}-serving.key", "pki/kubelet.key", 0o600),
    ):
        write(etc / dst, (PKI / src).read_text(), mode=mode)
    kubelet_user = kubeconfig_json(
        f"system:node:{name}", PKI / f"{name}-kubelet.crt", PKI / f"{name}-kubelet.key"
    )
    write(etc / "kubelet.kubeconfig", kubelet_user, mode=0o600)
    proxy_user = kubeconfig_json("system:kube-proxy", PKI / "kube-proxy.crt", PKI / "kube-proxy.key")
    write(etc / "kube-proxy.kubeconfig", proxy_user, mode=0o600)
    write(etc / "kubelet-config.json", json.dumps(kubelet_config(name), indent=1) + "\n")
    write(etc / "kube-proxy.json", json.dumps(kube_proxy_config(name), indent=1) + "\n")
    write(root / "etc/containerd/config.toml", containerd_config())
    write(root / "etc/cni/net.d/10-ksched-lab.conflist", json.dumps(cni_config(cidr), indent=1) + "\n")
    # the Service range through this machine (kube-proxy DNATs it; the route makes it routable)
    write(
        root / "etc/systemd/network/10-host0.network",
        f"[Match]\nName=host0\n\n[Network]\nAddress={ip}/24\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n"
        f"LLDP=no\nEmitLLDP=no\n\n[Route]\nDestination={SERVICE_CIDR}\nGateway={HOST_IP}\n",
    )
    write(root / "usr/local/sbin/ksched-node-prepare", prepare_script(name), mode=0o755)
    imports = " ".join(f"/var/lib/ksched-images/{f}" for f in sorted(p.name for p in IMAGES.glob("*.tar")))
    write(
        root / "usr/local/sbin/ksched-import-images",
        f'#!/bin/sh\nset -eu\nfor f in {imports}; do ctr -n k8s.io images import "$f"; done\n',
        mode=0o755,
    )
    units = node_units(name, ip)
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    for unit_name, text in units.items():
        write(root / "etc/systemd/system" / unit_name, text)
    for unit_name in [*units, "containerd.service"]:
        link = wants / unit_name
        target = (
            f"/etc/systemd/system/{unit_name}" if unit_name in units else f"/lib/systemd/system/{unit_name}"
        )
        if not link.is_symlink():
            link.symlink_to(target)
