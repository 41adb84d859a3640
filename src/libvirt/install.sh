#!/bin/sh
# install.sh: installs the rebuilt libxl driver module, virsh and virsh.1 over
# Debian's, or gives Debian's back.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: install.sh install|uninstall OUTDIR   (make install-libvirt / uninstall-libvirt)
#
# Each packaged file is moved aside with `dpkg-divert --rename` (to NAME.distrib),
# so that the package's file is kept, and a package upgrade writes its new file
# there instead of silently overwriting ours.  uninstall removes ours and
# removes the diversions, which puts the packaged files back.  After an upgrade
# of libvirt, rebuild (make libvirt-driver): the module must match libvirt.so.0.
set -eu

die() { echo "install.sh: error: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: install.sh install|uninstall OUTDIR"
action=$1 out=$2
[ "$(id -u)" = 0 ] || die "run as root (dpkg-divert)"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)

# file in OUTDIR : installed path : mode
files="libvirt_driver_libxl.so:/usr/lib/$multiarch/libvirt/connection-driver/libvirt_driver_libxl.so:644
virsh:/usr/bin/virsh:755
virsh.1.gz:/usr/share/man/man1/virsh.1.gz:644"

case $action in
install)
    [ -f "$out/build.env" ] || die "$out/build.env is missing: make libvirt-driver first"
    . "$out/build.env"
    installed=$(dpkg-query -W -f='${Version}' libvirt0)
    [ "$installed" = "$LIBVIRT_DEB_VERSION" ] ||
        die "built for libvirt $LIBVIRT_DEB_VERSION, the installed libvirt0 is $installed: make libvirt-driver again"
    gzip -9nc "$out/virsh.1" >"$out/virsh.1.gz"
    echo "$files" | while IFS=: read -r name dest mode; do
        dpkg-divert --quiet --package fragmig --add --rename \
            --divert "$dest.distrib" "$dest"
        install -D -m "$mode" "$out/$name" "$dest"
        echo "installed $dest (the packaged file is $dest.distrib)"
    done
    echo "restart libvirtd (systemctl restart libvirtd) to load the module"
    ;;
uninstall)
    echo "$files" | while IFS=: read -r name dest mode; do
        if dpkg-divert --list "$dest" | grep -q 'by fragmig$'; then
            rm -f "$dest"
            dpkg-divert --quiet --package fragmig --remove --rename \
                --divert "$dest.distrib" "$dest"
            echo "restored the packaged $dest"
        fi
    done
    ;;
*)
    die "unknown action '$action' (install or uninstall)"
    ;;
esac
