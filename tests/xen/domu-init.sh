#!/bin/sh
# domu-init.sh: /init of the test bed's guest: runs memcheck with the sizes given on the
# kernel command line, and never exits (init must not).
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Kernel parameters read: fmxt.dirty=MIB (memory memcheck dirties and verifies; 0 = an
# idle guest that only reports it is alive), fmxt.pause=MS (pause between passes).
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

arg() {
    v=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^fmxt\.$1=//p" | tail -n 1)
    echo "${v:-$2}"
}

dirty=$(arg dirty 96)
pause=$(arg pause 20)
echo "fmxt-domu up uptime=$(cut -d' ' -f1 /proc/uptime) dirty=$dirty pause=$pause"
/memcheck "$dirty" "$pause"
echo "fmxt-domu memcheck exited rc=$?"
# Keep the console alive, so that a dead workload is told apart from a dead guest.
while :; do
    echo "fmxt-domu alive uptime=$(cut -d' ' -f1 /proc/uptime)"
    sleep 5
done
