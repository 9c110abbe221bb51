# shellcheck shell=bash
# The resource plugins the project's Python SDK packages ask for, built from their provider
# modules and installed into $PULUMI_HOME (sourced by scripts/toolchain.sh).

# plugins_wanted: sets PLUGINS (NAME:VERSION...) from the project venv's pulumi-plugin.json files
# (DEFAULT_PLUGINS without a venv); exits if one has no known source commit.
plugins_wanted() {
    local sites site="" entry name ver pj
    sites=("$REPO"/.venv/lib/python3*/site-packages)
    [[ -d "${sites[0]}" ]] && site="${sites[0]}"
    PLUGINS=()
    for entry in "${DEFAULT_PLUGINS[@]}"; do
        name="${entry%%:*}" ver="${entry#*:}"
        pj="$site/pulumi_$name/pulumi-plugin.json"
        if [[ -n "$site" && -f "$pj" ]]; then
            ver="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"].lstrip("v"))' "$pj")"
        fi
        if ! plugin_modver "$name" "$ver" >/dev/null; then
            echo "toolchain.sh: the SDK asks for plugin $name $ver, but this script knows the" >&2
            echo "  source commit only for: ${DEFAULT_PLUGINS[*]}. Add it to plugin_modver()." >&2
            exit 1
        fi
        PLUGINS+=("$name:$ver")
    done
}

# plain_module NAME GOVERSION MOD MODVER DIR: DIR/go.mod of a build that requires the provider module alone.
plain_module() {
    mkdir -p "$5"
    printf 'module ksched.local/toolchain/pulumi-resource-%s\n\ngo %s\n\nrequire %s %s\n' "$1" "$2" "$3" "$4" >"$5/go.mod"
}

# provider_module DIR MOD MODVER: enters DIR (its go.mod written) with a go.sum prefilled from the
# provider module's, and sets MODDIR to that module's folder in the module cache. The checksum
# database does not know the provider modules: the proxy is trusted for them alone (GONOSUMDB),
# their dependencies are checked against the prefilled go.sum.
provider_module() {
    [[ -f "$1/go.sum" ]] || : >"$1/go.sum"
    cd "$1" || return 1
    export GONOSUMDB="${2%%/provider*}"
    MODDIR="$(go_mod_dir "$2@$3")"
    prefill_sum "$1" "$MODDIR"
}

# build_generated NAME MOD MODVER VERSION OUT GET: a provider whose main.go embeds files made by its
# generate.go, which is run on a writable copy of cmd/pulumi-resource-NAME (in the current folder).
build_generated() {
    local mod="$2" modver="$3" ver="$4" out="$5" get="$6" cmd="cmd/pulumi-resource-$1"
    rm -rf cmd; mkdir -p cmd
    cp -r "$MODDIR/$cmd" cmd/
    chmod -R u+w cmd
    "$GO" get "$get@$modver"
    (cd "$cmd" && VERSION="$ver" "$GO" run generate.go)
    "$GO" build -v -trimpath -ldflags "-s -w -X $mod/pkg/version.Version=$ver" -o "$out.tmp" "./$cmd"
    mv -f "$out.tmp" "$out"
}

build_kubernetes() { # VERSION MODVER OUT
    local ver="$1" modver="$2" out="$3" dir="$SRC/plugins/kubernetes-$1"
    local mod=github.com/pulumi/pulumi-kubernetes/provider/v4
    plain_module kubernetes 1.26.0 "$mod" "$modver" "$dir"
    provider_module "$dir" "$mod" "$modver" || return 1
    build_generated kubernetes "$mod" "$modver" "$ver" "$out" "$mod/cmd/pulumi-resource-kubernetes"
}

build_tls() { # VERSION MODVER OUT
    local ver="$1" modver="$2" out="$3" dir="$SRC/plugins/tls-$1"
    local mod=github.com/pulumi/pulumi-tls/provider/v5
    mkdir -p "$dir/shim"
    # The provider replaces this module with a local folder; provide the same
    # module path (it must sit under terraform-provider-tls to use its internal package).
    cat >"$dir/shim/go.mod" <<'EOM'
module github.com/hashicorp/terraform-provider-tls/shim

go 1.25.8

require (
	github.com/hashicorp/terraform-plugin-framework v1.19.0
	github.com/hashicorp/terraform-provider-tls v1.2.1-0.20260513075833-609226f53114
)
EOM
    cat >"$dir/shim/shim.go" <<'EOM'
// Package shim exposes the TLS Terraform provider to the Pulumi bridge.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	tlsprovider "github.com/hashicorp/terraform-provider-tls/internal/provider"
)

// NewProvider returns the upstream Terraform TLS provider.
func NewProvider() provider.Provider { return tlsprovider.New() }
EOM
    cat >"$dir/go.mod" <<EOM
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
EOM
    provider_module "$dir" "$mod" "$modver" || return 1
    build_generated tls "$mod" "$modver" "$ver" "$out" "$mod"
}

build_command() { # VERSION MODVER OUT
    local ver="$1" modver="$2" out="$3" dir="$SRC/plugins/command-$1"
    local mod=github.com/pulumi/pulumi-command/provider
    plain_module command 1.25.0 "$mod" "$modver" "$dir"
    provider_module "$dir" "$mod" "$modver" || return 1
    "$GO" get "$mod/cmd/pulumi-resource-command@$modver"
    "$GO" build -v -trimpath -ldflags "-s -w -X $mod/pkg/version.Version=v$ver" -o "$out.tmp" "$mod/cmd/pulumi-resource-command"
    mv -f "$out.tmp" "$out"
}

install_plugin() { # NAME VERSION BINARY
    "$PULUMI" plugin install resource "$1" "$2" --file "$3"
    "$PULUMI" plugin ls
}

# toolchain_plugins: builds (if its stamp differs) and installs every plugin of PLUGINS.
toolchain_plugins() {
    local entry name ver modver pdir out key inst
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
}
