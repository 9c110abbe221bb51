"""Config problems as data: each names its key and says what was expected and what was received.
One line each when shown; secrets never echoed."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plumbing.project import PROJECT


@dataclass(frozen=True)
class Problem:
    key: str  # "bareMetal.hosts[0].name", without the project's namespace
    message: str  # "expected ..., got ..."

    def __str__(self) -> str:
        return f"{PROJECT}:{self.key}: {self.message}"


class ConfigError(Exception):
    """Every problem found in the stack config, reported at once."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid stack configuration ({len(self.problems)} problem(s)):\n{lines}")


def key_of(loc: Sequence[int | str]) -> str:
    """The config key of a location: `bareMetal.hosts[0].name`; a key that is not a plain name (a
    typo with odd characters) is quoted: `certificate[": "]`."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", str(part)):
            out += ("." if i else "") + str(part)
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


def from_pydantic(err: Mapping[str, Any], secret_keys: frozenset[str]) -> Problem:
    """One pydantic error as a Problem; the value of a secret key is never shown."""
    loc = tuple(err["loc"])
    key = key_of(loc)
    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Input should be ")
    if err["type"] == "extra_forbidden":
        return Problem(key, "unknown key (typo?); see Pulumi.yaml for the keys this program reads")
    if err["type"] == "missing":
        return Problem(key, "required, got nothing")
    if "got " in msg or (loc and loc[0] in secret_keys):
        return Problem(key, msg)
    return Problem(key, f"expected {msg[0].lower()}{msg[1:]}, got {err['input']!r}")
