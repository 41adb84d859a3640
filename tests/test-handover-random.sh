#!/bin/sh
# test-handover-random.sh: kill the source (`fragmig migrate`) or the receiver with
# SIGKILL at a random moment of a live migration, then count the outcomes
# (docs/stream-format.md §5.1).  Every trial must end with exactly one running
# copy, or, only where the outcome could not be known (migrate exited 3, or it
# died after it committed), none; never two; and a copy on the destination must
# hold the memory the source handed over (the receiver's digest against the digest
# of the source copy, kept paused with --keep-source; --verify=full, so that both
# are digests of the whole memory).  TAP: one line per count.
#   FM_HANDOVER_TRIALS   number of trials (default 50)
#   FM_HANDOVER_SEED     seed of the moments and victims (default: the pid; printed)
# Needs $FRAGMIG (set by make check).
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u
: "${FRAGMIG:?}"
. "$(dirname "$0")/guest-lib.sh"
guest_test_begin handover-random
LONG=600
# a receiver whose source died before it connected waits this long: a guard, and
# the one wait of a trial that may run to its end
RECV_TIMEOUT=15
trials=${FM_HANDOVER_TRIALS:-50}
seed=${FM_HANDOVER_SEED:-$$}
echo "# $trials trials, FM_HANDOVER_SEED=$seed"

stop() {
    kill -9 "$@" 2>/dev/null
    for p in "$@"; do wait "$p" 2>/dev/null; done
}

# state PID: the letter of /proc/PID/stat (empty once gone or a zombie)
state() {
    [ -r "/proc/$1/stat" ] || return 0
    s=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat")
    [ "$s" = Z ] || echo "$s"
}

inspect_value() { "$FRAGMIG" inspect --pid "$1" 2>/dev/null | sed -n "s/^$2=//p"; }

two=0 none_known=0 none_unknown=0 one=0 differs=0 started=0 completed=0

# the moments: (seed, trial) -> delay in milliseconds (0 .. 700) and the victim
moments=$(awk -v s="$seed" -v t="$trials" 'BEGIN { srand(s); for (i = 0; i < t; i++) printf "%d %s\n", int(rand() * 700), rand() < 0.5 ? "migrate" : "receiver" }')

printf '%s\n' "$moments" >"$tmp/moments"
while read -r delay victim; do
    if ! start_guest --memory 16M --workload web --rate 25% || ! start_receiver; then
        notok "trial: start"
        stop "$guest" "$receiver"
        continue
    fi
    started=$((started + 1))
    "$FRAGMIG" migrate --pid "$guest" --quiet --keep-source --verify=full --bandwidth 400Mbit --timeout 30 "$addr" \
        >"$tmp/mig.out" 2>"$tmp/mig.err" &
    mig=$!
    sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
    if [ "$victim" = migrate ]; then kill -9 "$mig" 2>/dev/null; else kill -9 "$receiver" 2>/dev/null; fi
    wait "$mig"
    mstatus=$?
    [ "$mstatus" -eq 0 ] && completed=$((completed + 1))

    # the receiver settles: it runs the guest, or ends
    dst=0
    if [ "$victim" = receiver ]; then
        wait "$receiver" 2>/dev/null
    else
        for _ in $(seq $((LONG * 10))); do
            grep -q 'and resumed' "$tmp/recv.out" 2>/dev/null && break
            kill -0 "$receiver" 2>/dev/null || break
            sleep 0.1
        done
    fi
    if kill -0 "$receiver" 2>/dev/null && grep -q 'and resumed' "$tmp/recv.out"; then dst=1; fi
    # a receiver killed after the migration completed ran the guest until then: the
    # kill ended a running copy, not a handover
    if [ "$victim" = receiver ] && [ "$mstatus" -eq 0 ]; then dst=1; fi

    # the source copy settles: running, or stopped and marked handed over (a stopped
    # unmarked copy is only transient: the sentinel continues it)
    marked=no
    for _ in $(seq 300); do
        st=$(state "$guest")
        [ -z "$st" ] && break
        marked=$(inspect_value "$guest" handed_over)
        [ "$st" != T ] && [ "$st" != t ] && break
        [ "$marked" = yes ] && break
        sleep 0.1
    done
    src=0
    if [ -n "$st" ] && [ "$st" != T ] && [ "$st" != t ] && [ "$marked" != yes ]; then src=1; fi

    knowable=yes
    if [ "$mstatus" -eq 3 ] || { [ "$victim" = migrate ] && [ "$marked" = yes ]; }; then knowable=no; fi
    if [ $src -eq 1 ] && [ $dst -eq 1 ]; then
        two=$((two + 1))
        echo "# two copies: delay $delay ms, victim $victim, migrate exit $mstatus"
    elif [ $src -eq 0 ] && [ $dst -eq 0 ]; then
        if [ $knowable = yes ]; then
            none_known=$((none_known + 1))
            echo "# no copy, outcome knowable: delay $delay ms, victim $victim, migrate exit $mstatus"
            sed 's/^/#   /' "$tmp/mig.err" "$tmp/recv.err"
        else
            none_unknown=$((none_unknown + 1))
        fi
    else
        one=$((one + 1))
    fi
    # the destination's copy started from the memory the source handed over
    if [ $dst -eq 1 ]; then
        theirs=$(sed -n 's/^fragmig receive: guest verified ([^,]*, digest \([0-9a-f]*\),.*/\1/p' "$tmp/recv.out")
        ours=$(inspect_value "$guest" digest)
        if [ -z "$ours" ] || [ "$theirs" != "$ours" ]; then
            differs=$((differs + 1))
            echo "# memory differs: received $theirs, source copy ${ours:-unreadable}"
        fi
    fi
    stop "$guest" "$receiver"
done <"$tmp/moments"

echo "# trials $started: one copy $one, none (outcome unknown) $none_unknown, completed $completed"
check "randomized kills: $started of $trials trials ran" '[ "$started" -eq "$trials" ]'
check "randomized kills: 0 trials with two running copies (got $two)" '[ "$two" -eq 0 ]'
check "randomized kills: 0 trials with no copy where the outcome was knowable (got $none_known)" '[ "$none_known" -eq 0 ]'
check "randomized kills: 0 trials with a copy whose memory differs (got $differs)" '[ "$differs" -eq 0 ]'
echo "1..$n"
[ "$fails" -eq 0 ]
