"""Per-host kube-scheduler key and CA-signed certificate (client to the API server, server on 10259)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi

from components.backend import CertificateRequest, Signer

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
    signer: Signer


class SchedulerCertificate(pulumi.ComponentResource):
    private_key_pem: pulumi.Output[str]
    cert_pem: pulumi.Output[str]
    not_after: pulumi.Output[str]

    def __init__(
        self, name: str, args: SchedulerCertificateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kube-scheduler:pki:SchedulerCertificate", name, None, opts)
        dns_names, ip_addresses = subject_alt_names(args.host_name, args.addresses)
        request = CertificateRequest(
            SCHEDULER_IDENTITY, SCHEDULER_IDENTITY, dns_names, ip_addresses, ALLOWED_USES
        )
        issued = args.signer.issue(name, request, pulumi.ResourceOptions(parent=self))
        self.private_key_pem = issued.private_key_pem
        self.cert_pem = issued.cert_pem
        self.not_after = issued.not_after
        self.register_outputs({"cert_pem": self.cert_pem, "not_after": self.not_after})
