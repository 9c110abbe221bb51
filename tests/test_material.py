"""What key material must be able to do, checked before any resource exists: each row a stack
whose CA, SSH key or kubeconfig has the right shape but cannot do its job, and the line it gets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.config import ConfigError, load_config
from tests.support import Pki, as_raw, base_config, make_ca, mutate, pem_key, problem_texts, token_kubeconfig


def _pem(cert: Any) -> str:
    return str(cert.public_bytes(serialization.Encoding.PEM).decode())


def _key_pem(key: Any) -> str:
    return str(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    )


# (id, make_ca keyword arguments, expected substrings of one problem)
CA_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("not-a-ca", {"ca": False}, ["kube-scheduler:caCert: expected a CA certificate", "CN=broken-ca"]),
    ("cannot-sign", {"key_cert_sign": False}, ["kube-scheduler:caCert: expected keyUsage keyCertSign"]),
    ("expired", {"days": 1, "starts_in_days": -3}, ["kube-scheduler:caCert: expected a CA valid now"]),
    ("not-yet-valid", {"starts_in_days": 2}, ["kube-scheduler:caCert: expected a CA valid now"]),
    (
        "expires-before-the-certificates",
        {"days": 30},
        ["kube-scheduler:certificate.validityHours: expected at most 7", "caCert expires", "got 8760"],
    ),
    (
        "eku-server-only",
        {"eku": [ExtendedKeyUsageOID.SERVER_AUTH]},
        ["kube-scheduler:caCert: expected extendedKeyUsage to allow clientAuth and serverAuth"],
    ),
    (
        "rsa-1024",
        {"key": rsa.generate_private_key(public_exponent=65537, key_size=1024)},
        ["kube-scheduler:caKey: expected an RSA key of at least 2048 bits, got 1024 bits"],
    ),
]


@pytest.mark.parametrize(("changes", "message"), [c[1:] for c in CA_CASES], ids=[c[0] for c in CA_CASES])
def test_ca_that_cannot_do_its_job_is_refused(pki: Pki, changes: dict[str, Any], message: list[str]) -> None:
    cert, key = make_ca("broken-ca", **changes)
    c = base_config(pki) | {"caCert": _pem(cert), "caKey": _key_pem(key)}
    with pytest.raises(ConfigError) as info:
        load_config(as_raw(c))
    assert any(all(m in p for m in message) for p in problem_texts(info.value)), problem_texts(info.value)
    assert "PRIVATE KEY" not in str(info.value)


def test_an_ed25519_ca_is_accepted(pki: Pki) -> None:
    cert, key = make_ca("ed25519-ca", key=ed25519.Ed25519PrivateKey.generate())
    c = base_config(pki) | {"caCert": _pem(cert), "caKey": _key_pem(key)}
    assert load_config(as_raw(c)).ca_cert_pem == _pem(cert)


def _ssh_key(encrypted: bool = False) -> str:
    algorithm = (
        serialization.BestAvailableEncryption(b"passphrase") if encrypted else serialization.NoEncryption()
    )
    return (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, algorithm)
        .decode()
    )


def _problems(c: dict[str, Any], base: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(as_raw(c), base_dir=base)
    return problem_texts(info.value)


def test_ssh_public_key_given_as_private(pki: Pki, tmp_path: Path) -> None:
    c = base_config(pki) | {"sshPrivateKey": pki.host_keys[0]}
    assert "kube-scheduler:sshPrivateKey: expected an SSH private key, got a public key" in _problems(
        c, tmp_path
    )


def test_ssh_key_with_a_passphrase_needs_the_agent(pki: Pki, tmp_path: Path) -> None:
    key = tmp_path / "id"
    key.touch(mode=0o600)
    key.write_text(_ssh_key(encrypted=True))
    c = mutate(base_config(pki), "bareMetal.hosts.0.privateKeyFile", "id")
    problems = _problems(c, tmp_path)
    assert any(
        p.startswith(
            "kube-scheduler:bareMetal.hosts[0].privateKeyFile: expected a key usable without a passphrase"
        )
        and "useAgent: true" in p
        for p in problems
    ), problems
    # with the agent holding it, the same key is fine
    ok = mutate(c, "bareMetal.hosts.0.useAgent", True)
    assert load_config(as_raw(ok), base_dir=tmp_path).hosts[0].use_agent


def test_ssh_key_file_others_can_read_is_refused(pki: Pki, tmp_path: Path) -> None:
    key = tmp_path / "id"
    key.write_text(_ssh_key())
    key.chmod(0o644)
    c = base_config(pki)
    del c["sshPrivateKey"]
    c["sshPrivateKeyFile"] = "id"
    assert _problems(c, tmp_path) == [
        "kube-scheduler:sshPrivateKeyFile: expected a key file only its owner can read (as ssh requires; "
        f"chmod 600 {tmp_path / 'id'}), got mode 0644"
    ]
    key.chmod(0o600)
    assert load_config(as_raw(c), base_dir=tmp_path).hosts[0].private_key is not None


def _kubeconfig(**changes: Any) -> str:
    doc = token_kubeconfig("https://10.0.0.1:6443", "t0k3n", context="x")
    doc.update(changes)
    return yaml.safe_dump(doc)


KUBECONFIGS = [
    ("not-yaml", "{ not: [yaml", "expected a kubeconfig (YAML), got text that does not parse"),
    ("no-current-context", _kubeconfig(**{"current-context": ""}), "expected a current-context, got none"),
    (
        "unknown-context",
        _kubeconfig(**{"current-context": "elsewhere"}),
        "expected the current context 'elsewhere' among its contexts",
    ),
    (
        "http-server",
        _kubeconfig(clusters=[{"name": "c", "cluster": {"server": "http://10.0.0.1:8080"}}]),
        "expected the cluster of context 'x' to have an https server, got 'http://10.0.0.1:8080'",
    ),
    (
        "no-credentials",
        _kubeconfig(users=[{"name": "u", "user": {}}]),
        "expected the user of context 'x' to have credentials, got none",
    ),
    (
        "tls-not-verified",
        _kubeconfig(
            clusters=[
                {
                    "name": "c",
                    "cluster": {"server": "https://10.0.0.1:6443", "insecure-skip-tls-verify": True},
                }
            ]
        ),
        "expected the cluster of context 'x' to verify the API server's certificate",
    ),
]


@pytest.mark.parametrize(("text", "message"), [k[1:] for k in KUBECONFIGS], ids=[k[0] for k in KUBECONFIGS])
def test_kubeconfig_that_cannot_connect_is_refused(pki: Pki, tmp_path: Path, text: str, message: str) -> None:
    c = base_config(pki) | {"kubeconfig": text}
    problems = _problems(c, tmp_path)
    assert f"kube-scheduler:kubeconfig: {message}" in "\n".join(problems), problems
    assert "t0k3n" not in "\n".join(problems)


def test_a_working_kubeconfig_passes(pki: Pki) -> None:
    assert load_config(as_raw(base_config(pki) | {"kubeconfig": _kubeconfig()})).kubeconfig is not None


def test_material_is_not_checked_where_it_is_not_used(pki: Pki) -> None:
    # render mode connects nowhere: no SSH key needed, a public key in its place is not an error
    c = base_config(pki) | {"outputMode": "render", "sshPrivateKey": pki.host_keys[0]}
    assert load_config(as_raw(c)).output_mode == "render"


def test_ca_checks_use_the_clock(pki: Pki) -> None:
    from components.config.material import ca_problems

    cert, key = make_ca(days=400)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=100)
    assert ca_problems(_pem(cert), pem_key(key), 8760) == []
    (late,) = ca_problems(_pem(cert), pem_key(key), 8760, now=later)
    assert late.key == "certificate.validityHours" and late.message.startswith("expected at most")
    assert ec  # the default CA key type of the tests
