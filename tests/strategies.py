"""Hypothesis strategies for stack configs: valid ones over every key and nesting, and mistaken
ones (a valid config with some keys set to wrong values of any type, removed, or misspelled).

`scheduler_configs` renders what the program would install from a valid config, for feeding the
real kube-scheduler of the target version (tests/test_scheduler_accepts.py).
"""

from __future__ import annotations

import copy
import math
from typing import Any

from hypothesis import strategies as st

from components.config import BareMetal, InCluster, StackConfig
from components.render import master, rules
from components.render.cluster import scheduler_config
from components.render.scheduler_config import SCORING_STRATEGIES, render_scheduler_config
from components.render.upstream_objects import upstream_objects
from components.render.versions import SUPPORTED_MINORS, KubeVersion
from tests.support import Pki, base_config

_MINORS = range(SUPPORTED_MINORS[0], SUPPORTED_MINORS[1] + 1)
# Names Kubernetes or kubeadm give objects of their own at some supported minor (the generated
# upstream table), and the name every pod without schedulerName asks for.
_KUBERNETES_NAMES = {"default-scheduler"} | {
    name for m in _MINORS for _kind, _ns, name in upstream_objects(KubeVersion(1, m, 0))
}
_NAMES = st.from_regex(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,6})?", fullmatch=True)
_QUANTITIES = st.sampled_from(["100m", "250m", "500m", "1", "1.5", "64Mi", "512Mi", "1Gi", "2G", "0.5"])
_RESOURCES = st.sampled_from(["cpu", "memory", "example.com/gpu", "nvidia.com/gpu", "ephemeral-storage"])


@st.composite
def leader_election(draw: st.DrawFn) -> dict[str, int]:
    """Timings the scheduler accepts and the ceilings allow: retry, renew > 1.2 x retry, lease >
    renew."""
    retry = draw(st.integers(1, rules.MAX_RETRY_PERIOD_S))
    renew = draw(st.integers(retry * 12 // 10 + 1, rules.MAX_LEASE_DURATION_S - 1))
    lease = draw(st.integers(renew + 1, rules.MAX_LEASE_DURATION_S))
    return {"leaseDurationSeconds": lease, "renewDeadlineSeconds": renew, "retryPeriodSeconds": retry}


def _client_limits(draw: st.DrawFn, default_qps: float) -> dict[str, Any]:
    """qps and burst (each optional) within the floors: burst at least the qps in effect."""
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["qps"] = draw(st.floats(rules.MIN_CLIENT_QPS, 1e4, allow_nan=False))
    if draw(st.booleans()):
        qps = out.get("qps", default_qps)
        out["burst"] = draw(st.integers(max(rules.MIN_CLIENT_BURST, math.ceil(qps)), 20_000))
    return out


@st.composite
def valid_configs(draw: st.DrawFn, pki: Pki) -> dict[str, Any]:
    """A stack config validation must accept and the program must build."""
    cfg = base_config(pki, hosts=draw(st.integers(1, 3)))
    minor = draw(st.sampled_from(list(_MINORS)))
    cfg["kubernetesVersion"] = f"1.{minor}.{draw(st.integers(0, 20))}"
    cfg["certificate"] = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "keyAlgorithm": st.sampled_from(["RSA", "ECDSA"]),
                "ecdsaCurve": st.sampled_from(["P256", "P384"]),
                "validityHours": st.integers(rules.MIN_CERT_VALIDITY_H, 8760),
                "subject": st.fixed_dictionaries({}, optional={"organizationalUnit": _NAMES}),
            },
        )
    )
    if "validityHours" in cfg["certificate"]:
        cfg["certificate"]["earlyRenewalHours"] = draw(
            st.integers(rules.MIN_RENEWAL_WINDOW_H, cfg["certificate"]["validityHours"] // 2)
        )
    bm = cfg["bareMetal"]
    bm.update(
        draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "enabled": st.booleans(),
                    "verbosity": st.integers(0, 10),
                    "leaderElection": leader_election(),
                    "healthTimeoutSeconds": st.integers(5, 600),
                    "bindAddress": st.sampled_from(["0.0.0.0", "127.0.0.1", "::", "10.231.0.11"]),
                    "paths": st.fixed_dictionaries(
                        {},
                        optional={
                            "binary": st.just("/opt/bin/kube-scheduler"),
                            "configDir": st.just("/etc/kube-scheduler"),
                        },
                    ),
                },
            )
        )
    )
    bm.update(_client_limits(draw, BareMetal().qps))
    ic = cfg["inCluster"]
    ic.update(_client_limits(draw, InCluster().qps))
    ic.update(
        draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "enabled": st.booleans(),
                    "schedulerName": _NAMES,
                    "namespace": _NAMES,
                    "replicas": st.integers(1, 5),
                    "scoringStrategy": st.sampled_from(sorted(SCORING_STRATEGIES)),
                    "resourceWeights": st.dictionaries(
                        _RESOURCES, st.integers(1, 100), min_size=1, max_size=3
                    ),
                    "verbosity": st.integers(0, 10),
                    "leaderElection": leader_election(),
                    "resources": st.fixed_dictionaries(
                        {}, optional={"cpu": _QUANTITIES, "memory": _QUANTITIES}
                    ),
                    "excludedNodeLabelKeys": st.lists(
                        st.sampled_from(["karpenter.sh/nodepool", "spot"]), max_size=2
                    ),
                    "createSamplePod": st.booleans(),
                    "image": st.sampled_from(
                        ["registry.example.com:5000/sched/kube-scheduler:v1", "localhost/ks:dev", "ks:v1"]
                    ),
                },
            )
        )
    )
    if ic.get("schedulerName") in _KUBERNETES_NAMES:  # refused: Kubernetes makes objects so named
        ic["schedulerName"] = "custom"
    if not bm.get("enabled") and not ic.get("enabled"):
        bm["enabled"] = True
    if draw(st.booleans()):
        cfg["outputMode"] = "render"
    return cfg


# Values of every JSON type, including the ones users get wrong most: out of range, wrong type,
# empty, infinite, far too long.
_ANY = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["", " ", "0", "-1", "1e400", "latest", "https://", "/etc/../x", "a" * 300]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
_PATHS = [
    "kubernetesVersion",
    "clusterName",
    "apiServerUrl",
    "caCert",
    "caKey",
    "sshPrivateKey",
    "kubeconfig",
    "outputMode",
    "renderDir",
    "resourceBackend",
    "certificate",
    "certificate.keyAlgorithm",
    "certificate.rsaBits",
    "certificate.validityHours",
    "certificate.earlyRenewalHours",
    "certificate.subject",
    "certificate.subject.country",
    "bareMetal",
    "bareMetal.enabled",
    "bareMetal.hosts",
    "bareMetal.hosts.0",
    "bareMetal.hosts.0.name",
    "bareMetal.hosts.0.address",
    "bareMetal.hosts.0.port",
    "bareMetal.hosts.0.user",
    "bareMetal.hosts.0.hostKey",
    "bareMetal.hosts.0.apiServerUrl",
    "bareMetal.hosts.0.useAgent",
    "bareMetal.binary",
    "bareMetal.binary.url",
    "bareMetal.binary.sha256",
    "bareMetal.paths.binary",
    "bareMetal.paths.configDir",
    "bareMetal.bindAddress",
    "bareMetal.verbosity",
    "bareMetal.qps",
    "bareMetal.burst",
    "bareMetal.healthTimeoutSeconds",
    "bareMetal.leaderElection",
    "bareMetal.leaderElection.leaseDurationSeconds",
    "bareMetal.leaderElection.renewDeadlineSeconds",
    "bareMetal.leaderElection.retryPeriodSeconds",
    "bareMetal.insecureSkipHostKeyCheck",
    "inCluster",
    "inCluster.enabled",
    "inCluster.schedulerName",
    "inCluster.namespace",
    "inCluster.replicas",
    "inCluster.image",
    "inCluster.imageDigest",
    "inCluster.scoringStrategy",
    "inCluster.resourceWeights",
    "inCluster.qps",
    "inCluster.burst",
    "inCluster.excludedNodeLabelKeys",
    "inCluster.resources",
    "inCluster.resources.cpu",
    "inCluster.resources.memory",
    "inCluster.verbosity",
    "inCluster.createSamplePod",
    "inCluster.waitForReady",
    "inCluster.leaderElection.retryPeriodSeconds",
    # misspellings: unknown keys at every level
    "kubernetesVersoin",
    "bareMetal.hostz",
    "inCluster.replica",
    "bareMetal.hosts.0.adress",
]
DELETE = object()


def _set(cfg: dict[str, Any], path: str, value: Any) -> None:
    node: Any = cfg
    parts = path.split(".")
    for p in parts[:-1]:
        if isinstance(node, list):
            if not node:
                return
            node = node[0]
        elif isinstance(node, dict):
            node = node.setdefault(p, {})
            if not isinstance(node, dict | list):
                return
        else:
            return
    last = parts[-1]
    if isinstance(node, list):
        if node:
            if value is DELETE:
                node.pop(0)
            else:
                node[0] = value
    elif isinstance(node, dict):
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value


@st.composite
def mistaken_configs(draw: st.DrawFn, pki: Pki) -> dict[str, Any]:
    """A valid config with one to three keys set to anything, removed, or misspelled."""
    cfg = copy.deepcopy(draw(valid_configs(pki)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_PATHS))
        _set(cfg, path, draw(st.just(DELETE) | _ANY))
    return cfg


def scheduler_configs(cfg: StackConfig) -> dict[str, str]:
    """The KubeSchedulerConfiguration files the program installs for `cfg`: the bare-metal one
    (the same on every master but for the kubeconfig path) and the in-cluster one."""
    out: dict[str, str] = {}
    if cfg.bare_metal.enabled:
        out["bare-metal"] = render_scheduler_config(
            master.config_spec(cfg.bare_metal, cfg.kubernetes_version)
        )
    if cfg.in_cluster.enabled:
        out["in-cluster"] = scheduler_config(cfg.in_cluster, cfg.kubernetes_version)
    return out
