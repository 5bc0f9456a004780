#!/bin/bash
# Build a minimal arm64 Debian root for `vng --arch arm64 --root DIR`.
# No qemu-user/binfmt needed: packages are only extracted (no maintainer
# scripts run), so the few things those scripts would do are done by hand.
# On a foreign arch vng uses its bash init (virtme-init), which needs bash,
# coreutils, mount, setsid (util-linux), udev (creates /dev/virtio-ports/*
# for the script I/O ports) and `poweroff -f` (here: busybox).
# usage: mk-rootfs-arm64.sh DIR   (as root; uses the configured apt sources)
set -euo pipefail
dir=${1:?usage: $0 DIR}
rm -rf "$dir"
mmdebstrap --variant=extract --architectures=arm64 \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --include=libc6,bash,coreutils,util-linux,mount,udev,sed,grep,iproute2,busybox-static,python3-minimal \
    bookworm "$dir"
# base-passwd's postinst did not run: give the guest a passwd/group.
printf '%s\n' 'root:x:0:0:root:/root:/bin/bash' \
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' > "$dir/etc/passwd"
awk -F: '$3 < 1000 || $1 == "nogroup" {print $1 ":x:" $3 ":"}' /etc/group > "$dir/etc/group"
# virtme-init ends with `poweroff -f`; systemd-sysv is not installed.
ln -sf /bin/busybox "$dir/usr/sbin/poweroff"
