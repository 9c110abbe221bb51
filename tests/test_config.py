"""Stack config validation: valid input resolves with the documented defaults; every bad input is
reported with its key, what was expected and the value received, all at once, before any resource."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import PROJECT, SECRET_KEYS, TOP_LEVEL_KEYS, ConfigError, load_config
from tests.support import DELETE, Pki, Recorder, as_raw, base_config, mutate, problem_texts, run_program

ROOT = Path(__file__).resolve().parent.parent


def test_valid_config_resolves_defaults(pki: Pki) -> None:
    cfg = load_config(as_raw(base_config(pki)))
    assert str(cfg.kubernetes_version) == "1.34.2"
    assert [h.name for h in cfg.hosts] == ["master-1", "master-2", "master-3"]
    assert cfg.hosts[1].api_server_url == "https://10.231.0.1:6443"
    assert cfg.binary.url == "https://dl.k8s.io/v1.34.2/bin/linux/amd64/kube-scheduler"
    # Defaults from the guides and upstream (docs/sources.md#defaults).
    assert (cfg.certificate.key_algorithm, cfg.certificate.rsa_bits) == ("RSA", 2048)
    assert (cfg.certificate.validity_hours, cfg.certificate.early_renewal_hours) == (8760, 720)
    assert cfg.certificate.subject.organizational_unit == "Kubernetes The Hard Way"
    ic = cfg.in_cluster
    assert (ic.scheduler_name, ic.namespace, ic.replicas) == ("custom-k8s-scheduler", "kube-system", 2)
    assert (ic.scoring_strategy, ic.resource_weights) == ("MostAllocated", {"cpu": 1, "memory": 1})
    assert (ic.qps, ic.burst) == (100.0, 200)
    assert ic.excluded_node_label_keys == ["karpenter.sh/nodepool"]
    assert (ic.resources.cpu, ic.resources.memory) == ("500m", "512Mi")
    assert cfg.in_cluster_image == "registry.k8s.io/kube-scheduler:v1.34.2"
    le = cfg.bare_metal.leader_election
    assert (le.lease_duration_seconds, le.renew_deadline_seconds, le.retry_period_seconds) == (15, 10, 2)
    # Secrets stay masked in reprs (and so in tracebacks and logs).
    assert pki.ca_key not in repr(cfg)
    assert pki.ssh_key not in repr(cfg)


def test_per_host_api_server_and_digest_and_files(pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text(pki.ca_cert)
    (tmp_path / "ca.key").write_text(pki.ca_key)
    (tmp_path / "hk.pub").write_text(pki.host_keys[2] + " root@master-3\n")
    c = base_config(pki)
    del c["caCert"], c["caKey"]
    c |= {"caCertFile": "ca.crt", "caKeyFile": "ca.key"}
    c = mutate(c, "bareMetal.hosts.0.apiServerUrl", "https://10.231.0.11:6443/")
    c = mutate(c, "bareMetal.hosts.2.hostKey", DELETE)
    c = mutate(c, "bareMetal.hosts.2.hostKeyFile", "hk.pub")
    c = mutate(c, "inCluster.imageDigest", "sha256:" + "b" * 64)
    cfg = load_config(as_raw(c), base_dir=tmp_path)
    assert cfg.ca_cert_pem == pki.ca_cert
    assert cfg.hosts[0].api_server_url == "https://10.231.0.11:6443"
    assert cfg.hosts[2].host_key == pki.host_keys[2] + " root@master-3"
    assert cfg.in_cluster_image == "registry.k8s.io/kube-scheduler:v1.34.2@sha256:" + "b" * 64


def test_insecure_opt_out_allows_missing_host_key(pki: Pki) -> None:
    c = mutate(base_config(pki), "bareMetal.hosts.0.hostKey", DELETE)
    c = mutate(c, "bareMetal.insecureSkipHostKeyCheck", True)
    assert load_config(as_raw(c)).hosts[0].host_key is None


def test_render_mode_needs_no_ssh_credentials_pins_or_binary(pki: Pki) -> None:
    c = base_config(pki) | {"outputMode": "render"}
    del c["sshPrivateKey"], c["bareMetal"]["binary"]
    for host in c["bareMetal"]["hosts"]:
        del host["hostKey"]
    cfg = load_config(as_raw(c))
    assert [h.host_key for h in cfg.hosts] == [None, None, None]
    # ...while the same config in apply mode is refused for each of them.
    with pytest.raises(ConfigError) as info:
        load_config(as_raw(c | {"outputMode": "apply"}))
    joined = "\n".join(problem_texts(info.value))
    assert joined.count(".hostKey:") == 3 and joined.count(".privateKeyFile:") == 3
    assert "bareMetal.binary.sha256" in joined


def test_local_binary_is_hashed(pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "kube-scheduler").write_bytes(b"binary")
    c = mutate(base_config(pki), "bareMetal.binary", {"localFile": "kube-scheduler"})
    cfg = load_config(as_raw(c), base_dir=tmp_path)
    # sha256 of b"binary", computed independently with coreutils' sha256sum.
    assert cfg.binary.sha256 == "9a3a45d01531a20e89ac6ae10b0b0beb0492acd7216a368aa062d1a5fecaf9cd"


# (id, mutations, expected substrings of one reported problem)
BAD: list[tuple[str, list[tuple[str, Any]], list[str]]] = [
    (
        "version-too-old",
        [("kubernetesVersion", "1.20.0")],
        ["kube-scheduler:kubernetesVersion", "'1.20.0'", "supported: 1.29 to 1.37"],
    ),
    (
        "version-malformed",
        [("kubernetesVersion", "latest")],
        ["kube-scheduler:kubernetesVersion", "'latest'", "1.MINOR.PATCH"],
    ),
    (
        "host-name-malformed",
        [("bareMetal.hosts.0.name", "Master_1")],
        ["kube-scheduler:bareMetal.hosts[0].name", "DNS-1123", "'Master_1'"],
    ),
    (
        "host-address-malformed",
        [("bareMetal.hosts.1.address", "10.0.0.300")],
        ["kube-scheduler:bareMetal.hosts[1].address", "IP address or DNS name", "'10.0.0.300'"],
    ),
    (
        "host-name-duplicate",
        [("bareMetal.hosts.2.name", "master-1")],
        ["kube-scheduler:bareMetal.hosts[2].name", "unique name", "'master-1' again (also hosts[0])"],
    ),
    (
        "host-address-duplicate",
        [("bareMetal.hosts.1.address", "10.231.0.11")],
        ["kube-scheduler:bareMetal.hosts[1].address", "unique address", "'10.231.0.11'"],
    ),
    (
        "host-key-missing",
        [("bareMetal.hosts.1.hostKey", DELETE)],
        [
            "kube-scheduler:bareMetal.hosts[1].hostKey",
            "pinned SSH public key",
            "'master-2'",
            "insecureSkipHostKeyCheck",
        ],
    ),
    (
        "host-key-malformed",
        [("bareMetal.hosts.0.hostKey", "not-a-key")],
        ["kube-scheduler:bareMetal.hosts[0].hostKey", "OpenSSH public key", "'not-a-key'"],
    ),
    (
        "ssh-port-out-of-range",
        [("bareMetal.hosts.0.port", 70000)],
        ["kube-scheduler:bareMetal.hosts[0].port", "less than or equal to 65535", "70000"],
    ),
    (
        "no-ssh-credentials",
        [("sshPrivateKey", DELETE)],
        ["kube-scheduler:bareMetal.hosts[0].privateKeyFile", "useAgent", "'master-1'"],
    ),
    ("ca-key-mismatch", [("caKey", "OTHER")], ["kube-scheduler:caKey", "does not match", "CN=test-ca"]),
    ("ca-key-missing", [("caKey", DELETE)], ["kube-scheduler:caKey", "required", "caKeyFile"]),
    (
        "ca-file-missing",
        [("caCert", DELETE), ("caCertFile", "/nonexistent/ca.crt")],
        ["kube-scheduler:caCertFile", "readable file", "'/nonexistent/ca.crt'"],
    ),
    (
        "replicas-zero",
        [("inCluster.replicas", 0)],
        ["kube-scheduler:inCluster.replicas", "expected a whole number from 1 to 2147483647", "got 0"],
    ),
    (
        "cpu-quantity-bad",
        [("inCluster.resources.cpu", "lots")],
        ["kube-scheduler:inCluster.resources.cpu", "Kubernetes quantity", "'lots'"],
    ),
    (
        "memory-quantity-bad",
        [("inCluster.resources.memory", "512MB")],
        ["kube-scheduler:inCluster.resources.memory", "Kubernetes quantity", "'512MB'"],
    ),
    (
        "scoring-unknown",
        [("inCluster.scoringStrategy", "Random")],
        ["kube-scheduler:inCluster.scoringStrategy", "MostAllocated", "'Random'"],
    ),
    (
        "weight-negative",
        [("inCluster.resourceWeights", {"cpu": -1, "memory": 1})],
        ["kube-scheduler:inCluster.resourceWeights", "'cpu': expected a weight from 1 to 100, got -1"],
    ),
    (
        "renew-not-below-lease",
        [("bareMetal.leaderElection", {"leaseDurationSeconds": 10, "renewDeadlineSeconds": 10})],
        [
            "kube-scheduler:bareMetal.leaderElection",
            "renewDeadlineSeconds",
            "leaseDurationSeconds (10)",
            "got 10",
        ],
    ),
    (
        "retry-within-client-go-jitter",
        [("inCluster.leaderElection", {"renewDeadlineSeconds": 6, "retryPeriodSeconds": 5})],
        [
            "kube-scheduler:inCluster.leaderElection.retryPeriodSeconds:",
            "above 1.2 x retryPeriodSeconds",
            "got 5",
        ],
    ),
    (
        "lease-longer-than-go-duration",
        [("bareMetal.leaderElection", {"leaseDurationSeconds": 10**10})],
        [
            "kube-scheduler:bareMetal.leaderElection.leaseDurationSeconds:",
            "from 1 to 9223372036",
            "10000000000",
        ],
    ),
    (
        "qps-infinite",
        [("bareMetal.qps", float("inf"))],
        ["kube-scheduler:bareMetal.qps", "finite number above 0 (a float32)", "got inf"],
    ),
    (
        "burst-beyond-int32",
        [("inCluster.burst", 2**31)],
        ["kube-scheduler:inCluster.burst", "from 1 to 2147483647", "got 2147483648"],
    ),
    (
        "verbosity-too-high",
        [("bareMetal.verbosity", 11)],
        ["kube-scheduler:bareMetal.verbosity", "from 0 to 10", "got 11"],
    ),
    (
        "weight-name-not-a-resource",
        [("inCluster.resourceWeights", {"nvidia gpu": 1})],
        ["kube-scheduler:inCluster.resourceWeights", "resource name", "'nvidia gpu'"],
    ),
    (
        "image-not-a-reference",
        [("inCluster.image", "Registry.k8s.io/Kube Scheduler:v1")],
        ["kube-scheduler:inCluster.image", "image reference", "'Registry.k8s.io/Kube Scheduler:v1'"],
    ),
    (
        "image-without-tag",
        [("inCluster.image", "registry.example.com/kube-scheduler")],
        ["kube-scheduler:inCluster.image", "pinned by :tag or @sha256:digest"],
    ),
    (
        "ssh-user-not-root",
        [("bareMetal.hosts.0.user", "ubuntu")],
        ["kube-scheduler:bareMetal.hosts[0].user", "expected root", "'ubuntu'"],
    ),
    (
        "path-with-space",
        [("bareMetal.paths", {"binary": "/usr/local/bin/kube scheduler"})],
        ["kube-scheduler:bareMetal.paths.binary", "absolute path", "'/usr/local/bin/kube scheduler'"],
    ),
    (
        "both-paths-disabled",
        [("bareMetal.enabled", False), ("inCluster.enabled", False)],
        ["bareMetal.enabled / inCluster.enabled", "at least one path", "both disabled"],
    ),
    ("unknown-key", [("bareMetal.hostz", [])], ["kube-scheduler:bareMetal.hostz", "unknown key"]),
    (
        "url-without-sha",
        [("bareMetal.binary", {"url": "https://example.invalid/kube-scheduler"})],
        ["kube-scheduler:bareMetal.binary", "sha256: required"],
    ),
    (
        "api-server-http",
        [("apiServerUrl", "http://10.0.0.1:6443")],
        ["kube-scheduler:apiServerUrl", "https://", "'http://10.0.0.1:6443'"],
    ),
    (
        "output-mode-unknown",
        [("outputMode", "dry")],
        ["kube-scheduler:outputMode", "'apply' or 'render'", "'dry'"],
    ),
    (
        "label-key-bad",
        [("inCluster.excludedNodeLabelKeys", ["bad key!"])],
        ["kube-scheduler:inCluster.excludedNodeLabelKeys", "'bad key!'"],
    ),
    # ---- values that pass a type check but leave a scheduler alive and useless, or reach beyond
    # what the stack owns (bounds and their reasons: components/render/rules.py)
    (
        "qps-starves",
        [("bareMetal.qps", 0.5)],
        ["kube-scheduler:bareMetal.qps", "expected at least 5", "got 0.5"],
    ),
    (
        "burst-below-qps",
        [("inCluster.qps", 300), ("inCluster.burst", 150)],
        ["kube-scheduler:inCluster.burst", "expected at least 300", "got 150"],
    ),
    (
        "burst-tiny",
        [("bareMetal.burst", 1)],
        ["kube-scheduler:bareMetal.burst", "expected at least 50", "got 1"],
    ),
    (
        "lease-of-a-century",
        [("bareMetal.leaderElection", {"leaseDurationSeconds": 3_153_600_000})],
        ["kube-scheduler:bareMetal.leaderElection.leaseDurationSeconds", "expected at most 60", "3153600000"],
    ),
    (
        "retry-of-an-hour",
        [
            (
                "inCluster.leaderElection",
                {"leaseDurationSeconds": 60, "renewDeadlineSeconds": 59, "retryPeriodSeconds": 40},
            )
        ],
        ["kube-scheduler:inCluster.leaderElection.retryPeriodSeconds", "expected at most 10", "got 40"],
    ),
    (
        "certificate-of-an-hour",
        [("certificate", {"validityHours": 1, "earlyRenewalHours": 0})],
        ["kube-scheduler:certificate.validityHours", "expected at least 168", "got 1"],
    ),
    (
        "no-renewal-window",
        [("certificate", {"earlyRenewalHours": 0})],
        ["kube-scheduler:certificate.earlyRenewalHours", "expected 24 to 4380", "got 0"],
    ),
    (
        "renewal-window-most-of-the-life",
        [("certificate", {"validityHours": 720, "earlyRenewalHours": 700})],
        ["kube-scheduler:certificate.earlyRenewalHours", "expected 24 to 360", "got 700"],
    ),
    (
        "bind-address-with-zone",
        [("bareMetal.bindAddress", "fe80::1%eth0 --leader-elect=false")],
        ["kube-scheduler:bareMetal.bindAddress", "without a %zone", "'fe80::1%eth0 --leader-elect=false'"],
    ),
    (
        "same-address-written-twice",
        [("bareMetal.hosts.1.address", "::ffff:10.231.0.11")],
        ["kube-scheduler:bareMetal.hosts[1].address", "unique address", "'::ffff:10.231.0.11'"],
    ),
    (
        "same-name-other-case",
        [
            ("bareMetal.hosts.1.address", "Master-1.Example.COM."),
            ("bareMetal.hosts.2.address", "master-1.example.com"),
        ],
        ["kube-scheduler:bareMetal.hosts[2].address", "unique address", "(also hosts[1])"],
    ),
    (
        "name-with-trailing-newline",
        [("bareMetal.hosts.0.name", "master-1\n")],
        ["kube-scheduler:bareMetal.hosts[0].name", "DNS-1123 label", "'master-1\\n'"],
    ),
    (
        "sha-with-trailing-newline",
        [("bareMetal.binary", {"url": "https://dl.k8s.io/kube-scheduler", "sha256": "b" * 64 + "\n"})],
        ["kube-scheduler:bareMetal.binary.sha256", "64 lowercase hex digits"],
    ),
    (
        "config-dir-of-the-system",
        [("bareMetal.paths", {"configDir": "/etc"})],
        ["kube-scheduler:bareMetal.paths.configDir", "dedicated to kube-scheduler", "'/etc'"],
    ),
    (
        "config-dir-of-another-component",
        [("bareMetal.paths", {"configDir": "/etc/kubernetes/pki"})],
        ["kube-scheduler:bareMetal.paths.configDir", "dedicated to kube-scheduler", "'/etc/kubernetes/pki'"],
    ),
    (
        "config-dir-in-systemd",
        [("bareMetal.paths", {"configDir": "/etc/systemd/system/kube-scheduler"})],
        ["kube-scheduler:bareMetal.paths.configDir", "outside /etc/systemd"],
    ),
    (
        "binary-of-another-program",
        [("bareMetal.paths", {"binary": "/usr/bin/ssh"})],
        ["kube-scheduler:bareMetal.paths.binary", "file name is kube-scheduler", "'/usr/bin/ssh'"],
    ),
    (
        "second-default-scheduler",
        [("bareMetal.enabled", False), ("inCluster.schedulerName", "default-scheduler")],
        ["kube-scheduler:inCluster.schedulerName", "a name of its own", "'default-scheduler'"],
    ),
]


def _apply(pki: Pki, mutations: list[tuple[str, Any]]) -> dict[str, Any]:
    c = base_config(pki)
    for path, value in mutations:
        c = mutate(c, path, pki.other_key if value == "OTHER" else value)
    return c


@pytest.mark.parametrize(("mutations", "expected"), [(m, e) for _, m, e in BAD], ids=[i for i, _, _ in BAD])
def test_bad_config_is_reported_and_creates_nothing(
    pki: Pki, mutations: list[tuple[str, Any]], expected: list[str]
) -> None:
    raw = as_raw(_apply(pki, mutations))
    with pytest.raises(ConfigError) as info:
        run_program(raw)
    matching = [p for p in problem_texts(info.value) if all(s in p for s in expected)]
    assert matching, f"no problem contains {expected}: {problem_texts(info.value)}"
    # Secrets are never echoed back.
    assert pki.ca_key not in str(info.value) and pki.other_key not in str(info.value)


@pytest.mark.parametrize("mutations", [[("inCluster.replicas", 0)], [("bareMetal.hosts.1.hostKey", DELETE)]])
def test_bad_config_registers_no_resource(pki: Pki, mutations: list[tuple[str, Any]]) -> None:
    good, bad = Recorder(), Recorder()
    run_program(as_raw(base_config(pki)), recorder=good)
    assert len(good.resources) > 20  # the same program with valid input does register resources
    with pytest.raises(ConfigError):
        run_program(as_raw(_apply(pki, mutations)), recorder=bad)
    assert bad.resources == []


def test_all_problems_reported_at_once(pki: Pki) -> None:
    raw = as_raw(
        _apply(
            pki,
            [
                ("kubernetesVersion", "1.99.0"),
                ("bareMetal.hosts.0.name", "BAD"),
                ("bareMetal.hosts.1.hostKey", DELETE),
                ("inCluster.replicas", 0),
                ("inCluster.scoringStrategy", "Nope"),
            ],
        )
    )
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    joined = "\n".join(problem_texts(info.value))
    for key in ("kubernetesVersion", "hosts[0].name", "inCluster.replicas", "scoringStrategy"):
        assert key in joined
    assert len(problem_texts(info.value)) >= 4


def test_missing_ca_is_reported_with_field_errors() -> None:
    raw = {"kubernetesVersion": "1.20.0", "apiServerUrl": "https://a:6443", "inCluster": '{"enabled": true}'}
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert problem_texts(info.value) == [
        "kube-scheduler:kubernetesVersion: expected a version 1.MINOR.PATCH (supported: 1.29 to 1.37), "
        "got '1.20.0'",
        "kube-scheduler:caCert: required (or caCertFile), got nothing",
        "kube-scheduler:caKey: required (or caKeyFile), got nothing",
    ]


def test_pulumi_yaml_declares_exactly_the_keys_read() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == PROJECT
    declared = project["config"]
    assert set(declared) == set(TOP_LEVEL_KEYS)
    # Only the two required keys lack a default (Pulumi requires every other declared key).
    assert {k for k, v in declared.items() if "default" not in v} == {"kubernetesVersion", "apiServerUrl"}
    for key in SECRET_KEYS:
        assert "--secret" in declared[key]["description"]
    assert all(v.get("description") for v in declared.values())


def test_program_reads_its_namespace_and_secret_keys_from_the_pulumi_runtime(pki: Pki) -> None:
    import pulumi

    from components.config import program_values

    raw = as_raw(base_config(pki))
    full = {f"{PROJECT}:{k}": v for k, v in raw.items()}
    pulumi.runtime.set_all_config(full | {"other:key": "x"}, secret_keys=[f"{PROJECT}:caKey"])
    try:
        values, secret = program_values()
        assert values == raw
        assert secret == {"caKey"}
    finally:
        pulumi.runtime.set_all_config({}, secret_keys=[])


def test_secret_keys_must_be_set_as_secrets(pki: Pki) -> None:
    raw = as_raw(base_config(pki))
    load_config(raw, secret_keys={"caKey", "sshPrivateKey"})
    with pytest.raises(ConfigError) as info:
        load_config(raw, secret_keys={"caKey"})
    (problem,) = problem_texts(info.value)
    assert problem.startswith("kube-scheduler:sshPrivateKey: expected a secret (pulumi config set --secret")
    assert pki.ssh_key not in problem


def test_pulumi_defaults_count_as_unset(pki: Pki) -> None:
    raw = as_raw(base_config(pki)) | {"caCertFile": "", "certificate": "{}", "renderDir": ""}
    cfg = load_config(raw)
    assert cfg.render_dir == ".render" and cfg.certificate.validity_hours == 8760


def _upstream_names(minor: int, kind: str, namespace: str) -> list[str]:
    """Names of `kind` Kubernetes itself makes at that minor (the generated upstream table) that a
    user could choose as a scheduler name (DNS labels)."""
    from components.render.names import is_dns_label
    from components.render.upstream_objects import upstream_objects
    from components.render.versions import KubeVersion

    return sorted(
        name
        for k, ns, name in upstream_objects(KubeVersion(1, minor, 0))
        if k == kind and ns in (namespace, "*", "") and is_dns_label(name)
    )


@pytest.mark.parametrize(
    ("kind", "namespace"), [("ClusterRole", ""), ("ServiceAccount", "kube-system"), ("Lease", "kube-system")]
)
def test_a_scheduler_name_kubernetes_uses_itself_is_refused(pki: Pki, kind: str, namespace: str) -> None:
    names = _upstream_names(34, kind, namespace)
    assert names, kind
    for name in names:
        c = mutate(base_config(pki), "inCluster.schedulerName", name)
        with pytest.raises(ConfigError) as info:
            load_config(as_raw(c))
        (problem,) = [p for p in problem_texts(info.value) if "inCluster.schedulerName" in p]
        assert f"got {name!r}" in problem and f"{kind} " in problem, problem
