#!/bin/sh
# test-faults.sh: local live migrations through injected faults.  TAP.
#
# Between `fragmig migrate` and `fragmig receive` runs tests/fault-proxy, which
# injects one fault at a chosen point of the stream: short writes, corrupt bytes,
# a stall, a reset (RST), at the setup (the stream header), in a pre-copy round,
# in the stop-and-copy pages (after the last ROUND_END, guest paused) and in the
# DIGEST.  Inside the processes, tests/fault-shim.so (LD_PRELOAD) makes socket
# system calls fail with EINTR and move few bytes at a time.  A fault the protocol
# can absorb (short transfers, EINTR) must leave a verified migration; any other
# must leave: the source guest running with its work counter advancing, the
# receiver's copy discarded, both processes failing (exit 1) with the cause in
# their message.  A stall is ended by the source's --timeout; the proxy is then
# killed, and the receiver must discard the cut stream.
#
# No outcome depends on the host's speed: every process waits up to $LONG seconds
# (a guard against hangs, never reached on a working build however loaded the
# host), except the source in the stall cases, whose short --timeout is what the
# case tests; the stall is the only silence in those runs, and it lasts until the
# proxy is killed.
# Needs $FRAGMIG and $FM_TEST_DATA (set by make check); the proxy and the shim are
# built next to fragmig (make check builds them).
set -u
: "${FRAGMIG:?}" "${FM_TEST_DATA:?}"
builddir=${FM_TEST_BUILDDIR:-$(dirname "$FRAGMIG")}
proxy_bin=$builddir/tests/fault-proxy
shim=$builddir/tests/fault-shim.so
. "$(dirname "$0")/guest-lib.sh"
guest_test_begin faults

T=${FM_TEST_TIMEOUT:-2}   # the source's --timeout in the stall cases, seconds
LONG=${FM_TEST_LONG_TIMEOUT:-120}   # every other --timeout: only a guard against hangs

GUEST_ARGS="--memory 16M --workload idle"
RECV_TIMEOUT=$LONG
MIG_TIMEOUT=$LONG

if [ ! -x "$proxy_bin" ] || [ ! -f "$shim" ]; then
    echo "1..0 # SKIP $proxy_bin or $shim not built"
    exit 0
fi

# start_proxy ARGS...: a fault proxy to the receiver; sets $proxy and $paddr
start_proxy() {
    rm -f "$tmp/proxy.out"
    "$proxy_bin" --to "$addr" "$@" >"$tmp/proxy.out" 2>"$tmp/proxy.err" &
    proxy=$!
    pids="$pids $proxy"
    paddr=$(wait_line "$tmp/proxy.out" 's/^fault-proxy: listening on //p')
}
# migrate TARGET [ENV...]: runs the migration in the foreground; status in $mstatus
migrate() {
    target=$1; shift
    env "$@" "$FRAGMIG" migrate --pid "$guest" --policy xen --quiet --timeout $MIG_TIMEOUT \
        "$target" >"$tmp/mig.out" 2>"$tmp/mig.err"
    mstatus=$?
}
# end: stops what is left of a case
end_case() {
    kill -9 "$guest" "$receiver" $proxy 2>/dev/null
    wait "$guest" "$receiver" $proxy 2>/dev/null
    proxy=
    rm -f "$tmp"/*.out "$tmp"/*.err
}

# ---- faults the protocol absorbs: the migration completes, verified ----
# (a receiver that adopts a guest needs userfaultfd, which valgrind does not
# implement: under make check-valgrind these receivers run natively)
RECV_ENV="env FM_VALGRIND_NATIVE=1"
# survived WHAT: the migration succeeded, the receiver runs the guest, the source ended
survived() {
    for _ in $(seq 300); do grep -q 'resumed' "$tmp/recv.out" && break; sleep 0.1; done
    if [ "$mstatus" -ne 0 ]; then notok "$1: migrate exit $mstatus"
    elif ! grep -q '^fragmig receive: guest verified .* and resumed' "$tmp/recv.out"; then notok "$1: receiver verified"
    elif ! advancing "$receiver"; then notok "$1: workload runs on the receiver"
    else ok "$1: migration verified, guest runs on the receiver"
    fi
}

for where in 0 "PAGE_DATA#2+100" "ROUND_END+16" "DIGEST"; do
    proxy=
    start_guest && start_receiver && start_proxy --fault short --at "$where" --len 8192 ||
        { notok "short writes at $where: start"; end_case; continue; }
    migrate "$paddr"
    survived "short writes at $where"
    check "short writes at $where: injected" "grep -q '^fault-proxy: short at offset' '$tmp/proxy.out'"
    end_case
done

# the back channel: the RESULT arrives a few bytes at a time
proxy=
start_guest && start_receiver && start_proxy --fault short --dir down --at 0
migrate "$paddr"
survived "short writes of the RESULT"
end_case

# EINTR and short reads/writes inside both processes
: >"$tmp/shim.log"
RECV_ENV="env FM_VALGRIND_NATIVE=1 LD_PRELOAD=$shim FM_FAULT_SHIM=eintr=5,short=3000 FM_FAULT_SHIM_LOG=$tmp/shim.log ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
start_guest && start_receiver
migrate "$addr" LD_PRELOAD="$shim" FM_FAULT_SHIM=eintr=5,short=3000 FM_FAULT_SHIM_LOG="$tmp/shim.log" \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
survived "EINTR and short transfers in both processes"
RECV_ENV=
kill -TERM "$receiver"     # a clean exit, so that the shim writes its counts
wait_exit "$receiver" 10
end_case
sed 's/^/# /' "$tmp/shim.log"
check "EINTR and short transfers: injected into both processes" \
    "[ \$(grep -c 'eintr=[1-9][0-9]* short=[1-9]' '$tmp/shim.log') -ge 2 ]"
proxy=

# ---- faults that end the migration ----
# failed WHAT SOURCE-CAUSE RECEIVER-CAUSE: both failed with their cause, the source
# guest runs and advances, the receiver discarded its copy
failed() {
    wait_exit "$receiver" $LONG
    rstatus=$status
    check "$1: migrate fails" "[ '$mstatus' -eq 1 ]"
    check "$1: source reports the cause" \
        "grep -Eq \"migration of pid $guest failed, the guest keeps running here: .*($2)\" '$tmp/mig.err'"
    check "$1: source guest running and advancing" 'running "$guest" && advancing "$guest"'
    check "$1: receiver fails and discards its copy" \
        "[ '$rstatus' -eq 1 ] && ! grep -q 'guest verified' '$tmp/recv.out' && grep -q 'migration failed, nothing kept: ' '$tmp/recv.err'"
    check "$1: receiver reports the cause" \
        "grep -Eq \"migration failed, nothing kept: .*($3)\" '$tmp/recv.err'"
    sed 's/^/# source: /' "$tmp/mig.err"
    sed 's/^/# receiver: /' "$tmp/recv.err"
}

# refused_setup WHAT SOURCE-CAUSE RECEIVER-CAUSE: a fault in the stream header: the
# source failed with its cause and runs its guest; the receiver refused the
# connection (no valid migration came), says why, and listens on
refused_setup() {
    wait_line "$tmp/recv.err" '/refused a connection from/p' >/dev/null
    check "$1: migrate fails" "[ '$mstatus' -eq 1 ]"
    check "$1: source reports the cause" \
        "grep -Eq \"migration of pid $guest failed, the guest keeps running here: .*($2)\" '$tmp/mig.err'"
    check "$1: source guest running and advancing" 'running "$guest" && advancing "$guest"'
    check "$1: receiver refuses the connection, keeps nothing, listens on" \
        "kill -0 '$receiver' && ! grep -q 'guest verified' '$tmp/recv.out'"
    check "$1: receiver reports the cause" \
        "grep -Eq \"refused a connection from [^ ]*: .*($3)\" '$tmp/recv.err'"
    sed 's/^/# source: /' "$tmp/mig.err"
    sed 's/^/# receiver: /' "$tmp/recv.err"
}

# setup: the stream header; a pre-copy round (page data of round 0); the
# stop-and-copy (the first record after the last ROUND_END: the xen policy with an
# idle guest runs one pre-copy round); the DIGEST record's digest bytes
points="setup:20 pre-copy:PAGE_DATA#3+300000 stop-and-copy:ROUND_END+16 digest:DIGEST+20"
reset_src='connection reset by peer|broken pipe|closed the connection|connection closed by peer'
reset_dst='connection reset by peer|connection closed by peer|stream truncated|without an END'
timeout_msg="timed out after $T s waiting for the peer"

for point in $points; do
    name=${point%%:*} where=${point#*:}
    case $name in
        setup)         corrupt='header checksum mismatch at offset 32' ;;
        pre-copy)      corrupt='memory digest mismatch|out of range|does not match' ;;
        stop-and-copy) corrupt='unknown record type 0x000000f[ae]' ;;
        digest)        corrupt='memory digest mismatch' ;;
    esac
    for kind in corrupt reset stall; do
        what="$kind at $name ($where)"
        start_guest && start_receiver && start_proxy --fault $kind --at "$where" ||
            { notok "$what: start"; end_case; continue; }
        [ $kind = stall ] && MIG_TIMEOUT=$T
        migrate "$paddr"
        MIG_TIMEOUT=$LONG
        check "$what: injected" "grep -q '^fault-proxy: $kind at offset' '$tmp/proxy.out'"
        check_end=failed
        [ "$name" = setup ] && check_end=refused_setup
        case $kind in
            corrupt) $check_end "$what" "the destination refused the migration: .*($corrupt)" "$corrupt" ;;
            reset)   $check_end "$what" "$reset_src" "$reset_dst" ;;
            stall)   # the source gave up; the stalled connection dies with the proxy
                     kill -9 $proxy; wait $proxy 2>/dev/null
                     $check_end "$what" "$timeout_msg" "$reset_dst|did not complete the setup" ;;
        esac
        end_case
    done
done

# the connection closed in order (FIN) mid-round: the receiver sees the stream cut
what="close at pre-copy (PAGE_DATA#2+5000)"
if start_guest && start_receiver && start_proxy --fault close --at "PAGE_DATA#2+5000"; then
    migrate "$paddr"
    check "$what: injected" "grep -q '^fault-proxy: close at offset' '$tmp/proxy.out'"
    failed "$what" "$reset_src" "stream truncated at offset [0-9]+ \\(in the body of the PAGE_DATA record at offset [0-9]+\\)"
else
    notok "$what: start"
fi
end_case

# ---- limits: a guest larger than the receiver accepts is refused up front ----
start_guest && start_receiver --max-memory 8M
migrate "$addr"
proxy=
failed "guest over --max-memory" \
    "the destination refused the migration: the guest .* exceeds the destination.s memory limit of 8388608 bytes" \
    "exceeds the destination.s memory limit of 8388608 bytes"
end_case

# the default limit is the host's available memory (MemAvailable): a header that
# announces 2^40 pages of 64 KiB is refused before anything is allocated
"$FRAGMIG" receive --stdin --no-resume <"$FM_TEST_DATA/streams/guest-too-large.fmstream" \
    >"$tmp/r.out" 2>"$tmp/r.err"
st=$?
avail=$(awk '/^MemAvailable:/ { printf "%.0f", $2 * 1024 }' /proc/meminfo)
limit=$(sed -n "s/.*exceeds the destination's memory limit of \([0-9]*\) bytes.*/\1/p" "$tmp/r.err")
check "default limit: the available memory ($limit bytes; MemAvailable $avail)" \
    '[ $st -eq 1 ] && [ -n "$limit" ] && [ "$limit" -gt $((avail / 2)) ] && [ "$limit" -lt $((avail * 2)) ]'

echo "1..$n"
[ "$fails" -eq 0 ]
