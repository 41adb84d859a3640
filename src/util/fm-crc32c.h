/*
 * fm-crc32c.h: CRC-32C (Castagnoli), as the native stream header and trace files
 * use it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Returns the CRC-32C of @len bytes at @data continued from @crc (0 to start), so
 * that a CRC can be computed piece by piece.  Thread-safe. */
guint32 fm_crc32c(guint32 crc, const void *data, gsize len);

G_END_DECLS
