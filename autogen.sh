#!/bin/sh
# Regenerates the build system (configure, Makefile.in, gettext's po/ glue).
set -e
cd "$(dirname "$0")"
autoreconf --force --install --verbose >/dev/null
echo "Now run ./configure && make"
