# The binary step, from a URL (create/update): downloaded next to DST, checked against SHA256 and
# staged as DST.ksched-next (the rollout puts it in place); nothing to do when DST has it already.
# Parameters: STATE CLAIM DST URL SHA256.
lock
if [ "$(sha_of "$DST")" = "$SHA256" ]; then
    chown root:root -- "$DST"
    chmod 0755 -- "$DST"
    rm -f -- "$DST.ksched-next"
    claim "$DST" "$CLAIM"
    echo "$DST sha256=$SHA256 already installed"
    exit 0
fi
mkdir -p -- "$(dirname -- "$DST")"
tmp=$(mktemp "$(dirname -- "$DST")/.kube-scheduler.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT
curl -fsSL --proto =https --retry 3 -o "$tmp" "$URL"
if [ "$(sha_of "$tmp")" != "$SHA256" ]; then
    echo "SHA-256 mismatch for $URL: expected $SHA256, got $(sha_of "$tmp")" >&2
    exit 1
fi
chmod 0755 -- "$tmp"
mv -f -- "$tmp" "$DST.ksched-next"
claim "$DST" "$CLAIM"
echo "staged $DST sha256=$SHA256"
