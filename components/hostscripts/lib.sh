# Shared by every host script (prepended after the parameters). POSIX sh: Debian's dash.
#
# Ownership records live in $STATE (root only):
#   owner           the stack that manages this host ("<project>/<stack>")
#   claims/<key>    "<step id> <subject>": which step wrote a path (or holds "host:", "service:")
#                   last. A step's delete removes only what it still claims, so when a step is
#                   replaced (renamed host, moved path, other backend), the old step's delete
#                   leaves what the new step wrote alone.
#   dirs            directories this stack created (removed when empty, and only those)
#   running         "<sha256>  <path>" of every file the service was started with

claim_key() {  # SUBJECT: the record's file name
    printf '%s' "$1" | sha256sum | cut -c1-32
}

claimed_by() {  # SUBJECT: the step id that claims it, or nothing
    f="$STATE/claims/$(claim_key "$1")"
    if [ -f "$f" ]; then cut -d' ' -f1 <"$f"; fi
}

claim() {  # SUBJECT ID
    mkdir -p "$STATE/claims"
    f="$STATE/claims/$(claim_key "$1")"
    printf '%s %s\n' "$2" "$1" >"$f.tmp"
    mv -f "$f.tmp" "$f"
}

unclaim() {  # SUBJECT
    rm -f "$STATE/claims/$(claim_key "$1")"
}

is_claimed() {  # SUBJECT: by any step of this stack
    [ -f "$STATE/claims/$(claim_key "$1")" ]
}

sha_of() {  # PATH: its SHA-256, or "absent"
    if [ -f "$1" ]; then sha256sum <"$1" | cut -d' ' -f1; else echo absent; fi
}

lock() {  # one host script at a time touches our files (a rollout may outlive its SSH session)
    mkdir -p "$STATE"
    chmod 0700 "$STATE"
    exec 9>"$STATE/lock"
    flock 9
}

# A kube-scheduler this stack did not install: what `takeOver` replaces, and what preview reports.
# Prints one line per finding ("<what> <detail>").
foreign_install() {
    frag=$(systemctl show -p FragmentPath --value "$SERVICE" 2>/dev/null || true)
    if [ -n "$frag" ] && [ -e "$frag" ] && ! is_claimed "$frag"; then
        echo "unit $frag"
    fi
    for d in $(systemctl show -p DropInPaths --value "$SERVICE" 2>/dev/null || true); do
        is_claimed "$d" || echo "drop-in $d"
    done
    if [ -e "$BINARY" ] && ! is_claimed "$BINARY"; then
        echo "binary $BINARY"
    fi
    # running processes of a kube-scheduler binary outside our unit
    for p in /proc/[0-9]*; do
        exe=$(readlink "$p/exe" 2>/dev/null) || continue
        case "${exe##*/}" in kube-scheduler | kube-scheduler.*) ;; *) continue ;; esac
        unit=$(sed -n 's|^[0-9]*:name=systemd:.*/\([^/]*\.service\).*|\1|p; s|^0::.*/\([^/]*\.service\).*|\1|p' \
            "$p/cgroup" 2>/dev/null | head -n 1)
        if [ "$unit" = "$SERVICE" ] && [ -z "$frag" -o "$frag" = "$UNIT" ] && is_claimed "$UNIT"; then
            continue
        fi
        echo "process ${p#/proc/} ${unit:-no-unit} $(tr '\0' ' ' <"$p/cmdline" | cut -c1-200)"
    done
}

# Directories this stack may use: absent (it creates them), or empty, or already its own.
foreign_dir() {  # DIR: prints a finding when DIR holds something that is not ours
    if [ -d "$1" ] && ! grep -qxF "$1" "$STATE/dirs" 2>/dev/null && [ -n "$(ls -A "$1" 2>/dev/null)" ]; then
        echo "directory $1 (not empty, not created by this stack)"
    elif [ -e "$1" ] && [ ! -d "$1" ]; then
        echo "directory $1 (exists and is not a directory)"
    fi
}
