#!/bin/sh
# Installs the Debian packages of PKG1 into a throwaway copy of this machine (an overlay over /
# in a private mount namespace: nothing of the real system changes), makes a PKI, starts the
# packaged collector, configures the packaged agent (an administrator's change to its conffile)
# and sends; sends again with the collector down (the snapshot stays in the spool); upgrades to
# the packages of PKG2; checks that the configuration change, the spool and the store were
# kept; starts the upgraded collector and sends the spool. Run by packages_test.cpp.
#   tests/packaging/install_upgrade.sh PKG1_DIR PKG2_DIR
# Exit 0 when everything held; otherwise the failing step is printed.
set -eu
pkg1=$1
pkg2=$2
exec unshare --mount --fork sh -eu -s "$pkg1" "$pkg2" <<'INNER'
pkg1=$1
pkg2=$2
work=$(mktemp -d)
mount -t tmpfs tmpfs "$work"
mkdir -p "$work/upper" "$work/work" "$work/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/upper,workdir=$work/work" "$work/root"
root=$work/root
mount --bind /proc "$root/proc"
mount --bind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/tmp"
mkdir -p "$root/tmp/pkg1" "$root/tmp/pkg2"
cp "$pkg1"/*.deb "$root/tmp/pkg1/"
cp "$pkg2"/*.deb "$root/tmp/pkg2/"
step() { echo "== $*"; }
in_root() { chroot "$root" sh -eu -c "$1"; }

step "install the first packages"
in_root 'DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/pkg1/*.deb >/tmp/dpkg1.log 2>&1 || { cat /tmp/dpkg1.log; exit 1; }'
in_root 'getent passwd tidemark >/dev/null'
in_root 'test -x /usr/sbin/tidemark-agent && test -x /usr/libexec/tidemark/tidemark-uplink'

step "a PKI, the collector, and the agent's configuration (an administrator's change)"
in_root 'tidemarkctl pki init --dir /etc/tidemark/pki >/dev/null && tidemarkctl pki issue --dir /etc/tidemark/pki pkgtest >/dev/null'
collector=""
start_collector() {
  : >"$root/tmp/collector.log"
  chroot "$root" tidemark-collector --config /etc/tidemark/collector.conf \
    --listen 127.0.0.1:0 --ca /etc/tidemark/pki/ca.crt --cert /etc/tidemark/pki/collector.crt \
    --key /etc/tidemark/pki/collector.key --crl /etc/tidemark/pki/crl.pem \
    </dev/null >/dev/null 2>"$root/tmp/collector.log" &
  collector=$!
  i=0
  until grep -q '^info listening ' "$root/tmp/collector.log" 2>/dev/null; do
    i=$((i + 1))
    [ $i -le 100 ] || { echo "the collector did not start:"; cat "$root/tmp/collector.log"; exit 1; }
    sleep 0.1
  done
  port=$(sed -n 's/^info listening .* port=\([0-9]*\).*/\1/p' "$root/tmp/collector.log" | head -n 1)
}
stop_collector() {
  [ -n "$collector" ] || return 0
  kill -TERM "$collector" 2>/dev/null || true
  wait "$collector" 2>/dev/null || true
  collector=""
}
# Whatever happens, no collector outlives the test.
trap stop_collector EXIT
start_collector
sed -i -e 's|^ca = .*|ca = /etc/tidemark/pki/ca.crt|' \
  -e 's|^cert = .*|cert = /etc/tidemark/pki/agents/pkgtest.crt|' \
  -e 's|^key = .*|key = /etc/tidemark/pki/agents/pkgtest.key|' "$root/etc/tidemark/agent.conf"
cat >>"$root/etc/tidemark/agent.conf" <<EOF
# set by the administrator
collector = 127.0.0.1:$port
only = accounts
EOF
in_root 'tidemark-agent send --config /etc/tidemark/agent.conf 2>/tmp/send1.log || { cat /tmp/send1.log; exit 1; }'

step "the collector away: the snapshot stays in the spool"
stop_collector
rc=0
in_root 'tidemark-agent send --config /etc/tidemark/agent.conf --connect-timeout 2 2>/tmp/send2.log' || rc=$?
[ $rc -eq 75 ] || { echo "send without a collector exited $rc, not 75"; cat "$root/tmp/send2.log"; exit 1; }
spooled=$(ls "$root/var/lib/tidemark/spool" | grep -c '\.snap$' || true)
[ "$spooled" -ge 1 ] || { echo "nothing spooled"; ls -la "$root/var/lib/tidemark/spool"; exit 1; }

step "upgrade"
in_root 'DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/pkg2/*.deb >/tmp/dpkg2.log 2>&1 || { cat /tmp/dpkg2.log; exit 1; }'
in_root 'dpkg-query -W -f="\${Version}\n" tidemark-agent' | grep -qx '0.1.0-2' || { echo "not upgraded"; exit 1; }
grep -q '^# set by the administrator' "$root/etc/tidemark/agent.conf" || { echo "the conffile change was lost"; exit 1; }
test -f "$root/var/lib/tidemark/tidemark.db" || { echo "the store was lost"; exit 1; }
after=$(ls "$root/var/lib/tidemark/spool" | grep -c '\.snap$' || true)
[ "$after" = "$spooled" ] || { echo "the spool changed in the upgrade: $spooled -> $after"; exit 1; }

step "the upgraded collector receives the spool"
start_collector
sed -i "s/^collector = .*/collector = 127.0.0.1:$port/" "$root/etc/tidemark/agent.conf"
in_root 'tidemark-agent send --config /etc/tidemark/agent.conf 2>/tmp/send3.log || { cat /tmp/send3.log; exit 1; }'
stop_collector
left=$(ls "$root/var/lib/tidemark/spool" | grep -c '\.snap$' || true)
[ "$left" = 0 ] || { echo "$left snapshot(s) left in the spool"; exit 1; }
received=$(in_root 'tidemarkctl --db /var/lib/tidemark/tidemark.db hosts --format json')
echo "$received" | grep -q '"id": *"pkgtest"' || { echo "no host pkgtest in the store: $received"; exit 1; }
echo "$received"
step "ok"
INNER
