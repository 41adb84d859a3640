#!/bin/sh
# test-layers.sh: scripts/check-layers.py passes on the tree, and fails, naming the
# file and line, on a copy of it with an upward include, a cycle between two folders
# of one layer, a private header reached from another folder, or a folder in no layer
# planted.  Speaks TAP.  Needs $FM_TOP_SRCDIR and $PYTHON3 (set by make check).
set -u
: "${FM_TOP_SRCDIR:?}"
. "$(dirname "$0")/tap-lib.sh"

if [ -z "${PYTHON3:-}" ]; then
    echo "Bail out! configure found no python3, which the layer check needs"
    exit 1
fi
check="$FM_TOP_SRCDIR/scripts/check-layers.py"

# runs the check on DIR; ok when its exit status is WANT and stderr holds TEXT
expect_check() {
    dir=$1 want=$2 text=$3 what=$4
    "$PYTHON3" "$check" --root "$dir" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "exit status $got, expected $want" >>"$tmp/err"; notok "$what"; return
    fi
    if [ -n "$text" ] && ! grep -qF -- "$text" "$tmp/err"; then
        echo "stderr lacks: $text" >>"$tmp/err"; notok "$what"; return
    fi
    ok "$what"
}

# a fresh copy of the sources, to plant a violation in
fresh_copy() {
    rm -rf "$tmp/tree" && mkdir "$tmp/tree" &&
        cp -R "$FM_TOP_SRCDIR/src" "$FM_TOP_SRCDIR/tools" "$tmp/tree/" &&
        chmod -R u+w "$tmp/tree"
}

expect_check "$FM_TOP_SRCDIR" 0 "" "the tree follows its layers"

fresh_copy
expect_check "$tmp/tree" 0 "" "a copy of the tree passes too"

# util, the lowest layer, reaching up into the engine
fresh_copy
sed -i '/^#include "util\/fm-bitmap.h"/a #include "engine/fm-job.h"' "$tmp/tree/src/util/fm-bitmap.c"
line=$(grep -n '"engine/fm-job.h"' "$tmp/tree/src/util/fm-bitmap.c" | cut -d: -f1)
expect_check "$tmp/tree" 1 "src/util/fm-bitmap.c:$line: includes src/engine/fm-job.h: layer 'util'" \
    "an upward include fails, with its file and line"

# the engine including a backend (one layer up, the cycle this check exists for)
fresh_copy
printf '#include "backend/sim/fm-sim.h"\n' >>"$tmp/tree/src/engine/fm-job.h"
expect_check "$tmp/tree" 1 "src/engine/fm-job.h:" "the engine including a backend fails"

# conf -> trace exists; trace -> conf closes a cycle inside one layer
fresh_copy
printf '#include "conf/fm-scenario.h"\n' >>"$tmp/tree/src/trace/fm-trace.c"
expect_check "$tmp/tree" 1 "cycle between folders" "a cycle within a layer fails"

# two sibling subfolders including each other
fresh_copy
printf '#include "backend/local/fm-local.h"\n' >>"$tmp/tree/src/backend/sim/fm-sim.c"
printf '#include "backend/sim/fm-sim.h"\n' >>"$tmp/tree/src/backend/local/fm-local.c"
expect_check "$tmp/tree" 1 "cycle between folders: src/backend/" "a cycle between subfolders fails"

# a private header reached from another folder
fresh_copy
printf '#include "workload/fm-workload-priv.h"\n' >>"$tmp/tree/src/conf/fm-scenario.c"
expect_check "$tmp/tree" 1 "private to src/workload/" "a private header of another folder fails"

# a new folder nobody placed in a layer
fresh_copy
mkdir "$tmp/tree/src/newthing"
printf '#include "util/fm-error.h"\n' >"$tmp/tree/src/newthing/fm-new.c"
expect_check "$tmp/tree" 1 "folder 'newthing' is in no layer" "a folder in no layer fails"

tap_done
