#!/bin/sh
# Runs one test under automake's TAP driver: GTest programs speak TAP with --tap,
# shell tests speak it natively.
case "$1" in
    *.sh) exec "${SHELL:-/bin/sh}" "$@" ;;
    *)    exec "$@" --tap ;;
esac
