# m4/fm-tls.m4: configure checks for one feature (empty for now).
AC_DEFUN([FM_CHECK_TLS], [])
