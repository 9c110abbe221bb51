# shellcheck shell=bash disable=SC2034 # (variables read by the other parts of scripts/toolchain.sh)
# The pinned versions of the offline Pulumi toolchain (sourced by scripts/toolchain.sh). Each
# upstream source is a Go module version, i.e. the commit of a release: nothing else is fetched.

PULUMI_VERSION=3.259.0
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

# plugin_modver NAME VERSION: the Go module version of the plugin's provider module.
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
