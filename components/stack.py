"""Builds the enabled scheduler paths from a validated `StackConfig`."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components import steps
from components.bare_metal import BareMetalSchedulers, BareMetalSchedulersArgs
from components.config import ConfigError, StackConfig, load_config, program_values
from components.in_cluster import InClusterScheduler, InClusterSchedulerArgs
from components.ownership import client_for, preflight_problems
from components.preflight import survey_hosts
from components.render.cluster import refs
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


def in_cluster_args(cfg: StackConfig) -> InClusterSchedulerArgs:
    kubeconfig = cfg.kubeconfig.get_secret_value() if cfg.kubeconfig is not None else None
    return InClusterSchedulerArgs(
        cfg.in_cluster,
        cfg.kubernetes_version,
        cfg.in_cluster_image,
        owner=owner(),
        kubeconfig=kubeconfig,
        guard=cfg.output_mode == "apply",
    )


def build(cfg: StackConfig) -> dict[str, pulumi.Input[object]]:
    """Create the components; return the stack outputs."""
    outputs: dict[str, pulumi.Input[object]] = {"kubernetesVersion": str(cfg.kubernetes_version)}
    if cfg.bare_metal.enabled:
        render_root = str(Path(cfg.render_dir).resolve()) if cfg.output_mode == "render" else None
        bm = BareMetalSchedulers(steps.MASTERS, BareMetalSchedulersArgs(cfg, owner(), render_root))
        outputs["masters"] = bm.hosts
        outputs["masterLease"] = "/".join(DEFAULT_LEASE)
    if cfg.in_cluster.enabled:
        provider = kubernetes_provider(cfg)
        ic = InClusterScheduler(
            steps.IN_CLUSTER,
            in_cluster_args(cfg),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        outputs["customSchedulerName"] = ic.scheduler_name
        outputs["customSchedulerLease"] = ic.lease
    return outputs


def check_the_world(cfg: StackConfig) -> None:
    """Apply mode, before any resource exists: refuse a kubernetesVersion the API servers may not
    run with, hosts and cluster objects that are not this stack's to write (ConfigError)."""
    if cfg.output_mode != "apply":
        return
    urls = [cfg.api_server_url] + [h.api_server_url for h in cfg.hosts]
    problems, warnings = skew_problems(cfg.kubernetes_version, urls, cfg.ca_cert_pem)
    if cfg.bare_metal.enabled:
        found, unsure = survey_hosts(cfg, owner())
        problems, warnings = problems + found, warnings + unsure
    if cfg.in_cluster.enabled:
        args = in_cluster_args(cfg)
        try:
            client = client_for(args.kubeconfig)
        except (UnsupportedCredentialsError, OSError, ValueError) as e:
            warnings.append(f"could not read the cluster with this kubeconfig ({e}): ownership not checked")
            client = None
        if client is not None:
            key = "inCluster.schedulerName"
            value = cfg.in_cluster.scheduler_name
            objects = refs(args.settings, args.kubernetes_version, args.image)
            found, unsure = preflight_problems(objects, args.owner, key, value, client)
            problems, warnings = problems + found, warnings + unsure
    for warning in warnings:
        pulumi.log.warn(warning)
    if problems:
        raise ConfigError(problems)


def program() -> None:
    """The whole Pulumi program: validate the stack's config (refused before any resource exists),
    build, export. Used by __main__.py and by Automation API inline runs."""
    refused = secrets_problem(pulumi.get_stack())
    if refused:
        raise pulumi.RunError(f"nothing was done: {refused}")
    try:
        values, secret_keys = program_values()
        config = load_config(values, base_dir=Path.cwd(), secret_keys=secret_keys)
        check_the_world(config)
    except ConfigError as e:
        # RunError: Pulumi shows the message as the program's error, without a stack trace
        raise pulumi.RunError(str(e)) from None
    for key, value in build(config).items():
        pulumi.export(key, value)
