#!/bin/sh
# dom0-test.sh: the test bed's test, run in dom0 by /init: starts the Xen daemons, creates
# a PVH, HVM or PV guest running memcheck, live-migrates it to localhost with stock `xl migrate`
# (the baseline), checks that its memory survived, then runs the fragmig hook.  TAP.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: dom0-test.sh [--daemons-only]
# Parameters, from the kernel command line (run.sh sets them from the scenario):
#   fmxt.type=pvh|hvm|pv the guest's type (pvh; hvm: with Debian's QEMU as its device model;
#                        pv: the same kernel as a PV guest, needs the shadow hypervisor)
#   fmxt.mem=MIB         guest memory (256)
#   fmxt.dirty=MIB       memory memcheck dirties and verifies in the guest (96; 0 = idle)
#   fmxt.pause=MS        memcheck's pause between passes (20)
#   fmxt.migrations=N    baseline migrations (1; 0 = none, e.g. to try the hook alone)
#   fmxt.deadline=S      dom0 uptime at which /init's watchdog ends the run (270)
#   fmxt.slow=F          factor applied to each step's time limit (1; see fmxt_limit)
# Every step has a timeout; /init's watchdog bounds the whole.
. /usr/lib/fmxt/dom0-lib.sh

GUEST=fmxt-guest
FMXT_TYPE=$(fmxt_arg type pvh)
export FMXT_TYPE
KIND=$(echo "$FMXT_TYPE" | tr a-z A-Z)
# An HVM guest boots through hvmloader and SeaBIOS, emulated twice over: slower.
READY_SECS=$(fmxt_limit 120)
[ "$FMXT_TYPE" = hvm ] && READY_SECS=$(fmxt_limit 240)
MEM=$(fmxt_arg mem 256)
DIRTY=$(fmxt_arg dirty 96)
PAUSE=$(fmxt_arg pause 20)
MIGRATIONS=$(fmxt_arg migrations 1)
DEADLINE=$(fmxt_arg deadline 270)

# start_daemons: xenstored, then dom0's own xenstore entries, then the console daemon
# (which writes each guest's console to $FMXT_CONSOLE_DIR/guest-NAME.log).
start_daemons() {
    xenstored --pid-file /run/xenstored.pid || { echo "xenstored failed"; return 1; }
    timeout 30 xen-init-dom0 || { echo "xen-init-dom0 failed"; return 1; }
    xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir="$FMXT_CONSOLE_DIR" ||
        { echo "xenconsoled failed"; return 1; }
}

# show_guest: the guest's state and console tails, as TAP comments.
show_guest() {
    xl list 2>&1 | tap_diag
    for f in $(fmxt_console_logs $GUEST); do
        echo "# == ${f##*/}"
        tail -n "${1:-10}" "$f" | tr -d '\r' | tap_diag
    done
}

# create_guest: creates the guest and waits for memcheck to run in it; reports both.
# Fails when the guest is not running memcheck.
create_guest() {
    fmxt_guest_cfg "$GUEST" "$MEM" "$DIRTY" "$PAUSE" >/etc/xen/$GUEST.cfg
    t0=$(fmxt_now)
    if timeout 90 xl create /etc/xen/$GUEST.cfg >"$FMXT_RUN/xl-create.log" 2>&1; then
        tap_ok "xl create: ${MEM} MiB $KIND guest"
    else
        tap_not_ok "xl create: ${MEM} MiB $KIND guest"
        tap_diag <"$FMXT_RUN/xl-create.log"
        # An HVM guest's device model says why it stopped in its own log.
        tail -n 20 /var/log/xen/qemu-dm-$GUEST.log 2>/dev/null | tap_diag
        return 1
    fi
    tap_time create "$(fmxt_since "$t0")"
    if fmxt_guest_wait_pass $GUEST 1 "$READY_SECS"; then
        tap_ok "memcheck runs in the guest (dirtying ${DIRTY} MiB)"
    else
        tap_not_ok "memcheck runs in the guest (dirtying ${DIRTY} MiB)"
        show_guest 20
        return 1
    fi
    tap_time guest_ready "$(fmxt_since "$t0")" "(xl create -> memcheck's second pass)"
    # Let it run a little, so that a migration starts on a guest in its steady state.
    sleep 3
}

# retire_guest DIR: destroys the guest (whatever its state) and keeps its consoles in DIR.
retire_guest() {
    for d in $GUEST "$GUEST--incoming" "$GUEST--migratedaway"; do
        fmxt_domain_exists "$d" && timeout 30 xl destroy "$d"
    done
    fmxt_guest_archive_logs $GUEST "$1"
}

# migrate N: baseline migration N and its checks.  When the guest dies of the known
# QEMU SVM emulation fault (see fmxt_tcg_vmrun_fault), that attempt is reported as
# skipped, not failed, and the migration is tried once more on a new guest if the
# deadline leaves time for it: it says nothing about Xen, xl or fragmig.
migrate() {
    attempt=1
    while :; do
        domid=$(xl domid $GUEST 2>/dev/null)
        before=$(fmxt_guest_pass $GUEST)
        fmxt_xl_migrate $GUEST "$(fmxt_limit 150)"
        rc=$?
        if [ $rc -ne 0 ] && [ -n "$domid" ] && fmxt_tcg_vmrun_fault "$domid"; then
            tap_skip "xl migrate $1, attempt $attempt" \
                "the guest hit QEMU's SVM emulation fault (triple fault inside VMRUN) after ${FMXT_MIG_SECS}s"
            xl dmesg | grep -A 3 "d${domid}v0 Triple fault" | tap_diag
            grep -E 'error|failed' "$FMXT_RUN/xl-migrate.log" | head -n 5 | tap_diag
            retire_guest "$FMXT_CONSOLE_DIR/attempt-$1-$attempt"
            if [ "$attempt" -ge 2 ] ||
                [ "$(cut -d. -f1 /proc/uptime)" -gt $((DEADLINE - 110)) ]; then
                tap_not_ok "xl migrate $1: no attempt left before the deadline"
                return 1
            fi
            attempt=$((attempt + 1))
            create_guest || return 1
            continue
        fi
        break
    done

    if [ $rc -eq 0 ]; then
        tap_ok "xl migrate $1 to localhost (${FMXT_MIG_SECS}s, stream ${FMXT_MIG_BYTES:-?} bytes)"
    else
        tap_not_ok "xl migrate $1 to localhost (status $rc after ${FMXT_MIG_SECS}s)"
        tap_diag <"$FMXT_RUN/xl-migrate.log"
        # A stopped xl leaves its half-migrated domains (NAME--incoming,
        # NAME--migratedaway) and a guest in no known state: the cases that follow would
        # fail on the names, not on what they test.  Start them from a new guest.
        show_guest 5
        retire_guest "$FMXT_CONSOLE_DIR/failed-$1"
        create_guest
        return 1
    fi
    grep -vE '^libxl: debug|^xc: detail' "$FMXT_RUN/xl-migrate.log" | tail -n 20 | tap_diag
    ratio=""
    [ -n "$FMXT_MIG_BYTES" ] &&
        ratio=$(awk -v b="$FMXT_MIG_BYTES" -v m="$MEM" 'BEGIN { printf "%.2f", b / (m * 1048576) }')
    tap_time "xl_migrate_$1" "$FMXT_MIG_SECS" "stream_bytes=${FMXT_MIG_BYTES:-?} stream/memory=${ratio:-?}"

    fmxt_check_after $GUEST "after migration $1" "$before" || return 1
    tap_time "xl_migrate_$1_downtime" "$(awk -v d="$FMXT_DOWNTIME_MS" 'BEGIN { printf "%.3f", d / 1000 }')" \
        "(the guest's longest heartbeat gap)"
    # The baseline for the hook's comparisons: the last xl migration of this guest.
    FMXT_XL_SECS=$FMXT_MIG_SECS FMXT_XL_BYTES=$FMXT_MIG_BYTES FMXT_XL_DOWNTIME_MS=$FMXT_DOWNTIME_MS
    export FMXT_XL_SECS FMXT_XL_BYTES FMXT_XL_DOWNTIME_MS
}

# check_memory WHEN: memcheck found no damaged page, and the consoles show no crash.
check_memory() {
    bad=$(fmxt_guest_bad $GUEST)
    if [ "$bad" -eq 0 ] && ! fmxt_guest_faults $GUEST >"$FMXT_RUN/faults"; then
        tap_ok "$1: guest memory intact (bad=0, pass $(fmxt_guest_pass $GUEST), maxgap_ms=$(fmxt_guest_maxgap $GUEST))"
    else
        tap_not_ok "$1: guest memory intact (bad=$bad)"
        head -n 20 "$FMXT_RUN/faults" | tap_diag
    fi
}

t0=$(fmxt_now)
tap_check "Xen daemons started (xenstored, xen-init-dom0, xenconsoled)" start_daemons
tap_time daemons "$(fmxt_since "$t0")"
[ "${1:-}" = --daemons-only ] && exit 0

# ---- the hypervisor -------------------------------------------------------------------
if timeout 30 xl info >"$FMXT_RUN/xl-info" 2>&1; then
    tap_ok "xl info"
    grep -E '^(xen_version|xen_caps|virt_caps|xen_commandline|total_memory|free_memory|nr_cpus)' \
        "$FMXT_RUN/xl-info" | tap_diag
else
    tap_not_ok "xl info"
    tap_diag <"$FMXT_RUN/xl-info"
fi
# PVH needs HVM, and HVM needs paging for the guest: HAP (nested paging: QEMU's npt), or
# shadow paging, which Debian's hypervisor is built without (setup.sh --shadow adds it).
caps=$(sed -n 's/^virt_caps *: *//p' "$FMXT_RUN/xl-info")
paging=""
echo " $caps " | grep -q ' hap ' && paging=hap
echo " $caps " | grep -q ' shadow ' && paging="${paging:+$paging+}shadow"
if [ "$FMXT_TYPE" = pv ]; then
    # A PV guest runs anywhere, but its log-dirty mode needs shadow paging.
    if echo " $caps " | grep -q ' shadow '; then
        tap_ok "hypervisor has shadow paging for PV log-dirty (virt_caps: $caps)"
    else
        tap_not_ok "hypervisor has shadow paging for PV log-dirty (virt_caps: $caps)"
        echo "Bail out! PV guests cannot be live-migrated without shadow paging: use FMXT_XEN=shadow"
        tap_finish
        exit 1
    fi
elif echo " $caps " | grep -q ' hvm ' && [ -n "$paging" ]; then
    tap_ok "hypervisor runs $KIND guests (virt_caps: $caps)"
else
    tap_not_ok "hypervisor runs $KIND guests (virt_caps: $caps)"
    xl dmesg 2>&1 | grep -iE 'svm|vmx|hap|npt|hvm|shadow' | head -n 10 | tap_diag
    # Nothing else can work: say so at once instead of waiting for timeouts.
    echo "Bail out! no HVM with HAP or shadow paging: give QEMU a CPU with svm and npt, or use FMXT_XEN=shadow"
    tap_finish
    exit 1
fi

# ---- the guest and the baseline: stock xl migrate ---------------------------------------
if create_guest; then
    i=1
    while [ "$i" -le "$MIGRATIONS" ]; do
        migrate $i || break
        i=$((i + 1))
    done
fi

# ---- the fragmig hook -----------------------------------------------------------------
# The hook prints unnumbered TAP lines ("ok - ...", "not ok - ...") that become tests of
# this run, and anything else as comments; its exit status is one more test.
if command -v fragmig >/dev/null 2>&1; then
    export FMXT_GUEST=$GUEST FMXT_MEM=$MEM FMXT_DIRTY=$DIRTY
    t0=$(fmxt_now)
    { timeout "$(fmxt_arg hook_timeout 120)" /dom0-fragmig.sh 2>&1; echo "FMXT-HOOK-STATUS $?"; } |
        while IFS= read -r line; do
            case $line in
            "ok - "*) tap_ok "fragmig hook: ${line#ok - }" ;;
            "not ok - "*) tap_not_ok "fragmig hook: ${line#not ok - }" ;;
            "FMXT-HOOK-STATUS 0") tap_ok "fragmig hook: dom0-fragmig.sh succeeded" ;;
            "FMXT-HOOK-STATUS "*) tap_not_ok "fragmig hook: dom0-fragmig.sh exit status ${line#FMXT-HOOK-STATUS }" ;;
            *) echo "# $line" ;;
            esac
        done
    tap_time fragmig_hook "$(fmxt_since "$t0")"
else
    tap_skip "fragmig hook" "no fragmig in dom0 (build the images with FRAGMIG_BIN set)"
fi

# ---- the end --------------------------------------------------------------------------
if fmxt_domain_exists $GUEST; then
    check_memory "at the end"
    if fmxt_domain_running $GUEST && [ "$(fmxt_guest_starts $GUEST)" -eq 1 ]; then
        tap_ok "at the end: the guest is running and never restarted"
    else
        tap_not_ok "at the end: the guest is running and never restarted"
        show_guest 10
    fi
fi
echo "# guest console (last lines):"
for f in $(fmxt_console_logs $GUEST); do
    echo "# == ${f##*/}"
    tail -n 4 "$f" | tr -d '\r' | tap_diag
done
# dom0's kernel logs the programs that died of a signal (xl, the daemons, the shell's).
if dmesg | grep -E 'segfault at|traps: .* trap|general protection' >"$FMXT_RUN/dom0-crashes"; then
    tap_not_ok "dom0: no program crashed"
    head -n 10 "$FMXT_RUN/dom0-crashes" | tap_diag
else
    tap_ok "dom0: no program crashed"
fi
retire_guest "$FMXT_CONSOLE_DIR/final"
if timeout 30 xl list 2>/dev/null | awk 'NR > 1 && $1 != "Domain-0" { f = 1 } END { exit f }'; then
    tap_ok "guests destroyed"
else
    tap_not_ok "guests destroyed"
    xl list 2>&1 | tap_diag
fi
tap_finish
