#!/bin/sh
# test-load.sh: concurrent load on one receiver.  LOAD_GUESTS guests (default 8) of
# LOAD_MEMORY each (default 16M; `make bench-load` runs 128M) are migrated at the
# same time into one `fragmig receive --parallel`: every migration must end
# verified (the receiver compares the digest of the whole received memory with the
# source's, taken while the guest was paused), every guest must run on in its own
# receiver process, and the receiver must end them all when it is stopped.  Also:
# --parallel 1 holds a second migration back until the first one's verdict.
# LOAD_TLS=1 runs the migrations over TLS (certificates from certtool).
# Prints the figures as a TAP comment:
#   # load: N x SIZE tls=0|1: aggregate A MiB/s, slowest S s, fastest F s, wall W s
# (aggregate = N x SIZE / wall time from the first migration's start to the last
# one's end).  TAP.  Needs $FRAGMIG and $FM_TEST_DATA.
set -u
: "${FRAGMIG:?}" "${FM_TEST_DATA:?}"
guests_n=${LOAD_GUESTS:-8}
memory=${LOAD_MEMORY:-16M}
use_tls=${LOAD_TLS:-0}
. "$(dirname "$0")/guest-lib.sh"
guest_test_begin load

now() { date +%s.%N; }

# ---- TLS credentials, if asked for ----
tls_recv="" tls_mig=""
if [ "$use_tls" = 1 ]; then
    if ! command -v certtool >/dev/null 2>&1; then
        echo "1..0 # SKIP LOAD_TLS=1 needs certtool (gnutls-bin)"
        exit 0
    fi
    pki=$tmp/pki
    mkdir -p "$pki/server" "$pki/client"
    key() { certtool --generate-privkey --key-type=ecdsa --outfile "$1" >/dev/null 2>&1; }
    key "$pki/ca-key.pem"
    printf 'cn = "load CA"\nca\ncert_signing_key\nexpiration_days = 2\n' >"$pki/ca.info"
    certtool --generate-self-signed --load-privkey "$pki/ca-key.pem" --template "$pki/ca.info" \
        --outfile "$pki/ca-cert.pem" >/dev/null 2>&1
    for role in server client; do
        key "$pki/$role/$role-key.pem"
        printf 'cn = "%s"\nip_address = "127.0.0.1"\ntls_www_%s\nsigning_key\nexpiration_days = 2\n' \
            "$role" "$role" >"$pki/$role.info"
        certtool --generate-certificate --load-privkey "$pki/$role/$role-key.pem" \
            --load-ca-certificate "$pki/ca-cert.pem" --load-ca-privkey "$pki/ca-key.pem" \
            --template "$pki/$role.info" --outfile "$pki/$role/$role-cert.pem" >/dev/null 2>&1
        cp "$pki/ca-cert.pem" "$pki/$role/"
    done
    tls_recv="--tls --tls-dir $pki/server"
    tls_mig="--tls --tls-dir $pki/client"
fi

# start_receiver ARGS...: a receiver on a free port; sets $receiver and $addr
start_receiver() {
    rm -f "$tmp/recv.out"
    # shellcheck disable=SC2086
    "$FRAGMIG" receive --listen tcp://127.0.0.1:0 --timeout 60 $tls_recv "$@" >"$tmp/recv.out" 2>"$tmp/recv.err" &
    receiver=$!
    pids="$pids $receiver"
    for _ in $(seq 300); do
        addr=$(sed -n 's/^fragmig receive: listening on //p' "$tmp/recv.out")
        [ -n "$addr" ] && return 0
        sleep 0.1
    done
    return 1
}

# start_guests N: N idle guests of $memory; their pids in $guests
start_guests() {
    guests=""
    for i in $(seq "$1"); do
        "$FRAGMIG" guest --quiet --memory "$memory" --workload idle --seed "$i" \
            >"$tmp/guest$i.out" 2>"$tmp/guest$i.err" &
        guests="$guests $!"
        pids="$pids $!"
    done
    for g in $guests; do
        for _ in $(seq 300); do [ -n "$(writes "$g")" ] && break; sleep 0.1; done
        [ -n "$(writes "$g")" ] || return 1
    done
}

# migrate_all: migrates every guest of $guests to $addr at once; each one's exit
# status, start and end time go to $tmp/migI.time; waits for them all
migrate_all() {
    i=0
    migs=""
    for g in $guests; do
        i=$((i + 1))
        (
            t0=$(now)
            # shellcheck disable=SC2086
            timeout 300 "$FRAGMIG" migrate --pid "$g" --quiet --format csv --timeout 60 $tls_mig \
                "$addr" >"$tmp/mig$i.out" 2>"$tmp/mig$i.err"
            st=$?
            echo "$st $t0 $(now)" >"$tmp/mig$i.time"
        ) &
        migs="$migs $!"
    done
    for m in $migs; do wait "$m"; done
}

# ---- N guests at once into one receiver ----
start_receiver --parallel "$guests_n"
check "receiver serves $guests_n at once" '[ -n "$addr" ]'
start_guests "$guests_n"
check "$guests_n guests of $memory started" '[ $? -eq 0 ]'
migrate_all
okcount=0 verified=0
for i in $(seq "$guests_n"); do
    read -r st t0 t1 <"$tmp/mig$i.time"
    [ "$st" -eq 0 ] && okcount=$((okcount + 1))
    grep -q ',yes,' "$tmp/mig$i.out" && verified=$((verified + 1))
done
check "$guests_n concurrent migrations succeed, each verified" \
    '[ $okcount -eq $guests_n ] && [ $verified -eq $guests_n ]'
for _ in $(seq 300); do
    [ "$(grep -c '^fragmig receive: guest verified' "$tmp/recv.out")" -ge "$guests_n" ] && break
    sleep 0.1
done
rpids=$(sed -n 's/^fragmig receive: guest verified .* and resumed, pid \([0-9]*\)$/\1/p' "$tmp/recv.out" | sort -u)
check "the receiver verified $guests_n guests, each in its own process" \
    '[ "$(echo "$rpids" | grep -c .)" -eq $guests_n ] && ! echo "$rpids" | grep -qx "$receiver"'
size=$(echo "$memory" | sed 's/M$//')
check "the receiver's digests are of ${size} MiB guests, all different" \
    '[ "$(grep -c "guest verified ($size.00 MiB, digest" "$tmp/recv.out")" -eq $guests_n ] && [ "$(sed -n "s/.*digest \([0-9a-f]*\),.*/\1/p" "$tmp/recv.out" | sort -u | grep -c .)" -eq $guests_n ]'
allgone=1
for g in $guests; do gone "$g" 50 || allgone=0; done
check "every source copy ended" '[ $allgone -eq 1 ]'
allrun=1
for p in $rpids; do advancing "$p" 50 || allrun=0; done
check "every guest runs on in the receiver" '[ $allrun -eq 1 ]'
kill "$receiver"
wait "$receiver"
rst=$?
allgone=1
for p in $rpids; do gone "$p" 50 || allgone=0; done
check "stopping the receiver ends all its guests" '[ $rst -eq 0 ] && [ $allgone -eq 1 ]'

# the figures
awk -v n="$guests_n" -v mem="$memory" -v tls="$use_tls" '
    { st[NR] = $1; t0[NR] = $2; t1[NR] = $3 }
    END {
        first = t0[1]; last = t1[1]; slow = 0; fast = 1e9
        for (i = 1; i <= NR; i++) {
            if (t0[i] < first) first = t0[i]
            if (t1[i] > last) last = t1[i]
            d = t1[i] - t0[i]
            if (d > slow) slow = d
            if (d < fast) fast = d
        }
        mib = mem; sub(/M$/, "", mib)
        wall = last - first
        printf "# load: %d x %s tls=%s: aggregate %.1f MiB/s, slowest %.2f s, fastest %.2f s, wall %.2f s\n",
            n, mem, tls, n * mib / wall, slow, fast, wall
    }' "$tmp"/mig*.time
# each migration's own summary, for the record
sed -n '1s/^/# /p' "$tmp/mig1.out"
for i in $(seq "$guests_n"); do sed -n "2s/^/# mig$i: /p" "$tmp/mig$i.out"; done

# ---- --parallel 1: the second migration waits for the first one's verdict ----
start_receiver --parallel 1 --no-resume
guests_saved=$guests_n
start_guests 2
migrate_all
okcount=0
for i in 1 2; do read -r st t0 t1 <"$tmp/mig$i.time"; [ "$st" -eq 0 ] && okcount=$((okcount + 1)); done
for _ in $(seq 300); do [ "$(grep -c 'guest verified' "$tmp/recv.out")" -ge 2 ] && break; sleep 0.1; done
# the log, in order: a slot taken, verified, a slot taken, verified (both
# connections are accepted at once; the second migration waits for the slot)
order=$(sed -n 's/^fragmig receive: \(pid [0-9]* takes a slot\|guest verified\).*/\1/p' "$tmp/recv.out" |
    sed 's/^pid [0-9]* //' | tr '\n' ' ')
check "--parallel 1: both migrations succeed, one after the other" \
    '[ $okcount -eq 2 ] && [ "$order" = "takes a slot guest verified takes a slot guest verified " ]'
kill "$receiver"
wait "$receiver"
guests_n=$guests_saved

echo "1..$n"
[ "$fails" -eq 0 ]
