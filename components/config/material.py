"""Checks of what key material must be able to do, not only its shape: the CA, the SSH keys and
the kubeconfig are checked before any resource exists, so a stack with material that cannot do
its job fails at preview instead of after certificates were issued. Messages name the config key
and never echo a secret."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.config.errors import Problem

_SERVER_AND_CLIENT = {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


def ca_problems(
    cert_pem: str, key_pem: str, validity_hours: int, now: dt.datetime | None = None
) -> list[Problem]:
    """The CA can sign the scheduler certificates the API server will accept, for as long as they
    are to be valid. A CA that expires sooner is refused (not capped): a certificate silently
    shorter than configured would surprise its renewal schedule."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError:
        return [Problem("caCert", f"expected a PEM certificate, got {cert_pem[:40]!r}...")]
    try:
        key: Any = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except TypeError:
        return [
            Problem("caKey", "expected an unencrypted PEM private key, got one protected by a passphrase")
        ]
    except ValueError:
        return [Problem("caKey", "expected an unencrypted PEM private key, got [secret]")]
    problems: list[Problem] = []
    subject = cert.subject.rfc4514_string()
    pub = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if cert.public_key().public_bytes(*pub) != key.public_key().public_bytes(*pub):
        problems.append(
            Problem(
                "caKey", f"expected the private key of caCert ({subject}), got a key that does not match it"
            )
        )
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        problems.append(
            Problem("caCert", f"expected a CA certificate (basicConstraints CA:TRUE), got {subject}")
        )
    try:
        if not cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign:
            problems.append(
                Problem("caCert", f"expected keyUsage keyCertSign (it signs certificates), got {subject}")
            )
    except x509.ExtensionNotFound:
        pass  # no keyUsage: any use
    try:
        eku = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        eku = None
    if (
        eku is not None
        and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku
        and not eku >= _SERVER_AND_CLIENT
    ):
        # Go's chain verification requires the CA's extended key usages to cover the leaf's
        problems.append(
            Problem(
                "caCert",
                f"expected extendedKeyUsage to allow clientAuth and serverAuth (the "
                f"scheduler certificates need both), got {sorted(o.dotted_string for o in eku)}",
            )
        )
    if now < cert.not_valid_before_utc or now >= cert.not_valid_after_utc:
        problems.append(
            Problem(
                "caCert",
                f"expected a CA valid now, got one valid from "
                f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M}Z to {cert.not_valid_after_utc:%Y-%m-%d %H:%M}Z",
            )
        )
    else:
        ends = now + dt.timedelta(hours=validity_hours)
        if ends > cert.not_valid_after_utc:
            left = int((cert.not_valid_after_utc - now).total_seconds() // 3600)
            problems.append(
                Problem(
                    "certificate.validityHours",
                    f"expected at most {left} (caCert expires "
                    f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M}Z), got {validity_hours}",
                )
            )
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 2048:
        problems.append(
            Problem("caKey", f"expected an RSA key of at least 2048 bits, got {key.key_size} bits")
        )
    elif isinstance(key, ec.EllipticCurvePrivateKey) and not isinstance(key.curve, _CURVES):
        problems.append(
            Problem("caKey", f"expected an EC key on P-256, P-384 or P-521, got {key.curve.name}")
        )
    elif isinstance(key, dsa.DSAPrivateKey) or not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    ):
        problems.append(Problem("caKey", f"expected an RSA, ECDSA or Ed25519 key, got {type(key).__name__}"))
    return problems


def ssh_key_problems(key_text: str, key: str, path: Path | None, uses_agent: bool) -> list[Problem]:
    """An SSH private key ssh can use without asking: parses, no passphrase (else useAgent),
    not a public key, and (from a file) not readable by others, which ssh itself refuses."""
    text = key_text.strip()
    if text.startswith(("ssh-", "ecdsa-sha2-")) or text.startswith("-----BEGIN PUBLIC KEY"):
        return [Problem(key, "expected an SSH private key, got a public key")]
    problems: list[Problem] = []
    try:
        if "BEGIN OPENSSH PRIVATE KEY" in text:
            serialization.load_ssh_private_key(text.encode(), password=None)
        else:
            serialization.load_pem_private_key(text.encode(), password=None)
    except TypeError:
        if not uses_agent:
            problems.append(
                Problem(
                    key,
                    "expected a key usable without a passphrase, got one protected by a "
                    "passphrase (load it into ssh-agent and set useAgent: true)",
                )
            )
    except (ValueError, UnsupportedAlgorithm):
        problems.append(Problem(key, "expected an SSH private key (OpenSSH or PEM), got [secret]"))
    if path is not None:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            problems.append(
                Problem(
                    key,
                    f"expected a key file only its owner can read (as ssh requires; "
                    f"chmod 600 {path}), got mode {mode:04o}",
                )
            )
    return problems


def kubeconfig_problems(text: str, key: str) -> list[Problem]:
    """A kubeconfig the Kubernetes provider can use: YAML, a current context that names a
    cluster with an https server and a user with credentials."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return [Problem(key, "expected a kubeconfig (YAML), got text that does not parse")]
    if not isinstance(doc, dict):
        return [Problem(key, f"expected a kubeconfig (a YAML mapping), got {type(doc).__name__}")]

    def named(section: str, name: object) -> dict[str, Any]:
        for entry in doc.get(section) or []:
            if isinstance(entry, dict) and entry.get("name") == name:
                found = entry.get(section.rstrip("s"))
                return found if isinstance(found, dict) else {}
        return {}

    current = doc.get("current-context")
    if not current:
        return [Problem(key, "expected a current-context, got none")]
    context = named("contexts", current)
    if not context:
        return [Problem(key, f"expected the current context {current!r} among its contexts, got none")]
    problems: list[Problem] = []
    cluster = named("clusters", context.get("cluster"))
    server = str(cluster.get("server", ""))
    if not server.startswith("https://"):
        problems.append(
            Problem(
                key, f"expected the cluster of context {current!r} to have an https server, got {server!r}"
            )
        )
    if cluster.get("insecure-skip-tls-verify") is True:
        # the provider would then send its credentials to whoever answers at that address
        problems.append(
            Problem(
                key,
                f"expected the cluster of context {current!r} to verify the API server's certificate "
                "(certificate-authority or certificate-authority-data), got insecure-skip-tls-verify: true",
            )
        )
    user = named("users", context.get("user"))
    credentials = (
        "client-certificate-data",
        "client-certificate",
        "token",
        "tokenFile",
        "exec",
        "auth-provider",
    )
    if not any(user.get(c) for c in credentials):
        problems.append(
            Problem(key, f"expected the user of context {current!r} to have credentials, got none")
        )
    return problems
