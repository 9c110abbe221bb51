# The service step (delete): stop and disable the service, if this step still holds it.
# Parameters: STATE CLAIM SERVICE.
lock
if [ "$(claimed_by service:)" != "$CLAIM" ]; then
    echo "$SERVICE is held by another step of this stack; left running"
    exit 0
fi
systemctl disable --now --quiet "$SERVICE" 2>/dev/null || true
rm -f -- "$STATE/running"
unclaim service:
echo "stopped $SERVICE"
