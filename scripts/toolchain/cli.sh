# shellcheck shell=bash disable=SC2034 # (variables read by the other parts of scripts/toolchain.sh)
# The `pulumi` CLI, the official Python language host (when the proxy serves its source) and the
# dynamic-provider host script (sourced by scripts/toolchain.sh).

CLI_LDFLAGS="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
CLI_TAGS="osusergo,grpcnotrace"
# Recipes: a binary whose stamp differs is rebuilt.
CLI_KEY="pkg/v3@$PULUMI_PKG_MODVER sdk/v3@$PULUMI_SDK_MODVER tags=$CLI_TAGS ldflags=$CLI_LDFLAGS"
LANGHOST_KEY="$LANGHOST_MOD@$LANGHOST_MODVER pkg/v3@$PULUMI_PKG_MODVER sdk/v3@$PULUMI_SDK_MODVER ldflags=$CLI_LDFLAGS"

write_pulumi_wrapper() { # DIR MODNAME EXTRA_REQUIRE
    mkdir -p "$1"
    cat >"$1/go.mod" <<EOM
module ksched.local/toolchain/$2

go 1.25.11

require (
	github.com/pulumi/pulumi/pkg/v3 $PULUMI_PKG_MODVER
	github.com/pulumi/pulumi/sdk/v3 $PULUMI_SDK_MODVER
$3)

replace github.com/atotto/clipboard => $CLIPBOARD_FORK $CLIPBOARD_FORK_VER
EOM
    [[ -f "$1/go.sum" ]] || : >"$1/go.sum"
}

build_cli() {
    local dir="$SRC/pulumi-$PULUMI_VERSION/cli"
    write_pulumi_wrapper "$dir" pulumi-cli ""
    cd "$dir" || return 1
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
    cd "$dir" || return 1
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

# The dynamic-provider host is a script in the sdk/v3 module (served): needed by Python
# dynamic providers whether or not the language host could be built.
install_dynamic_host() {
    local sdk
    sdk="$(go_mod_dir "github.com/pulumi/pulumi/sdk/v3@$PULUMI_SDK_MODVER")"
    install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$PULUMI_BIN/pulumi-resource-pulumi-python"
}

# toolchain_cli: sets PULUMI. A `pulumi` of the pinned version on PATH (not ours) is used as is;
# otherwise the CLI and the official language host are built into $PULUMI_BIN.
toolchain_cli() {
    local amb
    if amb="$(PATH="$(echo "$PATH" | tr ':' '\n' | grep -vxF "$PULUMI_BIN" | paste -sd:)" command -v pulumi 2>/dev/null)" \
       && [[ "$("$amb" version 2>/dev/null)" == "v$PULUMI_VERSION" ]]; then
        PULUMI="$amb"
        skip cli "using $amb, v$PULUMI_VERSION"
        skip language-python "shipped with $amb"
        return 0
    fi
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
}

toolchain_dynamic_host() {
    if [[ -x "$PULUMI_BIN/pulumi-resource-pulumi-python" ]]; then
        skip dynamic-provider-host "$PULUMI_BIN/pulumi-resource-pulumi-python"
    else
        step dynamic-provider-host install_dynamic_host
    fi
}
