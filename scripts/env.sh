# shellcheck shell=bash
# Source me (`source scripts/env.sh`; the Makefile does too) so that plain
# `pulumi` commands use the offline toolchain built by scripts/toolchain.sh,
# a local file backend and no network. Safe under `set -u`.

_ksched_src="${BASH_SOURCE[0]:-$0}"
KSCHED_REPO="$(cd "$(dirname "$_ksched_src")/.." && pwd)"
unset _ksched_src
export KSCHED_REPO

export KSCHED_CACHE="${KSCHED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksched}"
export PULUMI_HOME="${PULUMI_HOME:-$KSCHED_CACHE/pulumi-home}"
# the CLI's version is pinned once, in scripts/toolchain/versions.sh (read here, not sourced)
KSCHED_PULUMI_VERSION="$(sed -n 's/^PULUMI_VERSION=//p' "$KSCHED_REPO/scripts/toolchain/versions.sh")"
KSCHED_TOOLCHAIN_BIN="$KSCHED_CACHE/toolchain/pulumi-$KSCHED_PULUMI_VERSION/bin"

# toolchain bin dir and the project venv first (without duplicating entries)
_ksched_path=":${PATH:-}:"
for _ksched_dir in "$KSCHED_REPO/.venv/bin" "$KSCHED_TOOLCHAIN_BIN"; do
    _ksched_path="${_ksched_path//:$_ksched_dir:/:}"
    _ksched_path=":$_ksched_dir$_ksched_path"
done
_ksched_path="${_ksched_path#:}"
export PATH="${_ksched_path%:}"
unset _ksched_path _ksched_dir

# state on local disk unless the caller chose a backend
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
    mkdir -p "$KSCHED_REPO/.pulumi-state"
    export PULUMI_BACKEND_URL="file://$KSCHED_REPO/.pulumi-state"
fi

export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_IGNORE_AMBIENT_PLUGINS=true

# `source scripts/env.sh dev` (or render): the documented, non-secret passphrase of those local
# stacks (plumbing/project.py). Any other stack brings its own: PULUMI_CONFIG_PASSPHRASE(_FILE) or a
# secrets provider; `make up STACK=<other>` refuses to run without one.
case "${1:-}" in
dev | render)
    if [ -z "${PULUMI_CONFIG_PASSPHRASE+x}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
        PULUMI_CONFIG_PASSPHRASE="$(sed -n 's/^DEV_PASSPHRASE = "\(.*\)"$/\1/p' "$KSCHED_REPO/plumbing/project.py")"
        export PULUMI_CONFIG_PASSPHRASE
    fi
    ;;
esac
