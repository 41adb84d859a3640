# m4/fm-warnings.m4: the compiler's warnings, on by default for developers, and
# linking only the shared libraries a program calls.
#
#   --disable-warnings   build without the warnings below (WARN_CFLAGS empty)
#   --enable-werror      make every warning an error (CI); configure's own tests
#                        are compiled without it, unlike CFLAGS=-Werror
#
# Each warning is kept only if the compiler takes it (tested with -Werror, so that a
# compiler that merely warns about an unknown option counts as refusing it).
# WARN_CFLAGS goes into AM_CFLAGS; AS_NEEDED_LDFLAGS (-Wl,--as-needed where the linker
# has it) into AM_LDFLAGS.

AC_DEFUN([FM_CHECK_WARNINGS], [
  AC_ARG_ENABLE([warnings],
    [AS_HELP_STRING([--disable-warnings], [do not turn on the compiler's warnings (-Wall -Wextra ...) @<:@default=enabled@:>@])],
    [], [enable_warnings=yes])
  AC_ARG_ENABLE([werror],
    [AS_HELP_STRING([--enable-werror], [treat every warning as an error, for CI @<:@default=no@:>@])],
    [], [enable_werror=no])
  WARN_CFLAGS=
  AS_IF([test "x$enable_warnings" != xno], [
    for fm_flag in -Wall -Wextra -Wformat -Wformat-security -Wmissing-prototypes \
                   -Wmissing-declarations -Wstrict-prototypes -Wold-style-definition \
                   -Wpointer-arith -Wundef -Wnested-externs -Wshadow -Wvla \
                   -Wduplicated-cond -Wimplicit-fallthrough; do
      FM_CHECK_CC_FLAG([$fm_flag], [WARN_CFLAGS="$WARN_CFLAGS $fm_flag"])
    done])
  AS_IF([test "x$enable_werror" = xyes], [
    FM_CHECK_CC_FLAG([-Werror], [WARN_CFLAGS="$WARN_CFLAGS -Werror"],
                     [AC_MSG_ERROR([--enable-werror: $CC does not take -Werror])])])
  AC_SUBST([WARN_CFLAGS])

  AC_MSG_CHECKING([whether the linker takes -Wl,--as-needed])
  fm_save_LDFLAGS=$LDFLAGS
  LDFLAGS="$LDFLAGS -Wl,--as-needed"
  AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])], [fm_as_needed=yes], [fm_as_needed=no])
  LDFLAGS=$fm_save_LDFLAGS
  AC_MSG_RESULT([$fm_as_needed])
  AS_IF([test "x$fm_as_needed" = xyes], [AS_NEEDED_LDFLAGS=-Wl,--as-needed], [AS_NEEDED_LDFLAGS=])
  AC_SUBST([AS_NEEDED_LDFLAGS])
])

# FM_CHECK_CC_FLAG(FLAG, IF-TAKEN, [IF-NOT]): whether $CC compiles with FLAG, after
# the WARN_CFLAGS kept so far (-Wformat-security needs -Wformat before it).
AC_DEFUN([FM_CHECK_CC_FLAG], [
  AC_MSG_CHECKING([whether $CC takes $1])
  fm_save_CFLAGS=$CFLAGS
  CFLAGS="$CFLAGS $WARN_CFLAGS -Werror $1"
  AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])], [fm_cc_flag=yes], [fm_cc_flag=no])
  CFLAGS=$fm_save_CFLAGS
  AC_MSG_RESULT([$fm_cc_flag])
  AS_IF([test "x$fm_cc_flag" = xyes], [$2], [$3])
])
