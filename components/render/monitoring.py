"""What monitoring makes, as pure functions of the config (docs/monitoring.md):

- `objects`: the scraper's rights in the cluster (a ClusterRole granting `get` on the non-resource
  URL /metrics, bound to the reader's user; for the in-cluster path a Role to discover its pods),
  and, where the Prometheus Operator runs, a ServiceMonitor with the Secret it reads the reader's
  certificate from;
- `prometheus_config`: a Prometheus configuration that scrapes both paths with that identity, TLS
  verified against the cluster CA; `bundle`: every file of it, by path relative to the
  configuration (Prometheus resolves relative paths against the configuration's directory).

The in-cluster path's metrics Service and serving certificate are its own objects
(render/cluster.py); the alert rules are render/alerts.py's.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from components.config.resolve import StackConfig
from components.config.schema import InCluster
from components.render.cluster import metrics_service_name, serving_name
from components.render.cluster_objects import ObjectRef, ownership_annotations, ownership_labels
from components.render.master import SECURE_PORT
from components.render.yamltext import dump

# kube-prometheus' job name for the main scheduler; the in-cluster job is named after its scheduler.
MASTERS_JOB = "kube-scheduler"
CONFIG_FILE = "prometheus.yml"
RULES_FILE = "kube-scheduler.rules.yml"
PORT_NAME = "https"  # the in-cluster container's and Service's port name (render/in_cluster.py)
_RBAC = "rbac.authorization.k8s.io/v1"
_TLS = {"min_version": "TLS12", "insecure_skip_verify": False}


@dataclass(frozen=True)
class BundleFile:
    label: str  # "config", "rules", "ca", "cert", "key"
    path: str  # relative to the bundle's directory
    mode: str
    secret: bool = False


def bundle(reader: str) -> dict[str, BundleFile]:
    """Every file a Prometheus needs to scrape both paths, by label."""
    files = [
        BundleFile("config", CONFIG_FILE, "0644"),
        BundleFile("rules", RULES_FILE, "0644"),
        BundleFile("ca", "pki/ca.crt", "0644"),
        BundleFile("cert", f"pki/{reader}.crt", "0644"),
        BundleFile("key", f"pki/{reader}.key", "0600", secret=True),
    ]
    return {f.label: f for f in files}


def in_cluster_job(ic: InCluster) -> str:
    return ic.scheduler_name


def jobs(cfg: StackConfig) -> list[str]:
    """The scrape jobs, one per enabled path."""
    return ([MASTERS_JOB] if cfg.bare_metal.enabled else []) + (
        [in_cluster_job(cfg.in_cluster)] if cfg.in_cluster.enabled else []
    )


def master_target(cfg: StackConfig, address: str) -> str:
    """Where Prometheus reaches a master's secure port: its address when the service listens on
    every interface, else the one address it binds (the serving certificate names both)."""
    bind = cfg.bare_metal.bind_address
    host = address if ipaddress.ip_address(bind).is_unspecified else bind
    return f"[{host}]:{SECURE_PORT}" if ":" in host else f"{host}:{SECURE_PORT}"


def _tls(files: dict[str, BundleFile], server_name: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ca_file": files["ca"].path,
        "cert_file": files["cert"].path,
        "key_file": files["key"].path,
    }
    if server_name:
        out["server_name"] = server_name
    return {**out, **_TLS}


def scrape_configs(cfg: StackConfig) -> list[dict[str, Any]]:
    """One job per path; every connection verified against the cluster CA, with the reader's
    client certificate (the schedulers authorise it by SubjectAccessReview)."""
    files = bundle(cfg.monitoring.reader_name)
    interval = cfg.monitoring.scrape_interval
    out: list[dict[str, Any]] = []
    if cfg.bare_metal.enabled:
        out.append(
            {
                "job_name": MASTERS_JOB,
                "scrape_interval": interval,
                "scheme": "https",
                "metrics_path": "/metrics",
                # No server_name: Prometheus checks the target's address against the certificate's
                # IP SANs (each master's certificate names its address).
                "tls_config": _tls(files),
                "static_configs": [
                    {"targets": [master_target(cfg, h.address)], "labels": {"node": h.name}}
                    for h in cfg.hosts
                ],
            }
        )
    if cfg.in_cluster.enabled:
        ic = cfg.in_cluster
        service = metrics_service_name(ic)
        out.append(
            {
                "job_name": in_cluster_job(ic),
                "scrape_interval": interval,
                "scheme": "https",
                "metrics_path": "/metrics",
                "kubernetes_sd_configs": [
                    {
                        "role": "endpointslice",
                        "api_server": cfg.api_server_url,
                        "namespaces": {"names": [ic.namespace]},
                        # only what the job needs is watched (the Role allows the namespace's)
                        "selectors": [
                            {"role": "endpointslice", "label": f"kubernetes.io/service-name={service}"},
                            {"role": "service", "field": f"metadata.name={service}"},
                            {"role": "pod", "label": f"app.kubernetes.io/instance={ic.scheduler_name}"},
                        ],
                        "tls_config": _tls(files),
                    }
                ],
                # Pod IPs change: the replicas' certificate names the Service, checked here.
                "tls_config": _tls(files, serving_name(ic)),
                "relabel_configs": [
                    {
                        "source_labels": ["__meta_kubernetes_endpointslice_port_name"],
                        "regex": PORT_NAME,
                        "action": "keep",
                    },
                    {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                    {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                    {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node"},
                ],
            }
        )
    return out


def prometheus_config(cfg: StackConfig) -> dict[str, Any]:
    """A whole Prometheus configuration (the jobs alone: `scrape_configs`)."""
    return {
        "global": {
            "scrape_interval": cfg.monitoring.scrape_interval,
            "evaluation_interval": cfg.monitoring.evaluation_interval,
        },
        "rule_files": [RULES_FILE],
        "scrape_configs": scrape_configs(cfg),
    }


def prometheus_yaml(cfg: StackConfig) -> str:
    return dump(prometheus_config(cfg))


def object_refs(cfg: StackConfig, service_monitor: bool) -> dict[str, ObjectRef]:
    """Every cluster object of monitoring by role (the in-cluster path's Service and serving
    Secret are render/cluster.py's)."""
    reader, ic = cfg.monitoring.reader_name, cfg.in_cluster
    out = {
        "reader-role": ObjectRef("ClusterRole", "", reader),
        "reader-binding": ObjectRef("ClusterRoleBinding", "", reader),
    }
    if ic.enabled:
        out["discovery-role"] = ObjectRef("Role", ic.namespace, f"{reader}-discovery")
        out["discovery-binding"] = ObjectRef("RoleBinding", ic.namespace, f"{reader}-discovery")
        if service_monitor:
            out["reader-secret"] = ObjectRef("Secret", ic.namespace, f"{reader}-tls")
            out["service-monitor"] = ObjectRef("ServiceMonitor", ic.namespace, ic.scheduler_name)
    return out


def objects(
    cfg: StackConfig, owner: str, service_monitor: bool, reader_tls: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Every object of `object_refs` by role, marked as `owner`'s. `reader_tls` ({"ca.crt",
    "tls.crt", "tls.key"}: the reader's material, values as the caller has them) fills the Secret
    the ServiceMonitor reads."""
    reader, ic = cfg.monitoring.reader_name, cfg.in_cluster
    names = object_refs(cfg, service_monitor)
    labels = {"app.kubernetes.io/name": "kube-scheduler", "app.kubernetes.io/component": "metrics"}

    def meta(role: str) -> dict[str, Any]:
        ref = names[role]
        out = {
            "name": ref.name,
            "labels": {**labels, **ownership_labels()},
            "annotations": {"pulumi.com/patchForce": "true", **ownership_annotations(owner)},
        }
        return {**out, "namespace": ref.namespace} if ref.namespace else out

    user = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": reader}]
    out: dict[str, dict[str, Any]] = {
        "reader-role": {
            "apiVersion": _RBAC,
            "kind": "ClusterRole",
            "metadata": meta("reader-role"),
            # what the schedulers ask the API server (SubjectAccessReview) before they serve /metrics
            "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
        },
        "reader-binding": {
            "apiVersion": _RBAC,
            "kind": "ClusterRoleBinding",
            "metadata": meta("reader-binding"),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": reader},
            "subjects": user,
        },
    }
    if not ic.enabled:
        return out
    out["discovery-role"] = {
        "apiVersion": _RBAC,
        "kind": "Role",
        "metadata": meta("discovery-role"),
        # Prometheus' endpointslice discovery lists and watches these three (the job's selectors
        # narrow what it asks for; RBAC cannot)
        "rules": [
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            {"apiGroups": [""], "resources": ["services", "pods"], "verbs": ["list", "watch"]},
        ],
    }
    out["discovery-binding"] = {
        "apiVersion": _RBAC,
        "kind": "RoleBinding",
        "metadata": meta("discovery-binding"),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": names["discovery-role"].name,
        },
        "subjects": user,
    }
    if service_monitor:
        secret = names["reader-secret"].name
        out["reader-secret"] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta("reader-secret"),
            "type": "kubernetes.io/tls",
            "stringData": reader_tls or {},
        }
        out["service-monitor"] = {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": meta("service-monitor"),
            "spec": {
                "jobLabel": "app.kubernetes.io/instance",
                "selector": {"matchLabels": {"app.kubernetes.io/instance": ic.scheduler_name}},
                "namespaceSelector": {"matchNames": [ic.namespace]},
                "endpoints": [
                    {
                        "port": PORT_NAME,
                        "scheme": "https",
                        "path": "/metrics",
                        "interval": cfg.monitoring.scrape_interval,
                        "tlsConfig": {
                            "serverName": serving_name(ic),
                            "ca": {"secret": {"name": secret, "key": "ca.crt"}},
                            "cert": {"secret": {"name": secret, "key": "tls.crt"}},
                            "keySecret": {"name": secret, "key": "tls.key"},
                        },
                    }
                ],
            },
        }
    return out
