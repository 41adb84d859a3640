# m4/fm-libvirt-driver.m4: --with-libvirt-driver, libvirt's libxl driver module and
# virsh rebuilt from the installed libvirt's Debian source with the patch series in
# src/libvirt/patches (docs/design.md section 6).  The source is fetched and built by
# `make libvirt-driver` (src/libvirt/build.sh), not by configure: configure only
# checks that the installed libvirt matches the series and that the Xen backend,
# whose save engine the driver calls, is built.
AC_DEFUN([FM_CHECK_LIBVIRT_DRIVER], [
  AC_ARG_WITH([libvirt-driver],
    [AS_HELP_STRING([--with-libvirt-driver],
      [build libvirt's libxl driver module and virsh with VIR_MIGRATE_FRAGMENTED from the installed libvirt's Debian source (make libvirt-driver; LIBVIRT_SRC=DIR uses an unpacked source) @<:@default=no@:>@])],
    [], [with_libvirt_driver=no])
  AC_ARG_VAR([LIBVIRT_SRC], [unpacked Debian source of the installed libvirt (dpkg-source -x), instead of apt-get source])
  AC_ARG_VAR([LIBVIRT_CACHE], [where the libvirt source and build are kept between builds (default /var/cache/fragmig when writable, else ./libvirt-build)])
  LIBVIRT_DEB_VERSION=
  AS_IF([test "x$with_libvirt_driver" != xno], [
    AS_IF([test "x$have_xen" != xyes],
      [AC_MSG_ERROR([--with-libvirt-driver needs the Xen backend, whose save engine the driver runs: install Xen's development files (Debian: libxen-dev) and do not pass --without-xen])])
    AC_MSG_CHECKING([for the installed libvirt0 package])
    LIBVIRT_DEB_VERSION=`dpkg-query -W -f='${Version}' libvirt0 2>/dev/null`
    AS_IF([test -z "$LIBVIRT_DEB_VERSION"], [
      AC_MSG_RESULT([no])
      AC_MSG_ERROR([--with-libvirt-driver: the libvirt0 package is not installed; the driver is built from the source of the installed libvirt (Debian: apt-get install libvirt0 libvirt-dev)])])
    AC_MSG_RESULT([$LIBVIRT_DEB_VERSION])
    fm_libvirt_base=`cat "$srcdir/src/libvirt/patches/BASE" 2>/dev/null`
    fm_libvirt_upstream=`echo "$LIBVIRT_DEB_VERSION" | sed -e 's/^[[0-9]]*://' -e 's/-[[^-]]*$//'`
    AC_MSG_CHECKING([whether the libvirt patch series is for libvirt $fm_libvirt_upstream])
    AS_IF([test "x$fm_libvirt_upstream" != "x$fm_libvirt_base"], [
      AC_MSG_RESULT([no])
      AC_MSG_ERROR([the patch series in src/libvirt/patches is for libvirt $fm_libvirt_base but the installed libvirt0 is $LIBVIRT_DEB_VERSION: the driver module must match the installed libvirt exactly, so port the series (src/libvirt/README.md) or install libvirt $fm_libvirt_base])])
    AC_MSG_RESULT([yes])
    AS_IF([test -n "$LIBVIRT_SRC"], [
      AC_MSG_CHECKING([the version of LIBVIRT_SRC])
      fm_libvirt_src_version=`cd "$LIBVIRT_SRC" 2>/dev/null && dpkg-parsechangelog -S Version 2>/dev/null`
      AC_MSG_RESULT([${fm_libvirt_src_version:-unknown}])
      AS_IF([test "x$fm_libvirt_src_version" != "x$LIBVIRT_DEB_VERSION"],
        [AC_MSG_ERROR([LIBVIRT_SRC=$LIBVIRT_SRC is libvirt ${fm_libvirt_src_version:-(no debian/changelog)} but the installed libvirt0 is $LIBVIRT_DEB_VERSION: the driver module must be built from the installed version's source (apt-get source libvirt=$LIBVIRT_DEB_VERSION)])])])
  ])
  AC_SUBST([LIBVIRT_DEB_VERSION])
  AM_CONDITIONAL([WITH_LIBVIRT_DRIVER], [test "x$with_libvirt_driver" != xno])
])
