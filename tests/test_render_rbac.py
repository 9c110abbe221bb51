"""ClusterRole rules of a custom-named kube-scheduler, per Kubernetes minor.

Expected facts come from the `system:kube-scheduler` ClusterRole in
plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go at v1.29.15 ...
v1.36.3, v1.37.2 and the default feature gates of each release.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.render.rbac import scheduler_cluster_role_rules
from components.render.versions import SUPPORTED_MINORS, KubeVersion

LEASE = "custom-k8s-scheduler"
MINORS = range(SUPPORTED_MINORS[0], SUPPORTED_MINORS[1] + 1)


def _rules(minor: int, lease: str = LEASE) -> list[dict[str, Any]]:
    return scheduler_cluster_role_rules(KubeVersion(1, minor, 0), lease)


def allows(
    rules: list[dict[str, Any]], group: str, resource: str, verb: str, name: str | None = None
) -> bool:
    """RBAC semantics: does any rule allow `verb` on `group`/`resource` (object `name`)?"""
    for rule in rules:
        if group not in rule["apiGroups"] or resource not in rule["resources"]:
            continue
        if verb not in rule["verbs"]:
            continue
        names = rule.get("resourceNames")
        if names is None or (name is not None and name in names):
            return True
    return False


# (group, resource, verb, first minor it is needed, last minor or None)
PERMISSIONS = [
    ("", "nodes", "watch", 29, None),
    ("", "pods", "delete", 29, None),  # preemption
    ("", "pods/binding", "create", 29, None),
    ("", "pods/status", "patch", 29, None),
    ("", "namespaces", "list", 29, None),
    ("", "services", "list", 29, None),
    ("", "replicationcontrollers", "list", 29, None),
    ("apps", "replicasets", "list", 29, None),
    ("apps", "statefulsets", "list", 29, None),
    ("policy", "poddisruptionbudgets", "list", 29, None),
    ("", "persistentvolumes", "list", 29, None),
    ("", "persistentvolumeclaims", "list", 29, None),
    ("storage.k8s.io", "csinodes", "watch", 29, None),
    ("storage.k8s.io", "csidrivers", "watch", 29, None),
    ("storage.k8s.io", "csistoragecapacities", "watch", 29, None),
    ("authentication.k8s.io", "tokenreviews", "create", 29, None),
    ("authorization.k8s.io", "subjectaccessreviews", "create", 29, None),
    ("", "events", "create", 29, None),
    ("events.k8s.io", "events", "patch", 29, None),
    ("storage.k8s.io", "volumeattachments", "watch", 32, None),  # added in 1.32
    # DRA: GA and on by default in 1.34 (beta, off by default in 1.32/1.33).
    ("resource.k8s.io", "deviceclasses", "watch", 34, None),
    ("resource.k8s.io", "resourceslices", "watch", 34, None),
    ("resource.k8s.io", "resourceclaims", "update", 34, None),
    ("resource.k8s.io", "resourceclaims/status", "patch", 34, None),
    ("", "pods/finalizers", "update", 34, None),
    # 1.36: DRAExtendedResource and granular claim status authz on by default.
    ("resource.k8s.io", "resourceclaims", "create", 36, None),
    ("resource.k8s.io", "resourceclaims", "delete", 36, None),
    ("resource.k8s.io", "resourceclaims/binding", "update", 36, None),
    # Older DRA API, never on by default in a supported minor.
    ("resource.k8s.io", "podschedulingcontexts", "get", 99, None),
    ("resource.k8s.io", "resourceclasses", "get", 99, None),
    # CoordinatedLeaderElection is off by default through 1.37.
    ("coordination.k8s.io", "leasecandidates", "create", 99, None),
    # DRADeviceTaintRules: GA and on by default in 1.37 (the 1.37 scheduler watches them).
    ("resource.k8s.io", "devicetaintrules", "list", 37, None),
    ("resource.k8s.io", "devicetaintrules", "watch", 37, None),
    # system:volume-scheduler's, bound separately.
    ("storage.k8s.io", "storageclasses", "list", 99, None),
    ("", "persistentvolumes", "update", 99, None),
]


@pytest.mark.parametrize("minor", MINORS, ids=lambda m: f"1.{m}")
@pytest.mark.parametrize(
    ("group", "resource", "verb", "first", "last"),
    PERMISSIONS,
    ids=[f"{verb}-{resource}" for _g, resource, verb, _f, _l in PERMISSIONS],
)
def test_permission_by_version(
    minor: int, group: str, resource: str, verb: str, first: int, last: int | None
) -> None:
    expected = first <= minor and (last is None or minor <= last)
    assert allows(_rules(minor), group, resource, verb) is expected


# What a 1.34 scheduler watches (lab notes); storageclasses come from
# system:volume-scheduler, which the component binds as well.
WATCHED_134 = [
    ("", "pods"), ("", "nodes"), ("", "namespaces"), ("", "services"),
    ("", "replicationcontrollers"), ("apps", "replicasets"), ("apps", "statefulsets"),
    ("policy", "poddisruptionbudgets"), ("", "persistentvolumes"),
    ("", "persistentvolumeclaims"), ("storage.k8s.io", "csinodes"),
    ("storage.k8s.io", "csidrivers"), ("storage.k8s.io", "csistoragecapacities"),
    ("storage.k8s.io", "volumeattachments"), ("resource.k8s.io", "resourceclaims"),
    ("resource.k8s.io", "resourceslices"), ("resource.k8s.io", "deviceclasses"),
]  # fmt: skip


@pytest.mark.parametrize(("group", "resource"), WATCHED_134, ids=[r for _, r in WATCHED_134])
def test_134_can_list_and_watch_every_informer(group: str, resource: str) -> None:
    rules = _rules(34)
    assert allows(rules, group, resource, "list")
    assert allows(rules, group, resource, "watch")


@pytest.mark.parametrize("minor", MINORS, ids=lambda m: f"1.{m}")
def test_lease_rules_name_the_given_lease(minor: int) -> None:
    rules = _rules(minor)
    lease = ("coordination.k8s.io", "leases")
    # create cannot be restricted by name, so it has none.
    assert allows(rules, *lease, "create")
    for verb in ("get", "update"):
        assert allows(rules, *lease, verb, name=LEASE)
        # The custom-scheduler guide named kube-scheduler here (docs/sources.md#defect-lease-rbac).
        assert not allows(rules, *lease, verb, name="kube-scheduler")
        assert not allows(rules, *lease, verb)  # not on every lease
    assert not allows(rules, *lease, "delete", name=LEASE)


@pytest.mark.parametrize("minor", MINORS, ids=lambda m: f"1.{m}")
def test_only_lease_rules_carry_names(minor: int) -> None:
    named = [rule for rule in _rules(minor) if "resourceNames" in rule]
    assert named and all(rule["resources"] == ["leases"] for rule in named)
    assert all(rule["resourceNames"] == [LEASE] for rule in named)


@pytest.mark.parametrize("minor", MINORS, ids=lambda m: f"1.{m}")
def test_no_wildcards(minor: int) -> None:
    for rule in _rules(minor):
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert all("*" not in item for item in rule.get(field, [])), rule
        assert rule["verbs"] and rule["resources"]
        assert set(rule) <= {"apiGroups", "resources", "verbs", "resourceNames"}


@pytest.mark.parametrize("minor", MINORS, ids=lambda m: f"1.{m}")
def test_events_in_both_groups(minor: int) -> None:
    rules = _rules(minor)
    for group in ("", "events.k8s.io"):
        for verb in ("create", "patch", "update"):
            assert allows(rules, group, "events", verb)


def test_default_lease_name_for_masters() -> None:
    assert allows(_rules(34, "kube-scheduler"), "coordination.k8s.io", "leases", "update",
                  name="kube-scheduler")  # fmt: skip


def test_deterministic_and_fresh() -> None:
    first = _rules(34)
    first[0]["verbs"].append("delete")  # callers may mutate their copy
    assert _rules(34) != first
    assert _rules(34) == _rules(34)


@pytest.mark.parametrize("lease", ["", "Kube_Scheduler", "a" * 254])
def test_rejects_bad_lease_name(lease: str) -> None:
    with pytest.raises(ValueError, match="lease_name must be a DNS subdomain"):
        _rules(34, lease)
