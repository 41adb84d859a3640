#!/bin/sh
# test-receive-guard.sh: a receiver that no stranger can stop or hold: connections
# that bring no valid migration (a connect-and-close, garbage, an idle peer, a
# trickle) are refused and logged, never end a receiver nor hold a --parallel
# slot; the --parallel migrations' memory is counted together; SIGTERM says what it
# did.  TAP.  Needs $FRAGMIG and $FM_TEST_DATA (set by make check) and tests/fault-proxy.
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u
: "${FRAGMIG:?}" "${FM_TEST_DATA:?}"
. "$(dirname "$0")/guest-lib.sh"
guest_test_begin receive-guard
proxy_bin=$(dirname "$FRAGMIG")/tests/fault-proxy
LONG=600
RECV_TIMEOUT=$LONG
GUEST_ARGS="--memory 16M --workload web --rate 10%"

stop() {
    kill -9 "$@" 2>/dev/null
    for p in "$@"; do wait "$p" 2>/dev/null; done
}

# refusals: the number of connections the receiver refused so far
refusals() { grep -c 'refused a connection from' "$tmp/recv.err" 2>/dev/null; }
# wait_refusals N: until the receiver has refused N connections
wait_refusals() {
    for _ in $(seq 600); do [ "$(refusals)" -ge "$1" ] && return 0; sleep 0.1; done
    return 1
}

# ---- a receiver of one guest: strangers first, then the real source ----
if start_receiver --setup-timeout 1 --min-rate 4K; then
    port=${addr##*:}
    socat -u /dev/null TCP:127.0.0.1:"$port" 2>/dev/null                 # connect and close
    check "connect-and-close: refused and logged, the receiver listens on" \
        'wait_refusals 1 && kill -0 "$receiver"'
    printf 'GET / HTTP/1.0\r\n\r\n' | socat -u STDIN TCP:127.0.0.1:"$port" 2>/dev/null
    check "garbage: refused as not a fragmig stream, the receiver listens on" \
        'wait_refusals 2 && grep -q "not a fragmig stream" "$tmp/recv.err" && kill -0 "$receiver"'
    socat -u TCP:127.0.0.1:"$port" STDOUT >/dev/null 2>&1 &                # idle
    idle=$!
    pids="$pids $idle"
    check "idle: refused at the setup deadline, whatever --timeout says" \
        'wait_refusals 3 && grep -q "did not complete the setup within 1 s" "$tmp/recv.err" && kill -0 "$receiver"'
    stop "$idle"
    start_guest
    timeout 120 "$FRAGMIG" migrate --pid "$guest" --quiet "$addr" >"$tmp/mig.out" 2>"$tmp/mig.err"
    st=$?
    for _ in $(seq 300); do grep -q 'resumed' "$tmp/recv.out" && break; sleep 0.1; done
    check "after the strangers, the real migration completes" \
        '[ $st -eq 0 ] && grep -q "and resumed" "$tmp/recv.out" && advancing "$receiver"'
else
    notok "single receiver: start"
fi
stop "$receiver" "$guest"

# ---- a trickle: a valid header and record header, then a byte a second ----
# (a valid header makes it a migration: --parallel drops it and serves on)
if start_receiver --parallel 2 --min-rate 4K; then
    # no-end.fmstream: 512-byte pages; a PAGE_DATA record of one page (528 bytes):
    # its header and count at once, then the rest a byte a second
    { head -c 40 "$FM_TEST_DATA/streams/no-end.fmstream"; printf '\001\000\000\000\020\002\000\000\001\000\000\000\000\000\000\000'
      for _ in $(seq 40); do printf '\000'; sleep 1; done; } |
        socat -u STDIN TCP:127.0.0.1:"${addr##*:}" 2>/dev/null &
    trickle=$!
    pids="$pids $trickle"
    check "trickle: dropped under the minimum rate, the receiver serves on" \
        'wait_line "$tmp/recv.err" "/the peer sends too slowly/p" >/dev/null && kill -0 "$receiver"'
    stop "$trickle"
else
    notok "trickle: start"
fi
stop "$receiver"

# ---- --parallel 1: an idle connection holds no slot ----
if start_receiver --parallel 1 --setup-timeout $LONG; then
    socat -u TCP:127.0.0.1:"${addr##*:}" STDOUT >/dev/null 2>&1 &
    idle=$!
    pids="$pids $idle"
    start_guest
    timeout 120 "$FRAGMIG" migrate --pid "$guest" --quiet "$addr" >"$tmp/mig.out" 2>"$tmp/mig.err"
    st=$?
    check "--parallel 1: a migration completes while an idle connection waits" \
        '[ $st -eq 0 ] && wait_line "$tmp/recv.out" "/and resumed/p" >/dev/null'
    stop "$idle"
else
    notok "--parallel 1: start"
fi
# SIGTERM: a --parallel receiver ends the children that run its guests (SIGKILL
# would leave them running)
kill -TERM "$receiver" 2>/dev/null
wait "$receiver" 2>/dev/null
stop "$guest"

# ---- --parallel: the migrations' memory is counted together ----
# two guests of 16 MiB, a limit of 24 MiB: while the first is held mid-way (its
# memory reserved), the second is refused for the sum, not for its own size
if start_receiver --parallel 2 --max-memory 24M; then
    start_guest
    g1=$guest
    "$proxy_bin" --to "$addr" --fault hold --at ROUND_END >"$tmp/proxy.out" 2>"$tmp/proxy.err" &
    proxy=$!
    pids="$pids $proxy"
    paddr=$(wait_line "$tmp/proxy.out" 's/^fault-proxy: listening on //p')
    "$FRAGMIG" migrate --pid "$g1" --quiet --timeout $LONG "$paddr" >"$tmp/m1.out" 2>"$tmp/m1.err" &
    m1=$!
    wait_line "$tmp/proxy.out" 's/^fault-proxy: hold at offset //p' >/dev/null
    start_guest
    g2=$guest
    timeout 120 "$FRAGMIG" migrate --pid "$g2" --quiet "$addr" >"$tmp/m2.out" 2>"$tmp/m2.err"
    st=$?
    check "--parallel: the second guest is refused for the memory in flight, and runs on" \
        "[ $st -eq 1 ] && grep -q 'the guest (16.00 MiB) and the 1 migrations being received (16.00 MiB) need more than the destination.s memory limit (24.00 MiB)' '$tmp/m2.err' && advancing $g2"
    kill -USR1 "$proxy"
    wait "$m1"
    st=$?
    check "--parallel: the first completes once released" '[ $st -eq 0 ]'
    stop "$g2" "$proxy"
else
    notok "--parallel memory: start"
fi
kill -TERM "$receiver"
wait "$receiver"
st=$?
check "--parallel: SIGTERM stops the receiver with status 0, saying so" \
    "[ $st -eq 0 ] && grep -q 'fragmig receive: stopped' '$tmp/recv.out'"

# ---- SIGTERM of a receiver of one guest, waiting ----
if start_receiver; then
    kill -TERM "$receiver"
    wait "$receiver"
    st=$?
    check "SIGTERM while waiting: status 1, and it says so (not 'timed out')" \
        "[ $st -eq 1 ] && grep -q 'interrupted (SIGTERM) before a migration came: nothing received' '$tmp/recv.err' && ! grep -q 'timed out' '$tmp/recv.err'"
else
    notok "SIGTERM: start"
fi

echo "1..$n"
[ "$fails" -eq 0 ]
