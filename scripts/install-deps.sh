#!/bin/sh
# Installs, from Debian 12's archive, everything fragmig needs to build, test and
# benchmark.  Run as root.  Safe to run again.
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    build-essential autoconf automake libtool autopoint gettext pkg-config \
    libglib2.0-dev libglib2.0-dev-bin libxml2-dev libxml2-utils \
    libxen-dev libvirt-dev \
    clang libclang-rt-14-dev socat python3 \
    >/dev/null
