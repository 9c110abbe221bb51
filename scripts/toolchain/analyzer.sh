# shellcheck shell=bash
# The policy pack's analyzer plugin (sourced by scripts/toolchain.sh). It runs the Python policy
# pack without a Python language host (policy/README.md). Installed into the plugin cache:
# PULUMI_IGNORE_AMBIENT_PLUGINS hides analyzers on PATH.

toolchain_analyzer() {
    local src="$REPO/policy/bin/pulumi-analyzer-policy-python"
    local installed="$PULUMI_HOME/plugins/analyzer-policy-python-v$PULUMI_VERSION/pulumi-analyzer-policy-python"
    if cmp -s "$src" "$installed"; then
        skip install-policy-analyzer "$installed"
    else
        step install-policy-analyzer "$PULUMI" plugin install analyzer policy-python "$PULUMI_VERSION" --file "$src"
    fi
}
