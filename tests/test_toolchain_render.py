"""The real toolchain (CLI, language host, tls/command/kubernetes plugins) on a render-mode stack.

preview, up, a second up with no changes, a readable `preview --diff`, and destroy, through the
Automation API with a temporary local backend. The certificates are made by the real pulumi-tls
provider and checked here with `cryptography`.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pulumi import automation as auto

from components.stack import program
from tests.support import configure_stack, make_ca, pem_key, state_file_text

ROOT = Path(__file__).resolve().parent.parent
HOSTS = {"master-1": "10.231.0.11", "master-2": "10.231.0.12", "master-3": "10.231.0.13"}
PASSPHRASE = "toolchain-test-passphrase"

pytestmark = pytest.mark.toolchain


def _ca(tmp: Path) -> x509.Certificate:
    cert, key = make_ca("render-test-ca")
    (tmp / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "ca.key").touch(mode=0o600)
    (tmp / "ca.key").write_text(pem_key(key))
    return cert


def _project_copy(tmp: Path) -> Path:
    """A scratch project dir, so stack files and state never land in the repository."""
    work = tmp / "project"
    work.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", work / "Pulumi.yaml")
    return work


class Rendered:
    def __init__(self, stack: auto.Stack, out: Path, ca: x509.Certificate, backend: Path) -> None:
        self.stack, self.out, self.ca, self.backend = stack, out, ca, backend
        self.first_up: auto.UpResult | None = None
        self.second_up: auto.UpResult | None = None
        self.preview_lines: list[str] = []


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    assert shutil.which("pulumi"), "pulumi not on PATH: run `make setup` (or source scripts/env.sh)"
    tmp = tmp_path_factory.mktemp("render-stack")
    ca = _ca(tmp)
    out = tmp / "out"
    work = _project_copy(tmp)
    (tmp / "state").mkdir()
    env = {
        "PULUMI_BACKEND_URL": f"file://{tmp / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PYTHONPATH": str(ROOT),
    }
    # Inline: the language host cannot be built offline (see README); same program as __main__.py.
    ws = auto.LocalWorkspace(work_dir=str(work), env_vars=env, program=program)
    stack = auto.Stack.create("render", ws)
    hosts = [{"name": n, "address": a} for n, a in HOSTS.items()]
    config = {
        "kubernetesVersion": "1.34.2",
        "apiServerUrl": "https://10.231.0.1:6443",
        "caCertFile": str(tmp / "ca.crt"),
        "caKeyFile": str(tmp / "ca.key"),
        "outputMode": "render",
        # the tls and command plugins cannot be built offline: builtin dynamic providers
        "resourceBackend": "builtin",
        "renderDir": str(out),
        "bareMetal": {"enabled": True, "hosts": hosts},
        "inCluster": {"enabled": True, "waitForReady": False},
    }
    configure_stack(stack, config)
    r = Rendered(stack, out, ca, tmp / "state")
    stack.preview(color="never")
    r.first_up = stack.up(color="never")
    r.second_up = stack.up(color="never")
    configure_stack(stack, config | {"inCluster": {"enabled": True, "qps": 150, "waitForReady": False}})
    stack.preview(diff=True, color="never", on_output=r.preview_lines.append)
    configure_stack(stack, config)
    try:
        yield r
    finally:
        stack.destroy(color="never")
        ws.remove_stack("render")


def _host_file(r: Rendered, host: str, path: str) -> Path:
    return r.out / "hosts" / host / path.lstrip("/")


def test_first_up_creates_and_second_up_changes_nothing(rendered: Rendered) -> None:
    assert rendered.first_up is not None and rendered.second_up is not None
    assert rendered.first_up.summary.result == "succeeded"
    created = {str(k): v for k, v in (rendered.first_up.summary.resource_changes or {}).items()}.get(
        "create", 0
    )
    assert created >= 3 * 9 + 9
    changes = {str(k): v for k, v in (rendered.second_up.summary.resource_changes or {}).items()}
    assert set(changes) == {"same"}, changes


@pytest.mark.parametrize(("host", "address"), list(HOSTS.items()))
def test_host_certificate_chains_to_the_ca(rendered: Rendered, host: str, address: str) -> None:
    pem = _host_file(rendered, host, "/etc/kubernetes/scheduler/pki/kube-scheduler.crt").read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    cert.verify_directly_issued_by(rendered.ca)
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    org = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert (cn, org) == ("system:kube-scheduler", "system:kube-scheduler")
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == sorted([host, "localhost"])
    assert sorted(str(ip) for ip in san.get_values_for_type(x509.IPAddress)) == sorted(["127.0.0.1", address])
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH}
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.key_encipherment
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert abs(lifetime - dt.timedelta(hours=8760)) < dt.timedelta(minutes=5)
    # The key file holds the private key of exactly this certificate.
    key = serialization.load_pem_private_key(
        _host_file(rendered, host, "/etc/kubernetes/scheduler/pki/kube-scheduler.key").read_bytes(), None
    )
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)


@pytest.mark.parametrize("host", HOSTS)
def test_kubeconfig_embeds_exactly_that_certificate(rendered: Rendered, host: str) -> None:
    kc = yaml.safe_load(
        _host_file(rendered, host, "/etc/kubernetes/scheduler/kube-scheduler.kubeconfig").read_text()
    )
    cert = _host_file(rendered, host, "/etc/kubernetes/scheduler/pki/kube-scheduler.crt").read_text()
    user = kc["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]).decode() == cert
    ca = base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"])
    assert ca == rendered.ca.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(
    ("path", "mode"),
    [
        ("/etc/kubernetes/scheduler/pki/kube-scheduler.key", 0o640),
        ("/etc/kubernetes/scheduler/kube-scheduler.kubeconfig", 0o640),
        ("/etc/kubernetes/scheduler/kube-scheduler.yaml", 0o640),
        ("/etc/kubernetes/scheduler/pki/ca.crt", 0o644),
        ("/etc/systemd/system/kube-scheduler.service", 0o644),
    ],
)
def test_rendered_file_modes(rendered: Rendered, path: str, mode: int) -> None:
    for host in HOSTS:
        assert stat.S_IMODE(_host_file(rendered, host, path).stat().st_mode) == mode


def test_manifests_parse_and_hold_the_expected_objects(rendered: Rendered) -> None:
    docs: list[dict[str, Any]] = []
    for f in sorted((rendered.out / "manifests").rglob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(f.read_text()) if d]
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert cm["immutable"] is True and cm["metadata"]["name"].startswith("custom-k8s-scheduler-config-")
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] != "ConfigMap")
    assert kinds == sorted(
        [
            ("ServiceAccount", "custom-k8s-scheduler"),
            ("ClusterRole", "custom-k8s-scheduler"),
            ("ClusterRoleBinding", "custom-k8s-scheduler"),
            ("ClusterRoleBinding", "custom-k8s-scheduler-as-volume-scheduler"),
            ("RoleBinding", "custom-k8s-scheduler-auth-reader"),
            ("Deployment", "custom-k8s-scheduler"),
            ("PodDisruptionBudget", "custom-k8s-scheduler"),
            ("Pod", "custom-k8s-scheduler-sample"),
        ]
    )
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert yaml.safe_load(cm["data"]["config.yaml"])["apiVersion"] == "kubescheduler.config.k8s.io/v1"


def test_state_holds_no_private_key_in_plain_text(rendered: Rendered) -> None:
    state = state_file_text(rendered.backend, "render")
    assert "PRIVATE KEY" not in state
    assert "ciphertext" in state  # the keys are there, encrypted


def test_preview_diff_is_readable(rendered: Rendered) -> None:
    text = "\n".join(rendered.preview_lines)
    # pulumi shows the embedded YAML as a structured diff; the immutable ConfigMap is replaced by
    # one named after its new content, and the Deployment rolls to it (its volume changes)
    assert "+-kubernetes:core/v1:ConfigMap: (replace)" in text
    assert re.search(r"qps\s*:\s*100 => 150", text), text[-3000:]
    config_map = r'"custom-k8s-scheduler-config-[0-9a-f]{10}"'
    renamed = rf"~ name: {config_map} => {config_map}"
    deployment = text.split("~ kubernetes:apps/v1:Deployment: (update)", 1)[1]
    assert re.search(renamed, deployment.split("Resources:")[0])
    assert "~ 1 to update" in text and "+-1 to replace" in text
    assert "PRIVATE KEY" not in text
