"""The checks of the kube-scheduler policy pack, as pure functions of resource properties.

Properties arrive as the engine sends them to an analyzer (`google.protobuf.Struct` as JSON):
secret values wrapped in `{SIG_KEY: SECRET_SIG, "value": ...}`, unknown preview values as sentinel
strings (plumbing/pulumi_wire.py). `decode` turns that into plain data with `Secret` wrappers kept,
so every rule can tell whether a value is a secret (pulumi-policy's own `args.props` has already
dropped that bit).

Nothing here imports pulumi-policy, only the standard library and plumbing/ (the repository root
is on sys.path: __main__.py puts it there), so the rules are tested directly from the project's venv.
Every check returns violation messages; a value that is unknown during preview is skipped (it is
checked again at `up`, when it is known).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from plumbing.pulumi_wire import DYNAMIC_TYPE as DYNAMIC_TYPE
from plumbing.pulumi_wire import PROVIDER_TYPE_PREFIX, UNKNOWNS, is_secret

# Policy names (what a failing preview prints).
KEY_MATERIAL = "key-material-must-be-secret"
KEY_MATERIAL_OUTPUTS = "key-material-outputs-must-be-secret"
SSH_HOST_KEY = "ssh-host-key-must-be-pinned"
POD_SECURITY = "pod-security-restricted"
RBAC_WILDCARDS = "rbac-no-wildcards"

DEV_STACK = "dev"

COMMAND_TYPES = frozenset({"command:remote:Command", "command:local:Command"})
# Python dynamic providers (DYNAMIC_TYPE, this project's `resourceBackend: builtin`): SSH commands
# and uploads carry a snake_case `connection` ({host, port, user, private_key, host_key}).
REMOTE_TYPES = frozenset({"command:remote:Command", "command:remote:CopyToRemote", "command:remote:CopyFile"})
TLS_KEY_OUTPUTS: Mapping[str, tuple[str, ...]] = {
    "tls:index/privateKey:PrivateKey": ("privateKeyPem", "privateKeyOpenssh", "privateKeyPemPkcs8"),
}
CONFIG_MAP_TYPES = frozenset({"kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:ConfigMapPatch"})
# Where the pod spec sits in each workload kind.
POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
RBAC_TYPES = frozenset(
    {"kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "kubernetes:rbac.authorization.k8s.io/v1:Role"}
)
RBAC_FIELDS = ("apiGroups", "resources", "verbs", "resourceNames")
# Pod Security Standards, "restricted" profile (v1.25+).
ALLOWED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
ALLOWED_SECCOMP = frozenset({"RuntimeDefault", "Localhost"})

_PEM_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_KUBECONFIG_KEY = re.compile(r"""client-key-data["']?\s*:\s*["']?[A-Za-z0-9+/=]{16,}""")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")


@dataclass(frozen=True)
class Secret:
    """A value the engine marked secret."""

    value: Any


def decode(raw: Any) -> Any:
    """Wire JSON -> plain data, secrets as `Secret`, unknowns as their sentinel strings."""
    if isinstance(raw, list):
        return [decode(v) for v in raw]
    if isinstance(raw, dict):
        if is_secret(raw):
            return Secret(decode(raw.get("value")))
        return {k: decode(v) for k, v in raw.items()}
    return raw


def reveal(value: Any) -> Any:
    """The value with every `Secret` wrapper removed."""
    if isinstance(value, Secret):
        return reveal(value.value)
    if isinstance(value, list):
        return [reveal(v) for v in value]
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    return value


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWNS


def get(value: Any, *path: str) -> Any:
    """value[path...] through secrets; None when absent; the sentinel when unknown on the way."""
    for key in path:
        while isinstance(value, Secret):
            value = value.value
        if is_unknown(value):
            return value
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    while isinstance(value, Secret):
        value = value.value
    return value


def has_key_material(text: str) -> bool:
    """A PEM private key or a kubeconfig client key, also when base64-encoded (Secret `data`)."""
    if _PEM_PRIVATE_KEY.search(text) or _KUBECONFIG_KEY.search(text):
        return True
    for match in _BASE64.finditer(text):
        try:
            decoded = base64.b64decode(match.group(0), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
        if _PEM_PRIVATE_KEY.search(decoded) or _KUBECONFIG_KEY.search(decoded):
            return True
    return False


def _strings(value: Any, path: str, secret: bool = False) -> Iterator[tuple[str, str, bool]]:
    """(path, text, is_secret) for every known string below value; secretness is inherited."""
    if isinstance(value, Secret):
        yield from _strings(value.value, path, True)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k), secret)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]", secret)
    elif isinstance(value, str) and not is_unknown(value):
        yield path, value, secret


def plaintext_key_material(value: Any, path: str = "") -> list[str]:
    """Paths below value whose string holds key material and is not (inside) a secret."""
    return [p for p, text, secret in _strings(value, path) if not secret and has_key_material(text)]


# ---- key material must be secret (resource inputs) --------------------------------------------


def key_material_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Inputs of any resource: key material must be a secret; ConfigMaps must hold none at all."""
    out: list[str] = []
    if resource_type in CONFIG_MAP_TYPES:
        for field in ("data", "binaryData"):
            for p, text, _ in _strings(props.get(field), field):
                if has_key_material(text):
                    out.append(
                        f"ConfigMap {p} holds a private key or kubeconfig credentials: ConfigMaps are "
                        "stored and served unencrypted, put it in a Secret"
                    )
    for p in plaintext_key_material(_own(props)):
        out.append(
            f"{p} holds a private key or kubeconfig credentials but is not a secret: wrap it in "
            "pulumi.Output.secret() (or take it from secret config)"
        )
    if _is_remote(resource_type, props):
        for p, text, secret in _strings(props.get("connection"), "connection"):
            if text and not secret and p.rsplit(".", 1)[-1] in _CREDENTIAL_FIELDS:
                out.append(f"{p} is set but not a secret")
    return sorted(set(out))


_CREDENTIAL_FIELDS = frozenset(
    {"privateKey", "password", "privateKeyPassword", "private_key", "private_key_password"}
)


def _own(props: Mapping[str, Any]) -> dict[str, Any]:
    """props without engine/SDK internals (`__provider`: a dynamic provider's pickled code)."""
    return {k: v for k, v in props.items() if not k.startswith("__")}


def _is_remote(resource_type: str, props: Mapping[str, Any]) -> bool:
    if resource_type in REMOTE_TYPES:
        return True
    conn = get(props, "connection")
    return resource_type == DYNAMIC_TYPE and isinstance(conn, dict) and "host" in conn


# ---- key material must be secret (resource outputs, stack validation) -------------------------

# Outputs that only echo inputs (checked by the resource rule) or are k8s objects (same).
_ECHOED_OUTPUTS: Mapping[str, frozenset[str]] = {
    t: frozenset({"stdin", "create", "update", "delete", "environment", "connection", "triggers"})
    for t in COMMAND_TYPES | REMOTE_TYPES | {DYNAMIC_TYPE}
}


def output_key_material_violations(resource_type: str, outputs: Mapping[str, Any]) -> list[str]:
    """Outputs the provider computed (tls keys, command stdout, stack exports) must be secret."""
    if resource_type.startswith("kubernetes:") or resource_type.startswith(PROVIDER_TYPE_PREFIX):
        return []
    skip = _ECHOED_OUTPUTS.get(resource_type, frozenset())
    out: list[str] = []
    for field in TLS_KEY_OUTPUTS.get(resource_type, ()):
        v = outputs.get(field)
        if isinstance(v, str) and v and not is_unknown(v):
            out.append(f"output {field} of {resource_type} is not a secret")
    for field, value in _own(outputs).items():
        if field in skip:
            continue
        for p in plaintext_key_material(value, field):
            out.append(f"output {p} holds a private key or kubeconfig credentials but is not a secret")
    return sorted(set(out))


# ---- SSH host keys pinned outside dev ------------------------------------------------------------


def ssh_host_key_violations(resource_type: str, props: Mapping[str, Any], stack: str | None) -> list[str]:
    if stack == DEV_STACK or not _is_remote(resource_type, props):
        return []
    out: list[str] = []
    where = f"stack {stack!r}" if stack else "a stack other than dev (stack name unknown)"
    for label, conn in (
        ("connection", get(props, "connection")),
        ("connection.proxy", get(props, "connection", "proxy")),
    ):
        if conn is None or is_unknown(conn) or not isinstance(conn, dict):
            continue
        host_key = get(conn, "hostKey") if "hostKey" in conn else get(conn, "host_key")
        if is_unknown(host_key):
            continue
        if not host_key:
            host = reveal(conn.get("host"))
            out.append(
                f"{label} to {host!r} has no hostKey: SSH host-key checking is disabled on {where}; "
                "pin the key (bareMetal.hosts[].hostKey or hostKeyFile)"
            )
    return out


# ---- Pod Security Standards "restricted" ---------------------------------------------------------


def pod_security_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    path = POD_SPEC_PATHS.get(resource_type)
    if path is None:
        return []
    spec = get(props, *path)
    if spec is None or is_unknown(spec) or not isinstance(spec, dict):
        return []
    spec = reveal(spec)
    return check_pod_spec(spec)


def _true(v: Any) -> bool:
    return v is True


def check_pod_spec(spec: Mapping[str, Any]) -> list[str]:
    """Violations of the "restricted" Pod Security Standard in a (known) pod spec."""
    out: list[str] = []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if _true(spec.get(field)):
            out.append(f"{field} must not be true")
    for vol in spec.get("volumes") or []:
        if not isinstance(vol, dict):
            continue
        kinds = [k for k in vol if k != "name"]
        bad = [k for k in kinds if k not in ALLOWED_VOLUME_TYPES and not is_unknown(vol[k])]
        if bad:
            out.append(
                f"volume {vol.get('name')!r} uses {', '.join(sorted(bad))} (restricted allows only "
                f"{', '.join(sorted(ALLOWED_VOLUME_TYPES))})"
            )
    pod_sc = spec.get("securityContext") or {}
    pod_non_root = pod_sc.get("runAsNonRoot")
    pod_seccomp = get(pod_sc, "seccompProfile", "type")
    if pod_sc.get("runAsUser") == 0:
        out.append("securityContext.runAsUser must not be 0")
    if pod_seccomp is not None and pod_seccomp not in ALLOWED_SECCOMP:
        out.append(f"securityContext.seccompProfile.type {pod_seccomp!r} must be RuntimeDefault or Localhost")
    containers = [
        (kind, c)
        for kind in ("initContainers", "containers", "ephemeralContainers")
        for c in spec.get(kind) or []
        if isinstance(c, dict)
    ]
    if not containers:
        out.append("the pod spec has no containers")
    for kind, c in containers:
        name = f"{kind[:-1]} {c.get('name')!r}"
        sc = c.get("securityContext") or {}
        if _true(sc.get("privileged")):
            out.append(f"{name}: privileged must not be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name}: securityContext.allowPrivilegeEscalation must be false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"{name}: securityContext.capabilities.drop must contain ALL")
        added = [a for a in caps.get("add") or [] if a not in ALLOWED_ADDED_CAPABILITIES]
        if added:
            out.append(f"{name}: capabilities.add may only contain NET_BIND_SERVICE, not {', '.join(added)}")
        non_root = sc.get("runAsNonRoot")
        if non_root is False or (non_root is None and pod_non_root is not True):
            out.append(f"{name}: runAsNonRoot must be true (on the container or the pod)")
        if sc.get("runAsUser") == 0:
            out.append(f"{name}: runAsUser must not be 0")
        seccomp = get(sc, "seccompProfile", "type")
        if seccomp is not None and seccomp not in ALLOWED_SECCOMP:
            out.append(f"{name}: seccompProfile.type {seccomp!r} must be RuntimeDefault or Localhost")
        if seccomp is None and pod_seccomp is None:
            out.append(f"{name}: seccompProfile.type must be RuntimeDefault or Localhost (container or pod)")
        for port in c.get("ports") or []:
            if isinstance(port, dict) and port.get("hostPort"):
                out.append(f"{name}: hostPort {port['hostPort']} is not allowed")
    return out


# ---- RBAC wildcards -------------------------------------------------------------------------------


def rbac_wildcard_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type not in RBAC_TYPES:
        return []
    rules = get(props, "rules")
    if not isinstance(rules, list):
        return []
    out: list[str] = []
    for i, rule in enumerate(reveal(rules)):
        if not isinstance(rule, dict):
            continue
        for field in RBAC_FIELDS:
            values = rule.get(field) or []
            stars = [v for v in values if isinstance(v, str) and "*" in v]
            if stars:
                out.append(f"rules[{i}].{field} contains a wildcard: {', '.join(stars)}")
    return out
