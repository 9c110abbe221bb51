# shellcheck shell=bash
# The stand-in Python language host (tools/langhost), sourced by scripts/toolchain.sh.
# Lets plain `pulumi preview/up/...` run __main__.py where the official host cannot be built.
# Installed into the plugin cache only when no official pulumi-language-python is found (beside
# the CLI, in the plugin cache or on PATH); the CLI prefers a host beside itself or on PATH to the
# plugin cache, so an official host is used whenever it is there.

LANGHOST_SRC="$REPO/tools/langhost"
LANGHOST_MARK="ksched stand-in language host"
LANGHOST_CACHED="$PULUMI_HOME/plugins/language-python-v$PULUMI_VERSION/pulumi-language-python"
# The package name of tools/langhost in the stand-in's venv, and its entry module.
STANDIN_PACKAGE=ksched_langhost
STANDIN_MAIN="$STANDIN_PACKAGE.pulumi_language_python"

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

# standin_sources: sets STANDIN_SOURCES to the host's Python files, in a fixed order (they go into
# its cache key).
standin_sources() {
    mapfile -t STANDIN_SOURCES < <(find "$LANGHOST_SRC" -maxdepth 1 -type f -name '*.py' | LC_ALL=C sort)
}

build_langhost_standin() { # DIR KEY: a venv with the pinned SDK and the host, the SDK's exec script, a launcher
    local dir="$1" sdk site version
    rm -rf "$dir"
    mkdir -p "$dir"
    python3 -m venv "$dir/venv"
    "$dir/venv/bin/python" -m pip install -q --disable-pip-version-check -r "$LANGHOST_SRC/requirements.txt"
    "$dir/venv/bin/python" -m pip check
    # The host is a package (its modules import each other): copied into the venv, run with -I -m.
    site="$("$dir/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
    mkdir -p "$site/$STANDIN_PACKAGE"
    standin_sources
    install -m 0644 "${STANDIN_SOURCES[@]}" "$site/$STANDIN_PACKAGE/"
    sdk="$(go_mod_dir "github.com/pulumi/pulumi/sdk/v3@$PULUMI_SDK_MODVER")"
    install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$dir/pulumi-language-python-exec"
    cat >"$dir/pulumi-language-python" <<EOM
#!/bin/sh
# $LANGHOST_MARK (tools/langhost of the kube-scheduler repository), NOT the official
# pulumi-language-python: installed by scripts/toolchain.sh only where the official host is absent.
exec "$dir/venv/bin/python" -I -m $STANDIN_MAIN --exec "$dir/pulumi-language-python-exec" "\$@"
EOM
    chmod 0755 "$dir/pulumi-language-python"
    version="$("$dir/pulumi-language-python" --version)"
    if [[ "$version" != "$PULUMI_VERSION" ]]; then
        echo "the stand-in reports version $version (the pulumi SDK that tools/langhost/requirements.txt pins), the CLI is $PULUMI_VERSION" >&2
        return 1
    fi
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

toolchain_langhost_standin() {
    local official key dir
    if official="$(official_langhost)"; then
        if grep -qs "$LANGHOST_MARK" "$LANGHOST_CACHED"; then
            echo "==> remove-language-python-standin"
            rm -rf "$(dirname "$LANGHOST_CACHED")"
        fi
        skip language-python-standin "not needed: official host $official"
        return 0
    fi
    # Keyed by what goes into it (the files' contents and names, the pins, the SDK module, the
    # Python), so worktrees with different versions do not overwrite each other.
    standin_sources
    key="$(cat "${STANDIN_SOURCES[@]}" "$LANGHOST_SRC/requirements.txt" \
        <(echo "$PULUMI_SDK_MODVER $(python3 --version)"; printf '%s\n' "${STANDIN_SOURCES[@]##*/}") \
        | sha256sum | cut -c1-16)"
    dir="$TC/langhost/$key"
    if [[ -f "$dir/stamp" && "$(cat "$dir/stamp")" == "$key" ]]; then
        skip language-python-standin "$dir"
    else
        step language-python-standin build_langhost_standin "$dir" "$key"
    fi
    if [[ -f "$dir/stamp" ]]; then
        if cmp -s "$dir/pulumi-language-python" "$LANGHOST_CACHED"; then
            skip install-language-python-standin "$LANGHOST_CACHED"
        else
            step install-language-python-standin install_langhost_standin "$dir/pulumi-language-python"
        fi
    fi
}
