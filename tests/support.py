"""Test helpers: key material made on the fly, stack config builders, and a recording mock monitor."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from pulumi.runtime.mocks import MockMonitor

from plumbing.pulumi_wire import is_secret


@dataclass(frozen=True)
class Pki:
    ca_cert: str
    ca_key: str
    other_key: str  # a valid key that is not the CA's
    ssh_key: str
    host_keys: tuple[str, ...]


def pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def make_ca(
    common_name: str = "test-ca",
    days: float = 800,
    key: Any = None,
    ca: bool = True,
    key_cert_sign: bool = True,
    eku: list[x509.ObjectIdentifier] | None = None,
    starts_in_days: float = 0,
) -> tuple[x509.Certificate, Any]:
    """A throwaway CA, valid from five minutes ago for `days` (long enough for the default
    one-year scheduler certificates); the other arguments make broken ones for tests."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=starts_in_days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, key_cert_sign, True, False, False), critical=True
        )
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm), key


def make_pki() -> Pki:
    cert, key = make_ca()
    ssh = ed25519.Ed25519PrivateKey.generate()
    host_keys = tuple(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
        for _ in range(3)
    )
    return Pki(
        ca_cert=cert.public_bytes(serialization.Encoding.PEM).decode(),
        ca_key=pem_key(key),
        other_key=pem_key(ec.generate_private_key(ec.SECP256R1())),
        ssh_key=ssh.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        ).decode(),
        host_keys=host_keys,
    )


def base_config(pki: Pki, hosts: int = 3) -> dict[str, Any]:
    """A valid stack config with both paths, as Pulumi would hand it over (before JSON)."""
    return {
        "kubernetesVersion": "1.34.2",
        "apiServerUrl": "https://10.231.0.1:6443",
        "caCert": pki.ca_cert,
        "caKey": pki.ca_key,
        "sshPrivateKey": pki.ssh_key,
        "bareMetal": {
            "enabled": True,
            "hosts": [
                {
                    "name": f"master-{i + 1}",
                    "address": str(ipaddress.ip_address("10.231.0.11") + i),
                    "hostKey": pki.host_keys[i % len(pki.host_keys)],
                }
                for i in range(hosts)
            ],
            "binary": {
                "url": "https://dl.k8s.io/v{version}/bin/linux/amd64/kube-scheduler",
                "sha256": "a" * 64,
            },
        },
        "inCluster": {"enabled": True},
    }


def as_raw(config: dict[str, Any]) -> dict[str, str]:
    """Pulumi hands structured values to the program as JSON strings."""
    return {k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in config.items()}


def mutate(config: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Copy of `config` with `path` ("bareMetal.hosts.1.address") set, or deleted if value is DELETE."""
    out = copy.deepcopy(config)
    node: Any = out
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
    last = parts[-1]
    if value is DELETE:
        del node[int(last) if isinstance(node, list) else last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


DELETE = object()


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

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        outputs = build(load_config(raw))
        return pulumi.Output.all(**outputs).apply(result.outputs.update)

    program()
    return result


def state_file_text(backend_dir: Path, stack: str) -> str:
    """The stack's checkpoint as stored by a file backend (secrets as ciphertext; the Automation
    API's export_stack decrypts them, so it cannot show what is on disk)."""
    (path,) = backend_dir.glob(f".pulumi/stacks/**/{stack}.json")
    return path.read_text()


def configure_stack(stack: Any, config: dict[str, Any], secret: frozenset[str] = frozenset()) -> None:
    """Replace the stack's `kube-scheduler:` config with `config` (structured values as objects,
    as `pulumi config set --path` would store them)."""
    from components.config import PROJECT

    payload: dict[str, dict[str, Any]] = {}
    for key, value in config.items():
        entry: dict[str, Any] = {"secret": key in secret}
        if isinstance(value, dict | list):
            entry |= {"value": json.dumps(value), "objectValue": value}
        else:
            entry["value"] = str(value)
        payload[f"{PROJECT}:{key}"] = entry
    stale = [k for k in stack.get_all_config() if k.startswith(PROJECT + ":") and k not in payload]
    if stale:
        stack.workspace.remove_all_config(stack.name, stale)
    stack.workspace.set_all_config_json(stack.name, json.dumps(payload))


def script_params(script: str) -> dict[str, str]:
    """The parameters a host script was built with (components.hostscripts.script): the shell
    assignments after `set -eu`, unquoted as the shell would."""
    import shlex

    params: dict[str, str] = {}
    lines = script.split("\n")
    start = next((i for i, line in enumerate(lines) if line == "set -eu"), len(lines) - 1) + 1
    text = "\n".join(lines[start:])
    for word in shlex.split(text.split("\n# ", 1)[0], comments=False, posix=True):
        key, eq, value = word.partition("=")
        if not eq or not key.isupper():
            break
        params[key] = value
    return params


def problem_texts(error: Any) -> list[str]:
    """A ConfigError's problems as the user reads them (`kube-scheduler:<key>: <message>`)."""
    return [str(p) for p in error.problems]
