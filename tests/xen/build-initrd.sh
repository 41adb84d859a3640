#!/bin/bash
# build-initrd.sh: builds the test bed's boot images from the tree setup.sh unpacked:
# the guest's initramfs (busybox + memcheck) and dom0's (xl, xenstored, xenconsoled,
# their libraries, the test scripts, the guest's kernel and initramfs, and fragmig).
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: [FRAGMIG_BIN=PATH] tests/xen/build-initrd.sh [WORKDIR]
#   WORKDIR      as for setup.sh (default: $FM_XEN_WORK or /var/tmp/fragmig-xen)
#   FRAGMIG_BIN  a fragmig executable, or a directory holding one: copied into dom0 as
#                /usr/bin/fragmig with the shared libraries it needs, so that the test
#                runs the fragmig hook (dom0-fragmig.sh).  Unset: no fragmig in dom0.
#   LIBVIRT_OUT  the output of `make libvirt-driver` (build-libvirt/): builds instead the
#                dom0 of the two-host libvirt test (tests/libvirt-xen/): Debian's
#                libvirtd with the patched libxl module and virsh, and the packaged
#                module as libvirt_driver_libxl.so.distrib (a host without the flag).
#   FMXT_DM=1    HVM guests' device model too: Debian's QEMU for Xen, the SeaBIOS image
#                libxl hands hvmloader, and the option ROM QEMU boots a kernel with
# Output, in WORKDIR/out: xen (the hypervisor, uncompressed for QEMU's multiboot loader),
# vmlinuz, dom0.cpio.gz, domu.cpio.gz, memcheck, dom0.files (what dom0 holds); with
# LIBVIRT_OUT, dom0-libvirt.cpio.gz and dom0-libvirt.files instead of dom0's two.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-${FM_XEN_WORK:-/var/tmp/fragmig-xen}}
X=$WORK/root
OUT=$WORK/out

die() { echo "build-initrd.sh: error: $*" >&2; exit 1; }

[ -f "$WORK/versions.txt" ] && [ -d "$X" ] || die "$WORK is not set up: run tests/xen/setup.sh $WORK"
[ "$(id -u)" -eq 0 ] || die "must run as root (the images hold root-owned files and are checked with chroot)"
BUSYBOX=$(command -v busybox) || die "no busybox (setup.sh installs busybox-static)"

kernels=("$X"/boot/vmlinuz-*)
[ ${#kernels[@]} -eq 1 ] && [ -f "${kernels[0]}" ] || die "expected one kernel in $X/boot"
KVER=${kernels[0]##*/vmlinuz-}
MODDIR=$X/lib/modules/$KVER
XENBIN=/usr/lib/xen-4.17/bin
# The libraries of the unpacked packages come first, so that Xen's tools get Xen's
# libraries even where the host has others.
LIBPATH=$X/usr/lib/x86_64-linux-gnu:$X/lib/x86_64-linux-gnu:$X/usr/lib/xen-4.17/lib/x86_64-linux-gnu

mkdir -p "$OUT"
zcat "$X/boot/xen-4.17-amd64.gz" >"$OUT/xen.new" && mv "$OUT/xen.new" "$OUT/xen"
cp "${kernels[0]}" "$OUT/vmlinuz"

# An empty merged-/usr root: /bin, /sbin, /lib, /lib64 point into /usr as on the host,
# so that library paths ldd prints on the host are valid paths in the image.
new_root() {
    rm -rf "$1"
    mkdir -p "$1"/usr/{bin,sbin,lib,lib64} "$1"/{dev,proc,sys,run,tmp,etc,root}
    ln -s usr/bin "$1/bin"
    ln -s usr/sbin "$1/sbin"
    ln -s usr/lib "$1/lib"
    ln -s usr/lib64 "$1/lib64"
    chmod 1777 "$1/tmp"
}

# Static busybox and a link for each applet it has, except where a real program exists.
add_busybox() {
    cp "$BUSYBOX" "$1/usr/bin/busybox"
    local a
    for a in $("$BUSYBOX" --list); do
        [ -e "$1/usr/bin/$a" ] || [ -e "$1/usr/sbin/$a" ] || ln -s busybox "$1/usr/bin/$a"
    done
}

# copy_file ROOT SRC DEST: copies SRC (following links) to DEST inside ROOT.
copy_file() {
    mkdir -p "$1$(dirname "$3")"
    cp -L "$2" "$1$3"
}

# add_libs ROOT ELF...: copies the shared libraries the ELF files need (transitively, as
# ldd resolves them) into ROOT.  A library from the unpacked tree goes to its own path
# there; one from the host to the host's path.  A library nobody provides is an error.
add_libs() {
    local root=$1 lib dest
    shift
    local list
    list=$(LD_LIBRARY_PATH=$LIBPATH ldd "$@" 2>/dev/null | awk '
        /:$/ { next }
        /not found/ { print "MISSING " $1; next }
        $2 == "=>" && $3 ~ /^\// { print $3; next }
        $1 ~ /^\// { print $1 }' | sort -u)
    if echo "$list" | grep -q '^MISSING'; then
        die "libraries not found for $*: $(echo "$list" | sed -n 's/^MISSING //p' | tr '\n' ' ')"
    fi
    for lib in $list; do
        case $lib in
        "$X"/*) dest=${lib#"$X"} ;;
        *) dest=$lib ;;
        esac
        # Normalise to the /usr side of the merged-/usr links.
        case $dest in
        /lib/* | /lib64/* | /bin/* | /sbin/*) dest=/usr$dest ;;
        esac
        [ -e "$root$dest" ] || copy_file "$root" "$lib" "$dest"
    done
}

# ---- memcheck ---------------------------------------------------------------------------
gcc -std=gnu11 -O2 -static -Wall -Wextra -Werror -o "$OUT/memcheck.new" "$HERE/memcheck.c" ||
    die "cannot build memcheck (gcc, libc6-dev)"
mv "$OUT/memcheck.new" "$OUT/memcheck"

# ---- the guest --------------------------------------------------------------------------
D=$OUT/domu-root
new_root "$D"
add_busybox "$D"
cp "$OUT/memcheck" "$D/memcheck"
install -m 0755 "$HERE/domu-init.sh" "$D/init"
# Both run in an otherwise empty root: memcheck without arguments exits with its usage (2).
rc=0
chroot "$D" /memcheck >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || die "memcheck does not run inside the guest image (status $rc)"
chroot "$D" /bin/sh -c 'exit 0' || die "the guest's busybox does not run"
(cd "$D" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) >"$OUT/domu.cpio.gz"

# ---- dom0 -------------------------------------------------------------------------------
DOM0=dom0
[ -n "${LIBVIRT_OUT:-}" ] && DOM0=dom0-libvirt
R=$OUT/$DOM0-root
new_root "$R"
mkdir -p "$R"/{etc/xen,var/lib,var/log,domu,lib/modules,usr/lib/fmxt} "$R$XENBIN"
for b in xl xenstored xenconsoled xen-init-dom0 libxl-save-helper xenconsole xenstore-control; do
    [ -x "$X$XENBIN/$b" ] || die "$XENBIN/$b is missing from the unpacked packages"
    cp -L "$X$XENBIN/$b" "$R$XENBIN/$b"
done
for b in "$X"/usr/bin/xenstore*; do
    [ -L "$b" ] || cp "$b" "$R/usr/bin/"
done
add_libs "$R" "$R$XENBIN"/* "$R"/usr/bin/xenstore*
# libxl's threads need libgcc_s at unwinding time (dlopen'ed: ldd does not see it).
gcc_s=$(gcc -print-file-name=libgcc_s.so.1)
[ -f "$gcc_s" ] || gcc_s=/usr/lib/x86_64-linux-gnu/libgcc_s.so.1
[ -f "$gcc_s" ] || die "no libgcc_s.so.1 on the host"
copy_file "$R" "$gcc_s" /usr/lib/x86_64-linux-gnu/libgcc_s.so.1

# The kernel's Xen drivers, each after the modules it depends on (.modinfo "depends=").
: >"$R/lib/modules/load-order"
add_module() {
    local m=$1 f dep
    grep -qx "$m" "$R/lib/modules/load-order" && return 0
    f=$(find "$MODDIR" -name "$m.ko" -o -name "$m.ko.xz" | head -n 1)
    [ -n "$f" ] || die "kernel module $m not found in $MODDIR"
    case $f in
    *.xz) xz -dc "$f" >"$R/lib/modules/$m.ko" ;;
    *) cp "$f" "$R/lib/modules/$m.ko" ;;
    esac
    for dep in $(tr '\0' '\n' <"$R/lib/modules/$m.ko" | sed -n 's/^depends=//p' | tr ',' ' '); do
        add_module "$dep"
    done
    echo "$m" >>"$R/lib/modules/load-order"
}
# (the two-host test's link is QEMU's e1000)
for m in xen-evtchn xen-privcmd xen-gntdev xen-gntalloc xenfs ${LIBVIRT_OUT:+e1000}; do
    add_module "$m"
done

# The device model of HVM guests, when asked for (about 20 MB more in dom0's image).
if [ "${FMXT_DM:-0}" = 1 ]; then
    qemu=/usr/libexec/xen-qemu-system-i386
    [ -x "$X$qemu" ] || die "$qemu is missing from the unpacked packages (setup.sh)"
    copy_file "$R" "$X$qemu" "$qemu"
    add_libs "$R" "$R$qemu"
    # libxl's SeaBIOS for hvmloader; QEMU's -kernel option ROMs, from the host's
    # seabios and qemu-system-data (the same Debian release).
    for f in /usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin \
        /usr/share/qemu/linuxboot.bin /usr/share/qemu/kvmvapic.bin; do
        [ -f "$f" ] || die "$f is missing on the host (setup.sh installs qemu-system-x86)"
        copy_file "$R" "$f" "$f"
    done
    mkdir -p "$R/usr/lib/xen-4.17/boot"
    cp "$X/usr/lib/xen-4.17/boot/hvmloader" "$R/usr/lib/xen-4.17/boot/"
fi

# fragmig, when asked for.
if [ -n "${FRAGMIG_BIN:-}" ]; then
    fm=$FRAGMIG_BIN
    [ -d "$fm" ] && fm=$fm/fragmig
    [ -f "$fm" ] && [ -x "$fm" ] || die "FRAGMIG_BIN=$FRAGMIG_BIN: no fragmig executable there"
    head -c 4 "$fm" | grep -q ELF ||
        die "FRAGMIG_BIN=$FRAGMIG_BIN is not an ELF executable (a libtool wrapper script?)"
    cp -L "$fm" "$R/usr/bin/fragmig"
    add_libs "$R" "$R/usr/bin/fragmig"
fi

# GNU dd for fakessh: large copies, and a byte count (busybox dd reports only records).
# Not on PATH: busybox sh would run its own dd applet instead anyway.
dd --version 2>/dev/null | grep -q coreutils || die "the host's dd is not GNU dd (coreutils)"
cp -L "$(command -v dd)" "$R/usr/lib/fmxt/dd"
add_libs "$R" "$R/usr/lib/fmxt/dd"

add_busybox "$R"
install -m 0755 "$HERE/dom0-init.sh" "$R/init"
install -m 0755 "$HERE/dom0-test.sh" "$R/dom0-test.sh"
install -m 0755 "$HERE/dom0-fragmig.sh" "$R/dom0-fragmig.sh"
install -m 0644 "$HERE/dom0-lib.sh" "$R/usr/lib/fmxt/dom0-lib.sh"
install -m 0755 "$HERE/fakessh" "$R/usr/bin/fakessh"
if [ -f "$X/etc/xen/xl.conf" ]; then cp "$X/etc/xen/xl.conf" "$R/etc/xen/"; else : >"$R/etc/xen/xl.conf"; fi
ln -s ../run "$R/var/run"
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'root:x:0:' >"$R/etc/group"
cp "$OUT/vmlinuz" "$R/domu/vmlinuz"
cp "$OUT/domu.cpio.gz" "$R/domu/initrd.gz"

# The two-host libvirt test: libvirtd and its configuration (tests/libvirt-xen/README.md).
if [ -n "${LIBVIRT_OUT:-}" ]; then
    LV=$(cd "$HERE/../libvirt-xen" && pwd)
    LVMOD=/usr/lib/x86_64-linux-gnu/libvirt/connection-driver
    for f in libvirt_driver_libxl.so virsh; do
        [ -f "$LIBVIRT_OUT/$f" ] || die "no $LIBVIRT_OUT/$f: run make libvirt-driver"
    done
    [ -x /usr/sbin/libvirtd ] && [ -f "$LVMOD/libvirt_driver_libxl.so" ] ||
        die "Debian's libvirtd and libxl module are not installed (libvirt-daemon-driver-xen)"
    mkdir -p "$R$LVMOD" "$R"/etc/libvirt "$R"/var/lib/libvirt "$R"/var/log/libvirt \
        "$R"/var/cache/libvirt "$R"/usr/share
    cp -L /usr/sbin/libvirtd "$R/usr/sbin/libvirtd"
    cp -L "$LIBVIRT_OUT/virsh" "$R/usr/bin/virsh"
    cp -L "$LIBVIRT_OUT/libvirt_driver_libxl.so" "$R$LVMOD/libvirt_driver_libxl.so"
    cp -L "$LVMOD/libvirt_driver_libxl.so" "$R/usr/lib/fmxt/libvirt_driver_libxl.so.distrib"
    add_libs "$R" "$R/usr/sbin/libvirtd" "$R/usr/bin/virsh" "$R$LVMOD/libvirt_driver_libxl.so" \
        "$R/usr/lib/fmxt/libvirt_driver_libxl.so.distrib"
    cp -a /usr/share/libvirt "$R/usr/share/libvirt"
    # QEMU's TCG CPU has no VME, and every x86 model libvirt can decode a host CPU as
    # requires it: the libxl driver would not load ("cannot create capabilities for
    # libxenlight").  Test only: a 486 without vme.
    sed -i "/<feature name='vme'\/>/d" "$R/usr/share/libvirt/cpu_map/x86_486.xml"
    printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' >"$R/etc/nsswitch.conf"
    printf '127.0.0.1 localhost\n10.77.0.1 hosta\n10.77.0.2 hostb\n' >"$R/etc/hosts"
    echo 'libvirt:x:64055:' >>"$R/etc/group"
    # GNU date for the wall clock in nanoseconds (busybox's has no %N)
    cp -L "$(command -v date)" "$R/usr/lib/fmxt/date"
    add_libs "$R" "$R/usr/lib/fmxt/date"
    install -m 0644 "$LV/dom0-lvx.sh" "$R/usr/lib/fmxt/lvx.sh"
    install -m 0644 "$LV/guest.xml.in" "$R/usr/lib/fmxt/guest.xml.in"
fi

# Every dynamic program must find its libraries inside the image: ask the image's own
# dynamic loader (LD_TRACE_LOADED_OBJECTS: list the libraries, run nothing).
for b in "$R$XENBIN"/* "$R"/usr/bin/xenstore* "$R"/usr/bin/fragmig "$R"/usr/lib/fmxt/dd \
    "$R"/usr/sbin/libvirtd "$R"/usr/bin/virsh "$R"/usr/libexec/xen-qemu-system-i386; do
    [ -e "$b" ] || continue
    out=$(LD_TRACE_LOADED_OBJECTS=1 chroot "$R" "${b#"$R"}" 2>&1) ||
        die "${b#"$R"} does not load inside the dom0 image: $out"
    if echo "$out" | grep -q 'not found'; then
        die "${b#"$R"} lacks libraries inside the dom0 image: $(echo "$out" | grep 'not found' | tr '\n' ' ')"
    fi
done
if [ -e "$R/usr/bin/fragmig" ]; then
    chroot "$R" /usr/bin/fragmig --version >/dev/null ||
        die "fragmig does not run inside the dom0 image"
fi
if [ -e "$R/usr/bin/virsh" ]; then
    chroot "$R" /usr/bin/virsh --version >/dev/null || die "virsh does not run inside the dom0 image"
fi
for s in init dom0-test.sh dom0-fragmig.sh usr/bin/fakessh usr/lib/fmxt/dom0-lib.sh; do
    chroot "$R" /bin/sh -n "/$s" || die "$s: shell syntax error"
done

[ ! -e "$R/usr/lib/fmxt/lvx.sh" ] || chroot "$R" /bin/sh -n /usr/lib/fmxt/lvx.sh ||
    die "lvx.sh: shell syntax error"

(cd "$R" && find . | LC_ALL=C sort | tee "$OUT/$DOM0.files" | cpio -o -H newc --quiet -R 0:0 | gzip -1) \
    >"$OUT/$DOM0.cpio.gz"
echo "build-initrd.sh: kernel $KVER; $(du -h "$OUT/$DOM0.cpio.gz" | cut -f1) $DOM0," \
    "$(du -h "$OUT/domu.cpio.gz" | cut -f1) guest initramfs;" \
    "fragmig in dom0: $([ -e "$R/usr/bin/fragmig" ] && echo yes || echo no)"
