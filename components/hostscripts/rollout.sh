# The rollout of one master, run by systemd as the transient unit ksched-rollout.service so that it
# finishes whatever happens to the SSH session or the CLI that started it (service.sh).
#
# 1. Every staged file (X.ksched-next) is checked against FILES and put in place; the version it
#    replaces is kept as X.ksched-prev (a hard link: X never goes missing).
# 2. The unit is checked with `systemd-analyze verify`, systemd reloads it, the service restarts
#    (a hand-made kube-scheduler this stack takes over is stopped and put aside first).
# 3. The gate: ready (READY_URL answers ok), then up for SOAK seconds without a restart and still
#    ready, no authentication error in its log, and the cluster's scheduler lease being renewed
#    (read with the scheduler's own credentials).
# 4. Passed: RUNNING records what it runs; kept versions, put-aside units and files of an earlier
#    layout go. Failed: the kept versions come back and the service restarts on them.
# The outcome is the last line of rollout.result: "<RID> ok|failed|rolled-back <message>".
# Parameters: STATE RID FILES (lines "<sha256>  <path>") SERVICE UNIT READY_URL CA CERT KEY
# LEASE_URL LEASE_BOUND TIMEOUT SOAK AUTH_CHECK TAKE_OVER.
exec >"$STATE/rollout.log" 2>&1
lock
host=$(hostname)
finished=0
swapped=""
aside=""
stopped=""
result() {  # STATUS MESSAGE
    echo "$RID $1 $2" >"$STATE/rollout.result.tmp"
    mv -f "$STATE/rollout.result.tmp" "$STATE/rollout.result"
    finished=1
    echo "$host: $2"
}
put_back() {  # what this rollout changed, undone
    for path in $swapped; do
        if [ -e "$path.ksched-prev" ]; then mv -f -- "$path.ksched-prev" "$path"; else rm -f -- "$path"; fi
    done
    for d in $aside; do mv -f -- "$STATE/taken-over/$(claim_key "$d")" "$d"; done
    systemctl daemon-reload
    for u in $stopped; do systemctl enable --now --quiet "$u" || true; done
}
target=""
trap 'rm -f -- "$target"; [ "$finished" = 1 ] || { put_back; result failed "stopped unexpectedly; see $STATE/rollout.log"; }' EXIT
in_target() {  # PATH: one of the files this rollout is about
    awk -v p="$1" '$2 == p { found = 1 } END { exit !found }' "$target"
}
under_target() {  # DIR: holds one of them
    awk -v d="$1/" 'index($2, d) == 1 { found = 1 } END { exit !found }' "$target"
}
ready() {  # SECONDS: READY_URL answers ok within them
    deadline=$(($(date +%s) + $1))
    while :; do
        body=$(curl -s --max-time 2 --cacert "$CA" "$READY_URL" || true)
        if [ "$body" = ok ]; then return 0; fi
        if [ "$(date +%s)" -ge "$deadline" ]; then return 1; fi
        sleep 1
    done
}
main_pid() { systemctl show -p MainPID --value "$SERVICE"; }
restarts() { systemctl show -p NRestarts --value "$SERVICE"; }
lease_renewed_at() {
    curl -s --max-time 3 --cacert "$CA" --cert "$CERT" --key "$KEY" "$LEASE_URL" |
        tr -d ' \n' | sed -n 's/.*"holderIdentity":"\([^"]*\)".*"renewTime":"\([^"]*\)".*/\1@\2/p'
}
lease_renewed() {  # a holder renews the lease within LEASE_BOUND seconds
    first=$(lease_renewed_at)
    deadline=$(($(date +%s) + LEASE_BOUND))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        sleep 1
        now=$(lease_renewed_at)
        if [ -n "$now" ] && [ "$now" != "$first" ]; then return 0; fi
    done
    return 1
}
gate() {  # STARTED (epoch): prints why it failed
    if ! ready "$TIMEOUT"; then
        echo "not ready after ${TIMEOUT}s (got: ${body:-no answer})"
        return 1
    fi
    pid=$(main_pid)
    n=$(restarts)
    end=$(($(date +%s) + SOAK))
    while [ "$(date +%s)" -lt "$end" ]; do
        sleep 1
        if [ "$(main_pid)" != "$pid" ] || [ "$(restarts)" != "$n" ]; then
            echo "restarted within ${SOAK}s of becoming ready"
            return 1
        fi
    done
    if ! ready 5; then
        echo "no longer ready ${SOAK}s after it first was (got: ${body:-no answer})"
        return 1
    fi
    if [ "$AUTH_CHECK" = 1 ] && journalctl -u "$SERVICE" --since "@$1" --no-pager -o cat 2>/dev/null |
        grep -qE 'Unauthorized|x509: |certificate signed by unknown authority'; then
        echo "its requests to the API server are refused (authentication)"
        return 1
    fi
    if ! lease_renewed; then
        echo "no scheduler renewed the lease within ${LEASE_BOUND}s"
        return 1
    fi
    return 0
}
errors_since() {  # klog's error and fatal lines of the failed run (its info lines drown them)
    journalctl -u "$SERVICE" --since "@$1" --no-pager -o cat 2>/dev/null |
        grep -E '^[EF][0-9]{4} |rror|ailed' | tail -n 8 || true
}

target=$(mktemp)
printf '%s\n' "$FILES" | sed '/^$/d' >"$target"  # sorted by path (running_record)
# 1. what will run must be what the stack wrote: staged, or in place already
while read -r sha path; do
    f="$path"
    if [ -e "$path.ksched-next" ]; then f="$path.ksched-next"; fi
    if [ "$(sha_of "$f")" != "$sha" ]; then
        result failed "$f is not what the stack wrote (sha256 $(sha_of "$f"), expected $sha); nothing changed"
        exit 1
    fi
done <"$target"
staged=""
while read -r sha path; do
    if [ -e "$path.ksched-next" ]; then staged="$staged $path"; fi
done <"$target"
if [ -z "$staged" ] && cmp -s "$target" "$STATE/running" && systemctl is-active --quiet "$SERVICE"; then
    result ok "already running these files"
    exit 0
fi
# 2. in place, keeping what they replace
for path in $staged; do
    if [ -f "$path" ] && [ ! -e "$path.ksched-prev" ]; then ln -- "$path" "$path.ksched-prev"; fi
    mv -f -- "$path.ksched-next" "$path"
    swapped="$swapped $path"
done
if [ "$TAKE_OVER" = 1 ]; then
    # a hand-made installation: its drop-ins put aside, other units running a kube-scheduler stopped
    mkdir -p "$STATE/taken-over"
    for d in $(systemctl show -p DropInPaths --value "$SERVICE"); do
        if ! is_claimed "$d"; then
            mv -f -- "$d" "$STATE/taken-over/$(claim_key "$d")" && aside="$aside $d"
        fi
    done
    for u in $(foreign_install | awk '$1 == "process" && $3 != "'"$SERVICE"'" && $3 != "no-unit" { print $3 }' | sort -u); do
        systemctl disable --now --quiet "$u" && stopped="$stopped $u"
    done
fi
if ! why=$(systemd-analyze verify "$UNIT" 2>&1); then
    put_back
    result failed "systemd-analyze verify refused the unit; nothing restarted: $(echo "$why" | tail -n 3 | tr '\n' ' ')"
    exit 1
fi
was_running=0
if systemctl is-active --quiet "$SERVICE"; then was_running=1; fi
systemctl daemon-reload
started=$(date +%s)
systemctl enable --quiet "$SERVICE"
systemctl restart "$SERVICE" || true  # the gate says why
# 3. the gate
if why=$(gate "$started"); then
    cp "$target" "$STATE/running.tmp"
    mv -f "$STATE/running.tmp" "$STATE/running"
    for path in $swapped; do rm -f -- "$path.ksched-prev"; done
    # files of an earlier layout (a moved configDir) this stack still claims
    for u in $stopped; do
        frag=$(systemctl show -p FragmentPath --value "$u")
        if [ -n "$frag" ] && [ -e "$frag" ]; then mv -f -- "$frag" "$STATE/taken-over/$(claim_key "$frag")"; fi
        echo "took over from $u (its unit file is kept in $STATE/taken-over)"
    done
    [ -z "$stopped" ] || systemctl daemon-reload
    for f in "$STATE"/claims/*; do
        [ -f "$f" ] || continue
        subject=$(cut -d' ' -f2- <"$f")
        case "$subject" in /*) ;; *) continue ;; esac
        if ! in_target "$subject"; then
            rm -f -- "$subject" "$subject.ksched-next" "$subject.ksched-prev"
            rm -f -- "$f"
            echo "removed $subject (no longer in the layout)"
        fi
    done
    if [ -f "$STATE/dirs" ]; then
        sort -r "$STATE/dirs" | while read -r d; do
            if ! under_target "$d" && rmdir -- "$d" 2>/dev/null; then
                grep -vxF "$d" "$STATE/dirs" >"$STATE/dirs.tmp" || true
                mv -f "$STATE/dirs.tmp" "$STATE/dirs"
                echo "removed $d (no longer in the layout)"
            fi
        done
    fi
    result ok "kube-scheduler healthy on the new files:$staged"
    exit 0
fi
echo "$host: kube-scheduler failed its gate: $why"
errors_since "$started"
put_back
if [ "$was_running" = 1 ] || [ -s "$STATE/running" ]; then
    systemctl restart "$SERVICE"
    # ask where the restored unit listens (the new one may have named another address)
    addr=$(sed -n 's/^ExecStart=.* --bind-address=\([^ ]*\).*/\1/p' "$UNIT")
    case "$addr" in "" | 0.0.0.0 | ::) addr=127.0.0.1 ;; *:*) addr="[$addr]" ;; esac
    READY_URL="https://$addr:${READY_URL##*:}"
    if ready "$TIMEOUT"; then
        result rolled-back "rolled back to its last good version after: $why"
    else
        result rolled-back "rolled back after: $why; still not ready on its last good version (got: ${body:-no answer})"
    fi
else
    systemctl disable --now --quiet "$SERVICE" 2>/dev/null || true
    result failed "no earlier version on this master to roll back to; stopped after: $why"
fi
exit 1
