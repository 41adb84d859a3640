#!/bin/sh
# dom0-fragmig.sh: the fragmig part of the Xen test bed, run in dom0 by dom0-test.sh
# after the baseline `xl migrate`, when the dom0 image holds fragmig (FRAGMIG_BIN).
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# In the same boot and on the same guest as the baseline:
#   1. fragmig migrate --xen --policy xen      into a stock `xl migrate-receive`
#   2. fragmig migrate --xen --policy fragment into a stock `xl migrate-receive`
#   each followed by the baseline's checks (the guest runs, its memcheck goes on, its
#   memory is intact);
#   3. a second, lightly loaded guest: `xl migrate` and `fragmig migrate --policy
#   fragment` of it; two migrations that must fail (the link breaks, SIGINT) and
#   leave it running; then `fragmig save --xen` into a file that a stock
#   `xl restore` restores, with the same checks.  An HVM guest (FMXT_TYPE=hvm) takes
#   minutes to boot here: the failures, the save and the restore are those of the
#   first guest instead;
#   4. the table of the methods: time, stream bytes, rounds, downtime (the guest's
#   longest heartbeat gap), and the comparisons the Xen backend promises.
#
# Contract with dom0-test.sh:
#   - print "ok - DESC" / "not ok - DESC" for each check (dom0-test.sh numbers them);
#     any other line is shown as a comment; exit non-zero if something went wrong;
#   - finish within fmxt.hook_timeout seconds (dom0-test.sh kills the hook then);
#   - leave the guest $FMXT_GUEST running (dom0-test.sh checks it afterwards).
# Environment: FMXT_GUEST (the running memcheck guest), FMXT_TYPE (pvh, hvm or pv),
# FMXT_MEM, FMXT_DIRTY (MiB), the
# baseline's FMXT_XL_SECS, FMXT_XL_BYTES, FMXT_XL_DOWNTIME_MS (empty when it did not
# run), and dom0-lib.sh's helpers.
. /usr/lib/fmxt/dom0-lib.sh
FMXT_RUN=$FMXT_RUN/hook
mkdir -p "$FMXT_RUN"
# dom0-lib.sh's TAP helpers number tests in dom0-test.sh's sequence; here the numbering
# is dom0-test.sh's job, so the hook's own lines carry no number.
tap_ok() { echo "ok - $*"; }
tap_not_ok() { echo "not ok - $*"; status=1; }

status=0
GUEST=$FMXT_GUEST
LIGHT=fmxt-light
LIGHT_MEM=128
TABLE=$FMXT_RUN/table
: >"$TABLE"

# row METHOD GUEST SECS BYTES ROUNDS DOWNTIME_MS: one line of the final table.
row() {
    echo "$1 $2 $3 ${4:-?} ${5:-?} ${6:-?}" >>"$TABLE"
}

# csv_field FILE NAME: the value of column NAME in fragmig's --format csv output.
csv_field() {
    awk -F, -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next }
                      NR == 2 && c { print $c }' "$1"
}

# fragmig_migrate NAME POLICY: `fragmig migrate --xen` of NAME to localhost, then the
# checks.  Sets ROUNDS.  Fails when the guest is lost.
fragmig_migrate() {
    # Let Xen finish with the last migration's source domain (it scrubs a destroyed
    # domain's memory in the background), as the baseline found it.
    sleep 5
    before=$(fmxt_guest_pass "$1")
    fmxt_migrate "$1" "$(fmxt_limit 200)" "$FMXT_RUN/fragmig-$2.log" \
        env G_MESSAGES_DEBUG=fragmig fragmig migrate --xen "$1" -s fakessh --policy "$2" \
        --format csv --timeout "$(fmxt_limit 120)" localhost
    rc=$?
    # fragmig's csv goes to stdout, its messages to stderr: both are in the log.
    grep -E '^(scenario,|localhost,)' "$FMXT_RUN/fragmig-$2.log" >"$FMXT_RUN/fragmig-$2.csv"
    ROUNDS=$(csv_field "$FMXT_RUN/fragmig-$2.csv" rounds)
    if [ $rc -eq 0 ]; then
        tap_ok "fragmig migrate --xen $1 --policy $2 (${FMXT_MIG_SECS}s, stream ${FMXT_MIG_BYTES:-?} bytes, ${ROUNDS:-?} rounds)"
    else
        tap_not_ok "fragmig migrate --xen $1 --policy $2 (status $rc after ${FMXT_MIG_SECS}s)"
    fi
    grep -v '^localhost,\|^scenario,' "$FMXT_RUN/fragmig-$2.log" | tail -n 25 | tap_diag
    [ $rc -eq 0 ] || { fmxt_domain_running "$1"; return; }
    # An HVM guest's QEMU saved its state for a live migration (fm-xen-dm.h).
    if [ "${FMXT_TYPE:-pvh}" = hvm ]; then
        if grep -q 'device model state saved again for a live migration' "$FMXT_RUN/fragmig-$2.log"; then
            tap_ok "fragmig --policy $2: QEMU saved its devices live over QMP"
        else
            tap_not_ok "fragmig --policy $2: QEMU saved its devices live over QMP"
        fi
    fi
    fmxt_check_after "$1" "after fragmig --policy $2" "$before"
}

# fragmig_fails DESC NAME [--interrupt]: a `fragmig migrate --xen` of NAME that must
# fail (the environment breaks the link, or SIGINT comes once the stream is under
# way): fragmig exits with status 1 saying the guest keeps running, it does, its
# memcheck goes on, and the destination has no domain left.  FMXT_CUT_MIB passes through to fakessh.
fragmig_fails() {
    fmxt_clear_leftovers "$2"
    before=$(fmxt_guest_pass "$2")
    fragmig migrate --xen "$2" -s fakessh --bandwidth 100Mbit --timeout "$(fmxt_limit 30)" localhost \
        >"$FMXT_RUN/fails.log" 2>&1 &
    fm=$!
    if [ "${3:-}" = --interrupt ]; then
        # Interrupt once the stream is under way (a fixed delay may fall before
        # fragmig has started on a slow host, where an asynchronous command of a
        # non-interactive shell ignores SIGINT), or at the latest after the limit.
        fmxt_wait_stream 4 "$(fmxt_limit 30)" ||
            echo "# the stream did not reach 4 MiB: interrupting anyway"
        kill -INT "$fm"
    fi
    wait "$fm"
    rc=$?
    # the receiver cleans up its half-built domain once it sees the end
    i=0
    while fmxt_domain_exists "$2--incoming" && [ $i -lt 20 ]; do sleep 1; i=$((i + 1)); done
    if [ $rc -eq 1 ] && grep -q "the guest keeps running here" "$FMXT_RUN/fails.log" &&
        fmxt_domain_running "$2" && ! fmxt_domain_exists "$2--incoming" &&
        fmxt_guest_wait_pass "$2" "$(fmxt_guest_pass "$2")" 30; then
        tap_ok "$1: fragmig fails (status $rc), $2 runs on here, the destination kept nothing"
    else
        tap_not_ok "$1: status $rc, $2 running: $(fmxt_domain_running "$2" && echo yes || echo no)"
        xl list 2>&1 | tap_diag
    fi
    grep 'fragmig: error' "$FMXT_RUN/fails.log" | tap_diag
    _bad=$(fmxt_guest_bad "$2")
    [ "$_bad" -eq 0 ] && tap_ok "$1: $2's memory intact (pass $before -> $(fmxt_guest_pass "$2"))" ||
        tap_not_ok "$1: $2's memory intact (bad=$_bad)"
}

# save_restore NAME: `fragmig save --xen` of NAME into a file (the domain must be gone
# afterwards), a stock `xl restore` of the file, then the checks.
save_restore() {
    before=$(fmxt_guest_pass "$1")
    t0=$(fmxt_now)
    if timeout "$(fmxt_limit 150)" fragmig save --xen "$1" --format csv "/run/fmxt-$1.save" \
        >"$FMXT_RUN/save.log" 2>&1 && ! fmxt_domain_exists "$1"; then
        tap_ok "fragmig save --xen $1: $(wc -c <"/run/fmxt-$1.save") bytes in $(fmxt_since "$t0")s, the domain is gone"
        if timeout "$(fmxt_limit 120)" xl restore "/run/fmxt-$1.save" >"$FMXT_RUN/restore.log" 2>&1; then
            tap_ok "xl restore of fragmig's save file ($(fmxt_since "$t0")s since the save began)"
            fmxt_check_after "$1" "after fragmig save + xl restore" "$before"
        else
            tap_not_ok "xl restore of fragmig's save file"
            tap_diag <"$FMXT_RUN/restore.log"
        fi
    else
        tap_not_ok "fragmig save --xen $1"
        tap_diag <"$FMXT_RUN/save.log"
    fi
    rm -f "/run/fmxt-$1.save"
}

# ---- 1, 2: the dirtying guest, both policies ---------------------------------------------
[ -n "${FMXT_XL_SECS:-}" ] &&
    row "xl-migrate" "$GUEST" "$FMXT_XL_SECS" "$FMXT_XL_BYTES" "5+1" "$FMXT_XL_DOWNTIME_MS"
for policy in xen fragment; do
    if fragmig_migrate "$GUEST" "$policy"; then
        row "fragmig-$policy" "$GUEST" "$FMXT_MIG_SECS" "$FMXT_MIG_BYTES" "$ROUNDS" "$FMXT_DOWNTIME_MS"
    else
        echo "the guest $GUEST is lost: the remaining steps are not run"
        exit 1
    fi
done

# ---- 3: a lightly loaded guest: xl, fragmig, save and restore ----------------------------
if [ "${FMXT_TYPE:-pvh}" = hvm ]; then
    # The HVM guest itself: failures, then save and restore.
    FMXT_CUT_MIB=20 fragmig_fails "the link breaks after 20 MiB" "$GUEST"
    fragmig_fails "SIGINT during pre-copy" "$GUEST" --interrupt
    fmxt_domain_running "$GUEST" && save_restore "$GUEST"
elif fmxt_guest_cfg "$LIGHT" "$LIGHT_MEM" 8 1000 >/etc/xen/$LIGHT.cfg &&
    timeout 90 xl create /etc/xen/$LIGHT.cfg >"$FMXT_RUN/xl-create.log" 2>&1 &&
    fmxt_guest_wait_pass $LIGHT 1 120; then
    tap_ok "xl create: ${LIGHT_MEM} MiB ${FMXT_TYPE:-pvh} guest, memcheck on 8 MiB every second"
    sleep 3
    before=$(fmxt_guest_pass $LIGHT)
    if fmxt_xl_migrate $LIGHT "$(fmxt_limit 150)"; then
        tap_ok "xl migrate $LIGHT (${FMXT_MIG_SECS}s, stream ${FMXT_MIG_BYTES:-?} bytes)"
        fmxt_check_after $LIGHT "after xl migrate of $LIGHT" "$before" &&
            row "xl-migrate" "$LIGHT" "$FMXT_MIG_SECS" "$FMXT_MIG_BYTES" "-" "$FMXT_DOWNTIME_MS"
    else
        tap_not_ok "xl migrate $LIGHT"
        tail -n 20 "$FMXT_RUN/xl-migrate.log" | tap_diag
    fi
    if fmxt_domain_running $LIGHT && fragmig_migrate $LIGHT fragment; then
        row "fragmig-fragment" "$LIGHT" "$FMXT_MIG_SECS" "$FMXT_MIG_BYTES" "$ROUNDS" "$FMXT_DOWNTIME_MS"
    fi
    # Failures: the guest must run on here, the destination discard what it got.
    if fmxt_domain_running $LIGHT; then
        FMXT_CUT_MIB=20 fragmig_fails "the link breaks after 20 MiB" $LIGHT
        fragmig_fails "SIGINT during pre-copy" $LIGHT --interrupt
    fi
    fmxt_domain_running $LIGHT && save_restore $LIGHT
    for d in $LIGHT "$LIGHT--incoming" "$LIGHT--migratedaway"; do
        fmxt_domain_exists "$d" && timeout 30 xl destroy "$d"
    done
else
    tap_not_ok "xl create: ${LIGHT_MEM} MiB ${FMXT_TYPE:-pvh} guest"
    tap_diag <"$FMXT_RUN/xl-create.log"
fi

# ---- 4: the table and the comparisons ----------------------------------------------------
echo "method            guest        time_s  stream_bytes  stream/mem  rounds  downtime_ms"
while read -r method guest secs bytes rounds down; do
    mem=$FMXT_MEM
    [ "$guest" = "$LIGHT" ] && mem=$LIGHT_MEM
    awk -v m="$method" -v g="$guest" -v s="$secs" -v b="$bytes" -v r="$rounds" -v d="$down" \
        -v mem="$mem" 'BEGIN {
            ratio = (b ~ /^[0-9]+$/) ? sprintf("%.2f", b / (mem * 1048576)) : "?"
            printf "%-17s %-12s %6s  %12s  %10s  %6s  %11s\n", m, g, s, b, ratio, r, d }'
done <"$TABLE"

# cmp_row METHOD GUEST: prints "SECS BYTES DOWNTIME" of that row.
cmp_row() {
    awk -v m="$1" -v g="$2" '$1 == m && $2 == g { print $3, $4, $6 }' "$TABLE"
}
set -- $(cmp_row xl-migrate "$GUEST")
xl_s=${1:-} xl_b=${2:-} xl_d=${3:-}
set -- $(cmp_row fragmig-xen "$GUEST")
fx_s=${1:-} fx_b=${2:-}
set -- $(cmp_row fragmig-fragment "$GUEST")
ff_s=${1:-} ff_b=${2:-} ff_d=${3:-}
if [ -n "$xl_s" ] && [ -n "$fx_s" ] && [ -n "$ff_s" ]; then
    # at_most: A no more than 10 % above B.  How many bytes a round sends depends on
    # how many pages the guest dirtied while the previous round was sent, so on how fast
    # each side ran on this host; fewer bytes than xl is not a failure (a quiet host
    # gave 0.86x, a busy one 0.91-0.97x), more than xl would be.
    at_most() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= 1.10 * b) }'; }
    below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.3f", a / b; else printf "?" }'; }
    echo "fragmig-xen / xl: time $(ratio "$fx_s" "$xl_s"), bytes $(ratio "$fx_b" "$xl_b")"
    echo "fragmig-fragment / xl: time $(ratio "$ff_s" "$xl_s"), bytes $(ratio "$ff_b" "$xl_b"), downtime ${ff_d} ms vs ${xl_d} ms"
    if at_most "$fx_b" "$xl_b"; then
        tap_ok "fragmig --policy xen sends at most 10 % more than xl's stream bytes ($fx_b vs $xl_b)"
    else
        tap_not_ok "fragmig --policy xen sends at most 10 % more than xl's stream bytes ($fx_b vs $xl_b)"
    fi
    if below "$ff_b" "$xl_b"; then
        tap_ok "fragmig --policy fragment sends fewer bytes than xl ($ff_b vs $xl_b)"
    else
        tap_not_ok "fragmig --policy fragment sends fewer bytes than xl ($ff_b vs $xl_b)"
    fi
fi
exit $status
