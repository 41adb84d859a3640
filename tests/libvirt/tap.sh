# tests/libvirt/tap.sh: TAP helpers of the libvirt driver tests; sourced, not run.
# Needs FM_LIBVIRT_OUT (build-libvirt/, set by make check-libvirt).
: "${FM_LIBVIRT_OUT:?run through make check-libvirt}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fragmig-libvirt-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() {
    n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"
    [ $# -lt 2 ] || printf '%s\n' "$2" | sed 's/^/# /'
}
check() { # check DESCRIPTION COMMAND...: ok when the command succeeds
    what=$1; shift
    if "$@" >"$tmp/check.out" 2>&1; then ok "$what"; else notok "$what" "$(head -40 "$tmp/check.out")"; fi
}
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
tap_done() { echo "1..$n"; [ "$fails" -eq 0 ]; }
[ -f "$FM_LIBVIRT_OUT/build.env" ] || { echo "Bail out! $FM_LIBVIRT_OUT/build.env is missing: make libvirt-driver"; exit 1; }
. "$FM_LIBVIRT_OUT/build.env"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
syslibvirt=/usr/lib/$multiarch/libvirt.so.0
