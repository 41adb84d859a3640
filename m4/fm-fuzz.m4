# m4/fm-fuzz.m4: configure checks for one feature (empty for now).
AC_DEFUN([FM_CHECK_FUZZ], [])
