"""Per-host kube-scheduler key and CA-signed certificate (client to the API server, server on 10259)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi

from components.backend import Backend, CertificateRequest
from components.config import CertificateSettings

# The API server maps CN to the user, which the built-in system:kube-scheduler ClusterRoleBinding
# names (docs/sources.md#scheduler-rbac); O is the guides' (the binding does not use it).
SCHEDULER_IDENTITY = "system:kube-scheduler"
# Client auth to the API server and server auth for the secure port 10259.
ALLOWED_USES = ["digital_signature", "key_encipherment", "client_auth", "server_auth"]


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
    backend: Backend


class SchedulerCertificate(pulumi.ComponentResource):
    private_key_pem: pulumi.Output[str]
    cert_pem: pulumi.Output[str]
    not_after: pulumi.Output[str]

    def __init__(
        self, name: str, args: SchedulerCertificateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kube-scheduler:pki:SchedulerCertificate", name, None, opts)
        dns_names, ip_addresses = subject_alt_names(args.host_name, args.addresses)
        issued = args.backend.certificate(
            name,
            CertificateRequest(
                common_name=SCHEDULER_IDENTITY,
                organization=SCHEDULER_IDENTITY,
                dns_names=dns_names,
                ip_addresses=ip_addresses,
                allowed_uses=ALLOWED_USES,
                ca_cert_pem=args.ca_cert_pem,
                ca_key_pem=args.ca_key_pem,
                settings=args.settings,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.private_key_pem = issued.private_key_pem
        self.cert_pem = issued.cert_pem
        self.not_after = issued.not_after
        self.register_outputs({"cert_pem": self.cert_pem, "not_after": self.not_after})
