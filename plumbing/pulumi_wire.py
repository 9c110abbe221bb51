"""The Pulumi engine's wire format, as it reaches the policy pack, the preview report and the tests:
how a secret and an unknown (preview) value travel inside a `google.protobuf.Struct` (as JSON), and
the type tokens the engine and the Python SDK assign themselves.

The values are the engine's (sdk/go/common/resource/properties.go and plugin/rpc.go in
https://github.com/pulumi/pulumi); the Python SDK keeps private copies (`pulumi.runtime.rpc`). Standard
library only: the policy pack, which runs in its own venv, imports this module too.
"""

from __future__ import annotations

from typing import Any

# A map holding SIG_KEY is a special value; SECRET_SIG marks a secret: {SIG_KEY: SECRET_SIG, "value": v}.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

# What stands for a value that is not known yet (during preview), by the value's type.
UNKNOWN_BOOL = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"
UNKNOWN_NUMBER = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # also the SDK's `pulumi.runtime.rpc.UNKNOWN`
UNKNOWN_ARRAY = "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"
UNKNOWN_ASSET = "030794c1-ac77-496b-92df-f27374a8bd58"
UNKNOWN_ARCHIVE = "e48ece36-62e2-4504-bad9-02848725956a"
UNKNOWN_OBJECT = "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"
UNKNOWNS = frozenset(
    {
        UNKNOWN_BOOL,
        UNKNOWN_NUMBER,
        UNKNOWN_STRING,
        UNKNOWN_ARRAY,
        UNKNOWN_ASSET,
        UNKNOWN_ARCHIVE,
        UNKNOWN_OBJECT,
    }
)

# Type tokens: every Python dynamic-provider resource shares one; providers are `pulumi:providers:<pkg>`.
DYNAMIC_TYPE = "pulumi-python:dynamic:Resource"
PROVIDER_TYPE_PREFIX = "pulumi:providers:"


def secret(value: Any) -> dict[str, Any]:
    """`value` marked secret, as the engine sends it."""
    return {SIG_KEY: SECRET_SIG, "value": value}


def is_secret(value: Any) -> bool:
    """Whether `value` (wire JSON) is a secret's envelope; its content is `value["value"]`."""
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG
