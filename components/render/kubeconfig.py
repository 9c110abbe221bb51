"""Kubeconfig with embedded credentials for the scheduler's client certificate."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from components.render import yamltext
from plumbing.kubeconfig import kubeconfig

_BASE64_BODY = r"\s+[A-Za-z0-9+/=\s]+?"
_CERT_RE = re.compile(rf"-----BEGIN CERTIFICATE-----{_BASE64_BODY}-----END CERTIFICATE-----")
# PKCS#8, PKCS#1 (RSA) and SEC1 (EC) keys are all accepted by client-go.
_KEY_RE = re.compile(
    rf"-----BEGIN (?P<kind>(?:RSA |EC )?PRIVATE KEY)-----{_BASE64_BODY}-----END (?P=kind)-----"
)


def _check_pem(field: str, value: str, pattern: re.Pattern[str], what: str) -> None:
    # Messages never echo the value: it may be a private key.
    if not value.strip():
        raise ValueError(f"{field} is empty; expected a PEM {what}")
    if pattern.search(value) is None:
        raise ValueError(f"{field} is not a PEM {what}")


def render_kubeconfig(
    *,
    cluster_name: str,
    server: str,
    ca_pem: str,
    client_cert_pem: str,
    client_key_pem: str,
    user: str = "system:kube-scheduler",
) -> str:
    """Kubeconfig YAML with one cluster, one user and the context `default`, credentials embedded
    (`*-data`): the file is self-contained (the host gets it 0640 root:kube-scheduler)."""
    if not cluster_name.strip():
        raise ValueError("cluster_name is empty")
    if not user.strip():
        raise ValueError("user is empty")
    parts = urlsplit(server)
    if parts.scheme != "https" or not parts.hostname:
        # The scheduler authenticates with a client certificate: only over TLS.
        raise ValueError(f"server must be an https:// URL with a host, got {server!r}")
    _check_pem("ca_pem", ca_pem, _CERT_RE, "certificate")
    _check_pem("client_cert_pem", client_cert_pem, _CERT_RE, "certificate")
    _check_pem("client_key_pem", client_key_pem, _KEY_RE, "private key")
    doc = kubeconfig(
        cluster=cluster_name,
        server=server,
        ca_pem=ca_pem,
        user=user,
        client_cert_pem=client_cert_pem,
        client_key_pem=client_key_pem,
    )
    return yamltext.dump(doc)
