# shellcheck shell=bash
# The end of a toolchain run (sourced by scripts/toolchain.sh): failed steps fail the run; what the
# Go module proxy cannot provide is recorded in $TC/unavailable (for the tests) and reported.

toolchain_report() {
    if (( ${#FAILED[@]} > 0 )); then
        echo "toolchain.sh: FAILED steps: ${FAILED[*]} (logs in $LOGS)" >&2
        exit 1
    fi
    printf '%s\n' "${UNAVAILABLE[@]}" | sed '/^$/d' >"$TC/unavailable"
    if (( ${#UNAVAILABLE[@]} > 0 )); then
        echo "toolchain.sh: not buildable here (source refused by the Go module proxy): ${UNAVAILABLE[*]}" >&2
        echo "  Programs run through the Automation API (inline, no language host needed);" >&2
        echo "  stacks that need a missing plugin use resourceBackend: builtin (see README)." >&2
    fi
    echo "==> toolchain ready in $((SECONDS - T_START))s: $PULUMI ($("$PULUMI" version)), PULUMI_HOME=$PULUMI_HOME"
}
