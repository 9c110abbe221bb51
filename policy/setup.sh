#!/usr/bin/env bash
# Creates the policy pack's venv, policy/.venv, from policy/requirements.txt (exact pins).
# Idempotent: skips pip while requirements.txt is unchanged. PYTHON picks the interpreter
# (default python3). Run by `make setup` and by tests/test_policy.py.
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$DIR/.venv"
STAMP="$VENV/.requirements.sha256"
PY="${PYTHON:-python3}"

[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
sum="$(sha256sum "$DIR/requirements.txt" | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$sum" ]]; then
    echo "policy/.venv: requirements.txt unchanged, pip skipped"
    exit 0
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$DIR/requirements.txt"
"$VENV/bin/python" -m pip check
echo "$sum" >"$STAMP"
echo "policy/.venv: installed $(grep -c '==' "$DIR/requirements.txt") pinned packages"
