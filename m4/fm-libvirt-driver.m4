# m4/fm-libvirt-driver.m4: configure checks for one feature (empty for now).
AC_DEFUN([FM_CHECK_LIBVIRT_DRIVER], [])
