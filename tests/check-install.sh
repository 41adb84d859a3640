#!/bin/sh
# check-install.sh: what `make install` put under $FM_DESTDIR, as a package
# needs it: the program, fragmig(1), the service and its configuration, the bash
# completion, the driver library with its pkg-config file, the translations.
# Speaks TAP.  Run by `make installcheck` (and so by distcheck) and `make
# check-install` (a temporary DESTDIR); the FM_* variables come from mk/install.am.
set -u
: "${FM_BINDIR:?}" "${FM_MANDIR:?}" "${FM_SYSCONFDIR:?}" "${FM_UNITDIR:?}" \
  "${FM_COMPLETIONDIR:?}" "${FM_LIBDIR:?}" "${FM_INCLUDEDIR:?}" \
  "${FM_PKGCONFIGDIR:?}" "${FM_LOCALEDIR:?}" "${FM_LINGUAS:?}" "${FM_VERSION:?}"
root=${FM_DESTDIR:-}
FRAGMIG="$root$FM_BINDIR/fragmig"
FM_TEST_DATA=$(cd "$(dirname "$0")/data" && pwd)
. "$(dirname "$0")/tap-lib.sh"

# has FILE DESCRIPTION: ok when FILE (under the DESTDIR) is a non-empty file
has() {
    if [ -s "$root$1" ]; then ok "$2: $1"; else notok "$2: $1 is missing"; fi
}

has "$FM_BINDIR/fragmig" "the program"
expect 0 "" "the installed program runs" -- --version
grep -qx "fragmig $FM_VERSION" "$tmp/out" && ok "it is version $FM_VERSION" ||
    notok "it is version $FM_VERSION"

has "$FM_MANDIR/man1/fragmig.1" "the manual page"
grep -q '^\.TH FRAGMIG 1' "$root$FM_MANDIR/man1/fragmig.1" 2>/dev/null &&
    ok "fragmig.1 is a section-1 page" || notok "fragmig.1 is a section-1 page"

# ---- the service and its configuration --------------------------------------
unit="$FM_UNITDIR/fragmig-receive.service"
conf="$FM_SYSCONFDIR/fragmig/receive.conf"
has "$unit" "the service"
has "$conf" "its configuration"
grep -qx "ExecStart=$FM_BINDIR/fragmig receive \$FRAGMIG_RECEIVE_OPTS" "$root$unit" 2>/dev/null &&
    ok "the service runs the installed fragmig receive" ||
    notok "the service runs the installed fragmig receive"
grep -qx "EnvironmentFile=$conf" "$root$unit" 2>/dev/null &&
    ok "the service reads the installed configuration" ||
    notok "the service reads the installed configuration"
if command -v systemd-analyze >/dev/null 2>&1; then
    # parse errors and unknown keys only: the DESTDIR's binary is not where the unit says
    systemd-analyze verify "$root$unit" >"$tmp/out" 2>"$tmp/err"
    if grep -Ei 'unknown|invalid|failed to parse|bad' "$tmp/err" | grep -v 'Command .* is not executable\|is not executable: No such file' >/dev/null; then
        notok "systemd-analyze accepts the unit"
    else
        ok "systemd-analyze accepts the unit"
    fi
fi
# every option of the configuration is one `fragmig receive` knows
opts=$(. "$root$conf" 2>/dev/null && echo "${FRAGMIG_RECEIVE_OPTS:-}")
if [ -z "$opts" ]; then
    notok "the configuration sets FRAGMIG_RECEIVE_OPTS"
else
    ok "the configuration sets FRAGMIG_RECEIVE_OPTS"
    "$FRAGMIG" receive --help >"$tmp/out" 2>"$tmp/err"
    bad=
    for o in $opts; do
        case $o in --*) grep -q -- "${o%%=*}[ =,]" "$tmp/out" || bad="$bad $o" ;; esac
    done
    [ -z "$bad" ] && ok "fragmig receive knows every option of the configuration" ||
        notok "fragmig receive does not know:$bad"
fi

# ---- bash completion, run against the installed program ------------------------
comp="$FM_COMPLETIONDIR/fragmig"
has "$comp" "the bash completion"
if command -v bash >/dev/null 2>&1 && [ -s "$root$comp" ]; then
    complete_() {
        # complete_ WORDS...: what completing the last word offers, one line
        bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
                 _fragmig "$1"; echo "${COMPREPLY[*]}"' complete_ "$root$comp" "$@"
    }
    [ "$(complete_ "$FRAGMIG" mi)" = migrate ] && ok "completion: fragmig mi -> migrate" ||
        notok "completion: fragmig mi -> migrate ($(complete_ "$FRAGMIG" mi))"
    [ "$(complete_ "$FRAGMIG" simulate --pol)" = --policy ] &&
        ok "completion: simulate --pol -> --policy" ||
        notok "completion: simulate --pol -> --policy ($(complete_ "$FRAGMIG" simulate --pol))"
    complete_ "$FRAGMIG" migrate --policy "" | grep -qw fragment &&
        ok "completion: --policy offers fragment" || notok "completion: --policy offers fragment"
fi

# ---- the driver library: a program built and linked with its pkg-config file ----
if [ "${FM_WITH_XEN:-no}" = yes ]; then
    has "$FM_PKGCONFIGDIR/fragmig-driver.pc" "the driver's pkg-config file"
    has "$FM_LIBDIR/libfragmig-driver.a" "the driver library"
    has "$FM_INCLUDEDIR/fragmig-driver/migrate/fm-xen-save.h" "the driver's headers"
    # a copy that points into the DESTDIR (pkg-config's own overrides would
    # move the requirements' paths too)
    mkdir -p "$tmp/pc"
    sed -e "s|^libdir=.*|libdir=$root$FM_LIBDIR|" \
        -e "s|^includedir=.*|includedir=$root$FM_INCLUDEDIR|" \
        "$root$FM_PKGCONFIGDIR/fragmig-driver.pc" >"$tmp/pc/fragmig-driver.pc" 2>/dev/null
    pc() { PKG_CONFIG_PATH="$tmp/pc" pkg-config "$@" fragmig-driver; }
    if pc --cflags --libs >"$tmp/flags" 2>"$tmp/err"; then
        ok "pkg-config fragmig-driver"
        # the engine's headers include <config.h>: the program brings its own
        mkdir -p "$tmp/cc" && echo '#define GETTEXT_PACKAGE "fragmig"' >"$tmp/cc/config.h"
        cat >"$tmp/cc/use.c" <<'EOC'
#include <config.h>
#include "migrate/fm-xen-save.h"
#include "util/fm-error.h"
int main(int argc, char **argv) { (void)argv; return argc > 5 ? (int)(long)&fm_xen_save_run : 0; }
EOC
        if ${CC:-cc} -I"$tmp/cc" -o "$tmp/cc/use" "$tmp/cc/use.c" $(cat "$tmp/flags") \
               >"$tmp/out" 2>"$tmp/err" && "$tmp/cc/use"; then
            ok "a program builds and links with pkg-config fragmig-driver"
        else
            notok "a program builds and links with pkg-config fragmig-driver"
        fi
    else
        notok "pkg-config fragmig-driver"
    fi
fi

# ---- translations: one catalog per language of po/LINGUAS -----------------------
langs=$(sed 's/#.*//' "$FM_LINGUAS")
[ -n "$langs" ] && ok "po/LINGUAS lists translations" || notok "po/LINGUAS lists translations"
for l in $langs; do
    has "$FM_LOCALEDIR/$l/LC_MESSAGES/fragmig.mo" "the $l translation"
done

tap_done
