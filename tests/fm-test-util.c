/*
 * fm-test-util.c: helpers shared by the test programs and the benchmarks.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <sys/mman.h>
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

/* Returns a memfd-backed channel; see fm-test-util.h. */
FmChannel *
fm_test_channel_from_bytes(const guint8 *data, gsize len)
{
    g_autoptr(GError) err = NULL;
    int fd = memfd_create("fm-test-channel", MFD_CLOEXEC);
    FmChannel *channel;

    g_assert_cmpint(fd, >=, 0);
    if (len > 0)
        g_assert_cmpint(write(fd, data, len), ==, (gssize)len);
    g_assert_cmpint(lseek(fd, 0, SEEK_SET), ==, 0);
    channel = fm_channel_new_from_fd(fd, &err);
    g_assert_no_error(err);
    return channel;
}

/* Returns the memfd's contents; see fm-test-util.h. */
GBytes *
fm_test_channel_contents(FmChannel *channel)
{
    int fd = fm_channel_get_fd(channel);
    off_t len = lseek(fd, 0, SEEK_END);
    guint8 *data = g_malloc(len > 0 ? len : 1);

    g_assert_cmpint(len, >=, 0);
    g_assert_cmpint(pread(fd, data, len, 0), ==, len);
    return g_bytes_new_take(data, len);
}

#define FM_TEST_APPEND(bits, order, ORDER)                                    \
    /* Appends @v in order-endian byte order. */                              \
    void                                                                      \
    fm_test_append_##order##bits(GByteArray *b, guint##bits v)                \
    {                                                                         \
        v = GUINT##bits##_TO_##ORDER(v);                                      \
        g_byte_array_append(b, (const guint8 *)&v, sizeof(v));               \
    }

FM_TEST_APPEND(16, le, LE)
FM_TEST_APPEND(32, le, LE)
FM_TEST_APPEND(64, le, LE)
FM_TEST_APPEND(32, be, BE)
FM_TEST_APPEND(64, be, BE)
