"""The builtin dynamic providers' own logic, run for real (no Pulumi engine, no network)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from components.builtin import (
    RemoteCommandError,
    UnreachableError,
    _CertProvider,
    _CommandProvider,
    _run,
)
from components.host_file import file_check_script, file_state, render_write_script, sha256_text
from components.render.master import HostFile
from tests.support import make_ca, pem_key


@pytest.fixture(scope="module")
def cert_props() -> dict[str, Any]:
    ca, key = make_ca("builtin-test-ca")
    return {
        "algorithm": "ECDSA",
        "rsa_bits": 2048,
        "ecdsa_curve": "P256",
        "subject": {
            "common_name": "system:kube-scheduler",
            "organization": "system:kube-scheduler",
            "country": "US",
            "province": "Oregon",
            "locality": "Portland",
            "organizational_unit": "Kubernetes The Hard Way",
        },
        "dns_names": ["master-1", "localhost"],
        "ip_addresses": ["127.0.0.1", "10.231.0.11"],
        "ca_cert_pem": ca.public_bytes(serialization.Encoding.PEM).decode(),
        "ca_private_key_pem": pem_key(key),
        "validity_period_hours": 8760,
        "early_renewal_hours": 720,
        "allowed_uses": ["digital_signature", "key_encipherment", "client_auth", "server_auth"],
    }


def test_certificate_is_signed_by_the_ca_with_identity_sans_and_usages(cert_props: dict[str, Any]) -> None:
    outs = _CertProvider().create(cert_props).outs
    assert outs is not None
    cert = x509.load_pem_x509_certificate(outs["cert_pem"].encode())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(cert_props["ca_cert_pem"].encode()))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:kube-scheduler"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:kube-scheduler"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == ["localhost", "master-1"]
    assert sorted(str(i) for i in san.get_values_for_type(x509.IPAddress)) == ["10.231.0.11", "127.0.0.1"]
    eku = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert eku == {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH}
    key = serialization.load_pem_private_key(outs["private_key_pem"].encode(), None)
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)
    end = dt.datetime.fromisoformat(outs["validity_end_time"].replace("Z", "+00:00"))
    assert end == cert.not_valid_after_utc


def test_a_certificate_without_a_group_has_no_organization(cert_props: dict[str, Any]) -> None:
    """The metrics reader's certificate asks for no group: the engine drops a None input, so the
    provider gets no `organization` key at all (and an empty O would still be a group)."""
    subject = {k: v for k, v in cert_props["subject"].items() if k != "organization"}
    outs = _CertProvider().create(cert_props | {"subject": subject}).outs
    assert outs is not None
    cert = x509.load_pem_x509_certificate(outs["cert_pem"].encode())
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) == []
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:kube-scheduler"


def _end_in(hours: float) -> str:
    t = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
    return t.replace(microsecond=0).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("change", "ends_in_hours", "replaces"),
    [
        ("nothing", 8000, []),
        ("nothing, just outside the early-renewal window", 721, []),
        ("nothing, inside the early-renewal window", 719, ["validity_end_time"]),
        ("nothing, expired", -1, ["validity_end_time"]),
        ("a SAN", 8000, ["ip_addresses"]),
        ("the CA key", 8000, ["ca_private_key_pem"]),
    ],
)
def test_certificate_diff_replaces_on_input_change_or_inside_renewal_window(
    cert_props: dict[str, Any], change: str, ends_in_hours: float, replaces: list[str]
) -> None:
    olds = cert_props | {"validity_end_time": _end_in(ends_in_hours)}
    news = dict(cert_props)
    if change == "a SAN":
        news["ip_addresses"] = ["127.0.0.1", "10.231.0.99"]
    elif change == "the CA key":
        news["ca_private_key_pem"] = "other"
    diff = _CertProvider().diff("id", olds, news)
    assert diff.replaces == replaces
    assert diff.changes is bool(replaces)


def test_local_command_gets_stdin_and_reports_failures(tmp_path: Path) -> None:
    target = tmp_path / "f"
    out = _run(None, f"cat > {target}; echo written", "content over stdin", quiet=False)
    assert out == "written\n" and target.read_text() == "content over stdin"
    with pytest.raises(RemoteCommandError, match=r"local: command failed \(exit 3\): boom"):
        _run(None, "echo boom >&2; exit 3", None, quiet=False)
    # a step that handles a secret never echoes its output, even on failure
    with pytest.raises(RemoteCommandError) as info:
        _run(None, "cat; exit 1", "SECRET-KEY-MATERIAL", quiet=True)
    assert "SECRET-KEY-MATERIAL" not in str(info.value)


def test_command_diff_updates_in_place_never_replaces() -> None:
    p = _CommandProvider()
    olds = {"connection": None, "create": "a", "delete": "d", "stdin": "x", "quiet": False, "stdout": "o"}
    assert p.diff("id", olds, olds | {"stdout": None}).changes is False
    d = p.diff("id", olds, olds | {"stdin": "y"})
    assert d.changes is True and d.replaces == []


def test_unreachable_host_fails_with_the_address(tmp_path: Path) -> None:
    # 127.0.0.1 port 1: refused at once, on this machine only
    conn = {"host": "127.0.0.1", "port": 1, "user": "root", "private_key": None, "host_key": None}
    with pytest.raises(UnreachableError, match=r"root@127\.0\.0\.1:1: unreachable: .*Connection refused"):
        _run(conn, "true", None, quiet=True)


# ---------------------------------------------------------------- reading the host back


def _file_step(path: Path, content: str) -> dict[str, Any]:
    """A file-writing step as SchedulerHost makes one, run locally (render-mode checks)."""
    spec = HostFile("config", str(path), "0640")
    return {
        "connection": None,
        "create": render_write_script(spec, ""),
        "delete": f"rm -f -- {path}",
        "stdin": content,
        "quiet": True,
        "check": file_check_script(str(path), None),
        "expected": file_state(spec, sha256_text(content), render=True),
    }


def test_a_step_reads_back_what_it_made_and_refresh_sees_drift(tmp_path: Path) -> None:
    p = _CommandProvider()
    target = tmp_path / "kube-scheduler.yaml"
    step = _file_step(target, "qps: 50\n")
    outs = p.create(step).outs
    original = hashlib.sha256(b"qps: 50\n").hexdigest()
    assert outs is not None and outs["observed"] == f"{original} 640"
    # nothing changed on the host: refresh reads the same, no diff
    same = p.read("id", outs).outs
    assert same is not None and same["observed"] == outs["observed"]
    assert p.diff("id", same, step).changes is False
    # edited by hand: refresh reads the new hash, and the next up rewrites the file
    target.write_text("qps: 5000\n")
    edited = p.read("id", outs).outs
    assert edited is not None and edited["observed"] == hashlib.sha256(b"qps: 5000\n").hexdigest() + " 640"
    assert p.diff("id", edited, step).changes is True
    assert p.update("id", edited, step).outs is not None
    assert target.read_text() == "qps: 50\n"
    # deleted by hand: "absent", rewritten the same way
    target.unlink()
    gone = p.read("id", outs).outs
    assert gone is not None and gone["observed"] == "absent"
    assert p.diff("id", gone, step).changes is True


def test_a_step_that_does_not_leave_what_it_claims_fails(tmp_path: Path) -> None:
    step = _file_step(tmp_path / "f", "content")
    step["create"] = "cat >/dev/null"  # writes nothing
    with pytest.raises(RemoteCommandError, match=r"after this step the host shows 'absent', expected"):
        _CommandProvider().create(step)


def test_refresh_of_an_unreachable_host_keeps_the_state() -> None:
    conn = {"host": "127.0.0.1", "port": 1, "user": "root", "private_key": None, "host_key": None}
    props = {"connection": conn, "create": "true", "check": "echo ok", "expected": "ok", "observed": "ok"}
    result = _CommandProvider().read("id", props)
    assert result.id == "id" and result.outs == props
