"""One kubeconfig: a cluster, a user with embedded credentials, one context. Returned as data; the
program writes it as YAML, the lab (no PyYAML) as JSON, which is YAML too."""

from __future__ import annotations

import base64
from typing import Any


def _b64(pem: str | bytes) -> str:
    return base64.b64encode(pem.encode() if isinstance(pem, str) else pem).decode("ascii")


def kubeconfig(
    *,
    cluster: str,
    server: str,
    ca_pem: str | bytes,
    user: str,
    client_cert_pem: str | bytes,
    client_key_pem: str | bytes,
    context: str = "default",
) -> dict[str, Any]:
    """Embedded credentials (`*-data`): one self-contained file, one mode."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": cluster, "cluster": {"certificate-authority-data": _b64(ca_pem), "server": server}}
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(client_cert_pem),
                    "client-key-data": _b64(client_key_pem),
                },
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user}}],
        "current-context": context,
        "preferences": {},
    }
