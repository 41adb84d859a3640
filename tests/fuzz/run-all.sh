#!/bin/sh
# run-all.sh: runs every fuzz target for SECONDS each, one after the other.
#   tests/fuzz/run-all.sh SECONDS [FUZZ_DIR [SRCDIR]]
# FUZZ_DIR holds the binaries of `make fuzz-build` (default: ./fuzz-build, as in the
# build directory); SRCDIR is the source tree (default: this script's ../..).
# Each target starts from the checked-in seeds (tests/fuzz/corpus/TARGET), the
# regression inputs (tests/data/fuzz/TARGET) and what earlier runs in FUZZ_DIR
# found (FUZZ_DIR/corpus/TARGET, which grows; the source tree is never written).
# A crash, a leak, a timeout (an input that takes over 10 s) or running out of
# memory (2 GiB) is a finding: the input is kept as FUZZ_DIR/findings/TARGET/*,
# the run goes on with the next target, and the script exits 1.
# Prints one line per target: executions, rate, corpus size, findings; then the
# totals.  $FUZZ_TARGETS overrides the list of targets.
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u
seconds=${1:?usage: run-all.sh SECONDS [FUZZ_DIR [SRCDIR]]}
dir=${2:-fuzz-build}
srcdir=${3:-$(cd "$(dirname "$0")/../.." && pwd)}
targets=${FUZZ_TARGETS:-"stream result receiver xen-stream xl scenario trace guest"}
status=0
total_execs=0
total_findings=0

for t in $targets; do
    bin=$dir/fuzz-$t
    if [ ! -x "$bin" ]; then
        echo "fuzz $t: $bin not built (make fuzz-build)"; status=1; continue
    fi
    mkdir -p "$dir/corpus/$t" "$dir/findings/$t"
    seeds="$srcdir/tests/fuzz/corpus/$t"
    regress=""
    [ -d "$srcdir/tests/data/fuzz/$t" ] && regress="$srcdir/tests/data/fuzz/$t"
    before=$(find "$dir/findings/$t" -type f | wc -l)
    log=$dir/fuzz-$t.log
    # the first directory receives what the fuzzer finds; the others are read only
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$dir/findings/$t/" \
        "$dir/corpus/$t" "$seeds" $regress >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    corpus=$(find "$dir/corpus/$t" -type f | wc -l)
    found=$(( $(find "$dir/findings/$t" -type f | wc -l) - before ))
    echo "fuzz $t: ${execs:-0} executions in ${seconds} s (${rate:-0}/s), corpus $corpus, findings $found"
    total_execs=$((total_execs + ${execs:-0}))
    if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
        status=1
        total_findings=$((total_findings + (found > 0 ? found : 1)))
        echo "fuzz $t: FAILED (exit $rc); the fuzzer's report:"
        grep -E -A25 '^==[0-9]+==ERROR|^SUMMARY|deadly signal|ALARM|out-of-memory|^(stream|result|receiver|xen|scenario|trace)[ a-z-]*:' "$log" | head -60 | sed 's/^/    /'
        find "$dir/findings/$t" -type f -newer "$bin" | sed 's/^/    input: /'
    fi
done
echo "fuzz: $total_execs executions, $total_findings findings"
exit $status
