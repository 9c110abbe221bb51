"""What every config model shares: camelCase keys, unknown keys refused, frozen values, and a
field's rule (components/render/rules.py) raised as its validation error."""

from __future__ import annotations

from pydantic import ConfigDict
from pydantic.alias_generators import to_camel

# camelCase keys as Pulumi config conventionally uses; unknown keys are typos, not ignored.
MODEL_CONFIG = ConfigDict(
    alias_generator=to_camel,
    populate_by_name=True,
    extra="forbid",
    frozen=True,
    arbitrary_types_allowed=True,
)


def rule(problem: str | None) -> None:
    """Raise a rule's problem (components/render/rules.py) as the field's validation error."""
    if problem:
        raise ValueError(problem)
