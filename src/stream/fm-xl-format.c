/*
 * fm-xl-format.c: xl's save-file header and migration handshake messages.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "stream/fm-xl-format.h"

#include <string.h>

#include "util/fm-bytes.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* Exactly 32 bytes, embedded NUL included, as xl writes them. */
static const char fm_xl_magic[FM_XL_MAGIC_SIZE] = "Xen saved domain, xl format\n \0 \r";

/* The messages' texts and the names used in errors; the banner goes without its
 * NUL, the others with it. */
static const struct {
    const char *text;
    gboolean with_nul;
    const char *what;
} fm_xl_messages[] = {
    [FM_XL_MSG_BANNER] = { "xl migration receiver ready, send binary domain data.\n",
                           FALSE, N_("the receiver's banner") },
    [FM_XL_MSG_READY] = { "domain received, ready to unpause", TRUE,
                          N_("the receiver's ready message") },
    [FM_XL_MSG_GO] = { "domain is yours, you are cleared to unpause", TRUE,
                       N_("the permission to unpause") },
    [FM_XL_MSG_REPORT] = { "my copy unpause results are as follows", TRUE,
                           N_("the receiver's report") },
};

/* Writes the header and its optional data; see fm-xl-format.h. */
gboolean
fm_xl_write_header(FmChannel *channel, const char *config_json, GError **error)
{
    gsize config_len = strlen(config_json) + 1;
    guint8 header[FM_XL_HEADER_SIZE + 4];
    FmIoVector vectors[2];

    g_return_val_if_fail(config_json[0] != '\0', FALSE);
    if (config_len > FM_XL_MAX_OPTIONAL - 4) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("the domain's configuration is too large (%llu bytes)"),
                    (unsigned long long)config_len);
        return FALSE;
    }
    memcpy(header, fm_xl_magic, FM_XL_MAGIC_SIZE);
    fm_put_le32(header + 32, FM_XL_BYTEORDER);
    fm_put_le32(header + 36, FM_XL_FLAG_STREAM_V2 | FM_XL_FLAG_JSON);
    fm_put_le32(header + 40, 0);
    fm_put_le32(header + 44, (guint32)(4 + config_len));
    fm_put_le32(header + 48, (guint32)config_len);
    vectors[0].data = header;
    vectors[0].len = sizeof(header);
    vectors[1].data = config_json;
    vectors[1].len = config_len;
    return fm_channel_writev_all(channel, vectors, G_N_ELEMENTS(vectors), error);
}

/* Reads and checks a header; see fm-xl-format.h. */
char *
fm_xl_read_header(FmChannel *channel, GError **error)
{
    guint8 header[FM_XL_HEADER_SIZE];
    guint32 mandatory, optional, data_len, config_len;
    g_autofree guint8 *data = NULL;

    if (!fm_channel_read_exact(channel, header, sizeof(header), error))
        return NULL;
    if (memcmp(header, fm_xl_magic, FM_XL_MAGIC_SIZE) != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("not an xl save file or migration stream (bad magic)"));
        return NULL;
    }
    if (fm_get_le32(header + 32) != FM_XL_BYTEORDER) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("xl header: byte order mark 0x%08x, expected 0x%08x (little-endian)"),
                    fm_get_le32(header + 32), FM_XL_BYTEORDER);
        return NULL;
    }
    mandatory = fm_get_le32(header + 36);
    optional = fm_get_le32(header + 40);
    data_len = fm_get_le32(header + 44);
    if ((mandatory & ~(FM_XL_FLAG_JSON | FM_XL_FLAG_STREAM_V2)) != 0 || optional != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("xl header: unknown flags (mandatory 0x%x, optional 0x%x)"),
                    mandatory, optional);
        return NULL;
    }
    if (!(mandatory & FM_XL_FLAG_STREAM_V2) || !(mandatory & FM_XL_FLAG_JSON)) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("xl header: flags 0x%x: a v2 stream with a JSON configuration is expected"),
                    mandatory);
        return NULL;
    }
    if (data_len < 4 + 2 || data_len > FM_XL_MAX_OPTIONAL) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("xl header: invalid optional data length %u"), data_len);
        return NULL;
    }
    data = g_malloc(data_len);
    if (!fm_channel_read_exact(channel, data, data_len, error))
        return NULL;
    config_len = fm_get_le32(data);
    if (config_len < 2 || config_len > data_len - 4 || data[4 + config_len - 1] != '\0' ||
        memchr(data + 4, '\0', config_len - 1) != NULL) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("xl header: invalid configuration of %u bytes in %u bytes of optional data"),
                    config_len, data_len);
        return NULL;
    }
    return g_strndup((const char *)data + 4, config_len - 1);
}

/* Returns the bytes @msg is sent as. */
static gsize
fm_xl_message_size(FmXlMessage msg)
{
    return strlen(fm_xl_messages[msg].text) + (fm_xl_messages[msg].with_nul ? 1 : 0);
}

/* Writes a handshake message; see fm-xl-format.h. */
gboolean
fm_xl_write_message(FmChannel *channel, FmXlMessage msg, GError **error)
{
    g_return_val_if_fail(msg <= FM_XL_MSG_REPORT, FALSE);
    return fm_channel_write_all(channel, fm_xl_messages[msg].text,
                                fm_xl_message_size(msg), error);
}

/* Reads an expected handshake message; see fm-xl-format.h. */
gboolean
fm_xl_read_message(FmChannel *channel, FmXlMessage msg, GError **error)
{
    gsize size;
    g_autofree char *buf = NULL;

    g_return_val_if_fail(msg <= FM_XL_MSG_REPORT, FALSE);
    size = fm_xl_message_size(msg);
    buf = g_malloc(size);
    if (!fm_channel_read_exact(channel, buf, size, error)) {
        g_prefix_error(error, _("waiting for %s: "), _(fm_xl_messages[msg].what));
        return FALSE;
    }
    if (memcmp(buf, fm_xl_messages[msg].text, size) != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("unexpected data from the peer instead of %s"),
                    _(fm_xl_messages[msg].what));
        return FALSE;
    }
    return TRUE;
}
