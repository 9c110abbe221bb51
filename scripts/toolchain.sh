#!/usr/bin/env bash
# Builds the offline Pulumi toolchain from Go modules (no download of prebuilt
# binaries): the `pulumi` CLI, the Python language host and the resource
# plugins that the project's Python SDK packages ask for, then installs the
# plugins into $PULUMI_HOME. Everything lands in a cache outside the repo;
# a warm run rebuilds nothing.
#
# The parts are in scripts/toolchain/: versions.sh (the pins), common.sh (cache layout, Go
# environment, the step helpers), cli.sh (CLI, official language host, dynamic-provider host),
# langhost.sh (the stand-in language host of tools/langhost), providers.sh (resource plugins),
# analyzer.sh (the policy pack's analyzer plugin), report.sh (the summary).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PARTS="$REPO/scripts/toolchain"
# shellcheck source=scripts/toolchain/versions.sh
source "$PARTS/versions.sh"
# shellcheck source=scripts/toolchain/common.sh
source "$PARTS/common.sh"
# shellcheck source=scripts/toolchain/cli.sh
source "$PARTS/cli.sh"
# shellcheck source=scripts/toolchain/langhost.sh
source "$PARTS/langhost.sh"
# shellcheck source=scripts/toolchain/providers.sh
source "$PARTS/providers.sh"
# shellcheck source=scripts/toolchain/analyzer.sh
source "$PARTS/analyzer.sh"
# shellcheck source=scripts/toolchain/report.sh
source "$PARTS/report.sh"

plugins_wanted              # which plugin versions the project's SDK packages need
toolchain_cli               # sets PULUMI
toolchain_dynamic_host
toolchain_langhost_standin
toolchain_plugins
toolchain_analyzer
toolchain_report
