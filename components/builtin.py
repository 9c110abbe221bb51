"""`resourceBackend: builtin`: the few resources this program needs from pulumi-tls and
pulumi-command, as Python dynamic providers, for machines where those plugins cannot be had
(an offline toolchain whose Go module proxy does not serve their sources).

They mirror the plugin resources' semantics that the components rely on:
- `SshCommand`: `create` runs on create and again when any input changes, `delete` on delete;
  content over stdin; the host key pinned (a known_hosts of exactly that key, nothing else
  trusted: plumbing/ssh.py); without a connection it runs on this machine (render mode).
- `SshUpload`: streams a local file to a path over SSH; re-uploads when `triggers` change.
- `TlsCertificate`: key, CSR-equivalent subject/SANs and CA-signed certificate in one resource;
  replaced when an input changes or when inside the early-renewal window (like pulumi-tls).

Secrets reach the providers as plain values, never on a command line; the private SSH key reaches
ssh as an in-memory file (plumbing/memfile.py) for the duration of one call, never on disk.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from components.config import ResolvedHost
from plumbing.memfile import memfiles
from plumbing.ssh import known_hosts_line, ssh_argv

# A remote step must finish within this (a rollout waits at most twice healthTimeoutSeconds).
COMMAND_TIMEOUT_S = 1800
# What ssh itself says when it cannot run the command (not the remote side's output): the only
# text a step that handles a secret ever shows.
_SSH_OWN = re.compile(
    r"ssh: |Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|Permission denied \(|"
    r"Connection (refused|timed out|closed by|reset)|No route to host|Could not resolve hostname|"
    r"kex_exchange_identification|Too many authentication failures"
)


class RemoteCommandError(Exception):
    pass


class UnreachableError(RemoteCommandError):
    """ssh itself failed (exit 255): the host could not be reached or refused us."""


def _run(conn: dict[str, Any] | None, script: str, stdin: str | bytes | None, quiet: bool) -> str:
    """Run `script` with sh over SSH (conn) or locally (conn None); return stdout. The private
    key and the pinned host key reach ssh as in-memory files: nothing is written to disk."""
    data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
    if conn is None:
        out = subprocess.run(["sh", "-c", script], input=data, capture_output=True, timeout=COMMAND_TIMEOUT_S)
        where = "local"
    else:
        port = int(conn.get("port") or 22)
        user = conn.get("user") or "root"
        where = f"{user}@{conn['host']}:{port}"
        files: dict[str, bytes | str] = {}
        if conn.get("host_key"):
            files["known_hosts"] = known_hosts_line(conn["host"], port, conn["host_key"]) + "\n"
        if conn.get("private_key"):
            key = conn["private_key"]
            files["id"] = key if key.endswith("\n") else key + "\n"
        with memfiles(**files) as mem:
            argv = ssh_argv(
                conn["host"],
                user=user,
                port=port,
                # None only with bareMetal.insecureSkipHostKeyCheck (validated)
                known_hosts=Path(mem["known_hosts"][1]) if "known_hosts" in mem else None,
                identity=Path(mem["id"][1]) if "id" in mem else None,
                remote=["sh -c " + shlex.quote(script)],
            )
            fds = tuple(fd for fd, _ in mem.values())
            out = subprocess.run(
                argv, input=data, capture_output=True, timeout=COMMAND_TIMEOUT_S, pass_fds=fds
            )
    stdout = out.stdout.decode(errors="replace")
    if out.returncode != 0:
        stderr = out.stderr.decode(errors="replace").strip()
        if conn is not None and out.returncode == 255:
            said = stderr if not quiet else "\n".join(ln for ln in stderr.splitlines() if _SSH_OWN.search(ln))
            raise UnreachableError(f"{where}: unreachable: {said[-500:]}")
        detail = stderr[-1500:] if not quiet else "(output withheld: this step handles a secret)"
        raise RemoteCommandError(f"{where}: command failed (exit {out.returncode}): {detail}")
    return "" if quiet else stdout


def connection(host: ResolvedHost) -> dict[str, Any]:
    """How `_run` reaches `host` (plain values: the caller keeps the key secret)."""
    key = host.private_key.get_secret_value() if host.private_key is not None else None
    return {
        "host": host.address,
        "port": host.port,
        "user": host.user,
        "private_key": key,
        "host_key": host.host_key,
    }


def observe(conn: dict[str, Any] | None, check: str) -> str:
    """What a host check prints now (its scripts print hashes and states, never content)."""
    return _run(conn, check, None, quiet=False).strip()


_COMMAND_KEYS = ("connection", "create", "delete", "stdin", "quiet", "check", "expected")


def _verified(props: dict[str, Any], outs: dict[str, Any]) -> dict[str, Any]:
    """Read the host back after a step: it must now show what the step was to make."""
    check, expected = props.get("check"), props.get("expected")
    if not check:
        return outs
    observed = observe(props.get("connection"), check)
    if observed != expected:
        raise RemoteCommandError(f"after this step the host shows {observed!r}, expected {expected!r}")
    return {**outs, "observed": observed}


def _drifted(olds: dict[str, Any], news: dict[str, Any]) -> bool:
    """A refresh found the host no longer as the stack left it."""
    return bool(news.get("check")) and "observed" in olds and olds["observed"] != news.get("expected")


class _HostReader(ResourceProvider):
    """`pulumi refresh` reads the host: the check's output becomes `observed`. An unreachable host
    keeps what the state says (the next step that needs it fails with the SSH error)."""

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if not props.get("check"):
            return ReadResult(id_, props)
        try:
            observed = observe(props.get("connection"), props["check"])
        except UnreachableError:
            return ReadResult(id_, props)
        return ReadResult(id_, {**props, "observed": observed})


class _CommandProvider(_HostReader):
    def _conn(self, props: dict[str, Any]) -> dict[str, Any] | None:
        conn: dict[str, Any] | None = props.get("connection")
        return conn

    def create(self, props: dict[str, Any]) -> CreateResult:
        stdout = _run(self._conn(props), props["create"], props.get("stdin"), bool(props.get("quiet")))
        return CreateResult(id_=uuid.uuid4().hex, outs=_verified(props, {**props, "stdout": stdout}))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in _COMMAND_KEYS if olds.get(k) != news.get(k)]
        changes = bool(changed) or _drifted(olds, news)
        return DiffResult(changes=changes, replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        stdout = _run(self._conn(news), news["create"], news.get("stdin"), bool(news.get("quiet")))
        return UpdateResult(outs=_verified(news, {**news, "stdout": stdout}))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        if props.get("delete"):
            _run(self._conn(props), props["delete"], None, bool(props.get("quiet")))


class SshCommand(Resource):
    """A command over SSH (the subset of pulumi-command's remote.Command used here)."""

    stdout: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        connection: pulumi.Input[dict[str, Any]] | None,
        create: pulumi.Input[str],
        delete: pulumi.Input[str] | None = None,
        stdin: pulumi.Input[str] | None = None,
        quiet: bool = False,
        check: pulumi.Input[str] | None = None,
        expected: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["connection", "stdin"])
        super().__init__(
            _CommandProvider(),
            name,
            {
                "connection": connection,
                "create": create,
                "delete": delete,
                "stdin": stdin,
                "quiet": quiet,
                "check": check,
                "expected": expected,
                "stdout": None,
                "observed": None,
            },
            pulumi.ResourceOptions.merge(opts, secret),
        )


class _UploadProvider(_HostReader):
    # The upload is staged for the install step, which moves it into place: its check is the
    # installed file's (refresh re-uploads when the installed binary is not what was uploaded).
    def _upload(self, props: dict[str, Any]) -> None:
        data = Path(props["source"]).read_bytes()
        path = shlex.quote(props["remote_path"])
        _run(props["connection"], f"umask 077; cat > {path}", data, quiet=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._upload(props)
        return CreateResult(id_=uuid.uuid4().hex, outs={**props, "observed": props.get("expected")})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("connection", "remote_path", "triggers", "source", "check", "expected")
        changed = any(olds.get(k) != news.get(k) for k in keys)
        return DiffResult(changes=changed or _drifted(olds, news), replaces=[])

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._upload(news)
        return UpdateResult(outs={**news, "observed": news.get("expected")})


class SshUpload(Resource):
    """Copy a local file to the host (pulumi-command's CopyToRemote for one file)."""

    def __init__(
        self,
        name: str,
        connection: pulumi.Input[dict[str, Any]],
        source: str,
        remote_path: str,
        triggers: list[str],
        check: pulumi.Input[str] | None = None,
        expected: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["connection"])
        super().__init__(
            _UploadProvider(),
            name,
            {
                "connection": connection,
                "source": source,
                "remote_path": remote_path,
                "triggers": triggers,
                "check": check,
                "expected": expected,
                "observed": None,
            },
            pulumi.ResourceOptions.merge(opts, secret),
        )


_CERT_INPUTS = (
    "algorithm",
    "rsa_bits",
    "ecdsa_curve",
    "subject",
    "dns_names",
    "ip_addresses",
    "ca_cert_pem",
    "ca_private_key_pem",
    "validity_period_hours",
    "early_renewal_hours",
    "allowed_uses",
)

# pulumi-tls' allowed_uses name -> x509.KeyUsage's flag: a flag is set exactly when asked for
KEY_USAGES = {
    "digital_signature": "digital_signature",
    "content_commitment": "content_commitment",
    "key_encipherment": "key_encipherment",
    "data_encipherment": "data_encipherment",
    "key_agreement": "key_agreement",
    "cert_signing": "key_cert_sign",
    "crl_signing": "crl_sign",
    "encipher_only": "encipher_only",
    "decipher_only": "decipher_only",
}


def _issue(props: dict[str, Any]) -> dict[str, Any]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key: Any
    if props["algorithm"] == "ECDSA":
        curve = {"P256": ec.SECP256R1(), "P384": ec.SECP384R1()}[props["ecdsa_curve"]]
        key = ec.generate_private_key(curve)
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=int(props["rsa_bits"]))
    ca_cert = x509.load_pem_x509_certificate(props["ca_cert_pem"].encode())
    ca_key: Any = serialization.load_pem_private_key(props["ca_private_key_pem"].encode(), None)
    s = props["subject"]
    # no O at all when none is asked for: an empty O would still be a group to the API server
    organization = (
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, s["organization"])] if s.get("organization") else []
    )
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, s["country"]),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, s["province"]),
            x509.NameAttribute(NameOID.LOCALITY_NAME, s["locality"]),
            *organization,
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, s["organizational_unit"]),
            x509.NameAttribute(NameOID.COMMON_NAME, s["common_name"]),
        ]
    )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    not_after = now + dt.timedelta(hours=int(props["validity_period_hours"]))
    uses = set(props["allowed_uses"])
    eku = [
        oid
        for use, oid in (
            ("client_auth", ExtendedKeyUsageOID.CLIENT_AUTH),
            ("server_auth", ExtendedKeyUsageOID.SERVER_AUTH),
        )
        if use in uses
    ]
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in props["dns_names"]]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in props["ip_addresses"]]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(**{flag: use in uses for use, flag in KEY_USAGES.items()}),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        # Ed25519 signs the message itself (no separate digest)
        .sign(ca_key, None if isinstance(ca_key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    )
    return {
        **props,
        "private_key_pem": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "cert_pem": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "validity_end_time": not_after.isoformat().replace("+00:00", "Z"),
    }


class _CertProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=uuid.uuid4().hex, outs=_issue(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in _CERT_INPUTS if olds.get(k) != news.get(k)]
        end = olds.get("validity_end_time")
        if end:
            renew_at = dt.datetime.fromisoformat(end.replace("Z", "+00:00")) - dt.timedelta(
                hours=int(news["early_renewal_hours"])
            )
            if dt.datetime.now(dt.UTC) >= renew_at:
                replaces.append("validity_end_time")  # inside the early-renewal window
        return DiffResult(changes=bool(replaces), replaces=replaces, delete_before_replace=False)


class TlsCertificate(Resource):
    """Private key and CA-signed certificate (pulumi-tls PrivateKey + CertRequest +
    LocallySignedCert, with the same early-renewal rule)."""

    private_key_pem: pulumi.Output[str]
    cert_pem: pulumi.Output[str]
    validity_end_time: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["private_key_pem", "ca_private_key_pem"])
        super().__init__(
            _CertProvider(),
            name,
            {**props, "private_key_pem": None, "cert_pem": None, "validity_end_time": None},
            pulumi.ResourceOptions.merge(opts, secret),
        )
