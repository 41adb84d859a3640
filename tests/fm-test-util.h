/*
 * fm-test-util.h: helpers shared by the test programs and the benchmarks that drive
 * a forked guest child over a socket.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Reads (@writing FALSE) or writes exactly @len bytes on @fd, looping over short
 * transfers and EINTR.  Returns FALSE on end of file or error. */
gboolean fm_test_io_full(int fd, void *buf, gsize len, gboolean writing);

G_END_DECLS
