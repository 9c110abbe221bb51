"""What every config model shares: camelCase keys, unknown keys refused, frozen values, and a
field's rule (components/render/rules.py) raised as its validation error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict
from pydantic.alias_generators import to_camel

from components.render import rules

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


def checked(check: Callable[[Any], str | None]) -> AfterValidator:
    """A field type's validator from a rule: `Annotated[str, checked(rules.dns_label)]` keeps the
    value, or raises the rule's problem as the field's error."""

    def validate(value: Any) -> Any:
        rule(check(value))
        return value

    return AfterValidator(validate)


# a name Kubernetes takes as a DNS label (objects, namespaces, users of a certificate)
DnsLabel = Annotated[str, checked(rules.dns_label)]
