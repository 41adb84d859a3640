/*
 * fm-test-util.c: helpers shared by the test programs and the benchmarks.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <unistd.h>

#include "fm-test-util.h"

/* Transfers exactly @len bytes; see fm-test-util.h. */
gboolean
fm_test_io_full(int fd, void *buf, gsize len, gboolean writing)
{
    guint8 *p = buf;

    while (len > 0) {
        ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        p += n;
        len -= (gsize) n;
    }
    return TRUE;
}
