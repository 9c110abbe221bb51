"""The lab's CA, component certificates, kubeconfigs, and SSH keys (user key, per-master host keys)."""

import json
import os
from pathlib import Path

from ksched_lab.settings import (
    ADMIN_KUBECONFIG,
    API_URL,
    HOST_IP,
    HOSTS,
    KNOWN_HOSTS,
    MASTERS,
    NODES,
    PKI,
    RUN,
    SERVICE_IP,
    SSH,
)
from ksched_lab.util import log, run, write
from plumbing.kubeconfig import kubeconfig
from plumbing.ssh import known_hosts_line


def openssl(*args: object) -> None:
    run(["openssl", *args])


def ensure_ca() -> None:
    PKI.mkdir(parents=True, exist_ok=True)
    os.chmod(PKI, 0o700)
    if (PKI / "ca.crt").exists() and (PKI / "ca.key").exists():
        return
    log(f"creating lab CA ({PKI / 'ca.crt'})")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", PKI / "ca.key")
    openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        PKI / "ca.key",
        "-sha256",
        "-days",
        "3650",
        "-subj",
        "/CN=ksched-lab-ca",
        "-out",
        PKI / "ca.crt",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    )
    os.chmod(PKI / "ca.key", 0o600)


def ensure_cert(name: str, subj: str, server_sans: list[str] | None = None, client: bool = True) -> None:
    crt, key = PKI / f"{name}.crt", PKI / f"{name}.key"
    if crt.exists() and key.exists():
        return
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
    os.chmod(key, 0o600)
    csr = PKI / f"{name}.csr"
    openssl("req", "-new", "-key", key, "-subj", subj, "-out", csr)
    eku = ",".join((["serverAuth"] if server_sans else []) + (["clientAuth"] if client else []))
    ext = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={eku}",
    ]
    if server_sans:
        ext.append("subjectAltName=" + ",".join(server_sans))
    extfile = PKI / f"{name}.ext"
    extfile.write_text("\n".join(ext) + "\n")
    openssl(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        PKI / "ca.crt",
        "-CAkey",
        PKI / "ca.key",
        "-CAcreateserial",
        "-days",
        "3650",
        "-sha256",
        "-extfile",
        extfile,
        "-out",
        crt,
    )
    csr.unlink()
    extfile.unlink()


def kubeconfig_json(user: str, crt: Path, key: Path) -> str:
    """A kubeconfig with embedded credentials, as JSON (which is YAML: no PyYAML here)."""
    cfg = kubeconfig(
        cluster="ksched-lab",
        server=API_URL,
        ca_pem=(PKI / "ca.crt").read_bytes(),
        user=user,
        client_cert_pem=crt.read_bytes(),
        client_key_pem=key.read_bytes(),
        context="ksched-lab",
    )
    # admin.kubeconfig is an input of the dev stack's Kubernetes provider: the same bytes as the
    # lab has always written (key order included), or a deployed stack would see a change
    cluster = cfg["clusters"][0]["cluster"]
    cfg["clusters"][0]["cluster"] = {k: cluster[k] for k in ("server", "certificate-authority-data")}
    order = ("apiVersion", "kind", "preferences", "clusters", "users", "contexts", "current-context")
    return json.dumps({k: cfg[k] for k in order}, indent=2) + "\n"


def write_kubeconfig(path: Path, user: str, crt: Path, key: Path) -> None:
    write(path, kubeconfig_json(user, crt, key), mode=0o600)


def ensure_pki() -> None:
    ensure_ca()
    sans = [
        f"IP:{HOST_IP}",
        "IP:127.0.0.1",
        f"IP:{SERVICE_IP}",
        "DNS:localhost",
        "DNS:kubernetes",
        "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc",
        "DNS:kubernetes.default.svc.cluster.local",
    ]
    ensure_cert("apiserver", "/CN=kube-apiserver", server_sans=sans, client=False)
    ensure_cert("admin", "/O=system:masters/CN=ksched-lab-admin")
    ensure_cert("kube-controller-manager", "/CN=system:kube-controller-manager")
    ensure_cert("kwok", "/O=system:masters/CN=ksched-lab-kwok")
    if not (PKI / "sa.key").exists():
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", PKI / "sa.key")
        os.chmod(PKI / "sa.key", 0o600)
        openssl("ec", "-in", PKI / "sa.key", "-pubout", "-out", PKI / "sa.pub")
    write_kubeconfig(ADMIN_KUBECONFIG, "ksched-lab-admin", PKI / "admin.crt", PKI / "admin.key")
    write_kubeconfig(
        RUN / "kube-controller-manager.kubeconfig",
        "system:kube-controller-manager",
        PKI / "kube-controller-manager.crt",
        PKI / "kube-controller-manager.key",
    )
    write_kubeconfig(RUN / "kwok.kubeconfig", "ksched-lab-kwok", PKI / "kwok.crt", PKI / "kwok.key")
    # kubectl logs/exec: the API server's client certificate towards the kubelets
    ensure_cert("apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client")
    # real nodes: the kubelet's identity (Node authorizer) and serving certificate, kube-proxy's
    ensure_cert("kube-proxy", "/CN=system:kube-proxy")
    for name, ip, _ in NODES:
        ensure_cert(f"{name}-kubelet", f"/O=system:nodes/CN=system:node:{name}")
        ensure_cert(f"{name}-serving", f"/CN={name}", server_sans=[f"IP:{ip}", f"DNS:{name}"], client=False)


def ensure_ssh_keys() -> None:
    SSH.mkdir(parents=True, exist_ok=True)
    os.chmod(SSH, 0o700)
    if not (SSH / "id_ed25519").exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ksched-lab", "-f", SSH / "id_ed25519"])
    lines = []
    for name, ip in [*MASTERS, *((n, ip) for n, ip, _ in NODES)]:
        d = HOSTS / name
        d.mkdir(parents=True, exist_ok=True)
        if not (d / "ssh_host_ed25519_key").exists():
            run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    f"root@{name}",
                    "-f",
                    d / "ssh_host_ed25519_key",
                ]
            )
        if not (d / "machine-id").exists():
            write(d / "machine-id", os.urandom(16).hex() + "\n")
        key_type, key = (d / "ssh_host_ed25519_key.pub").read_text().split()[:2]
        lines.append(known_hosts_line(f"{name},{ip}", 22, f"{key_type} {key}"))
    write(KNOWN_HOSTS, "\n".join(lines) + "\n")
