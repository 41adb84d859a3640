#!/bin/bash
# run.sh: runs the Xen test bed: builds the boot images, boots Debian's Xen 4.17 and a
# Linux dom0 in QEMU (TCG, no KVM needed), where dom0-test.sh creates a PVH guest running
# memcheck, live-migrates it with `xl migrate` to localhost and checks its memory; then
# dom0 powers the machine off.  Prints the test's TAP lines and a PASS/FAIL verdict.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: tests/xen/run.sh [SCENARIO]
#   migrate  (default) 256 MiB guest dirtying 96 MiB, one xl migration
#   idle     256 MiB guest, memcheck idle, one xl migration
#   repeat   256 MiB guest dirtying 96 MiB, two xl migrations in a row
#   hook     256 MiB guest dirtying 96 MiB, no xl migration: only the fragmig hook
#   compare  256 MiB guest dirtying 96 MiB: xl migrate, then the hook's fragmig
#            migrations (--policy xen, --policy fragment), a light guest, save and
#            restore, and the comparison table (`make check-xen`; needs FRAGMIG_BIN)
#   hvm      the same comparison with a 128 MiB HVM guest dirtying 48 MiB, whose device
#            model is Debian's QEMU (qemu-system-xen): xl migrate, the hook's fragmig
#            migrations, two that must fail, save and xl restore.  NOT PASSING YET and
#            not in `make check-xen`: QEMU exits while libxl starts it (README.md)
#   pv       the same comparison with a 128 MiB PV guest dirtying 48 MiB (and a PV
#            light guest); the shadow hypervisor by default: PV log-dirty needs it
#   shell    an interactive dom0 shell on this terminal (daemons started; no timeout)
# Environment:
#   FM_XEN_WORK    work directory prepared by setup.sh (default /var/tmp/fragmig-xen)
#   FRAGMIG_BIN    fragmig executable (or its directory) to put into dom0: runs the hook
#   FMXT_TIMEOUT   seconds for the whole run, image build included (default 300); QEMU
#                  is killed when it runs out, dom0's watchdog fires a little earlier
#   FMXT_SLOW      factor applied to every time limit of the run (FMXT_TIMEOUT's default
#                  and the limits in dom0); default: the host's load average per CPU
#                  when the run starts, rounded up, between 1 and 4
#   FMXT_XEN       stock (default): Debian's hypervisor, log-dirty by HAP on QEMU's
#                  emulated nested paging; shadow: the same rebuilt with shadow paging
#                  (setup.sh --shadow), log-dirty by shadow page tables, no nested paging
#   FMXT_CPU       QEMU CPU model (default qemu64,+svm,+npt for stock: emulated SVM with
#                  nested paging, so that Xen has HAP; qemu64,+svm for shadow; README.md
#                  says why not max)
#   FMXT_XEN_ARGS  more hypervisor command-line options
#   FMXT_SMP       virtual CPUs (default 2)
#   FMXT_ACCEL     QEMU accelerator (default tcg,thread=multi)
#   FMXT_MEM, FMXT_DIRTY, FMXT_PAUSE, FMXT_MIGRATIONS   override the scenario's guest
#                  memory (MiB), memcheck's dirtied MiB and pause (ms), and migrations
#   FMXT_LOG       the log file (default WORKDIR/logs/SCENARIO-DATE.log; latest.log links it)
#   FMXT_VERBOSE=1 show the whole console, not only the test's lines
# Exit status: 0 every test passed; 1 a test failed or the run did not finish; 2 the
# test bed is not set up or the arguments are wrong.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${FM_XEN_WORK:-/var/tmp/fragmig-xen}
OUT=$WORK/out
SCENARIO=${1:-migrate}
# A guest emulated by TCG runs as fast as the host's CPUs are free: on a host already
# busy, every step takes longer, and limits tuned on a quiet host fire on runs that
# would have passed.  The limits are there to end a run that is stuck, so scale them.
slow_default() {
    awk -v n="$(nproc)" '{ f = $1 / n; s = int(f); if (s < f) s++; if (s < 1) s = 1; if (s > 4) s = 4; print s }' /proc/loadavg
}
SLOW=${FMXT_SLOW:-$(slow_default)}
case $SLOW in
[1-9] | [1-9][0-9]) ;;
*) echo "run.sh: FMXT_SLOW must be a whole number from 1 to 99" >&2; exit 2 ;;
esac
default_timeout=300
case $SCENARIO in compare | hvm | pv) default_timeout=900 ;; esac
TIMEOUT=${FMXT_TIMEOUT:-$((default_timeout * SLOW))}
default_xen=stock
[ "$SCENARIO" = pv ] && default_xen=shadow
XEN=${FMXT_XEN:-$default_xen}
case $XEN in
stock) XEN_IMAGE=$OUT/xen CPU=${FMXT_CPU:-qemu64,+svm,+npt} ;;
shadow) XEN_IMAGE=$WORK/xen-shadow/xen CPU=${FMXT_CPU:-qemu64,+svm} ;;
*) echo "run.sh: FMXT_XEN must be stock or shadow" >&2; exit 2 ;;
esac
SMP=${FMXT_SMP:-2}
ACCEL=${FMXT_ACCEL:-tcg,thread=multi}
T_START=$EPOCHREALTIME

usage() { sed -n '/^# Usage:/,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "run.sh: error: $*" >&2; exit 2; }
# elapsed: seconds since run.sh started, one decimal.
elapsed() { awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

[ $# -le 1 ] || usage
case $SCENARIO in
migrate) mem=256 dirty=96 migrations=1 ;;
idle) mem=256 dirty=0 migrations=1 ;;
repeat) mem=256 dirty=96 migrations=2 ;;
hook) mem=256 dirty=96 migrations=0 ;;
compare) mem=256 dirty=96 migrations=1 ;;
hvm) mem=128 dirty=48 migrations=1 ;;
pv) mem=128 dirty=48 migrations=1 ;;
shell) mem=256 dirty=96 migrations=0 ;;
-h | --help) usage ;;
*) echo "run.sh: unknown scenario '$SCENARIO'" >&2; usage ;;
esac
mem=${FMXT_MEM:-$mem}
dirty=${FMXT_DIRTY:-$dirty}
pause=${FMXT_PAUSE:-20}
migrations=${FMXT_MIGRATIONS:-$migrations}
for v in "$mem" "$dirty" "$pause" "$migrations" "$TIMEOUT" "$SMP"; do
    [[ $v =~ ^[0-9]+$ ]] || die "not a number: '$v'"
done
[ "$dirty" -lt "$mem" ] || die "the guest cannot dirty $dirty MiB of $mem MiB"
[ -f "$WORK/versions.txt" ] || die "$WORK is not set up: run tests/xen/setup.sh $WORK"
[ "$XEN" = stock ] || [ -f "$XEN_IMAGE" ] ||
    die "no shadow-paging hypervisor: run tests/xen/setup.sh --shadow $WORK"
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64: run tests/xen/setup.sh"

# One QEMU per work directory: the images are rebuilt in place, and this machine is small.
mkdir -p "$WORK/logs"
exec 9>"$WORK/.run.lock"
flock -n 9 || die "another run.sh is using $WORK"

echo "run.sh: building the images"
guest_type=pvh
[ "$SCENARIO" = hvm ] && guest_type=hvm
[ "$SCENARIO" = pv ] && guest_type=pv
# QEMU for HVM guests goes into dom0 for the hvm scenario (FMXT_DM=1: also for others,
# e.g. shell).
dm=0
[ $guest_type = hvm ] && dm=1
if ! FMXT_DM=${FMXT_DM:-$dm} \
    timeout 120 "$HERE/build-initrd.sh" "$WORK" >"$WORK/logs/build.log" 2>&1; then
    cat "$WORK/logs/build.log" >&2
    die "building the images failed"
fi
sed 's/^/run.sh: /' "$WORK/logs/build.log"
T_BUILD=$(elapsed)

# Xen: serial console; dom0 gets 512 MiB and leaves the rest to the guests (a localhost
# migration holds two copies of the guest).  With -cpu max (not recommended: README.md),
# a PV dom0 needs Xen not to use SMAP and SMEP.
xen_args="console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all"
xen_args+=" dom0_mem=512M,max:512M dom0_max_vcpus=$SMP"
case $CPU in
max* | host*) xen_args+=" smap=0 smep=0" ;;
esac
xen_args+=" ${FMXT_XEN_ARGS:-}"
# dom0's /init reads the fmxt.* parameters (the kernel ignores them: they look like
# parameters of a module it does not have).  No commas: QEMU splits -initrd at commas.
budget=$((TIMEOUT - ${T_BUILD%.*} - 5))
[ "$budget" -ge 60 ] || die "FMXT_TIMEOUT=$TIMEOUT leaves QEMU less than a minute"
deadline=$((budget - 25))
dom0_args="console=hvc0 earlyprintk=xen loglevel=4 panic=5"
dom0_args+=" fmxt.scenario=$SCENARIO fmxt.type=$guest_type fmxt.mem=$mem fmxt.dirty=$dirty fmxt.pause=$pause"
dom0_args+=" fmxt.migrations=$migrations fmxt.deadline=$deadline"
# The hook gets what the deadline leaves after the baseline (~150 s with its retry).
hook_timeout=$((120 * SLOW))
case $SCENARIO in compare | hvm | pv) hook_timeout=$((deadline - 200 * SLOW)) ;; esac
dom0_args+=" fmxt.hook_timeout=$hook_timeout fmxt.slow=$SLOW"
qemu=(qemu-system-x86_64 -accel "$ACCEL" -cpu "$CPU" -smp "$SMP" -m 2048
    -nodefaults -nographic -no-reboot
    -kernel "$XEN_IMAGE" -append "$xen_args"
    -initrd "$OUT/vmlinuz $dom0_args,$OUT/dom0.cpio.gz")

if [ "$SCENARIO" = shell ]; then
    echo "run.sh: interactive dom0; 'poweroff -f' in dom0 (or Ctrl-A x) ends QEMU"
    exec "${qemu[@]}" -serial mon:stdio
fi

LOG=${FMXT_LOG:-$WORK/logs/$SCENARIO-$(date +%Y%m%d-%H%M%S).log}
ln -sfn "$LOG" "$WORK/logs/latest.log"
{
    echo "# run.sh $SCENARIO: xen=$XEN accel=$ACCEL cpu=$CPU smp=$SMP mem=$mem dirty=$dirty pause=$pause migrations=$migrations"
    echo "# fragmig in dom0: ${FRAGMIG_BIN:-no}"
    echo "# xen: $xen_args"
    echo "# dom0: $dom0_args"
    grep -E '^(xen-hypervisor|xen-utils-4|linux-image-[0-9]|qemu-system-x86) ' "$WORK/versions.txt" | sed 's/^/# /'
} >"$LOG"
echo "run.sh: booting Xen ($XEN) in QEMU (-cpu $CPU, ${budget}s budget, limits x$SLOW); console log: $LOG"

# Timestamps every console line (seconds since QEMU started) into the log; echoes the
# test's own lines, or everything with FMXT_VERBOSE=1.
# Times are microseconds from EPOCHREALTIME: bash arithmetic, no process per line.
stamp() {
    local t0 line t d
    t0=${EPOCHREALTIME/[.,]/}
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line//$'\r'/}
        t=${EPOCHREALTIME/[.,]/}
        d=$((10#$t - 10#$t0))
        printf -v t '%4d.%02d' $((d / 1000000)) $((d % 1000000 / 10000))
        printf '[%s] %s\n' "$t" "$line" >>"$LOG"
        if [ "${FMXT_VERBOSE:-0}" = 1 ]; then
            printf '[%s] %s\n' "$t" "$line"
        else
            case $line in
            "ok "* | "not ok "* | "1.."* | "# time "* | "Bail out!"* | FMXT-RESULT* | fmxt-dom0*)
                printf '[%s] %s\n' "$t" "$line" ;;
            esac
        fi
    done
}

T_QEMU=$EPOCHREALTIME
timeout -k 10 "$budget" "${qemu[@]}" -serial stdio </dev/null 2>&1 | stamp
qemu_rc=${PIPESTATUS[0]}
T_QEMU_SECS=$(awk -v a="$T_QEMU" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

# ---- the verdict --------------------------------------------------------------------------
# The test's lines, without timestamps.  The console may glue a kernel message to a line:
# only lines that start as TAP count.
tap=$(sed -n 's/^\[ *[0-9.]*\] //p' "$LOG" | grep -E '^(ok [0-9]+ |not ok [0-9]+ |1\.\.[0-9]+$|Bail out!)')
n_ok=$(echo "$tap" | grep -cE '^ok [0-9]+ ')
n_fail=$(echo "$tap" | grep -cE '^not ok [0-9]+ ')
plan=$(echo "$tap" | sed -n 's/^1\.\.\([0-9]*\)$/\1/p' | tail -n 1)
result=$(sed -n 's/^\[ *[0-9.]*\] \(FMXT-RESULT .*\)$/\1/p' "$LOG" | tail -n 1)
t_dom0=$(sed -n 's/^\[ *\([0-9.]*\)\] fmxt-dom0 init .*/\1/p' "$LOG" | head -n 1)
t_off=$(sed -n 's/^\[ *\([0-9.]*\)\] fmxt-dom0 poweroff .*/\1/p' "$LOG" | tail -n 1)

why=""
if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
    why="QEMU killed after ${budget}s"
elif [ "$qemu_rc" -ne 0 ]; then
    why="QEMU exit status $qemu_rc"
fi
[ -n "$result" ] || why="${why:+$why; }dom0 printed no result"
[ -n "$plan" ] || why="${why:+$why; }no TAP plan"
[ -z "$plan" ] || [ "$plan" -eq $((n_ok + n_fail)) ] ||
    why="${why:+$why; }plan 1..$plan but $((n_ok + n_fail)) results"
[ "$n_fail" -eq 0 ] || why="${why:+$why; }$n_fail failed"
[ "$result" = "FMXT-RESULT PASS" ] || [ -z "$result" ] || why="${why:+$why; }${result#FMXT-RESULT }"
# A crash of Xen, of dom0's kernel or of a dom0 program (the shell reports those) leaves
# its mark on the console even when the test itself saw nothing wrong.  The test's own
# comments (# ...) are not looked at: they quote guest consoles, and the guest's faults
# are dom0-test.sh's business (it tells QEMU's known fault from real ones).
crash='Panic on CPU|Kernel panic|Oops:|general protection fault|BUG: '
crash+='|^(Segmentation fault|Aborted|Illegal instruction|Bus error)|malloc\(\)|double free|corrupted'
# A kernel's soft-lockup watchdog ("BUG: soft lockup - CPU#1 stuck for 55s!") and RCU
# stall reports are no crash: they say that QEMU's virtual CPU got no host CPU for a
# while, which a busy host does to TCG.  They are reported, not counted; what the guest
# or dom0 lost meanwhile, the test's own checks see.
starved='BUG: soft lockup|rcu: INFO: rcu_.* detected stalls'
console=$(sed -n 's/^\[ *[0-9.]*\] //p' "$LOG" | grep -v '^#')
crashes=$(echo "$console" | grep -vE "$starved" | grep -E "$crash" | head -n 5)
if [ -n "$crashes" ]; then
    why="${why:+$why; }crash on the console"
    echo "$crashes" | sed 's/^/# /'
fi
n_starved=$(echo "$console" | grep -cE "$starved")
[ "$n_starved" -eq 0 ] ||
    echo "# the host starved QEMU's CPUs: $n_starved soft-lockup or RCU stall reports (not failures)"

{
    echo "# timings: build ${T_BUILD}s; QEMU start -> dom0 /init ${t_dom0:-?}s;" \
        "-> poweroff ${t_off:-?}s; QEMU ran ${T_QEMU_SECS}s; total $(elapsed)s"
    sed -n 's/^\[ *[0-9.]*\] # time /#   /p' "$LOG"
    if [ -z "$why" ]; then
        echo "PASS: $n_ok tests ($SCENARIO, xen=$XEN, -cpu $CPU)"
    else
        echo "FAIL: $why ($SCENARIO, xen=$XEN, -cpu $CPU; $n_ok ok, $n_fail not ok)"
        echo "$tap" | grep -E '^(not ok|Bail out)' | sed 's/^/# /'
    fi
    echo "# log: $LOG"
} | tee -a "$LOG"
[ -z "$why" ]
