#!/bin/bash
# build.sh: builds libvirt's libxl driver module and virsh with fragmig's patch
# series (VIR_MIGRATE_FRAGMENTED), from the Debian source of the installed libvirt.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: build.sh PATCHDIR OUTDIR   (run by `make libvirt-driver`)
#
# Environment (set by mk/libvirt.am):
#   FRAGMIG_SRC          fragmig's src/ (the headers the driver includes)
#   FRAGMIG_LIB          libfragmig-pic.a (linked statically into the module)
#   FRAGMIG_LIBS         what libfragmig needs (Xen, GLib, libxml2 link flags)
#   FRAGMIG_VERSION      fragmig's version, for the pkg-config file
#   LIBVIRT_SRC          optional: an unpacked Debian source of the installed
#                        libvirt to use instead of `apt-get source`
#   LIBVIRT_CACHE        optional: where sources and builds are kept between runs
#                        (default /var/cache/fragmig when writable, else
#                        OUTDIR/cache)
#
# The source is fetched with `apt-get source libvirt=VERSION` (adding a deb-src
# entry derived from Debian's deb entry if the machine has none), its build
# dependencies installed with `apt-get build-dep` when dpkg-checkbuilddeps finds
# some missing, configured once with Debian's own `debian/rules
# override_dh_auto_configure` plus `-Dfragmig=enabled`, and built with ninja.
# The patched tree is a git repository whose first commit is the pristine
# source: a changed series is re-applied on it with `git am`, so that ninja only
# rebuilds what the change touches.
#
# OUTDIR receives libvirt_driver_libxl.so, virsh, virsh.1 and build.env (the
# paths the tests need).
set -euo pipefail

die() { echo "build.sh: error: $*" >&2; exit 1; }
note() { echo "build.sh: $*"; }

[ $# -eq 2 ] || die "usage: build.sh PATCHDIR OUTDIR"
patchdir=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
: "${FRAGMIG_SRC:?}" "${FRAGMIG_LIB:?}" "${FRAGMIG_LIBS?}"
[ -f "$FRAGMIG_LIB" ] || die "$FRAGMIG_LIB is missing (make libfragmig-pic.a)"
nm -g --defined-only "$FRAGMIG_LIB" 2>/dev/null | grep ' fm_xen_save_run$' >/dev/null ||
    die "$FRAGMIG_LIB has no Xen save engine (fm_xen_save_run): configure fragmig with Xen (--with-xen=yes, Debian: libxen-dev)"

export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

# ---- versions: the installed libvirt, the series, the source -----------------
installed=$(dpkg-query -W -f='${Version}' libvirt0 2>/dev/null) ||
    die "the libvirt0 package is not installed"
upstream=$(echo "$installed" | sed -e 's/^[0-9]*://' -e 's/-[^-]*$//')
base=$(cat "$patchdir/BASE")
[ "$upstream" = "$base" ] ||
    die "the patch series in $patchdir is for libvirt $base, but the installed libvirt0 is $installed: the module must match the installed libvirt exactly (see src/libvirt/README.md to port the series)"
if [ -n "${LIBVIRT_DEB_VERSION:-}" ] && [ "$LIBVIRT_DEB_VERSION" != "$installed" ]; then
    die "configure saw libvirt0 $LIBVIRT_DEB_VERSION, the installed one is now $installed: run configure again"
fi
series=$(sed 's/#.*//' "$patchdir/series" | grep -v '^[[:space:]]*$')
series_id=$(cd "$patchdir" && cat $series | sha256sum | cut -c1-16)

if [ -z "${LIBVIRT_CACHE:-}" ]; then
    if mkdir -p /var/cache/fragmig 2>/dev/null && [ -w /var/cache/fragmig ]; then
        LIBVIRT_CACHE=/var/cache/fragmig
    else
        LIBVIRT_CACHE=$out/cache
    fi
fi
cache="$LIBVIRT_CACHE/libvirt-$installed"
mkdir -p "$cache"
note "libvirt $installed, series $series_id, cache $cache"

t0=$(date +%s)
stamp() { note "$1 done ($(( $(date +%s) - t0 )) s so far)"; }

# ---- the pristine source --------------------------------------------------------
ensure_deb_src() {
    if grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ ||
       grep -qs '^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list; then
        return 0
    fi
    [ -f /etc/apt/sources.list.d/debian.sources ] ||
        die "no deb-src entry and no /etc/apt/sources.list.d/debian.sources to derive one from: add a deb-src line for Debian 12 or pass LIBVIRT_SRC=DIR"
    note "adding /etc/apt/sources.list.d/debian-src.sources (deb-src of debian.sources)"
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
        >/etc/apt/sources.list.d/debian-src.sources
    apt-get update -qq
}

if [ -n "${LIBVIRT_SRC:-}" ]; then
    pristine=$(cd "$LIBVIRT_SRC" && pwd)
    srcver=$(cd "$pristine" && dpkg-parsechangelog -S Version 2>/dev/null) ||
        die "LIBVIRT_SRC=$LIBVIRT_SRC has no debian/changelog: unpack the Debian source (apt-get source libvirt=$installed)"
    [ "$srcver" = "$installed" ] ||
        die "LIBVIRT_SRC=$LIBVIRT_SRC is libvirt $srcver but the installed libvirt0 is $installed: use the installed version's source (apt-get source libvirt=$installed)"
else
    pristine="$cache/source/libvirt-$upstream"
    if [ ! -f "$cache/source/.complete" ]; then
        [ "$(id -u)" = 0 ] || die "fetching the source needs apt as root (or pass LIBVIRT_SRC=DIR)"
        ensure_deb_src
        rm -rf "$cache/source" && mkdir -p "$cache/source"
        note "apt-get source libvirt=$installed"
        (cd "$cache/source" && apt-get source -qq "libvirt=$installed") ||
            die "apt-get source libvirt=$installed failed (is the version still in the archive? else pass LIBVIRT_SRC=DIR)"
        [ -d "$pristine" ] || die "apt-get source did not unpack $pristine"
        touch "$cache/source/.complete"
        stamp "apt-get source"
    fi
fi

if ! (cd "$pristine" && dpkg-checkbuilddeps >/dev/null 2>&1); then
    [ "$(id -u)" = 0 ] || die "libvirt's build dependencies are missing: apt-get build-dep libvirt=$installed (as root)"
    ensure_deb_src
    note "apt-get build-dep libvirt=$installed"
    apt-get build-dep -y -qq "libvirt=$installed" >/dev/null
    stamp "apt-get build-dep"
fi

# ---- the patched tree: a git repository over the pristine source -----------------
tree="$cache/tree"
git_() {
    git -C "$tree" -c user.name=fragmig -c user.email=fragmig-devel@lists.invalid \
        -c core.autocrlf=false -c advice.detachedHead=false "$@"
}
if [ ! -f "$cache/tree.base" ] || [ "$(cat "$cache/tree.base")" != "$pristine" ]; then
    note "copying the pristine source to $tree"
    rm -rf "$tree" "$cache/tree.series" "$cache/configured"
    mkdir -p "$tree"
    (cd "$pristine" && tar --exclude=./.git --exclude='./obj-*' -cf - .) | tar -C "$tree" -xf -
    git_ init -q
    printf '/obj-*/\n/.pc/\n' >"$tree/.git/info/exclude"
    git_ add -A
    git_ commit -q -m "libvirt $installed (Debian source)"
    git_ tag pristine
    echo "$pristine" >"$cache/tree.base"
fi
if [ "$(cat "$cache/tree.series" 2>/dev/null)" != "$series_id" ]; then
    note "applying the series"
    git_ am --abort >/dev/null 2>&1 || true
    git_ reset -q --hard pristine
    git_ clean -q -fd
    for p in $series; do
        git_ am -q --keep-cr "$patchdir/$p" || die "patch $p does not apply to libvirt $installed"
    done
    echo "$series_id" >"$cache/tree.series"
fi

# ---- fragmig as a pkg-config package at a stable path ---------------------------
# Copied only when changed, so that ninja relinks only when libfragmig changed.
stage="$cache/fragmig"
mkdir -p "$stage/include" "$stage/lib"
copy_if_changed() { cmp -s "$1" "$2" || { mkdir -p "$(dirname "$2")"; cp "$1" "$2"; }; }
(cd "$FRAGMIG_SRC" && find . -name '*.h') | while read -r h; do
    copy_if_changed "$FRAGMIG_SRC/$h" "$stage/include/$h"
done
copy_if_changed "$FRAGMIG_LIB" "$stage/lib/libfragmig-pic.a"
cat >"$stage/fragmig-driver.pc.new" <<EOF
Name: fragmig-driver
Description: fragmig's Xen save engine, for libvirt's libxl driver
Version: ${FRAGMIG_VERSION:-0}
Cflags: -I$stage/include
Libs: $stage/lib/libfragmig-pic.a $FRAGMIG_LIBS
EOF
# meson reads pkg-config files when it configures only: a changed one (other link
# flags) must reconfigure, or the module is linked with the old flags.
cmp -s "$stage/fragmig-driver.pc.new" "$stage/fragmig-driver.pc" || rm -f "$cache/configured"
copy_if_changed "$stage/fragmig-driver.pc.new" "$stage/fragmig-driver.pc"

# ---- configure (Debian's own flags) and build -------------------------------------
obj="$tree/obj-$(dpkg-architecture -qDEB_HOST_GNU_TYPE)"
export PKG_CONFIG_PATH="$stage${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
if [ ! -f "$cache/configured" ] || [ ! -f "$obj/build.ninja" ]; then
    note "configuring with debian/rules override_dh_auto_configure"
    rm -rf "$obj"
    (cd "$tree" && debian/rules override_dh_auto_configure >"$cache/configure.log" 2>&1) ||
        { tail -30 "$cache/configure.log"; die "configure failed (log: $cache/configure.log)"; }
    meson configure "$obj" -Dfragmig=enabled -Dpkg_config_path="$stage" >>"$cache/configure.log" 2>&1 ||
        { tail -30 "$cache/configure.log"; die "meson configure -Dfragmig=enabled failed"; }
    touch "$cache/configured"
    stamp "configure"
fi

targets="src/libvirt_driver_libxl.so tools/virsh docs/manpages/virsh.1"
note "ninja $targets"
nice -n 10 ninja -C "$obj" -j"$(nproc)" $targets >"$cache/ninja.log" 2>&1 ||
    { tail -40 "$cache/ninja.log"; die "ninja failed (log: $cache/ninja.log)"; }
grep -q 'WITH_FRAGMIG' "$obj/meson-config.h" ||
    die "libvirt was configured without fragmig (meson -Dfragmig=enabled did not take)"
stamp "build"

# ---- results ------------------------------------------------------------------------
cp "$obj/src/libvirt_driver_libxl.so" "$out/libvirt_driver_libxl.so"
cp "$obj/tools/virsh" "$out/virsh"
# the build-tree RUNPATH ($ORIGIN/../src) has no business in an installed virsh
chrpath -d "$out/virsh" >/dev/null 2>&1 || true
cp "$obj/docs/manpages/virsh.1" "$out/virsh.1"
cat >"$out/build.env" <<EOF
# written by src/libvirt/build.sh
LIBVIRT_DEB_VERSION='$installed'
LIBVIRT_TREE='$tree'
LIBVIRT_BUILDDIR='$obj'
LIBVIRT_SERIES='$series_id'
EOF
note "built $out/libvirt_driver_libxl.so and $out/virsh in $(( $(date +%s) - t0 )) s"
