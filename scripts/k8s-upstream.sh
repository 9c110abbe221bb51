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

# kubeadm's packages import staging modules kube-scheduler does not (k8s.io/kube-proxy for its
# config types), and the Go module proxy refuses a few of them at a supported patch
# (k8s.io/kube-proxy v0.31.13: 403). A module the build fails to fetch that way is replaced in the
# wrapper by the nearest patch of its minor the proxy lists (the newest older one, else the
# oldest newer one), said on stderr, and the build retried.
nearest_served() {  # MODULE VERSION
    local minor="${2%.*}" patch="${2##*.}"
    go list -m -versions "$1" | tr ' ' '\n' | awk -v m="$minor." -v p="$patch" '
        /^v[0-9]+\.[0-9]+\.[0-9]+$/ && index($0, m) == 1 {
            q = substr($0, length(m) + 1) + 0
            if (q < p && (below == "" || q > bq)) { below = $0; bq = q }
            if (q > p && (above == "" || q < aq)) { above = $0; aq = q }
        }
        END { print (below != "" ? below : above) }'
}
build_tool() {
    local attempt log refused mod ver alt
    log=$(mktemp)
    for attempt in 1 2 3 4 5; do
        if go build -trimpath -tags selinux,notest -o "$OUT.tmp" ./upstream 2>"$log"; then
            rm -f "$log"
            return 0
        fi
        cat "$log"
        refused=$(grep -oE '(k8s\.io/[A-Za-z0-9._-]+)@(v[0-9]+\.[0-9]+\.[0-9]+): reading [^ ]+: (403|404|410)' "$log" | head -n1 || true)
        [[ -n "$refused" ]] || break
        mod="${refused%%@*}" ver="${refused#*@}" ver="${ver%%:*}"
        alt=$(nearest_served "$mod" "$ver")
        [[ -n "$alt" ]] || { echo "k8s-upstream: $mod $ver is not served and no other patch is listed"; break; }
        echo "k8s-upstream: $mod $ver is not served by the module proxy; using $alt (attempt $attempt)"
        go mod edit -replace "$mod=$mod@$alt"
    done
    rm -f "$log"
    return 1
}
(cd "$K8S_DIR/src" && build_tool) >&2
mv -f "$OUT.tmp" "$OUT"
echo "$KEY" >"$OUT.stamp"
echo "$OUT"
