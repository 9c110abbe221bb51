# prepare's host check: prints "ok" while the host is as prepare left it, else what differs.
# Parameters: STATE OWNER CLAIM USER DIRS.
if [ "$(cat "$STATE/owner" 2>/dev/null)" != "$OWNER" ]; then echo "not managed by $OWNER"; exit 0; fi
if [ "$(claimed_by host:)" != "$CLAIM" ]; then echo "held by another step"; exit 0; fi
if ! id -u "$USER" >/dev/null 2>&1; then echo "no user $USER"; exit 0; fi
for d in $DIRS; do
    s=$(stat -c "%a %U:%G" -- "$d" 2>/dev/null || echo missing)
    if [ "$s" != "750 root:$USER" ]; then echo "$d: $s"; exit 0; fi
done
echo ok
