#!/bin/sh
# run-all.sh: runs every fuzz target, one after the other, in one of two modes:
#   tests/fuzz/run-all.sh SECONDS [FUZZ_DIR [SRCDIR]]    exploratory: SECONDS per target,
#                                                         random seeds, a corpus that grows
#   tests/fuzz/run-all.sh runs=N [FUZZ_DIR [SRCDIR]]      reproducible (CI): N executions
#                                                         per target from a fixed seed
# FUZZ_DIR holds the binaries of `make fuzz-build` (default: ./fuzz-build, as in the
# build directory); SRCDIR is the source tree (default: this script's ../..).
#
# Every target starts from the checked-in seeds (tests/fuzz/corpus/TARGET) and the
# regression inputs (tests/data/fuzz/TARGET).  Exploratory runs also start from what
# earlier runs in FUZZ_DIR found (FUZZ_DIR/corpus/TARGET, which grows).  A
# reproducible run starts from those checked-in inputs only, into an emptied
# FUZZ_DIR/corpus-runs/TARGET, with libFuzzer's -seed=$FUZZ_SEED (default 1) and
# -runs=N, and without address space randomisation (setarch -R: libFuzzer mutates
# with the values the code compares, pointers included), so that the same commit
# executes the same inputs and gets the same verdict.
#
# A crash (the harness aborts on any broken promise), a leak, a timeout (an input
# that takes over $FUZZ_TIMEOUT s: by default 60, and 600 in a reproducible run;
# real inputs take milliseconds, but on a loaded machine a process can wait minutes
# for a core, and a verdict must not depend on the load) or running out of memory
# (2 GiB) is a finding: the
# run goes on with the next target, and the script exits 1.  Each finding is kept
# as FUZZ_DIR/findings/TARGET/*, copied to $FUZZ_KEEP/TARGET/ when FUZZ_KEEP is set
# (a directory that later cleaning leaves alone), and printed in base64 with the
# command that writes it back to tests/data/fuzz/TARGET/ (tests/fuzz/README.md).
# The source tree is never written.
#
# Prints one line per target: seed, executions, rate, corpus size, findings; then
# the totals.  $FUZZ_TARGETS overrides the list of targets.
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u
mode=${1:?usage: run-all.sh SECONDS|runs=N [FUZZ_DIR [SRCDIR]]}
dir=${2:-fuzz-build}
srcdir=${3:-$(cd "$(dirname "$0")/../.." && pwd)}
targets=${FUZZ_TARGETS:-"stream result receiver xen-stream xl scenario trace guest"}
seed=${FUZZ_SEED:-1}
norandom=""
case $mode in
    runs=*)
        runs=${mode#runs=}; limit="-runs=$runs -seed=$seed -reload=0"; what="$runs runs"
        timeout=${FUZZ_TIMEOUT:-600}
        if setarch "$(uname -m)" -R true 2>/dev/null; then
            norandom="setarch $(uname -m) -R"
        else
            echo "fuzz: setarch -R fails here: addresses are random, runs may differ"
        fi
        ;;
    *) runs=""; limit="-max_total_time=$mode"; what="$mode s"; timeout=${FUZZ_TIMEOUT:-60} ;;
esac
status=0
total_execs=0
total_findings=0

# Prints finding @1 of target @2 so that it can be written back from the log alone.
show_finding() {
    name=$(basename "$1")
    echo "    input: $1 ($(wc -c <"$1") bytes); to write it back as a regression input:"
    echo "    base64 -d > tests/data/fuzz/$2/$name <<'EOF'"
    base64 "$1" | sed 's/^/    /'
    echo "    EOF"
}

for t in $targets; do
    bin=$dir/fuzz-$t
    if [ ! -x "$bin" ]; then
        echo "fuzz $t: $bin not built (make fuzz-build)"; status=1; continue
    fi
    findings=$dir/findings/$t
    if [ -n "$runs" ]; then
        corpus_dir=$dir/corpus-runs/$t
        rm -rf "$corpus_dir" "$findings"
    else
        corpus_dir=$dir/corpus/$t
    fi
    mkdir -p "$corpus_dir" "$findings"
    seeds="$srcdir/tests/fuzz/corpus/$t"
    regress=""
    [ -d "$srcdir/tests/data/fuzz/$t" ] && regress="$srcdir/tests/data/fuzz/$t"
    ls "$findings" >"$dir/findings-before-$t"
    log=$dir/fuzz-$t.log
    # the first directory receives what the fuzzer finds; the others are read only
    # shellcheck disable=SC2086
    $norandom "$bin" $limit -timeout="$timeout" -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$findings/" \
        "$corpus_dir" "$seeds" $regress >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    corpus=$(find "$corpus_dir" -type f | wc -l)
    # slow-unit-* only reports a slow input, which is no failure
    new=$(ls "$findings" | grep -v '^slow-unit-' | grep -vxF -f "$dir/findings-before-$t")
    found=$(echo "$new" | grep -c .)
    if [ -n "$runs" ]; then
        # what decides the verdict: the same commit must print the same line
        cov=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" |
              sed -E 's/[[:space:]]*exec\/s.*//;s/^#[0-9]+[[:space:]]+DONE[[:space:]]+//' | tail -1)
        echo "fuzz $t: seed $seed, ${execs:-0} executions ($what, ${rate:-0}/s), ${cov:-no coverage line}, findings $found"
    else
        echo "fuzz $t: ${execs:-0} executions in $what (${rate:-0}/s), corpus $corpus, findings $found"
    fi
    total_execs=$((total_execs + ${execs:-0}))
    if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
        status=1
        total_findings=$((total_findings + (found > 0 ? found : 1)))
        echo "fuzz $t: FAILED (exit $rc); the fuzzer's report:"
        grep -E -B4 -A25 '^==[0-9]+== *ERROR|deadly signal|ALARM|out-of-memory' "$log" | head -60 | sed 's/^/    /'
        echo "    to reproduce: $bin -runs=1 FILE  (or tests/fuzz/replay-$t FILE, without clang)"
        for f in $new; do
            show_finding "$findings/$f" "$t"
            if [ -n "${FUZZ_KEEP:-}" ]; then
                mkdir -p "$FUZZ_KEEP/$t" && cp "$findings/$f" "$FUZZ_KEEP/$t/" &&
                    echo "    kept as $FUZZ_KEEP/$t/$f"
            fi
        done
    fi
done
echo "fuzz: $total_execs executions, $total_findings findings"
exit $status
