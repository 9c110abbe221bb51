#!/usr/bin/env bash
# Builds the offline Pulumi toolchain from Go modules (no download of prebuilt
# binaries): the `pulumi` CLI, the Python language host and the resource
# plugins that the project's Python SDK packages ask for, then installs the
# plugins into $PULUMI_HOME. Everything lands in a cache outside the repo;
# a warm run rebuilds nothing.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KSCHED_CACHE="${KSCHED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksched}"
export KSCHED_CACHE
export PULUMI_HOME="${PULUMI_HOME:-$KSCHED_CACHE/pulumi-home}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

# ---- pinned versions --------------------------------------------------------
PULUMI_VERSION=3.259.0
# Go module versions of the upstream sources (commit of each release).
# pulumi/pulumi: tag v3.259.0 / sdk/v3.259.0 = 0ac56e876614 (2026-08-19 16:51:55Z),
# pkg/v3.259.0 = a05d88f24d05. The language host module has no tags.
PULUMI_PKG_MODVER=v3.259.0
PULUMI_SDK_MODVER=v3.259.0
LANGHOST_MOD=github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3
LANGHOST_MODVER=v3.0.0-20260819165155-0ac56e876614
CLIPBOARD_FORK=github.com/tgummerer/clipboard
CLIPBOARD_FORK_VER=v0.0.0-20241001131231-d02d263e614e

# Default plugin versions when the project venv does not exist yet.
DEFAULT_PLUGINS=(kubernetes:4.25.0 tls:5.5.1 command:1.2.1)

# plugin name + version -> Go module version of its provider module.
# NOTE (2026-11-23): the Go module proxy reachable here serves only versions it
# already holds; it answers 403 "not available" for these three pseudo-versions
# and for the language host above, so those steps fail until it serves them.
plugin_modver() {
    case "$1:$2" in
        kubernetes:4.32.0) echo v4.0.0-20260608201737-a03ff6ba58d2 ;; # a03ff6ba58d2f1ea (tag v4.32.0)
        kubernetes:4.25.0) echo v4.0.0-20260115033456-f47bc2d6f199 ;; # f47bc2d6f199 (tag v4.25.0), served
        tls:5.5.1)         echo v5.0.0-20260722185624-c3b9a61e7075 ;; # c3b9a61e70758bd9 (tag v5.5.1)
        command:1.2.1)     echo v0.0.0-20260303235922-7f3eb6f3b77c ;; # 7f3eb6f3b77cd0fa (tag v1.2.1)
        *) return 1 ;;
    esac
}

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

# ---- helpers ----------------------------------------------------------------
T_START=$SECONDS

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

# seed_sum DIR MODDIR: start DIR/go.sum from the upstream module's go.sum, so
# its dependencies are checked against the hashes upstream recorded.
seed_sum() {
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

# ---- which plugin versions ---------------------------------------------------
VENV_SITE="$(ls -d "$REPO"/.venv/lib/python3*/site-packages 2>/dev/null | head -n1 || true)"
PLUGINS=()
for entry in "${DEFAULT_PLUGINS[@]}"; do
    name="${entry%%:*}" ver="${entry#*:}"
    pj="$VENV_SITE/pulumi_$name/pulumi-plugin.json"
    if [[ -n "$VENV_SITE" && -f "$pj" ]]; then
        ver="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"].lstrip("v"))' "$pj")"
    fi
    if ! plugin_modver "$name" "$ver" >/dev/null; then
        echo "toolchain.sh: the SDK asks for plugin $name $ver, but this script knows the" >&2
        echo "  source commit only for: ${DEFAULT_PLUGINS[*]}. Add it to plugin_modver()." >&2
        exit 1
    fi
    PLUGINS+=("$name:$ver")
done

# ---- CLI + Python language host ----------------------------------------------
PULUMI=""
if amb="$(PATH="$(echo "$PATH" | tr ':' '\n' | grep -vxF "$PULUMI_BIN" | paste -sd:)" command -v pulumi 2>/dev/null)" \
   && [[ "$("$amb" version 2>/dev/null)" == "v$PULUMI_VERSION" ]]; then
    PULUMI="$amb"
    skip cli "using $amb, v$PULUMI_VERSION"
    skip language-python "shipped with $amb"
fi

CLI_LDFLAGS="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
CLI_TAGS="osusergo,grpcnotrace"

write_pulumi_wrapper() { # DIR MODNAME EXTRA_REQUIRE
    mkdir -p "$1"
    cat >"$1/go.mod" <<EOF
module ksched.local/toolchain/$2

go 1.25.11

require (
	github.com/pulumi/pulumi/pkg/v3 $PULUMI_PKG_MODVER
	github.com/pulumi/pulumi/sdk/v3 $PULUMI_SDK_MODVER
$3)

replace github.com/atotto/clipboard => $CLIPBOARD_FORK $CLIPBOARD_FORK_VER
EOF
    [[ -f "$1/go.sum" ]] || : >"$1/go.sum"
}

build_cli() {
    local dir="$SRC/pulumi-$PULUMI_VERSION/cli"
    write_pulumi_wrapper "$dir" pulumi-cli ""
    cd "$dir"
    "$GO" version
    "$GO" get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_PKG_MODVER"
    check_pins "$dir" "github.com/pulumi/pulumi/pkg/v3=$PULUMI_PKG_MODVER" "github.com/pulumi/pulumi/sdk/v3=$PULUMI_SDK_MODVER"
    mkdir -p "$PULUMI_BIN"
    "$GO" build -v -trimpath -tags "$CLI_TAGS" -ldflags "$CLI_LDFLAGS" -o "$PULUMI_BIN/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    mv -f "$PULUMI_BIN/pulumi.tmp" "$PULUMI_BIN/pulumi"
    "$PULUMI_BIN/pulumi" version
    echo "$CLI_KEY" >"$PULUMI_BIN/pulumi.stamp"
}

build_langhost() {
    local dir="$SRC/pulumi-$PULUMI_VERSION/language-python"
    write_pulumi_wrapper "$dir" pulumi-language-python "	$LANGHOST_MOD $LANGHOST_MODVER
"
    cd "$dir"
    "$GO" get "$LANGHOST_MOD@$LANGHOST_MODVER"
    check_pins "$dir" "github.com/pulumi/pulumi/pkg/v3=$PULUMI_PKG_MODVER" "github.com/pulumi/pulumi/sdk/v3=$PULUMI_SDK_MODVER"
    mkdir -p "$PULUMI_BIN"
    "$GO" build -v -trimpath -ldflags "$CLI_LDFLAGS" -o "$PULUMI_BIN/pulumi-language-python.tmp" "$LANGHOST_MOD"
    # helper scripts from the sdk/v3 module, expected beside the binary
    local sdk
    sdk="$(go_mod_dir "github.com/pulumi/pulumi/sdk/v3@$PULUMI_SDK_MODVER")"
    install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$PULUMI_BIN/pulumi-language-python-exec"
    install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$PULUMI_BIN/pulumi-resource-pulumi-python"
    mv -f "$PULUMI_BIN/pulumi-language-python.tmp" "$PULUMI_BIN/pulumi-language-python"
    echo "$LANGHOST_KEY" >"$PULUMI_BIN/pulumi-language-python.stamp"
}

if [[ -z "$PULUMI" ]]; then
    CLI_KEY="pkg/v3@$PULUMI_PKG_MODVER sdk/v3@$PULUMI_SDK_MODVER tags=$CLI_TAGS ldflags=$CLI_LDFLAGS"
    LANGHOST_KEY="$LANGHOST_MOD@$LANGHOST_MODVER pkg/v3@$PULUMI_PKG_MODVER sdk/v3@$PULUMI_SDK_MODVER ldflags=$CLI_LDFLAGS"
    if stamp_ok "$PULUMI_BIN/pulumi" "$CLI_KEY"; then
        skip cli "$PULUMI_BIN/pulumi"
    else
        need_go "the Pulumi CLI $PULUMI_VERSION"
        step cli build_cli
        if (( STEP_RC != 0 )); then echo "toolchain.sh: cannot go on without the CLI" >&2; exit 1; fi
    fi
    if stamp_ok "$PULUMI_BIN/pulumi-language-python" "$LANGHOST_KEY" \
       && [[ -x "$PULUMI_BIN/pulumi-language-python-exec" && -x "$PULUMI_BIN/pulumi-resource-pulumi-python" ]]; then
        skip language-python "$PULUMI_BIN/pulumi-language-python"
    else
        need_go "the Pulumi Python language host $PULUMI_VERSION"
        step language-python build_langhost
    fi
    PULUMI="$PULUMI_BIN/pulumi"
fi

# The dynamic-provider host is a script in the sdk/v3 module (served): needed by Python
# dynamic providers whether or not the language host could be built.
install_dynamic_host() {
    local sdk
    sdk="$(go_mod_dir "github.com/pulumi/pulumi/sdk/v3@$PULUMI_SDK_MODVER")"
    install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$PULUMI_BIN/pulumi-resource-pulumi-python"
}
if [[ -x "$PULUMI_BIN/pulumi-resource-pulumi-python" ]]; then
    skip dynamic-provider-host "$PULUMI_BIN/pulumi-resource-pulumi-python"
else
    step dynamic-provider-host install_dynamic_host
fi

# ---- stand-in Python language host (tools/langhost) ---------------------------
# Lets plain `pulumi preview/up/...` run __main__.py where the official host cannot be built.
# Installed into the plugin cache only when no official pulumi-language-python is found (beside
# the CLI, in the plugin cache or on PATH); the CLI prefers a host beside itself or on PATH to the
# plugin cache, so an official host is used whenever it is there.
LANGHOST_SRC="$REPO/tools/langhost"
LANGHOST_MARK="ksched stand-in language host"
LANGHOST_CACHED="$PULUMI_HOME/plugins/language-python-v$PULUMI_VERSION/pulumi-language-python"

# official_langhost: prints the path of an official Python language host, if there is one.
official_langhost() {
    local candidate
    for candidate in "$(dirname "$(readlink -f "$PULUMI")")/pulumi-language-python" \
        "$PULUMI_HOME"/plugins/language-python-v*/pulumi-language-python \
        "$(command -v pulumi-language-python || true)"; do
        if [[ -f "$candidate" && -x "$candidate" ]] && ! grep -qs "$LANGHOST_MARK" "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

build_langhost_standin() { # DIR KEY: a venv with the pinned SDK, the host, the SDK's exec script, a launcher
    local dir="$1" sdk
    rm -rf "$dir"
    mkdir -p "$dir"
    python3 -m venv "$dir/venv"
    "$dir/venv/bin/python" -m pip install -q --disable-pip-version-check -r "$LANGHOST_SRC/requirements.txt"
    "$dir/venv/bin/python" -m pip check
    install -m 0644 "$LANGHOST_SRC/pulumi_language_python.py" "$dir/pulumi_language_python.py"
    sdk="$(go_mod_dir "github.com/pulumi/pulumi/sdk/v3@$PULUMI_SDK_MODVER")"
    install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$dir/pulumi-language-python-exec"
    cat >"$dir/pulumi-language-python" <<EOF
#!/bin/sh
# $LANGHOST_MARK (tools/langhost of the kube-scheduler repository), NOT the official
# pulumi-language-python: installed by scripts/toolchain.sh only where the official host is absent.
exec "$dir/venv/bin/python" -I "$dir/pulumi_language_python.py" --exec "$dir/pulumi-language-python-exec" "\$@"
EOF
    chmod 0755 "$dir/pulumi-language-python"
    [[ "$("$dir/pulumi-language-python" --version)" == "$PULUMI_VERSION" ]]
    echo "$2" >"$dir/stamp"
}

# `pulumi plugin install` refuses language plugins ("bundled with Pulumi"): write the plugin cache's
# layout directly, marked ours.
install_langhost_standin() { # LAUNCHER
    mkdir -p "$(dirname "$LANGHOST_CACHED")"
    install -m 0755 "$1" "$LANGHOST_CACHED.tmp"
    mv -f "$LANGHOST_CACHED.tmp" "$LANGHOST_CACHED"
    "$PULUMI" plugin ls
}

if official="$(official_langhost)"; then
    if grep -qs "$LANGHOST_MARK" "$LANGHOST_CACHED"; then
        echo "==> remove-language-python-standin"
        rm -rf "$(dirname "$LANGHOST_CACHED")"
    fi
    skip language-python-standin "not needed: official host $official"
else
    # Keyed by what goes into it, so worktrees with different versions do not overwrite each other.
    LANGHOST_KEY="$(cat "$LANGHOST_SRC/pulumi_language_python.py" "$LANGHOST_SRC/requirements.txt" \
        <(echo "$PULUMI_SDK_MODVER $(python3 --version)") | sha256sum | cut -c1-16)"
    LANGHOST_DIR="$TC/langhost/$LANGHOST_KEY"
    if [[ -f "$LANGHOST_DIR/stamp" && "$(cat "$LANGHOST_DIR/stamp")" == "$LANGHOST_KEY" ]]; then
        skip language-python-standin "$LANGHOST_DIR"
    else
        step language-python-standin build_langhost_standin "$LANGHOST_DIR" "$LANGHOST_KEY"
    fi
    if [[ -f "$LANGHOST_DIR/stamp" ]]; then
        if cmp -s "$LANGHOST_DIR/pulumi-language-python" "$LANGHOST_CACHED"; then
            skip install-language-python-standin "$LANGHOST_CACHED"
        else
            step install-language-python-standin install_langhost_standin "$LANGHOST_DIR/pulumi-language-python"
        fi
    fi
fi

# ---- resource plugins -------------------------------------------------------
build_kubernetes() { # VERSION MODVER OUT
    local ver="$1" modver="$2" out="$3" dir="$SRC/plugins/kubernetes-$1"
    local mod=github.com/pulumi/pulumi-kubernetes/provider/v4
    mkdir -p "$dir"
    cat >"$dir/go.mod" <<EOF
module ksched.local/toolchain/pulumi-resource-kubernetes

go 1.26.0

require $mod $modver
EOF
    [[ -f "$dir/go.sum" ]] || : >"$dir/go.sum"
    cd "$dir"
    # provider modules that the checksum database does not know: trust the
    # proxy for them (their deps are checked against the seeded go.sum)
    export GONOSUMDB=github.com/pulumi/pulumi-kubernetes
    local moddir
    moddir="$(go_mod_dir "$mod@$modver")"
    seed_sum "$dir" "$moddir"
    # main.go embeds files made by its generate.go: run it on a writable copy
    rm -rf "$dir/cmd"; mkdir -p "$dir/cmd"
    cp -r "$moddir/cmd/pulumi-resource-kubernetes" "$dir/cmd/"
    chmod -R u+w "$dir/cmd"
    "$GO" get "$mod/cmd/pulumi-resource-kubernetes@$modver"
    (cd "$dir/cmd/pulumi-resource-kubernetes" && VERSION="$ver" "$GO" run generate.go)
    "$GO" build -v -trimpath -ldflags "-s -w -X $mod/pkg/version.Version=$ver" -o "$out.tmp" ./cmd/pulumi-resource-kubernetes
    mv -f "$out.tmp" "$out"
}

build_tls() { # VERSION MODVER OUT
    local ver="$1" modver="$2" out="$3" dir="$SRC/plugins/tls-$1"
    local mod=github.com/pulumi/pulumi-tls/provider/v5
    mkdir -p "$dir/shim"
    # The provider replaces this module with a local folder; provide the same
    # module path (it must sit under terraform-provider-tls to use its internal package).
    cat >"$dir/shim/go.mod" <<'EOF'
module github.com/hashicorp/terraform-provider-tls/shim

go 1.25.8

require (
	github.com/hashicorp/terraform-plugin-framework v1.19.0
	github.com/hashicorp/terraform-provider-tls v1.2.1-0.20260513075833-609226f53114
)
EOF
    cat >"$dir/shim/shim.go" <<'EOF'
// Package shim exposes the TLS Terraform provider to the Pulumi bridge.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	tlsprovider "github.com/hashicorp/terraform-provider-tls/internal/provider"
)

// NewProvider returns the upstream Terraform TLS provider.
func NewProvider() provider.Provider { return tlsprovider.New() }
EOF
    cat >"$dir/go.mod" <<EOF
module ksched.local/toolchain/pulumi-resource-tls

go 1.25.11

require (
	$mod $modver
	github.com/hashicorp/terraform-provider-tls/shim v0.0.0
)

replace (
	github.com/hashicorp/terraform-plugin-sdk/v2 => github.com/pulumi/terraform-plugin-sdk/v2 v2.0.0-20260318212141-5525259d096b
	github.com/hashicorp/terraform-provider-tls/shim => ./shim
)
EOF
    [[ -f "$dir/go.sum" ]] || : >"$dir/go.sum"
    cd "$dir"
    export GONOSUMDB=github.com/pulumi/pulumi-tls
    local moddir
    moddir="$(go_mod_dir "$mod@$modver")"
    seed_sum "$dir" "$moddir"
    rm -rf "$dir/cmd"; mkdir -p "$dir/cmd"
    cp -r "$moddir/cmd/pulumi-resource-tls" "$dir/cmd/"
    chmod -R u+w "$dir/cmd"
    "$GO" get "$mod@$modver"
    (cd "$dir/cmd/pulumi-resource-tls" && VERSION="$ver" "$GO" run generate.go)
    "$GO" build -v -trimpath -ldflags "-s -w -X $mod/pkg/version.Version=$ver" -o "$out.tmp" ./cmd/pulumi-resource-tls
    mv -f "$out.tmp" "$out"
}

build_command() { # VERSION MODVER OUT
    local ver="$1" modver="$2" out="$3" dir="$SRC/plugins/command-$1"
    local mod=github.com/pulumi/pulumi-command/provider
    mkdir -p "$dir"
    cat >"$dir/go.mod" <<EOF
module ksched.local/toolchain/pulumi-resource-command

go 1.25.0

require $mod $modver
EOF
    [[ -f "$dir/go.sum" ]] || : >"$dir/go.sum"
    cd "$dir"
    export GONOSUMDB=github.com/pulumi/pulumi-command
    local moddir
    moddir="$(go_mod_dir "$mod@$modver")"
    seed_sum "$dir" "$moddir"
    "$GO" get "$mod/cmd/pulumi-resource-command@$modver"
    "$GO" build -v -trimpath -ldflags "-s -w -X $mod/pkg/version.Version=v$ver" -o "$out.tmp" "$mod/cmd/pulumi-resource-command"
    mv -f "$out.tmp" "$out"
}

install_plugin() { # NAME VERSION BINARY
    "$PULUMI" plugin install resource "$1" "$2" --file "$3"
    "$PULUMI" plugin ls
}

for entry in "${PLUGINS[@]}"; do
    name="${entry%%:*}" ver="${entry#*:}"
    modver="$(plugin_modver "$name" "$ver")"
    pdir="$TC/plugins/$name-$ver"
    out="$pdir/pulumi-resource-$name"
    key="$name $ver $modver"
    if stamp_ok "$out" "$key"; then
        skip "plugin-$name" "$out"
    else
        need_go "plugin $name $ver"
        mkdir -p "$pdir"
        step "plugin-$name" "build_$name" "$ver" "$modver" "$out"
        (( STEP_RC == 0 )) || continue
        echo "$key" >"$out.stamp"
    fi
    inst="$PULUMI_HOME/plugins/resource-$name-v$ver"
    if [[ -x "$inst/pulumi-resource-$name" && ! -e "$inst.partial" ]] && cmp -s "$out" "$inst/pulumi-resource-$name"; then
        skip "install-$name" "$inst"
    else
        step "install-$name" install_plugin "$name" "$ver" "$out"
    fi
done

# Runs the Python policy pack without a Python language host (policy/README.md). Installed into
# the plugin cache: PULUMI_IGNORE_AMBIENT_PLUGINS hides analyzers on PATH.
ANALYZER_SRC="$REPO/policy/bin/pulumi-analyzer-policy-python"
ANALYZER="$PULUMI_HOME/plugins/analyzer-policy-python-v$PULUMI_VERSION/pulumi-analyzer-policy-python"
if cmp -s "$ANALYZER_SRC" "$ANALYZER"; then
    skip install-policy-analyzer "$ANALYZER"
else
    step install-policy-analyzer "$PULUMI" plugin install analyzer policy-python "$PULUMI_VERSION" --file "$ANALYZER_SRC"
fi

if (( ${#FAILED[@]} > 0 )); then
    echo "toolchain.sh: FAILED steps: ${FAILED[*]} (logs in $LOGS)" >&2
    exit 1
fi
# What the proxy cannot provide is recorded for the tests and reported on every run.
printf '%s\n' "${UNAVAILABLE[@]}" | sed '/^$/d' >"$TC/unavailable"
if (( ${#UNAVAILABLE[@]} > 0 )); then
    echo "toolchain.sh: not buildable here (source refused by the Go module proxy): ${UNAVAILABLE[*]}" >&2
    echo "  Programs run through the Automation API (inline, no language host needed);" >&2
    echo "  stacks that need a missing plugin use resourceBackend: builtin (see README)." >&2
fi

echo "==> toolchain ready in $((SECONDS - T_START))s: $PULUMI ($("$PULUMI" version)), PULUMI_HOME=$PULUMI_HOME"
