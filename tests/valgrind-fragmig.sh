#!/bin/sh
# valgrind-fragmig.sh: stands in for fragmig in the end-to-end tests under
# `make check-valgrind`: runs the real one ($FM_VALGRIND_FRAGMIG) under valgrind
# memcheck for the commands listed in $FM_VALGRIND_COMMANDS (default: migrate and
# receive, the two ends of the network; the guest and inspect are the tests'
# fixtures), and directly for the others.  A memcheck error or a definite leak
# makes the command exit 97; each process writes its report to
# $FM_VALGRIND_LOGDIR/fragmig.PID.log, which `make check-valgrind` checks again
# (a process a test kills cannot exit 97).  FM_VALGRIND_NATIVE=1 in a command's
# environment runs it natively: a receiver that must adopt a guest needs
# userfaultfd, which valgrind does not implement.
# SPDX-License-Identifier: LGPL-2.1-or-later
: "${FM_VALGRIND_FRAGMIG:?}" "${FM_VALGRIND_LOGDIR:?}"
commands=${FM_VALGRIND_COMMANDS:-migrate receive}
[ "${FM_VALGRIND_NATIVE:-0}" = 1 ] && commands=
for c in $commands; do
    if [ "${1:-}" = "$c" ]; then
        # GLib: no slice allocator, poisoned frees (gc-friendly), so that leaks show
        G_SLICE=always-malloc G_DEBUG=gc-friendly
        export G_SLICE G_DEBUG
        exec ${VALGRIND:-valgrind} --quiet --tool=memcheck --leak-check=full \
            --errors-for-leak-kinds=definite --show-leak-kinds=definite \
            --error-exitcode=97 --track-origins=yes --num-callers=30 \
            --suppressions="$(dirname "$0")/valgrind.supp" \
            --log-file="$FM_VALGRIND_LOGDIR/fragmig.%p.log" \
            "$FM_VALGRIND_FRAGMIG" "$@"
    fi
done
exec "$FM_VALGRIND_FRAGMIG" "$@"
