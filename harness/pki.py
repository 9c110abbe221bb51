"""Throwaway key material made on the fly: a CA (valid, or broken in the ways tests need), keys,
and the set a stack config needs (CA, SSH key, three host keys). Never stored."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID


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
    san_ips: tuple[str, ...] = (),
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
    if san_ips:
        sans = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in san_ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
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
