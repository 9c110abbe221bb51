# A file step (create/update): stdin becomes the next version of DST, staged beside it as
# DST.ksched-next with its owner and mode; the service step's rollout puts it in place. Content
# the file already has changes nothing. Parameters: STATE CLAIM DST MODE OWNER_GROUP.
lock
dir=$(dirname -- "$DST")
tmp=$(mktemp "$dir/.ksched-write.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT
cat >"$tmp"
if [ -f "$DST" ] && cmp -s "$tmp" "$DST"; then
    chown "$OWNER_GROUP" -- "$DST"
    chmod "$MODE" -- "$DST"
    rm -f -- "$DST.ksched-next"
    state="unchanged"
else
    chown "$OWNER_GROUP" -- "$tmp"
    chmod "$MODE" -- "$tmp"
    mv -f -- "$tmp" "$DST.ksched-next"
    state="staged"
fi
claim "$DST" "$CLAIM"
echo "$state $DST ($MODE $OWNER_GROUP)"
