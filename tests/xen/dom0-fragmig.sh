#!/bin/sh
# dom0-fragmig.sh: the fragmig part of the Xen test bed, run in dom0 by dom0-test.sh
# after the baseline migration, when the dom0 image holds fragmig (FRAGMIG_BIN).
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Contract with dom0-test.sh:
#   - print "ok - DESC" / "not ok - DESC" for each check (dom0-test.sh numbers them);
#     any other line is shown as a comment; exit non-zero if something went wrong;
#   - finish within 120 s (dom0-test.sh kills the hook then);
#   - leave the guest $FMXT_GUEST running (dom0-test.sh checks it afterwards).
# Environment: FMXT_GUEST (the running memcheck guest), FMXT_MEM, FMXT_DIRTY (MiB),
# and dom0-lib.sh's helpers: fmxt_xl_migrate (the baseline, for comparisons),
# fmxt_guest_pass / fmxt_guest_wait_pass / fmxt_guest_bad / fmxt_guest_faults (checks
# of the guest), tap_time (timing lines).
#
# Placeholder until the Xen backend exists: check that fragmig runs in dom0.  The
# backend's test goes at the end: `fragmig migrate --xen` of $FMXT_GUEST to localhost,
# then the same checks as the baseline (memcheck goes on, bad=0), and its timings next
# to the baseline's.
. /usr/lib/fmxt/dom0-lib.sh
status=0

if out=$(fragmig --version 2>&1); then
    echo "$out"
    if echo "$out" | grep -q '^fragmig [0-9]'; then
        echo "ok - fragmig --version runs in dom0"
    else
        echo "not ok - fragmig --version prints no version"
        status=1
    fi
else
    echo "$out"
    echo "not ok - fragmig --version failed"
    status=1
fi

if out=$(fragmig policies 2>&1); then
    echo "$out"
    missing=""
    for p in xen xen-classic qemu fragment; do
        echo "$out" | grep -q "^$p - " || missing="$missing $p"
    done
    if [ -z "$missing" ]; then
        echo "ok - fragmig policies lists xen, xen-classic, qemu and fragment"
    else
        echo "not ok - fragmig policies lacks:$missing"
        status=1
    fi
else
    echo "$out"
    echo "not ok - fragmig policies failed"
    status=1
fi

exit $status
