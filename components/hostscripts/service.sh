# The service step (create/update): stdin is this rollout (rollout.sh with its parameters). It runs
# as the transient unit ROLLOUT_UNIT, which systemd keeps running if this SSH session, the CLI or
# the machine running Pulumi goes away; the next `up` finds its outcome (and runs it again, which
# restarts nothing when the master already runs these files). This step waits for it and prints
# what it did. Parameters: STATE CLAIM RID ROLLOUT_UNIT WAIT.
mkdir -p "$STATE"
chmod 0700 "$STATE"
cat >"$STATE/rollout.sh.tmp"
(
    lock
    claim service: "$CLAIM"
)
# an earlier rollout still running (its CLI was killed): let it finish first
while systemctl is-active --quiet "$ROLLOUT_UNIT"; do sleep 1; done
mv -f "$STATE/rollout.sh.tmp" "$STATE/rollout.sh"
rm -f "$STATE/rollout.result"
systemd-run --quiet --collect --unit="$ROLLOUT_UNIT" --description="kube-scheduler rollout $RID" \
    /bin/sh "$STATE/rollout.sh"
deadline=$(($(date +%s) + WAIT))
while systemctl is-active --quiet "$ROLLOUT_UNIT" || [ ! -f "$STATE/rollout.result" ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "$(hostname): the rollout is still running after ${WAIT}s; the next \`up\` reads its outcome" >&2
        exit 1
    fi
    sleep 1
done
read -r rid status message <"$STATE/rollout.result"
if [ "$rid" = "$RID" ] && [ "$status" = ok ]; then
    cat "$STATE/rollout.log"
    exit 0
fi
# what the rollout saw (the failed run's errors among it) goes with the step's error
cat "$STATE/rollout.log" >&2
exit 1
