#!/usr/bin/env bash
# Builds tools/upstream (see its main.go) against k8s.io/kubernetes VERSION, in the wrapper module
# lab/build.sh generates for that version (it builds that version's kube-scheduler first), and
# prints the path of the binary. Cached by version and source: a second run builds nothing.
#
#   scripts/k8s-upstream.sh v1.37.2
set -euo pipefail
VERSION="${1:?usage: scripts/k8s-upstream.sh vMAJOR.MINOR.PATCH}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KSCHED_CACHE="${KSCHED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksched}"
K8S_DIR="$KSCHED_CACHE/k8s/$VERSION"
OUT="$K8S_DIR/bin/ksched-upstream"
KEY="$(sha256sum "$REPO/tools/upstream/main.go" | cut -d' ' -f1)"
if [[ -x "$OUT" && -f "$OUT.stamp" && "$(cat "$OUT.stamp")" == "$KEY" ]]; then
    echo "$OUT"
    exit 0
fi
K8S_VERSION="$VERSION" KSCHED_CACHE="$KSCHED_CACHE" bash "$REPO/lab/build.sh" kube-scheduler >&2
export GOMODCACHE="$KSCHED_CACHE/go/mod" GOCACHE="$KSCHED_CACHE/go/build" GOTOOLCHAIN=local
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
mkdir -p "$K8S_DIR/src/upstream"
install -m 0644 "$REPO/tools/upstream/main.go" "$K8S_DIR/src/upstream/main.go"
(cd "$K8S_DIR/src" && go build -trimpath -tags selinux,notest -o "$OUT.tmp" ./upstream) >&2
mv -f "$OUT.tmp" "$OUT"
echo "$KEY" >"$OUT.stamp"
echo "$OUT"
