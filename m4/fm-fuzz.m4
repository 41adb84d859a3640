# m4/fm-fuzz.m4: configure checks for the robustness tests (mk/fuzz.am): clang
# with libFuzzer for `make fuzz`, valgrind for `make check-valgrind`.  Both are
# optional: without them those targets say what is missing; `make check` (which
# replays the fuzz corpus with the ordinary compiler) needs neither.
AC_DEFUN([FM_CHECK_FUZZ], [
  AC_ARG_VAR([FUZZ_CC], [C compiler with libFuzzer for make fuzz (default: clang)])
  AC_CHECK_PROGS([FUZZ_CC], [clang clang-16 clang-15 clang-14])
  fm_have_fuzz=no
  AS_IF([test -n "$FUZZ_CC"], [
    AC_MSG_CHECKING([whether $FUZZ_CC builds libFuzzer harnesses with ASan and UBSan])
    cat >conftest-fuzz.c <<_FM_EOF
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return data == NULL && size > 0; }
_FM_EOF
    AS_IF([$FUZZ_CC -fsanitize=fuzzer,address,undefined conftest-fuzz.c -o conftest-fuzz >&AS_MESSAGE_LOG_FD 2>&1],
          [fm_have_fuzz=yes])
    rm -f conftest-fuzz conftest-fuzz.c
    AC_MSG_RESULT([$fm_have_fuzz])])
  AM_CONDITIONAL([HAVE_FUZZ], [test "x$fm_have_fuzz" = xyes])

  AC_ARG_VAR([VALGRIND], [valgrind, for make check-valgrind])
  AC_CHECK_PROGS([VALGRIND], [valgrind])
  AM_CONDITIONAL([HAVE_VALGRIND], [test -n "$VALGRIND"])
])
