# dom0-lvx.sh: helpers for one host of the two-host libvirt test (tests/libvirt-xen/),
# sourced by busybox sh as /usr/lib/fmxt/lvx.sh: the link address, libvirtd, guests
# and one timed `virsh migrate` with its job statistics sampled on the way.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The host side (run.sh) calls these through the serial console; every line they print
# that the host side parses starts with "lvx-".
. /usr/lib/fmxt/dom0-lib.sh

LVX_HOST=$(fmxt_arg host a)
case $LVX_HOST in
a) LVX_IP=10.77.0.1 LVX_PEER=hostb LVX_UUID=aaaaaaaa-0000-4000-8000-00000000000a ;;
*) LVX_IP=10.77.0.2 LVX_PEER=hosta LVX_UUID=bbbbbbbb-0000-4000-8000-00000000000b ;;
esac
LVX_NAME=host$LVX_HOST
LVX_MODDIR=/usr/lib/x86_64-linux-gnu/libvirt/connection-driver
V="timeout 60 virsh -c xen:///system"

# lvx_network: hostname and the address on the link to the other host.  The
# destination's Prepare builds its migration URI from its hostname, so each host needs
# its own, resolvable by the other (/etc/hosts).
lvx_network() {
    hostname "$LVX_NAME"
    ip link set lo up
    ip link set eth0 up && ip addr add "$LVX_IP/24" dev eth0 ||
        echo "lvx-error: eth0 set-up failed"
}

# lvx_libvirtd_start [fragmig|distrib]: starts libvirtd with the patched libxl module
# (default) or the packaged one (a host whose driver knows no VIR_MIGRATE_FRAGMENTED);
# returns when the libxl driver answers (its socket exists before the drivers load).
lvx_libvirtd_start() {
    [ -f "$LVX_MODDIR/libvirt_driver_libxl.so.fragmig" ] ||
        cp "$LVX_MODDIR/libvirt_driver_libxl.so" "$LVX_MODDIR/libvirt_driver_libxl.so.fragmig"
    case ${1:-fragmig} in
    fragmig) cp "$LVX_MODDIR/libvirt_driver_libxl.so.fragmig" "$LVX_MODDIR/libvirt_driver_libxl.so" ;;
    *) cp /usr/lib/fmxt/libvirt_driver_libxl.so.distrib "$LVX_MODDIR/libvirt_driver_libxl.so" ;;
    esac
    libvirtd --listen -d -f /etc/libvirt/libvirtd.conf -p /run/libvirtd.pid
    _i=0
    while [ $_i -lt 90 ]; do
        timeout 10 virsh -q -c xen:///system version >/dev/null 2>&1 && return 0
        sleep 1
        _i=$((_i + 1))
    done
    echo "lvx-error: libvirtd does not answer"
    grep -E ' error ' /var/log/libvirt/libvirtd.log | tail -n 5
    return 1
}

# lvx_libvirtd_kill [SIGNAL]: ends libvirtd (KILL by default) and waits for it to go.
lvx_libvirtd_kill() {
    _p=$(cat /run/libvirtd.pid 2>/dev/null)
    [ -n "$_p" ] || return 1
    kill "-${1:-KILL}" "$_p"
    _i=0
    while kill -0 "$_p" 2>/dev/null && [ $_i -lt 30 ]; do sleep 1; _i=$((_i + 1)); done
    rm -f /run/libvirtd.pid
}

# lvx_start: /init's part: the link, libvirtd's configuration (TCP without
# authentication: a test link only), libvirtd; prints the line run.sh waits for.
lvx_start() {
    lvx_network
    cat >/etc/libvirt/libvirtd.conf <<EOC
listen_tls = 0
listen_tcp = 1
auth_tcp = "none"
auth_unix_rw = "none"
auth_unix_ro = "none"
host_uuid = "$LVX_UUID"
log_filters = "1:libxl 1:fragmig 3:util 3:rpc 3:conf 3:object 3:event 3:access 3:security"
log_outputs = "1:file:/var/log/libvirt/libvirtd.log"
EOC
    # keepalive relaxed: a TCG dom0 can be slow to answer
    printf 'keepalive_interval = 30\nkeepalive_count = 10\n' >/etc/libvirt/libxl.conf
    _t0=$(fmxt_now)
    if lvx_libvirtd_start; then _up=yes; else _up=NO; fi
    echo "fmxt-dom0 ready host=$LVX_NAME libvirtd=$_up in $(fmxt_since "$_t0")s"
}

# lvx_create NAME MEM_MIB DIRTY_MIB [persistent]: starts a PVH guest running memcheck,
# transient (virsh create) or persistent (define + start).
lvx_create() {
    sed -e "s/@NAME@/$1/g" -e "s/@MEM@/$(($2 * 1024))/g" -e "s/@DIRTY@/$3/g" \
        /usr/lib/fmxt/guest.xml.in >"/tmp/$1.xml"
    if [ "${4:-}" = persistent ]; then
        $V define "/tmp/$1.xml" >/dev/null && $V start "$1"
    else
        $V create "/tmp/$1.xml"
    fi
}

# lvx_guest NAME: "lvx-guest PASS BAD" from memcheck on this host's console logs
lvx_guest() {
    echo "lvx-guest $(fmxt_guest_pass "$1") $(fmxt_guest_bad "$1")"
}

# lvx_gone NAME: succeeds when neither Xen nor libvirt knows NAME here (a persistent
# definition counts as left behind).
lvx_gone() {
    ! fmxt_domain_exists "$1" && ! $V dominfo "$1" >/dev/null 2>&1
}

# lvx_wall: "lvx-wall SECONDS": this host's wall clock (Xen's, as the guests see it).
lvx_wall() {
    echo "lvx-wall $(/usr/lib/fmxt/date +%s.%N)"
}

# lvx_tx: bytes sent on the link so far
lvx_tx() {
    cat /sys/class/net/eth0/statistics/tx_bytes
}

# lvx_sending MIB [rx]: returns once this host has sent (rx: received) MIB MiB more
# on the link than when it was called (a migration's memory is on its way), or after
# 300 s; then prints "lvx-at sending T" (T: seconds since the migration started,
# $LVX_T0).  Controls aimed at the data phase wait for it: under load, set-up alone
# can take seconds.
lvx_sending() {
    _f=/sys/class/net/eth0/statistics/${2:-tx}_bytes
    _s0=$(cat "$_f")
    _i=0
    while [ "$(cat "$_f")" -lt $((_s0 + $1 * 1048576)) ] && [ $_i -lt 1200 ]; do
        sleep 0.25
        _i=$((_i + 1))
    done
    echo "lvx-at sending $(fmxt_since "${LVX_T0:-0}")"
}

# lvx_migrate NAME OPTIONS...: `virsh migrate OPTIONS NAME xen+tcp://PEER/system`,
# timed, with `virsh domjobinfo --rawstats NAME` sampled every second into
# /tmp/lvx-jobinfo.log ("lvx-sample T" before each; raw: virsh prints the time
# remaining of bounded jobs only, and a migration is unbounded).  $LVX_DURING, if set, is run in the background as the
# migration starts, with these helpers and LVX_T0 (its output in /tmp/lvx-during.log).  Prints virsh's output and
# "lvx-migrate rc=RC secs=S txbytes=B pass=P" (B: bytes this host sent on the link,
# P: the guest's memcheck pass when it started).
lvx_migrate() {
    _n=$1
    shift
    : >/tmp/lvx-jobinfo.log
    : >/tmp/lvx-during.log
    _pass=$(fmxt_guest_pass "$_n")
    _tx0=$(lvx_tx)
    _t0=$(fmxt_now)
    touch /tmp/lvx-sampling
    (
        while [ -f /tmp/lvx-sampling ]; do
            echo "lvx-sample $(fmxt_since "$_t0")"
            timeout 10 virsh -c xen:///system domjobinfo --rawstats "$_n" 2>&1 | grep -v '^$'
            sleep 1
        done >>/tmp/lvx-jobinfo.log 2>&1
    ) &
    _sampler=$!
    _during=""
    if [ -n "${LVX_DURING:-}" ]; then
        LVX_T0=$_t0 sh -c ". /usr/lib/fmxt/lvx.sh; $LVX_DURING" >/tmp/lvx-during.log 2>&1 &
        _during=$!
    fi
    timeout 280 virsh -c xen:///system migrate "$@" "$_n" "xen+tcp://$LVX_PEER/system" \
        >/tmp/lvx-migrate.out 2>&1
    _rc=$?
    _secs=$(fmxt_since "$_t0")
    _tx=$(($(lvx_tx) - _tx0))
    rm -f /tmp/lvx-sampling
    _i=0
    while kill -0 "$_sampler" 2>/dev/null && [ $_i -lt 15 ]; do sleep 1; _i=$((_i + 1)); done
    kill "$_sampler" 2>/dev/null
    _i=0
    while [ -n "$_during" ] && kill -0 "$_during" 2>/dev/null && [ $_i -lt 30 ]; do sleep 1; _i=$((_i + 1)); done
    cat /tmp/lvx-migrate.out
    echo "lvx-migrate rc=$_rc secs=$_secs txbytes=$_tx pass=$_pass"
    return $_rc
}

# lvx_jobinfo_check: checks /tmp/lvx-jobinfo.log (a fragmented migration's samples):
# memory processed grows, memory remaining shrinks, iteration, dirty rate and the
# expected time remaining are reported.  Prints "lvx-jobinfo ..." with what it saw;
# blank= counts samples of the active job without statistics once some were shown.
lvx_jobinfo_check() {
    awk '
        /^memory_processed:/ { p = $2; np++; if (np > 1 && p > lp) grow++; lp = p }
        /^memory_remaining:/ { r = $2; nr++; if (nr > 1 && r < lr) shrink++; lr = r }
        /^lvx-sample/ { if (insample && active && seen && !data) blank++
                        insample = 1; active = 0; data = 0 }
        /^Job type: 2$/ { active = 1 }
        /^memory_processed:/ { data = 1; seen = 1 }
        /^memory_iteration:/ { it++; if ($2 + 0 > maxit) maxit = $2 + 0 }
        /^memory_dirty_rate:/ { dr++ }
        /^time_remaining:/ { tr++ }
        END { if (insample && active && seen && !data) blank++
              printf "lvx-jobinfo samples=%d grow=%d shrink=%d iterations=%d maxit=%d dirty=%d remaining=%d blank=%d\n",
                     np, grow, shrink, it, maxit, dr, tr, blank
              exit !(grow > 0 && shrink > 0 && it > 0 && dr > 0 && tr > 0) }' /tmp/lvx-jobinfo.log
}
