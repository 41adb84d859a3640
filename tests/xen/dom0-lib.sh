# dom0-lib.sh: shell helpers for the scripts that run in the test bed's dom0
# (dom0-test.sh and the fragmig hook dom0-fragmig.sh): TAP output, timings, guest
# configurations, the baseline xl migration and the checks of a memcheck guest.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Sourced by busybox sh.  The TAP counters live in files under $FMXT_RUN rather than in
# variables, so that a test can be reported from a subshell or a pipeline, and the hook
# (a separate process) numbers its tests in the same sequence.

FMXT_RUN=${FMXT_RUN:-/run/fmxt}
FMXT_CONSOLE_DIR=${FMXT_CONSOLE_DIR:-/var/log/xen/console}
export FMXT_RUN FMXT_CONSOLE_DIR
mkdir -p "$FMXT_RUN"

# fmxt_arg NAME DEFAULT: prints the value of fmxt.NAME= on the kernel command line.
fmxt_arg() {
    _v=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^fmxt\.$1=//p" | tail -n 1)
    echo "${_v:-$2}"
}

# fmxt_limit SECONDS: SECONDS scaled by the run's slowness factor (fmxt.slow, from
# run.sh's FMXT_SLOW): the limit of one step on a host as busy as this run's.
fmxt_limit() {
    echo $(($1 * $(fmxt_arg slow 1)))
}

# fmxt_now: prints dom0's uptime in seconds, the clock of every timing here.
fmxt_now() {
    cut -d' ' -f1 /proc/uptime
}

# fmxt_since START: prints the seconds elapsed since START (an fmxt_now value).
fmxt_since() {
    awk -v a="$1" -v b="$(fmxt_now)" 'BEGIN { printf "%.1f\n", b - a }'
}

# ---- TAP --------------------------------------------------------------------------------

_tap_next() {
    _n=$(($(cat "$FMXT_RUN/tap-count" 2>/dev/null || echo 0) + 1))
    echo "$_n" >"$FMXT_RUN/tap-count"
}

# tap_ok DESC / tap_not_ok DESC / tap_skip DESC REASON: report one test.
tap_ok() {
    _tap_next
    echo "ok $_n - $*"
}

tap_not_ok() {
    _tap_next
    echo "$_n" >>"$FMXT_RUN/tap-failed"
    echo "not ok $_n - $*"
}

tap_skip() {
    _tap_next
    echo "ok $_n - $1 # SKIP $2"
}

# tap_check DESC CMD...: ok when CMD succeeds, else not ok with CMD's output as comments.
tap_check() {
    _desc=$1
    shift
    if "$@" >"$FMXT_RUN/check.out" 2>&1; then
        tap_ok "$_desc"
    else
        tap_not_ok "$_desc"
        tap_diag <"$FMXT_RUN/check.out"
    fi
}

# tap_diag: copies stdin to stdout as TAP comments.
tap_diag() {
    sed 's/^/# /'
}

# tap_time WHAT SECONDS [DETAILS]: one timing line, also kept for the final summary.
tap_time() {
    echo "# time $1 ${2}s${3:+ $3}" | tee -a "$FMXT_RUN/timings"
}

# tap_failed: succeeds when a test failed so far.
tap_failed() {
    [ -s "$FMXT_RUN/tap-failed" ]
}

# tap_finish: prints the plan and the timings; returns 0 when every test passed.
tap_finish() {
    _total=$(cat "$FMXT_RUN/tap-count" 2>/dev/null || echo 0)
    echo "1..$_total"
    if [ -s "$FMXT_RUN/timings" ]; then
        echo "# timings:"
        sed 's/^# time /#   /' "$FMXT_RUN/timings"
    fi
    if tap_failed; then
        echo "# FAILED tests: $(tr '\n' ' ' <"$FMXT_RUN/tap-failed")"
        return 1
    fi
    [ "$_total" -gt 0 ]
}

# ---- guests -----------------------------------------------------------------------------

# fmxt_guest_cfg NAME MEM_MIB DIRTY_MIB PAUSE_MS: prints an xl config for a guest of type
# $FMXT_TYPE (pvh, the default, hvm, or pv: the same kernel booted as a PV guest) that
# runs memcheck.  cpuid and tsc_mode are what
# a guest needs on QEMU's emulated SVM (no NRIP-save: RDTSCP would have to be emulated,
# and that fails).  A guest that crashes or resets (a triple fault is a reset) is kept,
# not restarted: a silently restarted guest would run a new memcheck and hide the damage.
# An HVM guest boots the same kernel directly (QEMU's -kernel), with no disk, network
# or display; its console is its serial port, which QEMU appends to the file where
# xenconsoled keeps a PVH guest's console, so that the destination's QEMU of a
# migration goes on in the same file (xenconsoled does not serve an HVM guest's
# console: QEMU does).
fmxt_guest_cfg() {
    if [ "${FMXT_TYPE:-pvh}" = hvm ]; then
        cat <<EOF
type = "hvm"
extra = "console=ttyS0 loglevel=4 fmxt.dirty=$3 fmxt.pause=$4"
vga = "none"
vnc = 0
nographic = 1
serial = "chardev:fmxtcon"
device_model_args_hvm = [ "-chardev", "file,id=fmxtcon,path=$FMXT_CONSOLE_DIR/guest-$1.log,append=on" ]
EOF
    else
        cat <<EOF
type = "${FMXT_TYPE:-pvh}"
extra = "console=hvc0 loglevel=4 fmxt.dirty=$3 fmxt.pause=$4"
EOF
    fi
    cat <<EOF
name = "$1"
kernel = "/domu/vmlinuz"
ramdisk = "/domu/initrd.gz"
memory = $2
maxmem = $2
vcpus = 1
on_crash = "preserve"
on_reboot = "preserve"
cpuid = "host,rdtscp=0"
tsc_mode = "native"
EOF
}

# fmxt_console_logs NAME: prints NAME's console logs, including those xenconsoled opened
# under the temporary names of a migration (NAME--incoming, NAME--migratedaway).
fmxt_console_logs() {
    ls "$FMXT_CONSOLE_DIR/guest-$1.log" "$FMXT_CONSOLE_DIR/guest-$1--"*.log 2>/dev/null
}

# _fmxt_console_max NAME FIELD: the largest FIELD=N that memcheck printed on NAME's
# consoles, 0 when none.  One memcheck process runs across migrations, so its counters
# only grow: the largest value is the latest.
_fmxt_console_max() {
    _logs=$(fmxt_console_logs "$1")
    [ -n "$_logs" ] || { echo 0; return; }
    # shellcheck disable=SC2086
    cat $_logs | tr -d '\r' | awk -v f="$2" '
        /^memcheck pass=/ {
            for (i = 2; i <= NF; i++) {
                split($i, kv, "=")
                if (kv[1] == f && kv[2] + 0 > m) m = kv[2] + 0
            }
        }
        END { print m + 0 }'
}

# fmxt_guest_starts NAME: how many times memcheck started on NAME's consoles (1 = the
# guest never rebooted).
fmxt_guest_starts() {
    _logs=$(fmxt_console_logs "$1")
    [ -n "$_logs" ] || { echo 0; return; }
    # shellcheck disable=SC2086
    cat $_logs | tr -d '\r' | grep -c '^memcheck start'
}

# fmxt_guest_archive_logs NAME DIR: moves NAME's console logs into DIR, so that a new
# guest of the same name starts with clean ones (call after destroying the old guest).
fmxt_guest_archive_logs() {
    mkdir -p "$2"
    for _f in $(fmxt_console_logs "$1"); do mv "$_f" "$2/"; done
}

# fmxt_guest_pass NAME / fmxt_guest_bad NAME / fmxt_guest_maxgap NAME: memcheck's latest
# pass number, damaged pages found so far, longest stall seen (ms).
fmxt_guest_pass() { _fmxt_console_max "$1" pass; }
fmxt_guest_bad() { _fmxt_console_max "$1" bad; }
fmxt_guest_maxgap() { _fmxt_console_max "$1" maxgap_ms; }

# fmxt_guest_wait_pass NAME ABOVE TIMEOUT: waits until memcheck on NAME reports a pass
# above ABOVE; fails after TIMEOUT seconds.
fmxt_guest_wait_pass() {
    _i=0
    while [ "$_i" -lt "$3" ]; do
        [ "$(fmxt_guest_pass "$1")" -gt "$2" ] && return 0
        sleep 1
        _i=$((_i + 1))
    done
    return 1
}

# fmxt_guest_faults NAME: prints the console lines of NAME that show a crash or damage;
# fails (prints nothing) when there are none.
fmxt_guest_faults() {
    _logs=$(fmxt_console_logs "$1")
    [ -n "$_logs" ] || return 1
    # shellcheck disable=SC2086
    grep -hiE 'bad=[1-9]|badpages=[1-9]|memcheck exited|oops|panic|segfault|general protection|BUG:|Call Trace' $_logs
}

# fmxt_domain_exists NAME: succeeds when xl lists a domain called exactly NAME.
fmxt_domain_exists() {
    xl list 2>/dev/null | awk -v n="$1" '$1 == n { f = 1 } END { exit !f }'
}

# fmxt_domain_running NAME: succeeds when domain NAME exists and is neither paused, shut
# down, crashed nor dying (the State flags of xl list are r b p s c d).
fmxt_domain_running() {
    xl list 2>/dev/null | awk -v n="$1" '$1 == n { f = 1; s = $5 } END { exit !(f && s !~ /[pscd]/) }'
}

# fmxt_tcg_vmrun_fault DOMID: succeeds when Xen logged, for domain DOMID, the fault of
# QEMU's SVM emulation seen on this test bed: a "triple fault" whose saved guest state
# holds Xen's own code segment (e008) and the address right after Xen's VMRUN, i.e.
# the emulator failed while entering the guest.  No guest can put Xen's CS there
# itself, so this tells the emulator's bug apart from a guest (or migration) fault.
fmxt_tcg_vmrun_fault() {
    xl dmesg 2>/dev/null | awk -v re=" d$1v[0-9]+ Triple fault" '
        $0 ~ re { t = 1; next }
        t && /RIP:/ { if ($0 ~ /RIP: *e008:/) f = 1; t = 0 }
        END { exit !f }'
}

# fmxt_guest_hb_gap NAME PASS: the longest heartbeat gap (ms) memcheck on NAME reported
# in the lines after pass PASS: the downtime of a migration that started at pass PASS,
# as the guest lived it (memcheck.c says why it reads CLOCK_BOOTTIME).
fmxt_guest_hb_gap() {
    _logs=$(fmxt_console_logs "$1")
    [ -n "$_logs" ] || { echo 0; return; }
    # shellcheck disable=SC2086
    cat $_logs | tr -d '\r' | awk -v from="$2" '
        /^memcheck pass=/ {
            p = -1; g = -1
            for (i = 2; i <= NF; i++) {
                split($i, kv, "=")
                if (kv[1] == "pass") p = kv[2] + 0
                if (kv[1] == "hb_gap_ms") g = kv[2] + 0
            }
            if (p > from && g > m) m = g
        }
        END { print m + 0 }'
}

# fmxt_clear_leftovers NAME: destroys what an earlier, failed migration of NAME left
# behind (its half-built NAME--incoming; a NAME--migratedaway beside a running NAME), so
# that the next case fails, if it fails, on what it tests and not on those names.  The
# case that left them has already reported them (fmxt_check_after).
fmxt_clear_leftovers() {
    if fmxt_domain_exists "$1--incoming"; then
        echo "# destroying $1--incoming, left by an earlier case"
        timeout 30 xl destroy "$1--incoming"
    fi
    if fmxt_domain_exists "$1" && fmxt_domain_exists "$1--migratedaway"; then
        echo "# destroying $1--migratedaway, left by an earlier case"
        timeout 30 xl destroy "$1--migratedaway"
    fi
}

# fmxt_stream_so_far: the bytes that fakessh's dd has read of the migration stream
# under way (the largest count if several run), nothing when none runs.
fmxt_stream_so_far() {
    for _p in $(pidof dd); do sed -n 's/^rchar: //p' "/proc/$_p/io"; done 2>/dev/null |
        sort -n | tail -n 1
}

# fmxt_wait_stream MIB SECONDS: waits until a migration stream under way has carried
# MIB MiB, at most SECONDS; fails if it did not.
fmxt_wait_stream() {
    _t0=$(fmxt_now)
    while [ "$(fmxt_since "$_t0" | cut -d. -f1)" -lt "$2" ]; do
        _b=$(fmxt_stream_so_far)
        [ "${_b:-0}" -ge $(($1 * 1048576)) ] && return 0
        sleep 0.5
    done
    return 1
}

# fmxt_migrate NAME TIMEOUT LOG CMD...: runs the migration command CMD (which sends
# NAME to localhost through fakessh) under TIMEOUT, its output into LOG, with a
# progress line every 10 s.  Sets FMXT_MIG_SECS (wall time) and FMXT_MIG_BYTES (sender ->
# receiver stream bytes as fakessh counted them, empty if unknown).  Returns CMD's
# status (143 when TIMEOUT killed it, or when the guest died on the way: the sender
# would only notice at the end, when the guest does not answer the suspend request).
fmxt_migrate() {
    _name=$1 _limit=$2 _log=$3
    shift 3
    fmxt_clear_leftovers "$_name"
    rm -f "$FMXT_RUN/stream-bytes"
    _domid=$(xl domid "$_name" 2>/dev/null)
    _t0=$(fmxt_now)
    FMXT_STREAM_BYTES=$FMXT_RUN/stream-bytes timeout "$_limit" "$@" >"$_log" 2>&1 &
    _cmd=$!
    # Progress: the bytes fakessh's dd has read so far.
    (
        _i=0
        while sleep 5; do
            if [ -n "$_domid" ] && xl dmesg 2>/dev/null | grep -q " d${_domid}v[0-9]* Triple fault"; then
                echo "# migrating $_name: the guest (domain $_domid) died; stopping $1"
                kill "$_cmd" 2>/dev/null
                break
            fi
            _i=$((_i + 1))
            [ $((_i % 2)) -eq 0 ] || continue
            _b=$(fmxt_stream_so_far)
            echo "# migrating $_name: $(fmxt_since "$_t0")s, stream ${_b:-?} bytes, guest pass $(fmxt_guest_pass "$_name")"
        done
    ) &
    _mon=$!
    wait "$_cmd"
    _rc=$?
    kill "$_mon" 2>/dev/null
    wait "$_mon" 2>/dev/null
    # shellcheck disable=SC2034 # results for the caller
    FMXT_MIG_SECS=$(fmxt_since "$_t0")
    # fakessh writes the byte count once its copy ended, which may be after the
    # sender exited (xl does not wait for its transport process): wait for it
    _i=0
    while [ ! -s "$FMXT_RUN/stream-bytes" ] && [ $_i -lt 20 ]; do sleep 0.5; _i=$((_i + 1)); done
    # shellcheck disable=SC2034
    FMXT_MIG_BYTES=$(cat "$FMXT_RUN/stream-bytes" 2>/dev/null)
    return $_rc
}

# fmxt_xl_migrate NAME TIMEOUT: the baseline: `xl migrate` of NAME to localhost through
# fakessh (see fmxt_migrate); xl's output is in $FMXT_RUN/xl-migrate.log.
fmxt_xl_migrate() {
    fmxt_migrate "$1" "$2" "$FMXT_RUN/xl-migrate.log" xl migrate -s fakessh "$1" localhost
}

# fmxt_check_after NAME WHAT BEFORE_PASS: the checks after a migration (or save and
# restore) of the memcheck guest NAME that began at memcheck pass BEFORE_PASS: NAME
# runs and no temporary domain is left, the same memcheck goes on, its memory is
# intact.  Sets FMXT_DOWNTIME_MS (the guest's longest heartbeat gap since BEFORE_PASS).
# Fails when the guest is not running (nothing more can be done with it).
fmxt_check_after() {
    if fmxt_domain_running "$1" && ! fmxt_domain_exists "$1--incoming" &&
        ! fmxt_domain_exists "$1--migratedaway"; then
        tap_ok "$2: $1 running, no leftover domains"
    else
        tap_not_ok "$2: $1 running, no leftover domains"
        xl list 2>&1 | tap_diag
        fmxt_domain_running "$1" || return 1
    fi
    _after=$(fmxt_guest_pass "$1")
    if fmxt_guest_wait_pass "$1" "$_after" 45 && [ "$(fmxt_guest_starts "$1")" -eq 1 ]; then
        tap_ok "$2: memcheck goes on (pass $3 -> $_after -> $(fmxt_guest_pass "$1"))"
    else
        tap_not_ok "$2: memcheck goes on (pass $_after; memcheck started $(fmxt_guest_starts "$1") times)"
    fi
    sleep 2
    # shellcheck disable=SC2034 # a result for the caller
    FMXT_DOWNTIME_MS=$(fmxt_guest_hb_gap "$1" "$3")
    _bad=$(fmxt_guest_bad "$1")
    if [ "$_bad" -eq 0 ] && ! fmxt_guest_faults "$1" >"$FMXT_RUN/faults"; then
        tap_ok "$2: guest memory intact (bad=0, pass $(fmxt_guest_pass "$1"))"
    else
        tap_not_ok "$2: guest memory intact (bad=$_bad)"
        head -n 20 "$FMXT_RUN/faults" | tap_diag
    fi
}
