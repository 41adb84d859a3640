# guest-lib.sh: what the end-to-end tests of live guests share (test-migrate.sh,
# test-tls.sh, test-faults.sh, test-load.sh, test-handover*.sh, test-receive-guard.sh);
# sourced, not run.
#   guest_test_begin NAME      $tmp (a scratch directory), $pids (processes killed at
#                              exit, when $tmp goes too), the TAP counters n and fails
#   ok DESC / notok DESC (shows $tmp/*.out and *.err) / check DESC SHELL-CONDITION
#   writes PID                 the guest's work counter, read from its memory
#   running PID                the process exists and is not stopped
#   gone PID [TENTHS]          it dies within TENTHS tenths of a second (300)
#   advancing PID [TENTHS]     its work counter grows within TENTHS tenths (300)
#   start_guest [ARGS...]      starts a guest (ARGS, else $GUEST_ARGS); sets $guest
#   start_receiver [ARGS...]   a receiver on a free port (--timeout $RECV_TIMEOUT, 20 s;
#                              run under $RECV_ENV); sets $receiver and $addr
#   wait_exit PID SECONDS      waits for a background process (killed after SECONDS);
#                              its status in $status
#   wait_line FILE SED-SCRIPT  prints what `sed -n SED-SCRIPT FILE` prints, as soon as
#                              it prints something (30 s at most: then fails)
# Every wait returns as soon as what it waits for happens: its limit is only a guard
# against hangs, long enough for a loaded host, never a measure of speed.
# SPDX-License-Identifier: LGPL-2.1-or-later

guest_test_begin() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/fragmig-test-$1.XXXXXX")
    pids=""
    n=0
    fails=0
    trap guest_test_end EXIT
}

# (the EXIT trap of guest_test_begin)
guest_test_end() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}

ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() {
    n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"
    for f in "$tmp"/*.out "$tmp"/*.err; do [ -s "$f" ] && sed "s|^|# $(basename "$f"): |" "$f"; done
}
check() { if eval "$2"; then ok "$1"; else notok "$1"; fi; }

writes() { "$FRAGMIG" inspect --pid "$1" 2>/dev/null | sed -n 's/^writes=//p'; }

running() {
    [ -r "/proc/$1/stat" ] || return 1
    state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat")
    [ "$state" != T ] && [ "$state" != t ] && [ "$state" != Z ]
}

gone() {
    for _ in $(seq "${2:-300}"); do running "$1" || return 0; sleep 0.1; done
    return 1
}

# (an idle guest writes 4 pages a second)
advancing() {
    a=$(writes "$1")
    [ -n "$a" ] || return 1
    for _ in $(seq "${2:-300}"); do
        sleep 0.1
        b=$(writes "$1")
        [ -n "$b" ] && [ "$b" -gt "$a" ] && return 0
    done
    return 1
}

start_guest() {
    # shellcheck disable=SC2086 # $GUEST_ARGS is a list of words
    if [ $# -gt 0 ]; then
        "$FRAGMIG" guest --quiet "$@" >"$tmp/guest.out" 2>"$tmp/guest.err" &
    else
        "$FRAGMIG" guest --quiet $GUEST_ARGS >"$tmp/guest.out" 2>"$tmp/guest.err" &
    fi
    guest=$!
    pids="$pids $guest"
    for _ in $(seq 300); do [ -n "$(writes "$guest")" ] && return 0; sleep 0.1; done
    return 1
}

start_receiver() {
    # the old file must go first: the shell truncates it only when the child starts,
    # and until then it would still hold the previous receiver's address
    rm -f "$tmp/recv.out"
    # shellcheck disable=SC2086 # $RECV_ENV is a list of words
    ${RECV_ENV:-} "$FRAGMIG" receive --listen tcp://127.0.0.1:0 --timeout "${RECV_TIMEOUT:-20}" "$@" \
        >"$tmp/recv.out" 2>"$tmp/recv.err" &
    receiver=$!
    pids="$pids $receiver"
    for _ in $(seq 300); do
        addr=$(sed -n 's/^fragmig receive: listening on //p' "$tmp/recv.out" 2>/dev/null)
        [ -n "$addr" ] && return 0
        kill -0 "$receiver" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

wait_exit() {
    for _ in $(seq $(($2 * 10))); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$1" 2>/dev/null
    wait "$1"; status=$?
}

wait_line() {
    for _ in $(seq 300); do
        line=$(sed -n "$2" "$1" 2>/dev/null)
        [ -n "$line" ] && { printf '%s\n' "$line"; return 0; }
        sleep 0.1
    done
    return 1
}
