"""Generated configs, valid and mistaken, over every key and nesting (hypothesis): each one either
fails validation with lines that all name a config key and echo no secret, or the program builds
it under mocks without any error. No other exception may escape (issue: one validation)."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from components.config import PROJECT, TOP_LEVEL_KEYS, ConfigError, load_config
from tests.strategies import _PATHS, mistaken_configs, valid_configs
from tests.support import Pki, as_raw, problem_texts, run_program

_KEY = re.compile(
    rf'{PROJECT}:([A-Za-z][A-Za-z0-9]*)(?:\.[\w-]+|\[\d+\]|\["(?:[^"\\]|\\.)*"\])*( / [\w.]+)?: '
)
_KNOWN = set(TOP_LEVEL_KEYS) | {p.split(".")[0] for p in _PATHS}


def _secrets(pki: Pki) -> list[str]:
    """Lines of the private keys that must never appear in a message."""
    return [line for key in (pki.ca_key, pki.ssh_key) for line in key.splitlines()[1:-1]]


def check(raw: dict[str, str], pki: Pki) -> str:
    try:
        load_config(raw)
    except ConfigError as e:
        assert problem_texts(e), "a ConfigError lists at least one problem"
        for problem in problem_texts(e):
            named = _KEY.match(problem)
            assert named, f"names no key: {problem!r}"
            assert named.group(1) in _KNOWN, problem
            assert not any(s in problem for s in _secrets(pki)), f"echoes a secret: {problem!r}"
        return "refused"
    run_program(raw)  # builds under mocks without an error
    return "accepted"


@given(data=st.data())
def test_valid_configs_are_accepted_and_build(pki: Pki, data: Any) -> None:
    assert check(as_raw(data.draw(valid_configs(pki))), pki) == "accepted"


@given(data=st.data())
def test_mistaken_configs_are_refused_naming_keys_or_build(pki: Pki, data: Any) -> None:
    check(as_raw(data.draw(mistaken_configs(pki))), pki)
