/*
 * fm-test-util.h: helpers shared by the test programs and the benchmarks that drive
 * a forked guest child over a socket.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "transport/fm-channel.h"

G_BEGIN_DECLS

/* Reads (@writing FALSE) or writes exactly @len bytes on @fd, looping over short
 * transfers and EINTR.  Returns FALSE on end of file or error. */
gboolean fm_test_io_full(int fd, void *buf, gsize len, gboolean writing);

/* Returns a channel reading the @len bytes of @data, or writing into fresh memory
 * when @len is 0 (a memfd rewound to 0).  Asserts on failure. */
FmChannel *fm_test_channel_from_bytes(const guint8 *data, gsize len);
/* Returns everything written into the memfd of a channel made by
 * fm_test_channel_from_bytes() (caller frees). */
GBytes *fm_test_channel_contents(FmChannel *channel);

/* Append @v to @b in little- or big-endian byte order: the builders of tests that
 * write streams and files byte by byte, malformed ones included. */
void fm_test_append_le16(GByteArray *b, guint16 v);
void fm_test_append_le32(GByteArray *b, guint32 v);
void fm_test_append_le64(GByteArray *b, guint64 v);
void fm_test_append_be32(GByteArray *b, guint32 v);
void fm_test_append_be64(GByteArray *b, guint64 v);

G_END_DECLS
