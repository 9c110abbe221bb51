"""What monitoring renders (components/render/monitoring.py, cluster.py): the scrape jobs, the
scraper's rights, the in-cluster path's serving certificate and metrics Service, the files of a
Prometheus bundle; and promtool on the rendered configuration."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import StackConfig, load_config
from components.render import alerts, monitoring
from components.render.cluster import manifests
from harness.prometheus import promtool
from tests.support import Pki, as_raw, base_config, mutate
from tests.test_render_in_cluster import restricted_violations

OWNER = "kube-scheduler/dev"


def _cfg(pki: Pki, **changes: Any) -> StackConfig:
    c = base_config(pki) | {"monitoring": {"enabled": True}}
    for path, value in changes.items():
        c = mutate(c, path.replace("__", "."), value)
    return load_config(as_raw(c))


def _job(cfg: StackConfig, name: str) -> dict[str, Any]:
    (job,) = [j for j in monitoring.scrape_configs(cfg) if j["job_name"] == name]
    return job


READER_TLS = {
    "ca_file": "pki/ca.crt",
    "cert_file": "pki/kube-scheduler-metrics-reader.crt",
    "key_file": "pki/kube-scheduler-metrics-reader.key",
    "min_version": "TLS12",
    "insecure_skip_verify": False,
}


def test_masters_are_scraped_at_their_addresses_verified_by_their_ip_sans(pki: Pki) -> None:
    job = _job(_cfg(pki), "kube-scheduler")
    assert (job["scheme"], job["metrics_path"], job["scrape_interval"]) == ("https", "/metrics", "30s")
    assert job["tls_config"] == READER_TLS  # no server_name: the address is checked against the IP SANs
    assert job["static_configs"] == [
        {"targets": ["10.231.0.11:10259"], "labels": {"node": "master-1"}},
        {"targets": ["10.231.0.12:10259"], "labels": {"node": "master-2"}},
        {"targets": ["10.231.0.13:10259"], "labels": {"node": "master-3"}},
    ]


@pytest.mark.parametrize(
    ("bind", "target"),
    [("0.0.0.0", "10.231.0.11:10259"), ("::", "10.231.0.11:10259"), ("10.231.0.250", "10.231.0.250:10259"),
     ("fd00::11", "[fd00::11]:10259")],
)  # fmt: skip
def test_a_master_is_scraped_where_it_listens(pki: Pki, bind: str, target: str) -> None:
    job = _job(_cfg(pki, bareMetal__bindAddress=bind), "kube-scheduler")
    assert job["static_configs"][0]["targets"] == [target]


def test_replicas_are_discovered_through_their_service_and_verified_by_its_name(pki: Pki) -> None:
    job = _job(_cfg(pki), "custom-k8s-scheduler")
    (sd,) = job["kubernetes_sd_configs"]
    assert (sd["role"], sd["api_server"], sd["namespaces"]) == (
        "endpointslice",
        "https://10.231.0.1:6443",
        {"names": ["kube-system"]},
    )
    assert sd["selectors"] == [
        {"role": "endpointslice", "label": "kubernetes.io/service-name=custom-k8s-scheduler-metrics"},
        {"role": "service", "field": "metadata.name=custom-k8s-scheduler-metrics"},
        {"role": "pod", "label": "app.kubernetes.io/instance=custom-k8s-scheduler"},
    ]
    assert sd["tls_config"] == READER_TLS  # the API server, verified against the cluster CA
    assert job["tls_config"] == READER_TLS | {"server_name": "custom-k8s-scheduler-metrics.kube-system.svc"}
    keep = job["relabel_configs"][0]
    assert keep == {
        "source_labels": ["__meta_kubernetes_endpointslice_port_name"],
        "regex": "https",
        "action": "keep",
    }


def test_one_job_per_enabled_path_and_rules_for_those_jobs_only(pki: Pki) -> None:
    only_masters = _cfg(pki, inCluster__enabled=False)
    assert monitoring.jobs(only_masters) == ["kube-scheduler"]
    assert [j["job_name"] for j in monitoring.scrape_configs(only_masters)] == ["kube-scheduler"]
    text = alerts.rules_yaml(only_masters)
    assert 'job="kube-scheduler"' in text and "custom-k8s-scheduler" not in text
    only_custom = _cfg(pki, bareMetal__enabled=False, inCluster__schedulerName="batch")
    assert monitoring.jobs(only_custom) == ["batch"]
    assert 'absent(up{job="batch"})' in alerts.rules_yaml(only_custom)


def test_the_reader_may_get_metrics_and_nothing_else(pki: Pki) -> None:
    objs = monitoring.objects(_cfg(pki, inCluster__enabled=False), OWNER, service_monitor=False)
    assert set(objs) == {"reader-role", "reader-binding"}
    assert objs["reader-role"]["rules"] == [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]
    binding = objs["reader-binding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "kube-scheduler-metrics-reader",
    }
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "kube-scheduler-metrics-reader"}
    ]


def test_with_the_in_cluster_path_it_may_discover_the_replicas_in_their_namespace(pki: Pki) -> None:
    objs = monitoring.objects(_cfg(pki, inCluster__namespace="sched"), OWNER, service_monitor=False)
    role = objs["discovery-role"]
    assert (role["kind"], role["metadata"]["namespace"], role["metadata"]["name"]) == (
        "Role",
        "sched",
        "kube-scheduler-metrics-reader-discovery",
    )
    assert role["rules"] == [
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
        {"apiGroups": [""], "resources": ["services", "pods"], "verbs": ["list", "watch"]},
    ]
    assert objs["discovery-binding"]["roleRef"]["name"] == "kube-scheduler-metrics-reader-discovery"


def test_every_monitoring_object_is_marked_as_this_stacks(pki: Pki) -> None:
    objs = monitoring.objects(_cfg(pki), OWNER, service_monitor=True, reader_tls={})
    for role, obj in objs.items():
        meta = obj["metadata"]
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "kube-scheduler-pulumi", role
        assert meta["annotations"]["kube-scheduler-pulumi/owner"] == OWNER, role
        ref = monitoring.object_refs(_cfg(pki), service_monitor=True)[role]
        assert (obj["kind"], meta.get("namespace", ""), meta["name"]) == (ref.kind, ref.namespace, ref.name)


def test_a_service_monitor_only_when_asked_reading_the_readers_secret(pki: Pki) -> None:
    cfg = _cfg(pki)
    assert "service-monitor" not in monitoring.objects(cfg, OWNER, service_monitor=False)
    tls = {"ca.crt": "CA", "tls.crt": "CERT", "tls.key": "KEY"}
    objs = monitoring.objects(cfg, OWNER, service_monitor=True, reader_tls=tls)
    secret = objs["reader-secret"]
    assert (secret["type"], secret["stringData"], secret["metadata"]["name"]) == (
        "kubernetes.io/tls",
        tls,
        "kube-scheduler-metrics-reader-tls",
    )
    sm = objs["service-monitor"]
    assert (sm["apiVersion"], sm["metadata"]["namespace"]) == ("monitoring.coreos.com/v1", "kube-system")
    assert sm["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/instance": "custom-k8s-scheduler"}}
    (endpoint,) = sm["spec"]["endpoints"]
    assert endpoint["tlsConfig"] == {
        "serverName": "custom-k8s-scheduler-metrics.kube-system.svc",
        "ca": {"secret": {"name": "kube-scheduler-metrics-reader-tls", "key": "ca.crt"}},
        "cert": {"secret": {"name": "kube-scheduler-metrics-reader-tls", "key": "tls.crt"}},
        "keySecret": {"name": "kube-scheduler-metrics-reader-tls", "key": "tls.key"},
    }
    # its job is named like the scrape config's, so the same rules apply
    assert sm["spec"]["jobLabel"] == "app.kubernetes.io/instance"


def _in_cluster(cfg: StackConfig, serving: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return manifests(cfg.in_cluster, cfg.kubernetes_version, cfg.in_cluster_image, OWNER, serving)


def test_monitored_replicas_serve_the_certificate_of_their_secret(pki: Pki) -> None:
    objs = _in_cluster(_cfg(pki), {"tls.crt": "CERT", "tls.key": "KEY"})
    secret = objs["serving-cert"]
    assert (secret["metadata"]["name"], secret["type"], secret["stringData"]) == (
        "custom-k8s-scheduler-serving-cert",
        "kubernetes.io/tls",
        {"tls.crt": "CERT", "tls.key": "KEY"},
    )
    pod = objs["deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"][-2:] == [
        "--tls-cert-file=/etc/kubernetes/serving-cert/tls.crt",
        "--tls-private-key-file=/etc/kubernetes/serving-cert/tls.key",
    ]
    assert {
        "name": "serving-cert",
        "mountPath": "/etc/kubernetes/serving-cert",
        "readOnly": True,
    } in container["volumeMounts"]
    # readable by the pod's group (fsGroup) only, and still Pod Security "restricted"
    assert {
        "name": "serving-cert",
        "secret": {"secretName": "custom-k8s-scheduler-serving-cert", "defaultMode": 0o440},
    } in pod["volumes"]
    assert restricted_violations(pod) == []
    order = list(objs)
    assert order.index("serving-cert") < order.index("deployment")


def test_the_metrics_service_lists_every_replica_and_nothing_else(pki: Pki) -> None:
    objs = _in_cluster(_cfg(pki), {"tls.crt": "C", "tls.key": "K"})
    service = objs["metrics"]
    assert service["metadata"]["name"] == "custom-k8s-scheduler-metrics"
    assert service["spec"] == {
        "clusterIP": "None",
        "publishNotReadyAddresses": True,
        "selector": objs["deployment"]["spec"]["selector"]["matchLabels"],
        "ports": [{"name": "https", "port": 10259, "targetPort": "https", "protocol": "TCP"}],
    }


def test_without_monitoring_the_in_cluster_path_is_unchanged(pki: Pki) -> None:
    cfg = load_config(as_raw(base_config(pki)))
    objs = _in_cluster(cfg, None)
    assert "serving-cert" not in objs and "metrics" not in objs
    (container,) = objs["deployment"]["spec"]["template"]["spec"]["containers"]
    assert not [a for a in container["command"] if a.startswith("--tls-")]
    assert [v["name"] for v in objs["deployment"]["spec"]["template"]["spec"]["volumes"]] == ["config"]


def test_the_bundle_files_and_the_key_alone_private(pki: Pki) -> None:
    files = monitoring.bundle("kube-scheduler-metrics-reader")
    assert {f.path: (f.mode, f.secret) for f in files.values()} == {
        "prometheus.yml": ("0644", False),
        "kube-scheduler.rules.yml": ("0644", False),
        "pki/ca.crt": ("0644", False),
        "pki/kube-scheduler-metrics-reader.crt": ("0644", False),
        "pki/kube-scheduler-metrics-reader.key": ("0600", True),
    }
    assert monitoring.prometheus_config(_cfg(pki))["rule_files"] == ["kube-scheduler.rules.yml"]


def write_bundle(cfg: StackConfig, pki: Pki, directory: Path) -> Path:
    """The rendered bundle on disk, with throwaway PEMs where the stack would put the reader's."""
    files = monitoring.bundle(cfg.monitoring.reader_name)
    texts = {"config": monitoring.prometheus_yaml(cfg), "rules": alerts.rules_yaml(cfg), "ca": pki.ca_cert}
    texts |= {"cert": pki.ca_cert, "key": pki.other_key}
    for label, f in files.items():
        (directory / f.path).parent.mkdir(parents=True, exist_ok=True)
        (directory / f.path).write_text(texts[label])
    return directory / files["config"].path


CONFIGS: dict[str, dict[str, Any]] = {
    "both paths": {},
    "masters only": {"inCluster__enabled": False},
    "in-cluster only, own namespace": {"bareMetal__enabled": False, "inCluster__namespace": "sched"},
    "short intervals": {"monitoring__scrapeInterval": "5s", "monitoring__evaluationInterval": "5s"},
}


@pytest.mark.toolchain
@pytest.mark.parametrize("case", CONFIGS)
def test_promtool_accepts_the_rendered_configuration_and_rules(pki: Pki, tmp_path: Path, case: str) -> None:
    config = write_bundle(_cfg(pki, **CONFIGS[case]), pki, tmp_path)
    out = subprocess.run([str(promtool()), "check", "config", str(config)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 1 rule files found" in out.stdout
    rules = yaml.safe_load((tmp_path / "kube-scheduler.rules.yml").read_text())
    assert [r.get("alert", r.get("record")) for r in rules["groups"][0]["rules"]][:3] == [
        "job:scheduler_pending_pods:max",
        "KubeSchedulerDown",
        "KubeSchedulerInstanceDown",
    ]
