#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint, built from the Go module proxy at a pinned
# version into the cache (a second run reuses the binary). Extra arguments go to actionlint.
set -euo pipefail

ACTIONLINT_VERSION=v1.7.12
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KSCHED_CACHE="${KSCHED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksched}"
OUT="$KSCHED_CACHE/actionlint/$ACTIONLINT_VERSION"
BIN="$OUT/actionlint"

if [[ ! -x "$BIN" ]]; then
    GO="${GO:-$(command -v go || true)}"
    [[ -z "$GO" && -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go
    if [[ -z "$GO" ]]; then
        echo "actionlint.sh: Go is needed to build actionlint $ACTIONLINT_VERSION but 'go' was not found" >&2
        exit 1
    fi
    echo "==> building actionlint $ACTIONLINT_VERSION into $OUT"
    mkdir -p "$OUT"
    GOMODCACHE="$KSCHED_CACHE/go/mod" GOCACHE="$KSCHED_CACHE/go/build" GOBIN="$OUT" \
        GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 \
        "$GO" install -trimpath -ldflags "-s -w" "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
fi

cd "$REPO"
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if (( ${#workflows[@]} == 0 )); then
    echo "actionlint.sh: no workflows in .github/workflows" >&2
    exit 1
fi
# shellcheck/pyflakes integration stays off: results must not depend on what else is installed.
"$BIN" -shellcheck= -pyflakes= "$@" "${workflows[@]}"
echo "actionlint $ACTIONLINT_VERSION: ${#workflows[@]} workflow(s) OK"
