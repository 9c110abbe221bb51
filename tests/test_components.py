"""The components under Pulumi mocks: what they register, with which values, secrets and order."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
import yaml

from components.hostscripts import STATE_DIR
from tests.support import (
    Pki,
    Registered,
    Run,
    as_raw,
    base_config,
    fake_pem,
    mutate,
    run_program,
    script_params,
)

HOSTS = ["master-1", "master-2", "master-3"]
ADDRESSES = ["10.231.0.11", "10.231.0.12", "10.231.0.13"]


@pytest.fixture(scope="module")
def run(pki: Pki) -> Run:
    return run_program(as_raw(base_config(pki)))


def _commands(run: Run) -> list[Registered]:
    return run.recorder.by_type(":Command")


# ------------------------------------------------------------------ certificates


@pytest.mark.parametrize(("host", "address"), list(zip(HOSTS, ADDRESSES, strict=True)))
def test_certificate_identity_sans_usages(run: Run, host: str, address: str) -> None:
    csr = run.recorder.named(f"masters-{host}-csr").inputs
    subject = csr["subject"]
    assert subject["commonName"] == "system:kube-scheduler"
    assert subject["organization"] == "system:kube-scheduler"
    assert (subject["country"], subject["province"], subject["locality"]) == ("US", "Oregon", "Portland")
    assert subject["organizationalUnit"] == "Kubernetes The Hard Way"
    assert sorted(csr["dnsNames"]) == sorted([host, "localhost"])
    assert sorted(csr["ipAddresses"]) == sorted(["127.0.0.1", address])
    cert = run.recorder.named(f"masters-{host}-cert")
    assert sorted(cert.inputs["allowedUses"]) == sorted(
        ["digital_signature", "key_encipherment", "client_auth", "server_auth"]
    )
    assert cert.inputs["validityPeriodHours"] == 8760
    assert cert.inputs["earlyRenewalHours"] == 720
    assert "caPrivateKeyPem" in cert.secret_paths
    key = run.recorder.named(f"masters-{host}-key").inputs
    assert (key["algorithm"], key["rsaBits"]) == ("RSA", 2048)


def test_ecdsa_option(pki: Pki) -> None:
    c = mutate(base_config(pki, hosts=1), "certificate", {"keyAlgorithm": "ECDSA"})
    key = run_program(as_raw(c)).recorder.named("masters-master-1-key").inputs
    assert key["algorithm"] == "ECDSA" and key["ecdsaCurve"] == "P256" and "rsaBits" not in key


# ------------------------------------------------------------------ host files

# (file label, path, mode, owner:group, secret) — keys and kubeconfig readable by the
# service's group only, never writable by it.
FILES = [
    ("ca", "/etc/kubernetes/scheduler/pki/ca.crt", "0644", "root:root", False),
    ("cert", "/etc/kubernetes/scheduler/pki/kube-scheduler.crt", "0644", "root:root", False),
    ("key", "/etc/kubernetes/scheduler/pki/kube-scheduler.key", "0640", "root:kube-scheduler", True),
    (
        "kubeconfig",
        "/etc/kubernetes/scheduler/kube-scheduler.kubeconfig",
        "0640",
        "root:kube-scheduler",
        True,
    ),
    ("config", "/etc/kubernetes/scheduler/kube-scheduler.yaml", "0640", "root:kube-scheduler", False),
    ("unit", "/etc/systemd/system/kube-scheduler.service", "0644", "root:root", False),
]


@pytest.mark.parametrize(("label", "path", "mode", "owner", "secret"), FILES, ids=[f[0] for f in FILES])
def test_file_mode_owner_and_secrecy(
    run: Run, label: str, path: str, mode: str, owner: str, secret: bool
) -> None:
    for host in HOSTS:
        cmd = run.recorder.named(f"masters-{host}-file-{label}")
        # staged beside its path with its owner and mode; the rollout puts it in place
        create = script_params(cmd.inputs["create"])
        assert {k: create[k] for k in ("STATE", "DST", "MODE", "OWNER_GROUP")} == {
            "STATE": STATE_DIR,
            "DST": path,
            "MODE": mode,
            "OWNER_GROUP": owner,
        }
        # its delete removes the path only while this very step claims it
        delete = script_params(cmd.inputs["delete"])
        assert (delete["DST"], delete["CLAIM"]) == (path, create["CLAIM"])
        assert ("stdin" in cmd.secret_paths) is secret
        assert cmd.inputs["logging"] == ("none" if secret else "stdoutAndStderr")
        # Every host command verifies the pinned host key and uses a secret private key.
        conn = cmd.inputs["connection"]
        assert conn["host"] == ADDRESSES[HOSTS.index(host)]
        assert conn["hostKey"].startswith("ssh-ed25519 ")
        assert "connection.privateKey" in cmd.secret_paths or "connection" in cmd.secret_paths


def _claims(r: Run, host: str) -> dict[str, str]:
    return {
        c.name: script_params(c.inputs["create"])["CLAIM"]
        for c in _commands(r)
        if c.name.startswith(f"masters-{host}-") and "CLAIM" in script_params(c.inputs["create"])
    }


def test_every_step_claims_what_it_writes_under_an_id_of_its_own(pki: Pki, run: Run) -> None:
    claims = _claims(run, "master-1")
    assert len(claims) == 9  # prepare, six files, binary, service
    assert len(set(claims.values())) == len(claims)
    # the same step is the same claim run after run (a second `up` changes nothing)...
    assert _claims(run_program(as_raw(base_config(pki))), "master-1") == claims
    # ...and a renamed host's, or another backend's, steps are others: their deletes leave alone
    # what the new steps wrote
    renamed = run_program(as_raw(mutate(base_config(pki), "bareMetal.hosts.0.name", "m1")))
    assert not set(_claims(renamed, "m1").values()) & set(claims.values())
    other = base_config(pki) | {"resourceBackend": "builtin"}
    builtin_claims = {
        r.name: script_params(r.inputs["create"])["CLAIM"]
        for r in run_program(as_raw(other)).recorder.by_type("dynamic:Resource")
        if r.name.startswith("masters-master-1-") and "CLAIM" in script_params(r.inputs.get("create") or "")
    }
    assert len(builtin_claims) == 9 and not set(builtin_claims.values()) & set(claims.values())


def test_kubeconfig_embeds_this_hosts_cert_and_key(run: Run, pki: Pki) -> None:
    import base64

    for host in HOSTS:
        kc = yaml.safe_load(run.recorder.named(f"masters-{host}-file-kubeconfig").inputs["stdin"])
        user = kc["users"][0]["user"]
        cert = base64.b64decode(user["client-certificate-data"]).decode()
        key = base64.b64decode(user["client-key-data"]).decode()
        assert cert == fake_pem("CERTIFICATE", f"cert-of-masters-{host}-cert")
        assert key == fake_pem("PRIVATE KEY", f"key-of-masters-{host}-key")
        ca = base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
        assert ca == pki.ca_cert
        assert kc["clusters"][0]["cluster"]["server"] == "https://10.231.0.1:6443"


def test_no_secret_on_any_command_line(run: Run, pki: Pki) -> None:
    needles = ["PRIVATE KEY", pki.ssh_key.splitlines()[1], pki.ca_key.splitlines()[1]]
    needles += [base64_of(f"key-of-masters-{h}-key") for h in HOSTS]
    for cmd in _commands(run):
        for field in ("create", "update", "delete"):
            text = cmd.inputs.get(field) or ""
            assert not any(n in text for n in needles), f"{cmd.name}.{field} carries key material"


def base64_of(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def test_no_private_key_in_outputs(run: Run, pki: Pki) -> None:
    text = repr(run.outputs)
    assert "PRIVATE KEY" not in text and pki.ca_key not in text
    assert set(run.outputs["masters"]) == set(HOSTS)
    assert run.outputs["masters"]["master-2"] == {
        "address": "10.231.0.12",
        "cert_not_after": "2027-11-23T00:00:00Z",
    }
    assert run.outputs["masterLease"] == "kube-system/kube-scheduler"
    assert run.outputs["customSchedulerLease"] == "kube-system/custom-k8s-scheduler"


# ------------------------------------------------------------------ service and rollout


def test_masters_change_one_at_a_time(run: Run) -> None:
    deps = {h: run.recorder.named(f"masters-{h}-prepare").dependencies for h in HOSTS}
    assert not any(d.endswith("-service") for d in deps["master-1"])
    # nothing of master n+1 changes before master n runs healthy (every step follows prepare)
    assert "masters-master-1-service" in deps["master-2"]
    assert "masters-master-2-service" in deps["master-3"]
    for label in ("ca", "cert", "key", "kubeconfig", "config", "unit"):
        assert "masters-master-2-prepare" in run.recorder.named(f"masters-master-2-file-{label}").dependencies
    # ...and each rollout waits for everything its host reads.
    service = run.recorder.named("masters-master-2-service").dependencies
    for label in ("ca", "cert", "key", "kubeconfig", "config", "unit"):
        assert f"masters-master-2-file-{label}" in service
    assert "masters-master-2-binary" in service


def _rollout(r: Run, host: str = "master-1") -> dict[str, str]:
    return script_params(r.recorder.named(f"masters-{host}-service").inputs["stdin"])


def _written(r: Run, host: str) -> dict[str, str]:
    """sha256 of every file the stack writes to `host` (computed here from what it sends)."""
    out = {}
    for label, path, *_ in FILES:
        stdin = r.recorder.named(f"masters-{host}-file-{label}").inputs["stdin"]
        out[path] = hashlib.sha256(stdin.encode()).hexdigest()
    out["/usr/local/bin/kube-scheduler"] = "a" * 64
    return out


def test_the_rollout_runs_exactly_the_written_files_and_gates_them(run: Run) -> None:
    for host in HOSTS:
        rollout = _rollout(run, host)
        # the files it puts in place, each with the hash of what the file steps sent
        listed = {path: sha for sha, path in (line.split("  ") for line in rollout["FILES"].splitlines())}
        assert listed == _written(run, host)
        # 1.34: ready means the informers synced (/readyz); asked on loopback (bound everywhere)
        assert rollout["READY_URL"] == "https://127.0.0.1:10259/readyz"
        assert (rollout["TIMEOUT"], rollout["SOAK"], rollout["TAKE_OVER"]) == ("60", "5", "0")
        # the cluster's lease, read from the host with the scheduler's own credentials, within
        # client-go's worst case for the default timings (15 + 2 x 2 x 2.2 s) and some slack
        assert rollout["LEASE_URL"] == (
            "https://10.231.0.1:6443/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler"
        )
        assert (rollout["CERT"], rollout["KEY"]) == (FILES[1][1], FILES[2][1])
        assert int(rollout["LEASE_BOUND"]) == 15 + 9 + 5
    svc = run.recorder.named("masters-master-1-service").inputs
    assert script_params(svc["create"])["RID"] == _rollout(run)["RID"]
    assert script_params(svc["delete"])["SERVICE"] == "kube-scheduler.service"


def test_health_is_asked_where_the_service_listens(pki: Pki) -> None:
    c = mutate(base_config(pki, hosts=1), "bareMetal.bindAddress", "10.231.0.11")
    assert _rollout(run_program(as_raw(c)))["READY_URL"] == "https://10.231.0.11:10259/readyz"


def test_a_rollout_runs_only_when_something_the_service_reads_changed(pki: Pki, run: Run) -> None:
    for key, value in (("bareMetal.qps", 75), ("bareMetal.verbosity", 4)):
        changed = run_program(as_raw(mutate(base_config(pki), key, value)))
        for h in HOSTS:
            assert _rollout(changed, h)["RID"] != _rollout(run, h)["RID"], key
    # Same input, same scripts: a second `up` runs nothing.
    again = run_program(as_raw(base_config(pki)))
    for cmd in _commands(run):
        assert again.recorder.named(cmd.name).inputs == cmd.inputs


def test_binary_download_is_checksummed(run: Run) -> None:
    params = script_params(_script(run, "masters-master-1-binary"))
    assert params["URL"] == "https://dl.k8s.io/v1.34.2/bin/linux/amd64/kube-scheduler"
    assert (params["SHA256"], params["DST"]) == ("a" * 64, "/usr/local/bin/kube-scheduler")


def test_binary_upload_for_air_gapped_hosts(pki: Pki, tmp_path: Any, monkeypatch: Any) -> None:
    (tmp_path / "kube-scheduler").write_bytes(b"binary")
    monkeypatch.chdir(tmp_path)
    c = mutate(base_config(pki, hosts=1), "bareMetal.binary", {"localFile": "kube-scheduler"})
    r = run_program(as_raw(c))
    upload = r.recorder.named("masters-master-1-binary-upload")
    assert upload.inputs["remotePath"] == "/usr/local/bin/kube-scheduler.upload"
    params = script_params(_script(r, "masters-master-1-binary"))
    assert params["SHA256"] == hashlib.sha256(b"binary").hexdigest()
    assert params["STAGED"] == "/usr/local/bin/kube-scheduler.upload"
    assert "masters-master-1-binary-upload" in r.recorder.named("masters-master-1-binary").dependencies


def _script(r: Run, name: str) -> str:
    return str(r.recorder.named(name).inputs["create"])


def test_prepare_records_the_owner_and_the_take_over_choice(pki: Pki, run: Run) -> None:
    prep = run.recorder.named("masters-master-1-prepare").inputs
    params = script_params(prep["create"])
    # the mocks' project and stack
    assert (params["OWNER"], params["USER"], params["TAKE_OVER"]) == ("project/stack", "kube-scheduler", "0")
    assert params["DIRS"] == "/etc/kubernetes/scheduler /etc/kubernetes/scheduler/pki"
    assert script_params(prep["delete"])["CLAIM"] == params["CLAIM"]
    taken = run_program(as_raw(mutate(base_config(pki, hosts=1), "bareMetal.hosts.0.takeOver", True)))
    for step in ("prepare", "service"):
        inputs = taken.recorder.named(f"masters-master-1-{step}").inputs
        assert script_params(inputs["stdin" if step == "service" else "create"])["TAKE_OVER"] == "1"


def test_every_child_has_a_component_parent(run: Run) -> None:
    components = {
        r.name for r in run.recorder.resources if not r.type.startswith(("tls:", "command:", "kubernetes:"))
    }
    for r in run.recorder.resources:
        if r.type.startswith(("tls:", "command:", "kubernetes:")) and not r.type.startswith(
            "pulumi:providers"
        ):
            assert r.parent in components, f"{r.name} has parent {r.parent!r}"


def test_resources_per_host_do_not_depend_on_host_count(pki: Pki) -> None:
    def per_host(n: int) -> int:
        recorder = run_program(as_raw(mutate(base_config(pki, hosts=n), "inCluster.enabled", False))).recorder
        return len(recorder.resources)

    one, three = per_host(1), per_host(3)
    assert (three - one) % 2 == 0 and (three - one) // 2 == one - 1  # 1 component + Nx(per-host)


# ------------------------------------------------------------------ in-cluster path


def _k8s(run: Run, kind: str) -> list[Registered]:
    return [r for r in run.recorder.resources if r.type.endswith(f":{kind}")]


def test_rbac_least_privilege_and_own_lease(run: Run) -> None:
    (role,) = _k8s(run, "ClusterRole")
    rules = role.inputs["rules"]
    for rule in rules:
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert "*" not in rule.get(field, []), rule
    lease_rules = [r for r in rules if "leases" in r["resources"]]
    named = [r for r in lease_rules if r.get("resourceNames")]
    assert named and all(r["resourceNames"] == ["custom-k8s-scheduler"] for r in named)
    assert {"get", "update"} <= {v for r in named for v in r["verbs"]}
    assert any("create" in r["verbs"] and not r.get("resourceNames") for r in lease_rules)
    bound = {
        (b.inputs["roleRef"]["kind"], b.inputs["roleRef"]["name"], b.inputs["metadata"].get("namespace"))
        for b in _k8s(run, "ClusterRoleBinding") + _k8s(run, "RoleBinding")
    }
    assert bound == {
        ("ClusterRole", "custom-k8s-scheduler", None),
        ("ClusterRole", "system:volume-scheduler", None),
        ("Role", "extension-apiserver-authentication-reader", "kube-system"),
    }
    for b in _k8s(run, "ClusterRoleBinding") + _k8s(run, "RoleBinding"):
        assert b.inputs["subjects"] == [
            {"kind": "ServiceAccount", "name": "custom-k8s-scheduler", "namespace": "kube-system"}
        ]


def test_config_map_holds_the_custom_profile(run: Run) -> None:
    (cm,) = _k8s(run, "ConfigMap")
    text = cm.inputs["data"]["config.yaml"]
    # immutable, named by its content: a new config is a new ConfigMap
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    assert cm.inputs["metadata"]["name"] == f"custom-k8s-scheduler-config-{digest}"
    assert cm.inputs["immutable"] is True
    cfg = yaml.safe_load(text)
    assert cfg["apiVersion"] == "kubescheduler.config.k8s.io/v1"
    assert cfg["leaderElection"]["resourceName"] == "custom-k8s-scheduler"
    assert cfg["leaderElection"]["resourceNamespace"] == "kube-system"
    assert cfg["clientConnection"]["qps"] == 100 and cfg["clientConnection"]["burst"] == 200
    assert "kubeconfig" not in cfg["clientConnection"] or not cfg["clientConnection"]["kubeconfig"]
    (profile,) = cfg["profiles"]
    assert profile["schedulerName"] == "custom-k8s-scheduler"
    (fit,) = [p for p in profile["pluginConfig"] if p["name"] == "NodeResourcesFit"]
    strategy = fit["args"]["scoringStrategy"]
    assert strategy["type"] == "MostAllocated"
    assert sorted((r["name"], r["weight"]) for r in strategy["resources"]) == [("cpu", 1), ("memory", 1)]


def test_deployment_is_hardened_and_rolls_on_config_change(run: Run) -> None:
    (cm,) = _k8s(run, "ConfigMap")
    (dep,) = _k8s(run, "Deployment")
    spec = dep.inputs["spec"]
    assert spec["replicas"] == 2
    tpl = spec["template"]
    labels = tpl["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "kube-scheduler"
    assert labels["app.kubernetes.io/instance"] == "custom-k8s-scheduler"
    pod = tpl["spec"]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["serviceAccountName"] == "custom-k8s-scheduler"
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert {"key": "karpenter.sh/nodepool", "operator": "DoesNotExist"} in terms[0]["matchExpressions"]
    anti = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] > 0
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
    (c,) = pod["containers"]
    assert c["image"] == "registry.k8s.io/kube-scheduler:v1.34.2"
    csc = c["securityContext"]
    assert csc["allowPrivilegeEscalation"] is False and csc["readOnlyRootFilesystem"] is True
    assert csc["capabilities"] == {"drop": ["ALL"]}
    assert csc.get("runAsNonRoot", True) is True  # the custom-scheduler guide set false here
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        get = c[probe]["httpGet"]
        assert (get["path"], ports.get(get["port"], get["port"]), get["scheme"]) == (path, 10259, "HTTPS")
    assert c["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}
    assert c["resources"]["limits"]["memory"] == "512Mi"
    assert "--config=/etc/kubernetes/custom-k8s-scheduler/config.yaml" in c["command"]
    assert not any(a.startswith("--port") for a in c["command"])
    (mount,) = c["volumeMounts"]
    assert mount["readOnly"] is True and mount["mountPath"] == "/etc/kubernetes/custom-k8s-scheduler"
    (vol,) = pod["volumes"]
    assert vol["configMap"]["name"] == cm.inputs["metadata"]["name"]


def test_pdb_and_sample_pod(run: Run) -> None:
    (pdb,) = _k8s(run, "PodDisruptionBudget")
    assert pdb.inputs["spec"]["minAvailable"] == 1
    (pod,) = _k8s(run, "Pod")
    assert pod.inputs["spec"]["schedulerName"] == "custom-k8s-scheduler"


def test_single_replica_has_no_pdb(pki: Pki) -> None:
    r = run_program(as_raw(mutate(base_config(pki), "inCluster.replicas", 1)))
    assert _k8s(r, "PodDisruptionBudget") == []


def test_in_cluster_children_use_the_configured_provider(run: Run) -> None:
    providers = run.recorder.by_type("pulumi:providers:kubernetes")
    assert [p.name for p in providers] == ["cluster"]
    for kind in ("ServiceAccount", "ClusterRole", "ConfigMap", "Deployment"):
        (r,) = _k8s(run, kind)
        assert "::cluster::" in r.provider or r.provider.split("::")[-2:][0] == "cluster"


# ------------------------------------------------------------------ render mode


def test_render_mode_touches_no_host(pki: Pki, tmp_path: Any) -> None:
    c = base_config(pki) | {"outputMode": "render", "renderDir": str(tmp_path)}
    r = run_program(as_raw(c))
    assert r.recorder.by_type("command:remote:Command") == []
    assert r.recorder.by_type("remote:CopyToRemote") == []
    (provider,) = r.recorder.by_type("pulumi:providers:kubernetes")
    assert provider.inputs["renderYamlToDirectory"] == f"{tmp_path}/manifests"
    key = r.recorder.named("masters-master-2-file-key")
    assert (
        f"dst={tmp_path}/hosts/master-2/etc/kubernetes/scheduler/pki/kube-scheduler.key"
        in key.inputs["create"]
    )
    assert "chown" not in key.inputs["create"] and "stdin" in key.secret_paths
    assert re.search(r"mkdir -p", key.inputs["create"])


# ------------------------------------------------------------------ reading hosts back


@pytest.fixture(scope="module")
def builtin_run(pki: Pki) -> Run:
    return run_program(as_raw(base_config(pki) | {"resourceBackend": "builtin"}))


def test_every_host_step_carries_a_check_of_what_it_leaves(builtin_run: Run) -> None:
    steps = {
        r.name: r.inputs
        for r in builtin_run.recorder.by_type("dynamic:Resource")
        if r.name.startswith("masters-master-1-") and "connection" in r.inputs
    }
    labels = {name.removeprefix("masters-master-1-") for name in steps}
    assert labels == {"prepare", *(f"file-{f[0]}" for f in FILES), "binary", "service"}
    for name, inputs in steps.items():
        assert inputs["check"] and inputs["expected"], name
    # a file's check expects the hash of what is written, its mode and owner
    written = {}
    for label, path, mode, owner, _secret in FILES:
        step = steps[f"masters-master-1-file-{label}"]
        sha = hashlib.sha256(step["stdin"].encode()).hexdigest()
        written[path] = sha
        assert step["expected"] == f"{sha} {mode.lstrip('0')} {owner}", label
        # ...of the file at its path, as claimed by the step that writes it
        made = script_params(step["create"])
        assert script_params(step["check"]) == {"STATE": made["STATE"], "CLAIM": made["CLAIM"], "DST": path}
    # the service is as left only when it was started with exactly what was last written: the
    # digest of the record the rollout writes ("<sha256>  <path>" lines, sorted by path)
    written["/usr/local/bin/kube-scheduler"] = "a" * 64
    record = "".join(f"{sha}  {path}\n" for path, sha in sorted(written.items()))
    assert steps["masters-master-1-service"]["expected"] == (
        "running " + hashlib.sha256(record.encode()).hexdigest()[:16]
    )
    # no secret in any check (they travel in plain text and print only hashes)
    assert not any("PRIVATE KEY" in s["check"] for s in steps.values())


def _objects(r: Run) -> list[Registered]:
    return [o for o in r.recorder.resources if o.type.startswith("kubernetes:") and "metadata" in o.inputs]


def test_every_cluster_object_says_it_is_this_stacks_and_is_taken_back_from_hand_edits(run: Run) -> None:
    objects = _objects(run)
    assert len(objects) == 9
    for r in objects:
        meta = r.inputs["metadata"]
        assert meta["annotations"]["pulumi.com/patchForce"] == "true", r.name
        # Helm-style ownership marks, naming the mocks' project and stack
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "kube-scheduler-pulumi", r.name
        assert meta["annotations"]["kube-scheduler-pulumi/owner"] == "project/stack", r.name


def test_every_cluster_object_is_deleted_only_after_its_guard_found_it_ours(run: Run) -> None:
    guards = {g.name: g for g in run.recorder.by_type("dynamic:Resource") if "-owns-" in g.name}
    objects = _objects(run)
    assert len(guards) == len(objects)
    for obj in objects:
        meta = obj.inputs["metadata"]
        kind = obj.type.rsplit(":", 1)[-1]
        (guard,) = [
            g for g in guards.values() if g.inputs["name"] == meta["name"] and g.inputs["kind"] == kind
        ]
        # it depends on the object, so the engine deletes it (and runs its check) first
        assert obj.name in guard.dependencies
        assert guard.inputs["namespace"] == (meta.get("namespace") or "")
        assert guard.inputs["owner"] == "project/stack"


def test_render_mode_has_no_guards(pki: Pki, tmp_path: Any) -> None:
    c = base_config(pki) | {"outputMode": "render", "renderDir": str(tmp_path)}
    assert [
        g for g in run_program(as_raw(c)).recorder.by_type("dynamic:Resource") if "-owns-" in g.name
    ] == []
