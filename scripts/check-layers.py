#!/usr/bin/env python3
# check-layers.py: the layers of fragmig, checked over the #include lines of src/ and
# tools/ (docs/design.md section "Layers").
#
#   check-layers.py [--root DIR] [--verbose]
#
# Every folder of src/ belongs to one layer; tools/ is the top one.  A file may include
# a header of its own layer or of a lower one, never of a higher one; within a layer,
# the folders' includes must form no cycle (nor may the subfolders' anywhere, e.g.
# src/backend/local and src/backend/sim, a folder and its own subfolders being one
# module); a "-priv.h" header is private to its own folder.  A folder that no layer names is an error too: a new folder is placed here,
# in LAYERS, on purpose.  Only quoted includes count (system headers are <...>);
# tests/ and bench/ sit above everything and are not checked.
#
# Exit status 0 when the tree is clean; 1 with one line per violation on stderr
# ("FILE:LINE: what is wrong"); 2 on bad usage.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import os
import re
import sys

# Lowest first.  The order inside a layer does not matter (cycles are caught anyway).
LAYERS = [
    ("util", ["util"]),
    ("data", ["trace", "workload", "conf"]),
    ("engine", ["engine"]),
    ("io", ["transport", "stream", "backend"]),
    ("migrate", ["migrate", "receiver", "advise"]),
    ("report", ["report", "plot"]),
    ("tools", ["tools"]),
]
# Folders of src/ without C code (patch series, build scripts).
NOT_CODE = {"libvirt"}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(folder):
    """Returns (index, name) of the layer of top-level @folder, or None."""
    for i, (name, folders) in enumerate(LAYERS):
        if folder in folders:
            return i, name
    return None


def top_folder(rel):
    """Returns the top-level folder of path @rel ("src/backend/sim/x.c" -> "backend",
    "tools/x.c" -> "tools")."""
    parts = rel.split("/")
    if parts[0] == "src":
        return parts[1] if len(parts) > 2 else None
    return parts[0]


def resolve(root, rel, target):
    """Returns the path, relative to @root, of the header @target included from file
    @rel, or None when it is not a file of the tree (a generated or system one)."""
    candidates = [os.path.join(os.path.dirname(rel), target),
                  os.path.join("src", target), target]
    for c in candidates:
        c = os.path.normpath(c)
        if os.path.isfile(os.path.join(root, c)):
            return c
    return None


def sources(root):
    """Yields the C files of src/ and tools/, relative to @root, sorted."""
    out = []
    for top in ("src", "tools"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for f in filenames:
                if f.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(dirpath, f), root))
    return sorted(out)


def find_cycle(graph):
    """Returns one cycle of @graph (dict node -> set of nodes) as a list of nodes, the
    first repeated at the end, or None."""
    state = {}
    stack = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def check(root, verbose=False):
    """Checks the tree at @root; returns the list of violation messages."""
    errors = []
    folders = {}     # top folder -> set of top folders it includes from
    subfolders = {}  # directory -> set of directories it includes from
    where = {}       # (from dir, to dir) -> first "FILE:LINE" of such an include
    for rel in sources(root):
        src_top = top_folder(rel)
        if src_top is None or src_top in NOT_CODE:
            continue
        src_layer = layer_of(src_top)
        if src_layer is None:
            errors.append("%s: folder '%s' is in no layer (scripts/check-layers.py LAYERS)"
                          % (rel, src_top))
            continue
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
        for lineno, line in enumerate(lines, 1):
            m = INCLUDE_RE.match(line)
            if not m:
                continue
            target = resolve(root, rel, m.group(1))
            if target is None:
                continue
            loc = "%s:%d" % (rel, lineno)
            dst_top = top_folder(target)
            dst_layer = layer_of(dst_top) if dst_top else None
            if dst_layer is None:
                errors.append("%s: includes %s, outside every layer" % (loc, target))
                continue
            if dst_layer[0] > src_layer[0]:
                errors.append("%s: includes %s: layer '%s' (%s) points up to layer '%s' (%s)"
                              % (loc, target, src_layer[1], src_top, dst_layer[1], dst_top))
            src_dir, dst_dir = os.path.dirname(rel), os.path.dirname(target)
            if target.endswith("-priv.h") and dst_dir != src_dir:
                errors.append("%s: includes %s, private to %s/" % (loc, target, dst_dir))
            if dst_top != src_top:
                folders.setdefault(src_top, set()).add(dst_top)
            # a folder and its own subfolders are one module (a registry in engine/
            # lists the policies of engine/policies/, which include it back)
            if not (dst_dir + "/").startswith(src_dir + "/") and \
                    not (src_dir + "/").startswith(dst_dir + "/"):
                subfolders.setdefault(src_dir, set()).add(dst_dir)
                where.setdefault((src_dir, dst_dir), loc)
                where.setdefault((src_top, dst_top), loc)
            if verbose:
                print("%s -> %s" % (loc, target))
    for graph in (folders, subfolders):
        cycle = find_cycle(graph)
        if cycle:
            steps = ["%s (%s)" % (cycle[i + 1], where.get((cycle[i], cycle[i + 1]), "?"))
                     for i in range(len(cycle) - 1)]
            errors.append("cycle between folders: %s -> %s" % (cycle[0], " -> ".join(steps)))
    return errors


def main():
    parser = argparse.ArgumentParser(description="Check that includes follow the layers.")
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."),
                        help="the source tree (default: this script's)")
    parser.add_argument("--verbose", action="store_true", help="print every include")
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(args.root, "src")):
        print("check-layers: %s has no src/" % args.root, file=sys.stderr)
        return 2
    errors = check(args.root, args.verbose)
    for e in errors:
        print("check-layers: " + e, file=sys.stderr)
    if errors:
        print("check-layers: %d violation(s); the layers are in docs/design.md" % len(errors),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
