# prepare (create/update): refuse a host that is not ours to take, then the service's system user,
# our state directory and the config directories. Parameters: STATE OWNER CLAIM SERVICE UNIT
# BINARY USER DIRS (config dir, pki dir) TAKE_OVER.
lock
if [ -f "$STATE/owner" ] && [ "$(cat "$STATE/owner")" != "$OWNER" ]; then
    echo "$(hostname): managed by the stack $(cat "$STATE/owner"), not $OWNER: nothing changed" >&2
    exit 1
fi
found=""
for d in $DIRS; do found="$found$(foreign_dir "$d")"; done
if [ -n "$found" ]; then
    echo "$(hostname): refusing to write into $found: choose a bareMetal.paths.configDir of its own" >&2
    exit 1
fi
found=$(foreign_install)
if [ -n "$found" ] && [ "$TAKE_OVER" != 1 ]; then
    echo "$(hostname): a kube-scheduler this stack did not install is here; nothing changed:" >&2
    echo "$found" | sed 's/^/  /' >&2
    echo "set takeOver: true on this host to replace it (README: taking over a master)" >&2
    exit 1
fi
if ! getent group "$USER" >/dev/null; then
    groupadd --system "$USER"
    echo group >>"$STATE/created"
fi
if ! id -u "$USER" >/dev/null 2>&1; then
    useradd --system --gid "$USER" --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$USER"
    echo user >>"$STATE/created"
fi
mkdir -p "$STATE/claims"
for d in $DIRS; do
    # parents first, each recorded only if this stack made it
    missing=""
    p="$d"
    while [ -n "$p" ] && [ ! -e "$p" ]; do
        missing="$p $missing"
        p="${p%/*}"
    done
    for m in $missing; do
        mkdir -- "$m"
        grep -qxF "$m" "$STATE/dirs" 2>/dev/null || echo "$m" >>"$STATE/dirs"
    done
    grep -qxF "$d" "$STATE/dirs" 2>/dev/null || echo "$d" >>"$STATE/dirs"
    chown "root:$USER" -- "$d"
    chmod 0750 -- "$d"
done
printf '%s\n' "$OWNER" >"$STATE/owner"
claim host: "$CLAIM"
echo "prepared the $USER user and $DIRS for $OWNER"
