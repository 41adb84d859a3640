#!/bin/sh
# dom0-init.sh: /init of the test bed's dom0: mounts the kernel file systems, loads the
# Xen drivers, runs /dom0-test.sh, prints its result and powers the machine off.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A watchdog powers off at fmxt.deadline seconds of uptime whatever the test is doing,
# so that a hung step ends the run with a FAIL line instead of the host's kill.
export PATH=/usr/lib/xen-4.17/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/xen /run/xenstored /run/fmxt /var/lib/xen /var/lib/xenstored \
    /var/log/xen/console /var/lock /root

. /usr/lib/fmxt/dom0-lib.sh
echo "fmxt-dom0 init uptime=$(fmxt_now)"

# The Xen drivers, in dependency order (build-initrd.sh wrote the order).
while read -r m; do
    insmod "/lib/modules/$m.ko" || echo "fmxt-dom0: insmod $m failed"
done </lib/modules/load-order
mount -t xenfs xenfs /proc/xen || echo "fmxt-dom0: mounting xenfs failed"

power_off() {
    sync
    echo "fmxt-dom0 poweroff uptime=$(fmxt_now)"
    poweroff -f
    sleep 5
    # poweroff failed: leave the machine to the host's timeout, quietly.
    exec sleep 100000
}

scenario=$(fmxt_arg scenario migrate)
deadline=$(fmxt_arg deadline 270)
if [ "$scenario" != shell ] && [ "$deadline" -gt 0 ]; then
    (
        while [ "$(cut -d. -f1 /proc/uptime)" -lt "$deadline" ]; do sleep 2; done
        tap_not_ok "dom0 watchdog: the test was still running at ${deadline}s of uptime"
        echo "Bail out! dom0 watchdog"
        echo "FMXT-RESULT FAIL (watchdog)"
        power_off
    ) &
fi

# One of the two hosts of tests/libvirt-xen: libvirtd, then shells on the console for
# the host side's commands, until the watchdog or the host ends the run.
if [ "$scenario" = libvirt ]; then
    /dom0-test.sh --daemons-only
    . /usr/lib/fmxt/lvx.sh
    lvx_start
    export PS1="dom0-$LVX_NAME# "
    while :; do
        setsid cttyhack sh
        echo "fmxt-dom0: shell exited, restarting"
    done
fi

if [ "$scenario" = shell ]; then
    /dom0-test.sh --daemons-only
    echo "fmxt-dom0: interactive shell; 'poweroff -f' ends the run"
    setsid cttyhack sh -l
    power_off
fi

/dom0-test.sh
rc=$?
if [ $rc -eq 0 ]; then
    echo "FMXT-RESULT PASS"
else
    echo "FMXT-RESULT FAIL (dom0-test.sh exit status $rc)"
fi
power_off
