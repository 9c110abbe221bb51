"""Secrets per stack (components/secrets.py): which stacks may run with the secrets they would get."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.secrets import secrets_problem
from plumbing.project import DEV_PASSPHRASE

# (stack, passphrase in the environment, the stack file's secretsprovider line, refused with)
CASES = [
    ("dev", None, None, None),
    ("render", DEV_PASSPHRASE, None, None),
    ("prod", None, None, "has no secrets passphrase of its own"),
    ("prod", DEV_PASSPHRASE, None, "documented, non-secret passphrase"),
    ("prod", "", None, "has no secrets passphrase of its own"),
    ("prod", "their-own", None, None),
    ("prod", None, "awskms://alias/ksched?region=eu-west-1", None),
    ("prod", None, "hashivault://ksched", None),
    ("prod", None, "passphrase", "has no secrets passphrase of its own"),
    # a provider does not make the documented passphrase acceptable: the CLI would use it
    ("prod", DEV_PASSPHRASE, "awskms://alias/ksched", "documented, non-secret passphrase"),
]


@pytest.mark.parametrize(("stack", "phrase", "provider", "refused"), CASES)
def test_a_stack_runs_only_with_secrets_of_its_own(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stack: str,
    phrase: str | None,
    provider: str | None,
    refused: str | None,
) -> None:
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
    if phrase is not None:
        monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", phrase)
    stack_file = tmp_path / f"Pulumi.{stack}.yaml"
    stack_file.write_text(f"secretsprovider: {provider}\n" if provider else "config: {}\n")
    found = secrets_problem(stack, stack_file)
    if refused is None:
        assert found is None
    else:
        assert found is not None and refused in found and "change-secrets-provider" in found


def test_a_passphrase_file_counts_as_the_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    secret = tmp_path / "phrase"
    secret.write_text(f"{DEV_PASSPHRASE}\n")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", str(secret))
    assert "documented, non-secret" in (secrets_problem("prod") or "")
    secret.write_text("their-own\n")
    assert secrets_problem("prod") is None
