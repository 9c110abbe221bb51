"""The local test lab (python3 standard library only, and plumbing/), one module per part:

    settings       versions, addresses, machines, where state and binaries live
    util           processes, files, HTTP, kubectl, SSH
    prereq         Debian tools; lab/build.sh (binaries) and lab/rootfs.sh (the machines' rootfs)
    pki            the CA, certificates, kubeconfigs, SSH keys and pinned host keys
    control_plane  bridge, etcd, kube-apiserver, kube-controller-manager, KWOK and its nodes
    machines       nspawn machines with their own disks; masters: the "bare-metal" hosts
    images         OCI archives of the lab's kube-scheduler and pause, for the nodes' containerd
    nodes          real kubelet nodes (node_config: their files; node_teardown: stopping them)
    facts          facts.json, what the project and the tests read
    status, teardown, cli
    state_store*   an S3-compatible store for Pulumi state (SeaweedFS) for team use (docs/team.md)
    prometheus*    Prometheus on the stack's monitoring files (prometheus_build: the pinned build)

State lives in <repo>/.lab (KSCHED_LAB_DIR), binaries and the rootfs in the cache (KSCHED_CACHE).
What each command does and keeps: lab/README.md.
"""
