# $1 is 0 on erase, 1 on upgrade.
if [ "$1" = 0 ] && [ -d /run/systemd/system ]; then
    systemctl --no-reload disable --now zkb.service zkb-preflight-boot.service >/dev/null 2>&1 || :
fi
