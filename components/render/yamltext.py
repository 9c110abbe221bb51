"""YAML that Go reads back exactly as written. Kubernetes reads its files with a YAML 1.1 parser
(sigs.k8s.io/yaml on go-yaml), for which `y`, `n`, `on`, `off` (any case) are booleans; PyYAML
writes them bare. Every string that such a parser would take for anything but a string is quoted.
(Found by the generated-config test: a scheduler named `n` made kube-scheduler exit with "cannot
unmarshal bool into ... resourceName".)"""

from __future__ import annotations

import re
from typing import Any

import yaml

# YAML 1.1's bools and nulls, and numbers in any of its forms (go-yaml's resolve table).
_NOT_A_STRING = re.compile(
    r"y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
    r"|~|null|Null|NULL|"
    r"[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?"
    r"|[-+]?0b[01_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?0[0-7_]+|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "'" if _NOT_A_STRING.fullmatch(value) else None
    if "\n" in value:
        style = "|"  # a block reads as written (PyYAML falls back to quoting where it cannot)
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(doc: Any) -> str:
    """`doc` as YAML, keys in the order given."""
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False)
