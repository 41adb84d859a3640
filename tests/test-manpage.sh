#!/bin/sh
# test-manpage.sh: fragmig(1) documents every command and every option that
# `fragmig COMMAND --help` lists, and has the sections an administrator looks
# for.  Speaks TAP.  Needs $FRAGMIG and $FM_TOP_SRCDIR (set by make check).
set -u
. "$(dirname "$0")/tap-lib.sh"
man="${FM_TOP_SRCDIR:?}/docs/fragmig.1"

# the page's text with roff's escaped hyphens made plain
sed -e 's/\\-/-/g' "$man" >"$tmp/page"

cmds=$(LC_ALL=C "$FRAGMIG" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
[ -n "$cmds" ] && ok "fragmig --help lists commands" || notok "fragmig --help lists commands"
for c in $cmds; do
    grep -q "^\.B $c\b" "$tmp/page" && ok "fragmig(1) describes $c" ||
        notok "fragmig(1) describes $c"
    LC_ALL=C "$FRAGMIG" "$c" --help >"$tmp/help" 2>"$tmp/err" ||
        { notok "fragmig $c --help"; continue; }
    missing=
    for o in $(grep -oE -- '--[a-z][a-z0-9-]*' "$tmp/help" | sort -u); do
        [ "$o" = --help ] && continue
        grep -qE -- "$o([^a-z0-9-]|\$)" "$tmp/page" || missing="$missing $o"
    done
    [ -z "$missing" ] && ok "fragmig(1) has every option of fragmig $c --help" ||
        { echo "# missing:$missing" >"$tmp/err"; notok "fragmig(1) has every option of fragmig $c --help"; }
done
for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS ENVIRONMENT FILES "EXIT STATUS" "SEE ALSO"; do
    grep -q "^\.SH \"*$s\"*\$" "$tmp/page" && ok "section $s" || notok "section $s"
done
grep -q 'G_MESSAGES_DEBUG' "$tmp/page" && ok "ENVIRONMENT names G_MESSAGES_DEBUG" ||
    notok "ENVIRONMENT names G_MESSAGES_DEBUG"
tap_done
