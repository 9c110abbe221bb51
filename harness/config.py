"""Stack config as the program receives it and as Pulumi stores it: a valid config with both
paths, the JSON strings Pulumi hands the program, a stack's config replaced through the Automation
API, and a stack's checkpoint as a file backend keeps it."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

from harness.pki import Pki


def base_config(pki: Pki, hosts: int = 3) -> dict[str, Any]:
    """A valid stack config with both paths, as Pulumi would hand it over (before JSON)."""
    return {
        "kubernetesVersion": "1.34.2",
        "apiServerUrl": "https://10.231.0.1:6443",
        "caCert": pki.ca_cert,
        "caKey": pki.ca_key,
        "sshPrivateKey": pki.ssh_key,
        "bareMetal": {
            "enabled": True,
            "hosts": [
                {
                    "name": f"master-{i + 1}",
                    "address": str(ipaddress.ip_address("10.231.0.11") + i),
                    "hostKey": pki.host_keys[i % len(pki.host_keys)],
                }
                for i in range(hosts)
            ],
            "binary": {
                "url": "https://dl.k8s.io/v{version}/bin/linux/amd64/kube-scheduler",
                "sha256": "a" * 64,
            },
        },
        "inCluster": {"enabled": True},
    }


def as_raw(config: dict[str, Any]) -> dict[str, str]:
    """Pulumi hands structured values to the program as JSON strings."""
    return {k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in config.items()}


def configure_stack(stack: Any, config: dict[str, Any], secret: frozenset[str] = frozenset()) -> None:
    """Replace the stack's `kube-scheduler:` config with `config` (structured values as objects,
    as `pulumi config set --path` would store them)."""
    from plumbing.project import PROJECT

    payload: dict[str, dict[str, Any]] = {}
    for key, value in config.items():
        entry: dict[str, Any] = {"secret": key in secret}
        if isinstance(value, dict | list):
            entry |= {"value": json.dumps(value), "objectValue": value}
        else:
            entry["value"] = str(value)
        payload[f"{PROJECT}:{key}"] = entry
    stale = [k for k in stack.get_all_config() if k.startswith(PROJECT + ":") and k not in payload]
    if stale:
        stack.workspace.remove_all_config(stack.name, stale)
    stack.workspace.set_all_config_json(stack.name, json.dumps(payload))


def state_file_text(backend_dir: Path, stack: str) -> str:
    """The stack's checkpoint as stored by a file backend (secrets as ciphertext; the Automation
    API's export_stack decrypts them, so it cannot show what is on disk)."""
    (path,) = backend_dir.glob(f".pulumi/stacks/**/{stack}.json")
    return path.read_text()
