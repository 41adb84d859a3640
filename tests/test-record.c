/*
 * test-record.c: the record layer under the stream codecs (src/stream/fm-record.c)
 * on its own, with formats the codecs do not use (4-byte alignment, a small
 * longest body), so that what the codecs share is checked apart from them: the
 * wire layout, offsets, labels, length checks, and the exact messages of a
 * truncated, badly padded or trailing stream.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "stream/fm-record.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/fm-test-util.h"
#include "util/fm-error.h"

/* Names types 1 and 2 only. */
static const char *
test_type_name(guint32 type)
{
    return type == 1 ? "ONE" : type == 2 ? "TWO" : NULL;
}

static const FmRecordFormat plain = {
    .family = NULL, .type_name = test_type_name, .align = 4, .max_body = 1u << 20,
};

static const FmRecordFormat layered = {
    .family = "nested", .type_name = test_type_name, .align = 8, .max_body = 64,
};

static void
test_labels(void)
{
    char buf[FM_RECORD_LABEL_SIZE];
    g_autoptr(GError) err = NULL;

    g_assert_cmpstr(fm_record_label(&plain, 1, buf), ==, "ONE");
    g_assert_cmpstr(fm_record_label(&layered, 2, buf), ==, "nested TWO");
    g_assert_cmpstr(fm_record_label(&layered, 0x80000013u, buf), ==, "nested 0x80000013");
    g_assert_cmpuint(fm_record_padding(&plain, 0), ==, 0);
    g_assert_cmpuint(fm_record_padding(&plain, 5), ==, 3);
    g_assert_cmpuint(fm_record_padding(&layered, 5), ==, 3);
    g_assert_cmpuint(fm_record_padding(&layered, 9), ==, 7);

    /* Each bound has its own message, naming the record by its label. */
    g_assert_true(fm_record_check_length(&layered, 1, 16, 8, 32, 8, 40, &err));
    g_assert_false(fm_record_check_length(&layered, 1, 12, 8, 8, 0, 40, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_PROTOCOL);
    g_assert_cmpstr(err->message, ==, "nested ONE record at offset 40 has a body of 12 bytes (expected 8)");
    g_clear_error(&err);
    g_assert_false(fm_record_check_length(&plain, 2, 4, 8, 32, 0, 0, &err));
    g_assert_cmpstr(err->message, ==, "TWO record at offset 0 has a body of 4 bytes (at least 8)");
    g_clear_error(&err);
    g_assert_false(fm_record_check_length(&plain, 7, 40, 8, 32, 0, 8, &err));
    g_assert_cmpstr(err->message, ==, "0x00000007 record at offset 8 has a body of 40 bytes (at most 32)");
    g_clear_error(&err);
    g_assert_false(fm_record_check_length(&layered, 1, 20, 8, 32, 8, 16, &err));
    g_assert_cmpstr(err->message, ==, "nested ONE record at offset 16 has a body of 20 bytes (a multiple of 8)");
}

/* Writes a 4-byte stream header, then records of types 1, 2, 1 with bodies of 0,
 * 5 and 300000 bytes (the last from two vectors); returns the bytes. */
static GBytes *
write_sample(guint8 **big_out)
{
    g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(NULL, 0);
    g_autoptr(FmRecordWriter) writer = fm_record_writer_new(channel, &plain);
    g_autoptr(GError) err = NULL;
    const gsize big = 300000;
    guint8 *data = g_malloc(big);
    FmIoVector head = { "HDR!", 4 };
    FmIoVector five = { "abcde", 5 };
    FmIoVector halves[2] = { { data, 1000 }, { data + 1000, big - 1000 } };

    for (gsize i = 0; i < big; i++)
        data[i] = (guint8)(i * 31 + i / 977);
    g_assert_true(fm_record_writer_put(writer, &head, 1, &err));
    g_assert_true(fm_record_writer_put_record(writer, 1, NULL, 0, &err));
    g_assert_true(fm_record_writer_put_record(writer, 2, &five, 1, &err));
    g_assert_true(fm_record_writer_put_record(writer, 1, halves, 2, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(fm_record_writer_get_offset(writer), ==, 4 + 8 + 8 + 8 + 8 + big);
    *big_out = data;
    return fm_test_channel_contents(channel);
}

static void
test_round_trip(void)
{
    g_autofree guint8 *big = NULL;
    g_autoptr(GBytes) bytes = write_sample(&big);
    gsize len;
    const guint8 *wire = g_bytes_get_data(bytes, &len);
    static const guint8 expect_head[] = {
        'H', 'D', 'R', '!',
        1, 0, 0, 0, 0, 0, 0, 0,                             /* type 1, empty */
        2, 0, 0, 0, 5, 0, 0, 0, 'a', 'b', 'c', 'd', 'e', 0, 0, 0, /* padded to 4 */
        1, 0, 0, 0, 0xe0, 0x93, 0x04, 0,                    /* 300000 bytes */
    };
    g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(wire, len);
    g_autoptr(FmRecordReader) reader = fm_record_reader_new(channel, &plain);
    g_autoptr(GError) err = NULL;
    guint8 head[4];
    guint32 type, rlen;

    g_assert_cmpuint(len, ==, sizeof(expect_head) + 300000);
    g_assert_cmpmem(wire, sizeof(expect_head), expect_head, sizeof(expect_head));
    g_assert_cmpmem(wire + sizeof(expect_head), 300000, big, 300000);

    g_assert_true(fm_record_reader_fill(reader, head, 4, "in the test header", &err));
    g_assert_true(fm_record_reader_next_header(reader, &type, &rlen, &err));
    g_assert_cmpuint(type, ==, 1);
    g_assert_cmpuint(rlen, ==, 0);
    g_assert_cmpuint(fm_record_reader_get_record_offset(reader), ==, 4);
    g_assert_true(fm_record_reader_read_rest(reader, 0, &err));
    g_assert_nonnull(fm_record_reader_get_body(reader));

    g_assert_true(fm_record_reader_next_header(reader, &type, &rlen, &err));
    g_assert_cmpuint(type, ==, 2);
    g_assert_cmpuint(rlen, ==, 5);
    /* The head of a body first, then the rest. */
    g_assert_true(fm_record_reader_read_body(reader, 0, 2, &err));
    g_assert_cmpmem(fm_record_reader_get_body(reader), 2, "ab", 2);
    g_assert_true(fm_record_reader_read_rest(reader, 2, &err));
    g_assert_cmpmem(fm_record_reader_get_body(reader), 5, "abcde", 5);
    g_assert_cmpuint(fm_record_reader_get_offset(reader), ==, 28);

    g_assert_true(fm_record_reader_next_header(reader, &type, &rlen, &err));
    g_assert_cmpuint(fm_record_reader_get_record_offset(reader), ==, 28);
    g_assert_true(fm_record_reader_read_rest(reader, 0, &err));
    g_assert_cmpmem(fm_record_reader_get_body(reader), 300000, big, 300000);
    g_assert_true(fm_record_reader_check_eof(reader, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(fm_record_reader_get_offset(reader), ==, len);
}

/* Returns the error of reading the sample cut to @cut bytes (NULL: it reads whole,
 * as far as it goes). */
static char *
read_cut(const guint8 *wire, gsize cut)
{
    g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(wire, cut);
    g_autoptr(FmRecordReader) reader = fm_record_reader_new(channel, &plain);
    g_autoptr(GError) err = NULL;
    guint8 head[4];
    guint32 type, rlen;

    if (!fm_record_reader_fill(reader, head, 4, "in the test header", &err))
        return g_strdup(err->message);
    for (guint i = 0; i < 3; i++) {
        if (!fm_record_reader_next_header(reader, &type, &rlen, &err) ||
            !fm_record_reader_read_rest(reader, 0, &err))
            return g_strdup(err->message);
    }
    if (!fm_record_reader_next_header(reader, &type, &rlen, &err))
        return g_strdup(err->message);
    return NULL;
}

static void
test_truncated(void)
{
    g_autofree guint8 *big = NULL;
    g_autoptr(GBytes) bytes = write_sample(&big);
    gsize len;
    const guint8 *wire = g_bytes_get_data(bytes, &len);
    static const struct {
        gsize cut;
        const char *message;
    } cases[] = {
        { 0, "stream truncated at offset 0 (in the test header)" },
        { 3, "stream truncated at offset 3 (in the test header)" },
        { 4, "stream ends at offset 4 without an END record" },
        { 9, "stream truncated at offset 9 (in a record header)" },
        { 22, "stream truncated at offset 22 (in the body of the TWO record at offset 12)" },
        { 25, "stream truncated at offset 25 (in the padding of the TWO record at offset 12)" },
        { 36 + 70000, "stream truncated at offset 70036 (in the body of the ONE record at offset 28)" },
    };
    g_autofree char *whole = read_cut(wire, len);

    g_assert_cmpstr(whole, ==, "stream ends at offset 300036 without an END record");
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *message = read_cut(wire, cases[i].cut);

        g_assert_cmpstr(message, ==, cases[i].message);
    }
}

static void
test_hostile(void)
{
    static const guint8 padding[] = { 2, 0, 0, 0, 1, 0, 0, 0, 'x', 0, 0, 0, 7, 0, 0, 0 };
    static const guint8 trailing[] = { 1, 0, 0, 0, 0, 0, 0, 0, 0 };
    static const guint8 huge[] = { 2, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 'a', 'b' };
    g_autoptr(GError) err = NULL;
    guint32 type, len;

    {
        g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(padding, sizeof(padding));
        g_autoptr(FmRecordReader) reader = fm_record_reader_new(channel, &layered);

        g_assert_true(fm_record_reader_next_header(reader, &type, &len, &err));
        g_assert_false(fm_record_reader_read_rest(reader, 0, &err));
        g_assert_error(err, FM_ERROR, FM_ERROR_PROTOCOL);
        g_assert_cmpstr(err->message, ==, "nonzero padding in the nested TWO record at offset 0");
        g_clear_error(&err);
    }
    {
        g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(trailing, sizeof(trailing));
        g_autoptr(FmRecordReader) reader = fm_record_reader_new(channel, &layered);

        g_assert_true(fm_record_reader_next_header(reader, &type, &len, &err));
        g_assert_true(fm_record_reader_read_rest(reader, 0, &err));
        g_assert_false(fm_record_reader_check_eof(reader, &err));
        g_assert_cmpstr(err->message, ==, "trailing data after the nested ONE record, at offset 8");
        g_clear_error(&err);
    }
    /* A length of 2 GiB that the codec let through (with a longest body that
     * allows it): reading costs memory only as bytes arrive. */
    {
        static const FmRecordFormat roomy = {
            .family = "nested", .type_name = test_type_name, .align = 8,
            .max_body = G_MAXUINT32,
        };
        g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(huge, sizeof(huge));
        g_autoptr(FmRecordReader) reader = fm_record_reader_new(channel, &roomy);

        g_assert_true(fm_record_reader_next_header(reader, &type, &len, &err));
        g_assert_cmpuint(len, ==, 0x7fffffffu);
        g_assert_false(fm_record_reader_read_rest(reader, 0, &err));
        g_assert_cmpstr(err->message, ==, "stream truncated at offset 10 (in the body of the nested TWO record at offset 0)");
        g_clear_error(&err);
    }
    /* A nested layer names itself in the record header and END messages. */
    {
        g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(huge, 3);
        g_autoptr(FmRecordReader) reader = fm_record_reader_new(channel, &plain);

        fm_record_reader_set_format(reader, &layered);
        g_assert_false(fm_record_reader_next_header(reader, &type, &len, &err));
        g_assert_cmpstr(err->message, ==, "stream truncated at offset 3 (in a nested record header)");
        g_clear_error(&err);
    }
    {
        g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(NULL, 0);
        g_autoptr(FmRecordReader) reader = fm_record_reader_new(channel, &layered);

        g_assert_false(fm_record_reader_next_header(reader, &type, &len, &err));
        g_assert_cmpstr(err->message, ==, "stream ends at offset 0 without a nested END record");
    }
}

/* After a failed write the writer says so, and writes nothing more. */
static void
test_writer_failed(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmChannel) a = NULL;
    g_autoptr(FmRecordWriter) writer = NULL;
    FmIoVector body = { "abc", 3 };
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    a = fm_channel_new_from_fd(sv[0], &err);
    g_assert_no_error(err);
    close(sv[1]);
    writer = fm_record_writer_new(a, &plain);
    g_assert_true(fm_record_writer_check_usable(writer, &err));
    g_assert_false(fm_record_writer_put_record(writer, 1, &body, 1, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_IO);
    g_assert_cmpstr(err->message, ==,
                    "cannot write the stream at offset 0: connection closed by peer (broken pipe)");
    g_clear_error(&err);
    g_assert_false(fm_record_writer_check_usable(writer, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_FAILED);
    g_assert_cmpstr(err->message, ==, "cannot write to the stream after an earlier error");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/record/labels", test_labels);
    g_test_add_func("/record/round-trip", test_round_trip);
    g_test_add_func("/record/truncated", test_truncated);
    g_test_add_func("/record/hostile", test_hostile);
    g_test_add_func("/record/writer-failed", test_writer_failed);
    return g_test_run();
}
