"""The program under Pulumi mocks: a recorder of every registered resource (inputs, which of them
are secret, dependencies, parent, provider) that answers with plausible provider outputs, and
`run_program`, which runs what __main__.py runs and waits for every output."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

from plumbing.pulumi_wire import is_secret

# pulumi.runtime.test with its type said: runs the function and waits for the Output it returns.
awaited: Callable[[Callable[[], Any]], Callable[[], None]] = pulumi.runtime.test


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]
    secret_paths: set[str]
    dependencies: list[str]
    parent: str
    provider: str


def fake_pem(kind: str, body: str) -> str:
    """PEM-shaped text whose base64 body decodes to `body` (tests search for it)."""
    return f"-----BEGIN {kind}-----\n{base64.b64encode(body.encode()).decode()}\n-----END {kind}-----\n"


def _unwrap(value: Any, path: str, secrets: set[str]) -> Any:
    if isinstance(value, dict):
        if is_secret(value):
            secrets.add(path)
            return _unwrap(value.get("value"), path, secrets)
        return {k: _unwrap(v, f"{path}.{k}" if path else k, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    return value


class Recorder(pulumi.runtime.Mocks):
    """Records every registered resource with its inputs, which of them are secret, and its
    dependencies; returns inputs plus plausible provider outputs."""

    def __init__(self) -> None:
        self.resources: list[Registered] = []
        self._deps: dict[str, tuple[list[str], str, str]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        secrets: set[str] = set()
        inputs = _unwrap(args.inputs, "", secrets)
        deps, parent, provider = self._deps.get(args.name, ([], "", ""))
        self.resources.append(Registered(args.typ, args.name, inputs, secrets, deps, parent, provider))
        state = dict(inputs)
        if args.typ == "tls:index/privateKey:PrivateKey":
            state["private_key_pem"] = fake_pem("PRIVATE KEY", f"key-of-{args.name}")
            state["public_key_openssh"] = f"ssh-rsa {args.name}"
        elif args.typ == "tls:index/certRequest:CertRequest":
            state["cert_request_pem"] = f"csr-of-{args.name}"
        elif args.typ == "tls:index/locallySignedCert:LocallySignedCert":
            state["cert_pem"] = fake_pem("CERTIFICATE", f"cert-of-{args.name}")
            state["validity_end_time"] = "2027-11-23T00:00:00Z"
        elif "ca_private_key_pem" in inputs:  # the builtin backend's TlsCertificate
            state["private_key_pem"] = fake_pem("PRIVATE KEY", f"key-of-{args.name}")
            state["cert_pem"] = fake_pem("CERTIFICATE", f"cert-of-{args.name}")
            state["validity_end_time"] = "2027-11-23T00:00:00Z"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None

    def by_type(self, suffix: str) -> list[Registered]:
        return [r for r in self.resources if r.type.endswith(suffix)]

    def named(self, name: str) -> Registered:
        (found,) = [r for r in self.resources if r.name == name]
        return found


class RecordingMonitor(MockMonitor):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__(recorder)
        self.recorder = recorder

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.recorder._deps[request.name] = (
            [u.rsplit("::", 1)[-1] for u in request.dependencies],
            request.parent.rsplit("::", 1)[-1],
            request.provider,
        )
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


@dataclass
class Run:
    recorder: Recorder
    outputs: dict[str, Any] = field(default_factory=dict)


def run_program(raw: dict[str, str], preview: bool = False, recorder: Recorder | None = None) -> Run:
    """Run what __main__.py runs (validate, build) under mocks; wait for every output."""
    from components.config import load_config
    from components.stack import build

    recorder = recorder or Recorder()
    pulumi.runtime.set_mocks(recorder, preview=preview, monitor=RecordingMonitor(recorder))
    result = Run(recorder)

    @awaited
    def program() -> pulumi.Output[Any]:
        outputs = build(load_config(raw))
        return pulumi.Output.all(**outputs).apply(result.outputs.update)

    program()
    return result
