#!/bin/sh
# check-valgrind.sh: `make check-valgrind`: runs end-to-end shell tests with fragmig
# under valgrind memcheck (through tests/valgrind-fragmig.sh) and fails on any
# failed test case, memcheck error or definite leak.
#   check-valgrind.sh BUILDDIR SRCDIR TEST-SCRIPT...
# $CHECK_VALGRIND_COMMANDS: the fragmig commands run under memcheck.
# Reports go to BUILDDIR/tests/valgrind-logs/ (fragmig.PID.log, one per process).
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u
builddir=$1 srcdir=$2
shift 2
logs=$builddir/tests/valgrind-logs
rm -rf "$logs"
mkdir -p "$logs"
status=0

for t in "$@"; do
    name=$(basename "$t" .sh)
    echo "== $t, fragmig ${CHECK_VALGRIND_COMMANDS:-migrate receive} under valgrind memcheck"
    FRAGMIG=$srcdir/tests/valgrind-fragmig.sh \
    FM_VALGRIND_FRAGMIG=$builddir/fragmig \
    FM_VALGRIND_LOGDIR=$logs \
    FM_VALGRIND_COMMANDS=${CHECK_VALGRIND_COMMANDS:-migrate receive} \
    FM_TEST_BUILDDIR=$builddir \
    FM_TEST_DATA=$srcdir/tests/data \
    FM_TEST_EXAMPLES=$srcdir/examples \
    FM_TEST_TIMEOUT=10 \
    LC_ALL=C.UTF-8 \
        "${SHELL:-/bin/sh}" "$srcdir/$t" >"$logs/$name.tap" 2>&1
    rc=$?
    pass=$(grep -c '^ok ' "$logs/$name.tap")
    fail=$(grep -c '^not ok ' "$logs/$name.tap")
    echo "   $pass ok, $fail not ok (exit $rc)"
    if [ "$rc" -ne 0 ] || [ "$fail" -ne 0 ]; then
        status=1
        grep -A6 '^not ok ' "$logs/$name.tap" | head -40 | sed 's/^/   /'
    fi
done

# every process's report: memcheck writes "==PID== ..." lines only for errors and
# leaks (--quiet); "--PID--" lines are valgrind's own warnings (unknown syscalls)
runs=$(find "$logs" -name 'fragmig.*.log' | wc -l)
bad=$(grep -l '^==[0-9]*==' "$logs"/fragmig.*.log 2>/dev/null)
if [ -n "$bad" ]; then
    status=1
    for f in $bad; do
        echo "== memcheck report $f"
        head -60 "$f"
    done
fi
echo "check-valgrind: $runs fragmig processes under memcheck, $(echo "$bad" | grep -c .) with errors or leaks"
exit $status
