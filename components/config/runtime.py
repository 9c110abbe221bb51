"""Where the config comes from: Pulumi's, inside a running program (or under mocks)."""

from __future__ import annotations

from collections.abc import Mapping

from plumbing.project import PROJECT


def project_values(all_config: Mapping[str, str]) -> dict[str, str]:
    """The `<project>:<key>` entries of the stack's config, keyed by `<key>`.

    Unknown keys under the project namespace are kept so that validation reports them as typos.
    """
    prefix = PROJECT + ":"
    return {k.removeprefix(prefix): v for k, v in all_config.items() if k.startswith(prefix)}


def program_values() -> tuple[dict[str, str], set[str]]:
    """This program's config values inside a running Pulumi program, and the keys among them that
    were set as secrets. The SDK has no public call for "every key, and which are secret"."""
    from pulumi.runtime.config import CONFIG, get_config_env, is_config_secret

    values = project_values({**get_config_env(), **CONFIG.get()})
    return values, {k for k in values if is_config_secret(f"{PROJECT}:{k}")}
