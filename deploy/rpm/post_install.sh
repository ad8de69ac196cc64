# zkb's own system user and state directory (nothing of Zimbra's is changed).
getent group zkb >/dev/null || groupadd -r zkb
getent passwd zkb >/dev/null || useradd -r -g zkb -d /var/lib/zkb -s /sbin/nologin -c "zkb Zimbra log watcher" zkb
mkdir -p /var/lib/zkb /etc/zkb/rules /etc/zkb/kb
chown zkb:zkb /var/lib/zkb
chmod 0750 /var/lib/zkb
[ -d /run/systemd/system ] && systemctl daemon-reload >/dev/null 2>&1 || :
