# prepare (delete): runs after the host's other steps were deleted. Removes what this stack still
# has here: claimed files, the directories it created once empty, the user it created, its records.
# A prepare step that no longer holds the host (replaced by a newer one) removes nothing.
# Parameters: STATE CLAIM SERVICE UNIT USER.
lock
if [ "$(claimed_by host:)" != "$CLAIM" ]; then
    echo "$(hostname): the host is held by another step of this stack; nothing removed"
    exit 0
fi
if [ "$(claimed_by service:)" != "" ]; then
    systemctl disable --now "$SERVICE" 2>/dev/null || true
fi
for f in "$STATE"/claims/*; do
    [ -f "$f" ] || continue
    subject=$(cut -d' ' -f2- <"$f")
    case "$subject" in /*) rm -f -- "$subject" "$subject.ksched-next" "$subject.ksched-prev" ;; esac
    rm -f -- "$f"
done
systemctl daemon-reload
if [ -f "$STATE/dirs" ]; then
    # deepest first; a directory something else put files into stays
    sort -r "$STATE/dirs" | while read -r d; do rmdir -- "$d" 2>/dev/null || true; done
fi
if grep -qx user "$STATE/created" 2>/dev/null; then userdel "$USER" 2>/dev/null || true; fi
if grep -qx group "$STATE/created" 2>/dev/null; then groupdel "$USER" 2>/dev/null || true; fi
rm -rf -- "$STATE/taken-over"
rm -f -- "$STATE/owner" "$STATE/dirs" "$STATE/created" "$STATE/running" "$STATE/rollout.sh" \
    "$STATE/rollout.log" "$STATE/rollout.result" "$STATE/lock"
rmdir -- "$STATE/claims" "$STATE" 2>/dev/null || true
echo "removed what this stack had on $(hostname)"
