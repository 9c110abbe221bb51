"""Per-host kube-scheduler key and CA-signed certificate (client to the API server, server on 10259)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

from components import builtin
from components.config import CertificateSettings

# The API server maps CN to the user and O to the group; both are what the built-in
# system:kube-scheduler ClusterRoleBinding names (seeds 000/002).
SCHEDULER_IDENTITY = "system:kube-scheduler"
# Client auth to the API server and server auth for the secure port 10259.
ALLOWED_USES = ("digital_signature", "key_encipherment", "client_auth", "server_auth")


def subject_alt_names(host_name: str, addresses: list[str]) -> tuple[list[str], list[str]]:
    """(dns_names, ip_addresses) for a host: its name and addresses plus loopback."""
    dns = [host_name, "localhost"]
    ips = ["127.0.0.1"]
    for a in addresses:
        try:
            ipaddress.ip_address(a)
        except ValueError:
            dns.append(a)
        else:
            ips.append(a)
    return list(dict.fromkeys(dns)), list(dict.fromkeys(ips))


@dataclass(frozen=True)
class SchedulerCertificateArgs:
    host_name: str
    addresses: list[str]
    ca_cert_pem: pulumi.Input[str]
    ca_key_pem: pulumi.Input[str]  # secret
    settings: CertificateSettings
    builtin: bool = False  # resourceBackend: builtin


class SchedulerCertificate(pulumi.ComponentResource):
    private_key_pem: pulumi.Output[str]
    cert_pem: pulumi.Output[str]
    not_after: pulumi.Output[str]

    def __init__(
        self, name: str, args: SchedulerCertificateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kube-scheduler:pki:SchedulerCertificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        s = args.settings
        dns_names, ip_addresses = subject_alt_names(args.host_name, args.addresses)
        if args.builtin:
            issued = builtin.TlsCertificate(
                f"{name}-cert",
                {
                    "algorithm": s.key_algorithm,
                    "rsa_bits": s.rsa_bits,
                    "ecdsa_curve": s.ecdsa_curve,
                    "subject": {
                        "common_name": SCHEDULER_IDENTITY,
                        "organization": SCHEDULER_IDENTITY,
                        "country": s.subject.country,
                        "province": s.subject.province,
                        "locality": s.subject.locality,
                        "organizational_unit": s.subject.organizational_unit,
                    },
                    "dns_names": dns_names,
                    "ip_addresses": ip_addresses,
                    "ca_cert_pem": args.ca_cert_pem,
                    "ca_private_key_pem": pulumi.Output.secret(args.ca_key_pem),
                    "validity_period_hours": s.validity_hours,
                    "early_renewal_hours": s.early_renewal_hours,
                    "allowed_uses": list(ALLOWED_USES),
                },
                opts=child,
            )
            self._finish(issued.private_key_pem, issued.cert_pem, issued.validity_end_time)
            return
        key = tls.PrivateKey(
            f"{name}-key",
            algorithm=s.key_algorithm,
            rsa_bits=s.rsa_bits if s.key_algorithm == "RSA" else None,
            ecdsa_curve=s.ecdsa_curve if s.key_algorithm == "ECDSA" else None,
            opts=child,
        )
        csr = tls.CertRequest(
            f"{name}-csr",
            private_key_pem=key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(
                common_name=SCHEDULER_IDENTITY,
                organization=SCHEDULER_IDENTITY,
                country=s.subject.country,
                province=s.subject.province,
                locality=s.subject.locality,
                organizational_unit=s.subject.organizational_unit,
            ),
            dns_names=dns_names,
            ip_addresses=ip_addresses,
            opts=child,
        )
        cert = tls.LocallySignedCert(
            f"{name}-cert",
            cert_request_pem=csr.cert_request_pem,
            ca_cert_pem=args.ca_cert_pem,
            ca_private_key_pem=pulumi.Output.secret(args.ca_key_pem),
            validity_period_hours=s.validity_hours,
            # Inside this window `pulumi up` replaces the cert; the host component then
            # restarts the service, one host at a time.
            early_renewal_hours=s.early_renewal_hours,
            allowed_uses=list(ALLOWED_USES),
            opts=child,
        )
        self._finish(key.private_key_pem, cert.cert_pem, cert.validity_end_time)

    def _finish(
        self, key: pulumi.Output[str], cert: pulumi.Output[str], not_after: pulumi.Output[str]
    ) -> None:
        self.private_key_pem = pulumi.Output.secret(key)
        self.cert_pem = cert
        self.not_after = not_after
        self.register_outputs({"cert_pem": self.cert_pem, "not_after": self.not_after})
