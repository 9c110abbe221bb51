"""Failures through the public entry point (`python -m scripts.stack`, what `make up|preview` run):
Pulumi's diagnostics, then one line saying what failed and what to do next, a non-zero exit, no
Python traceback, no secret, and nothing created. Real toolchain, a scratch project and backend,
no lab (the unreachable master is 127.0.0.1 on a closed port; the API server a local HTTPS one)."""

from __future__ import annotations

import http.server
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pulumi import automation as auto

from tests.support import Pki, base_config, configure_stack

ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "stack-cli-test-passphrase"
pytestmark = pytest.mark.toolchain


class Project:
    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "project"
        self.dir.mkdir()
        shutil.copy(ROOT / "Pulumi.yaml", self.dir / "Pulumi.yaml")
        (tmp / "state").mkdir()
        self.env = {
            "PULUMI_BACKEND_URL": f"file://{tmp / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }

    def stack(self, name: str, config: dict[str, Any], secret: frozenset[str]) -> auto.Stack:
        ws = auto.LocalWorkspace(work_dir=str(self.dir), env_vars=self.env)
        stack = auto.Stack.create(name, ws)
        configure_stack(stack, config, secret)
        return stack

    def run(self, action: str, name: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.env, "KSCHED_PROJECT_DIR": str(self.dir)}
        return subprocess.run(
            [sys.executable, "-m", "scripts.stack", action, name],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def resources(stack: auto.Stack) -> list[Any]:
    return list((stack.export_stack().deployment or {}).get("resources", []))


def assert_reads_like_a_tool(out: subprocess.CompletedProcess[str], pki: Pki) -> str:
    text = out.stdout + out.stderr
    assert "Traceback" not in text, text[-3000:]
    assert "PRIVATE KEY" not in text and pki.ca_key.splitlines()[1] not in text
    return out.stderr.strip().splitlines()[-1]


def test_a_config_error_names_the_key_and_creates_nothing(project: Project, pki: Pki) -> None:
    cfg = base_config(pki, hosts=1) | {"resourceBackend": "builtin"}
    cfg["bareMetal"]["qps"] = "fast"
    stack = project.stack("bad", cfg, frozenset({"caKey", "sshPrivateKey"}))
    for action in ("preview", "up"):
        out = project.run(action, "bad")
        assert out.returncode == 2
        assert "kube-scheduler:bareMetal.qps: expected a valid number" in out.stderr
        last = assert_reads_like_a_tool(out, pki)
        assert last == f"==> {action}: nothing was done. Next: fix the keys above in Pulumi.bad.yaml."
    assert resources(stack) == []


def test_an_unreachable_master_fails_up_with_what_to_do(project: Project, pki: Pki) -> None:
    cfg = base_config(pki, hosts=1) | {"resourceBackend": "builtin", "apiServerUrl": "https://127.0.0.1:1"}
    cfg["bareMetal"]["hosts"][0] |= {"address": "127.0.0.1", "port": 1}  # nothing listens there
    cfg["inCluster"] = {"enabled": False}
    project.stack("unreachable", cfg, frozenset({"caKey", "sshPrivateKey"}))
    out = project.run("up", "unreachable")
    assert out.returncode == 1
    last = assert_reads_like_a_tool(out, pki)
    assert last == (
        "==> pulumi up failed: a master could not be reached over SSH (root@127.0.0.1:1). "
        "Next: bring it back (`make lab-up` for the lab) and run `make up`: the others are converged."
    ), last
    # the API server could not be read either: said, not fatal
    assert "could not read the version of the API server at https://127.0.0.1:1" in out.stdout


class _Version(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"gitVersion": "v1.35.4", "major": "1", "minor": "35"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def old_api_server(pki: Pki, tmp_path: Path) -> Iterator[str]:
    """An HTTPS server answering /version like a v1.35.4 kube-apiserver, its certificate signed by
    the test CA (the program verifies it with the CA from the stack's config)."""
    ca = x509.load_pem_x509_certificate(pki.ca_cert.encode())
    ca_key: Any = serialization.load_pem_private_key(pki.ca_key.encode(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = ca.not_valid_before_utc
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(ca.not_valid_after_utc)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    (tmp_path / "srv.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "srv.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = http.server.HTTPServer(("127.0.0.1", 0), _Version)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "srv.crt", tmp_path / "srv.key")
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_version_the_api_server_cannot_run_with_is_refused_at_preview(
    project: Project, pki: Pki, old_api_server: str
) -> None:
    cfg = base_config(pki, hosts=1) | {
        "resourceBackend": "builtin",
        "apiServerUrl": old_api_server,
        "kubernetesVersion": "1.37.2",
    }
    cfg["inCluster"] = {"enabled": False}
    stack = project.stack("skew", cfg, frozenset({"caKey", "sshPrivateKey"}))
    out = project.run("preview", "skew")
    assert out.returncode == 1
    assert (
        f"kube-scheduler:kubernetesVersion: expected a version the API server at {old_api_server} (v1.35.4) "
        "supports: kube-scheduler must not be newer than the kube-apiserver it talks to"
    ) in out.stderr
    last = assert_reads_like_a_tool(out, pki)
    assert last.startswith("==> pulumi preview failed: the stack configuration has problems"), last
    assert resources(stack) == []


def _short_lived_ca() -> tuple[str, str]:
    from tests.support import make_ca, pem_key

    cert, key = make_ca("short-lived-ca", days=30)
    return cert.public_bytes(serialization.Encoding.PEM).decode(), pem_key(key)


# One stack per category of material that has the right shape but cannot do its job.
MATERIAL = [
    ("ca-expires-first", "kube-scheduler:certificate.validityHours: expected at most"),
    ("ssh-public-key", "kube-scheduler:sshPrivateKey: expected an SSH private key, got a public key"),
    ("kubeconfig-no-context", "kube-scheduler:kubeconfig: expected a current-context, got none"),
    ("image-not-a-reference", "kube-scheduler:inCluster.image: expected an image reference"),
]


@pytest.mark.parametrize(("case", "message"), MATERIAL, ids=[m[0] for m in MATERIAL])
def test_material_that_cannot_do_its_job_is_refused_at_preview(
    project: Project, pki: Pki, case: str, message: str
) -> None:
    cfg = base_config(pki, hosts=1) | {"resourceBackend": "builtin"}
    if case == "ca-expires-first":
        cfg["caCert"], cfg["caKey"] = _short_lived_ca()
    elif case == "ssh-public-key":
        cfg["sshPrivateKey"] = pki.host_keys[0]
    elif case == "kubeconfig-no-context":
        cfg["kubeconfig"] = "apiVersion: v1\nkind: Config\nclusters: []\n"
    else:
        cfg["inCluster"]["image"] = "Registry/Kube Scheduler"
    stack = project.stack(case, cfg, frozenset({"caKey", "sshPrivateKey", "kubeconfig"}))
    out = project.run("preview", case)
    assert out.returncode == 2
    assert message in out.stderr, out.stderr
    assert_reads_like_a_tool(out, pki)
    assert resources(stack) == []


@pytest.mark.parametrize(
    ("passphrase", "says"),
    [
        (None, "has no secrets passphrase of its own"),
        ("dev-stack-passphrase-not-secret", "would be encrypted with the documented, non-secret passphrase"),
    ],
    ids=["none", "the-documented-one"],
)
def test_a_real_stack_without_a_passphrase_of_its_own_is_refused_before_anything_runs(
    project: Project, pki: Pki, passphrase: str | None, says: str
) -> None:
    # the stack's file exists (a colleague committed it); its secrets are someone's own
    (project.dir / "Pulumi.prod.yaml").write_text("config:\n  kube-scheduler:kubernetesVersion: 1.34.2\n")
    project.env.pop("PULUMI_CONFIG_PASSPHRASE")
    if passphrase is not None:
        project.env["PULUMI_CONFIG_PASSPHRASE"] = passphrase
    for action in ("preview", "up", "destroy"):
        out = project.run(action, "prod")
        assert out.returncode == 2
        last = assert_reads_like_a_tool(out, pki)
        assert says in last and "PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE" in last, last
        assert "pulumi stack change-secrets-provider" in last
    # nothing ran: no stack was created in the backend
    assert not list((project.dir.parent / "state").rglob("prod.json"))
