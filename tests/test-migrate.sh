#!/bin/sh
# test-migrate.sh: local live migration end to end, with real processes over loopback
# TCP: every workload under every policy ends verified with the workload running on
# the receiver; and every way it can fail leaves the source guest running.  TAP.
# Needs $FRAGMIG and $FM_TEST_DATA (set by make check), tests/fault-proxy (built by
# make check) and socat.
set -u
: "${FRAGMIG:?}" "${FM_TEST_DATA:?}"
. "$(dirname "$0")/guest-lib.sh"
guest_test_begin migrate

# stop PID...: ends the given background processes and reaps them (never a bare
# `wait`: it would also wait for a proxy that never got its connection)
stop() {
    kill "$@" 2>/dev/null
    for p in "$@"; do wait "$p" 2>/dev/null; done
}
RECV_TIMEOUT=120   # a guard against hangs: the receivers wait for slow sources

# ---- striking a migration mid-way, deterministically ----
# The migration in the background runs through the fault proxy, which holds it at
# the end of its first pre-copy round (the stream's first ROUND_END: nothing more
# goes either way).  The test strikes (kills the receiver or the proxy, interrupts
# the source) while it is held, then releases it: the migration can neither have
# ended before the strike nor have failed for another reason (every --timeout is a
# guard of minutes), however slowly this host runs the test.
proxy_bin=$(dirname "$FRAGMIG")/tests/fault-proxy
check_json="$(dirname "$0")/check-json.py"
pty_run="$(dirname "$0")/pty-run.py"
LONG=600

# start_held_migration: starts a guest (ARGS), a receiver, the proxy and, in the
# background, the migration ($mig); returns once the proxy holds it
start_held_migration() {
    start_guest "$@" && start_receiver --timeout $LONG || return 1
    # the old files must go first (see start_receiver): no stale address or hold line
    rm -f "$tmp/proxy.out" "$tmp/mig.out"
    "$proxy_bin" --to "$addr" --fault hold --at ROUND_END >"$tmp/proxy.out" 2>"$tmp/proxy.err" &
    proxy=$!
    pids="$pids $proxy"
    paddr=$(wait_line "$tmp/proxy.out" 's/^fault-proxy: listening on //p') || return 1
    "$FRAGMIG" migrate --pid "$guest" --bandwidth 100Mbit --timeout $LONG "$paddr" \
        >"$tmp/mig.out" 2>"$tmp/mig.err" &
    mig=$!
    wait_line "$tmp/proxy.out" 's/^fault-proxy: hold at offset //p' >/dev/null
}

# held WHAT: checks that the migration is held, running, with no summary yet
held() {
    check "$1: the strike comes mid-migration (held after round 0, no summary yet)" \
        'grep -q "^fault-proxy: hold at offset" "$tmp/proxy.out" && kill -0 "$mig" 2>/dev/null && ! grep -q "verified" "$tmp/mig.out"'
}

# ---- every workload under every policy ----
for wl in idle web db sweep phases mix; do
    case $wl in
        idle)   gargs="--memory 64M --workload idle" ;;
        web)    gargs="--memory 64M --workload web --rate 25%" ;;
        db)     gargs="--memory 64M --workload db --rate 60% --region-size 10%" ;;
        sweep)  gargs="--memory 64M --workload sweep --rate 120% --region-size 50%" ;;
        phases) gargs="--scenario $FM_TEST_DATA/local-phases.xml" ;;
        # a small hot region, a large cold one and a log writer, all at once
        mix)    gargs="--memory 64M --workload db:rate=40%:region-size=2%,db:rate=10%:region-start=10%:region-size=50%,sweep:rate=30%:region-start=70%:region-size=5%" ;;
    esac
    for policy in xen xen-classic qemu fragment; do
        what="$wl under $policy"
        # shellcheck disable=SC2086
        if ! start_guest $gargs || ! start_receiver; then notok "$what: start"; continue; fi
        sleep 0.3
        before=$(writes "$guest")
        timeout 120 "$FRAGMIG" migrate --pid "$guest" --policy "$policy" --bandwidth 1Gbit --quiet \
            --format csv "$addr" >"$tmp/mig.out" 2>"$tmp/mig.err"
        st=$?
        for _ in $(seq 300); do grep -q 'resumed' "$tmp/recv.out" && break; sleep 0.1; done
        if [ $st -ne 0 ]; then notok "$what: migrate exit $st"
        elif ! grep -q ',yes,' "$tmp/mig.out"; then notok "$what: summary says verified"
        elif ! grep -q "^fragmig receive: guest verified .* and resumed" "$tmp/recv.out"; then notok "$what: receiver verified"
        elif ! gone "$guest"; then notok "$what: source copy ended"
        elif ! advancing "$receiver"; then notok "$what: workload runs on the receiver"
        elif [ "$(writes "$receiver")" -lt "$before" ]; then notok "$what: workload resumed where it stopped"
        else ok "$what: verified, resumed on the receiver, source ended"
        fi
        stop "$receiver" "$guest"
    done
done

# ---- the receiver is killed mid-migration ----
start_held_migration --memory 64M --workload db --rate 60% --region-size 10%
held "receiver killed"
kill -9 "$receiver"
wait "$receiver" 2>/dev/null
kill -USR1 "$proxy"
wait_exit "$mig" $LONG
check "receiver killed: migrate fails" '[ "$status" -eq 1 ]'
check "receiver killed: error says the guest keeps running" \
    "grep -q \"migration of pid $guest failed, the guest keeps running here: \" '$tmp/mig.err'"
check "receiver killed: source guest running" 'running "$guest" && advancing "$guest"'
stop "$guest" "$proxy"

# ---- the connection drops mid-migration (the proxy in between dies) ----
start_held_migration --memory 64M --workload web --rate 25%
held "connection dropped"
kill -9 "$proxy"
wait_exit "$mig" $LONG
check "connection dropped: migrate fails" '[ "$status" -eq 1 ]'
check "connection dropped: source guest running" 'running "$guest" && advancing "$guest"'
wait_exit "$receiver" $LONG
check "connection dropped: receiver discards and fails" \
    "[ \"\$status\" -eq 1 ] && grep -q 'migration failed, nothing kept: ' '$tmp/recv.err'"
stop "$guest"

# ---- Ctrl-C on migrate ----
start_held_migration --memory 64M --workload sweep --rate 120% --region-size 50%
held "SIGINT"
kill -INT "$mig"
kill -USR1 "$proxy"     # the source's ABORT record must get through
wait_exit "$mig" $LONG
check "SIGINT: migrate fails with 'migration cancelled'" \
    "[ \"\$status\" -eq 1 ] && grep -q 'migration cancelled' '$tmp/mig.err'"
check "SIGINT: source guest running" 'running "$guest" && advancing "$guest"'
wait_exit "$receiver" $LONG
check "SIGINT: receiver told, discards" \
    "[ \"\$status\" -eq 1 ] && grep -q 'the source abandoned the migration: migration cancelled' '$tmp/recv.err'"
stop "$guest" "$proxy"

# ---- a saved stream: verified offline; truncated or corrupted copies refused ----
# An idle guest, so that almost every page is sent once: a corrupted copy is not
# repaired by a later re-send of the same page.
start_guest --memory 16M --workload idle
socat -d -d -u TCP-LISTEN:0,bind=127.0.0.1 OPEN:"$tmp/saved.fms",creat,trunc 2>"$tmp/socat.err" &
capture=$!
pids="$pids $capture"
cport=$(wait_line "$tmp/socat.err" 's/.* listening on AF=2 127\.0\.0\.1:\([0-9]*\)$/\1/p')
timeout 60 "$FRAGMIG" migrate --pid "$guest" --quiet --timeout 5 tcp://127.0.0.1:$cport >"$tmp/mig.out" 2>"$tmp/mig.err"
check "capture: the source gets no verdict and keeps its guest" '[ $? -eq 1 ] && running "$guest"'
stop "$guest" "$capture"
# The capture ends with PREPARE and the source's ABORT (no READY came): a saved
# stream ends with END instead.  The ABORT carries the source's reason, padded to 8.
reason=$(sed -n 's/.*the guest keeps running here: //p' "$tmp/mig.err")
size=$(stat -c %s "$tmp/saved.fms")
abort_size=$((8 + (${#reason} + 7) / 8 * 8))
head -c $((size - abort_size)) "$tmp/saved.fms" >"$tmp/cut.fms"
printf '\000\000\000\000\000\000\000\000' >>"$tmp/cut.fms"
mv "$tmp/cut.fms" "$tmp/saved.fms"
timeout 60 "$FRAGMIG" receive --stdin --no-resume <"$tmp/saved.fms" >"$tmp/r.out" 2>"$tmp/r.err"
check "saved stream verifies" '[ $? -eq 0 ] && grep -q "guest verified (16.00 MiB" "$tmp/r.out"'
size=$(stat -c %s "$tmp/saved.fms")
head -c $((size / 2)) "$tmp/saved.fms" >"$tmp/half.fms"
timeout 60 "$FRAGMIG" receive --stdin --no-resume <"$tmp/half.fms" >"$tmp/r.out" 2>"$tmp/r.err"
check "truncated stream refused" \
    '[ $? -eq 1 ] && grep -q "migration failed, nothing kept: stream truncated at offset $((size / 2)) " "$tmp/r.err"'

# flip_bit FILE OFFSET: inverts the lowest bit of the byte at OFFSET
flip_bit() {
    byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf '%03o' $((byte ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
# 8 MiB into the stream: page data of round 0, far from the header page
cp "$tmp/saved.fms" "$tmp/flip.fms"
flip_bit "$tmp/flip.fms" $((8 * 1048576 + 100))
timeout 60 "$FRAGMIG" receive --stdin --no-resume <"$tmp/flip.fms" >"$tmp/r.out" 2>"$tmp/r.err"
check "bit-flipped page refused by the digest" \
    '[ $? -eq 1 ] && grep -q "migration failed, nothing kept: memory digest mismatch: the source.s memory has digest [0-9a-f]*, the received memory [0-9a-f]*" "$tmp/r.err"'
cp "$tmp/saved.fms" "$tmp/hdr.fms"
flip_bit "$tmp/hdr.fms" 20
timeout 60 "$FRAGMIG" receive --stdin --no-resume <"$tmp/hdr.fms" >"$tmp/r.out" 2>"$tmp/r.err"
check "corrupted header refused" \
    '[ $? -eq 1 ] && grep -q "migration failed, nothing kept: header checksum mismatch at offset 32" "$tmp/r.err"'
timeout 60 "$FRAGMIG" receive --stdin --no-resume --max-memory 8M <"$tmp/saved.fms" >"$tmp/r.out" 2>"$tmp/r.err"
check "oversized guest refused before allocating" \
    '[ $? -eq 1 ] && grep -q "exceeds the destination.s memory limit of 8388608 bytes" "$tmp/r.err"'

# ---- hostile stream files (tests/data/streams): each refused with its reason ----
while IFS='|' read -r file message; do
    timeout 60 "$FRAGMIG" receive --stdin --no-resume <"$FM_TEST_DATA/streams/$file" >"$tmp/r.out" 2>"$tmp/r.err"
    check "stream $file refused" "[ \$? -eq 1 ] && grep -qF \"fragmig: error: migration failed, nothing kept: $message\" '$tmp/r.err'"
done <<'LIST'
not-a-stream.fmstream|bad magic 0x5468697320697320 at offset 0: not a fragmig stream
version-2.fmstream|unsupported stream version 2 at offset 8 (this build reads version 1)
bad-crc.fmstream|header checksum mismatch at offset 32: stored 0x578418d5, computed 0xa588152b
page-size-3000.fmstream|invalid page size 3000 at offset 16: it must be a power of two from 512 to 65536
huge-count.fmstream|PAGE_DATA record at offset 40 has 4294967295 pages (at most 4096)
oversized-length.fmstream|CPU_STATE record at offset 40 has a body of 4294967295 bytes (at most 67108864)
pfn-out-of-range.fmstream|pfn 8 at offset 64 is out of range (the guest has 8 pages)
truncated-page-data.fmstream|stream truncated at offset 772 (in the body of the PAGE_DATA record at offset 40)
trailing-after-end.fmstream|trailing data after the END record, at offset 48
unknown-type.fmstream|unknown record type 0x00000042 at offset 40
aborted.fmstream|the source abandoned the migration: cancelled by the user
valid.fmstream|invalid guest header: magic 0x0101010101010101 is not
LIST

# ---- know before you migrate (issue 7): advise, --abort-if-busy ----
start_guest --memory 32M --workload sweep --rate 120% --region-size 50%
# The link is far slower than the sweep (120 % of a 1 Gbit link's page rate): even
# a guest slowed to a hundredth of its rate by a loaded host outruns it, so that the
# verdict does not depend on the host's speed; nor do the verification rate and
# pause cost, given rather than measured.
timeout 60 "$FRAGMIG" advise --pid "$guest" --observe 1s --bandwidth 10Mbit --max-downtime 50ms \
    --verify-rate 5GB/s --pause-cost 5ms --format json >"$tmp/adv.out" 2>"$tmp/adv.err"
st=$?
check "advise on a sweep: every candidate; plain fragment cannot meet 50 ms" \
    '[ $st -eq 0 ] && "${PYTHON3:-python3}" "$check_json" "$tmp/adv.out" advise 10 \
        "d[\"advice\"][\"recommended\"] is not None" \
        "[(r[\"policy\"], r[\"params\"], r[\"converges\"], r[\"meets_limit\"]) for r in d[\"runs\"]][0] == (\"fragment\", \"\", False, False)"'
check "advise leaves the guest running" 'running "$guest" && advancing "$guest"'
stop "$guest"
# The verdict must not depend on the host's speed: a link of 10 Mbit/s, which the
# sweep (120 % of a 1 Gbit/s link's page rate) outruns even slowed a hundredfold by
# a loaded host; a small guest, so that its round 0 is short on that link.
start_guest --memory 4M --workload sweep --rate 120% --region-size 50% && start_receiver
timeout 600 "$FRAGMIG" migrate --pid "$guest" --policy qemu --bandwidth 10Mbit --max-downtime 50ms \
    --abort-if-busy --timeout 600 "$addr" >"$tmp/mig.out" 2>"$tmp/mig.err"
st=$?
check "abort-if-busy: the sweep aborts" '[ $st -eq 1 ]'
check "abort-if-busy: the error states the predicted downtime and the limit" \
    "grep -q 'the guest keeps running here: the guest is too busy for the downtime limit: predicted downtime [0-9]* ms, limit 50 ms' '$tmp/mig.err'"
check "abort-if-busy: the guest was never paused and keeps running" \
    '! grep -q "stop-and-copy" "$tmp/mig.out" && running "$guest" && advancing "$guest"'
stop "$receiver" "$guest"
start_guest --memory 32M --workload idle && start_receiver
timeout 60 "$FRAGMIG" migrate --pid "$guest" --bandwidth 1Gbit --max-downtime 50ms --abort-if-busy \
    --format json "$addr" >"$tmp/mig.out" 2>"$tmp/mig.err"
st=$?
check "abort-if-busy: an idle guest migrates" '[ $st -eq 0 ] && gone "$guest"'
# stdout carries the result alone, stderr no progress when it is not a terminal
check "migrate --format json: stdout is one document of docs/json.md, verified" \
    '"${PYTHON3:-python3}" "$check_json" "$tmp/mig.out" migrate 1 \
        "d[\"runs\"][0][\"verified\"] is True and d[\"runs\"][0][\"completed\"] is True" \
        "d[\"runs\"][0][\"max_downtime_ms\"] == 50 and d[\"runs\"][0][\"scenario\"] == \"$addr\"" \
        "isinstance(d[\"runs\"][0][\"downtime_target_met\"], bool)" 2>>"$tmp/mig.err"'
check "migrate: no progress on a stderr that is not a terminal" '! grep -q "round" "$tmp/mig.err"'
stop "$receiver" "$guest"

# ---- progress (issue 18): on stderr, sized to the terminal, cleared ----
# --progress on a stderr that is not a terminal: one plain line per round
start_guest --memory 8M --workload idle && start_receiver
timeout 60 "$FRAGMIG" migrate --pid "$guest" --progress --format csv "$addr" \
    >"$tmp/mig.out" 2>"$tmp/mig.err"
st=$?
check "--progress off a terminal: a line per round on stderr, no escapes, result alone on stdout" \
    '[ $st -eq 0 ] && grep -q "^round 1: .* left, about .* s to go; sent " "$tmp/mig.err" && ! grep -q "$(printf "\033")" "$tmp/mig.err" &&
     [ "$(wc -l <"$tmp/mig.out")" -eq 2 ] && grep -q "^scenario,policy," "$tmp/mig.out"'
stop "$receiver" "$guest"
# on a terminal of 40 columns and of 200: the status line is cut to the width less
# one, never wraps, and is cleared before the summary; a slow link (4 MiB/s for
# 24 MiB) so that the ticker redraws it
for cols in 40 200; do
    start_guest --memory 24M --workload idle && start_receiver
    timeout 120 "${PYTHON3:-python3}" "$pty_run" $cols "$tmp/mig.out" "$tmp/mig.tty" -- \
        "$FRAGMIG" migrate --pid "$guest" --bandwidth 4 --format json "$addr" >"$tmp/pty.txt" 2>"$tmp/mig.err"
    st=$?
    check "progress on a $cols-column terminal: redrawn, never wrapped, cleared at the end" \
        '[ $st -eq 0 ] && [ "$(sed -n "s/^rewrites //p" "$tmp/pty.txt")" -ge 3 ] &&
         grep -qx "wrapped 0" "$tmp/pty.txt" && grep -qx "left " "$tmp/pty.txt" &&
         [ "$(sed -n "s/^longest //p" "$tmp/pty.txt")" -le $((cols - 1)) ]'
    check "progress on a $cols-column terminal: stdout is the JSON alone" \
        '"${PYTHON3:-python3}" "$check_json" "$tmp/mig.out" migrate 1 "d[\"runs\"][0][\"verified\"] is True" 2>>"$tmp/mig.err"'
    cp "$tmp/pty.txt" "$tmp/pty-$cols.txt"
    stop "$receiver" "$guest"
done
check "progress: a 40-column terminal gets lines cut to 39, a 200-column one whole lines" \
    'grep -qx "longest 39" "$tmp/pty-40.txt" && [ "$(sed -n "s/^longest //p" "$tmp/pty-200.txt")" -lt 199 ]'

# demo: the summary alone on stdout, the story on stderr
timeout 120 "$FRAGMIG" demo --memory 16M --workload web --format json >"$tmp/demo.out" 2>"$tmp/demo.err"
st=$?
check "demo --format json: stdout is one document, the story on stderr" \
    '[ $st -eq 0 ] && "${PYTHON3:-python3}" "$check_json" "$tmp/demo.out" demo 1 \
        "d[\"runs\"][0][\"verified\"] is True and d[\"runs\"][0][\"scenario\"] == \"web-16M\"" 2>>"$tmp/demo.err" &&
     grep -q "^fragmig demo: the workload runs on the receiver" "$tmp/demo.err"'

echo "1..$n"
[ "$fails" -eq 0 ]
