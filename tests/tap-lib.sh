# tap-lib.sh: what the command-line tests share; sourced, not run.
# Sets $tmp (removed at exit), counts results, and speaks TAP:
#   ok DESCRIPTION / notok DESCRIPTION (prints $tmp/out and $tmp/err as comments)
#   expect STATUS "STDERR-SUBSTRING" DESCRIPTION -- ARGS...   runs $FRAGMIG ARGS
#   json_ok FILE COMMAND NRUNS [CONDITION]... DESCRIPTION     FILE is one document of
#       docs/json.md (tests/check-json.py: members, types, CONDITIONs over `d`)
#   tap_done                                                  prints the plan, exits
: "${FRAGMIG:?}" "${FM_TEST_DATA:?}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fragmig-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0
fails=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; sed 's/^/# /' "$tmp/out" "$tmp/err" 2>/dev/null; }

expect() {
    want=$1 msg=$2 what=$3
    shift 4
    "$FRAGMIG" "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "# exit status $got, expected $want" >>"$tmp/err"; notok "$what"; return
    fi
    if [ -n "$msg" ] && ! grep -qF -- "$msg" "$tmp/err"; then
        echo "# stderr lacks: $msg" >>"$tmp/err"; notok "$what"; return
    fi
    ok "$what"
}

json_ok() {
    eval "what=\${$#}"
    # every argument but the last (the description), kept as they are: appended
    # after the originals, which the shift then drops
    jargs=$#
    i=0
    for a in "$@"; do
        i=$((i + 1))
        [ "$i" -lt "$jargs" ] && set -- "$@" "$a"
    done
    shift "$jargs"
    if "${PYTHON3:-python3}" "$(dirname "$0")/check-json.py" "$@" 2>>"$tmp/err"; then
        ok "$what"
    else
        notok "$what"
    fi
}

tap_done() {
    echo "1..$n"
    [ "$fails" -eq 0 ]
    exit
}
