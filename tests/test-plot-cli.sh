#!/bin/sh
# test-plot-cli.sh: `fragmig simulate --record-dir` and `fragmig plot`, end to end:
# the records match the runs, the figures are written, parse (xmllint, where
# installed) and are the same bytes twice; bad input fails with the file and line.
# Speaks TAP.  Needs $FRAGMIG and $FM_TEST_DATA (set by make check).
set -u
. "$(dirname "$0")/tap-lib.sh"
small="$FM_TEST_DATA/cli-small.xml"

rec="$tmp/rec"
expect 0 "" "simulate --record-dir" -- simulate --format csv --policy xen,fragment \
    --record-dir "$rec" "$small"
cp "$tmp/out" "$tmp/suite.csv"
for f in cli-small.xen.rounds.csv cli-small.xen.heat.csv cli-small.fragment.rounds.csv \
         cli-small.fragment.heat.csv; do
    [ -s "$rec/$f" ] && ok "record $f written" || notok "record $f written"
done

# one data line per round, as many as the run's "rounds" column says
rounds_col=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                      $c["policy"] == "xen" { print $c["rounds"] }' "$tmp/suite.csv")
lines=$(grep -c '^[0-9]' "$rec/cli-small.xen.rounds.csv")
[ "$lines" -eq "$rounds_col" ] && ok "one line per round ($lines)" \
    || notok "one line per round ($lines lines, $rounds_col rounds)"
grep -q '^# scenario=cli-small$' "$rec/cli-small.xen.rounds.csv" && \
    grep -q '^# page_size=4096$' "$rec/cli-small.xen.rounds.csv" \
    && ok "rounds metadata" || notok "rounds metadata"

expect 0 "" "plot records and suite" -- plot --out "$tmp/a" "$tmp/suite.csv" "$rec"/*.csv
all=yes
for f in suite.svg cli-small.remaining.svg cli-small.sent.svg \
         cli-small.xen.remaining.svg cli-small.xen.sent.svg cli-small.xen.heat.svg \
         cli-small.fragment.remaining.svg cli-small.fragment.sent.svg \
         cli-small.fragment.heat.svg; do
    [ -s "$tmp/a/$f" ] && grep -qxF "$tmp/a/$f" "$tmp/out" || { all=no; echo "# missing $f"; }
done
[ "$all" = yes ] && ok "every figure written and listed" || notok "every figure written and listed"
[ "$(wc -l <"$tmp/out")" -eq 9 ] && ok "nine figures" || notok "nine figures"
if command -v xmllint >/dev/null 2>&1; then
    xmllint --noout "$tmp/a"/*.svg 2>"$tmp/err" >"$tmp/out" && ok "figures are well-formed XML" \
        || notok "figures are well-formed XML"
else
    ok "figures are well-formed XML # SKIP no xmllint"
fi

expect 0 "" "plot again" -- plot --out "$tmp/b" "$tmp/suite.csv" "$rec"/*.csv
diff -r "$tmp/a" "$tmp/b" >"$tmp/out" 2>"$tmp/err" && ok "same input, same bytes" \
    || notok "same input, same bytes"

expect 0 "" "plot one policy" -- plot --out "$tmp/c" --policy fragment "$rec"/*.csv
[ ! -e "$tmp/c/cli-small.remaining.svg" ] && [ -s "$tmp/c/cli-small.fragment.heat.svg" ] \
    && [ ! -e "$tmp/c/cli-small.xen.heat.svg" ] && ok "--policy keeps only fragment" \
    || notok "--policy keeps only fragment"

head -n 16 "$rec/cli-small.xen.rounds.csv" >"$tmp/trunc.csv"
echo "1,2,3" >>"$tmp/trunc.csv"
expect 1 "$tmp/trunc.csv:17: expected 10 fields, found 3" "bad rounds file" -- plot --out "$tmp/d" "$tmp/trunc.csv"
expect 1 "$tmp/none.csv" "missing file" -- plot "$tmp/none.csv"
expect 2 "no file given" "no file" -- plot
expect 1 "nothing to plot" "filtered to nothing" -- plot --out "$tmp/d" --scenario 'web*' "$tmp/suite.csv"

tap_done
