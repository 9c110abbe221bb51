"""The plugins a program needs (GetRequiredPackages): read from the virtualenv's distributions and
their `pulumi-plugin.json`, by the official host's rules."""

from __future__ import annotations

import re
from typing import Any

from pulumi.runtime.proto import plugin_pb2

from .common import STAND_IN, HostError

# Packages known to carry no plugin (the official host skips them by name too).
NO_PLUGIN = frozenset({"pulumi-policy", "pulumi-esc-sdk"})

# Lists the virtualenv's distributions with their pulumi-plugin.json (run by the venv's python).
LIST_PACKAGES = r"""
import importlib.metadata, importlib.util, json, os, sys
seen, out = set(), []
for dist in importlib.metadata.distributions():
    name = dist.metadata["Name"]
    if not name or name.lower() in seen:
        continue
    seen.add(name.lower())
    plugin = None
    try:
        spec = importlib.util.find_spec(name.replace("-", "_"))
    except (ImportError, ValueError):
        spec = None
    for loc in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(str(loc), "pulumi-plugin.json")
        if os.path.isfile(path):
            with open(path) as f:
                plugin = json.load(f)
            break
    out.append({"name": name, "version": dist.version, "plugin": plugin})
json.dump(out, sys.stdout)
"""

_PEP440 = re.compile(r"^(\d+(?:\.\d+)*)(?:(a|b|rc)(\d+))?(?:\.post(\d+))?(?:\.dev(\d+))?$")
_PRE = {"a": "alpha", "b": "beta", "rc": "rc"}


def plugin_version(package_version: str) -> str | None:
    """A PEP 440 package version as a plugin's semver (1.2 -> 1.2.0, 1.2.3a4 -> 1.2.3-alpha.4,
    1.2.3.post4.dev5 -> 1.2.3+post4dev5), or None when it has no such translation."""
    m = _PEP440.match(package_version)
    if not m:
        return None
    release, pre, pre_n, post, dev = m.groups()
    parts = release.split(".")
    out = ".".join(parts + ["0"] * (3 - len(parts)))
    if pre:
        out += f"-{_PRE[pre]}.{pre_n}"
    build = (f"post{post}" if post else "") + (f"dev{dev}" if dev else "")
    return out + (f"+{build}" if build else "")


def required_packages(listing: list[dict[str, Any]]) -> list[plugin_pb2.PackageDependency]:
    """The resource plugins a virtualenv's packages need (the official host's rules): packages with
    a pulumi-plugin.json whose `resource` is true, and `pulumi-*` packages without one."""
    out = []
    for pkg in listing:
        name, plugin = str(pkg["name"]), pkg.get("plugin")
        if name.lower() in NO_PLUGIN or (plugin is None and not name.lower().startswith("pulumi-")):
            continue
        plugin = plugin or {}
        if plugin and not plugin.get("resource"):
            continue
        if plugin.get("parameterization") or plugin.get("extensionParameterization"):
            raise HostError(f"package {name}: parameterized packages are not supported by the {STAND_IN}")
        version = plugin.get("version") or plugin_version(str(pkg["version"]))
        if not version:
            continue  # no plugin version can be derived (the official host skips these too)
        out.append(
            plugin_pb2.PackageDependency(
                name=plugin.get("name") or name.lower().removeprefix("pulumi-"),
                version=version if version.startswith("v") else f"v{version}",
                kind="resource",
                server=plugin.get("server", ""),
            )
        )
    return out
