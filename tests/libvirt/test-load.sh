#!/bin/sh
# test-load.sh: Debian's own libvirtd loads the rebuilt libxl driver module.
# In a private mount namespace the module is bind-mounted over the packaged
# connection-driver directory and /run and /var are fresh tmpfs, so that
# nothing on the host changes; libvirtd logs module loading to a file.  Without
# Xen the driver then disables itself ("neither /proc/xen/capabilities nor
# /dev/xen/xenstored exist"): that line comes from the module's own code.
# Needs root, unshare(1) and libvirtd (package libvirt-daemon).  Speaks TAP.
set -u
. "$(dirname "$0")/tap.sh"
mod=$FM_LIBVIRT_OUT/libvirt_driver_libxl.so
libvirtd=/usr/sbin/libvirtd
moddir=/usr/lib/$multiarch/libvirt/connection-driver

[ "$(id -u)" = 0 ] || skip_all "needs root for a mount namespace"
[ -x "$libvirtd" ] || skip_all "no $libvirtd (apt-get install libvirt-daemon)"
[ -d "$moddir" ] || skip_all "no $moddir (apt-get install libvirt-daemon-driver-xen)"
unshare -m --propagation private true 2>/dev/null || skip_all "cannot create a mount namespace here"

# What must not change on the host
host_state() {
    for p in /run/libvirt /run/libvirtd.pid /var/lib/libvirt /var/log/libvirt \
             /var/cache/libvirt /etc/libvirt; do
        if [ -e "$p" ]; then echo "$p: $(find "$p" 2>/dev/null | wc -l) entries"; else echo "$p: absent"; fi
    done
    sha256sum "$moddir"/*.so
}
host_state >"$tmp/host.before"

mkdir -p "$tmp/modules"
cp "$mod" "$tmp/modules/libvirt_driver_libxl.so"
log=$tmp/libvirtd.log
cat >"$tmp/libvirtd.conf" <<EOC
log_outputs = "1:file:$log"
log_filters = "1:driver 1:util.module 1:libxl 3:*"
EOC

# In the namespace: our module over the packaged directory, fresh /run and /var
# (/var/run is a link to /run on Debian), libvirtd until the log holds the last
# line the checks below look for (the driver's decision whether to run, or a load
# error), then stopped.  Its limit (300 s) is only a guard against a hang: a
# loaded host may be slow, so the test waits for the line, not for a time.
unshare -m --propagation private sh -c '
    set -e
    mount --bind "$1" "$2"
    mount -t tmpfs -o mode=755 tmpfs /run
    mount -t tmpfs -o mode=755 tmpfs /var
    ln -s /run /var/run
    mkdir -p /var/lib /var/log /var/cache /var/tmp
    "$3" -f "$4" >"$5.stdout" 2>&1 &
    pid=$!
    i=0
    while [ $i -lt 600 ]; do
        grep -qE "libxlStateInitialize|neither /proc/xen/capabilities nor /dev/xen/xenstored exist|Failed to load module|undefined symbol|cannot open shared object" \
            "$5" "$5.stdout" 2>/dev/null && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.5; i=$((i + 1))
    done
    kill $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
' sh "$tmp/modules" "$moddir" "$libvirtd" "$tmp/libvirtd.conf" "$log" >"$tmp/unshare.out" 2>&1
rc=$?

check "the namespace set-up and libvirtd ran (status $rc)" test "$rc" -eq 0
check "libvirtd wrote its log" test -s "$log"
check "libvirtd loaded the module from the packaged path" \
    grep -F "Load module file '$moddir/libvirt_driver_libxl.so'" "$log"
check "libvirtd found the module's entry point libxlRegister" \
    grep -F "Lookup function 'libxlRegister'" "$log"
check "no load error" sh -c "! grep -E 'Failed to load module|undefined symbol|cannot open shared object' '$log' '$log.stdout'"
if [ -e /proc/xen/capabilities ] || [ -e /dev/xen/xenstored ]; then
    check "the module's libxl driver ran its initialisation (Xen host)" \
        grep -E 'libxlStateInitialize|libxlDriverShouldLoad' "$log"
else
    check "the module's own code ran: it disabled itself, as without Xen it must" \
        grep -F 'neither /proc/xen/capabilities nor /dev/xen/xenstored exist' "$log"
fi
host_state >"$tmp/host.after"
check "nothing changed on the host (runtime dirs, packaged modules)" \
    diff "$tmp/host.before" "$tmp/host.after"
[ "$fails" -eq 0 ] || sed 's/^/# /' "$log" "$log.stdout" "$tmp/unshare.out" 2>/dev/null | tail -40

tap_done
