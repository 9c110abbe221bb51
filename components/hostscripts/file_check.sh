# A file step's host check: "<sha256> <mode> <owner>:<group>" of the version the service is to run
# (the staged one while a rollout is pending, else the file itself), or "absent".
# Parameters: DST.
f="$DST"
if [ -f "$DST.ksched-next" ]; then f="$DST.ksched-next"; fi
if [ -f "$f" ]; then
    printf '%s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$(stat -c '%a %U:%G' -- "$f")"
else
    echo absent
fi
