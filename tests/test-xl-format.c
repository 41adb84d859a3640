/*
 * test-xl-format.c: xl's save-file header and migration handshake messages, byte
 * for byte as Xen 4.17's xl writes them, and the reader's refusals.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <string.h>

#include "fm-test-util.h"
#include "stream/fm-xl-format.h"
#include "util/fm-bytes.h"
#include "util/fm-error.h"

/* Returns the bytes fm_xl_write_header() writes for @json. */
static GBytes *
header_bytes(const char *json)
{
    g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(NULL, 0);
    g_autoptr(GError) err = NULL;

    g_assert_true(fm_xl_write_header(channel, json, &err));
    g_assert_no_error(err);
    return fm_test_channel_contents(channel);
}

/* Reads a header from @len bytes at @data; returns the error (NULL: it was read
 * and its configuration is in *@config). */
static GError *
read_header(const guint8 *data, gsize len, char **config)
{
    g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(data, len);
    GError *err = NULL;

    *config = fm_xl_read_header(channel, &err);
    g_assert_true((*config == NULL) == (err != NULL));
    return err;
}

/* The layout: what xl's save_domain_core_writeconfig() puts on the wire. */
static void
test_header_layout(void)
{
    static const char json[] = "{\"c_info\":{\"type\":\"pvh\",\"name\":\"g\"}}";
    g_autoptr(GBytes) bytes = header_bytes(json);
    gsize len;
    const guint8 *p = g_bytes_get_data(bytes, &len);

    g_assert_cmpuint(len, ==, FM_XL_HEADER_SIZE + 4 + sizeof(json));
    g_assert_cmpmem(p, 32, "Xen saved domain, xl format\n \0 \r", 32);
    g_assert_cmpmem(p + 32, 4, "\x04\x03\x02\x01", 4);           /* 0x01020304, LE */
    g_assert_cmpuint(fm_get_le32(p + 36), ==, FM_XL_FLAG_JSON | FM_XL_FLAG_STREAM_V2);
    g_assert_cmpuint(fm_get_le32(p + 40), ==, 0);
    g_assert_cmpuint(fm_get_le32(p + 44), ==, 4 + sizeof(json));
    g_assert_cmpuint(fm_get_le32(p + 48), ==, sizeof(json));      /* NUL included */
    g_assert_cmpmem(p + 52, sizeof(json), json, sizeof(json));
}

/* What the writer writes the reader reads back. */
static void
test_header_round_trip(void)
{
    static const char *const configs[] = { "{}", "{\"a\":\"\xc3\xa9\"}", NULL };

    for (guint i = 0; configs[i] != NULL; i++) {
        g_autoptr(GBytes) bytes = header_bytes(configs[i]);
        g_autofree char *config = NULL;
        g_autoptr(GError) err = read_header(g_bytes_get_data(bytes, NULL),
                                            g_bytes_get_size(bytes), &config);

        g_assert_no_error(err);
        g_assert_cmpstr(config, ==, configs[i]);
    }
    /* A large configuration too (a domain with many devices). */
    {
        g_autofree char *big = g_strnfill(1 << 20, 'x');
        g_autoptr(GBytes) bytes = header_bytes(big);
        g_autofree char *config = NULL;
        g_autoptr(GError) err = read_header(g_bytes_get_data(bytes, NULL),
                                            g_bytes_get_size(bytes), &config);

        g_assert_no_error(err);
        g_assert_cmpstr(config, ==, big);
    }
}

/* Each damage of a valid header, and the message that names it. */
static void
test_header_refused(void)
{
    static const struct {
        gsize offset;       /* where to write @value (LE u32), or G_MAXSIZE: truncate */
        guint32 value;
        gint code;
        const char *message;
    } cases[] = {
        { 0, 0x206e6559, FM_ERROR_PROTOCOL,     /* "Yen " */
          "not an xl save file or migration stream (bad magic)" },
        { 32, 0x04030201, FM_ERROR_PROTOCOL,
          "xl header: byte order mark 0x04030201, expected 0x01020304 (little-endian)" },
        { 36, 0x7, FM_ERROR_PROTOCOL,
          "xl header: unknown flags (mandatory 0x7, optional 0x0)" },
        { 40, 0x1, FM_ERROR_PROTOCOL,
          "xl header: unknown flags (mandatory 0x3, optional 0x1)" },
        { 36, FM_XL_FLAG_STREAM_V2, FM_ERROR_PROTOCOL,
          "xl header: flags 0x2: a v2 stream with a JSON configuration is expected" },
        { 44, FM_XL_MAX_OPTIONAL + 1, FM_ERROR_PROTOCOL,
          "xl header: invalid optional data length 16777217" },
        { 44, 5, FM_ERROR_PROTOCOL, "xl header: invalid optional data length 5" },
        { 48, 100, FM_ERROR_PROTOCOL,
          "xl header: invalid configuration of 100 bytes in 8 bytes of optional data" },
        { 48, 3, FM_ERROR_PROTOCOL,     /* "{ }" without its NUL */
          "xl header: invalid configuration of 3 bytes in 8 bytes of optional data" },
        { 52, 0x007d007b, FM_ERROR_PROTOCOL,     /* "{\0}\0": a NUL inside */
          "xl header: invalid configuration of 4 bytes in 8 bytes of optional data" },
        { G_MAXSIZE, 10, FM_ERROR_IO, NULL },
        { G_MAXSIZE, 50, FM_ERROR_IO, NULL },
    };
    g_autoptr(GBytes) bytes = header_bytes("{ }");

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        gsize len = g_bytes_get_size(bytes);
        g_autofree guint8 *copy = g_memdup2(g_bytes_get_data(bytes, NULL), len);
        g_autofree char *config = NULL;
        g_autoptr(GError) err = NULL;

        if (cases[i].offset == G_MAXSIZE)
            len = cases[i].value;
        else
            fm_put_le32(copy + cases[i].offset, cases[i].value);
        err = read_header(copy, len, &config);
        if (err == NULL)
            g_test_message("case %u was accepted", i);
        g_assert_error(err, FM_ERROR, cases[i].code);
        if (cases[i].message != NULL)
            g_assert_cmpstr(err->message, ==, cases[i].message);
    }
}

/* The handshake messages: exact bytes, read back, refused when others come. */
static void
test_messages(void)
{
    static const struct {
        FmXlMessage msg;
        const char *text;
        gsize len;
    } messages[] = {
        { FM_XL_MSG_BANNER, "xl migration receiver ready, send binary domain data.\n", 54 },
        { FM_XL_MSG_READY, "domain received, ready to unpause", 34 },
        { FM_XL_MSG_GO, "domain is yours, you are cleared to unpause", 44 },
        { FM_XL_MSG_REPORT, "my copy unpause results are as follows", 39 },
    };

    for (guint i = 0; i < G_N_ELEMENTS(messages); i++) {
        g_autoptr(FmChannel) out = fm_test_channel_from_bytes(NULL, 0);
        g_autoptr(FmChannel) in = NULL;
        g_autoptr(GBytes) bytes = NULL;
        g_autoptr(GError) err = NULL;

        g_assert_true(fm_xl_write_message(out, messages[i].msg, &err));
        bytes = fm_test_channel_contents(out);
        g_assert_cmpmem(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes),
                        messages[i].text, messages[i].len);
        in = fm_test_channel_from_bytes(g_bytes_get_data(bytes, NULL),
                                        g_bytes_get_size(bytes));
        g_assert_true(fm_xl_read_message(in, messages[i].msg, &err));
        g_assert_no_error(err);
    }

    /* "go" where "ready" is expected (same length or not: never taken for it). */
    {
        g_autoptr(FmChannel) in = fm_test_channel_from_bytes(
            (const guint8 *)messages[2].text, messages[2].len);
        g_autoptr(GError) err = NULL;

        g_assert_false(fm_xl_read_message(in, FM_XL_MSG_READY, &err));
        g_assert_error(err, FM_ERROR, FM_ERROR_PROTOCOL);
        g_assert_cmpstr(err->message, ==,
                        "unexpected data from the peer instead of the receiver's ready message");
    }
    /* The receiver went away before its banner (e.g. ssh failed). */
    {
        g_autoptr(FmChannel) in = fm_test_channel_from_bytes((const guint8 *)"xl mig", 6);
        g_autoptr(GError) err = NULL;

        g_assert_false(fm_xl_read_message(in, FM_XL_MSG_BANNER, &err));
        g_assert_error(err, FM_ERROR, FM_ERROR_IO);
        g_assert_true(g_str_has_prefix(err->message, "waiting for the receiver's banner: "));
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xl-format/header-layout", test_header_layout);
    g_test_add_func("/xl-format/header-round-trip", test_header_round_trip);
    g_test_add_func("/xl-format/header-refused", test_header_refused);
    g_test_add_func("/xl-format/messages", test_messages);
    return g_test_run();
}
