"""A small Kubernetes API client from a kubeconfig: what the program reads around the Kubernetes
provider (whose an object is), and what the tests and benchmarks poll (kubectl is too slow to poll
with). Client certificates and tokens only (an `exec` or `auth-provider` kubeconfig raises
`UnsupportedCredentialsError`); key material is loaded from memory (memfd), never written to disk.
Parsing a YAML kubeconfig needs PyYAML, imported only then."""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class UnsupportedCredentialsError(Exception):
    """The kubeconfig's credentials are not of a kind this client speaks."""


class ApiError(Exception):
    pass


def _named(doc: dict[str, Any], section: str, name: object) -> dict[str, Any]:
    for entry in doc.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            found = entry.get(section.rstrip("s"))
            return found if isinstance(found, dict) else {}
    return {}


def ambient_kubeconfig() -> tuple[str, Path] | None:
    """What kubectl would use: the first file of $KUBECONFIG, else ~/.kube/config."""
    paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    path = Path(paths[0] if paths else Path.home() / ".kube" / "config").expanduser()
    return (path.read_text(), path.parent) if path.is_file() else None


@dataclass
class KubeClient:
    server: str
    context: ssl.SSLContext
    token: str | None = None
    timeout: float = 5.0

    @classmethod
    def from_kubeconfig(cls, text: str, base: Path | None = None) -> KubeClient:
        import yaml  # the program's and the tests' virtualenv has it; the lab never parses YAML

        doc = yaml.safe_load(text)
        base = base or Path.cwd()
        ctx_name = doc.get("current-context")
        context = _named(doc, "contexts", ctx_name)
        cluster = _named(doc, "clusters", context.get("cluster"))
        user = _named(doc, "users", context.get("user"))
        if user.get("exec") or user.get("auth-provider"):
            raise UnsupportedCredentialsError(f"context {ctx_name!r} gets its credentials from a plugin")

        def data(key: str) -> bytes | None:
            if cluster_or_user(key).get(f"{key}-data"):
                return base64.b64decode(cluster_or_user(key)[f"{key}-data"])
            path = cluster_or_user(key).get(key)
            return (base / path).expanduser().read_bytes() if path else None

        def cluster_or_user(key: str) -> dict[str, Any]:
            return cluster if key == "certificate-authority" else user

        ca = data("certificate-authority")
        tls = ssl.create_default_context(cadata=ca.decode() if ca else None)
        cert, key = data("client-certificate"), data("client-key")
        if cert and key:
            fd = os.memfd_create("ksched-kube-client")
            try:
                os.write(fd, cert + b"\n" + key)
                tls.load_cert_chain(f"/proc/self/fd/{fd}")
            finally:
                os.close(fd)
        token = user.get("token")
        if not token and user.get("tokenFile"):
            token = (base / user["tokenFile"]).expanduser().read_text().strip()
        return cls(str(cluster.get("server", "")).rstrip("/"), tls, token)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        req = urllib.request.Request(
            self.server + path, method=method, data=json.dumps(body).encode() if body is not None else None
        )
        req.add_header("Accept", "application/json")
        if body is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise ApiError(
                f"{method} {path}: HTTP {e.code}: {e.read()[:200].decode(errors='replace')}"
            ) from None

    def get(self, path: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.request("GET", path)
        return found
