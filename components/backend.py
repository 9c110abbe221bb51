"""Where the leaf resources come from, chosen once per stack (`resourceBackend`): the pulumi-tls
and pulumi-command plugins, or this project's dynamic providers (components/builtin.py) where those
plugins cannot be built. The components ask a `Backend` for a command, an upload or a certificate,
and never which one it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pulumi
import pulumi_command as command
import pulumi_tls as tls

from components import builtin
from components.config import CertificateSettings, ResolvedHost, StackConfig

# Fail an unreachable host in about 3 x 10 s instead of the provider's 10 x 15 s default.
DIAL_ERROR_LIMIT = 3
PER_DIAL_TIMEOUT_S = 10


@dataclass(frozen=True)
class Check:
    """How to read back what a step made on a host: `script` prints one line that equals
    `expected` exactly when the host still holds what the step made. The builtin backend runs it on
    refresh; the drift report and the plugins backend's converge step run it from the `checks`
    output (scripts/host_state.py); `label` says what it is about in reports."""

    label: str
    script: str
    expected: pulumi.Input[str]


@dataclass(frozen=True)
class Step:
    """One command a component runs: `create` once (again when its text changes), `delete` on
    destroy; `stdin` carries content, never the command line; `quiet` keeps a secret's step out of
    the logs."""

    name: str
    create: pulumi.Input[str]
    check: Check
    delete: str | None = None
    stdin: pulumi.Input[str] | None = None
    quiet: bool = False


@dataclass(frozen=True)
class Issued:
    private_key_pem: pulumi.Output[str]  # secret
    cert_pem: pulumi.Output[str]
    not_after: pulumi.Output[str]


@dataclass(frozen=True)
class CertificateRequest:
    common_name: str
    organization: str | None  # the API server's group for a client certificate: None for none
    dns_names: list[str]
    ip_addresses: list[str]
    allowed_uses: list[str]


@dataclass(frozen=True)
class Signer:
    """The cluster CA, the stack's certificate settings and the backend that issues with them:
    every certificate the program makes is signed this one way."""

    ca_cert_pem: str
    ca_key_pem: pulumi.Output[str]  # secret
    settings: CertificateSettings
    backend: Backend

    @classmethod
    def of(cls, cfg: StackConfig) -> Signer:
        ca_key = pulumi.Output.secret(cfg.ca_key_pem.get_secret_value())
        return cls(cfg.ca_cert_pem, ca_key, cfg.certificate, backend_for(cfg.resource_backend))

    def subject(self, request: CertificateRequest) -> dict[str, Any]:
        """The certificate's subject: the request's names in the stack's subject."""
        s = self.settings.subject
        return {
            "common_name": request.common_name,
            "organization": request.organization,
            "country": s.country,
            "province": s.province,
            "locality": s.locality,
            "organizational_unit": s.organizational_unit,
        }

    def issue(self, name: str, request: CertificateRequest, opts: pulumi.ResourceOptions) -> Issued:
        return self.backend.certificate(name, request, self, opts)


class Backend(Protocol):
    name: str

    def command(
        self, host: ResolvedHost | None, step: Step, opts: pulumi.ResourceOptions
    ) -> pulumi.CustomResource: ...  # host None: on this machine (render mode)

    def upload(
        self, name: str, host: ResolvedHost, local_file: str, remote_path: str, trigger: str, check: Check,
        opts: pulumi.ResourceOptions,
    ) -> pulumi.CustomResource: ...  # fmt: skip

    def certificate(
        self, name: str, request: CertificateRequest, signer: Signer, opts: pulumi.ResourceOptions
    ) -> Issued: ...


def _private_key(host: ResolvedHost) -> pulumi.Output[str] | None:
    key = host.private_key.get_secret_value() if host.private_key is not None else None
    return pulumi.Output.secret(key) if key is not None else None


class Plugins:
    """pulumi-command and pulumi-tls."""

    name = "plugins"

    def _connection(self, host: ResolvedHost) -> command.remote.ConnectionArgs:
        return command.remote.ConnectionArgs(
            host=host.address,
            port=host.port,
            user=host.user,
            private_key=_private_key(host),
            host_key=host.host_key,
            dial_error_limit=DIAL_ERROR_LIMIT,
            per_dial_timeout=PER_DIAL_TIMEOUT_S,
        )

    def command(
        self, host: ResolvedHost | None, step: Step, opts: pulumi.ResourceOptions
    ) -> pulumi.CustomResource:
        # No environment variables: over SSH they need the server's AcceptEnv, so values that
        # should trigger an update are written into the script text instead.
        if host is None:
            local = command.local.Logging
            return command.local.Command(
                step.name,
                create=step.create,
                delete=step.delete,
                stdin=step.stdin,
                logging=local.NONE if step.quiet else local.STDOUT_AND_STDERR,
                opts=opts,
            )
        remote = command.remote.Logging
        return command.remote.Command(
            step.name,
            connection=self._connection(host),
            create=step.create,
            delete=step.delete,
            stdin=step.stdin,
            logging=remote.NONE if step.quiet else remote.STDOUT_AND_STDERR,
            opts=opts,
        )

    def upload(
        self, name: str, host: ResolvedHost, local_file: str, remote_path: str, trigger: str, check: Check,
        opts: pulumi.ResourceOptions,
    ) -> pulumi.CustomResource:  # fmt: skip
        return command.remote.CopyToRemote(
            name,
            connection=self._connection(host),
            source=pulumi.FileAsset(local_file),
            remote_path=remote_path,
            triggers=[trigger],
            opts=opts,
        )

    def certificate(
        self, name: str, request: CertificateRequest, signer: Signer, opts: pulumi.ResourceOptions
    ) -> Issued:
        s = signer.settings
        key = tls.PrivateKey(
            f"{name}-key",
            algorithm=s.key_algorithm,
            rsa_bits=s.rsa_bits if s.key_algorithm == "RSA" else None,
            ecdsa_curve=s.ecdsa_curve if s.key_algorithm == "ECDSA" else None,
            opts=opts,
        )
        csr = tls.CertRequest(
            f"{name}-csr",
            private_key_pem=key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(**signer.subject(request)),
            dns_names=request.dns_names,
            ip_addresses=request.ip_addresses,
            opts=opts,
        )
        cert = tls.LocallySignedCert(
            f"{name}-cert",
            cert_request_pem=csr.cert_request_pem,
            ca_cert_pem=signer.ca_cert_pem,
            ca_private_key_pem=signer.ca_key_pem,
            validity_period_hours=s.validity_hours,
            # Inside this window `pulumi up` replaces the certificate (and so rolls the masters).
            early_renewal_hours=s.early_renewal_hours,
            allowed_uses=request.allowed_uses,
            opts=opts,
        )
        return Issued(pulumi.Output.secret(key.private_key_pem), cert.cert_pem, cert.validity_end_time)


class Builtin:
    """The same resources as Python dynamic providers (components/builtin.py)."""

    name = "builtin"

    def _connection(self, host: ResolvedHost) -> dict[str, Any]:
        return {**builtin.connection(host), "private_key": _private_key(host)}

    def command(
        self, host: ResolvedHost | None, step: Step, opts: pulumi.ResourceOptions
    ) -> pulumi.CustomResource:
        return builtin.SshCommand(
            step.name,
            self._connection(host) if host is not None else None,
            create=step.create,
            delete=step.delete,
            stdin=step.stdin,
            quiet=step.quiet,
            check=step.check.script,
            expected=step.check.expected,
            opts=opts,
        )

    def upload(
        self, name: str, host: ResolvedHost, local_file: str, remote_path: str, trigger: str, check: Check,
        opts: pulumi.ResourceOptions,
    ) -> pulumi.CustomResource:  # fmt: skip
        return builtin.SshUpload(
            name, self._connection(host), local_file, remote_path, [trigger], check=check.script,
            expected=check.expected, opts=opts,
        )  # fmt: skip

    def certificate(
        self, name: str, request: CertificateRequest, signer: Signer, opts: pulumi.ResourceOptions
    ) -> Issued:
        s = signer.settings
        issued = builtin.TlsCertificate(
            f"{name}-cert",
            {
                "algorithm": s.key_algorithm,
                "rsa_bits": s.rsa_bits,
                "ecdsa_curve": s.ecdsa_curve,
                "subject": signer.subject(request),
                "dns_names": request.dns_names,
                "ip_addresses": request.ip_addresses,
                "ca_cert_pem": signer.ca_cert_pem,
                "ca_private_key_pem": signer.ca_key_pem,
                "validity_period_hours": s.validity_hours,
                "early_renewal_hours": s.early_renewal_hours,
                "allowed_uses": request.allowed_uses,
            },
            opts=opts,
        )
        return Issued(pulumi.Output.secret(issued.private_key_pem), issued.cert_pem, issued.validity_end_time)


def backend_for(name: str) -> Backend:
    return Builtin() if name == "builtin" else Plugins()
