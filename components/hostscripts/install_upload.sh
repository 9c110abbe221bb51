# The binary step, from an upload (create/update): the uploaded STAGED file, checked against
# SHA256, is staged as DST.ksched-next (the rollout puts it in place); nothing to do when DST has
# it already. Parameters: STATE CLAIM DST STAGED SHA256.
lock
if [ "$(sha_of "$DST")" = "$SHA256" ]; then
    chown root:root -- "$DST"
    chmod 0755 -- "$DST"
    rm -f -- "$STAGED" "$DST.ksched-next"
    claim "$DST" "$CLAIM"
    echo "$DST sha256=$SHA256 already installed"
    exit 0
fi
if [ "$(sha_of "$STAGED")" != "$SHA256" ]; then
    if [ "$(sha_of "$DST.ksched-next")" = "$SHA256" ]; then
        claim "$DST" "$CLAIM"
        echo "staged $DST sha256=$SHA256 (already)"
        exit 0
    fi
    echo "SHA-256 mismatch for the uploaded $STAGED: expected $SHA256, got $(sha_of "$STAGED")" >&2
    exit 1
fi
chown root:root -- "$STAGED"
chmod 0755 -- "$STAGED"
mv -f -- "$STAGED" "$DST.ksched-next"
claim "$DST" "$CLAIM"
echo "staged $DST sha256=$SHA256"
