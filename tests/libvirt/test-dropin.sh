#!/bin/sh
# test-dropin.sh: the rebuilt libxl driver module and virsh are drop-ins for
# Debian's: every versioned libvirt symbol they import is defined by the
# installed libvirt.so.0, everything else resolves against installed libraries,
# fragmig is linked in statically and exported by neither.  Speaks TAP.
set -u
. "$(dirname "$0")/tap.sh"
mod=$FM_LIBVIRT_OUT/libvirt_driver_libxl.so
virsh=$FM_LIBVIRT_OUT/virsh

check "the installed libvirt.so.0 exists ($syslibvirt)" test -f "$syslibvirt"
# virsh also imports from libvirt-qemu.so.0 and libvirt-lxc.so.0 (package libvirt0)
libdir=$(dirname "$syslibvirt")
for lib in "$syslibvirt" "$libdir/libvirt-qemu.so.0" "$libdir/libvirt-lxc.so.0"; do
    nm -D --defined-only --with-symbol-versions "$lib"
done | awk '{ print $3 }' | sed 's/@@*/@/' | sort -u >"$tmp/provided"

# Versioned imports of a binary from libvirt.so.0 that the installed one lacks
missing_libvirt() {
    nm -D --undefined-only --with-symbol-versions "$1" | awk '{ print $2 }' |
        grep '@LIBVIRT_' | sed 's/@@*/@/' | sort -u >"$tmp/wanted"
    [ -s "$tmp/wanted" ] || { echo "no @LIBVIRT_ imports at all"; return 1; }
    comm -23 "$tmp/wanted" "$tmp/provided" >"$tmp/missing"
    if [ -s "$tmp/missing" ]; then cat "$tmp/missing"; return 1; fi
    echo "$(wc -l <"$tmp/wanted") imports, all provided"
}
# Only LIBVIRT_PRIVATE_<the installed upstream version> and public versions
private_version_matches() {
    v=$(echo "$LIBVIRT_DEB_VERSION" | sed -e 's/^[0-9]*://' -e 's/-[^-]*$//')
    nm -D --undefined-only --with-symbol-versions "$1" | awk '{ print $2 }' |
        grep -o '@LIBVIRT_PRIVATE_[0-9.]*' | sort -u >"$tmp/private"
    ! grep -v "@LIBVIRT_PRIVATE_$v\$" "$tmp/private"
}
# ldd -r: every NEEDED library found, every symbol resolved
resolves() {
    ldd -r "$1" >"$tmp/ldd" 2>&1
    ! grep -E 'not found|undefined symbol' "$tmp/ldd"
}

check "module: exists" test -f "$mod"
check "module: every @LIBVIRT_ import is defined by the installed libvirt.so.0" missing_libvirt "$mod"
check "module: LIBVIRT_PRIVATE imports are of the installed version" private_version_matches "$mod"
check "module: all libraries and symbols resolve (ldd -r)" resolves "$mod"
check "module: defines the driver's entry point libxlRegister" \
    sh -c "nm -D --defined-only '$mod' | grep -w libxlRegister"
check "module: links fragmig's Xen save engine statically" \
    sh -c "nm '$mod' | grep -w fm_xen_save_run"
check "module: exports no fragmig symbol" \
    sh -c "! nm -D --defined-only '$mod' | grep -E ' (fm_|_fm_)'"
check "module: calls the engine from the migration code" \
    sh -c "nm '$mod' | grep -w libxlFragmigJobRun"
check "module: does not need libfragmig or the build tree at run time" \
    sh -c "! readelf -d '$mod' | grep -E 'NEEDED.*fragmig|R(UN)?PATH.*(/cache/|/obj-|/build)'"

check "virsh: exists" test -x "$virsh"
check "virsh: every @LIBVIRT_* import is defined by the installed libvirt0 libraries" missing_libvirt "$virsh"
check "virsh: all libraries and symbols resolve against the installed ones" resolves "$virsh"
check "virsh: no build-tree RUNPATH" sh -c "! readelf -d '$virsh' | grep -E 'R(UN)?PATH'"
check "virsh: runs against the installed libvirt (virsh --version)" "$virsh" --version

tap_done
