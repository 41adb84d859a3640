#!/bin/sh
# test-virsh.sh: the patched virsh parses `migrate --fragmented` and its
# --fragment-* options and passes VIR_MIGRATE_FRAGMENTED (bit 21) and the
# fragmented.* typed parameters to libvirt.  The domain is the test driver's
# (test:///default); migrate-shim.c, preloaded, records virDomainMigrate3() and
# virDomainMigrateToURI3() instead of migrating.  Speaks TAP.
set -u
. "$(dirname "$0")/tap.sh"
virsh=$FM_LIBVIRT_OUT/virsh
srcdir=$(cd "$(dirname "$0")" && pwd)

${CC:-cc} -shared -fPIC -o "$tmp/shim.so" "$srcdir/migrate-shim.c" \
    $(pkg-config --cflags --libs libvirt) 2>"$tmp/cc.err" ||
    { echo "Bail out! cannot build migrate-shim.c: $(cat "$tmp/cc.err")"; exit 1; }
export FM_SHIM_LOG="$tmp/calls"

# run_migrate ARGS...: runs `virsh -c test:///default migrate ARGS` with the shim
run_migrate() {
    rm -f "$FM_SHIM_LOG"
    LD_PRELOAD="$tmp/shim.so" timeout 60 "$virsh" -q -c test:///default migrate "$@" \
        </dev/null >"$tmp/out" 2>"$tmp/err"
}
has() { grep -qxF -- "$1" "$FM_SHIM_LOG"; }
expect_call() { # DESCRIPTION LINE...: the recorded call has every LINE
    what=$1; shift
    for line in "$@"; do
        if ! has "$line"; then
            notok "$what" "missing: $line
$(cat "$FM_SHIM_LOG" "$tmp/err" 2>/dev/null)"
            return
        fi
    done
    ok "$what"
}
expect_refused() { # DESCRIPTION MESSAGE ARGS...: virsh fails with MESSAGE, no call made
    what=$1 msg=$2; shift 2
    if run_migrate "$@"; then notok "$what" "virsh succeeded"; return; fi
    if [ -f "$FM_SHIM_LOG" ]; then notok "$what" "a migration call was made"; return; fi
    if ! grep -qF -- "$msg" "$tmp/err"; then notok "$what" "stderr lacks '$msg': $(cat "$tmp/err")"; return; fi
    ok "$what"
}

# --help and the man page
timeout 60 "$virsh" migrate --help </dev/null >"$tmp/help" 2>&1
check "migrate --help lists --fragmented" grep -q -- '--fragmented ' "$tmp/help"
for opt in fragment-policy fragment-size fragment-batch-pages fragment-hot-streak \
           fragment-hot-ratio fragment-cool-rounds \
           fragment-max-rounds fragment-max-data fragment-max-time \
           fragment-abort-if-busy; do
    check "migrate --help lists --$opt" grep -q -- "--$opt " "$tmp/help"
done
# no policy has a progress_min knob: the option would only fail in the engine
check "migrate --help has no --fragment-progress-min" \
    sh -c "! grep -q -- '--fragment-progress-min' '$tmp/help'"
check "virsh.1 documents --fragmented" grep -q 'fragmented' "$FM_LIBVIRT_OUT/virsh.1"

# peer-to-peer: virDomainMigrateToURI3
run_migrate --live --p2p --fragmented test xen+ssh://dst.invalid/system
check "--live --p2p --fragmented: virsh succeeds" test -f "$FM_SHIM_LOG"
expect_call "--live --p2p --fragmented: ToURI3 with LIVE|PEER2PEER|FRAGMENTED (0x200003)" \
    "call virDomainMigrateToURI3" "uri xen+ssh://dst.invalid/system" "flags 0x200003"
check "--fragmented alone adds no fragmented.* parameter" \
    sh -c "! grep -q '^param fragmented\.' '$FM_SHIM_LOG'"

run_migrate --live --p2p --fragmented --fragment-policy xen-classic \
    --fragment-size 256 --fragment-batch-pages 512 --fragment-hot-streak 3 \
    --fragment-hot-ratio 0.25 --fragment-cool-rounds 4 \
    --fragment-max-rounds 12 --fragment-max-data 2.5 --fragment-max-time 60 \
    --fragment-abort-if-busy --bandwidth 100 test xen+ssh://dst.invalid/system
expect_call "every --fragment-* option becomes its typed parameter" \
    "flags 0x200003" \
    "param fragmented.policy string xen-classic" \
    "param fragmented.fragment_size uint 256" \
    "param fragmented.batch_pages uint 512" \
    "param fragmented.hot_streak uint 3" \
    "param fragmented.hot_ratio double 0.25" \
    "param fragmented.cool_rounds uint 4" \
    "param fragmented.max_rounds uint 12" \
    "param fragmented.max_data double 2.5" \
    "param fragmented.max_time double 60" \
    "param fragmented.abort_if_busy boolean 1" \
    "param bandwidth ullong 100"

# without --p2p: virsh connects to the destination and calls virDomainMigrate3
run_migrate --live --fragmented --fragment-size 1024 test test:///default
expect_call "--live --fragmented (managed): Migrate3 with LIVE|FRAGMENTED (0x200001)" \
    "call virDomainMigrate3" "flags 0x200001" "param fragmented.fragment_size uint 1024"

# without --fragmented: no bit 21
run_migrate --live --p2p test xen+ssh://dst.invalid/system
expect_call "plain --live --p2p: flags 0x3, bit 21 clear" "flags 0x3"

expect_refused "--fragment-size needs --fragmented" \
    "Option --fragmented is required by option --fragment-size" \
    --live --p2p --fragment-size 256 test xen+ssh://dst.invalid/system
expect_refused "--fragment-hot-ratio needs --fragmented" \
    "Option --fragmented is required by option --fragment-hot-ratio" \
    --live --p2p --fragment-hot-ratio 0.5 test xen+ssh://dst.invalid/system
expect_refused "--fragmented excludes --postcopy" "mutually exclusive" \
    --live --p2p --fragmented --postcopy test xen+ssh://dst.invalid/system
expect_refused "a malformed --fragment-hot-ratio is refused" "fragment-hot-ratio" \
    --live --p2p --fragmented --fragment-hot-ratio abc test xen+ssh://dst.invalid/system
expect_refused "a negative --fragment-max-data is refused" "fragment-max-data" \
    --live --p2p --fragmented --fragment-max-data -1 test xen+ssh://dst.invalid/system
expect_refused "a malformed --fragment-size is refused" "fragment-size" \
    --live --p2p --fragmented --fragment-size many test xen+ssh://dst.invalid/system

tap_done
