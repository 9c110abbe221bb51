"""Objects Kubernetes itself creates, per minor, so a scheduler name that would make `pulumi up`
overwrite one of them is refused at preview.

The table (upstream_objects.json beside this module) is generated, not written by hand:
scripts/upstream_objects.py runs tools/upstream built against each supported version's
k8s.io/kubernetes, which reads the bootstrap RBAC policy
(plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go, controller_policy.go,
namespace_policy.go), the control-plane components' leader-election locks
(pkg/scheduler/apis/config/v1/defaults.go, the leases policy.go reserves by name), the ConfigMaps
and ServiceAccounts the control plane publishes
(pkg/controller/certificates/rootcacertpublisher/publisher.go,
pkg/controller/serviceaccount/serviceaccounts_controller.go,
pkg/controlplane/controller/legacytokentracking/controller.go) and what kubeadm creates
(cmd/kubeadm/app/constants/constants.go, cmd/kubeadm/app/phases/addons/{dns,proxy}/manifests.go).
tests/test_upstream_objects.py fails when the table and upstream drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from components.render.versions import KubeVersion

_TABLE = Path(__file__).with_name("upstream_objects.json")

# Namespace of an object upstream creates in every namespace (kube-root-ca.crt, the default
# ServiceAccount): it collides with ours whatever namespace ours is in.
ANY_NAMESPACE = "*"

Object = tuple[str, str, str]  # (kind, namespace, name); namespace "" when cluster-scoped


@cache
def _table() -> dict[str, frozenset[Object]]:
    raw: dict[str, list[list[str]]] = json.loads(_TABLE.read_text())
    return {minor: frozenset((kind, ns, name) for kind, ns, name in rows) for minor, rows in raw.items()}


def upstream_objects(version: KubeVersion) -> frozenset[Object]:
    """What the control plane and kubeadm of `version`'s minor create, by (kind, namespace, name)."""
    key = f"{version.major}.{version.minor}"
    try:
        return _table()[key]
    except KeyError:
        raise ValueError(
            f"no upstream object table for {key}: regenerate with scripts/upstream_objects.py"
        ) from None


def collisions(version: KubeVersion, ours: Iterable[Object]) -> list[Object]:
    """Those of `ours` that Kubernetes of `version` creates too, in the order given, once each.

    Pass every object the stack makes and every one its pods take at run time, notably the
    scheduler's leader-election Lease (a clash there means two components fight over one lock, not
    an overwrite). For a generated name (the ConfigMap S-config-<hash>) pass its fixed stem
    (S-config): the stem is what a user's choice of S decides.
    """
    theirs = upstream_objects(version)
    out: list[Object] = []
    for obj in ours:
        kind, namespace, name = obj
        clash = obj in theirs or (namespace != "" and (kind, ANY_NAMESPACE, name) in theirs)
        if clash and obj not in out:
            out.append(obj)
    return out
