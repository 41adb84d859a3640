# m4/fm-install.m4: where `make install` puts what a package needs besides the
# program (mk/install.am): the systemd unit, the bash completion, and what the
# fragmig-driver pkg-config file requires.  The defaults stay under the prefix,
# so that `make distcheck` and a DESTDIR install write nothing outside it; a
# package passes the system's paths (debian/rules: /lib/systemd/system).
AC_DEFUN([FM_CHECK_INSTALL], [
  AC_ARG_WITH([systemdsystemunitdir],
    [AS_HELP_STRING([--with-systemdsystemunitdir=DIR], [systemd units @<:@default=LIBDIR/systemd/system, i.e. PREFIX/lib/systemd/system@:>@])],
    [], [with_systemdsystemunitdir='${prefix}/lib/systemd/system'])
  AC_SUBST([systemdsystemunitdir], [$with_systemdsystemunitdir])
  AC_ARG_WITH([bashcompletiondir],
    [AS_HELP_STRING([--with-bashcompletiondir=DIR], [bash completions @<:@default=DATADIR/bash-completion/completions@:>@])],
    [], [with_bashcompletiondir='${datadir}/bash-completion/completions'])
  AC_SUBST([bashcompletiondir], [$with_bashcompletiondir])
  dnl the driver library links GnuTLS when the engine was built with it
  FM_DRIVER_REQUIRES_TLS=
  AS_IF([test "x$fm_have_tls" = xyes], [FM_DRIVER_REQUIRES_TLS=gnutls])
  AC_SUBST([FM_DRIVER_REQUIRES_TLS])
  PKG_INSTALLDIR
])
