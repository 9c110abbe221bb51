"""Local test lab for the kube-scheduler project (python3 stdlib only).

    lab/lab.sh up | down | status

What `up` brings up (all state under <repo>/.lab, git-ignored):
  * bridge ksched0 with 10.231.0.1/24 on this machine;
  * etcd on 127.0.0.1:23790 (data in .lab/etcd);
  * kube-apiserver serving https://10.231.0.1:6443 (TLS, client certs signed by
    the lab CA, Node,RBAC, service accounts);
  * kube-controller-manager (own client cert, --use-service-account-credentials,
    leader election); NO kube-scheduler: the project deploys schedulers;
  * KWOK as the fake kubelet of worker-1..4: it creates the node leases
    (heartbeats) so the node lifecycle controller keeps the nodes Ready and
    removes the node.kubernetes.io/not-ready taint, and it moves pods bound to
    those nodes to Running/Ready (so Deployments become Available);
  * filler pods in namespace lab-filler, bound with spec.nodeName, so that
    worker-1..3 have different allocations (see FILLERS below);
  * master-1..3: Debian bookworm systemd hosts booted with systemd-nspawn on an
    overlay of the cached rootfs, sshd with the lab key at 10.231.0.11..13.

`down` stops all of it and removes the bridge, overlays, mounts, the etcd data
and the masters' writable layers (each `up` starts from a fresh cluster and
fresh masters). It KEEPS .lab/pki (CA, certificates, admin.kubeconfig),
.lab/ssh (lab SSH key), .lab/hosts (per-master SSH host keys and machine-ids)
and .lab/facts.json, so pins such as known_hosts and the CA stay valid across
down/up. Delete .lab to start over completely.
"""
