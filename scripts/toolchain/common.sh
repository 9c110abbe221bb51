# shellcheck shell=bash disable=SC2034 # (variables read by the other parts of scripts/toolchain.sh)
# The toolchain's cache layout, Go environment and step helpers (sourced by scripts/toolchain.sh
# after versions.sh; REPO is the repository root).

KSCHED_CACHE="${KSCHED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksched}"
export KSCHED_CACHE
export PULUMI_HOME="${PULUMI_HOME:-$KSCHED_CACHE/pulumi-home}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

TC="$KSCHED_CACHE/toolchain"
PULUMI_BIN="$TC/pulumi-$PULUMI_VERSION/bin"
SRC="$TC/src"
LOGS="$KSCHED_CACHE/logs"
mkdir -p "$LOGS" "$SRC" "$PULUMI_HOME"

export GOMODCACHE="$KSCHED_CACHE/go/mod"
export GOCACHE="$KSCHED_CACHE/go/build"
export GOTOOLCHAIN=local
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0

GO="${GO:-$(command -v go || true)}"
[[ -z "$GO" && -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go

T_START=$SECONDS
PULUMI=""  # the CLI in use, set by cli.sh

# step NAME CMD...: runs CMD with output to $LOGS/NAME.log, prints timing and
# sets STEP_RC. On failure prints the log's last 40 lines and records NAME in
# FAILED (the script goes on with independent steps and exits 1 at the end).
# Never call step inside if/&&/|| (bash would then disable set -e in CMD).
FAILED=()
UNAVAILABLE=()
STEP_RC=0
step() {
    local name="$1"; shift
    local log="$LOGS/$name.log" t0=$SECONDS
    echo "==> $name"
    set +e
    ( set -euo pipefail; "$@" ) >"$log" 2>&1
    STEP_RC=$?
    set -e
    if (( STEP_RC != 0 )) && grep -q "This module version is not available" "$log"; then
        # The module proxy refuses this source version: nothing to fix here, say so and go on.
        echo "    $name UNAVAILABLE: the Go module proxy refuses its source ($(grep -m1 -o '[^ ]*@v[^: ]*' "$log" | head -n1 || true))" >&2
        UNAVAILABLE+=("$name")
        return 0
    fi
    if (( STEP_RC != 0 )); then
        echo "    $name FAILED after $((SECONDS - t0))s (exit $STEP_RC); last 40 lines of $log:" >&2
        tail -n 40 "$log" | sed 's/^/    | /' >&2
        FAILED+=("$name")
        return 0
    fi
    echo "    $name: done in $((SECONDS - t0))s"
}

# skip NAME WHY: prints a skipped step.
skip() { echo "==> $1"; echo "    $1: up to date ($2), 0s"; }

need_go() {
    if [[ -z "$GO" || ! -x "$GO" ]]; then
        echo "toolchain.sh: Go is needed to build $1 but 'go' was not found." >&2
        echo "  Install Go >= 1.26 (or put it on PATH), or install the official Pulumi CLI" >&2
        echo "  $PULUMI_VERSION: curl -fsSL https://get.pulumi.com | sh -s -- --version $PULUMI_VERSION" >&2
        exit 1
    fi
}

# stamp_ok OUT KEY: OUT exists and was built from recipe KEY.
stamp_ok() { [[ -x "$1" && -f "$1.stamp" && "$(cat "$1.stamp")" == "$2" ]]; }

# go_mod_dir MODULE@VERSION: downloads it and prints its directory.
go_mod_dir() { "$GO" mod download -json "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d.get("Error")) if d.get("Error") else print(d["Dir"])'; }

# prefill_sum DIR MODDIR: start DIR/go.sum from the upstream module's go.sum, so
# its dependencies are checked against the hashes upstream recorded.
prefill_sum() {
    [[ -f "$2/go.sum" ]] && cat "$2/go.sum" >>"$1/go.sum"
    sort -u -o "$1/go.sum" "$1/go.sum"
}

# check_pins DIR MOD=VER...: fails if MVS moved a pinned module.
check_pins() {
    local dir="$1"; shift
    local kv got
    for kv in "$@"; do
        got="$(cd "$dir" && "$GO" list -m -f '{{.Version}}' "${kv%%=*}")"
        if [[ "$got" != "${kv#*=}" ]]; then
            echo "pin broken: ${kv%%=*} resolved to $got, wanted ${kv#*=}" >&2
            return 1
        fi
    done
}
