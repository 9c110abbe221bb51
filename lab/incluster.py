#!/usr/bin/env python3
"""Run the in-cluster custom scheduler's pods as local processes (the lab has no kubelet).

For each pod of the Deployment Pulumi created (bound to a worker by the bare-metal schedulers),
start the container's exact command line with what the pod would have:
  - its own network namespace on the lab bridge (so --secure-port=10259 is the same for all),
  - its hostname = the pod name (the leader-election identity),
  - the config file from the ConfigMap, mounted where the Deployment mounts it,
  - the ServiceAccount token from a TokenRequest, the CA and namespace at
    /var/run/secrets/kubernetes.io/serviceaccount, and KUBERNETES_SERVICE_HOST/PORT,
so the process has exactly the pod's identity, RBAC and config.

    lab/incluster.py start [--name custom-k8s-scheduler] [--namespace kube-system]
    lab/incluster.py stop
    lab/incluster.py status
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
LAB = Path(os.environ.get("KSCHED_LAB_DIR", REPO / ".lab")).resolve()
STATE = LAB / "incluster"
FACTS = LAB / "facts.json"
BRIDGE = "ksched0"
POD_IPS = ["10.231.0.21", "10.231.0.22", "10.231.0.23", "10.231.0.24"]
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def facts() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FACTS.read_text())
    return data


def kubectl(*args: str, check: bool = True) -> str:
    f = facts()
    kubectl_bin = f["binaries"]["kubectl"]
    out = subprocess.run(
        [kubectl_bin, "--kubeconfig", str(LAB / "admin.kubeconfig"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and out.returncode != 0:
        sys.exit(f"kubectl {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def sh(*cmd: str, check: bool = True) -> None:
    subprocess.run(cmd, check=check, capture_output=True)


def scheduler_binary() -> str:
    return str(facts()["binaries"]["kube-scheduler"])


def netns_up(i: int) -> str:
    ns, host_if = f"ksched-pod-{i}", f"kspod{i}"
    if subprocess.run(["ip", "netns", "pids", ns], capture_output=True).returncode != 0:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", host_if, "master", BRIDGE, "up")
        sh("ip", "-n", ns, "addr", "add", f"{POD_IPS[i]}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", "10.231.0.1")
    return ns


def start(name: str, namespace: str) -> None:
    deploy = json.loads(kubectl("-n", namespace, "get", "deployment", name, "-o", "json"))
    pod_spec = deploy["spec"]["template"]["spec"]
    (container,) = pod_spec["containers"]
    command = container["command"] + container.get("args", [])
    (mount,) = container["volumeMounts"]
    (volume,) = [v for v in pod_spec["volumes"] if v["name"] == mount["name"]]
    cm = json.loads(kubectl("-n", namespace, "get", "configmap", volume["configMap"]["name"], "-o", "json"))
    sa = pod_spec["serviceAccountName"]
    selector = ",".join(f"{k}={v}" for k, v in deploy["spec"]["selector"]["matchLabels"].items())
    pods = json.loads(kubectl("-n", namespace, "get", "pods", "-l", selector, "-o", "json"))["items"]
    bound = [p for p in pods if p["spec"].get("nodeName") and not p["metadata"].get("deletionTimestamp")]
    if not bound:
        sys.exit(f"no pod of deployment {namespace}/{name} is bound to a node yet")
    stop()
    for old_log in (LAB / "logs").glob("incluster-*.log"):
        old_log.unlink()  # logs of pods from an earlier start would mislead
    STATE.mkdir(parents=True, exist_ok=True)
    os.chmod(STATE, 0o700)
    api = facts()["api_server"]
    host, port = api["host"], str(api["port"])
    for i, pod in enumerate(sorted(bound, key=lambda p: p["metadata"]["name"])):
        pod_name = pod["metadata"]["name"]
        d = STATE / pod_name
        (d / "config").mkdir(parents=True, exist_ok=True)
        (d / "sa").mkdir(exist_ok=True)
        for key, text in cm["data"].items():
            (d / "config" / key).write_text(text)
        # TokenRequest bound to the pod object, as the kubelet would ask for it.
        token = kubectl(
            "-n",
            namespace,
            "create",
            "token",
            sa,
            "--bound-object-kind=Pod",
            f"--bound-object-name={pod_name}",
            "--duration=2h",
        ).strip()
        token_file = d / "sa" / "token"
        token_file.touch(mode=0o600)
        token_file.write_text(token)
        shutil.copy(LAB / "pki" / "ca.crt", d / "sa" / "ca.crt")
        (d / "sa" / "namespace").write_text(namespace)
        ns = netns_up(i)
        argv = [scheduler_binary() if command[0].endswith("kube-scheduler") else command[0], *command[1:]]
        # Nothing is created on the machine itself: /etc gets a private overlay and /run a
        # private tmpfs, inside this process's own mount namespace.
        for sub in ("etc-upper", "etc-work"):
            (d / sub).mkdir(exist_ok=True)
        inner = " && ".join(
            [
                "mount --make-rprivate /",
                f"mount -t overlay overlay -o lowerdir=/etc,upperdir={d}/etc-upper,workdir={d}/etc-work /etc",
                f"mkdir -p {mount['mountPath']}",
                f"mount --bind -o ro {d / 'config'} {mount['mountPath']}",
                "mount -t tmpfs -o mode=0755 tmpfs /run",
                f"mkdir -p {SA_DIR}",
                f"mount --bind -o ro {d / 'sa'} {SA_DIR}",
                f"hostname {pod_name}",
                # restartPolicy: Always, as the kubelet would (a leader that loses its lease exits)
                "while :; do " + " ".join(argv) + "; echo container exited: $?; sleep 1; done",
            ]
        )
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "KUBERNETES_SERVICE_HOST": host,
            "KUBERNETES_SERVICE_PORT": port,
        }
        log = (LAB / "logs" / f"incluster-{pod_name}.log").open("w")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, "unshare", "--mount", "--uts", "--", "sh", "-c", inner],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        (d / "pid").write_text(str(proc.pid))
        print(
            f"started {pod_name} (node {pod['spec']['nodeName']}) as pid {proc.pid} in {ns} at {POD_IPS[i]}"
        )
    for i, pod in enumerate(sorted(bound, key=lambda p: p["metadata"]["name"])):
        wait_healthy(POD_IPS[i], pod["metadata"]["name"])


def wait_healthy(ip: str, pod_name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["curl", "-sk", "--max-time", "2", f"https://{ip}:10259/healthz"], capture_output=True, text=True
        )
        if out.stdout.strip() == "ok":
            print(f"{pod_name}: /healthz ok at {ip}:10259")
            return
        time.sleep(0.5)
    sys.exit(
        f"{pod_name}: not healthy at {ip}:10259 after {timeout:.0f}s; see .lab/logs/incluster-{pod_name}.log"
    )


def stop() -> None:
    if STATE.exists():
        for pid_file in STATE.glob("*/pid"):
            pid = int(pid_file.read_text())
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.killpg(pid, signal.SIGKILL)
        shutil.rmtree(STATE)
    for i in range(len(POD_IPS)):
        sh("ip", "link", "del", f"kspod{i}", check=False)
        sh("ip", "netns", "del", f"ksched-pod-{i}", check=False)


def status() -> None:
    for pid_file in sorted(STATE.glob("*/pid")) if STATE.exists() else []:
        pid = int(pid_file.read_text())
        alive = Path(f"/proc/{pid}").exists()
        print(f"{pid_file.parent.name}: pid {pid} {'running' if alive else 'gone'}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["start", "stop", "status"])
    p.add_argument("--name", default="custom-k8s-scheduler")
    p.add_argument("--namespace", default="kube-system")
    a = p.parse_args()
    if a.action == "start":
        start(a.name, a.namespace)
    elif a.action == "stop":
        stop()
    else:
        status()


if __name__ == "__main__":
    main()
