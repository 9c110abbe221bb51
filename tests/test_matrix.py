"""Every supported minor proven by its own real binaries and source (issue: Kubernetes versions).

Per version (the newest patch the Go module proxy serves): every scheduler config the program
renders loads in that version's kube-scheduler; every flag the unit passes is one it accepts (the
unit's exact command line runs); the ClusterRole equals upstream's system:kube-scheduler under
default gates minus the documented deliberate differences, and the gate table agrees with
upstream's defaults (both from tools/upstream built against that version); the probe paths
match what its source serves. `make test` runs the oldest and newest minors, `make matrix` all.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from components.config import BareMetal, InCluster, LeaderElection
from components.render import master
from components.render.cluster import scheduler_config
from components.render.rbac import (
    deliberately_left_out,
    gate_defaults,
    permissions,
    scheduler_cluster_role_rules,
)
from components.render.scheduler_config import SCORING_STRATEGIES, render_scheduler_config
from components.render.systemd_unit import scheduler_flags
from components.render.versions import KubeVersion, health_paths, parse_kube_version, removed_scheduler_flags
from harness.pki import make_ca, pem_key
from tests.scheduler_binary import NEWEST_PATCH, kube_scheduler, load, module_source, upstream_facts

pytestmark = pytest.mark.toolchain

_ALL = sorted(NEWEST_PATCH.values(), key=lambda v: parse_kube_version(v))
VERSIONS = _ALL if os.environ.get("KSCHED_MATRIX") == "all" else [_ALL[0], _ALL[-1]]


def _v(version: str) -> KubeVersion:
    return parse_kube_version(version)


def variants(v: KubeVersion) -> dict[str, str]:
    """Every kind of scheduler config the program renders for `v`."""
    out = {"bare-metal": render_scheduler_config(master.config_spec(BareMetal(), v))}
    timings = LeaderElection(lease_duration_seconds=30, renew_deadline_seconds=20, retry_period_seconds=4)
    out["bare-metal, custom lease timings, qps"] = render_scheduler_config(
        master.config_spec(BareMetal(leader_election=timings, qps=300.5, burst=600), v)
    )
    for strategy in sorted(SCORING_STRATEGIES):
        out[f"in-cluster {strategy}"] = scheduler_config(InCluster(scoring_strategy=strategy), v)
    out["in-cluster, extended resource weights"] = scheduler_config(
        InCluster(resource_weights={"cpu": 3, "memory": 1, "example.com/gpu": 5}, leader_election=timings), v
    )
    return out


@pytest.mark.parametrize("version", VERSIONS)
def test_every_rendered_config_loads_in_that_versions_scheduler(version: str) -> None:
    binary = kube_scheduler(version)
    for name, text in variants(_v(version)).items():
        out = load(binary, text)
        assert out.returncode == 0, (
            f"{name} refused by kube-scheduler {version}:\n{text}\n{out.stderr[-1500:]}"
        )


def _serving_pair(tmp: Path) -> tuple[Path, Path]:
    cert, key = make_ca(
        "system:kube-scheduler", days=1, ca=False, key_cert_sign=False, san_ips=("127.0.0.1",)
    )
    crt, pem = tmp / "kube-scheduler.crt", tmp / "kube-scheduler.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_text(pem_key(key))
    return crt, pem


@pytest.mark.parametrize("version", VERSIONS)
def test_the_units_command_line_is_accepted_by_that_versions_scheduler(version: str) -> None:
    v = _v(version)
    binary = kube_scheduler(version)
    with tempfile.TemporaryDirectory(prefix="ksched-unit-") as name:
        tmp = Path(name)
        crt, key = _serving_pair(tmp)
        kubeconfig = tmp / "kube-scheduler.kubeconfig"
        # the unit of a master whose paths are this scratch directory and this version's binary
        bm = BareMetal()
        spec = dataclasses.replace(
            master.unit_spec(bm, v),
            binary_path=str(binary),
            config_path=str(tmp / "kube-scheduler.yaml"),
            kubeconfig_path=str(kubeconfig),
            cert_path=str(crt),
            key_path=str(key),
            ca_path=str(crt),
        )
        # the files the flags name, as a master has them (the config names the kubeconfig)
        config = render_scheduler_config(
            dataclasses.replace(master.config_spec(bm, v), kubeconfig_path=str(kubeconfig))
        )
        assert f"kubeconfig: {kubeconfig}" in config
        (tmp / "kube-scheduler.yaml").write_text(config)
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
            "users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
            "current-context: c\n"
        )
        flags = scheduler_flags(spec)
        out = subprocess.run(
            [str(binary), *flags, f"--write-config-to={tmp}/out.yaml"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 0, f"kube-scheduler {version} refused {flags}:\n{out.stderr[-1500:]}"


@pytest.mark.parametrize("version", VERSIONS)
def test_no_removed_flag_is_passed_and_the_removed_ones_are_gone(version: str) -> None:
    v = _v(version)
    help_text = subprocess.run(
        [str(kube_scheduler(version)), "--help"], capture_output=True, text=True
    ).stdout
    known = set(re.findall(r"^\s+(?:-\w, )?(--[\w-]+)", help_text, re.M))
    assert len(known) > 50, help_text[:500]
    passed = {f.split("=", 1)[0] for f in scheduler_flags(master.unit_spec(BareMetal(), v))}
    assert passed <= known, passed - known
    # the table of removed flags, against the binary: none of them is known to it
    assert not removed_scheduler_flags(v) & known


@pytest.mark.parametrize("version", VERSIONS)
def test_the_role_is_upstreams_minus_the_documented_differences(version: str) -> None:
    v = _v(version)
    facts = upstream_facts(version)
    upstream_rules: Any = facts["schedulerRules"]
    upstream = permissions(upstream_rules)
    ours = permissions(scheduler_cluster_role_rules(v, "kube-scheduler"))
    assert ours - upstream == set(), "granted beyond upstream"
    assert upstream - ours == deliberately_left_out(v), "undocumented difference from upstream"


@pytest.mark.parametrize("version", VERSIONS)
def test_the_gate_table_agrees_with_upstreams_defaults(version: str) -> None:
    gates: Any = upstream_facts(version)["gates"]
    for gate, on in gate_defaults(_v(version)).items():
        assert gates.get(gate, False) is on, (
            f"{gate} default in {version}: upstream {gates.get(gate)}, ours {on}"
        )


@pytest.mark.parametrize("version", VERSIONS)
def test_probe_paths_match_what_the_source_serves(version: str) -> None:
    kube_scheduler(version)  # puts the source in the module cache
    server = (module_source(version) / "cmd/kube-scheduler/app/server.go").read_text()
    serves_readyz = "InstallReadyzHandler" in server and "sched-handler-sync" in server
    assert health_paths(_v(version)) == (("/livez", "/readyz") if serves_readyz else ("/healthz", "/healthz"))
