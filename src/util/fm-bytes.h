/*
 * fm-bytes.h: fixed-width integers at unaligned addresses, in a stated byte order,
 * for the wire and file formats (native stream, Xen stream, traces).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string.h>
#include <glib.h>

G_BEGIN_DECLS

#define FM_BYTES_DEFINE(bits, order, ORDER)                                   \
    /* Returns the bits-bit order-endian integer at @p. */                    \
    static inline guint##bits                                                 \
    fm_get_##order##bits(const guint8 *p)                                     \
    {                                                                         \
        guint##bits v;                                                        \
        memcpy(&v, p, sizeof(v));                                             \
        return GUINT##bits##_FROM_##ORDER(v);                                 \
    }                                                                         \
    /* Stores @v at @p in order-endian byte order. */                         \
    static inline void                                                        \
    fm_put_##order##bits(guint8 *p, guint##bits v)                            \
    {                                                                         \
        v = GUINT##bits##_TO_##ORDER(v);                                      \
        memcpy(p, &v, sizeof(v));                                             \
    }

FM_BYTES_DEFINE(16, le, LE)
FM_BYTES_DEFINE(32, le, LE)
FM_BYTES_DEFINE(64, le, LE)
FM_BYTES_DEFINE(16, be, BE)
FM_BYTES_DEFINE(32, be, BE)
FM_BYTES_DEFINE(64, be, BE)

#undef FM_BYTES_DEFINE

G_END_DECLS
