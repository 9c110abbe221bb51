"""Builds the enabled scheduler paths from a validated `StackConfig`."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components import steps
from components.backend import Signer
from components.bare_metal import BareMetalSchedulers, BareMetalSchedulersArgs
from components.config import ConfigError, Problem, StackConfig, load_config, program_values
from components.in_cluster import InClusterScheduler, InClusterSchedulerArgs
from components.monitoring import SchedulerMonitoring, SchedulerMonitoringArgs, service_monitor_served
from components.ownership import client_for, preflight_problems
from components.preflight import survey_hosts
from components.render import monitoring
from components.render.cluster import refs
from components.render.cluster_objects import ObjectRef
from components.render.master import DEFAULT_LEASE
from components.secrets import secrets_problem
from components.skew import skew_problems
from plumbing.kube_api import UnsupportedCredentialsError


def kubernetes_provider(cfg: StackConfig) -> k8s.Provider:
    if cfg.output_mode == "render":
        # Writes manifests, talks to no cluster (pulumi-kubernetes render mode).
        return k8s.Provider(
            "render", render_yaml_to_directory=str(Path(cfg.render_dir).resolve() / "manifests")
        )
    kubeconfig = cfg.kubeconfig.get_secret_value() if cfg.kubeconfig is not None else None
    return k8s.Provider(
        "cluster",
        # None: the ambient kubeconfig ($KUBECONFIG or ~/.kube/config), as kubectl would use.
        kubeconfig=pulumi.Output.secret(kubeconfig) if kubeconfig is not None else None,
    )


def owner() -> str:
    """Who owns what this stack makes, on hosts and in the cluster: `<project>/<stack>`."""
    return f"{pulumi.get_project()}/{pulumi.get_stack()}"


def _kubeconfig(cfg: StackConfig) -> str | None:
    return cfg.kubeconfig.get_secret_value() if cfg.kubeconfig is not None else None


def in_cluster_args(cfg: StackConfig) -> InClusterSchedulerArgs:
    serving = Signer.of(cfg) if cfg.monitoring.enabled else None
    return InClusterSchedulerArgs(
        cfg.in_cluster,
        cfg.kubernetes_version,
        cfg.in_cluster_image,
        owner=owner(),
        kubeconfig=_kubeconfig(cfg),
        guard=cfg.output_mode == "apply",
        serving=serving,
    )


def service_monitor_wanted(cfg: StackConfig) -> bool:
    """A ServiceMonitor for the in-cluster path where the cluster serves the kind (asked in apply
    mode only: render mode has no cluster to ask); never required."""
    mon = cfg.monitoring
    if not (mon.enabled and cfg.in_cluster.enabled and mon.service_monitor == "auto"):
        return False
    if cfg.output_mode != "apply":
        return False
    served, warning = service_monitor_served(_kubeconfig(cfg))
    if warning:
        pulumi.log.warn(warning)
    return served


def build(cfg: StackConfig, service_monitor: bool = False) -> dict[str, pulumi.Input[object]]:
    """Create the components; return the stack outputs."""
    outputs: dict[str, pulumi.Input[object]] = {"kubernetesVersion": str(cfg.kubernetes_version)}
    render_root = str(Path(cfg.render_dir).resolve()) if cfg.output_mode == "render" else None
    if cfg.bare_metal.enabled:
        bm = BareMetalSchedulers(steps.MASTERS, BareMetalSchedulersArgs(cfg, owner(), render_root))
        outputs["masters"] = bm.hosts
        outputs["masterLease"] = "/".join(DEFAULT_LEASE)
    cluster = None
    if cfg.in_cluster.enabled or cfg.monitoring.enabled:
        cluster = pulumi.ResourceOptions(providers=[kubernetes_provider(cfg)])
    if cfg.in_cluster.enabled:
        ic = InClusterScheduler(steps.IN_CLUSTER, in_cluster_args(cfg), opts=cluster)
        outputs["customSchedulerName"] = ic.scheduler_name
        outputs["customSchedulerLease"] = ic.lease
    if cfg.monitoring.enabled:
        args = SchedulerMonitoringArgs(
            cfg,
            owner(),
            service_monitor,
            kubeconfig=_kubeconfig(cfg),
            guard=cfg.output_mode == "apply",
            render_root=f"{render_root}/monitoring" if render_root else None,
        )
        mon = SchedulerMonitoring(steps.MONITORING, args, opts=cluster)
        outputs["monitoring"] = {"jobs": monitoring.jobs(cfg), "files": mon.files}
        outputs["monitoringReaderKey"] = mon.reader_key
    return outputs


def cluster_problems(cfg: StackConfig, service_monitor: bool) -> tuple[list[Problem], list[str]]:
    """(problems, warnings): the cluster objects the stack would write that exist and are not its
    own, each named under the key that names it."""
    ours: list[tuple[list[ObjectRef], str, str]] = []  # (objects, the key and value naming them)
    if cfg.in_cluster.enabled:
        ic = cfg.in_cluster
        objects = refs(ic, cfg.kubernetes_version, cfg.in_cluster_image, cfg.monitoring.enabled)
        ours.append((objects, "inCluster.schedulerName", ic.scheduler_name))
    if cfg.monitoring.enabled:
        objects = list(monitoring.object_refs(cfg, service_monitor).values())
        ours.append((objects, "monitoring.readerName", cfg.monitoring.reader_name))
    if not ours:
        return [], []
    try:
        client = client_for(_kubeconfig(cfg))
    except (UnsupportedCredentialsError, OSError, ValueError) as e:
        return [], [f"could not read the cluster with this kubeconfig ({e}): ownership not checked"]
    problems: list[Problem] = []
    warnings: list[str] = []
    if client is None:  # no kubeconfig given and none ambient: the provider fails, saying so
        return [], []
    for objects, key, value in ours:
        found, unsure = preflight_problems(objects, owner(), key, value, client)
        problems, warnings = problems + found, warnings + unsure
    return problems, warnings


def check_the_world(cfg: StackConfig, service_monitor: bool = False) -> None:
    """Apply mode, before any resource exists: refuse a kubernetesVersion the API servers may not
    run with, hosts and cluster objects that are not this stack's to write (ConfigError)."""
    if cfg.output_mode != "apply":
        return
    urls = [cfg.api_server_url] + [h.api_server_url for h in cfg.hosts]
    problems, warnings = skew_problems(cfg.kubernetes_version, urls, cfg.ca_cert_pem)
    if cfg.bare_metal.enabled:
        found, unsure = survey_hosts(cfg, owner())
        problems, warnings = problems + found, warnings + unsure
    found, unsure = cluster_problems(cfg, service_monitor)
    problems, warnings = problems + found, warnings + unsure
    for warning in warnings:
        pulumi.log.warn(warning)
    if problems:
        raise ConfigError(problems)


def program() -> None:
    """The whole Pulumi program: validate the stack's config (refused before any resource exists),
    build, export. Used by __main__.py and by Automation API inline runs."""
    stack = pulumi.get_stack()
    # the project directory is the working directory of every run (CLI and Automation API alike)
    refused = secrets_problem(stack, Path.cwd() / f"Pulumi.{stack}.yaml")
    if refused:
        raise pulumi.RunError(f"nothing was done: {refused}")
    try:
        values, secret_keys = program_values()
        config = load_config(values, base_dir=Path.cwd(), secret_keys=secret_keys)
        service_monitor = service_monitor_wanted(config)
        check_the_world(config, service_monitor)
    except ConfigError as e:
        # RunError: Pulumi shows the message as the program's error, without a stack trace
        raise pulumi.RunError(str(e)) from None
    for key, value in build(config, service_monitor).items():
        pulumi.export(key, value)
