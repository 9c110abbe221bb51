#!/usr/bin/env bash
# The local test lab: a secure Kubernetes control plane without a scheduler, three systemd
# "bare-metal" masters, real kubelet nodes and KWOK nodes. `lab/lab.sh` alone lists the commands;
# see lab/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 "$here/lab.py" "$@"
