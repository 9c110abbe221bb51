"""Real worker nodes: kubelet, containerd, runc, the bridge CNI plugin and kube-proxy, each node in
its own nspawn machine on the lab bridge (see /work/shared/notes/nodes.md for why each setting).

What a node changes on this machine, and `down` undoes: the kubelet's sysctls (NODE_SYSCTLS,
restored to what they were), its cgroups (`ksched-<node>` in every v1 hierarchy), routes to the
pod ranges (on the bridge, gone with it), and its state under .lab/nodes/<node> (kept, like a
disk; `reset` wipes it).
"""

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
from pathlib import Path

from ksched_lab.images import ensure_images
from ksched_lab.machines import boot, install_disk, is_up, power_off, runs_as_booted, wait_ssh
from ksched_lab.settings import (
    API_URL,
    BRIDGE,
    HOST_IP,
    IMAGES,
    K8S_BIN,
    K8S_VERSION,
    NODE_ALLOCATABLE_CPU_M,
    NODE_ALLOCATABLE_MEMORY_MI,
    NODE_MAX_PODS,
    NODE_POD_CIDRS,
    NODE_STATE,
    NODE_SYSCTLS,
    NODES,
    PAUSE_IMAGE,
    PKI,
    RUN,
    SERVICE_CIDR,
)
from ksched_lab.util import (
    descendants,
    die,
    info,
    kubectl,
    log,
    pid_alive,
    read_pid,
    remove_cgroup_tree,
    run,
    wait_for,
    write,
)

CGROUP_ROOT = Path("/sys/fs/cgroup")
ETC = "etc/kubernetes"
SYSCTL_SAVED = RUN / "sysctl-before-nodes.json"


def cgroup_root(name):
    return f"ksched-{name}"


def v1_hierarchies():
    return [p for p in CGROUP_ROOT.iterdir() if p.is_dir() and p.name != "unified"]


# ------------------------------------------------------------------ this machine
def set_sysctls():
    saved = json.loads(SYSCTL_SAVED.read_text()) if SYSCTL_SAVED.exists() else {}
    for key, value in NODE_SYSCTLS.items():
        path = Path("/proc/sys") / key.replace(".", "/")
        current = path.read_text().strip()
        saved.setdefault(key, current)
        if current != value:
            path.write_text(value)
    write(SYSCTL_SAVED, json.dumps(saved) + "\n")


def restore_sysctls():
    if not SYSCTL_SAVED.exists():
        return
    for key, value in json.loads(SYSCTL_SAVED.read_text()).items():
        (Path("/proc/sys") / key.replace(".", "/")).write_text(value)
    SYSCTL_SAVED.unlink()
    log(f"restored sysctls {', '.join(NODE_SYSCTLS)}")


def remove_cgroups():
    """The nodes' kubelet cgroup roots (their processes are gone by then)."""
    return [
        d for h in v1_hierarchies() for name, _, _ in NODES for d in remove_cgroup_tree(h / cgroup_root(name))
    ]


def node_cgroups_left():
    return [
        str(h / cgroup_root(n))
        for h in v1_hierarchies()
        for n, _, _ in NODES
        if (h / cgroup_root(n)).exists()
    ]


# ------------------------------------------------------------------ node configuration
def toml(table, prefix=""):
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


def containerd_config():
    cri = {
        "sandbox_image": PAUSE_IMAGE,
        # root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj (nodes.md)
        "restrict_oom_score_adj": True,
        "containerd": {"runtimes": {"runc": {"runtime_type": "io.containerd.runc.v2"}}},
        "cni": {"bin_dir": "/usr/lib/cni", "conf_dir": "/etc/cni/net.d"},
    }
    return "version = 2\n\n" + toml({"plugins": {"io.containerd.grpc.v1.cri": cri}})


def cni_config(cidr):
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


def machine_capacity():
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_ki = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    return os.cpu_count() * 1000, mem_ki // 1024


def kubelet_config(name):
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
        # cgroup v1 here, driven directly (no systemd cgroup manager on this machine); the root is
        # per node because the v1 hierarchies are shared with this machine and the other nodes
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


def kube_proxy_config(name):
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


def kubeconfig_text(user, cert, key):
    import base64

    def b64(p):
        return base64.b64encode(Path(p).read_bytes()).decode()

    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "lab",
                    "cluster": {"server": API_URL, "certificate-authority-data": b64(PKI / "ca.crt")},
                }
            ],
            "users": [
                {"name": user, "user": {"client-certificate-data": b64(cert), "client-key-data": b64(key)}}
            ],
            "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": user}}],
            "current-context": "lab",
        },
        indent=1,
    )


def unit(description, exec_start, after, oneshot=False, extra=()):
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
    ]
    lines += [f"ExecStart={exec_start}", *(f"{k}={v}" for k, v in service), "", "[Install]"]
    lines.append("WantedBy=multi-user.target")
    return "\n".join(lines) + "\n"


def prepare_script(name):
    """Runs inside the node before containerd: what its kubelet needs from the machine."""
    root = cgroup_root(name)
    return (
        "\n".join(
            [
                "#!/bin/sh",
                "set -eu",
                "for h in /sys/fs/cgroup/*/; do",
                '  [ "$(basename "$h")" = unified ] && continue',
                # mounted read-only by nspawn; a plain remount fails "busy"
                '  mount -o remount,bind,rw "$h" "$h"',
                f'  mkdir -p "${{h}}{root}"',
                "done",
                "[ -e /dev/kmsg ] || mknod /dev/kmsg c 1 11",
                "mkdir -p /var/log/containers",
            ]
        )
        + "\n"
    )


def write_node_files(root, name, ip, cidr):
    """(Re)written at every boot: configs follow the lab's version and certificates."""
    etc = root / ETC
    for src, dst, mode in (
        ("ca.crt", "pki/ca.crt", 0o644),
        (f"{name}-serving.crt", "pki/kubelet.crt", 0o644),
        (f"{name}-serving.key", "pki/kubelet.key", 0o600),
    ):
        write(etc / dst, (PKI / src).read_text(), mode=mode)
    write(
        etc / "kubelet.kubeconfig",
        kubeconfig_text(f"system:node:{name}", PKI / f"{name}-kubelet.crt", PKI / f"{name}-kubelet.key"),
        mode=0o600,
    )
    write(
        etc / "kube-proxy.kubeconfig",
        kubeconfig_text("system:kube-proxy", PKI / "kube-proxy.crt", PKI / "kube-proxy.key"),
        mode=0o600,
    )
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
    units = {
        "ksched-node-prepare.service": unit(
            "cgroups and /dev/kmsg for the kubelet",
            "/usr/local/sbin/ksched-node-prepare",
            "local-fs.target",
            oneshot=True,
            extra=["Before=containerd.service"],
        ),
        "ksched-import-images.service": unit(
            "images built by the lab (no registry)",
            "/usr/local/sbin/ksched-import-images",
            "containerd.service",
            oneshot=True,
            extra=["Requires=containerd.service"],
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


def nspawn_args(name):
    state = NODE_STATE / name
    for d in ("containerd", "kubelet"):
        (state / d).mkdir(parents=True, exist_ok=True)
    return [
        # the kubelet reads /dev/kmsg; containerd needs keyrings for its containers
        "--capability=CAP_SYSLOG",
        "--system-call-filter=@keyring",
        # this machine's ext4: the overlayfs snapshotter cannot work on the overlay root
        f"--bind={state / 'containerd'}:/var/lib/containerd",
        f"--bind={state / 'kubelet'}:/var/lib/kubelet",
        f"--bind-ro={K8S_BIN / 'kubelet'}:/usr/local/bin/kubelet",
        f"--bind-ro={K8S_BIN / 'kube-proxy'}:/usr/local/bin/kube-proxy",
        f"--bind-ro={IMAGES}:/var/lib/ksched-images",
    ]


def node_ready(name):
    out = kubectl("get", "node", name, "-o", "json", check=False)
    if out.returncode != 0:
        return False
    node = json.loads(out.stdout)
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", [])
    )


def ensure_real_nodes():
    ensure_images()
    set_sysctls()
    booted = {}
    for name, ip, cidr in NODES:
        if is_up(name) and not runs_as_booted(name, nspawn_args(name)):
            log(f"node {name} runs another version: stopping it to boot it at {K8S_VERSION}")
            cmd_stop_node(name)
        if not is_up(name):
            log(f"booting node {name} ({ip}, pods {cidr})")
            root = install_disk(name, ip)
            write_node_files(root, name, ip, cidr)
            booted[name] = dt.datetime.now(dt.UTC).replace(microsecond=0)
            boot(name, nspawn_args(name))
        # pods on this node are reachable from this machine (e.g. kubelet probes are node-local;
        # tests and benchmarks read pod endpoints)
        run(["ip", "route", "replace", cidr, "via", ip, "dev", BRIDGE])
    for name, ip, _ in NODES:
        wait_ssh(name, ip)
        wait_for(f"node {name} Ready", lambda n=name: node_ready(n), 120, interval=1, logfile=None)
    if booted:
        # A cluster is back when its workloads are: the kubelets restart the pods they had.
        wait_for("the pods on the rebooted nodes to run again", lambda: pods_back(booted), 180, interval=1)


def pods_back(booted):
    """Every pod bound to a node booted at booted[node] runs containers started since, and is
    Ready (the API server still shows the status from before the node went down until then)."""
    pods = json.loads(kubectl("get", "pods", "-A", "-o", "json").stdout)["items"]
    for p in pods:
        since = booted.get(p["spec"].get("nodeName"))
        status = p.get("status", {})
        if (
            since is None
            or p["metadata"].get("deletionTimestamp")
            or status.get("phase") in ("Succeeded", "Failed")
        ):
            continue
        if not any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", [])):
            return False
        for c in status.get("containerStatuses", []):
            started = c.get("state", {}).get("running", {}).get("startedAt")
            if not started or dt.datetime.fromisoformat(started.replace("Z", "+00:00")) < since:
                return False
    return True


# ------------------------------------------------------------------ stopping
def comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def kill_containers(name):
    """Every container process of a node, then its shims: a pod's PID 1 that ignores SIGTERM
    would otherwise hold the node's shutdown for 90 s (nodes.md)."""
    pid = read_pid(f"nspawn-{name}")
    if not pid:
        return 0
    shims = [p for p in descendants(pid) if comm(p).startswith("containerd-shim")]
    victims = [d for s in shims for d in descendants(s)] + shims
    for p in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    wait_for(f"{name}'s containers to exit", lambda: not any(pid_alive(p) for p in victims), 20)
    return len(victims)


def stop_kubelet(name):
    """First, so that it does not start again what is killed next; never fails (a node may be
    unhealthy when it is stopped)."""
    node_init = descendants(read_pid(f"nspawn-{name}"))[:1]
    if node_init:
        units = ["kubelet.service", "kube-proxy.service"]
        nsenter = ["nsenter", "-t", str(node_init[0]), "-m", "-u", "-i", "-n", "-p", "--"]
        subprocess.run([*nsenter, "systemctl", "stop", *units], capture_output=True, timeout=60)


def stop_nodes():
    for name, _, _ in NODES:
        if read_pid(f"nspawn-{name}"):
            stop_kubelet(name)
            killed = kill_containers(name)
            info(f"{name}: kubelet stopped, {killed} container processes killed")
            power_off(name)
    left = remove_cgroups()
    if left:
        die(f"node cgroups still in use: {left}")
    restore_sysctls()


def node_leftovers():
    """What a node may leave on this machine (empty when clean)."""
    problems = []
    if node_cgroups_left():
        problems.append(f"cgroups: {node_cgroups_left()}")
    if SYSCTL_SAVED.exists():
        problems.append(f"sysctls not restored: {SYSCTL_SAVED}")
    routes = run(["ip", "route", "show", "root", NODE_POD_CIDRS], check=False).stdout.strip()
    if routes:
        problems.append(f"routes: {routes}")
    return problems


def cmd_stop_node(name):
    """A node outage: its kubelet stops, its containers die, it powers off (disk kept)."""
    stop_kubelet(name)
    kill_containers(name)
    power_off(name)
    tops = [h / cgroup_root(name) for h in v1_hierarchies()]
    left = [d for top in tops for d in remove_cgroup_tree(top)]
    if left:
        die(f"{name}'s cgroups still in use: {left}")


def cmd_start_node(name):
    """Boot a node that stop-node powered off; wait until it is Ready and its pods run."""
    ip, cidr = {n: (i, c) for n, i, c in NODES}[name]
    if not is_up(name):
        log(f"booting node {name} ({ip}) with its disk")
        root = install_disk(name, ip)
        write_node_files(root, name, ip, cidr)
        since = dt.datetime.now(dt.UTC).replace(microsecond=0)
        boot(name, nspawn_args(name))
        run(["ip", "route", "replace", cidr, "via", ip, "dev", BRIDGE])
        wait_ssh(name, ip)
        wait_for(f"node {name} Ready", lambda: node_ready(name), 120, interval=1)
        wait_for(f"the pods on {name} to run again", lambda: pods_back({name: since}), 180, interval=1)
