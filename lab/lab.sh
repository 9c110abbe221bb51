#!/usr/bin/env bash
# Local test lab: a real (secure) Kubernetes control plane without a scheduler,
# KWOK-driven worker nodes, and three systemd "bare-metal" masters in
# systemd-nspawn containers reachable over SSH. See lab/README.md.
#
#   lab/lab.sh up       build/reuse binaries + rootfs, start everything (no-op when healthy)
#   lab/lab.sh down     stop everything the lab started; keeps caches, .lab/pki, .lab/ssh, .lab/hosts
#   lab/lab.sh status   API server, nodes, masters
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 "$here/lab.py" "$@"
