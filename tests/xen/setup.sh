#!/bin/bash
# setup.sh: prepares the Xen test bed's work directory: host tools, and Debian's Xen 4.17
# hypervisor, Xen tools, their libraries and a Linux kernel unpacked (never installed).
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: tests/xen/setup.sh [--shadow] [WORKDIR]
#   WORKDIR    default: $FM_XEN_WORK or /var/tmp/fragmig-xen
#   --shadow   also build Debian's hypervisor from its source package with shadow paging
#              (CONFIG_SHADOW_PAGING=y), for run.sh's FMXT_XEN=shadow (see README.md);
#              adds a deb-src entry derived from the deb one, flex and bison; ~2-3 min
#
# Safe to run again: packages already downloaded are kept; the unpacked tree is rebuilt
# only when the set of packages changed.  Needs root (apt-get) and the Debian archive.
# WORKDIR afterwards:
#   debs/          the downloaded .deb files
#   root/          all of them unpacked with dpkg -x (the source of the guest images)
#   versions.txt   what was unpacked, and which host tools will build and boot it
#   xen-shadow/    with --shadow: the source tree and the rebuilt hypervisor (xen-shadow/xen)
set -euo pipefail

SHADOW=0
if [ "${1:-}" = --shadow ]; then
    SHADOW=1
    shift
fi
case ${1:-} in -*) echo "usage: setup.sh [--shadow] [WORKDIR]" >&2; exit 2 ;; esac
WORK=${1:-${FM_XEN_WORK:-/var/tmp/fragmig-xen}}

# The test bed is built around these; the library packages they need are found below.
# qemu-system-xen: the device model of HVM guests (run.sh's hvm scenario); its data
# files (SeaBIOS, option ROMs) come from the host's qemu-system-x86 dependencies.
XEN_PKGS="xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils qemu-system-xen"
KERNEL_META=linux-image-amd64
HOST_PKGS="qemu-system-x86 busybox-static cpio gzip xz-utils gcc libc6-dev coreutils"

die() { echo "setup.sh: error: $*" >&2; exit 1; }
say() { echo "setup.sh: $*"; }

[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get install, apt-get download)"
[ "$(dpkg --print-architecture)" = amd64 ] || die "the test bed needs an amd64 host"

mkdir -p "$WORK/debs" || die "cannot create $WORK"
WORK=$(cd "$WORK" && pwd)

export DEBIAN_FRONTEND=noninteractive
# Other users of this machine may hold the dpkg lock for a while: wait, do not fail.
APT=(apt-get -q -o DPkg::Lock::Timeout=600)

# Packages are refreshed at most every 6 hours, so that a rerun is quick and offline-safe.
stamp=$WORK/.apt-updated
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +360)" ]; then
    say "apt-get update"
    "${APT[@]}" update -qq || die "apt-get update failed"
    touch "$stamp"
fi

missing=""
for p in $HOST_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    say "installing host packages:$missing"
    # shellcheck disable=SC2086
    "${APT[@]}" install -y -qq --no-install-recommends $missing >/dev/null ||
        die "apt-get install failed:$missing"
fi
for t in qemu-system-x86_64 busybox cpio gzip gcc timeout; do
    command -v "$t" >/dev/null || die "$t is not on PATH after installing the host packages"
done
# The same busybox runs in both guests, without any library: it must be the static one.
if ldd "$(command -v busybox)" >/dev/null 2>&1; then
    die "$(command -v busybox) is dynamically linked; install busybox-static"
fi

# The kernel metapackage names the versioned image package.
kernel_pkg=$(apt-cache depends "$KERNEL_META" | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
[ -n "$kernel_pkg" ] || die "cannot tell which kernel $KERNEL_META depends on"

# Libraries: the Xen packages' dependency closure, limited to what a PV dom0 running xl can
# need.  Those from the xen source package are always taken from the archive, so that the
# tools match the hypervisor; other libraries only when the host lacks them (build-initrd.sh
# copies the rest from the host, which is the same Debian release).
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances $XEN_PKGS 2>/dev/null | grep -v '^ ' | grep -v '^<' | sort -u)
[ -n "$closure" ] || die "apt-cache cannot resolve the dependencies of: $XEN_PKGS"
want="$XEN_PKGS $KERNEL_META $kernel_pkg"
for p in $closure; do
    case $p in
    libxen*) want="$want $p" ;;
    lib*)
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            want="$want $p" ;;
    esac
done
want=$(echo "$want" | tr ' ' '\n' | grep . | sort -u)

# Download what is missing in the candidate version; a stale version is replaced.
cd "$WORK/debs"
fetch=""
for p in $want; do
    ver=$(apt-cache policy "$p" | sed -n 's/^ *Candidate: //p')
    [ -n "$ver" ] && [ "$ver" != "(none)" ] || die "package $p has no installation candidate"
    # Compare the version inside the file: file names may or may not carry the epoch.
    have=""
    for f in "${p}"_*.deb; do
        [ -f "$f" ] || continue
        [ "$(dpkg-deb -f "$f" Package)" = "$p" ] || continue
        if [ "$(dpkg-deb -f "$f" Version)" = "$ver" ]; then have=$f; else rm -f "$f"; fi
    done
    [ -n "$have" ] || fetch="$fetch $p=$ver"
done
if [ -n "$fetch" ]; then
    say "downloading:$fetch"
    # apt's sandbox user cannot write into root's directories; download as root instead.
    # shellcheck disable=SC2086
    "${APT[@]}" -o APT::Sandbox::User=root download $fetch >/dev/null || die "apt-get download failed"
fi

# Unpack into a fresh tree when the package set changed; dpkg -x touches nothing else.
manifest=$(ls -1 ./*.deb | sort | sed 's|^\./||')
if [ ! -f "$WORK/root/.manifest" ] || [ "$manifest" != "$(cat "$WORK/root/.manifest")" ]; then
    say "unpacking $(echo "$manifest" | wc -l) packages into $WORK/root"
    rm -rf "$WORK/root.new"
    mkdir -p "$WORK/root.new"
    for f in $manifest; do
        dpkg -x "$f" "$WORK/root.new" || die "dpkg -x $f failed"
    done
    echo "$manifest" >"$WORK/root.new/.manifest"
    rm -rf "$WORK/root"
    mv "$WORK/root.new" "$WORK/root"
fi

# Sanity: what build-initrd.sh and run.sh rely on.
R=$WORK/root
ls "$R"/boot/xen-4.17-amd64.gz >/dev/null 2>&1 || die "no hypervisor in $R/boot"
kernels=("$R"/boot/vmlinuz-*)
[ ${#kernels[@]} -eq 1 ] && [ -f "${kernels[0]}" ] ||
    die "expected one kernel in $R/boot, found: ${kernels[*]}"
[ -x "$R/usr/lib/xen-4.17/bin/xl" ] || die "no xl in $R/usr/lib/xen-4.17/bin"

{
    echo "# fragmig Xen test bed, set up $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "# unpacked packages (dpkg -x into root/):"
    for f in $manifest; do
        dpkg-deb -W --showformat='${Package} ${Version}\n' "$f"
    done
    echo "# host tools:"
    for p in qemu-system-x86 busybox-static gcc-12 libc6; do
        dpkg-query -W -f='${Package} ${Version}\n' "$p" 2>/dev/null || true
    done
    echo "# hypervisor build options:"
    grep -E '^(# )?CONFIG_(SHADOW_PAGING|HVM|PV|PV_SHIM)[ =]' "$R"/boot/xen-4.17-amd64.config 2>/dev/null || true
} >"$WORK/versions.txt"

# ---- optional: the hypervisor with shadow paging ---------------------------------------
# Debian builds Xen without shadow paging, so log-dirty needs HAP (nested paging).  QEMU's
# emulation of nested paging mishandles some guest faults (README.md); with shadow paging
# the hypervisor needs no nested paging at all (QEMU CPU qemu64,+svm).
build_shadow() {
    local S=$WORK/xen-shadow hv_ver src_ver
    hv_ver=$(dpkg-deb -f "$WORK"/debs/xen-hypervisor-4.17-amd64_*.deb Version)
    if [ -f "$S/xen" ] && [ "$(cat "$S/version" 2>/dev/null)" = "$hv_ver" ]; then
        say "shadow-paging hypervisor already built ($hv_ver)"
        return 0
    fi
    if ! grep -rqs '^Types: deb-src' /etc/apt/sources.list.d/; then
        [ -f /etc/apt/sources.list.d/debian.sources ] ||
            die "no /etc/apt/sources.list.d/debian.sources to derive a deb-src entry from"
        say "adding a deb-src entry (derived from debian.sources)"
        sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
            >/etc/apt/sources.list.d/debian-src.sources
        "${APT[@]}" update -qq || die "apt-get update failed"
    fi
    local need=""
    for p in flex bison make python3; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
    done
    # shellcheck disable=SC2086
    [ -z "$need" ] || "${APT[@]}" install -y -qq --no-install-recommends $need >/dev/null ||
        die "apt-get install failed:$need"

    rm -rf "$S"
    mkdir -p "$S/src"
    cd "$S/src"
    # The source of the very hypervisor we unpacked if the archive serves it, else the
    # newest it does serve (the index may list sources the mirror no longer has).
    local v
    src_ver=""
    for v in "$hv_ver" $(apt-cache showsrc xen 2>/dev/null | sed -n 's/^Version: //p' | sort -Vru); do
        rm -f ./xen_*
        if "${APT[@]}" -o APT::Sandbox::User=root source --download-only "xen=$v" >/dev/null 2>&1; then
            src_ver=$v
            break
        fi
    done
    [ -n "$src_ver" ] || die "apt-get source xen: no version of the source package can be fetched"
    [ "$src_ver" = "$hv_ver" ] || say "source $hv_ver cannot be fetched; building $src_ver"
    # apt checked the files against the signed index; dpkg-source lacks the uploader's key.
    dpkg-source -x xen_*.dsc tree >"$S/unpack.log" 2>&1 || die "dpkg-source -x failed: $S/unpack.log"
    cp "$R/boot/xen-4.17-amd64.config" tree/xen/.config
    sed -i 's/^# CONFIG_SHADOW_PAGING is not set$/CONFIG_SHADOW_PAGING=y/' tree/xen/.config
    say "building the hypervisor $src_ver with shadow paging (make -C xen -j$(nproc))"
    make -C tree/xen olddefconfig >"$S/build.log" 2>&1 || die "make olddefconfig failed: $S/build.log"
    grep -q '^CONFIG_SHADOW_PAGING=y' tree/xen/.config || die "CONFIG_SHADOW_PAGING did not stick"
    nice make -C tree/xen -j"$(nproc)" XEN_BUILD_DATE=fragmig-testbed >>"$S/build.log" 2>&1 ||
        die "building the hypervisor failed: $S/build.log"
    # QEMU's multiboot loader takes the 32-bit ELF image, xen/xen.
    cp tree/xen/xen "$S/xen"
    echo "$hv_ver" >"$S/version"
    echo "xen-shadow $src_ver (CONFIG_SHADOW_PAGING=y, from the source package)" >"$S/built-from"
    cd "$WORK"
}
if [ "$SHADOW" = 1 ]; then
    build_shadow
fi
[ -f "$WORK/xen-shadow/built-from" ] && cat "$WORK/xen-shadow/built-from" >>"$WORK/versions.txt"

say "ready: $WORK (versions in $WORK/versions.txt)"
grep -E '^(xen-hypervisor|xen-utils-4|linux-image-[0-9])' "$WORK/versions.txt" | sed 's/^/    /'
