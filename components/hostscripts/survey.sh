# Read-only, at preview: what is on this host that decides whether the stack may take it. One line
# per fact: "owner <project>/<stack>", "ours <step id>" (its prepare step), or what foreign_install
# and foreign_dir report. Parameters: STATE SERVICE UNIT BINARY DIRS.
if [ -f "$STATE/owner" ]; then echo "owner $(cat "$STATE/owner")"; fi
held=$(claimed_by host:)
if [ -n "$held" ]; then echo "ours $held"; fi
for d in $DIRS; do foreign_dir "$d"; done
foreign_install
