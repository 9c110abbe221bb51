"""Ownership of cluster objects, held by the program itself (the 4.25 Kubernetes provider upserts
on create and deletes by name):

- before anything is created (`preflight_problems`, at preview and up): an object with a name ours
  would have that exists and is not this stack's is refused, naming it, its kind and the key;
- before anything is deleted (`OwnershipGuard`, one per object): an object that no longer carries
  this stack's ownership fails the delete instead of being removed.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

from components.config import Problem
from components.render.cluster_objects import ObjectRef, not_ours
from plumbing.kube_api import ApiError, KubeClient, UnsupportedCredentialsError, ambient_kubeconfig


def client_for(kubeconfig: str | None, base: Path | None = None) -> KubeClient | None:
    """A client from the stack's kubeconfig, or the ambient one; None when there is none."""
    if kubeconfig is None:
        ambient = ambient_kubeconfig()
        if ambient is None:
            return None
        kubeconfig, base = ambient
    return KubeClient.from_kubeconfig(kubeconfig, base)


def preflight_problems(
    refs: list[ObjectRef], owner: str, key: str, value: str, client: KubeClient
) -> tuple[list[Problem], list[str]]:
    """(problems, warnings): every object of `refs` that exists and is not `owner`'s is a problem
    naming `key`; an API server that cannot be asked is a warning (the provider fails then too)."""
    problems: list[Problem] = []
    for ref in refs:
        try:
            live = client.get(ref.api_path)
        except (OSError, ApiError) as e:
            return [], [f"could not read {ref} from {client.server} ({e}): ownership not checked"]
        why = not_ours(ref, live, owner)
        if why:
            problems.append(
                Problem(
                    key,
                    f"{value!r} would take over {why}; nothing was changed. Choose another name, "
                    "or remove that object if nothing needs it (README: what the stack owns)",
                )
            )
    return problems, []


class _GuardProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=uuid.uuid4().hex, outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("kind", "namespace", "name", "owner", "uid", "object_urn", "kubeconfig")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        replaces = [k for k in changed if k in ("kind", "namespace", "name", "uid")]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        ref = ObjectRef(props["kind"], props["namespace"], props["name"])
        try:
            client = client_for(props.get("kubeconfig"))
        except UnsupportedCredentialsError:
            return  # credentials from a plugin: the provider's own delete decides
        if client is None:
            return
        why = not_ours(ref, client.get(ref.api_path), props["owner"])
        if why:
            raise RuntimeError(
                f"refusing to delete {why}. This stack deletes only its own objects; to let it go "
                f"without deleting it: pulumi state delete '{props['object_urn']}' --target-dependents"
            )


class OwnershipGuard(Resource):
    """Deleted just before the object it guards (it depends on it): checks the object is still
    this stack's, else fails that delete."""

    def __init__(
        self,
        name: str,
        ref: ObjectRef,
        owner: str,
        guarded: pulumi.CustomResource,
        kubeconfig: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions,
    ) -> None:
        meta = guarded.metadata  # type: ignore[attr-defined]
        super().__init__(
            _GuardProvider(),
            name,
            {
                "kind": ref.kind,
                "namespace": ref.namespace,
                "name": ref.name,
                "owner": owner,
                "uid": meta.apply(lambda m: (m or {}).get("uid") if isinstance(m, dict) else m.uid),
                "object_urn": guarded.urn,
                "kubeconfig": pulumi.Output.secret(kubeconfig) if kubeconfig is not None else None,
            },
            pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[guarded], additional_secret_outputs=["kubeconfig"])
            ),
        )
