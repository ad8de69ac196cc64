#!/bin/bash
# Installs the .deb that deploy/package.sh built on this machine with dpkg -i (as CI does, as
# root), checks what the package set up, and purges it again. Run after `cargo test`, never
# beside it: while /etc/zkb/config.toml exists every zkb on the machine is in system mode.
set -euo pipefail
cd "$(dirname "$0")/.."
deb=$(ls target/debian/zkb_*_amd64.deb | head -n1)
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
if dpkg -s zkb >/dev/null 2>&1; then
    echo "zkb is already installed here; not touching it"; exit 1
fi
fail() { echo "package-install: $*"; $SUDO dpkg --purge zkb >/dev/null 2>&1 || true; exit 1; }

$SUDO dpkg -i "$deb" >/tmp/zkb-dpkg.log 2>&1 || fail "dpkg -i failed: $(tail -n3 /tmp/zkb-dpkg.log)"
getent passwd zkb >/dev/null || fail "no zkb user"
[ "$(stat -c %U /var/lib/zkb)" = zkb ] || fail "/var/lib/zkb is not owned by zkb"
/usr/bin/zkb --version | grep -q "KB entries built in" || fail "zkb --version"
# As the service's user (not root), from the installed path: the rules check and a scan.
$SUDO su -s /bin/sh zkb -c 'cd / && /usr/bin/zkb check' >/dev/null || fail "zkb check as the zkb user"
$SUDO su -s /bin/sh zkb -c "/usr/bin/zkb scan --format json $(pwd)/examples/upgrade-night/mbx2" \
    | grep -q '"rule":"store.no-such-blob"' || fail "zkb scan as the zkb user"
# System mode: the installed config puts the store in /var/lib/zkb and learned rules in /etc/zkb.
shown=$(env -u XDG_CONFIG_HOME /usr/bin/zkb config show --format json)
echo "$shown" | grep -q '"mode":"system"' || fail "not in system mode: $shown"
echo "$shown" | grep -q '"learned_rules_dir":"/etc/zkb/rules"' || fail "learned rules not in /etc/zkb: $shown"
echo "$shown" | grep -q '"value":"/var/lib/zkb"' || fail "data not in /var/lib/zkb: $shown"
[ -f /usr/share/man/man1/zkb.1.gz ] || fail "no man page"
dpkg -L zkb | grep -q '^/etc/zkb/config.toml$' || fail "config not in the file list"
grep -qx /etc/zkb/config.toml /var/lib/dpkg/info/zkb.conffiles || fail "config is not a conffile"

$SUDO dpkg --purge zkb >/dev/null 2>&1 || fail "dpkg --purge failed"
[ ! -e /etc/zkb/config.toml ] && [ ! -e /var/lib/zkb ] || fail "purge left /etc/zkb/config.toml or /var/lib/zkb"
echo "package-install: $(basename "$deb") installed, checked as the zkb user and purged"
