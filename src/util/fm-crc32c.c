/*
 * fm-crc32c.c: CRC-32C (Castagnoli), table-driven.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "util/fm-crc32c.h"

static guint32 fm_crc32c_table[256];

/* Fills the table (reflected polynomial 0x82F63B78) once. */
static void
fm_crc32c_init(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        for (guint32 i = 0; i < 256; i++) {
            guint32 c = i;

            for (int k = 0; k < 8; k++)
                c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            fm_crc32c_table[i] = c;
        }
        g_once_init_leave(&done, 1);
    }
}

/* Returns the CRC-32C continued from @crc; see fm-crc32c.h. */
guint32
fm_crc32c(guint32 crc, const void *data, gsize len)
{
    const guint8 *p = data;

    g_return_val_if_fail(len == 0 || data != NULL, crc);
    fm_crc32c_init();
    crc = ~crc;
    for (gsize i = 0; i < len; i++)
        crc = fm_crc32c_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}
