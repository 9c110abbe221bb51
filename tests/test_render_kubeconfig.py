"""Kubeconfig with embedded credentials."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from components.render.kubeconfig import render_kubeconfig

# Shape-valid PEM blocks; the renderer checks framing, not cryptography.
CA = "-----BEGIN CERTIFICATE-----\nQ0FDRVJUQ0FDRVJU\n-----END CERTIFICATE-----\n"
CERT = "-----BEGIN CERTIFICATE-----\nQ0xJRU5UQ0VSVA==\n-----END CERTIFICATE-----\n"
KEY_PKCS8 = "-----BEGIN PRIVATE KEY-----\nU0VDUkVUS0VZ\n-----END PRIVATE KEY-----\n"
KEY_EC = "-----BEGIN EC PRIVATE KEY-----\nU0VDUkVURUNLRVk=\n-----END EC PRIVATE KEY-----\n"
KEY_RSA = "-----BEGIN RSA PRIVATE KEY-----\nU0VDUkVUUlNB\n-----END RSA PRIVATE KEY-----\n"
SERVER = "https://127.0.0.1:6443"  # the Hard Way: the API server on the same master


def _args(**overrides: str) -> dict[str, str]:
    args = {
        "cluster_name": "lab",
        "server": SERVER,
        "ca_pem": CA,
        "client_cert_pem": CERT,
        "client_key_pem": KEY_PKCS8,
    }
    args.update(overrides)
    return args


def _decode(data: str) -> str:
    return base64.b64decode(data, validate=True).decode()


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(KEY_PKCS8, id="pkcs8"),
        pytest.param(KEY_EC, id="sec1-ec"),
        pytest.param(KEY_RSA, id="pkcs1-rsa"),
    ],
)
def test_round_trip(key: str) -> None:
    doc: dict[str, Any] = yaml.safe_load(render_kubeconfig(**_args(client_key_pem=key)))
    assert doc["apiVersion"] == "v1"
    assert doc["kind"] == "Config"
    (cluster,) = doc["clusters"]
    (user,) = doc["users"]
    (context,) = doc["contexts"]
    assert cluster["name"] == "lab"
    assert cluster["cluster"]["server"] == SERVER
    assert _decode(cluster["cluster"]["certificate-authority-data"]) == CA
    assert user["name"] == "system:kube-scheduler"  # CN the built-in RBAC binds
    assert _decode(user["user"]["client-certificate-data"]) == CERT
    assert _decode(user["user"]["client-key-data"]) == key
    assert context == {"name": "default", "context": {"cluster": "lab", "user": user["name"]}}
    assert doc["current-context"] == "default"


def test_credentials_are_embedded_not_referenced() -> None:
    text = render_kubeconfig(**_args())
    for field in ("certificate-authority:", "client-certificate:", "client-key:"):
        assert field not in text


def test_custom_user_and_ca_bundle() -> None:
    bundle = CA + CERT  # a CA file may hold several certificates
    doc = yaml.safe_load(render_kubeconfig(**_args(ca_pem=bundle), user="scheduler-2"))
    assert doc["users"][0]["name"] == "scheduler-2"
    assert doc["contexts"][0]["context"]["user"] == "scheduler-2"
    assert _decode(doc["clusters"][0]["cluster"]["certificate-authority-data"]) == bundle


def test_deterministic() -> None:
    assert render_kubeconfig(**_args()) == render_kubeconfig(**_args())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"server": "http://127.0.0.1:8080"}, "server must be an https:// URL",
                     id="plain-http"),
        pytest.param({"server": "127.0.0.1:6443"}, "server must be an https:// URL",
                     id="no-scheme"),
        pytest.param({"server": "https://"}, "server must be an https:// URL", id="no-host"),
        pytest.param({"server": ""}, "server must be an https:// URL", id="empty-server"),
        pytest.param({"ca_pem": ""}, "ca_pem is empty", id="empty-ca"),
        pytest.param({"ca_pem": "not a pem"}, "ca_pem is not a PEM certificate", id="ca-garbage"),
        pytest.param({"ca_pem": KEY_PKCS8}, "ca_pem is not a PEM certificate", id="ca-is-a-key"),
        pytest.param({"client_cert_pem": "  \n"}, "client_cert_pem is empty", id="empty-cert"),
        pytest.param({"client_key_pem": ""}, "client_key_pem is empty", id="empty-key"),
        pytest.param({"client_key_pem": CERT}, "client_key_pem is not a PEM private key",
                     id="key-is-a-cert"),
        pytest.param({"cluster_name": " "}, "cluster_name is empty", id="empty-cluster-name"),
    ],
)  # fmt: skip
def test_rejects(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_kubeconfig(**_args(**overrides))


def test_error_never_echoes_key_material() -> None:
    broken_key = "-----BEGIN PRIVATE KEY-----\nU0VDUkVUS0VZ\n"  # truncated
    with pytest.raises(ValueError) as err:
        render_kubeconfig(**_args(client_key_pem=broken_key))
    assert "U0VDUkVUS0VZ" not in str(err.value)
