/*
 * fm-xl-format.h: what Xen 4.17's `xl` puts around a libxl migration stream
 * (tools/xl/xl.h, xl_saverestore.c and xl_migrate.c of Xen; docs/xen-stream.md):
 *
 *  - the save-file header of `xl save` files, also sent first by `xl migrate`:
 *    32 bytes of magic, then four u32 in the guest's byte order (little-endian on
 *    x86): byte order mark 0x01020304, mandatory flags (JSON config, stream v2),
 *    optional flags (none), optional data length; the optional data is a u32
 *    length and the domain's configuration as libxl JSON, NUL included;
 *  - the fixed messages of `xl migrate`'s handshake with `xl migrate-receive`:
 *    the receiver's banner (a line), then after the stream "ready", the sender's
 *    "go", the receiver's "report" and one status byte (0: the guest runs
 *    there), each sent with its terminating NUL except the banner.
 *
 * Readers check everything before use, like the stream readers (fm-xen-reader.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "transport/fm-channel.h"

G_BEGIN_DECLS

#define FM_XL_MAGIC_SIZE      32
#define FM_XL_HEADER_SIZE     48
#define FM_XL_BYTEORDER       0x01020304u
#define FM_XL_FLAG_JSON       (1u << 0)   /* the configuration is libxl JSON */
#define FM_XL_FLAG_STREAM_V2  (1u << 1)   /* a libxl migration stream v2 follows */
/* Largest optional data a reader accepts (xl's configurations are a few KiB). */
#define FM_XL_MAX_OPTIONAL    (16u << 20)

/* The handshake messages of `xl migrate`, in the order they are exchanged. */
typedef enum {
    FM_XL_MSG_BANNER,   /* receiver: ready for the header and the stream */
    FM_XL_MSG_READY,    /* receiver: guest restored, paused, waiting for go */
    FM_XL_MSG_GO,       /* sender: the guest is yours, unpause it */
    FM_XL_MSG_REPORT,   /* receiver: the status byte follows */
} FmXlMessage;

/* Writes the save-file header carrying @config_json (the domain's libxl JSON
 * configuration, not empty).  FM_ERROR_IO on a channel failure. */
gboolean fm_xl_write_header(FmChannel *channel, const char *config_json, GError **error);

/* Reads and checks a save-file header.  Returns its configuration (free with
 * g_free()), or NULL with FM_ERROR_PROTOCOL naming the problem (not an xl file,
 * other byte order, unknown mandatory flags, no JSON configuration or a bad
 * length) or FM_ERROR_IO. */
char *fm_xl_read_header(FmChannel *channel, GError **error);

/* Writes @msg (with its NUL, except the banner). */
gboolean fm_xl_write_message(FmChannel *channel, FmXlMessage msg, GError **error);

/* Reads @msg, which must come next: FM_ERROR_PROTOCOL naming the message
 * expected if other bytes come, FM_ERROR_IO if the channel fails first. */
gboolean fm_xl_read_message(FmChannel *channel, FmXlMessage msg, GError **error);

G_END_DECLS
