/*
 * test-stream.c: the native stream codec and the native sink.
 *
 * Round trips of random streams through a socketpair (writer in a thread), then
 * hostile input: every truncation and every header bit flip of a valid stream, a
 * table of malformed records, and the sample files of tests/data/streams/ (written
 * by an independent encoder, generate.py).  Each bad stream must be rejected with
 * its exact message; run under ASan, none may crash or read out of bounds.
 * Random inputs come from a GRand with a fixed seed, so that a failure reproduces.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "stream/fm-stream.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/fm-test-util.h"
#include "util/fm-error.h"

#define SEED 0x57ea3f00
#define MAX_MEMORY (G_GUINT64_CONSTANT(1) << 30)  /* destination limit in tests */

/* ---- helpers ---- */

/* Returns a channel writing into a fresh memfd. */
static FmChannel *
channel_to_memory(void)
{
    return fm_test_channel_from_bytes(NULL, 0);
}

/* Returns a connected pair of channels: a socketpair, or TCP over loopback. */
static void
make_pair(gboolean tcp, FmChannel **a, FmChannel **b)
{
    g_autoptr(GError) err = NULL;

    if (tcp) {
        g_autoptr(FmListener) listener = fm_channel_listen("tcp://127.0.0.1:0", &err);

        g_assert_no_error(err);
        *a = fm_channel_connect(fm_listener_get_address(listener), &err);
        g_assert_no_error(err);
        *b = fm_listener_accept(listener, &err);
        g_assert_no_error(err);
    } else {
        int sv[2];

        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
        *a = fm_channel_new_from_fd(sv[0], &err);
        g_assert_no_error(err);
        *b = fm_channel_new_from_fd(sv[1], &err);
        g_assert_no_error(err);
    }
    fm_channel_set_timeout(*a, 20);
    fm_channel_set_timeout(*b, 20);
}

/* Fills the page @pfn of @page_size bytes with a pattern of (@pfn, @version). */
static void
fill_page(guint8 *page, guint64 pfn, guint32 version, gsize page_size)
{
    for (gsize i = 0; i < page_size; i += 8) {
        guint64 v = (pfn * G_GUINT64_CONSTANT(0x9E3779B97F4A7C15)) ^
            (version * G_GUINT64_CONSTANT(0xC2B2AE3D27D4EB4F)) ^ i;

        memcpy(page + i, &v, 8);
    }
}

/* Reads a whole stream from @channel.  Returns NULL if it is valid (END or ABORT
 * reached), else the error; counts the records in *@n_records and stores the
 * last record type in *@last_type when not NULL. */
static GError *
read_all_pages(FmChannel *channel, guint64 max_memory, guint *n_records, guint32 *last_type,
               gboolean in_place)
{
    g_autoptr(FmStreamReader) reader = fm_stream_reader_new(channel, max_memory);
    g_autofree guint8 *memory = NULL;
    GError *err = NULL;
    FmStreamRecord record;
    guint n = 0;

    if (!fm_stream_reader_read_header(reader, &err))
        return err;
    /* pages in place, where the guest is small enough to map here */
    if (in_place && fm_stream_reader_get_page_count(reader) <=
                    (64u << 20) / fm_stream_reader_get_page_size(reader)) {
        memory = g_malloc0(fm_stream_reader_get_page_count(reader) *
                           fm_stream_reader_get_page_size(reader));
        fm_stream_reader_set_page_memory(reader, memory);
    }
    while (!fm_stream_reader_is_done(reader)) {
        if (!fm_stream_reader_next(reader, &record, &err))
            return err;
        n++;
        if (last_type != NULL)
            *last_type = record.type;
    }
    if (n_records != NULL)
        *n_records = n;
    return NULL;
}

/* Reads a whole stream from @channel, pages into the record bodies; see
 * read_all_pages(). */
static GError *
read_all(FmChannel *channel, guint64 max_memory, guint *n_records, guint32 *last_type)
{
    return read_all_pages(channel, max_memory, n_records, last_type, FALSE);
}

/* Reads the @len bytes of @data as a stream, pages in place if @in_place; see
 * read_all_pages(). */
static GError *
read_bytes_pages(const guint8 *data, gsize len, guint64 max_memory, gboolean in_place)
{
    g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(data, len);

    return read_all_pages(channel, max_memory, NULL, NULL, in_place);
}

/* Reads the @len bytes of @data as a stream; see read_all(). */
static GError *
read_bytes(const guint8 *data, gsize len, guint64 max_memory)
{
    return read_bytes_pages(data, len, max_memory, FALSE);
}

/* Asserts that @err (taken, may be NULL) is what a case expects: no error when
 * @message is NULL, else FM_ERROR @code with exactly @message. */
static void
assert_verdict(GError *err, gint code, const char *message)
{
    if (message == NULL) {
        g_assert_no_error(err);
        return;
    }
    g_assert_error(err, FM_ERROR, code);
    g_assert_cmpstr(err->message, ==, message);
    g_error_free(err);
}

/* ---- byte-level builder of (possibly malformed) streams ---- */

/* Appends a header with a correct CRC. */
static void
put_header(GByteArray *b, guint32 page_size, guint64 page_count, guint32 flags,
           guint32 reserved1, guint32 reserved2)
{
    guint start = b->len;
    guint32 crc;

    g_byte_array_append(b, (const guint8 *)"FRAGMIG!", 8);
    fm_test_append_le32(b, FM_STREAM_VERSION);
    fm_test_append_le32(b, flags);
    fm_test_append_le32(b, page_size);
    fm_test_append_le32(b, reserved1);
    fm_test_append_le64(b, page_count);
    fm_test_append_le32(b, 0);
    fm_test_append_le32(b, reserved2);
    crc = GUINT32_TO_LE(fm_stream_header_crc(b->data + start));
    memcpy(b->data + start + 32, &crc, 4);
}

/* Appends a record whose header claims @declared bytes, with @len bytes of @body
 * and padding bytes @pad_byte up to the next multiple of 8 after @len. */
static void
put_record(GByteArray *b, guint32 type, const void *body, gsize len, guint32 declared,
           guint8 pad_byte)
{
    fm_test_append_le32(b, type);
    fm_test_append_le32(b, declared);
    if (len > 0)
        g_byte_array_append(b, body, len);
    while (b->len % 8 != 0)
        g_byte_array_append(b, &pad_byte, 1);
}

/* Appends a PAGE_DATA record with one page for @pfn (512-byte pages). */
static void
put_one_page(GByteArray *b, guint64 pfn)
{
    guint8 page[512];

    fill_page(page, pfn, 0, sizeof(page));
    fm_test_append_le32(b, FM_RECORD_PAGE_DATA);
    fm_test_append_le32(b, 8 + 8 + 512);
    fm_test_append_le32(b, 1);
    fm_test_append_le32(b, 0);
    fm_test_append_le64(b, pfn);
    g_byte_array_append(b, page, sizeof(page));
}

/* ---- CRC ---- */

static void
test_crc(void)
{
    guint8 header[FM_STREAM_HEADER_SIZE];
    guint32 crc;

    /* The standard check value of CRC-32C. */
    g_assert_cmphex(fm_stream_crc32c("123456789", 9), ==, 0xE3069283);
    g_assert_cmphex(fm_stream_crc32c("", 0), ==, 0);

    /* The header CRC ignores its own field. */
    memset(header, 0x5a, sizeof(header));
    crc = fm_stream_header_crc(header);
    memset(header + 32, 0, 4);
    g_assert_cmphex(fm_stream_crc32c(header, sizeof(header)), ==, crc);
}

/* ---- round trips ---- */

typedef struct {
    guint32 type;              /* FM_RECORD_PAGE_DATA: pages, else a record */
    guint64 *pfns;
    gsize n;
    guint32 version;
    guint8 *body;
    gsize len;
} Op;

static void
op_free(gpointer p)
{
    Op *op = p;

    g_free(op->pfns);
    g_free(op->body);
    g_free(op);
}

typedef struct {
    FmChannel *channel;
    guint64 page_count;
    gsize page_size;
    GPtrArray *ops;
    guint32 last;              /* END or ABORT */
    GError *error;
    guint64 offset;
} WriterJob;

static gpointer
writer_thread(gpointer opaque)
{
    WriterJob *job = opaque;
    g_autoptr(FmStreamWriter) writer = fm_stream_writer_new(job->channel);

    if (!fm_stream_writer_write_header(writer, job->page_count, job->page_size,
                                       &job->error))
        return NULL;
    for (guint i = 0; i < job->ops->len; i++) {
        Op *op = g_ptr_array_index(job->ops, i);
        gboolean ok;

        if (op->type == FM_RECORD_PAGE_DATA) {
            g_autofree guint8 *data = g_malloc(op->n * job->page_size);

            for (gsize k = 0; k < op->n; k++)
                fill_page(data + k * job->page_size, op->pfns[k], op->version,
                          job->page_size);
            ok = fm_stream_writer_write_pages(writer, op->pfns, op->n, data, &job->error);
        } else {
            ok = fm_stream_writer_write_record(writer, op->type, op->body, op->len,
                                               &job->error);
        }
        if (!ok)
            return NULL;
    }
    if (job->last == FM_RECORD_END) {
        if (!fm_stream_writer_write_end(writer, &job->error))
            return NULL;
    } else if (!fm_stream_writer_write_abort(writer, "test abort", &job->error)) {
        return NULL;
    }
    /* Writing after the end is refused, and does not touch the stream. */
    g_assert_false(fm_stream_writer_write_end(writer, NULL));
    job->offset = fm_stream_writer_get_offset(writer);
    fm_channel_shutdown_write(job->channel, &job->error);
    return NULL;
}

/* Adds random operations for a guest of @page_count pages of @page_size bytes. */
static void
make_ops(GRand *rand, GPtrArray *ops, guint64 page_count, gsize page_size)
{
    guint n_ops = g_rand_int_range(rand, 1, 14);
    gsize max_pages = MIN(page_count * 2 + 5, (16u << 20) / page_size);
    guint32 round = 0;
    gboolean digest = FALSE;

    for (guint i = 0; i < n_ops; i++) {
        Op *op = g_new0(Op, 1);
        guint kind = g_rand_int_range(rand, 0, 7);

        switch (kind) {
        case 0:
        case 1:
        case 2:
            op->type = FM_RECORD_PAGE_DATA;
            op->n = g_rand_int_range(rand, 1, (gint32)max_pages + 1);
            op->pfns = g_new(guint64, op->n);
            for (gsize k = 0; k < op->n; k++)
                op->pfns[k] = g_rand_int_range(rand, 0, (gint32)MIN(page_count, G_MAXINT32));
            op->version = g_rand_int(rand);
            break;
        case 3:
            op->type = g_rand_boolean(rand) ? FM_RECORD_CPU_STATE : FM_RECORD_DEVICE_STATE;
            op->len = g_rand_int_range(rand, 0, 100);
            op->body = g_malloc(op->len + 1);
            for (gsize k = 0; k < op->len; k++)
                op->body[k] = (guint8)g_rand_int(rand);
            break;
        case 4: {
            GString *s = g_string_new(NULL);
            guint lines = g_rand_int_range(rand, 0, 5);

            for (guint k = 0; k < lines; k++)
                g_string_append_printf(s, "stat_%u=%u\n", k, g_rand_int(rand));
            op->type = FM_RECORD_STATS;
            op->len = s->len;
            op->body = (guint8 *)g_string_free(s, FALSE);
            break;
        }
        case 5:
            op->type = FM_RECORD_ROUND_END;
            op->len = 8;
            op->body = g_malloc0(8);
            op->body[0] = (guint8)round++;
            break;
        default:
            if (digest) {
                op->type = FM_RECORD_ROUND_END;
                op->len = 8;
                op->body = g_malloc0(8);
                op->body[0] = (guint8)round++;
                break;
            }
            digest = TRUE;
            op->type = FM_RECORD_DIGEST;
            op->len = 8 + 32;
            op->body = g_malloc0(op->len);
            op->body[0] = FM_DIGEST_SHA256;
            op->body[4] = 32;
            for (gsize k = 8; k < op->len; k++)
                op->body[k] = (guint8)g_rand_int(rand);
            break;
        }
        g_ptr_array_add(ops, op);
    }
}

/* Writes @ops in a thread and checks that the reader returns exactly them; with
 * @in_place, that the pages land in the reader's page memory instead. */
static void
check_round_trip(GPtrArray *ops, guint64 page_count, gsize page_size, guint32 last,
                 gboolean in_place)
{
    g_autofree guint8 *memory = in_place ? g_malloc0(page_count * page_size) : NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(FmChannel) a = NULL;
    g_autoptr(FmChannel) b = NULL;
    g_autoptr(FmStreamReader) reader = NULL;
    g_autofree guint8 *expect = g_malloc(page_size);
    guint32 max = fm_stream_max_pages_per_record(page_size);
    guint expected_page_records = 0;
    guint page_records = 0;
    WriterJob job = { 0 };
    GThread *thread;
    guint op_index = 0;
    gsize page_index = 0;
    FmStreamRecord record;

    make_pair(FALSE, &a, &b);
    job.channel = a;
    job.page_count = page_count;
    job.page_size = page_size;
    job.ops = ops;
    job.last = last;
    thread = g_thread_new("writer", writer_thread, &job);

    reader = fm_stream_reader_new(b, MAX_MEMORY);
    g_assert_true(fm_stream_reader_read_header(reader, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(fm_stream_reader_get_page_count(reader), ==, page_count);
    g_assert_cmpuint(fm_stream_reader_get_page_size(reader), ==, page_size);
    g_assert_cmpuint(fm_stream_reader_get_offset(reader), ==, FM_STREAM_HEADER_SIZE);
    fm_stream_reader_set_page_memory(reader, memory);

    for (guint i = 0; i < ops->len; i++) {
        Op *op = g_ptr_array_index(ops, i);

        if (op->type == FM_RECORD_PAGE_DATA)
            expected_page_records += (op->n + max - 1) / max;
    }

    while (!fm_stream_reader_is_done(reader)) {
        Op *op;

        g_assert_true(fm_stream_reader_next(reader, &record, &err));
        g_assert_no_error(err);
        g_assert_cmpuint(record.offset % 8, ==, 0);
        if (record.type == FM_RECORD_END || record.type == FM_RECORD_ABORT) {
            g_assert_cmpuint(record.type, ==, last);
            g_assert_cmpuint(op_index, ==, ops->len);
            if (last == FM_RECORD_ABORT)
                g_assert_cmpmem(record.body, record.len, "test abort", 10);
            continue;
        }
        g_assert_cmpuint(op_index, <, ops->len);
        op = g_ptr_array_index(ops, op_index);
        g_assert_cmpuint(record.type, ==, op->type);
        if (record.type != FM_RECORD_PAGE_DATA) {
            g_assert_cmpmem(record.body, record.len, op->body, op->len);
            op_index++;
            continue;
        }
        page_records++;
        g_assert_cmpuint(record.pages.count, <=, max);
        g_assert_cmpuint(record.pages.count, <=, op->n - page_index);
        /* Records are full except the last of a batch. */
        if (page_index + record.pages.count < op->n)
            g_assert_cmpuint(record.pages.count, ==, max);
        for (guint32 k = 0; k < record.pages.count; k++, page_index++) {
            guint64 pfn = fm_page_data_get_pfn(&record.pages, k);

            g_assert_cmpuint(pfn, ==, op->pfns[page_index]);
            fill_page(expect, pfn, op->version, page_size);
            /* a pfn twice in a record is the same page of the same op: either copy
             * in place is the expected one */
            if (in_place) {
                g_assert_null(record.pages.data);
                g_assert_cmpmem(memory + pfn * page_size, page_size, expect, page_size);
            } else {
                g_assert_cmpmem(record.pages.data + (gsize)k * page_size, page_size,
                                expect, page_size);
            }
        }
        if (page_index == op->n) {
            page_index = 0;
            op_index++;
        }
    }
    g_thread_join(thread);
    g_assert_no_error(job.error);
    g_assert_cmpuint(page_records, ==, expected_page_records);
    g_assert_cmpuint(job.offset, ==, fm_stream_reader_get_offset(reader));
    g_assert_cmpuint(job.offset, ==, fm_channel_get_bytes_written(a));
}

static void
test_round_trip_random(void)
{
    static const gsize page_sizes[] = { 512, 4096, 65536 };
    g_autoptr(GRand) rand = g_rand_new_with_seed(SEED);

    for (guint iter = 0; iter < 40; iter++) {
        g_autoptr(GPtrArray) ops = g_ptr_array_new_with_free_func(op_free);
        gsize page_size = page_sizes[g_rand_int_range(rand, 0, G_N_ELEMENTS(page_sizes))];
        guint64 page_count = g_rand_int_range(rand, 1, 20000);
        guint32 last = g_rand_int_range(rand, 0, 4) == 0 ? FM_RECORD_ABORT : FM_RECORD_END;

        page_count = MIN(page_count, (64u << 20) / page_size);
        make_ops(rand, ops, page_count, page_size);
        check_round_trip(ops, page_count, page_size, last, FALSE);
        check_round_trip(ops, page_count, page_size, last, TRUE);
    }
}

/* Batches just over the per-record limit, for the smallest and largest pages. */
static void
test_round_trip_split(void)
{
    static const struct {
        gsize page_size;
        gsize n;
    } cases[] = {
        { 512, 4096 },          /* exactly one full record */
        { 512, 4097 },          /* one full record and one page */
        { 4096, 3 * 4096 + 1 },
        { 65536, 1023 },        /* the body limit allows 1023 pages of 64 KiB */
        { 65536, 1024 },
    };

    for (gsize c = 0; c < G_N_ELEMENTS(cases); c++) {
        g_autoptr(GPtrArray) ops = g_ptr_array_new_with_free_func(op_free);
        Op *op = g_new0(Op, 1);

        op->type = FM_RECORD_PAGE_DATA;
        op->n = cases[c].n;
        op->pfns = g_new(guint64, op->n);
        for (gsize k = 0; k < op->n; k++)
            op->pfns[k] = (k * 7) % cases[c].n;
        op->version = (guint32)c;
        g_ptr_array_add(ops, op);
        check_round_trip(ops, cases[c].n, cases[c].page_size, FM_RECORD_END, FALSE);
        check_round_trip(ops, cases[c].n, cases[c].page_size, FM_RECORD_END, TRUE);
    }
    g_assert_cmpuint(fm_stream_max_pages_per_record(512), ==, 4096);
    g_assert_cmpuint(fm_stream_max_pages_per_record(4096), ==, 4096);
    g_assert_cmpuint(fm_stream_max_pages_per_record(65536), ==, 1023);
    g_assert_cmpuint(fm_stream_page_record_size(1023, 65536), <=, 8 + FM_STREAM_MAX_BODY);
}

/* ---- hostile input ---- */

/* Returns a small valid stream written by FmStreamWriter: 8 pages of 512 bytes,
 * PAGE_DATA, CPU_STATE (padded), STATS, ROUND_END, DIGEST, END. */
static GBytes *
make_small_stream(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmChannel) channel = channel_to_memory();
    g_autoptr(FmStreamWriter) writer = fm_stream_writer_new(channel);
    guint8 pages[2 * 512];
    const guint64 pfns[] = { 5, 1 };
    guint8 round[8] = { 0 };
    guint8 digest[40] = { FM_DIGEST_SHA256, 0, 0, 0, 32 };

    fill_page(pages, 5, 1, 512);
    fill_page(pages + 512, 1, 1, 512);
    g_assert_true(fm_stream_writer_write_header(writer, 8, 512, &err));
    g_assert_true(fm_stream_writer_write_pages(writer, pfns, 2, pages, &err));
    g_assert_true(fm_stream_writer_write_record(writer, FM_RECORD_CPU_STATE, "vcpu0", 5, &err));
    g_assert_true(fm_stream_writer_write_record(writer, FM_RECORD_STATS, "a=1\nbb=22\n", 10, &err));
    g_assert_true(fm_stream_writer_write_record(writer, FM_RECORD_ROUND_END, round, 8, &err));
    g_assert_true(fm_stream_writer_write_record(writer, FM_RECORD_DIGEST, digest, 40, &err));
    g_assert_true(fm_stream_writer_write_end(writer, &err));
    g_assert_no_error(err);
    return fm_test_channel_contents(channel);
}

typedef struct {
    guint64 offset;
    guint32 type;
    guint32 len;
    guint64 end;
} RecordSpan;

/* Walks the records of a valid stream (independently of the reader). */
static GArray *
record_spans(const guint8 *data, gsize len)
{
    GArray *spans = g_array_new(FALSE, FALSE, sizeof(RecordSpan));
    gsize off = FM_STREAM_HEADER_SIZE;

    while (off < len) {
        RecordSpan span;
        guint32 v;

        memcpy(&v, data + off, 4);
        span.type = GUINT32_FROM_LE(v);
        memcpy(&v, data + off + 4, 4);
        span.len = GUINT32_FROM_LE(v);
        span.offset = off;
        span.end = off + fm_stream_record_size(span.len);
        g_array_append_val(spans, span);
        off = span.end;
    }
    g_assert_cmpuint(off, ==, len);
    return spans;
}

/* Returns the message expected for the valid stream @data cut to @cut bytes. */
static char *
truncation_message(GArray *spans, gsize cut)
{
    if (cut < FM_STREAM_HEADER_SIZE)
        return g_strdup_printf("stream truncated at offset %zu (in the stream header)", cut);
    for (guint i = 0; i < spans->len; i++) {
        RecordSpan *s = &g_array_index(spans, RecordSpan, i);
        const char *name = fm_record_type_name(s->type);

        if (cut < s->offset || cut >= s->end)
            continue;
        if (cut == s->offset)
            return g_strdup_printf("stream ends at offset %zu without an END record", cut);
        if (cut < s->offset + 8)
            return g_strdup_printf("stream truncated at offset %zu (in a record header)", cut);
        if (cut < s->offset + 8 + s->len)
            return g_strdup_printf("stream truncated at offset %zu (in the body of the %s record at offset %llu)",
                                   cut, name, (unsigned long long)s->offset);
        return g_strdup_printf("stream truncated at offset %zu (in the padding of the %s record at offset %llu)",
                               cut, name, (unsigned long long)s->offset);
    }
    g_assert_not_reached();
}

static void
test_truncated(void)
{
    g_autoptr(GBytes) bytes = make_small_stream();
    gsize len;
    const guint8 *data = g_bytes_get_data(bytes, &len);
    g_autoptr(GArray) spans = record_spans(data, len);
    GError *err;
    guint n_records = 0;
    guint32 last = 0;

    /* The full stream is valid. */
    {
        g_autoptr(FmChannel) channel = fm_test_channel_from_bytes(data, len);

        err = read_all(channel, MAX_MEMORY, &n_records, &last);
        g_assert_no_error(err);
        g_assert_cmpuint(n_records, ==, 6);
        g_assert_cmpuint(last, ==, FM_RECORD_END);
        g_assert_cmpuint(spans->len, ==, 6);
    }
    for (gsize cut = 0; cut < len; cut++) {
        g_autofree char *expect = truncation_message(spans, cut);

        /* Each cut is a fresh allocation of exactly @cut bytes, so ASan sees any
         * read past the end. */
        g_autofree guint8 *copy = g_memdup2(data, cut ? cut : 1);

        for (guint in_place = 0; in_place < 2; in_place++) {
            err = read_bytes_pages(copy, cut, MAX_MEMORY, in_place);
            g_assert_error(err, FM_ERROR, FM_ERROR_PROTOCOL);
            g_assert_cmpstr(err->message, ==, expect);
            g_clear_error(&err);
        }
    }
}

static void
test_header_bit_flips(void)
{
    g_autoptr(GBytes) bytes = make_small_stream();
    gsize len;
    const guint8 *data = g_bytes_get_data(bytes, &len);
    g_autofree guint8 *copy = g_memdup2(data, len);

    for (guint bit = 0; bit < FM_STREAM_HEADER_SIZE * 8; bit++) {
        g_autofree char *expect = NULL;
        GError *err;

        memcpy(copy, data, len);
        copy[bit / 8] ^= (guint8)(1u << (bit % 8));
        if (bit < 64) {
            guint64 magic;

            memcpy(&magic, copy, 8);
            expect = g_strdup_printf("bad magic 0x%016llx at offset 0: not a fragmig stream",
                                     (unsigned long long)GUINT64_FROM_BE(magic));
        } else if (bit < 96) {
            expect = g_strdup_printf("unsupported stream version %u at offset 8 (this build reads version 1)",
                                     1u ^ (1u << (bit - 64)));
        } else {
            guint32 stored;

            memcpy(&stored, copy + 32, 4);
            expect = g_strdup_printf("header checksum mismatch at offset 32: stored 0x%08x, computed 0x%08x",
                                     GUINT32_FROM_LE(stored), fm_stream_header_crc(copy));
        }
        err = read_bytes(copy, len, MAX_MEMORY);
        g_assert_error(err, FM_ERROR, FM_ERROR_PROTOCOL);
        g_assert_cmpstr(err->message, ==, expect);
        g_clear_error(&err);
    }
}

#define B(s) (s), (sizeof(s) - 1)
#define SAME G_MAXUINT32         /* declared length = actual length */

typedef struct {
    guint32 type;
    const char *body;
    gsize len;
    guint32 declared;          /* SAME: len */
    guint8 pad_byte;
    gboolean is_page;          /* a PAGE_DATA with the one page @pfn instead */
    guint64 pfn;
} RecSpec;

typedef struct {
    const char *name;
    guint32 page_size;         /* 0: 512 */
    guint64 page_count;        /* 0: 8 */
    guint32 flags;
    guint32 reserved1;
    guint32 reserved2;
    RecSpec recs[3];
    gsize trailing;            /* zero bytes after the records */
    int code;
    const char *message;       /* NULL: the stream is valid */
} HostileCase;

#define REC(t, body, declared) { t, B(body), declared, 0, FALSE, 0 }
#define END_REC { FM_RECORD_END, B(""), SAME, 0, FALSE, 0 }
#define PAGE_REC(pfn) { 0, NULL, 0, 0, 0, TRUE, pfn }

static const HostileCase hostile_cases[] = {
    /* header fields (CRC valid) */
    { "flags", 0, 0, 1, 0, 0, { END_REC }, 0, FM_ERROR_PROTOCOL,
      "unknown stream flags 0x00000001 at offset 12" },
    { "reserved-20", 0, 0, 0, 5, 0, { END_REC }, 0, FM_ERROR_PROTOCOL,
      "nonzero reserved field 0x00000005 at offset 20" },
    { "reserved-36", 0, 0, 0, 0, 0x80000000, { END_REC }, 0, FM_ERROR_PROTOCOL,
      "nonzero reserved field 0x80000000 at offset 36" },
    { "page-size-256", 256, 0, 0, 0, 0, { END_REC }, 0, FM_ERROR_PROTOCOL,
      "invalid page size 256 at offset 16: it must be a power of two from 512 to 65536" },
    { "page-size-128k", 131072, 0, 0, 0, 0, { END_REC }, 0, FM_ERROR_PROTOCOL,
      "invalid page size 131072 at offset 16: it must be a power of two from 512 to 65536" },
    { "page-size-4095", 4095, 0, 0, 0, 0, { END_REC }, 0, FM_ERROR_PROTOCOL,
      "invalid page size 4095 at offset 16: it must be a power of two from 512 to 65536" },
    { "page-count-max", 0, G_MAXUINT64, 0, 0, 0, { END_REC }, 0, FM_ERROR_LIMIT,
      "the guest (18446744073709551615 pages of 512 bytes, at offset 24) exceeds the destination's memory limit of 1073741824 bytes" },
    { "limit-exact", 4096, 262144, 0, 0, 0, { END_REC }, 0, 0, NULL },
    { "limit-plus-one", 4096, 262145, 0, 0, 0, { END_REC }, 0, FM_ERROR_LIMIT,
      "the guest (262145 pages of 4096 bytes, at offset 24) exceeds the destination's memory limit of 1073741824 bytes" },
    { "limit-overflow", 65536, G_GUINT64_CONSTANT(1) << 63, 0, 0, 0, { END_REC }, 0,
      FM_ERROR_LIMIT,
      "the guest (9223372036854775808 pages of 65536 bytes, at offset 24) exceeds the destination's memory limit of 1073741824 bytes" },

    /* record framing */
    { "unknown-type", 0, 0, 0, 0, 0, { REC(0xffffffff, "", SAME) }, 0, FM_ERROR_PROTOCOL,
      "unknown record type 0xffffffff at offset 40" },
    { "type-last", 0, 0, 0, 0, 0, { REC(FM_RECORD_TYPE_LAST, "", SAME) }, 0,
      FM_ERROR_PROTOCOL, "unknown record type 0x0000000c at offset 40" },
    { "ready", 0, 0, 0, 0, 0, { REC(FM_RECORD_READY, "", SAME) }, 0,
      FM_ERROR_PROTOCOL, "unexpected READY record at offset 40: only the destination sends one" },
    { "prepare-no-digest", 0, 0, 0, 0, 0, { REC(FM_RECORD_PREPARE, "", SAME), END_REC }, 0,
      FM_ERROR_PROTOCOL, "PREPARE record at offset 40 before the DIGEST record" },
    { "prepare-valid", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_DIGEST, "\3\0\0\0\x10\0\0\0" "0123456789abcdef", SAME),
        REC(FM_RECORD_PREPARE, "", SAME), END_REC }, 0, 0, NULL },
    { "after-prepare", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_DIGEST, "\3\0\0\0\x10\0\0\0" "0123456789abcdef", SAME),
        REC(FM_RECORD_PREPARE, "", SAME), REC(FM_RECORD_CPU_STATE, "", SAME) }, 0,
      FM_ERROR_PROTOCOL, "CPU_STATE record at offset 80 after PREPARE (only END or ABORT may follow it)" },
    { "prepare-body", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_DIGEST, "\3\0\0\0\x10\0\0\0" "0123456789abcdef", SAME),
        REC(FM_RECORD_PREPARE, "x", SAME) }, 0,
      FM_ERROR_PROTOCOL, "PREPARE record at offset 72 has a body of 1 bytes (expected 0)" },
    { "result", 0, 0, 0, 0, 0, { REC(FM_RECORD_RESULT, "\0\0\0\0\0\0\0\0", SAME) }, 0,
      FM_ERROR_PROTOCOL, "unexpected RESULT record at offset 40: only the destination sends one" },
    { "oversized-cpu", 0, 0, 0, 0, 0, { REC(FM_RECORD_CPU_STATE, "", 64u * 1024 * 1024 + 1) },
      0, FM_ERROR_PROTOCOL,
      "CPU_STATE record at offset 40 has a body of 67108865 bytes (at most 67108864)" },
    { "max-cpu-truncated", 0, 0, 0, 0, 0, { REC(FM_RECORD_CPU_STATE, "abc", 64u * 1024 * 1024) },
      0, FM_ERROR_PROTOCOL,
      "stream truncated at offset 56 (in the body of the CPU_STATE record at offset 40)" },
    { "nonzero-padding", 0, 0, 0, 0, 0,
      { { FM_RECORD_CPU_STATE, B("abc"), SAME, 1, FALSE, 0 }, END_REC }, 0, FM_ERROR_PROTOCOL,
      "nonzero padding in the CPU_STATE record at offset 40" },
    { "end-with-body", 0, 0, 0, 0, 0, { REC(FM_RECORD_END, "\0\0\0\0\0\0\0\0", SAME) }, 0,
      FM_ERROR_PROTOCOL, "END record at offset 40 has a body of 8 bytes (expected 0)" },
    { "trailing-after-end", 0, 0, 0, 0, 0, { END_REC }, 1, FM_ERROR_PROTOCOL,
      "trailing data after the END record, at offset 48" },
    { "trailing-after-abort", 0, 0, 0, 0, 0, { REC(FM_RECORD_ABORT, "bye", SAME) }, 8,
      FM_ERROR_PROTOCOL, "trailing data after the ABORT record, at offset 56" },
    { "empty-abort", 0, 0, 0, 0, 0, { REC(FM_RECORD_ABORT, "", SAME) }, 0, 0, NULL },

    /* PAGE_DATA */
    { "page-count-zero", 0, 0, 0, 0, 0, { REC(FM_RECORD_PAGE_DATA, "\0\0\0\0\0\0\0\0", SAME) },
      0, FM_ERROR_PROTOCOL, "PAGE_DATA record at offset 40 has no pages" },
    { "page-body-short", 0, 0, 0, 0, 0, { REC(FM_RECORD_PAGE_DATA, "\1\0\0\0", SAME) }, 0,
      FM_ERROR_PROTOCOL, "PAGE_DATA record at offset 40 has a body of 4 bytes (at least 8)" },
    { "page-count-4097", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_PAGE_DATA, "\x01\x10\0\0\0\0\0\0", SAME) }, 0, FM_ERROR_PROTOCOL,
      "PAGE_DATA record at offset 40 has 4097 pages (at most 4096)" },
    { "page-count-huge", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_PAGE_DATA, "\xff\xff\xff\xff\0\0\0\0", SAME) }, 0, FM_ERROR_PROTOCOL,
      "PAGE_DATA record at offset 40 has 4294967295 pages (at most 4096)" },
    /* The length is checked against the count before the rest is read. */
    { "page-count-length", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_PAGE_DATA, "\x02\0\0\0\0\0\0\0", 8 + 8 + 512) }, 0, FM_ERROR_PROTOCOL,
      "PAGE_DATA record at offset 40: body length 528 does not match 2 pages of 512 bytes" },
    { "page-reserved", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_PAGE_DATA, "\x01\0\0\0\x01\0\0\0", 8 + 8 + 512) }, 0, FM_ERROR_PROTOCOL,
      "nonzero reserved field 0x00000001 at offset 52" },
    { "page-oversized", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_PAGE_DATA, "\x01\0\0\0\0\0\0\0", 64u * 1024 * 1024 + 8) }, 0,
      FM_ERROR_PROTOCOL,
      "PAGE_DATA record at offset 40 has a body of 67108872 bytes (at most 67108864)" },
    { "page-truncated", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_PAGE_DATA, "\x01\0\0\0\0\0\0\0", 8 + 8 + 512) }, 0, FM_ERROR_PROTOCOL,
      "stream truncated at offset 56 (in the body of the PAGE_DATA record at offset 40)" },
    { "pfn-last", 0, 0, 0, 0, 0,
      { PAGE_REC(7), END_REC }, 0, 0, NULL },
    { "pfn-out-of-range", 0, 0, 0, 0, 0,
      { PAGE_REC(8), END_REC }, 0, FM_ERROR_PROTOCOL,
      "pfn 8 at offset 56 is out of range (the guest has 8 pages)" },
    { "pfn-huge", 0, 0, 0, 0, 0,
      { PAGE_REC(G_MAXINT64), END_REC }, 0, FM_ERROR_PROTOCOL,
      "pfn 9223372036854775807 at offset 56 is out of range (the guest has 8 pages)" },

    /* ROUND_END, DIGEST */
    { "round-short", 0, 0, 0, 0, 0, { REC(FM_RECORD_ROUND_END, "\0\0\0\0", SAME) }, 0,
      FM_ERROR_PROTOCOL, "ROUND_END record at offset 40 has a body of 4 bytes (expected 8)" },
    { "round-reserved", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_ROUND_END, "\0\0\0\0\7\0\0\0", SAME) }, 0, FM_ERROR_PROTOCOL,
      "nonzero reserved field 0x00000007 at offset 52" },
    { "digest-algorithm", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_DIGEST, "\5\0\0\0 \0\0\0" "0123456789abcdef0123456789abcdef", SAME) },
      0, FM_ERROR_PROTOCOL, "DIGEST record at offset 40: unknown digest algorithm 5" },
    { "digest-pages-length", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_DIGEST, "\4\0\0\0 \0\0\0" "0123456789abcdef0123456789abcdef", SAME) },
      0, FM_ERROR_PROTOCOL, "DIGEST record at offset 40: XXH3-128 of page hashes digests are 16 bytes, not 32" },
    { "zero-pages", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_ZERO_PAGES, "\2\0\0\0\0\0\0\0" "\7\0\0\0\0\0\0\0" "\0\0\0\0\0\0\0\0", SAME),
        END_REC },
      0, 0, NULL },
    { "zero-pages-count", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_ZERO_PAGES, "\3\0\0\0\0\0\0\0" "\7\0\0\0\0\0\0\0" "\0\0\0\0\0\0\0\0", SAME),
        END_REC },
      0, FM_ERROR_PROTOCOL, "ZERO_PAGES record at offset 40: body length 24 does not match 3 pages" },
    { "zero-pages-none", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_ZERO_PAGES, "\0\0\0\0\0\0\0\0" "\7\0\0\0\0\0\0\0", SAME), END_REC },
      0, FM_ERROR_PROTOCOL, "ZERO_PAGES record at offset 40: body length 16 does not match 0 pages" },
    { "zero-pages-pfn", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_ZERO_PAGES, "\1\0\0\0\0\0\0\0" "\x08\0\0\0\0\0\0\0", SAME), END_REC },
      0, FM_ERROR_PROTOCOL, "pfn 8 at offset 56 is out of range (the guest has 8 pages)" },
    { "zero-pages-reserved", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_ZERO_PAGES, "\1\0\0\0\1\0\0\0" "\1\0\0\0\0\0\0\0", SAME), END_REC },
      0, FM_ERROR_PROTOCOL, "nonzero reserved field 0x00000001 at offset 52" },
    { "digest-pages", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_DIGEST, "\4\0\0\0\x10\0\0\0" "0123456789abcdef", SAME), END_REC },
      0, 0, NULL },
    { "digest-xxh3", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_DIGEST, "\3\0\0\0\x10\0\0\0" "0123456789abcdef", SAME), END_REC },
      0, 0, NULL },
    { "digest-xxh3-long", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_DIGEST, "\3\0\0\0 \0\0\0" "0123456789abcdef0123456789abcdef", SAME) },
      0, FM_ERROR_PROTOCOL, "DIGEST record at offset 40: XXH3-128 digests are 16 bytes, not 32" },
    /* a stream of fragmig 0.1.0: refused, saying why */
    { "digest-fm128-retired", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_DIGEST, "\2\0\0\0\x10\0\0\0" "0123456789abcdef", SAME), END_REC },
      0, FM_ERROR_PROTOCOL, "DIGEST record at offset 40: the stream's memory digest is fm128, the digest of fragmig 0.1.0, which this version no longer computes: send or save the guest again with this version" },
    { "digest-length", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_DIGEST, "\1\0\0\0!\0\0\0" "0123456789abcdef0123456789abcdef", SAME) },
      0, FM_ERROR_PROTOCOL,
      "DIGEST record at offset 40: digest length 33 does not match the body length 40" },
    { "digest-short", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_DIGEST, "\1\0\0\0\x10\0\0\0" "0123456789abcdef", SAME) }, 0,
      FM_ERROR_PROTOCOL, "DIGEST record at offset 40: SHA-256 digests are 32 bytes, not 16" },
    { "digest-oversized", 0, 0, 0, 0, 0, { REC(FM_RECORD_DIGEST, "", 100) }, 0,
      FM_ERROR_PROTOCOL, "DIGEST record at offset 40 has a body of 100 bytes (at most 72)" },
    { "digest-twice", 0, 0, 0, 0, 0,
      { REC(FM_RECORD_DIGEST, "\1\0\0\0 \0\0\0" "0123456789abcdef0123456789abcdef", SAME),
        REC(FM_RECORD_DIGEST, "\1\0\0\0 \0\0\0" "0123456789abcdef0123456789abcdef", SAME),
        END_REC }, 0, FM_ERROR_PROTOCOL,
      "second DIGEST record at offset 88 (a stream has at most one)" },

    /* text */
    { "stats-ok", 0, 0, 0, 0, 0, { REC(FM_RECORD_STATS, "a=\nb==c\n", SAME), END_REC }, 0,
      0, NULL },
    { "stats-no-equals", 0, 0, 0, 0, 0, { REC(FM_RECORD_STATS, "novalue\n", SAME) }, 0,
      FM_ERROR_PROTOCOL, "STATS record at offset 40: line 1 is not of the form name=value" },
    { "stats-empty-name", 0, 0, 0, 0, 0, { REC(FM_RECORD_STATS, "a=1\n=2\n", SAME) }, 0,
      FM_ERROR_PROTOCOL, "STATS record at offset 40: line 2 is not of the form name=value" },
    { "stats-empty-line", 0, 0, 0, 0, 0, { REC(FM_RECORD_STATS, "a=1\n\n", SAME) }, 0,
      FM_ERROR_PROTOCOL, "STATS record at offset 40: line 2 is not of the form name=value" },
    { "stats-no-newline", 0, 0, 0, 0, 0, { REC(FM_RECORD_STATS, "a=1", SAME) }, 0,
      FM_ERROR_PROTOCOL, "STATS record at offset 40: line 1 does not end with a newline" },
    { "stats-nul", 0, 0, 0, 0, 0, { REC(FM_RECORD_STATS, "a=\0\n", SAME) }, 0,
      FM_ERROR_PROTOCOL, "STATS record at offset 40: the text is not valid UTF-8" },
    { "stats-latin1", 0, 0, 0, 0, 0, { REC(FM_RECORD_STATS, "caf\xe9=1\n", SAME) }, 0,
      FM_ERROR_PROTOCOL, "STATS record at offset 40: the text is not valid UTF-8" },
    { "stats-oversized", 0, 0, 0, 0, 0, { REC(FM_RECORD_STATS, "", 1024 * 1024 + 1) }, 0,
      FM_ERROR_PROTOCOL, "STATS record at offset 40 has a body of 1048577 bytes (at most 1048576)" },
    { "abort-oversized", 0, 0, 0, 0, 0, { REC(FM_RECORD_ABORT, "", 65537) }, 0,
      FM_ERROR_PROTOCOL, "ABORT record at offset 40 has a body of 65537 bytes (at most 65536)" },
    { "abort-utf8", 0, 0, 0, 0, 0, { REC(FM_RECORD_ABORT, "\xc3", SAME) }, 0,
      FM_ERROR_PROTOCOL, "ABORT record at offset 40: the text is not valid UTF-8" },
};

static void
test_hostile_table(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(hostile_cases); i++) {
        const HostileCase *c = &hostile_cases[i];
        g_autoptr(GByteArray) b = g_byte_array_new();

        g_test_message("case %s", c->name);
        put_header(b, c->page_size ? c->page_size : 512, c->page_count ? c->page_count : 8,
                   c->flags, c->reserved1, c->reserved2);
        for (gsize r = 0; r < G_N_ELEMENTS(c->recs); r++) {
            const RecSpec *rec = &c->recs[r];

            if (rec->is_page) {
                put_one_page(b, rec->pfn);
                continue;
            }
            if (rec->body == NULL)
                break;
            put_record(b, rec->type, rec->body, rec->len,
                       rec->declared == SAME ? (guint32)rec->len : rec->declared,
                       rec->pad_byte);
        }
        for (gsize t = 0; t < c->trailing; t++)
            g_byte_array_append(b, (const guint8 *)"", 1);

        /* the same verdict whether the pages go into the body or in place */
        for (guint in_place = 0; in_place < 2; in_place++) {
            assert_verdict(read_bytes_pages(b->data, b->len, MAX_MEMORY, in_place),
                           c->code, c->message);
        }
    }
}

/* Streams that are not even a header. */
static void
test_not_a_stream(void)
{
    static const char text[] = "hello, world: not a stream at all\n";
    GError *err;

    err = read_bytes((const guint8 *)"", 0, MAX_MEMORY);
    g_assert_error(err, FM_ERROR, FM_ERROR_PROTOCOL);
    g_assert_cmpstr(err->message, ==, "stream truncated at offset 0 (in the stream header)");
    g_clear_error(&err);

    err = read_bytes((const guint8 *)"FRAG", 4, MAX_MEMORY);
    g_assert_error(err, FM_ERROR, FM_ERROR_PROTOCOL);
    g_assert_cmpstr(err->message, ==, "stream truncated at offset 4 (in the stream header)");
    g_clear_error(&err);

    err = read_bytes((const guint8 *)text, sizeof(text) - 1, MAX_MEMORY);
    g_assert_error(err, FM_ERROR, FM_ERROR_PROTOCOL);
    g_assert_cmpstr(err->message, ==, "bad magic 0x68656c6c6f2c2077 at offset 0: not a fragmig stream");
    g_clear_error(&err);

    /* A header for a guest without memory (the table uses 0 for "default"). */
    {
        g_autoptr(GByteArray) b = g_byte_array_new();

        put_header(b, 4096, 0, 0, 0, 0);
        put_record(b, FM_RECORD_END, "", 0, 0, 0);
        err = read_bytes(b->data, b->len, MAX_MEMORY);
        g_assert_error(err, FM_ERROR, FM_ERROR_PROTOCOL);
        g_assert_cmpstr(err->message, ==, "invalid page count 0 at offset 24");
        g_clear_error(&err);
    }
}

/* A peer that stops sending mid-record: the reader reports the timeout and where. */
static void
test_reader_timeout(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmChannel) a = NULL;
    g_autoptr(FmChannel) b = NULL;
    g_autoptr(FmStreamWriter) writer = NULL;
    g_autoptr(FmStreamReader) reader = NULL;
    FmStreamRecord record;

    make_pair(FALSE, &a, &b);
    writer = fm_stream_writer_new(a);
    g_assert_true(fm_stream_writer_write_header(writer, 8, 512, &err));
    g_assert_true(fm_channel_write_all(a, "\2\0\0\0\x10\0\0\0abc", 11, &err));
    g_assert_no_error(err);

    fm_channel_set_timeout(b, 0.1);
    reader = fm_stream_reader_new(b, MAX_MEMORY);
    g_assert_true(fm_stream_reader_read_header(reader, &err));
    g_assert_false(fm_stream_reader_next(reader, &record, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_IO);
    g_assert_cmpstr(err->message, ==,
                    "cannot read the stream at offset 51: timed out after 0.1 s waiting for the peer");
}

static void
test_parse_page_data(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) b = g_byte_array_new();
    guint8 page[512];
    FmPageData pd;

    fm_test_append_le32(b, 2);
    fm_test_append_le32(b, 0);
    fm_test_append_le64(b, 7);
    fm_test_append_le64(b, 0);
    fill_page(page, 7, 0, 512);
    g_byte_array_append(b, page, 512);
    fill_page(page, 0, 0, 512);
    g_byte_array_append(b, page, 512);

    g_assert_true(fm_stream_parse_page_data(b->data, b->len, 8, 512, 1000, &pd, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(pd.count, ==, 2);
    g_assert_cmpuint(fm_page_data_get_pfn(&pd, 0), ==, 7);
    g_assert_cmpuint(fm_page_data_get_pfn(&pd, 1), ==, 0);
    g_assert_true(pd.pfns == b->data + 8);
    g_assert_true(pd.data == b->data + 24);
    g_assert_cmpmem(pd.data + 512, 512, page, 512);

    /* The same body for a guest of 7 pages: pfn 7 is out of range. */
    g_assert_false(fm_stream_parse_page_data(b->data, b->len, 7, 512, 1000, &pd, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_PROTOCOL);
    g_assert_cmpstr(err->message, ==, "pfn 7 at offset 1016 is out of range (the guest has 7 pages)");
    g_clear_error(&err);

    /* One byte short, or read with another page size. */
    g_assert_false(fm_stream_parse_page_data(b->data, b->len - 1, 8, 512, 0, &pd, &err));
    g_assert_cmpstr(err->message, ==,
                    "PAGE_DATA record at offset 0: body length 1047 does not match 2 pages of 512 bytes");
    g_clear_error(&err);
    g_assert_false(fm_stream_parse_page_data(b->data, b->len, 8, 1024, 0, &pd, &err));
    g_assert_cmpstr(err->message, ==,
                    "PAGE_DATA record at offset 0: body length 1048 does not match 2 pages of 1024 bytes");
    g_clear_error(&err);
    g_assert_false(fm_stream_parse_page_data(b->data, 7, 8, 512, 0, &pd, &err));
    g_assert_cmpstr(err->message, ==,
                    "PAGE_DATA record at offset 0 has a body of 7 bytes (at least 8)");
}

/* The writer refuses what the reader would reject, and writes nothing then. */
static void
test_writer_refuses(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmChannel) channel = channel_to_memory();
    g_autoptr(FmStreamWriter) writer = fm_stream_writer_new(channel);
    guint8 page[512] = { 0 };
    const guint64 pfns[] = { 3, 8 };
    guint8 digest[40] = { FM_DIGEST_SHA256, 0, 0, 0, 32 };

    g_assert_false(fm_stream_writer_write_record(writer, FM_RECORD_STATS, "a=1\n", 4, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_FAILED);
    g_assert_cmpstr(err->message, ==, "cannot write a record before the stream header");
    g_clear_error(&err);

    g_assert_false(fm_stream_writer_write_header(writer, 8, 1000, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_assert_cmpstr(err->message, ==,
                    "invalid page size 1000: it must be a power of two from 512 to 65536");
    g_clear_error(&err);
    g_assert_false(fm_stream_writer_write_header(writer, 0, 512, &err));
    g_assert_cmpstr(err->message, ==, "invalid page count 0: a guest has at least one page");
    g_clear_error(&err);
    g_assert_cmpuint(fm_stream_writer_get_offset(writer), ==, 0);

    g_assert_true(fm_stream_writer_write_header(writer, 8, 512, &err));
    g_assert_cmpuint(fm_stream_writer_get_offset(writer), ==, 40);

    g_assert_false(fm_stream_writer_write_pages(writer, pfns, 2, page, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_assert_cmpstr(err->message, ==, "cannot send pfn 8: the guest has 8 pages");
    g_clear_error(&err);

    g_assert_false(fm_stream_writer_write_record(writer, FM_RECORD_STATS, "a 1\n", 4, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_assert_cmpstr(err->message, ==,
                    "refusing to send an invalid record: STATS record at offset 40: line 1 is not of the form name=value");
    g_clear_error(&err);

    g_assert_false(fm_stream_writer_write_record(writer, FM_RECORD_PAGE_DATA, page, 8, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_assert_cmpstr(err->message, ==,
                    "cannot send a record of type 0x00000001 with fm_stream_writer_write_record()");
    g_clear_error(&err);
    g_assert_false(fm_stream_writer_write_record(writer, FM_RECORD_RESULT, page, 8, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_clear_error(&err);
    g_assert_cmpuint(fm_stream_writer_get_offset(writer), ==, 40);

    g_assert_true(fm_stream_writer_write_record(writer, FM_RECORD_DIGEST, digest, 40, &err));
    g_assert_false(fm_stream_writer_write_record(writer, FM_RECORD_DIGEST, digest, 40, &err));
    g_assert_cmpstr(err->message, ==, "cannot send a second DIGEST record");
    g_clear_error(&err);

    /* An ABORT reason that is not UTF-8 is repaired, not refused. */
    g_assert_true(fm_stream_writer_write_abort(writer, "caf\xe9", &err));
    g_assert_no_error(err);
    g_assert_false(fm_stream_writer_write_end(writer, &err));
    g_assert_cmpstr(err->message, ==, "cannot write to the stream after its END or ABORT record");
    g_clear_error(&err);

    {
        g_autoptr(GBytes) bytes = fm_test_channel_contents(channel);
        gsize len;
        const guint8 *data = g_bytes_get_data(bytes, &len);

        g_assert_cmpuint(len, ==, fm_stream_writer_get_offset(writer));
        err = read_bytes(data, len, MAX_MEMORY);
        g_assert_no_error(err);
    }
}

/* ---- sample files ---- */

typedef struct {
    const char *file;
    int code;
    const char *message;       /* NULL: valid */
} FileCase;

static const FileCase file_cases[] = {
    { "valid.fmstream", 0, NULL },
    { "aborted.fmstream", 0, NULL },
    { "not-a-stream.fmstream", FM_ERROR_PROTOCOL,
      "bad magic 0x5468697320697320 at offset 0: not a fragmig stream" },
    { "byte-swapped-magic.fmstream", FM_ERROR_PROTOCOL,
      "bad magic 0x2147494d47415246 at offset 0: not a fragmig stream" },
    { "version-2.fmstream", FM_ERROR_PROTOCOL,
      "unsupported stream version 2 at offset 8 (this build reads version 1)" },
    { "bad-crc.fmstream", FM_ERROR_PROTOCOL,
      "header checksum mismatch at offset 32: stored 0x578418d5, computed 0xa588152b" },
    { "page-size-3000.fmstream", FM_ERROR_PROTOCOL,
      "invalid page size 3000 at offset 16: it must be a power of two from 512 to 65536" },
    { "guest-too-large.fmstream", FM_ERROR_LIMIT,
      "the guest (1099511627776 pages of 65536 bytes, at offset 24) exceeds the destination's memory limit of 1073741824 bytes" },
    { "truncated-page-data.fmstream", FM_ERROR_PROTOCOL,
      "stream truncated at offset 772 (in the body of the PAGE_DATA record at offset 40)" },
    { "oversized-length.fmstream", FM_ERROR_PROTOCOL,
      "CPU_STATE record at offset 40 has a body of 4294967295 bytes (at most 67108864)" },
    { "huge-count.fmstream", FM_ERROR_PROTOCOL,
      "PAGE_DATA record at offset 40 has 4294967295 pages (at most 4096)" },
    { "count-length-mismatch.fmstream", FM_ERROR_PROTOCOL,
      "PAGE_DATA record at offset 40: body length 536 does not match 2 pages of 512 bytes" },
    { "pfn-out-of-range.fmstream", FM_ERROR_PROTOCOL,
      "pfn 8 at offset 64 is out of range (the guest has 8 pages)" },
    { "unknown-type.fmstream", FM_ERROR_PROTOCOL,
      "unknown record type 0x00000042 at offset 40" },
    { "result-in-stream.fmstream", FM_ERROR_PROTOCOL,
      "unexpected RESULT record at offset 40: only the destination sends one" },
    { "nonzero-padding.fmstream", FM_ERROR_PROTOCOL,
      "nonzero padding in the CPU_STATE record at offset 40" },
    { "two-digests.fmstream", FM_ERROR_PROTOCOL,
      "second DIGEST record at offset 88 (a stream has at most one)" },
    { "bad-utf8-abort.fmstream", FM_ERROR_PROTOCOL,
      "ABORT record at offset 40: the text is not valid UTF-8" },
    { "trailing-after-end.fmstream", FM_ERROR_PROTOCOL,
      "trailing data after the END record, at offset 48" },
    { "no-end.fmstream", FM_ERROR_PROTOCOL,
      "stream ends at offset 2272 without an END record" },
};

/* Returns the directory of the sample streams. */
static char *
streams_dir(void)
{
    const char *data = g_getenv("FM_TEST_DATA");

    if (data != NULL)
        return g_build_filename(data, "streams", NULL);
    return g_test_build_filename(G_TEST_DIST, "data", "streams", NULL);
}

/* Returns a channel reading the file @name of the sample directory. */
static FmChannel *
open_sample(const char *name)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = streams_dir();
    g_autofree char *path = g_build_filename(dir, name, NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    FmChannel *channel;

    if (fd < 0)
        g_error("cannot open %s: %s (set FM_TEST_DATA to tests/data)", path,
                g_strerror(errno));
    channel = fm_channel_new_from_fd(fd, &err);
    g_assert_no_error(err);
    return channel;
}

static void
test_sample_files(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(file_cases); i++) {
        const FileCase *c = &file_cases[i];
        g_autoptr(FmChannel) channel = open_sample(c->file);

        g_test_message("file %s", c->file);
        assert_verdict(read_all(channel, MAX_MEMORY, NULL, NULL), c->code, c->message);
    }
}

/* The valid sample, decoded: memory, digest and records as generate.py wrote them. */
static void
test_sample_valid_content(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmChannel) channel = open_sample("valid.fmstream");
    g_autoptr(FmStreamReader) reader = fm_stream_reader_new(channel, MAX_MEMORY);
    g_autofree guint8 *memory = NULL;
    g_autoptr(GChecksum) sha = g_checksum_new(G_CHECKSUM_SHA256);
    guint8 digest[32];
    gsize digest_len = sizeof(digest);
    guint32 types[16];
    guint n = 0;
    FmStreamRecord record;

    g_assert_true(fm_stream_reader_read_header(reader, &err));
    g_assert_cmpuint(fm_stream_reader_get_page_count(reader), ==, 8);
    g_assert_cmpuint(fm_stream_reader_get_page_size(reader), ==, 512);
    memory = g_malloc0(8 * 512);
    while (!fm_stream_reader_is_done(reader)) {
        g_assert_true(fm_stream_reader_next(reader, &record, &err));
        g_assert_no_error(err);
        g_assert_cmpuint(n, <, G_N_ELEMENTS(types));
        types[n++] = record.type;
        if (record.type == FM_RECORD_PAGE_DATA) {
            for (guint32 k = 0; k < record.pages.count; k++)
                memcpy(memory + fm_page_data_get_pfn(&record.pages, k) * 512,
                       record.pages.data + k * 512, 512);
        } else if (record.type == FM_RECORD_CPU_STATE) {
            g_assert_cmpmem(record.body, record.len, "vcpu0", 5);
        } else if (record.type == FM_RECORD_STATS) {
            g_assert_cmpmem(record.body, record.len, "memory_iteration=2\npages_sent=4\n", 32);
        } else if (record.type == FM_RECORD_DIGEST) {
            g_checksum_update(sha, memory, 8 * 512);
            g_checksum_get_digest(sha, digest, &digest_len);
            g_assert_cmpmem(record.body + 8, record.len - 8, digest, digest_len);
        }
    }
    g_assert_cmpuint(n, ==, 7);
    g_assert_cmpuint(types[0], ==, FM_RECORD_PAGE_DATA);
    g_assert_cmpuint(types[1], ==, FM_RECORD_ROUND_END);
    g_assert_cmpuint(types[2], ==, FM_RECORD_PAGE_DATA);
    g_assert_cmpuint(types[5], ==, FM_RECORD_DIGEST);
    g_assert_cmpuint(types[6], ==, FM_RECORD_END);
    /* Page p holds the byte (p * 37 + 1) & 0xff; pages never sent are zero. */
    for (guint p = 0; p < 8; p++) {
        guint8 expect = (p == 0 || p == 3 || p == 7) ? (guint8)(p * 37 + 1) : 0;

        for (guint i = 0; i < 512; i++)
            g_assert_cmpuint(memory[p * 512 + i], ==, expect);
    }
}

/* ---- back channel ---- */

static void
test_result_records(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmChannel) a = NULL;
    g_autoptr(FmChannel) b = NULL;
    g_autofree char *message = NULL;
    g_autofree char *long_text = g_strnfill(70000, 'x');
    guint32 status;

    make_pair(FALSE, &a, &b);
    g_assert_true(fm_stream_write_result(b, FM_RESULT_VERIFY, "digest mismatch", &err));
    g_assert_true(fm_channel_shutdown_write(b, &err));
    g_assert_no_error(err);
    g_assert_true(fm_stream_read_result(a, &status, &message, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(status, ==, FM_RESULT_VERIFY);
    g_assert_cmpstr(message, ==, "digest mismatch");
    g_clear_pointer(&message, g_free);
    g_clear_pointer(&a, fm_channel_free);
    g_clear_pointer(&b, fm_channel_free);

    /* A long message is cut to the limit. */
    make_pair(FALSE, &a, &b);
    g_assert_true(fm_stream_write_result(b, FM_RESULT_OK, long_text, &err));
    g_assert_true(fm_channel_shutdown_write(b, &err));
    g_assert_true(fm_stream_read_result(a, &status, &message, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(status, ==, FM_RESULT_OK);
    g_assert_cmpuint(strlen(message), ==, FM_STREAM_MAX_TEXT);
    g_clear_pointer(&message, g_free);
    g_clear_pointer(&a, fm_channel_free);
    g_clear_pointer(&b, fm_channel_free);

    /* No reply at all. */
    make_pair(FALSE, &a, &b);
    g_clear_pointer(&b, fm_channel_free);
    g_assert_false(fm_stream_read_result(a, &status, &message, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_IO);
    g_assert_cmpstr(err->message, ==, "the destination closed the connection without a reply");
    g_clear_error(&err);
    g_clear_pointer(&a, fm_channel_free);

    /* A stream record where the reply should be, and a reply with trailing data. */
    make_pair(FALSE, &a, &b);
    g_assert_true(fm_channel_write_all(b, "\0\0\0\0\0\0\0\0", 8, &err));
    g_assert_false(fm_stream_read_result(a, &status, &message, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_PROTOCOL);
    g_assert_cmpstr(err->message, ==, "unexpected record type 0x00000000 in the destination's reply");
    g_clear_error(&err);
    g_clear_pointer(&a, fm_channel_free);
    g_clear_pointer(&b, fm_channel_free);

    make_pair(FALSE, &a, &b);
    g_assert_true(fm_stream_write_result(b, FM_RESULT_OK, "ok", &err));
    g_assert_true(fm_channel_write_all(b, "x", 1, &err));
    g_assert_true(fm_channel_shutdown_write(b, &err));
    g_assert_false(fm_stream_read_result(a, &status, &message, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_PROTOCOL);
    g_assert_cmpstr(err->message, ==, "trailing data after the RESULT record, at offset 24");
    g_clear_error(&err);
    g_clear_pointer(&a, fm_channel_free);
    g_clear_pointer(&b, fm_channel_free);

    /* A truncated reply. */
    make_pair(FALSE, &a, &b);
    g_assert_true(fm_channel_write_all(b, "\x08\0\0\0\x10\0\0\0\0\0\0\0", 12, &err));
    g_clear_pointer(&b, fm_channel_free);
    g_assert_false(fm_stream_read_result(a, &status, &message, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_PROTOCOL);
    g_assert_cmpstr(err->message, ==, "the destination's reply is truncated at offset 12");
    g_clear_error(&err);

    /* Error codes and statuses map both ways. */
    for (int code = FM_ERROR_FAILED; code <= FM_ERROR_LIMIT; code++) {
        g_autoptr(GError) e = g_error_new_literal(FM_ERROR, code, "x");
        FmResultStatus s = fm_stream_result_status_from_error(e);
        int back = fm_stream_result_status_to_error_code(s);

        g_assert_cmpint(s, !=, FM_RESULT_OK);
        if (s != FM_RESULT_FAILED)
            g_assert_cmpint(back, ==, code);
        else
            g_assert_cmpint(back, ==, FM_ERROR_FAILED);
    }
    g_assert_cmpint(fm_stream_result_status_from_error(NULL), ==, FM_RESULT_FAILED);
    g_assert_cmpint(fm_stream_result_status_to_error_code(999), ==, FM_ERROR_FAILED);
}

/* ---- the native sink against a test destination ---- */

typedef enum {
    RX_ACCEPT,                 /* apply, check the digest, accept */
    RX_REFUSE_AT_END,          /* read everything, then refuse (VERIFY) */
    RX_REFUSE_EARLY,           /* refuse after the header, drain, close */
    RX_REFUSE_AND_CLOSE,       /* refuse after the header and close at once */
} RxMode;

typedef struct {
    FmChannel *channel;        /* owned by the thread */
    FmChannel *source;         /* the sink's end: freed after the sink */
    RxMode mode;
    guint8 *memory;
    GArray *rounds;
    guint page_records;
    guint64 offset;
    guint32 last_type;
    char *text;                /* ABORT reason or STATS */
    char *error;
    gboolean drained;          /* the source stopped sending after the refusal */
} Receiver;

/* Sends the verdict for @err, shuts down, drains unless @close_now. */
static void
receiver_refuse(Receiver *rx, FmResultStatus status, const char *message, gboolean close_now)
{
    fm_stream_write_result(rx->channel, status, message, NULL);
    fm_channel_shutdown_write(rx->channel, NULL);
    if (!close_now)
        rx->drained = fm_channel_drain(rx->channel, NULL);
}

static gpointer
receiver_thread(gpointer opaque)
{
    Receiver *rx = opaque;
    g_autoptr(GError) err = NULL;
    g_autoptr(FmStreamReader) reader = fm_stream_reader_new(rx->channel, MAX_MEMORY);
    guint8 expected_digest[32] = { 0 };
    gsize page_size;
    FmStreamRecord record;

    if (!fm_stream_reader_read_header(reader, &err))
        goto fail;
    if (rx->mode == RX_REFUSE_EARLY || rx->mode == RX_REFUSE_AND_CLOSE) {
        receiver_refuse(rx, FM_RESULT_LIMIT, "guest too large",
                        rx->mode == RX_REFUSE_AND_CLOSE);
        goto out;
    }
    page_size = fm_stream_reader_get_page_size(reader);
    rx->memory = g_malloc0(fm_stream_reader_get_page_count(reader) * page_size);
    while (!fm_stream_reader_is_done(reader)) {
        if (!fm_stream_reader_next(reader, &record, &err))
            goto fail;
        rx->last_type = record.type;
        switch (record.type) {
        case FM_RECORD_PAGE_DATA:
            rx->page_records++;
            for (guint32 k = 0; k < record.pages.count; k++)
                memcpy(rx->memory + fm_page_data_get_pfn(&record.pages, k) * page_size,
                       record.pages.data + (gsize)k * page_size, page_size);
            break;
        case FM_RECORD_ROUND_END: {
            guint32 round;

            memcpy(&round, record.body, 4);
            round = GUINT32_FROM_LE(round);
            g_array_append_val(rx->rounds, round);
            break;
        }
        case FM_RECORD_DIGEST:
            memcpy(expected_digest, record.body + 8, 32);
            break;
        case FM_RECORD_STATS:
        case FM_RECORD_ABORT:
            g_free(rx->text);
            rx->text = g_strndup((const char *)record.body, record.len);
            break;
        default:
            break;
        }
    }
    rx->offset = fm_stream_reader_get_offset(reader);
    if (rx->last_type == FM_RECORD_ABORT)
        goto out;
    {
        g_autoptr(GChecksum) sha = g_checksum_new(G_CHECKSUM_SHA256);
        guint8 digest[32];
        gsize len = sizeof(digest);

        g_checksum_update(sha, rx->memory, fm_stream_reader_get_page_count(reader) * page_size);
        g_checksum_get_digest(sha, digest, &len);
        if (rx->mode == RX_REFUSE_AT_END || memcmp(digest, expected_digest, 32) != 0)
            fm_stream_write_result(rx->channel, FM_RESULT_VERIFY, "memory digest mismatch", NULL);
        else
            fm_stream_write_result(rx->channel, FM_RESULT_OK, "guest running", NULL);
    }
    goto out;

 fail:
    rx->error = g_strdup(err->message);
    receiver_refuse(rx, fm_stream_result_status_from_error(err), err->message, FALSE);
 out:
    g_clear_pointer(&rx->channel, fm_channel_free);
    return NULL;
}

static void
receiver_clear(Receiver *rx)
{
    fm_channel_free(rx->source);
    g_free(rx->memory);
    g_array_unref(rx->rounds);
    g_free(rx->text);
    g_free(rx->error);
}

/* Starts a receiver in @mode on a new pair; returns the sink on the other end. */
static FmSink *
start_receiver(gboolean tcp, RxMode mode, Receiver *rx, GThread **thread)
{
    FmChannel *a;
    FmChannel *b;

    memset(rx, 0, sizeof(*rx));
    make_pair(tcp, &a, &b);
    rx->channel = b;
    rx->source = a;
    fm_channel_set_timeout(b, 5);
    rx->mode = mode;
    rx->rounds = g_array_new(FALSE, FALSE, sizeof(guint32));
    *thread = g_thread_new("receiver", receiver_thread, rx);
    return fm_native_sink_new(a);
}

#define SINK_PAGES 5000          /* more than one record of 512-byte pages */

static void
check_sink_accept(gboolean tcp)
{
    g_autoptr(GError) err = NULL;
    g_autofree guint8 *memory = g_malloc(SINK_PAGES * 512);
    g_autofree guint64 *pfns = g_new(guint64, SINK_PAGES);
    g_autoptr(GChecksum) sha = g_checksum_new(G_CHECKSUM_SHA256);
    guint8 digest[40] = { FM_DIGEST_SHA256, 0, 0, 0, 32 };
    gsize digest_len = 32;
    Receiver rx;
    GThread *thread;
    FmSink *sink = start_receiver(tcp, RX_ACCEPT, &rx, &thread);
    guint64 resend[3] = { 4999, 0, 1234 };
    guint8 resend_data[3 * 512];

    for (guint64 p = 0; p < SINK_PAGES; p++) {
        pfns[p] = p;
        fill_page(memory + p * 512, p, 0, 512);
    }
    g_assert_true(fm_sink_begin(sink, SINK_PAGES, 512, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(fm_sink_bytes_sent(sink), ==, 40);
    g_assert_true(fm_sink_send_pages(sink, pfns, SINK_PAGES, memory, &err));
    g_assert_true(fm_sink_flush(sink, &err));
    g_assert_no_error(err);

    /* Round 1 re-sends three pages that changed. */
    for (guint i = 0; i < 3; i++) {
        fill_page(memory + resend[i] * 512, resend[i], 1, 512);
        memcpy(resend_data + i * 512, memory + resend[i] * 512, 512);
    }
    g_assert_true(fm_sink_send_pages(sink, resend, 3, resend_data, &err));
    g_assert_true(fm_sink_flush(sink, &err));
    g_assert_true(fm_sink_send_record(sink, FM_RECORD_CPU_STATE, "regs", 4, &err));
    g_assert_true(fm_sink_send_record(sink, FM_RECORD_STATS, "memory_iteration=2\n", 19, &err));
    g_checksum_update(sha, memory, SINK_PAGES * 512);
    g_checksum_get_digest(sha, digest + 8, &digest_len);
    g_assert_true(fm_sink_send_record(sink, FM_RECORD_DIGEST, digest, 40, &err));
    g_assert_no_error(err);

    /* END and ABORT only go through finish and abort. */
    g_assert_false(fm_sink_send_record(sink, FM_RECORD_END, NULL, 0, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_assert_cmpstr(err->message, ==, "cannot send an END record with fm_sink_send_record()");
    g_clear_error(&err);

    g_assert_true(fm_sink_finish(sink, &err));
    g_assert_no_error(err);
    g_thread_join(thread);
    g_assert_cmpstr(rx.error, ==, NULL);
    g_assert_cmpmem(rx.memory, SINK_PAGES * 512, memory, SINK_PAGES * 512);
    g_assert_cmpuint(rx.rounds->len, ==, 2);
    g_assert_cmpuint(g_array_index(rx.rounds, guint32, 0), ==, 0);
    g_assert_cmpuint(g_array_index(rx.rounds, guint32, 1), ==, 1);
    g_assert_cmpuint(rx.page_records, ==, 3);
    g_assert_cmpstr(rx.text, ==, "memory_iteration=2\n");
    g_assert_cmpuint(fm_sink_bytes_sent(sink), ==, rx.offset);
    g_assert_cmpuint(fm_sink_bytes_sent(sink), ==,
                     fm_channel_get_bytes_written(rx.source));
    /* abort after a completed migration does nothing. */
    fm_sink_abort(sink, "too late");
    g_assert_cmpuint(fm_sink_bytes_sent(sink), ==, rx.offset);
    fm_sink_free(sink);
    receiver_clear(&rx);
}

static void
test_sink_accept(void)
{
    check_sink_accept(FALSE);
}

static void
test_sink_accept_tcp(void)
{
    check_sink_accept(TRUE);
}

static void
test_sink_refuse_at_end(void)
{
    g_autoptr(GError) err = NULL;
    guint8 page[512] = { 1 };
    const guint64 pfn = 0;
    Receiver rx;
    GThread *thread;
    FmSink *sink = start_receiver(FALSE, RX_REFUSE_AT_END, &rx, &thread);

    g_assert_true(fm_sink_begin(sink, 4, 512, &err));
    g_assert_true(fm_sink_send_pages(sink, &pfn, 1, page, &err));
    g_assert_no_error(err);
    g_assert_false(fm_sink_finish(sink, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_VERIFY);
    g_assert_cmpstr(err->message, ==, "the destination refused the migration: memory digest mismatch");
    g_thread_join(thread);
    fm_sink_free(sink);
    receiver_clear(&rx);
}

/* The destination gives up mid-stream: the sink stops with its reason. */
static void
check_sink_refuse_early(gboolean tcp, RxMode mode)
{
    g_autoptr(GError) err = NULL;
    g_autofree guint8 *pages = g_malloc0(4096 * 512);
    g_autofree guint64 *pfns = g_new(guint64, 4096);
    Receiver rx;
    GThread *thread;
    FmSink *sink = start_receiver(tcp, mode, &rx, &thread);
    guint i;

    for (guint p = 0; p < 4096; p++)
        pfns[p] = p;
    /* The header may go out before the refusal arrives, or fail on it. */
    if (fm_sink_begin(sink, 4096, 512, &err)) {
        for (i = 0; i < 1000; i++) {
            if (!fm_sink_send_pages(sink, pfns, 4096, pages, &err))
                break;
        }
        g_assert_cmpuint(i, <, 1000);
    }
    g_assert_error(err, FM_ERROR, FM_ERROR_LIMIT);
    g_assert_cmpstr(err->message, ==, "the destination refused the migration: guest too large");
    /* The sink shut its side down: the destination's drain ends without waiting
     * for its timeout. */
    g_thread_join(thread);
    if (mode == RX_REFUSE_EARLY)
        g_assert_true(rx.drained);
    /* Nothing more goes out after the refusal; abort is harmless. */
    fm_sink_abort(sink, "cleanup");
    fm_sink_free(sink);
    receiver_clear(&rx);
}

static void
test_sink_refuse_early(void)
{
    check_sink_refuse_early(FALSE, RX_REFUSE_EARLY);
    check_sink_refuse_early(TRUE, RX_REFUSE_EARLY);
    check_sink_refuse_early(FALSE, RX_REFUSE_AND_CLOSE);
}

/* The destination is gone before the stream starts. */
static void
test_sink_peer_gone(void)
{
    g_autoptr(GError) err = NULL;
    FmChannel *a;
    FmChannel *b;
    FmSink *sink;

    make_pair(FALSE, &a, &b);
    fm_channel_free(b);
    sink = fm_native_sink_new(a);
    g_assert_false(fm_sink_begin(sink, 4, 512, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_IO);
    g_assert_cmpstr(err->message, ==,
                    "cannot write the stream at offset 0: connection closed by peer (broken pipe)");
    g_assert_cmpuint(fm_sink_bytes_sent(sink), ==, 0);
    g_assert_cmpint(fm_sink_get_records(sink), ==, FM_SINK_RECORDS_NATIVE);
    g_assert_cmpstr(fm_sink_get_name(sink), ==, "native");
    fm_sink_abort(sink, "gone");
    fm_sink_free(sink);
    /* The sink borrowed the channel: it is still open, and the caller's to close. */
    g_assert_cmpint(fcntl(fm_channel_get_fd(a), F_GETFD), !=, -1);
    fm_channel_free(a);
}

static void
test_sink_abort(void)
{
    g_autoptr(GError) err = NULL;
    guint8 page[512] = { 0 };
    const guint64 pfn = 3;
    Receiver rx;
    GThread *thread;
    FmSink *sink = start_receiver(FALSE, RX_ACCEPT, &rx, &thread);

    g_assert_true(fm_sink_begin(sink, 4, 512, &err));
    g_assert_true(fm_sink_send_pages(sink, &pfn, 1, page, &err));
    g_assert_no_error(err);
    fm_sink_abort(sink, "cancelled by the user");
    g_thread_join(thread);
    g_assert_cmpstr(rx.error, ==, NULL);
    g_assert_cmpuint(rx.last_type, ==, FM_RECORD_ABORT);
    g_assert_cmpstr(rx.text, ==, "cancelled by the user");
    g_assert_cmpuint(fm_sink_bytes_sent(sink), ==, rx.offset);
    /* Once aborted the sink sends nothing more. */
    g_assert_false(fm_sink_send_pages(sink, &pfn, 1, page, &err));
    g_assert_nonnull(err);
    fm_sink_free(sink);
    receiver_clear(&rx);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/stream/crc", test_crc);
    g_test_add_func("/stream/round-trip/random", test_round_trip_random);
    g_test_add_func("/stream/round-trip/split", test_round_trip_split);
    g_test_add_func("/stream/hostile/truncated", test_truncated);
    g_test_add_func("/stream/hostile/header-bit-flips", test_header_bit_flips);
    g_test_add_func("/stream/hostile/table", test_hostile_table);
    g_test_add_func("/stream/hostile/not-a-stream", test_not_a_stream);
    g_test_add_func("/stream/hostile/files", test_sample_files);
    g_test_add_func("/stream/reader-timeout", test_reader_timeout);
    g_test_add_func("/stream/parse-page-data", test_parse_page_data);
    g_test_add_func("/stream/writer-refuses", test_writer_refuses);
    g_test_add_func("/stream/sample-valid-content", test_sample_valid_content);
    g_test_add_func("/stream/result", test_result_records);
    g_test_add_func("/stream/sink/accept", test_sink_accept);
    g_test_add_func("/stream/sink/accept-tcp", test_sink_accept_tcp);
    g_test_add_func("/stream/sink/refuse-at-end", test_sink_refuse_at_end);
    g_test_add_func("/stream/sink/refuse-early", test_sink_refuse_early);
    g_test_add_func("/stream/sink/peer-gone", test_sink_peer_gone);
    g_test_add_func("/stream/sink/abort", test_sink_abort);

    return g_test_run();
}
