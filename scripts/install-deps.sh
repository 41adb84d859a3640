#!/bin/sh
# Installs, from Debian 12's archive, everything fragmig needs to build, test and
# benchmark.  Run as root.  Safe to run again.  Features add their packages in
# scripts/deps/*.txt (one name per line, # starts a comment).
set -e
export DEBIAN_FRONTEND=noninteractive
here=$(dirname "$0")
extra=$(cat "$here"/deps/*.txt 2>/dev/null | sed 's/#.*//' | tr -s ' \t\n' ' ')
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends \
    build-essential autoconf automake libtool autopoint gettext pkg-config \
    libglib2.0-dev libglib2.0-dev-bin libxml2-dev libxml2-utils \
    libxen-dev libvirt-dev \
    clang libclang-rt-14-dev socat python3 \
    $extra \
    >/dev/null
