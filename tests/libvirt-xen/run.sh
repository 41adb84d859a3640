#!/bin/bash
# run.sh: the two-host libvirt test: `virsh migrate --live [--fragmented]` between two
# Xen 4.17 hosts booted in QEMU (TCG), each dom0 running Debian's libvirtd with the
# patched libxl module (make libvirt-driver), joined by an Ethernet link that QEMU
# carries over 127.0.0.1.  Drives both dom0 shells over their serial consoles, prints
# TAP, a table of the migrations and a PASS/FAIL line.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: LIBVIRT_OUT=DIR tests/libvirt-xen/run.sh     (make check-libvirt-xen)
# Environment:
#   LIBVIRT_OUT   the output of `make libvirt-driver` (libvirt_driver_libxl.so, virsh)
#   FM_XEN_WORK   the Xen test bed's work directory (tests/xen/setup.sh --shadow)
#   LVX_TIMEOUT   seconds for the whole run (default 1200): QEMU is killed after that
#   LVX_DIRTY     MiB the 128 MiB guest rewrites continuously (default 32)
#   LVX_KEEP=1    leave both hosts running at the end (for a look at them: con.py)
# Exit status: 0 every test passed; 1 a test failed; 2 not set up.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
XEN_TESTS=$(cd "$HERE/../xen" && pwd)
WORK=${FM_XEN_WORK:-/var/tmp/fragmig-xen}
OUT=$WORK/out
RUN=$WORK/libvirt-xen
TIMEOUT=${LVX_TIMEOUT:-1200}
DIRTY=${LVX_DIRTY:-32}
XEN_IMAGE=$WORK/xen-shadow/xen
T0=$EPOCHREALTIME

die() { echo "run.sh: error: $*" >&2; exit 2; }
el() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

[ -n "${LIBVIRT_OUT:-}" ] || die "LIBVIRT_OUT is not set (make check-libvirt-xen sets it)"
[ -f "$WORK/versions.txt" ] || die "$WORK is not set up: run tests/xen/setup.sh --shadow"
[ -f "$XEN_IMAGE" ] || die "no shadow-paging hypervisor: run tests/xen/setup.sh --shadow"
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64: run tests/xen/setup.sh"

mkdir -p "$RUN"
exec 9>"$WORK/.run.lock"
flock -n 9 || die "another test bed run is using $WORK"
rm -f "$RUN"/*.log "$RUN"/*.sock "$RUN"/table.txt "$RUN"/gone

# ---- TAP ------------------------------------------------------------------------------
n=0 fails=0
# gone: a host's QEMU ended: no result can be trusted any more
gone() {
    [ -e "$RUN/gone" ] || return 0
    echo "1..$n"
    echo "Bail out! $(cat "$RUN/gone") is gone (QEMU ended; console logs in $RUN)"
    exit 1
}
ok() { gone; n=$((n + 1)); echo "ok $n - $* [$(el)s]"; }
nok() { gone; n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $* [$(el)s]"; }
# check DESC CMD...: ok when CMD succeeds
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
diag() { sed 's/^/# /'; }

# c HOST TIMEOUT CMD: runs CMD in HOST's dom0 shell; Xen's console lines left out
c() {
    local h=$1 t=$2
    shift 2
    # a host whose QEMU is gone (killed at LVX_TIMEOUT) ends the run at the
    # next result (this may run in a subshell)
    [ -S "$RUN/$h.sock" ] || { echo "host$h" >"$RUN/gone"; return 125; }
    "$HERE/con.py" "$RUN/$h.sock" "$t" "$@" | grep -av '^(XEN)'
    return "${PIPESTATUS[0]}"
}
# lvx HOST TIMEOUT CMD: CMD with dom0-lvx.sh's helpers
lvx() { local h=$1 t=$2; shift 2; c "$h" "$t" ". /usr/lib/fmxt/lvx.sh; $*"; }
other() { [ "$1" = a ] && echo b || echo a; }
# field NAME TEXT: the value of NAME=VALUE in TEXT's lvx- lines
field() { sed -n "s/^lvx-.* $1=\([^ ]*\).*/\1/p" <<<"$2" | tail -n 1; }

# ---- the hosts --------------------------------------------------------------------------
pids=()
cleanup() {
    [ "${LVX_KEEP:-0}" = 1 ] && return
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
}
trap cleanup EXIT

echo "# building the dom0 image with libvirtd"
LIBVIRT_OUT=$LIBVIRT_OUT timeout 300 "$XEN_TESTS/build-initrd.sh" "$WORK" >"$RUN/build.log" 2>&1 ||
    { diag <"$RUN/build.log"; echo "Bail out! image build"; exit 1; }
diag <"$RUN/build.log"

# A free port from the kernel for the link: host b listens on it, host a connects.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
xen_args="console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=512M,max:512M dom0_max_vcpus=2"
# boot HOST NETDEV MAC: one host in QEMU (shadow-paging Xen: tests/xen/README.md says why)
boot() {
    local h=$1
    timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -cpu qemu64,+svm \
        -smp 2 -m 1536 -nodefaults -display none -monitor none -no-reboot \
        -kernel "$XEN_IMAGE" -append "$xen_args" \
        -initrd "$OUT/vmlinuz console=hvc0 earlyprintk=xen loglevel=4 panic=5 fmxt.scenario=libvirt fmxt.host=$h fmxt.deadline=$TIMEOUT,$OUT/dom0-libvirt.cpio.gz" \
        -netdev "$2" -device "e1000,netdev=n0,mac=$3" \
        -chardev "socket,id=ser0,path=$RUN/$h.sock,server=on,wait=off,logfile=$RUN/$h-console.log" \
        -serial chardev:ser0 </dev/null >"$RUN/$h-qemu.log" 2>&1 &
    pids+=($!)
}
boot b "socket,id=n0,listen=127.0.0.1:$port" 52:54:00:77:00:0b
for i in $(seq 50); do [ -S "$RUN/b.sock" ] && break; sleep 0.2; done
boot a "socket,id=n0,connect=127.0.0.1:$port" 52:54:00:77:00:0a
for h in a b; do
    if r=$("$HERE/con.py" "$RUN/$h.sock" --wait 'fmxt-dom0 ready host=[^\r\n]*' 480) &&
        grep -q 'libvirtd=yes' <<<"$r"; then
        ok "host$h booted, libvirtd serves with the patched libxl driver ($r)"
    else
        nok "host$h booted, libvirtd serves ($r)"
    fi
done
[ $fails = 0 ] || { tail -n 30 "$RUN"/a-console.log "$RUN"/b-console.log | diag; echo "Bail out! hosts"; exit 1; }
check "hostb's libvirtd answers hosta over the link" c a 60 'timeout 30 virsh -c xen+tcp://hostb/system version >/dev/null'

# The guest measures its downtime on its own clock, which Xen sets from the wall
# clock of the host it runs on: the difference of the two hosts' clocks is taken out.
# clock_offset HOST: HOST's wall clock minus this machine's, from the reading with the
# shortest round trip of three
clock_offset() {
    local best=9 off=0 i t1 t2 w
    for i in 1 2 3; do
        t1=$EPOCHREALTIME
        w=$(lvx "$1" 20 lvx_wall | sed -n 's/^lvx-wall //p')
        t2=$EPOCHREALTIME
        [ -n "$w" ] || continue
        read -r rt o < <(awk -v a="$t1" -v b="$t2" -v w="$w" 'BEGIN { printf "%.3f %.3f\n", b - a, w - (a + b) / 2 }')
        if awk -v r="$rt" -v b="$best" 'BEGIN { exit !(r < b) }'; then best=$rt off=$o; fi
    done
    echo "$off"
}
off_a=$(clock_offset a)
off_b=$(clock_offset b)
echo "# wall clocks: hosta ${off_a}s, hostb ${off_b}s from this machine's"

# ---- the guest ----------------------------------------------------------------------------
G=g1
guest_pass() { lvx "$1" 30 "lvx_guest $G" | sed -n 's/^lvx-guest \([0-9]*\) .*/\1/p'; }
guest_bad() { lvx "$1" 30 "lvx_guest $G" | sed -n 's/^lvx-guest [0-9]* \([0-9]*\)/\1/p'; }
running_on() { c "$1" 30 "timeout 30 virsh -c xen:///system domstate $G" | grep -q '^running'; }
gone_from() { lvx "$1" 60 "lvx_gone $G"; }
# inactive_on HOST: G is only a persistent definition on HOST (shut off, not in Xen)
inactive_on() {
    c "$1" 30 "timeout 30 virsh -c xen:///system domstate $G" | grep -q '^shut off' &&
        ! c "$1" 30 "xl list $G >/dev/null 2>&1"
}

check "virsh create $G (PVH, 128 MiB, memcheck rewriting $DIRTY MiB) on hosta" \
    lvx a 150 "lvx_create $G 128 $DIRTY >/dev/null"
for i in $(seq 60); do [ "$(guest_pass a)" -gt 2 ] 2>/dev/null && break; sleep 2; done
check "memcheck runs in $G" test "$(guest_pass a)" -gt 2

# guest_goes_on HOST PASS: memcheck on HOST goes past PASS (and its current pass), bad=0
guest_goes_on() {
    local p0 p i
    p0=$(guest_pass "$1")
    for i in $(seq 30); do
        p=$(guest_pass "$1")
        [ -n "$p" ] && [ "$p" -gt "$2" ] && [ "$p" -gt "${p0:-0}" ] && break
        sleep 2
    done
    echo "# memcheck on host$1: pass $2 -> ${p0:-?} -> ${p:-?}, bad=$(guest_bad "$1")"
    [ -n "$p" ] && [ "$p" -gt "$2" ] && [ "$p" -gt "${p0:-0}" ] && [ "$(guest_bad "$1")" = 0 ]
}

# downtime SRC DST PASS: the guest's longest heartbeat gap after PASS on DST (its
# downtime as it lived it, ms), less the difference of the two hosts' clocks
downtime() {
    local gap offs
    gap=$(c "$2" 30 ". /usr/lib/fmxt/dom0-lib.sh; fmxt_guest_hb_gap $G $3" | tr -dc '0-9')
    local os=off_$1 od=off_$2
    offs=$(awk -v s="${!os}" -v d="${!od}" 'BEGIN { print d - s }')
    awk -v g="${gap:-0}" -v o="$offs" 'BEGIN { d = g - o * 1000; printf "%.0f\n", d < 0 ? 0 : d }'
}

printf '%-44s %-6s %8s %12s %12s\n' "migration" "from" "time_s" "link_bytes" "downtime_ms" >"$RUN/table.txt"
MIG_OUT=""
# mig SRC KEEP OPTIONS...: `virsh migrate OPTIONS` of G from SRC to the other host,
# driven by SRC's virsh.  Checks: virsh succeeds; G runs on the other host only
# (KEEP=keep: a persistent definition stays on SRC, shut off); its memcheck goes on
# there with bad=0.  A row of the table: time, bytes SRC sent on the link, downtime.
mig() {
    local src=$1 dst keep=$2 rc pass secs bytes dt
    dst=$(other "$src")
    shift 2
    if [ -n "${MIG_DURING:-}" ]; then
        MIG_OUT=$(lvx "$src" 300 "export LVX_DURING='$MIG_DURING'; lvx_migrate $G $*; unset LVX_DURING")
    else
        MIG_OUT=$(lvx "$src" 300 "lvx_migrate $G $*")
    fi
    rc=$(field rc "$MIG_OUT") secs=$(field secs "$MIG_OUT")
    bytes=$(field txbytes "$MIG_OUT") pass=$(field pass "$MIG_OUT")
    grep -v '^lvx-' <<<"$MIG_OUT" | grep -v '^$' | diag
    if [ "$rc" != 0 ]; then
        nok "virsh migrate $* host$src -> host$dst (rc=${rc:-none})"
        return 1
    fi
    ok "virsh migrate $* host$src -> host$dst: ${secs}s, $bytes bytes on the link"
    if [ "$keep" = keep ]; then
        check "$G runs on host$dst; on host$src only its definition, shut off" \
            eval "running_on $dst && inactive_on $src"
    else
        check "$G runs on host$dst, nothing of it left on host$src" eval "running_on $dst && gone_from $src"
    fi
    check "memcheck goes on on host$dst, memory intact" guest_goes_on "$dst" "$pass"
    dt=$(downtime "$src" "$dst" "$pass")
    printf '%-44s %-6s %8s %12s %12s\n' "$*" "host$src" "$secs" "$bytes" "$dt" >>"$RUN/table.txt"
}

# completed HOST: `virsh domjobinfo --completed G` on HOST reports a completed job
# with its downtime
completed() {
    local o
    o=$(c "$1" 60 "timeout 30 virsh -c xen:///system domjobinfo --completed --keep-completed $G")
    diag <<<"$o"
    grep -q '^Job type: *Completed' <<<"$o" && grep -q '^Total downtime:' <<<"$o"
}
# iterations HOST: the Iteration of G's completed job on HOST
iterations() {
    c "$1" 60 "timeout 30 virsh -c xen:///system domjobinfo --completed --keep-completed $G" |
        sed -n 's/^Iteration: *\([0-9]*\).*/\1/p'
}

# ---- migrations: plain and fragmented, the three fragmented modes -------------------------
# during a plain migration, a downtime limit would change nothing: refused (asked
# once the memory is on its way: before, it is the limit of the next migration)
MIG_DURING='lvx_sending 8; virsh -c xen:///system migrate-setmaxdowntime g1 50; echo setmaxdowntime=$?'
mig a gone --live
MIG_DURING=''
during=$(lvx a 30 'cat /tmp/lvx-during.log')
diag <<<"$during"
check "migrate-setmaxdowntime during a plain migration is refused" \
    eval "grep -q 'setmaxdowntime=1' <<<\"\$during\" && grep -q 'without VIR_MIGRATE_FRAGMENTED' <<<\"\$during\""
mig b gone --live --fragmented
jo=$(lvx b 30 lvx_jobinfo_check)
check "domjobinfo on the source during it: memory processed grows, remaining shrinks, iteration, dirty rate, time remaining (${jo#lvx-jobinfo })" \
    grep -Eq 'grow=[1-9].* shrink=[1-9].* iterations=[1-9].* dirty=[1-9].* remaining=[1-9]' <<<"$jo"
check "domjobinfo shows the statistics until the job ends, after the engine too (${jo#lvx-jobinfo })" \
    grep -q ' blank=0' <<<"$jo"
lvx b 10 'head -n 16 /tmp/lvx-jobinfo.log' | diag
check "the engine's own messages are in the source's libvirtd log" \
    lvx b 30 "grep -q 'fragmig: job' /var/log/libvirt/libvirtd.log"
check "domjobinfo --completed on the destination, transient guest: completed, downtime" completed a
it_default=$(iterations a)
mig a gone --live --fragmented --p2p
mig b gone --live --fragmented --p2p --tunnelled

# ---- controls during a fragmented migration -------------------------------------------------
# migrate-setspeed 4 MiB/s once 24 MiB are on their way, domjobabort 10 s later; the
# rate before and after, from the source's domjobinfo samples
before=$(guest_pass a)
MIG_OUT=$(lvx a 300 "export LVX_DURING='lvx_sending 24; virsh -c xen:///system migrate-setspeed $G 4; echo speed=\$?; sleep 10; echo lvx-at abort \$(fmxt_since \$LVX_T0); virsh -c xen:///system domjobabort $G; echo abort=\$?'; lvx_migrate $G --live --fragmented; unset LVX_DURING")
diag <<<"$MIG_OUT"
during=$(lvx a 10 'cat /tmp/lvx-during.log')
diag <<<"$during"
ts=$(sed -n 's/^lvx-at sending //p' <<<"$during") ta=$(sed -n 's/^lvx-at abort //p' <<<"$during")
rates=$(lvx a 10 'cat /tmp/lvx-jobinfo.log' | awk -v ts="${ts:-0}" -v ta="${ta:-0}" '
    /^lvx-sample/ { t = $2 }
    /^memory_processed:/ { p = $2 / 1048576
        if (p > 0 && t <= ts) { if (nb++ == 0) { b0 = t; bp = p } b1 = t; bq = p }
        if (t >= ts + 2.5 && t < ta) { if (na++ == 0) { a0 = t; ap = p } a1 = t; aq = p } }
    END { if (b1 > b0 && a1 > a0) printf "%.2f %.2f\n", (bq - bp) / (b1 - b0), (aq - ap) / (a1 - a0) }')
echo "# memory rate before and after migrate-setspeed 4: ${rates:-?} MiB/s"
check "migrate-setspeed mid-run: the rate drops to about 4 MiB/s (${rates:-?} MiB/s)" \
    awk -v r="${rates:-0 99}" 'BEGIN { split(r, x, " "); exit !(x[2] <= 4.5 && x[2] < x[1] * 0.6) }'
check "domjobabort mid-run: virsh migrate fails with 'cancelled'" grep -q 'cancelled' <<<"$MIG_OUT"
check "a warning in libvirtd's log: the downtime limit is out of reach under that speed" \
    lvx a 30 "grep -q 'downtime limit is out of reach' /var/log/libvirt/libvirtd.log"
check "after the abort $G runs on hosta, nothing on hostb" eval "running_on a && gone_from b"
check "memcheck goes on on hosta, memory intact" guest_goes_on a "$before"
lvx a 30 "virsh -c xen:///system migrate-setspeed $G 0" >/dev/null

# --fragment-abort-if-busy with a bandwidth the guest cannot converge under
before=$(guest_pass a)
MIG_OUT=$(lvx a 200 "lvx_migrate $G --live --fragmented --fragment-abort-if-busy --bandwidth 8")
diag <<<"$MIG_OUT"
check "--fragment-abort-if-busy under 8 MiB/s: refused as too busy" eval "[ '$(field rc "$MIG_OUT")' != 0 ] && grep -q 'too busy' <<<\"\$MIG_OUT\""
check "$G runs on hosta, nothing on hostb" eval "running_on a && gone_from b"
dt=$(downtime a a "$before")
predicted=$(sed -n 's/.*predicted downtime \([0-9]*\) ms.*/\1/p' <<<"$MIG_OUT" | head -n 1)
echo "# the guest's longest stall meanwhile: $dt ms; the engine predicted a downtime of ${predicted:-?} ms"
check "it was refused before pausing: the guest never stopped for the predicted downtime" \
    test -n "$predicted" -a "$dt" -lt "$((${predicted:-0} / 2))"

# ---- persistent guests, --completed on both sides, setmaxdowntime -----------------------------
check "virsh define: $G becomes persistent on hosta" \
    c a 60 "virsh -c xen:///system dumpxml $G >/tmp/$G-p.xml && virsh -c xen:///system define /tmp/$G-p.xml >/dev/null"
# with a downtime limit of 20 s: the engine stops after fewer iterations than at the
# default 300 ms (the fragmented migration hostb -> hosta above)
c a 30 "virsh -c xen:///system migrate-setmaxdowntime $G 20000" >/dev/null
mig a keep --live --fragmented --persistent
check "domjobinfo --completed on the source, persistent guest" completed a
check "domjobinfo --completed on the destination, persistent guest" completed b
check "domjobinfo --completed prints the fragmented statistics (stop reason)" \
    eval "c a 60 'virsh -c xen:///system domjobinfo --completed --keep-completed $G' | grep -q '^fragmented.stop_reason'"
it_long=$(iterations a)
check "migrate-setmaxdowntime 20000 stops earlier: iteration ${it_long:-?} vs ${it_default:-?} at 300 ms" \
    test -n "$it_long" -a -n "$it_default" -a "${it_long:-0}" -lt "${it_default:-0}"
c a 30 "virsh -c xen:///system migrate-setmaxdowntime $G 300" >/dev/null
mig b gone --live --fragmented --persistent --undefinesource

# ---- failures -----------------------------------------------------------------------------
# a destination driver that does not know the flag (the packaged module)
check "hostb's libvirtd restarted with the packaged libxl module" \
    lvx b 120 "lvx_libvirtd_kill TERM; lvx_libvirtd_start distrib"
MIG_OUT=$(lvx a 200 "lvx_migrate $G --live --fragmented")
diag <<<"$MIG_OUT"
check "--fragmented to a driver without the flag fails: unsupported flags" \
    eval "[ '$(field rc "$MIG_OUT")' != 0 ] && grep -q 'unsupported flags' <<<\"\$MIG_OUT\""
check "$G runs on hosta, nothing on hostb" eval "running_on a && gone_from b"
mig a keep --live
check "the second migration did not wait for a leaked job" eval "! grep -q 'state change lock' <<<\"\$MIG_OUT\""
check "hostb's libvirtd restarted with the patched module; $G still running there" \
    eval "lvx b 120 'lvx_libvirtd_kill TERM; lvx_libvirtd_start' && running_on b"
mig b gone --live --fragmented --persistent

# disrupted WHAT ACTION: a fragmented migration hosta -> hostb, ACTION run in hostb's
# dom0 once it received 16 MiB of it; the migration fails and the guest goes on at hosta
disrupted() {
    local before mpid
    before=$(guest_pass a)
    lvx a 300 "lvx_migrate $G --live --fragmented" >"$RUN/disrupted.out" &
    mpid=$!
    lvx b 320 "lvx_sending 16 rx" | diag
    lvx b 60 "$2" | diag
    wait $mpid
    MIG_OUT=$(cat "$RUN/disrupted.out")
    diag <<<"$MIG_OUT"
    check "$1: virsh migrate fails with an error" \
        eval "[ '$(field rc "$MIG_OUT")' != 0 ] && grep -q '^error: ' <<<\"\$MIG_OUT\""
    check "$G runs on hosta" running_on a
    check "memcheck goes on on hosta, memory intact" guest_goes_on a "$before"
}

disrupted "destination libvirtd killed mid-migration" "lvx_libvirtd_kill KILL; echo libvirtd killed"
check "hostb's libvirtd starts again" lvx b 120 lvx_libvirtd_start
check "nothing of $G left on hostb" gone_from b

# the link cut for good at hostb's end: no FIN, no RST.  The driver's stream
# timeouts end the send on hosta (30 s of unacknowledged data) and the restore on
# hostb (keepalive probes unanswered, about 35 s of silence).
disrupted "link cut mid-stream" "ip link set eth0 down; echo link down"
# gone_soon HOST: G leaves HOST, which may notice the silence after the source did
gone_soon() {
    local i
    for i in $(seq 24); do gone_from "$1" && return 0; sleep 5; done
    return 1
}
check "nothing of $G left on hostb" gone_soon b

# ---- the end ----------------------------------------------------------------------------------
crash=$(grep -ahE 'Triple fault|Panic on CPU|Kernel panic|Oops:|general protection|BUG: ' \
    "$RUN"/a-console.log "$RUN"/b-console.log | grep -v '__LVX' | head -n 3)
check "no crash on either console" test -z "$crash"
for h in a b; do
    c "$h" 60 "grep -E ' error |fragm' /var/log/libvirt/libvirtd.log | grep -v xencall | cut -c1-300" >"$RUN/libvirtd-$h.log"
done
echo "1..$n"
echo "# migrations (downtime: the guest's own, less the hosts' clock difference):"
diag <"$RUN/table.txt"
echo "# total $(el)s; logs in $RUN"
if [ $fails = 0 ]; then echo "PASS: $n tests"; else echo "FAIL: $fails of $n"; fi
[ $fails = 0 ]
