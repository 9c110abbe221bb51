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


# ----------------------------------------------------------------------- PKI
def openssl(*args, input=None):
    return run(["openssl", *args], input=input)


def ensure_ca():
    PKI.mkdir(parents=True, exist_ok=True)
    os.chmod(PKI, 0o700)
    if (PKI / "ca.crt").exists() and (PKI / "ca.key").exists():
        return
    log("creating lab CA (.lab/pki/ca.crt)")
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


def ensure_cert(name, subj, server_sans=None, client=True):
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


def kubeconfig(path, user, crt, key, server=API_URL):
    import base64

    def b64(p):
        return base64.b64encode(Path(p).read_bytes()).decode()

    # JSON is valid YAML: no PyYAML needed
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {
                "name": "ksched-lab",
                "cluster": {"server": server, "certificate-authority-data": b64(PKI / "ca.crt")},
            }
        ],
        "users": [{"name": user, "user": {"client-certificate-data": b64(crt), "client-key-data": b64(key)}}],
        "contexts": [{"name": "ksched-lab", "context": {"cluster": "ksched-lab", "user": user}}],
        "current-context": "ksched-lab",
    }
    write(path, json.dumps(cfg, indent=2) + "\n", mode=0o600)


def ensure_pki():
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
    kubeconfig(ADMIN_KUBECONFIG, "ksched-lab-admin", PKI / "admin.crt", PKI / "admin.key")
    kubeconfig(
        RUN / "kube-controller-manager.kubeconfig",
        "system:kube-controller-manager",
        PKI / "kube-controller-manager.crt",
        PKI / "kube-controller-manager.key",
    )
    kubeconfig(RUN / "kwok.kubeconfig", "ksched-lab-kwok", PKI / "kwok.crt", PKI / "kwok.key")
    # kubectl logs/exec: the API server's client certificate towards the kubelets
    ensure_cert("apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client")
    # real nodes: the kubelet's identity (Node authorizer) and serving certificate, kube-proxy's
    ensure_cert("kube-proxy", "/CN=system:kube-proxy")
    for name, ip, _ in NODES:
        ensure_cert(f"{name}-kubelet", f"/O=system:nodes/CN=system:node:{name}")
        ensure_cert(f"{name}-serving", f"/CN={name}", server_sans=[f"IP:{ip}", f"DNS:{name}"], client=False)


# ----------------------------------------------------------------------- SSH
def ensure_ssh_keys():
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
        kt, kb = (d / "ssh_host_ed25519_key.pub").read_text().split()[:2]
        lines.append(f"{name},{ip} {kt} {kb}")
    write(KNOWN_HOSTS, "\n".join(lines) + "\n")
