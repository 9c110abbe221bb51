"""A second, custom kube-scheduler running inside the cluster: the objects of
components/render/cluster.py, created with the parent's Kubernetes provider, each guarded so that
it is deleted only while it is still this stack's (components/ownership.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.backend import CertificateRequest, Signer
from components.config import InCluster
from components.kube_objects import create_owned
from components.render.cluster import manifests, serving_name
from components.render.versions import KubeVersion

# What each object waits for: pods start only once their identity, permissions, config and serving
# certificate exist; a binding after its role; the sample pod once its scheduler runs.
_AFTER = {
    "binding": ("role",),
    "deployment": ("sa", "config", "binding", "volume-binding", "auth-reader", "serving-cert"),
    "sample": ("deployment",),
}
# The replicas' serving certificate: server auth only.
SERVING_USES = ["digital_signature", "key_encipherment", "server_auth"]


@dataclass(frozen=True)
class InClusterSchedulerArgs:
    settings: InCluster
    kubernetes_version: KubeVersion
    image: str
    owner: str  # "<project>/<stack>", written on every object (cluster_objects.OWNER_ANNOTATION)
    kubeconfig: str | None = None  # the provider's (None: ambient); the guards read with it
    guard: bool = True  # False in render mode: no cluster to read
    # Monitoring: the replicas serve a certificate this signer issues for their metrics Service's
    # name, which a scraper verifies (instead of one they make up at each start).
    serving: Signer | None = None


class InClusterScheduler(pulumi.ComponentResource):
    """RBAC, ConfigMap, Deployment, PDB and an optional sample pod, on the parent's provider; with
    monitoring, the serving certificate's Secret and the metrics Service too."""

    scheduler_name: pulumi.Output[str]
    lease: pulumi.Output[str]

    def __init__(
        self, name: str, args: InClusterSchedulerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kube-scheduler:incluster:InClusterScheduler", name, None, opts)
        ic = args.settings
        serving = None
        if args.serving is not None:
            request = CertificateRequest(serving_name(ic), None, [serving_name(ic)], [], SERVING_USES)
            issued = args.serving.issue(f"{name}-serving", request, pulumi.ResourceOptions(parent=self))
            serving = {"tls.crt": issued.cert_pem, "tls.key": issued.private_key_pem}
        objects = manifests(ic, args.kubernetes_version, args.image, args.owner, serving)
        create_owned(name, objects, _AFTER, args.owner, args.kubeconfig, args.guard, self)
        self.scheduler_name = pulumi.Output.from_input(ic.scheduler_name)
        self.lease = pulumi.Output.from_input(f"{ic.namespace}/{ic.scheduler_name}")
        self.register_outputs({"scheduler_name": self.scheduler_name, "lease": self.lease})
