# m4/fm-tls.m4: configure checks for TLS migrations (mk/tls.am, src/transport/fm-tls.c):
# GnuTLS >= 3.6.5 (TLS 1.3).  Optional with --with-gnutls=auto (the default): without
# it `--tls` says that this build has no TLS, and the TLS tests are skipped.
# The TLS tests make their certificates with certtool (gnutls-bin) from PATH.
AC_DEFUN([FM_CHECK_TLS], [
  AC_ARG_WITH([gnutls],
    [AS_HELP_STRING([--with-gnutls=auto|yes|no], [TLS for migrations, with GnuTLS @<:@default=auto@:>@])],
    [], [with_gnutls=auto])
  fm_have_tls=no
  AS_IF([test "x$with_gnutls" != xno],
    [PKG_CHECK_MODULES([GNUTLS], [gnutls >= 3.6.5],
       [fm_have_tls=yes],
       [AS_IF([test "x$with_gnutls" = xyes],
              [AC_MSG_ERROR([--with-gnutls=yes but GnuTLS was not found (Debian: libgnutls28-dev): $GNUTLS_PKG_ERRORS])])])])
  AS_IF([test "x$fm_have_tls" = xyes], [AC_DEFINE([WITH_TLS], [1], [TLS migrations with GnuTLS])])
  AM_CONDITIONAL([WITH_TLS], [test "x$fm_have_tls" = xyes])
  AC_MSG_CHECKING([whether migrations can use TLS])
  AC_MSG_RESULT([$fm_have_tls])
])
