#!/bin/sh
# test-cli.sh: the `fragmig` command line, end to end: exit statuses, messages,
# output formats.  Speaks TAP.  Needs $FRAGMIG and $FM_TEST_DATA (set by make check).
set -u
. "$(dirname "$0")/tap-lib.sh"
small="$FM_TEST_DATA/cli-small.xml"

expect 0 "" "--version" -- --version
grep -q '^fragmig [0-9]' "$tmp/out" && ok "--version prints the version" || notok "--version prints the version"
expect 0 "" "--help" -- --help
grep -q 'simulate' "$tmp/out" && ok "--help lists simulate" || notok "--help lists simulate"
expect 2 "" "no command" --
expect 2 "fragmig: error: unknown command 'frobnicate'" "unknown command" -- frobnicate
expect 0 "" "simulate --help" -- simulate --help
grep -q -- '--policy' "$tmp/out" && ok "simulate --help shows --policy" || notok "simulate --help shows --policy"
expect 0 "" "policies" -- policies
grep -q 'hot_ratio' "$tmp/out" && ok "policies lists hot_ratio" || notok "policies lists hot_ratio"
expect 2 "fragmig: error: no scenario given" "simulate without scenario" -- simulate
expect 1 "nonexistent.xml" "simulate missing file" -- simulate "$tmp/nonexistent.xml"
expect 2 "unknown policy 'nope' (known: xen, xen-classic, qemu, fragment)" "bad policy" -- simulate --policy nope "$small"
expect 2 "unknown parameter 'bogus'" "unknown parameter" -- simulate --param bogus=1 "$small"
expect 2 "parameter hot_ratio: 2 is out of range [0, 1]" "out-of-range parameter" -- simulate --param hot_ratio=2 "$small"
expect 2 "invalid parameter 'hot_ratio': expected NAME=VALUE" "malformed parameter" -- simulate --param hot_ratio "$small"
expect 2 "unknown output format 'xml' (use table, csv or json)" "bad format" -- simulate --format xml "$small"
expect 2 "Unknown option --frob" "unknown option" -- simulate --frob "$small"
# input that is not UTF-8 is escaped in messages, which stay UTF-8
ff=$(printf '\377')
expect 2 "fragmig: error: unknown command '\\xFF\\xFE'" "unknown command, not UTF-8" -- "$ff$(printf '\376')"
expect 2 "fragmig: error: unexpected argument '\\xFF'" "unexpected argument, not UTF-8" -- policies "$ff"
expect 1 "fragmig: error: $tmp/x\\xFF.xml: cannot open" "file name, not UTF-8" -- simulate "$tmp/x$ff.xml"
expect 2 "unknown output format 'a\\nb' (use table, csv or json)" "format, two lines" -- \
    simulate --format "a
b" "$small"
expect 2 "unknown output format '' (use table, csv or json)" "format, empty" -- simulate --format "" "$small"
LC_ALL=C.UTF-8 iconv -f UTF-8 -t UTF-8 "$tmp/err" >/dev/null && ok "the last message is UTF-8" ||
    notok "the last message is UTF-8"

expect 0 "" "simulate csv, all policies" -- simulate --format csv "$small"
lines=$(wc -l <"$tmp/out")
[ "$lines" -eq 5 ] && ok "csv has a header and 4 rows" || notok "csv has a header and 4 rows ($lines lines)"
head -1 "$tmp/out" | grep -q '^scenario,policy,total_time_s,downtime_ms,data_sent_mib,rounds,' \
    && ok "csv header" || notok "csv header"
[ "$(grep -c ',yes,' "$tmp/out")" -eq 4 ] && ok "every run verified" || notok "every run verified"

expect 0 "" "simulate json, one policy" -- simulate --format json --policy fragment "$small"
json_ok "$tmp/out" simulate 1 "d['runs'][0]['policy'] == 'fragment'" \
    "d['runs'][0]['verified'] is True and d['runs'][0]['completed'] is True" \
    "d['runs'][0]['scenario'] == 'cli-small' and d['runs'][0]['params'] is None" \
    "d['runs'][0]['max_downtime_ms'] == 300 and d['runs'][0]['downtime_target_met'] is True" \
    "simulate json: the document of docs/json.md, booleans as booleans"
expect 0 "" "simulate json, every policy" -- simulate --format json "$small"
json_ok "$tmp/out" simulate 4 "[r['policy'] for r in d['runs']] == ['xen', 'xen-classic', 'qemu', 'fragment']" \
    "simulate json: one run per policy"
[ ! -s "$tmp/err" ] && ok "simulate json: nothing on stderr" || notok "simulate json: nothing on stderr"

# a completed run that missed its downtime target says so, in the table and in JSON
expect 0 "" "simulate, a target of 1 ms" -- simulate --policy qemu --param max_downtime=1 "$small"
grep -q '^cli-small, qemu: the downtime, [0-9.]* ms, missed the target of 1.0 ms$' "$tmp/out" \
    && ok "table: the missed target is stated" || notok "table: the missed target is stated"
expect 0 "" "simulate json, a target of 1 ms" -- simulate --format json --policy qemu \
    --param max_downtime=1 "$small"
json_ok "$tmp/out" simulate 1 "d['runs'][0]['max_downtime_ms'] == 1" \
    "d['runs'][0]['downtime_ms'] > 1 and d['runs'][0]['downtime_target_met'] is False" \
    "json: the missed target is stated"
expect 0 "" "simulate, the default target" -- simulate --policy qemu "$small"
! grep -q 'missed the target' "$tmp/out" && ok "table: a met target says nothing" \
    || notok "table: a met target says nothing"

# the table for people fits 80 columns, even with the longest scenario name
expect 0 "" "simulate table, every policy" -- simulate "$small"
awk 'length($0) > 80 { bad = 1 } END { exit bad }' "$tmp/out" && ok "table: no line over 80 columns" \
    || notok "table: no line over 80 columns"
grep -q '^(more columns with --format csv or json)$' "$tmp/out" && ok "table: says what it left out" \
    || notok "table: says what it left out"

# advise: the table fits 80 columns too, the advice marked
expect 0 "" "advise table on a trace" -- advise --trace "$FM_TEST_DATA/traces/sweep-16m.fmt" \
    --bandwidth 1Gbit --max-downtime 50
awk 'length($0) > 80 { bad = 1 } END { exit bad }' "$tmp/out" && [ "$(grep -c '^\* ' "$tmp/out")" -eq 1 ] \
    && ok "advise table: no line over 80 columns, one recommendation marked" \
    || notok "advise table: no line over 80 columns, one recommendation marked"

# advise: the same runs, and its advice
expect 0 "" "advise json on a trace" -- advise --trace "$FM_TEST_DATA/traces/idle-16m.fmt" \
    --bandwidth 1Gbit --max-downtime 50 --format json
json_ok "$tmp/out" advise 10 "d['advice']['max_downtime_ms'] == 50" \
    "all(r['max_downtime_ms'] == 50 for r in d['runs'])" \
    "d['runs'][d['advice']['recommended']]['meets_limit'] is True" \
    "abs(d['advice']['bandwidth_mib_s'] - 1e9 / 8 / 1048576) < 1e-6" \
    "advise json: its candidates are runs, the recommendation an index into them"

expect 0 "" "simulate table" -- simulate --policy xen,fragment --param fragment_size=256 "$small"
grep -q '^cli-small  *xen ' "$tmp/out" && grep -q '^cli-small  *fragment ' "$tmp/out" \
    && ok "table rows" || notok "table rows"

# the commands on Xen domains: their usage errors, and a clear error (not a crash, no
# file left) on a host that is not a Xen dom0, as this test's host is not
expect 2 "--pid and --xen cannot be used together" "migrate --pid with --xen" -- \
    migrate --pid 1 --xen guest1 localhost
expect 2 "--ssh-command needs --xen" "migrate -s without --xen" -- migrate --pid 1 -s ssh localhost
expect 2 "--xen DOMAIN is required" "save without --xen" -- save "$tmp/guest.save"
expect 2 "expected one FILE" "save without FILE" -- save --xen guest1
expect 2 "unknown policy 'nope'" "save with a bad policy" -- save --xen guest1 --policy nope "$tmp/x"
if [ ! -e /proc/xen/capabilities ]; then
    expect 1 "fragmig: error:" "migrate --xen off Xen" -- migrate --xen guest1 -s "" localhost
    expect 1 "fragmig: error:" "save --xen off Xen" -- save --xen guest1 "$tmp/guest.save"
    [ ! -e "$tmp/guest.save" ] && ok "save --xen off Xen leaves no file" ||
        notok "save --xen off Xen leaves no file"
fi

# units as virsh: a bare downtime is ms, a bare bandwidth MiB/s, suffixes in any case
expect 0 "" "a bare max_downtime counts ms (3601 = 3.601 s)" -- simulate --param max_downtime=3601 --policy xen "$small"
expect 2 "parameter max_downtime: 3601s is out of range [0, 3600]" "max_downtime=3601s is seconds" -- \
    simulate --param max_downtime=3601s --policy xen "$small"
expect 2 "unknown unit 'q' (expected bit/s, kbit, Mbit, Gbit, Mbps, Gbps, B/s, MB/s, GB/s, K, M, G, MiB/s, GiB/s, or a bare number of MiB/s)" \
    "a bad bandwidth names the accepted forms" -- migrate --pid 1 --bandwidth 1q tcp://127.0.0.1:1
expect 2 "ambiguous unit 'MBps': write MB/s for bytes or Mbit/s for bits" "MBps is refused" -- \
    migrate --pid 1 --bandwidth 1MBps tcp://127.0.0.1:1
expect 2 "or a bare number of ms" "a bad downtime names the accepted forms" -- \
    advise --pid 1 --max-downtime 3sec
"$FRAGMIG" policies | grep -q '^ *max_downtime  *downtime  *0.3s ' &&
    ok "policies shows durations with their unit" || notok "policies shows durations with their unit"

# under systemd, errors carry the journal's priority prefix, and only there
: >"$tmp/journal"
JOURNAL_STREAM=$(stat -c '%d:%i' "$tmp/journal") "$FRAGMIG" frobnicate 2>>"$tmp/journal"
head -1 "$tmp/journal" | grep -q "^<3>fragmig: error: unknown command 'frobnicate'" &&
    ok "stderr to the journal: errors at priority 3" || notok "stderr to the journal: errors at priority 3"
"$FRAGMIG" frobnicate 2>&1 | head -1 | grep -q "^fragmig: error: " &&
    ok "stderr elsewhere: no priority prefix" || notok "stderr elsewhere: no priority prefix"

# determinism through the command line: same scenario, same numbers
"$FRAGMIG" simulate --format csv "$small" | cut -d, -f1-13 >"$tmp/a"
"$FRAGMIG" simulate --format csv "$small" | cut -d, -f1-13 >"$tmp/b"
cmp -s "$tmp/a" "$tmp/b" && ok "deterministic results" || notok "deterministic results"

# ---- inputs that are not regular files: refused at once, never read (a FIFO would
# block for ever; the timeout is only a guard against that hang) ----
mkfifo "$tmp/fifo"
# refused WHAT KIND ARGS...: the command exits 1 at once saying what the file is
refused() {
    what=$1 kind=$2
    shift 2
    timeout 60 "$FRAGMIG" "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -eq 1 ] && grep -q "is $kind, not a regular file: refused" "$tmp/err"; then ok "$what"
    else echo "# exit status $got" >>"$tmp/err"; notok "$what"
    fi
}
refused "a FIFO as a scenario is refused" "a FIFO" simulate "$tmp/fifo"
refused "a FIFO as a trace is refused" "a FIFO" advise --trace "$tmp/fifo" --bandwidth 1Gbit
refused "a FIFO as a plot input is refused" "a FIFO" plot --out "$tmp/plots" "$tmp/fifo"
refused "a FIFO as a guest's trace is refused" "a FIFO" guest --trace "$tmp/fifo"
refused "a directory as a scenario is refused" "a directory" simulate "$tmp"
refused "a device as a trace is refused" "a device" advise --trace /dev/zero --bandwidth 1Gbit

tap_done
