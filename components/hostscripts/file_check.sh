# A file step's host check: "<sha256> <mode> <owner>:<group>" of the version the service is to run
# (the staged one while a rollout is pending, else the file itself), or "absent"; a file this step
# does not claim (our records were lost, or a hand-made one with our content) reads "unclaimed", so
# the step writes it again and claims it, and a later delete removes it.
# Parameters: STATE CLAIM DST.
f="$DST"
if [ -f "$DST.ksched-next" ]; then f="$DST.ksched-next"; fi
if [ ! -f "$f" ]; then
    echo absent
elif [ "$(claimed_by "$DST")" != "$CLAIM" ]; then
    echo "unclaimed $DST"
else
    printf '%s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$(stat -c '%a %U:%G' -- "$f")"
fi
