"""The table of objects Kubernetes creates (components/render/upstream_objects.json): complete for
every supported minor, `collisions` right on inputs built from the table itself, and (toolchain)
equal to what tools/upstream reads from each version's source now, so a drifted table fails."""

from __future__ import annotations

import json
import os

import pytest

from components.render.names import is_dns_label
from components.render.upstream_objects import ANY_NAMESPACE, Object, collisions, upstream_objects
from components.render.versions import SUPPORTED_MINORS, KubeVersion, parse_kube_version
from scripts.upstream_objects import TABLE, dump, minor_key, newest_patches, rows
from tests.scheduler_binary import NEWEST_PATCH, upstream_facts

_LOW, _HIGH = SUPPORTED_MINORS
MINORS = range(_LOW, _HIGH + 1)


def _v(minor: int) -> KubeVersion:
    return KubeVersion(1, minor, 0)


def _pick(minor: int, kind: str, namespace: str | None = None) -> Object:
    """A row of the table of `kind` (in `namespace` when given) whose name is a DNS label, so it is
    a name a user could choose for the scheduler."""
    for obj in sorted(upstream_objects(_v(minor))):
        if obj[0] == kind and (namespace is None or obj[1] == namespace) and is_dns_label(obj[2]):
            return obj
    raise AssertionError(f"no {kind} with a DNS-label name in the 1.{minor} table")


def _absent(minor: int, kind: str, namespace: str, stem: str) -> Object:
    """An object the table does not have at all, under any namespace."""
    theirs = upstream_objects(_v(minor))
    name = f"{stem}-not-upstream"
    assert not any(o[0] == kind and o[2] == name for o in theirs)
    return (kind, namespace, name)


@pytest.mark.parametrize("minor", MINORS)
def test_every_supported_minor_has_a_row(minor: int) -> None:
    objects = upstream_objects(_v(minor))
    kinds = {kind for kind, _ns, _name in objects}
    # what the in-cluster path makes, plus the control plane's own namespaces
    assert {"ClusterRole", "ClusterRoleBinding", "RoleBinding", "ServiceAccount", "ConfigMap"} <= kinds
    assert {"Lease", "Deployment", "Namespace"} <= kinds
    assert all(name for _kind, _ns, name in objects)


def test_the_table_has_exactly_the_supported_minors_and_is_deterministic() -> None:
    raw = json.loads(TABLE.read_text())
    assert set(raw) == {f"1.{m}" for m in MINORS}
    assert set(raw) == {minor_key(v) for v in NEWEST_PATCH.values()}
    assert newest_patches() == NEWEST_PATCH
    assert TABLE.read_text() == dump(raw), "not as scripts/upstream_objects.py writes it"
    for minor, body in raw.items():
        assert body == sorted(body) and len({tuple(r) for r in body}) == len(body), minor


def test_the_table_for_another_minor_is_refused() -> None:
    with pytest.raises(ValueError, match=rf"no upstream object table for 1\.{_LOW - 1}\b"):
        upstream_objects(KubeVersion(1, _LOW - 1, 0))


@pytest.mark.parametrize("minor", [_LOW, _HIGH])
def test_a_cluster_role_of_upstream_collides_and_a_new_one_does_not(minor: int) -> None:
    role = _pick(minor, "ClusterRole")
    fresh = _absent(minor, "ClusterRole", "", role[2])
    assert collisions(_v(minor), [fresh, role, fresh, role]) == [role]
    # the same name as another kind is not the same object
    assert collisions(_v(minor), [("PodDisruptionBudget", "kube-system", role[2])]) == []


@pytest.mark.parametrize("minor", [_LOW, _HIGH])
def test_a_namespaced_object_collides_only_in_its_namespace(minor: int) -> None:
    account = _pick(minor, "ServiceAccount", "kube-system")
    kind, namespace, name = account
    assert collisions(_v(minor), [account]) == [account]
    elsewhere = (kind, "not-" + namespace, name)
    if (kind, ANY_NAMESPACE, name) not in upstream_objects(_v(minor)):
        assert collisions(_v(minor), [elsewhere]) == []


@pytest.mark.parametrize("minor", [_LOW, _HIGH])
def test_an_object_in_every_namespace_collides_in_any(minor: int) -> None:
    everywhere = [o for o in upstream_objects(_v(minor)) if o[1] == ANY_NAMESPACE]
    assert {o[0] for o in everywhere} >= {"ConfigMap", "ServiceAccount"}
    for kind, _any, name in everywhere:
        for ns in ("default", "kube-system", "team-a"):
            assert collisions(_v(minor), [(kind, ns, name)]) == [(kind, ns, name)]
        # a cluster-scoped object of that name is another object
        assert collisions(_v(minor), [(kind, "", name)]) == []


@pytest.mark.parametrize("minor", [_LOW, _HIGH])
def test_the_lease_a_scheduler_takes_collides_with_a_control_plane_lock(minor: int) -> None:
    lease = _pick(minor, "Lease", "kube-system")
    kind, namespace, name = lease
    # the lock is taken at run time, not made by the stack, and still counts
    ours: list[Object] = [_absent(minor, "Deployment", namespace, name), lease]
    assert collisions(_v(minor), ours) == [lease]
    if (kind, "team-a", name) not in upstream_objects(_v(minor)):
        assert collisions(_v(minor), [(kind, "team-a", name)]) == []


def test_every_control_plane_lock_is_refused() -> None:
    for minor in MINORS:
        leases = sorted(o for o in upstream_objects(_v(minor)) if o[0] == "Lease")
        assert leases and all(ns == "kube-system" for _k, ns, _n in leases), minor
        assert collisions(_v(minor), leases) == leases


_ALL = sorted(NEWEST_PATCH.values(), key=parse_kube_version)
VERSIONS = _ALL if os.environ.get("KSCHED_MATRIX") == "all" else [_ALL[0], _ALL[-1]]


@pytest.mark.toolchain
@pytest.mark.parametrize("version", VERSIONS)
def test_the_table_is_what_upstream_creates_now(version: str) -> None:
    printed = rows(upstream_facts(version))
    committed = json.loads(TABLE.read_text())[minor_key(version)]
    missing = [r for r in printed if r not in committed]
    extra = [r for r in committed if r not in printed]
    assert (missing, extra) == ([], []), (
        f"components/render/upstream_objects.json differs from upstream {version}: "
        "regenerate with .venv/bin/python scripts/upstream_objects.py"
    )
