# A file step (delete): removes DST, its staged and its kept version, if this step still claims
# it. Parameters: STATE CLAIM DST.
lock
if [ "$(claimed_by "$DST")" != "$CLAIM" ]; then
    echo "$DST: written by another step of this stack; left in place"
    exit 0
fi
rm -f -- "$DST" "$DST.ksched-next" "$DST.ksched-prev"
unclaim "$DST"
echo "removed $DST"
