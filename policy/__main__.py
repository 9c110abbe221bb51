"""kube-scheduler policy pack: secrets, SSH host keys, Pod Security "restricted", RBAC wildcards.

Runs in policy/.venv, started by the Python language host or, without one, by the analyzer plugin
bin/pulumi-analyzer-policy-python (README.md); the checks are the pure functions of rules.py.

pulumi-policy (1.21.0) hands validations the properties with secrets already unwrapped, and keeps
no stack name for Python packs. Both are on the gRPC requests, so the three servicer methods that
receive them are wrapped to keep a copy (raw properties per URN, the stack from ConfigureStack);
the wrappers then call the SDK's own method unchanged. The wrapped names are checked at start-up,
so an SDK that renamed them fails loudly instead of silently passing everything.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import policy as _sdk

# The engine puts only the pack's own directory on sys.path; rules.py and the pack's name take
# plumbing/ from the repository root, added last so that it shadows no installed module.
sys.path.append(str(Path(__file__).resolve().parent.parent))
import rules

from plumbing.project import PROJECT

_Servicer: Any = getattr(_sdk, "_PolicyAnalyzerServicer", None)
for _name in ("Analyze", "AnalyzeStack", "ConfigureStack"):
    if _Servicer is None or not callable(getattr(_Servicer, _name, None)):
        raise RuntimeError(
            f"pulumi_policy._PolicyAnalyzerServicer.{_name} not found: this pack is written for "
            "pulumi-policy 1.21.0 (policy/requirements.txt)"
        )

# Decoded properties (rules.decode): plain JSON data with `rules.Secret` wrappers.
Props = dict[str, Any]
# The SDK's handlers, called as plain functions of (servicer, request, gRPC context).
Analyze = Callable[[object, analyzer_pb2.AnalyzeRequest, object], analyzer_pb2.AnalyzeResponse]
AnalyzeStack = Callable[[object, analyzer_pb2.AnalyzeStackRequest, object], analyzer_pb2.AnalyzeResponse]
ConfigureStack = Callable[
    [object, analyzer_pb2.AnalyzerStackConfigureRequest, object], analyzer_pb2.AnalyzerStackConfigureResponse
]

_lock = threading.Lock()
_inputs: dict[str, Props] = {}  # URN -> raw inputs, while Analyze runs for it
_outputs: dict[str, Props] = {}  # URN -> raw outputs, while AnalyzeStack runs
_stack: dict[str, str] = {}
if os.environ.get("PULUMI_STACK"):
    _stack["name"] = os.environ["PULUMI_STACK"]


def _raw(message: struct_pb2.Struct) -> Props:
    decoded: Props = rules.decode(json_format.MessageToDict(message))
    return decoded


@contextlib.contextmanager
def _held(store: dict[str, Props], found: dict[str, Props]) -> Iterator[None]:
    """`found` (URN -> raw properties) in `store` while the SDK's handler runs, then gone."""
    with _lock:
        store.update(found)
    try:
        yield
    finally:
        with _lock:
            for urn in found:
                store.pop(urn, None)


def _wrap_analyze(orig: Analyze) -> Analyze:
    def analyze(
        self: object, request: analyzer_pb2.AnalyzeRequest, context: object
    ) -> analyzer_pb2.AnalyzeResponse:
        with _held(_inputs, {request.urn: _raw(request.properties)}):
            return orig(self, request, context)

    return analyze


def _wrap_analyze_stack(orig: AnalyzeStack) -> AnalyzeStack:
    def analyze_stack(
        self: object, request: analyzer_pb2.AnalyzeStackRequest, context: object
    ) -> analyzer_pb2.AnalyzeResponse:
        with _held(_outputs, {r.urn: _raw(r.properties) for r in request.resources}):
            return orig(self, request, context)

    return analyze_stack


def _wrap_configure_stack(orig: ConfigureStack) -> ConfigureStack:
    def configure_stack(
        self: object, request: analyzer_pb2.AnalyzerStackConfigureRequest, context: object
    ) -> analyzer_pb2.AnalyzerStackConfigureResponse:
        if request.stack:
            _stack["name"] = request.stack
        return orig(self, request, context)

    return configure_stack


_Servicer.Analyze = _wrap_analyze(_Servicer.Analyze)
_Servicer.AnalyzeStack = _wrap_analyze_stack(_Servicer.AnalyzeStack)
_Servicer.ConfigureStack = _wrap_configure_stack(_Servicer.ConfigureStack)


def _inputs_of(urn: str) -> Props | None:
    with _lock:
        return _inputs.get(urn)


def _resource_policy(
    name: str, description: str, check: Callable[[str, Props], list[str]]
) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        props = _inputs_of(args.urn)
        if props is None:  # the Analyze wrapper did not run: fail closed
            report(f"policy pack internal error: no raw properties for {args.urn}", None)
            return
        for message in check(args.resource_type, props):
            report(message, None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def _validate_outputs(args: StackValidationArgs, report: ReportViolation) -> None:
    for r in args.resources:
        with _lock:
            outputs = _outputs.get(r.urn)
        if outputs is None:
            report(f"policy pack internal error: no raw outputs for {r.urn}", r.urn)
            continue
        for message in rules.output_key_material_violations(r.resource_type, outputs):
            report(message, r.urn)


PolicyPack(
    name=PROJECT,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        _resource_policy(
            rules.KEY_MATERIAL,
            "Private keys and kubeconfig credentials in resource inputs (command stdin and scripts, "
            "connections, Secrets, providers) must be Pulumi secrets; ConfigMaps must hold none.",
            rules.key_material_violations,
        ),
        StackValidationPolicy(
            name=rules.KEY_MATERIAL_OUTPUTS,
            description="Private keys and kubeconfig credentials in resource outputs (tls keys, "
            "command output, stack exports) must be Pulumi secrets.",
            validate=_validate_outputs,
            enforcement_level=EnforcementLevel.MANDATORY,
        ),
        _resource_policy(
            rules.SSH_HOST_KEY,
            "Remote commands and copies must pin the SSH host key (connection.hostKey) on every "
            "stack except dev.",
            lambda t, props: rules.ssh_host_key_violations(t, props, _stack.get("name")),
        ),
        _resource_policy(
            rules.POD_SECURITY,
            'Pods and workload templates must meet the Pod Security Standard "restricted".',
            rules.pod_security_violations,
        ),
        _resource_policy(
            rules.RBAC_WILDCARDS,
            "Roles and ClusterRoles must not use * in apiGroups, resources, verbs or resourceNames.",
            rules.rbac_wildcard_violations,
        ),
    ],
)
