#!/bin/sh
# test-unit.sh: libvirt's own libxl unit tests (libxlxml2domconfigtest,
# xlconfigtest, xmconfigtest), built and run with meson from the same patched
# source tree and build directory as the module.  Speaks TAP: one line per
# libvirt test program.
set -u
. "$(dirname "$0")/tap.sh"
tests="libxlxml2domconfigtest xlconfigtest xmconfigtest"

check "the build tree has the series applied" \
    sh -c "git -C '$LIBVIRT_TREE' log --format=%s | grep -F 'libxl: Support VIR_MIGRATE_FRAGMENTED'"
check "the build is configured with fragmig (WITH_FRAGMIG)" \
    grep -q 'define WITH_FRAGMIG' "$LIBVIRT_BUILDDIR/meson-config.h"

# the test programs and the mock they preload (tests/libxlmock.so)
targets=""
for t in $tests; do targets="$targets tests/$t"; done
if ! nice -n 10 ninja -C "$LIBVIRT_BUILDDIR" $targets tests/libxlmock.so >"$tmp/ninja.log" 2>&1; then
    notok "build the libxl unit tests" "$(tail -30 "$tmp/ninja.log")"
    tap_done; exit 1
fi
ok "build the libxl unit tests"

for t in $tests; do
    if meson test -C "$LIBVIRT_BUILDDIR" --no-rebuild --print-errorlogs "$t" >"$tmp/$t.log" 2>&1 &&
       grep -qE '^Ok: +1 *$' "$tmp/$t.log"; then
        ok "libvirt's $t passes with the series applied"
    else
        notok "libvirt's $t passes with the series applied" "$(tail -30 "$tmp/$t.log")"
    fi
done

tap_done
