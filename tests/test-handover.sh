#!/bin/sh
# test-handover.sh: the handover (docs/stream-format.md §5.1): whatever fails, never
# two running copies of a guest, and none only where the outcome cannot be known,
# with the command that resumes it.  The fault proxy holds each migration at a chosen
# step, the test strikes (kills migrate with SIGKILL or SIGHUP, stops the receiver,
# loses the commit or its reply), then releases it.  TAP.
# Needs $FRAGMIG (set by make check) and tests/fault-proxy.
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u
: "${FRAGMIG:?}"
. "$(dirname "$0")/guest-lib.sh"
guest_test_begin handover
proxy_bin=$(dirname "$FRAGMIG")/tests/fault-proxy
LONG=600
RECV_TIMEOUT=$LONG
GUEST_ARGS="--memory 32M --workload web --rate 25%"

# stop PID...: ends background processes and reaps them
stop() {
    kill -9 "$@" 2>/dev/null
    for p in "$@"; do wait "$p" 2>/dev/null; done
}

# stopped PID: the process exists and is stopped (SIGSTOP: a paused source copy)
stopped() {
    [ -r "/proc/$1/stat" ] || return 1
    state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat")
    [ "$state" = T ] || [ "$state" = t ]
}

# handed_over PID: the copy carries the handover mark
handed_over() { "$FRAGMIG" inspect --pid "$1" 2>/dev/null | grep -q '^handed_over=yes$'; }

# held_at WHERE [DIR] [MIGRATE-ARGS...]: a guest, a receiver, the proxy holding at
# WHERE (in direction DIR: up or down) and the migration in the background ($mig);
# returns once the proxy holds it
held_at() {
    where=$1 dir=$2
    shift 2
    start_guest && start_receiver || return 1
    rm -f "$tmp/proxy.out" "$tmp/mig.out" "$tmp/mig.err"
    "$proxy_bin" --to "$addr" --fault hold --at "$where" --dir "$dir" \
        >"$tmp/proxy.out" 2>"$tmp/proxy.err" &
    proxy=$!
    pids="$pids $proxy"
    paddr=$(wait_line "$tmp/proxy.out" 's/^fault-proxy: listening on //p') || return 1
    "$FRAGMIG" migrate --pid "$guest" --quiet --timeout $LONG "$@" "$paddr" \
        >"$tmp/mig.out" 2>"$tmp/mig.err" &
    mig=$!
    wait_line "$tmp/proxy.out" 's/^fault-proxy: hold at offset //p' >/dev/null
}

# receiver_discards WHAT: the receiver ends without running the guest
receiver_discards() {
    wait_exit "$receiver" $LONG
    check "$1: the receiver discards its copy" \
        "[ \$status -eq 1 ] && grep -q 'nothing kept' '$tmp/recv.err' && ! grep -q 'resumed' '$tmp/recv.out'"
}

# ---- migrate killed before the commit, at four steps: the guest runs here again ----
for sig in KILL HUP; do
    for step in "setup:40:up" "pre-copy:ROUND_END:up" "pause:DIGEST:up" "prepare:PREPARE:up"; do
        name=${step%%:*} rest=${step#*:}
        what="SIG$sig at $name"
        if ! held_at "${rest%%:*}" "${rest#*:}"; then notok "$what: held"; stop "$guest" "$receiver" "$proxy"; continue; fi
        kill -s "$sig" "$mig"
        wait "$mig" 2>/dev/null
        check "$what: the source guest runs again" 'advancing "$guest" && ! handed_over "$guest"'
        kill -USR1 "$proxy"
        receiver_discards "$what"
        if [ "$name" = pause ]; then
            check "$what: the sentinel says the guest runs here again" \
                "wait_line '$tmp/mig.err' '/runs here again/p' >/dev/null && grep -q 'ended before it committed to the handover: the guest (pid $guest) runs here again' '$tmp/mig.err'"
            # a retry to another receiver after the crash: one copy, on the new receiver
            start_receiver
            timeout $LONG "$FRAGMIG" migrate --pid "$guest" --quiet "$addr" >"$tmp/mig2.out" 2>"$tmp/mig2.err"
            st=$?
            check "$what: a retry completes, the copy runs on the new receiver only" \
                '[ $st -eq 0 ] && gone "$guest" && advancing "$receiver"'
        fi
        stop "$guest" "$receiver" "$proxy"
    done
done

# ---- migrate killed after the commit: the destination runs it, ours stays paused ----
for sig in KILL HUP; do
    what="SIG$sig after the commit"
    # down 8: READY went through; the hold comes with the RESULT, after END
    if ! held_at 8 down; then notok "$what: held"; stop "$guest" "$receiver" "$proxy"; continue; fi
    kill -s "$sig" "$mig"
    wait "$mig" 2>/dev/null
    kill -USR1 "$proxy"
    check "$what: the destination runs the guest" \
        "wait_line '$tmp/recv.out' '/and resumed/p' >/dev/null && advancing \"\$receiver\""
    check "$what: the source copy stays stopped and marked handed over" \
        'stopped "$guest" && handed_over "$guest"'
    # (wait for the sentinel: it speaks, and lets go of the guest, once it saw
    # migrate end)
    check "$what: the sentinel says where the copy is and how to resume it" \
        "wait_line '$tmp/mig.err' '/stays paused/p' >/dev/null && grep -q \"its copy here (pid $guest) stays paused. If the guest runs nowhere else, resume it with 'fragmig resume --force --pid $guest'\" '$tmp/mig.err'"
    "$FRAGMIG" migrate --pid "$guest" --quiet --timeout 5 tcp://127.0.0.1:1 >"$tmp/m3.out" 2>"$tmp/m3.err"
    st=$?
    check "$what: a later migrate is refused at once" \
        "[ $st -eq 1 ] && grep -q 'was handed over by an earlier migration' '$tmp/m3.err'"
    "$FRAGMIG" resume --pid "$guest" >"$tmp/res.out" 2>"$tmp/res.err"
    st=$?
    check "$what: resume without --force is refused" \
        "[ $st -eq 1 ] && grep -q 'resume it only if it runs nowhere else, with --force' '$tmp/res.err' && stopped \"\$guest\""
    stop "$receiver"
    "$FRAGMIG" resume --force --pid "$guest" >"$tmp/res.out" 2>"$tmp/res.err"
    st=$?
    check "$what: resume --force runs the copy here again" \
        '[ $st -eq 0 ] && advancing "$guest" && ! handed_over "$guest"'
    stop "$guest" "$proxy"
done

# ---- the receiver is stopped past the source's --timeout before it answers ----
what="receiver stopped past --timeout"
if held_at PREPARE up --timeout 1; then
    kill -STOP "$receiver"
    kill -USR1 "$proxy"
    wait_exit "$mig" $LONG
    check "$what: migrate fails (exit 1), the guest runs here" \
        '[ $status -eq 1 ] && advancing "$guest"'
    kill -CONT "$receiver"
    receiver_discards "$what"
else
    notok "$what: held"
fi
stop "$guest" "$receiver" "$proxy"

# ---- the commit lost: no copy runs, and the message says how to resume ----
# reset_at WHERE DIR: a guest, a receiver and a migration through a proxy that
# resets both connections at WHERE; waits for the migration ($status)
reset_at() {
    start_guest && start_receiver || return 1
    rm -f "$tmp/proxy.out"
    "$proxy_bin" --to "$addr" --fault reset --at "$1" --dir "$2" >"$tmp/proxy.out" 2>"$tmp/proxy.err" &
    proxy=$!
    pids="$pids $proxy"
    paddr=$(wait_line "$tmp/proxy.out" 's/^fault-proxy: listening on //p') || return 1
    timeout $LONG "$FRAGMIG" migrate --pid "$guest" --quiet --timeout $LONG "$paddr" \
        >"$tmp/mig.out" 2>"$tmp/mig.err"
    status=$?
}
what="commit lost"
if reset_at END up; then
    check "$what: migrate exits 3 naming the paused copy and the command" \
        "[ \$status -eq 3 ] && grep -q 'outcome unknown: .*the copy here (pid $guest) stays paused and marked handed over. If the guest runs nowhere else, resume it here with: fragmig resume --force --pid $guest' '$tmp/mig.err'"
    check "$what: the source copy stays stopped, marked" 'stopped "$guest" && handed_over "$guest"'
    receiver_discards "$what"
    "$FRAGMIG" resume --force --pid "$guest" >"$tmp/res.out" 2>"$tmp/res.err"
    check "$what: resume --force brings the one copy back" 'advancing "$guest"'
else
    notok "$what: start"
fi
stop "$guest" "$receiver" "$proxy"

what="reply lost"
if reset_at 8 down; then
    check "$what: migrate exits 3, the outcome unknown" \
        "[ \$status -eq 3 ] && grep -q 'outcome unknown' '$tmp/mig.err'"
    check "$what: the source copy stays stopped, marked" 'stopped "$guest" && handed_over "$guest"'
    check "$what: the destination runs the guest (one copy)" \
        "grep -q 'and resumed' '$tmp/recv.out' && advancing \"\$receiver\""
else
    notok "$what: start"
fi
stop "$guest" "$receiver" "$proxy"

# ---- two observers: the second is refused at once ----
start_guest --memory 16M --workload idle
"$FRAGMIG" record --pid "$guest" --duration 600s --output "$tmp/rec.trace" >"$tmp/rec.out" 2>"$tmp/rec.err" &
rec=$!
pids="$pids $rec"
# until record holds the guest: its pid in the guest's lock file (/run/lock, else
# the runtime directory; named after the guest's pid and start time)
for _ in $(seq 300); do
    cat /run/lock/fragmig-guest-"$guest"-*.lock "${XDG_RUNTIME_DIR:-/nonexistent}"/fragmig-guest-"$guest"-*.lock \
        2>/dev/null | grep -qx "$rec" && break
    sleep 0.1
done
"$FRAGMIG" advise --pid "$guest" --observe 0.1s >"$tmp/adv.out" 2>"$tmp/adv.err"
check "two observers: advise during record is refused with a clear message" \
    "grep -q 'the guest of process $guest is already being migrated, recorded or advised (by process $rec): one at a time' '$tmp/adv.err'"
"$FRAGMIG" migrate --pid "$guest" --quiet tcp://127.0.0.1:1 >"$tmp/m.out" 2>"$tmp/m.err"
st=$?
check "two observers: migrate during record is refused, the guest runs" \
    "[ $st -eq 1 ] && grep -q 'already being migrated, recorded or advised' '$tmp/m.err' && advancing \"\$guest\""
stop "$rec" "$guest"

echo "1..$n"
[ "$fails" -eq 0 ]
