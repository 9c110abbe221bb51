"""Secrets per stack: the documented passphrase (plumbing/project.py) encrypts only the local dev
and render stacks; every other stack has a passphrase of its own or a secrets provider."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from plumbing.project import DEV_PASSPHRASE, LOCAL_STACKS

HOW = (
    "set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE to a passphrase of this stack's "
    "own, or move it to a secrets provider (pulumi stack change-secrets-provider <provider>); the "
    "documented passphrase is for the local dev and render stacks only (README: team use)"
)


def passphrase() -> str | None:
    """The passphrase the CLI will use, as it reads it."""
    if "PULUMI_CONFIG_PASSPHRASE" in os.environ:
        return os.environ["PULUMI_CONFIG_PASSPHRASE"]
    path = os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if path:
        try:
            return Path(path).read_text().rstrip("\n")
        except OSError:
            return None
    return None


def secrets_provider(stack_file: Path) -> str | None:
    """The stack's secrets provider as its config file records it (None: the passphrase one)."""
    try:
        doc = yaml.safe_load(stack_file.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    provider = doc.get("secretsprovider") if isinstance(doc, dict) else None
    return str(provider) if provider and not str(provider).startswith("passphrase") else None


def secrets_problem(stack: str, stack_file: Path | None = None) -> str | None:
    """Why `stack` may not be run with the secrets it would get, or None."""
    if stack in LOCAL_STACKS:
        return None
    phrase = passphrase()
    if phrase == DEV_PASSPHRASE:
        return f"stack {stack!r} would be encrypted with the documented, non-secret passphrase: {HOW}"
    if phrase or (stack_file is not None and secrets_provider(stack_file)):
        return None
    return f"stack {stack!r} has no secrets passphrase of its own: {HOW}"
