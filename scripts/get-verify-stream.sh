#!/bin/sh
# get-verify-stream.sh DIR: makes Xen's own migration stream checker,
# verify-stream-v2 from Debian's xen-utils-4.17, runnable from DIR without
# installing Xen (the package would pull in the hypervisor and change the boot
# configuration).  It downloads the package with `apt-get download`, unpacks it
# with `dpkg -x` into DIR/root, and writes DIR/verify-stream-v2, a wrapper that
# sets PYTHONPATH to the package's Python modules.  The checker needs python3
# only: it runs without a Xen host.
#
# Safe to run again: an existing unpacked checker is reused.  Prints the
# wrapper's path; the tests find it through FM_XEN_VERIFY_STREAM:
#   FM_XEN_VERIFY_STREAM=$(scripts/get-verify-stream.sh /tmp/xen-verify) make check
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
mkdir -p "$1"
dir=$(cd "$1" && pwd)
package=xen-utils-4.17
xenlib=$dir/root/usr/lib/xen-4.17
checker=$xenlib/bin/verify-stream-v2

if [ ! -f "$checker" ]; then
    # apt-get download writes into the current directory.  A stale package list
    # (a fresh CI image) is the usual reason it fails: refresh it once and retry.
    if ! (cd "$dir" && apt-get download -q "$package" >/dev/null 2>&1); then
        apt-get update -qq
        (cd "$dir" && apt-get download -q "$package" >/dev/null)
    fi
    deb=
    for f in "$dir"/"$package"_*.deb; do
        deb=$f              # the last in sort order: the newest version
    done
    rm -rf "$dir/root"
    dpkg -x "$deb" "$dir/root"
    if [ ! -f "$checker" ]; then
        echo "$0: $deb has no verify-stream-v2" >&2
        exit 1
    fi
fi

if ! command -v python3 >/dev/null 2>&1; then
    echo "$0: verify-stream-v2 needs python3" >&2
    exit 1
fi

cat >"$dir/verify-stream-v2.tmp" <<EOF
#!/bin/sh
# Written by get-verify-stream.sh: Xen's verify-stream-v2 from $package.
PYTHONPATH='$xenlib/lib/python'\${PYTHONPATH:+:\$PYTHONPATH}
export PYTHONPATH
exec python3 '$checker' "\$@"
EOF
chmod 755 "$dir/verify-stream-v2.tmp"
mv "$dir/verify-stream-v2.tmp" "$dir/verify-stream-v2"
echo "$dir/verify-stream-v2"
