"""The stack's configuration: validated before any resource exists.

Values come from Pulumi config (`kube-scheduler:<key>`); structured keys hold JSON objects. Every
problem is reported at once, each a `Problem` naming the key, what was expected and what was
received (secret values are never echoed):

- schema.py: the shape and every default, with each field's own rule (components/render/rules.py);
- checks.py: rules between fields;
- resolve.py: files and key material read and checked (material.py), hosts and binary resolved;
- runtime.py: reading the values from a running Pulumi program.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from components.config.checks import cross_field_problems, paths_enabled
from components.config.errors import ConfigError, Problem, from_pydantic
from components.config.monitoring import AlertSettings, Monitoring
from components.config.resolve import ResolvedBinary, ResolvedHost, StackConfig, resolve
from components.config.runtime import program_values, project_values
from components.config.schema import (
    DEFAULT_SCHEDULER_NAME,
    BareMetal,
    CertificateSettings,
    InCluster,
    InstallPaths,
    LeaderElection,
    RawConfig,
)
from plumbing.project import PROJECT

__all__ = [
    "DEFAULT_SCHEDULER_NAME",
    "PROJECT",
    "SECRET_KEYS",
    "TOP_LEVEL_KEYS",
    "AlertSettings",
    "BareMetal",
    "CertificateSettings",
    "ConfigError",
    "InCluster",
    "InstallPaths",
    "LeaderElection",
    "Monitoring",
    "Problem",
    "ResolvedBinary",
    "ResolvedHost",
    "StackConfig",
    "load_config",
    "program_values",
    "project_values",
]

# Every top-level key the program reads; Pulumi.yaml declares the same set (a test checks).
TOP_LEVEL_KEYS = tuple(f.alias or name for name, f in RawConfig.model_fields.items())
STRUCTURED_KEYS = frozenset({"certificate", "bareMetal", "inCluster", "monitoring"})
SECRET_KEYS = frozenset({"caKey", "sshPrivateKey", "kubeconfig"})


def _parse(raw: Mapping[str, str]) -> tuple[dict[str, Any], list[Problem]]:
    data: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, text in raw.items():
        if key in STRUCTURED_KEYS:
            try:
                data[key] = json.loads(text)
            except json.JSONDecodeError as e:
                problems.append(Problem(key, f"expected a YAML/JSON object, got {text!r} ({e.msg})"))
        else:
            data[key] = text
    return data, problems


def load_config(
    raw: Mapping[str, str], base_dir: Path | str = ".", secret_keys: set[str] | None = None
) -> StackConfig:
    """Validate `raw` (config key -> string as Pulumi stores it) into a `StackConfig`.

    `secret_keys`, when known, names the keys that were set as secrets: a secret key given in
    plain text is refused. Raises `ConfigError` listing every problem found.
    """
    # Pulumi.yaml gives optional keys an empty default ("" or {}): the same as not set.
    raw = {k: v for k, v in raw.items() if v not in ("", "{}")}
    data, problems = _parse(raw)
    if secret_keys is not None:
        problems += [
            Problem(key, f"expected a secret (pulumi config set --secret {key}), got a plain-text value")
            for key in sorted(SECRET_KEYS & set(raw) - secret_keys)
        ]
    problems += paths_enabled(data)
    problems += cross_field_problems(data)
    try:
        parsed = RawConfig.model_validate(data)
    except ValidationError as e:
        problems += [from_pydantic(err, SECRET_KEYS) for err in e.errors()]
        # what resolving would also have said, so that one run reports it all
        for value_key, file_key in (("caCert", "caCertFile"), ("caKey", "caKeyFile")):
            if value_key not in data and file_key not in data:
                problems.append(Problem(value_key, f"required (or {file_key}), got nothing"))
        raise ConfigError(problems) from None
    config, more = resolve(parsed, Path(base_dir))
    problems += more
    if problems or config is None:
        raise ConfigError(problems)
    return config
