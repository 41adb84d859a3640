#!/bin/sh
# build.sh: builds the libFuzzer binaries of tests/fuzz/ with clang, ASan and UBSan
# into a directory of their own (the product's objects are gcc's: nothing is shared).
# Called by `make fuzz-build` (mk/fuzz.am) with the flags configure found:
#   build.sh OUTDIR SRCDIR "TARGETS" LIBRARY-SOURCES...
# and $FUZZ_CC, $FUZZ_CFLAGS, $FUZZ_CPPFLAGS, $FUZZ_LIBS in the environment (the
# headers among the sources, and any gcc-built libfragmig.a in the libraries, are
# skipped: make's own functions would not pass automake's portability checks).  A
# source is looked for in the current (build) directory first (generated ones),
# then in SRCDIR.  An object is rebuilt when its source, or any header of the tree,
# is newer than it.
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu
out=$1 srcdir=$2 targets=$3
shift 3
sources=""
for src in "$@"; do
    case $src in *.c) sources="$sources $src" ;; esac
done
libs=""
for lib in ${FUZZ_LIBS:-}; do
    case $lib in *libfragmig.a) ;; *) libs="$libs $lib" ;; esac
done
: "${FUZZ_CC:?}" "${FUZZ_CFLAGS:?}"
FUZZ_CPPFLAGS=${FUZZ_CPPFLAGS:-}
mkdir -p "$out/obj"

# a header newer than the last build invalidates every object
rebuild_all=0
if [ ! -f "$out/stamp" ] || [ -n "$(find "$srcdir/src" "$srcdir/tests" -name '*.h' -newer "$out/stamp" | head -1)" ]; then
    rebuild_all=1
fi
export FUZZ_CC FUZZ_CFLAGS FUZZ_CPPFLAGS out srcdir rebuild_all

harnesses=""
for t in $targets; do harnesses="$harnesses tests/fuzz/fuzz-$t.c"; done

# object file of a source path: the path with / turned to _
obj_of() { echo "$out/obj/$(echo "$1" | tr / _ | sed 's/\.c$/.o/')"; }

# compile, two at a time (the machines are shared)
# shellcheck disable=SC2016
# shellcheck disable=SC2086
printf '%s\n' $sources $harnesses | xargs -P "${FUZZ_JOBS:-2}" -n 1 sh -c '
    src=$1
    if [ -f "$src" ]; then path=$src; else path=$srcdir/$src; fi
    obj=$out/obj/$(echo "$src" | tr / _ | sed "s/\.c\$/.o/")
    if [ "$rebuild_all" = 0 ] && [ -f "$obj" ] && [ ! "$path" -nt "$obj" ]; then exit 0; fi
    echo "  FUZZCC   $src"
    # eval: the flags are quoted as in a make recipe (-DLOCALEDIR=\"...\")
    eval "exec \$FUZZ_CC $FUZZ_CPPFLAGS $FUZZ_CFLAGS -c \"\$path\" -o \"\$obj\""' sh

objs=""
for src in $sources; do objs="$objs $(obj_of "$src")"; done
for t in $targets; do
    echo "  FUZZLD   $out/fuzz-$t"
    harness=$(obj_of "tests/fuzz/fuzz-$t.c")
    eval "\$FUZZ_CC $FUZZ_CFLAGS -fsanitize=fuzzer -o \"\$out/fuzz-$t\" \"\$harness\" \$objs $libs"
done
touch "$out/stamp"
