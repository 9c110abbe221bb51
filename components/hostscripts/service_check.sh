# The service step's host check: "running <digest>" of the record of the files the service was
# started with, while it is enabled, active, and every one of those files is unchanged since;
# else what differs. Parameters: STATE SERVICE.
if [ "$(systemctl is-enabled "$SERVICE" 2>/dev/null)" != enabled ]; then echo "not enabled"; exit 0; fi
if ! systemctl is-active --quiet "$SERVICE"; then echo "not active"; exit 0; fi
if [ ! -f "$STATE/running" ]; then echo "no record of the files it was started with"; exit 0; fi
while read -r sha path; do
    if [ "$(sha_of "$path")" != "$sha" ]; then echo "$path changed since the service started"; exit 0; fi
done <"$STATE/running"
echo "running $(sha256sum <"$STATE/running" | cut -c1-16)"
