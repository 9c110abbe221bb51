#!/usr/bin/env bash
# `make setup`: Debian packages, the project venv, then the Pulumi toolchain.
# Idempotent: a second run installs and rebuilds nothing.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
T_ALL=$SECONDS

timed() { # NAME CMD...
    local name="$1" t0=$SECONDS; shift
    echo "==> $name"
    "$@"
    echo "    $name: done in $((SECONDS - t0))s"
}

apt_packages() {
    local want=() missing=() p
    while IFS= read -r p; do
        p="${p%%#*}"; p="${p//[[:space:]]/}"
        [[ -n "$p" ]] && want+=("$p")
    done <"$REPO/scripts/apt-packages.txt"
    for p in "${want[@]}"; do
        if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
            missing+=("$p")
        fi
    done
    if (( ${#missing[@]} == 0 )); then
        echo "    all ${#want[@]} packages present"
        return 0
    fi
    echo "    installing: ${missing[*]}"
    local sudo=()
    (( EUID == 0 )) || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

python_venv() {
    local venv="$REPO/.venv" stamp="$REPO/.venv/.requirements.sha256" sum
    if [[ ! -x "$venv/bin/python" ]]; then
        python3 -m venv "$venv"
    fi
    sum="$(sha256sum "$REPO/requirements.txt" | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
        echo "    requirements.txt unchanged, pip skipped"
        return 0
    fi
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$REPO/requirements.txt"
    echo "$sum" >"$stamp"
}

timed apt-packages apt_packages
timed venv python_venv
timed toolchain bash "$REPO/scripts/toolchain.sh"
# The policy pack has its own venv: pulumi-policy pins a protobuf older than the project's.
timed policy-venv bash "$REPO/policy/setup.sh"
echo "==> setup done in $((SECONDS - T_ALL))s"
