"""`make up | status | down`: drive a stack through the Automation API and print a short summary.

python -m scripts.stack up dev       pulumi up --yes, then the summary
python -m scripts.stack status dev   the summary only
python -m scripts.stack destroy dev  pulumi destroy --yes
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography import x509
from pulumi import automation as auto

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The project (Pulumi.yaml, Pulumi.<stack>.yaml): the repository, or another copy of it (tests).
PROJECT_DIR = Path(os.environ.get("KSCHED_PROJECT_DIR", ROOT)).resolve()

from components.builtin import RemoteCommandError, connection, observe  # noqa: E402
from components.config import (  # noqa: E402
    PROJECT,
    ConfigError,
    ResolvedHost,
    StackConfig,
    load_config,
    project_values,
)
from components.hostscripts import SERVICE  # noqa: E402
from components.render import master  # noqa: E402
from components.render.cluster_objects import SAMPLE_NAMESPACE, sample_pod_name  # noqa: E402
from components.render.master import DEFAULT_LEASE, health_url  # noqa: E402
from components.secrets import passphrase, secrets_problem  # noqa: E402
from components.stack import program  # noqa: E402
from plumbing.memfile import memfiles  # noqa: E402
from plumbing.project import DEV_PASSPHRASE, LOCAL_STACKS  # noqa: E402
from scripts import host_state, leftovers  # noqa: E402

# Every preview and up is checked by the project's policy pack (policy/README.md).
POLICY_PACKS = [str(ROOT / "policy")]


def select(stack_name: str) -> auto.Stack:
    """The stack with the program run inline: the CLI needs no Python language host (which the
    offline toolchain cannot build); Pulumi.yaml and Pulumi.<stack>.yaml are read as usual."""
    return auto.create_or_select_stack(
        stack_name=stack_name,
        project_name=PROJECT,
        program=program,
        # inline programs take work_dir from the options; dynamic providers import components
        opts=auto.LocalWorkspaceOptions(work_dir=str(PROJECT_DIR), env_vars={"PYTHONPATH": str(ROOT)}),
    )


def stack_config(stack: auto.Stack) -> StackConfig:
    config = stack.get_all_config()
    secret = {k.split(":", 1)[1] for k, v in config.items() if v.secret and k.startswith(PROJECT + ":")}
    return load_config(project_values({k: v.value for k, v in config.items()}), PROJECT_DIR, secret)


def kubectl_binary(cfg: StackConfig) -> str:
    cache = Path(os.environ.get("KSCHED_CACHE", Path.home() / ".cache" / "ksched"))
    built = cache / "k8s" / cfg.kubernetes_version.tag / "bin" / "kubectl"
    return str(built) if built.exists() else (shutil.which("kubectl") or "kubectl")


@contextmanager
def kubeconfig_args(cfg: StackConfig) -> Iterator[tuple[list[str], tuple[int, ...]]]:
    """kubectl's arguments for the stack's kubeconfig (an in-memory file, never on disk) and the
    descriptor kubectl must inherit; none for the ambient kubeconfig."""
    if cfg.kubeconfig is None:
        yield [], ()
        return
    with memfiles(kubeconfig=cfg.kubeconfig.get_secret_value()) as mem:
        fd, path = mem["kubeconfig"]
        yield ["--kubeconfig", path], (fd,)


def ssh(host: ResolvedHost, script: str) -> str | None:
    """The script's output on `host`, or None when it cannot be run there."""
    try:
        return observe(connection(host), script)
    except RemoteCommandError:
        return None


def host_drift(stack: auto.Stack, cfg: StackConfig) -> tuple[list[host_state.Drift], list[str]]:
    """What differs on the masters from what the stack last wrote (see scripts/host_state.py)."""
    resources = (stack.export_stack().deployment or {}).get("resources", [])
    hosts = {h.name: h for h in cfg.hosts}

    def run_on(name: str, script: str) -> str | None:
        if name not in hosts:  # a host removed from the config: `up` deletes it
            return None
        return ssh(hosts[name], script)

    return host_state.drift(host_state.steps_from_state(resources), run_on)


def converge(stack: auto.Stack, cfg: StackConfig) -> None:
    """pulumi-command resources cannot read a host back on refresh: forget the steps whose host no
    longer holds what they made (and the steps after them), so that this `up` makes them again."""
    drifted, _ = host_drift(stack, cfg)
    for d in drifted:
        print(f"==> drift: {d.describe()}: forgetting {d.step.name} so that up makes it again", flush=True)
        stack._run_pulumi_cmd_sync(["state", "delete", d.step.urn, "--target-dependents", "--yes"])


def kubectl(cfg: StackConfig, *args: str) -> Any:
    with kubeconfig_args(cfg) as (kubeconfig, fds):
        cmd = [kubectl_binary(cfg), *kubeconfig, *args, "-o", "json"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, pass_fds=fds)
    return json.loads(out.stdout) if out.returncode == 0 else None


def master_probe(cfg: StackConfig) -> str:
    """The service's state and what its readiness endpoint answers, from the master itself."""
    ca = master.layout(cfg.bare_metal.paths)["ca"].path
    url = health_url(cfg.bare_metal.bind_address, cfg.kubernetes_version)
    return (
        f"printf '%s ' $(systemctl is-active {SERVICE}); "
        f"curl -s --max-time 2 --cacert {shlex.quote(ca)} {shlex.quote(url)} || printf 'no-answer'"
    )


def certificate_expiry(host: ResolvedHost, cfg: StackConfig) -> str:
    """When the master's certificate expires, and from when `make up` replaces it."""
    pem = ssh(host, f"cat {shlex.quote(master.layout(cfg.bare_metal.paths)['cert'].path)}")
    if not pem:
        return "certificate: not readable"
    end = x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc
    renew = end - dt.timedelta(hours=cfg.certificate.early_renewal_hours)
    return f"expires {end:%Y-%m-%d %H:%M}Z, renewed by `make up` from {renew:%Y-%m-%d %H:%M}Z"


def set_version_from_env(stack: auto.Stack) -> None:
    """`make up K8S_VERSION=1.36.3`: the lab and the stack move to that version together (the
    stack's config file records it, as `pulumi config set` would)."""
    wanted = os.environ.get("K8S_VERSION", "").removeprefix("v")
    key = f"{PROJECT}:kubernetesVersion"
    current = stack.get_all_config().get(key)
    if wanted and (current is None or current.value != wanted):
        stack.set_config(key, auto.ConfigValue(wanted))
        print(f"==> kubernetesVersion: {current.value if current else 'unset'} -> {wanted} (K8S_VERSION)")


def pending_creates(stack: auto.Stack) -> list[str]:
    """Creates an interrupted run left unfinished (their outcome unknown to the state)."""
    ops = (stack.export_stack().deployment or {}).get("pending_operations") or []
    return [op["resource"]["urn"].rsplit("::", 1)[-1] for op in ops if op.get("type") == "creating"]


def deploy(stack: auto.Stack, on_output: Callable[[str], None]) -> auto.UpResult:
    """`up` from whatever state it finds: read the hosts and the cluster first (refresh), so that
    what the state claims but the world lost is made again."""
    unfinished = pending_creates(stack)
    if unfinished:
        # every create here can run again (host steps converge, cluster objects are ours to take
        # back): forget the unfinished ones and let this up make them
        print(f"==> an interrupted run left {len(unfinished)} create(s) unfinished: {', '.join(unfinished)}")
        stack.refresh(on_output=on_output, color="never", clear_pending_creates=True)
    cfg = stack_config(stack)
    if cfg.resource_backend == "plugins" and cfg.output_mode == "apply" and cfg.bare_metal.enabled:
        converge(stack, cfg)
    # render mode has no cluster to read: its Kubernetes objects cannot be refreshed
    refresh = cfg.output_mode == "apply"
    return stack.up(on_output=on_output, color="never", policy_packs=POLICY_PACKS, refresh=refresh)


def summary(stack: auto.Stack) -> int:
    """Print masters, lease holders and pod placement; return 0 when all is well."""
    cfg = stack_config(stack)
    problems = 0
    if cfg.bare_metal.enabled and cfg.output_mode == "apply":
        print("masters (kube-scheduler.service, readiness, certificate):")
        probe = master_probe(cfg)
        for h in cfg.hosts:
            state = ssh(h, probe) or "unreachable"
            problems += state != "active ok"
            print(f"  {h.name:<12} {h.address:<16} {state:<10} {certificate_expiry(h, cfg)}")
        drifted, _ = host_drift(stack, cfg)
        problems += len(drifted)
        print(f"drift (host vs what the stack wrote): {'none' if not drifted else len(drifted)}")
        for d in drifted:
            print(f"  {d.describe()}")
        if drifted:
            print("  `make up` writes them back (it reads the hosts first: pulumi up --refresh)")
    if cfg.output_mode != "apply":
        print(f"render mode: files in {cfg.render_dir}/hosts, manifests in {cfg.render_dir}/manifests")
        return 0
    leases = [DEFAULT_LEASE] if cfg.bare_metal.enabled else []
    if cfg.in_cluster.enabled:
        leases.append((cfg.in_cluster.namespace, cfg.in_cluster.scheduler_name))
    print("leases:")
    for ns, name in leases:
        lease = kubectl(cfg, "-n", ns, "get", "lease", name)
        holder = (lease or {}).get("spec", {}).get("holderIdentity") or "none"
        problems += holder == "none"
        print(f"  {ns}/{name:<24} held by {holder}")
    if cfg.in_cluster.enabled:
        ic = cfg.in_cluster
        pods = kubectl(cfg, "get", "pods", "-A", "-l", f"app.kubernetes.io/instance={ic.scheduler_name}")
        sample_name = sample_pod_name(ic.scheduler_name)
        sample = kubectl(cfg, "-n", SAMPLE_NAMESPACE, "get", "pod", sample_name)
        print("pods (node, phase, ready, bound by):")
        for p in (pods or {}).get("items", []) + ([sample] if sample else []):
            line, problem = pod_line(p, ic.wait_for_ready)
            problems += problem
            print(line)
    return 1 if problems else 0


def pod_line(pod: dict[str, Any], want_ready: bool) -> tuple[str, bool]:
    """A pod's line of the summary, and whether it is a problem: not bound, or (when the stack
    waits for readiness) not ready. A pod being deleted is on its way out, not one the stack runs:
    shown, never a problem (its replacement is listed beside it)."""
    node = pod["spec"].get("nodeName") or "(not bound)"
    status = pod.get("status", {})
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
    leaving = bool(pod["metadata"].get("deletionTimestamp"))
    phase = "Terminating" if leaving else status.get("phase", "?")
    problem = not leaving and (node == "(not bound)" or (want_ready and not ready))
    sched = pod["spec"].get("schedulerName", "default-scheduler")
    name = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
    return f"  {name:<52} {node:<10} {phase:<8} {'ready' if ready else 'NOT ready':<9} by {sched}", problem


def progress(line: str) -> None:
    print(line, end="" if line.endswith("\n") else "\n", flush=True)


# (what the output says, what failed, what to do next): the first that matches names the cause.
CAUSES: list[tuple[str, str, str]] = [
    (
        r"invalid stack configuration",
        "the stack configuration has problems (listed above)",
        "fix them in Pulumi.{stack}.yaml (`pulumi config set ...`) and run it again",
    ),
    (
        r"Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED",
        "a master's SSH host key does not match its pin",
        "check bareMetal.hosts[].hostKey/hostKeyFile against the host; nothing after it was changed",
    ),
    (
        r"failed its gate",
        "a master failed its gate (ready, up for the soak time, the lease renewed) and was rolled back "
        "to its last good version",
        "read its errors above, fix the change, run `make up` again (the masters after it are untouched)",
    ),
    (
        r"(\S+): unreachable: ",
        "a master could not be reached over SSH ({0})",
        "bring it back (`make lab-up` for the lab) and run `make up`: the others are converged",
    ),
    (
        r"(https://[^\s/]+)\S*: (?:dial tcp|connect: connection refused)|Unable to connect to the server",
        "the Kubernetes API server could not be reached ({0})",
        "start it (`make lab-up` for the lab) or check kubeconfig, then run `make up`",
    ),
    (
        r"the stack is currently locked|conflict: Another update is currently in progress",
        "another update holds the stack's lock",
        "wait for it to finish; if it died, `pulumi cancel` (after `source scripts/env.sh`)",
    ),
]


def diagnostics(error: str) -> str:
    """The error output of the pulumi command, without Python stack traces."""
    text = error.split("\n stderr: ", 1)[-1] if "\n stderr: " in error else ""
    kept, skipping = [], False
    for line in text.splitlines():
        if line.startswith("Traceback (most recent call last):"):
            skipping = True
        elif skipping and not line.startswith((" ", "\t")):
            skipping = False
            continue  # the exception line that ends the traceback repeats the message above it
        if not skipping:
            kept.append(line)
    return "\n".join(kept).strip()


def failure_line(action: str, stack: str, output: str) -> str:
    """One line: what failed, and what to do next."""
    for pattern, what, then in CAUSES:
        found = re.search(pattern, output)
        if found:
            groups = found.groups() or ("",)
            return f"==> pulumi {action} failed: {what.format(*groups)}. Next: {then.format(stack=stack)}."
    return (
        f"==> pulumi {action} failed: see the diagnostics above. Next: fix what they name and run it again."
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in {"up", "status", "destroy", "preview"}:
        print(__doc__)
        return 2
    action, name = argv
    try:
        return _main(action, name)
    finally:
        # the CLI may have been killed under us: its plugins would outlive it
        for stopped in leftovers.stop_orphaned_plugins():
            print(f"==> stopped a plugin of a pulumi that is gone: {stopped}", file=sys.stderr)


def _main(action: str, name: str) -> int:
    try:
        return run(action, name)
    except auto.CommandError as e:
        # Pulumi's progress was printed as it came; its error diagnostics come with the error
        print(diagnostics(str(e)), file=sys.stderr)
        print(failure_line(action, name, str(e)), file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print(
            f"==> {action} interrupted. Next: `make up` (it names a stale lock, if one is left).",
            file=sys.stderr,
        )
        return 130


def run(action: str, name: str) -> int:
    if name in LOCAL_STACKS and passphrase() is None:
        os.environ["PULUMI_CONFIG_PASSPHRASE"] = DEV_PASSPHRASE  # documented, non-secret
    refused = secrets_problem(name, PROJECT_DIR / f"Pulumi.{name}.yaml")
    if refused:
        print(f"==> {action}: nothing was done: {refused}.", file=sys.stderr)
        return 2
    if action != "status":
        for stopped in leftovers.stop_orphaned_plugins():
            print(f"==> stopped a plugin of a pulumi that is gone: {stopped}", file=sys.stderr)
        backend = os.environ.get("PULUMI_BACKEND_URL", "")
        locked = leftovers.lock_problem(backend, PROJECT, name, PROJECT_DIR, ROOT / "scripts" / "env.sh")
        if locked:
            print(f"==> {action}: nothing was done: {locked}.", file=sys.stderr)
            return 1
    stack = select(name)
    if action in {"up", "preview"}:
        set_version_from_env(stack)
        try:  # the program validates again; this gives the same list before Pulumi runs
            stack_config(stack)
        except ConfigError as e:
            print(e, file=sys.stderr)
            print(
                f"==> {action}: nothing was done. Next: fix the keys above in Pulumi.{name}.yaml.",
                file=sys.stderr,
            )
            return 2
    start = time.monotonic()
    if action == "up":
        result = deploy(stack, progress)
        print(f"==> pulumi up: {result.summary.result} in {time.monotonic() - start:.0f}s")
        return 0
    elif action == "preview":
        stack.preview(on_output=progress, diff=True, color="never", policy_packs=POLICY_PACKS)
        return 0
    elif action == "destroy":
        stack.destroy(on_output=progress, color="never")
        print(f"==> pulumi destroy done in {time.monotonic() - start:.0f}s")
        return 0
    return summary(stack)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
