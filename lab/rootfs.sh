#!/usr/bin/env bash
# Build (once) the Debian bookworm root filesystem the lab's machines (masters and nodes) boot from:
#   $KSCHED_CACHE/rootfs/bookworm-<hash of the package set> (and rootfs/current pointing at it)
# debootstrap minbase + $PACKAGES. It is a read-only lower layer: each machine boots from its own
# overlay (lab/ksched_lab/machines.py), so nothing per-host (host keys, machine-id, addresses)
# lives here. Idempotent: an existing, complete rootfs is reused.
set -euo pipefail

KSCHED_CACHE="${KSCHED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksched}"
SUITE="${SUITE:-bookworm}"
LOGDIR="$KSCHED_CACHE/logs"
# masters: systemd + sshd + curl; nodes also run containerd, runc, the CNI plugins and iptables
# (kube-proxy); containerd is disabled here and enabled on the nodes only.
PACKAGES="systemd,systemd-sysv,dbus,openssh-server,curl,ca-certificates,iproute2,containerd,runc,containernetworking-plugins,iptables"
# One directory per package set: machines keep the rootfs their disk was made on; `current` is
# what new disks get.
ROOTFS="$KSCHED_CACHE/rootfs/$SUITE-$(echo "$PACKAGES" | sha256sum | cut -c1-12)"
STAMP="$ROOTFS/.ksched-rootfs-complete"
CURRENT="$KSCHED_CACHE/rootfs/current"
mkdir -p "$LOGDIR" "$KSCHED_CACHE/rootfs"

if [ -f "$STAMP" ]; then
  ln -sfn "$(basename "$ROOTFS")" "$CURRENT"
  echo "==> rootfs $ROOTFS present"
  exit 0
fi

# The Debian mirror as configured for apt on this machine (deb822 *.sources or
# one-line sources.list); first URI that serves the suite.
apt_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      /^URIs:/ {uri=$2} /^Suites:/ {for (i=2;i<=NF;i++) if ($i==suite) ok=1}
      /^[[:space:]]*$/ {if (ok && uri ~ /debian\/?$/) {print uri; exit} ok=0; uri=""}
      END {if (ok && uri ~ /debian\/?$/) print uri}' "$f" | head -n1
  done
  grep -hE "^deb[[:space:]]+[^[:space:]]+[[:space:]]+$SUITE[[:space:]]" /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '$2 ~ /debian\/?$/ {print $2}' || true
}
MIRROR="${DEBIAN_MIRROR:-$(apt_mirror | head -n1 || true)}"
[ -n "$MIRROR" ] || { echo "no Debian mirror for $SUITE found in /etc/apt" >&2; exit 1; }

missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >"$LOGDIR/rootfs-apt.log" 2>&1 || {
    apt-get update >>"$LOGDIR/rootfs-apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >>"$LOGDIR/rootfs-apt.log" 2>&1
  }
fi

TMP="$ROOTFS.tmp.$$"
trap 'rm -rf "$TMP"' EXIT
t0=$(date +%s)
echo "==> debootstrap $SUITE minbase from $MIRROR (log: $LOGDIR/rootfs.log)"
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$TMP" "$MIRROR" >"$LOGDIR/rootfs.log" 2>&1; then
  echo "debootstrap failed; last lines of $LOGDIR/rootfs.log:" >&2
  tail -n 40 "$LOGDIR/rootfs.log" >&2
  exit 1
fi

echo "==> configure rootfs"
# Host keys come from the lab state per machine, never from this common image.
rm -f "$TMP"/etc/ssh/ssh_host_*
# Empty machine-id: each machine gets its own (stable) one from the lab state.
: >"$TMP/etc/machine-id"
# Addresses are configured by systemd-networkd from a per-machine .network file.
chroot "$TMP" systemctl enable systemd-networkd.service >>"$LOGDIR/rootfs.log" 2>&1
chroot "$TMP" systemctl enable ssh.service >>"$LOGDIR/rootfs.log" 2>&1
# Units that cannot work in a container and would only make the system "degraded".
chroot "$TMP" systemctl mask systemd-networkd-wait-online.service >>"$LOGDIR/rootfs.log" 2>&1 || true
chroot "$TMP" systemctl disable containerd.service >>"$LOGDIR/rootfs.log" 2>&1
chroot "$TMP" apt-get clean >>"$LOGDIR/rootfs.log" 2>&1 || true
rm -rf "$TMP"/var/lib/apt/lists/* "$TMP"/var/cache/apt/*.bin
echo "$PACKAGES" >"$TMP/.ksched-rootfs-complete"
rm -rf "$ROOTFS"
mv "$TMP" "$ROOTFS"
ln -sfn "$(basename "$ROOTFS")" "$CURRENT"
trap - EXIT
echo "    rootfs: ok in $(( $(date +%s) - t0 ))s ($(du -sh "$ROOTFS" | cut -f1))"
