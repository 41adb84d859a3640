/*
 * test-trace.c: dirty-page traces (trace/fm-trace.h, docs/trace-format.md), their
 * replay (the trace workload) and their recording (backend/fm-trace-record.h, the
 * engine's harvest callback).
 *
 *  - format: a byte-exact encoding checked by hand, a round-trip property test over
 *    random traces, and every way a file can be wrong rejected with its exact
 *    message (truncation at every offset, every header bit flipped, crafted records);
 *  - replay: each interval's pages written exactly once during it, evenly spread,
 *    looping, shared by lanes, independent of how the clock is advanced; a scenario
 *    with a trace; the simulator gives the same migration for the same trace;
 *  - recording: a forked guest child (as in test-local.c) recorded for 1 s holds only
 *    pages of its workload's region (and page 0, its header); a second child
 *    replaying that trace for real dirties only pages of the trace; a trace guest
 *    migrated (a copy of its memory) resumes with its trace, and a corrupted one is
 *    refused.  The tests that run guest threads in this process come last: the
 *    others fork.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "trace/fm-trace.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "backend/local/fm-guest.h"
#include "backend/local/fm-local.h"
#include "backend/sim/fm-sim.h"
#include "workload/fm-workload-priv.h"
#include "conf/fm-scenario.h"
#include "engine/fm-job.h"
#include "engine/fm-policy.h"
#include "stream/fm-stream.h"
#include "tests/fm-test-util.h"
#include "backend/fm-trace-record.h"
#include "util/fm-bytes.h"
#include "util/fm-error.h"
#include "util/fm-rand.h"

/* ---- helpers ---- */

/* Re-checks the invariants of fm-trace.h on @t. */
static void
check_invariants(const FmTrace *t)
{
    guint64 total = 0, last = 0, next_run = 0;

    g_assert_cmpuint(fm_trace_page_count(t), >=, 1);
    g_assert_cmpuint(fm_trace_page_count(t), <=, FM_TRACE_MAX_PAGES);
    for (guint64 i = 0; i < fm_trace_n_intervals(t); i++) {
        const FmTraceInterval *iv = fm_trace_interval(t, i);
        const FmTraceRun *runs = fm_trace_interval_runs(t, i);
        guint64 pages = 0;

        g_assert_cmpuint(iv->time_ns, >, last);
        g_assert_cmpuint(iv->time_ns, <=, FM_TRACE_MAX_TIME_NS);
        g_assert_cmpuint(iv->first_run, ==, next_run);
        for (guint64 k = 0; k < iv->n_runs; k++) {
            g_assert_cmpuint(runs[k].length, >=, 1);
            g_assert_cmpuint(runs[k].start, <, fm_trace_page_count(t));
            g_assert_cmpuint(runs[k].length, <=, fm_trace_page_count(t) - runs[k].start);
            if (k > 0)
                g_assert_cmpuint(runs[k].start, >, runs[k - 1].start + runs[k - 1].length);
            pages += runs[k].length;
        }
        g_assert_cmpuint(pages, ==, iv->n_pages);
        total += pages;
        last = iv->time_ns;
        next_run += iv->n_runs;
    }
    g_assert_cmpuint(total, ==, fm_trace_total_pages(t));
    g_assert_cmpuint(last, ==, fm_trace_duration_ns(t));
}

/* Returns a new trace (caller unrefs); asserts success. */
static FmTrace *
trace_new(guint32 page_size, guint64 page_count)
{
    g_autoptr(GError) error = NULL;
    FmTrace *t = fm_trace_new(page_size, page_count, &error);

    g_assert_no_error(error);
    return t;
}

/* Appends an interval of @n runs given as start, length pairs; asserts success. */
static void
add_runs(FmTrace *t, guint64 time_ns, const guint64 *pairs, gsize n)
{
    g_autoptr(GError) error = NULL;
    g_autofree FmTraceRun *runs = g_new0(FmTraceRun, n + 1);

    for (gsize i = 0; i < n; i++) {
        runs[i].start = pairs[2 * i];
        runs[i].length = pairs[2 * i + 1];
    }
    g_assert_true(fm_trace_append_runs(t, time_ns, runs, n, &error));
    g_assert_no_error(error);
}

/* The small trace of the layout, truncation and corruption tests: 100 pages. */
static FmTrace *
small_trace(void)
{
    FmTrace *t = trace_new(4096, 100);

    add_runs(t, 1000, (const guint64[]){ 0, 1, 10, 5, 20, 1 }, 3);
    add_runs(t, 3000, NULL, 0);
    add_runs(t, G_GUINT64_CONSTANT(1) << 35, (const guint64[]){ 99, 1 }, 1);
    return t;
}

/* Returns the encoding of @t as a byte array (caller frees). */
static GByteArray *
encode(const FmTrace *t)
{
    GBytes *b = fm_trace_encode(t);

    return g_bytes_unref_to_array(b);
}

/* Asserts that loading @len bytes at @data fails with FM_ERROR_PROTOCOL and
 * @message, from memory and from a FILE alike. */
static void
assert_rejected(const guint8 *data, gsize len, const char *message)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) error2 = NULL;
    FmTrace *t = fm_trace_load_bytes(data, len, &error);
    FILE *f = tmpfile();

    g_assert_null(t);
    g_assert_error(error, FM_ERROR, FM_ERROR_PROTOCOL);
    g_assert_cmpstr(error->message, ==, message);

    g_assert_nonnull(f);
    g_assert_cmpuint(fwrite(data, 1, len, f), ==, len);
    rewind(f);
    t = fm_trace_load_stream(f, &error2);
    fclose(f);
    g_assert_null(t);
    g_assert_error(error2, FM_ERROR, FM_ERROR_PROTOCOL);
    g_assert_cmpstr(error2->message, ==, message);
}

/* Returns a valid header for @page_count pages of 4096 bytes (caller frees). */
static GByteArray *
header_bytes(guint64 page_count)
{
    g_autoptr(FmTraceWriter) w = fm_trace_writer_new(NULL, 4096, page_count, NULL);
    GBytes *b;

    g_assert_nonnull(w);
    b = fm_trace_writer_steal_bytes(w);
    g_assert_cmpuint(g_bytes_get_size(b), ==, FM_TRACE_HEADER_SIZE);
    return g_bytes_unref_to_array(b);
}

/* Makes the header at @h consistent again after an edit. */
static void
fix_header_crc(guint8 *h)
{
    fm_put_le32(h + 32, fm_trace_header_crc(h));
}

/* Returns a new temporary directory (caller removes it with rm_rf() and frees). */
static char *
tmp_dir(void)
{
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp("test-trace-XXXXXX", &error);

    g_assert_no_error(error);
    return dir;
}

/* Removes @dir and the files in it. */
static void
rm_rf(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;

    g_assert_nonnull(d);
    while ((name = g_dir_read_name(d)) != NULL) {
        g_autofree char *path = g_build_filename(dir, name, NULL);

        g_assert_cmpint(unlink(path), ==, 0);
    }
    g_dir_close(d);
    g_assert_cmpint(rmdir(dir), ==, 0);
}

/* ---- the format ---- */

/* CRC-32C: the check value, continuation, and the stream's implementation. */
static void
test_crc(void)
{
    const char *s = "123456789";
    guint32 part = fm_trace_crc32c(0, s, 4);

    g_assert_cmphex(fm_trace_crc32c(0, s, 9), ==, 0xE3069283);
    g_assert_cmphex(fm_trace_crc32c(part, s + 4, 5), ==, 0xE3069283);
    g_assert_cmphex(fm_trace_crc32c(0, s, 9), ==, fm_stream_crc32c(s, 9));
    g_assert_cmphex(fm_trace_crc32c(0, "", 0), ==, 0);
}

/* The encoding of the small trace, octet by octet, as docs/trace-format.md says. */
static void
test_layout(void)
{
    g_autoptr(FmTrace) t = small_trace();
    g_autoptr(GByteArray) b = encode(t);
    static const guint8 records[] = {
        0x01, 0xe8, 0x07, 0x03, 0x00, 0x01, 0x0a, 0x05, 0x0a, 0x01, /* 1000 ns: 3 runs */
        0x01, 0xd0, 0x0f, 0x00,                                     /* +2000 ns: none */
        0x01, 0xc8, 0xe8, 0xff, 0xff, 0x7f, 0x01, 0x63, 0x01,       /* +2^35-3000: 99 */
        0x00, 0x03,                                                 /* END, 3 intervals */
    };
    const guint8 *h = b->data;
    guint32 crc;

    check_invariants(t);
    g_assert_cmpmem(h, 8, "FMTRACE!", 8);
    g_assert_cmpuint(fm_get_le32(h + 8), ==, 1);
    g_assert_cmpuint(fm_get_le32(h + 12), ==, 0);
    g_assert_cmpuint(fm_get_le32(h + 16), ==, 4096);
    g_assert_cmpuint(fm_get_le32(h + 20), ==, 0);
    g_assert_cmpuint(fm_get_le32(h + 24), ==, 100);
    g_assert_cmpuint(fm_get_le32(h + 28), ==, 0);
    g_assert_cmphex(fm_get_le32(h + 32), ==, fm_trace_header_crc(h));
    g_assert_cmpuint(fm_get_le32(h + 36), ==, 0);

    g_assert_cmpuint(b->len, ==, FM_TRACE_HEADER_SIZE + sizeof(records) + 4);
    g_assert_cmpmem(b->data + FM_TRACE_HEADER_SIZE, sizeof(records), records, sizeof(records));
    crc = fm_trace_crc32c(0, records, sizeof(records));
    g_assert_cmphex(fm_get_le32(b->data + b->len - 4), ==, crc);

    g_assert_cmpuint(fm_trace_total_pages(t), ==, 8);
    g_assert_cmpuint(fm_trace_duration_ns(t), ==, G_GUINT64_CONSTANT(1) << 35);
    g_assert_cmpfloat_with_epsilon(fm_trace_mean_rate(t), 8 / 34.359738368, 1e-9);
}

/* Fills @b with one of several shapes of dirty set, drawn from @r. */
static void
random_bitmap(FmRand *r, FmBitmap *b)
{
    guint64 n = fm_bitmap_size(b);

    fm_bitmap_clear_all(b);
    switch (fm_rand_below(r, 6)) {
    case 0:                                  /* nothing */
        break;
    case 1:                                  /* everything */
        fm_bitmap_set_all(b);
        break;
    case 2: {                                /* random pages at a random density */
        double p = fm_rand_double(r);

        for (guint64 i = 0; i < n; i++) {
            if (fm_rand_double(r) < p)
                fm_bitmap_set(b, i);
        }
        break;
    }
    case 3:                                  /* alternating: the most runs */
        for (guint64 i = fm_rand_below(r, 2); i < n; i += 2)
            fm_bitmap_set(b, i);
        break;
    case 4: {                                /* a few long runs */
        guint k = 1 + (guint)fm_rand_below(r, 5);

        for (guint i = 0; i < k; i++) {
            guint64 s = fm_rand_below(r, n);

            fm_bitmap_set_range(b, s, 1 + fm_rand_below(r, n - s));
        }
        break;
    }
    default:                                 /* the first and last pages */
        fm_bitmap_set(b, 0);
        fm_bitmap_set(b, n - 1);
        break;
    }
}

/* Returns the maximal runs of @b (caller frees), as the reader must give them. */
static GArray *
bitmap_runs(const FmBitmap *b)
{
    GArray *a = g_array_new(FALSE, FALSE, sizeof(FmTraceRun));

    for (guint64 i = 0; i < fm_bitmap_size(b);) {
        FmTraceRun run = { i, 0 };

        if (!fm_bitmap_test(b, i)) {
            i++;
            continue;
        }
        while (i < fm_bitmap_size(b) && fm_bitmap_test(b, i))
            i++;
        run.length = i - run.start;
        g_array_append_val(a, run);
    }
    return a;
}

/* Round trip, property test: random traces (fixed seed) survive encoding, writing
 * to a FILE, streaming and loading unchanged, and their encoding is canonical. */
static void
test_round_trip(void)
{
    static const guint64 sizes[] = { 1, 2, 63, 64, 65, 127, 128, 129 };
    FmRand r;

    fm_rand_seed(&r, 20240601);
    for (guint iter = 0; iter < 300; iter++) {
        guint32 page_size = 512u << fm_rand_below(&r, 12);
        guint64 pages = iter < G_N_ELEMENTS(sizes) ? sizes[iter] : 1 + fm_rand_below(&r, 3000);
        guint n_intervals = (guint)fm_rand_below(&r, 30);
        g_autoptr(FmTrace) t = trace_new(page_size, pages);
        g_autoptr(FmTrace) back = NULL;
        g_autoptr(FmTrace) streamed = NULL;
        g_autoptr(FmBitmap) b = fm_bitmap_new(pages);
        g_autoptr(FmBitmap) fill = fm_bitmap_new(pages);
        g_autoptr(GByteArray) bytes = NULL;
        g_autoptr(GByteArray) again = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(FmTraceWriter) w = NULL;
        g_autoptr(FmTraceReader) reader = NULL;
        g_autoptr(GPtrArray) maps = g_ptr_array_new_with_free_func((GDestroyNotify)fm_bitmap_free);
        guint64 time = 0;
        FILE *f = tmpfile();
        g_autofree guint8 *file_bytes = NULL;
        long file_len;
        const FmTraceRun *runs;
        gsize n_runs;
        guint64 rtime;
        int rc;

        g_assert_nonnull(f);
        w = fm_trace_writer_new(f, page_size, pages, &error);
        g_assert_no_error(error);
        for (guint i = 0; i < n_intervals; i++) {
            guint64 step;

            switch (fm_rand_below(&r, 4)) {
            case 0:
                step = 1;
                break;
            case 1:
                step = 1 + fm_rand_below(&r, 1000);
                break;
            case 2:
                step = 1 + fm_rand_below(&r, G_GUINT64_CONSTANT(1) << 40);
                break;
            default:
                step = 1 + fm_rand_below(&r, 200000000);
                break;
            }
            time += step;
            random_bitmap(&r, b);
            g_ptr_array_add(maps, fm_bitmap_copy(b));
            if (fm_rand_below(&r, 2)) {
                g_assert_true(fm_trace_append_bitmap(t, time, b, &error));
                g_assert_true(fm_trace_writer_add_bitmap(w, time, b, &error));
            } else {
                /* the same set as runs cut at random points: touching runs merge */
                g_autoptr(GArray) maximal = bitmap_runs(b);
                g_autoptr(GArray) cut = g_array_new(FALSE, FALSE, sizeof(FmTraceRun));

                for (guint k = 0; k < maximal->len; k++) {
                    FmTraceRun run = g_array_index(maximal, FmTraceRun, k);

                    while (run.length > 1 && fm_rand_below(&r, 3) == 0) {
                        FmTraceRun head = { run.start, 1 + fm_rand_below(&r, run.length - 1) };

                        g_array_append_val(cut, head);
                        run.start += head.length;
                        run.length -= head.length;
                    }
                    g_array_append_val(cut, run);
                }
                g_assert_true(fm_trace_append_runs(t, time, (FmTraceRun *)cut->data,
                                                   cut->len, &error));
                g_assert_true(fm_trace_writer_add_runs(w, time, (FmTraceRun *)cut->data,
                                                       cut->len, &error));
            }
            g_assert_no_error(error);
            check_invariants(t);
        }
        g_assert_true(fm_trace_writer_finish(w, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(fm_trace_n_intervals(t), ==, n_intervals);

        /* the intervals are the bitmaps that went in */
        for (guint i = 0; i < n_intervals; i++) {
            fm_bitmap_clear_all(fill);
            fm_trace_interval_fill(t, i, fill);
            g_assert_true(fm_bitmap_equal(fill, g_ptr_array_index(maps, i)));
            g_assert_cmpuint(fm_trace_interval(t, i)->n_pages, ==, fm_bitmap_count(fill));
            /* find_page agrees with a walk of the bitmap */
            if (fm_trace_interval(t, i)->n_pages > 0) {
                guint64 j = fm_rand_below(&r, fm_trace_interval(t, i)->n_pages);
                gint64 pfn = fm_bitmap_next_set(fill, 0);
                guint64 base;
                guint64 k;

                for (guint64 x = 0; x < j; x++)
                    pfn = fm_bitmap_next_set(fill, (guint64)pfn + 1);
                k = fm_trace_interval_find_page(t, i, j, &base);
                g_assert_cmpuint(fm_trace_interval_runs(t, i)[k].start + (j - base), ==,
                                 (guint64)pfn);
            }
        }

        /* memory round trip, canonical */
        bytes = encode(t);
        g_assert_cmpuint(bytes->len, ==, fm_trace_writer_offset(w));
        back = fm_trace_load_bytes(bytes->data, bytes->len, &error);
        g_assert_no_error(error);
        check_invariants(back);
        g_assert_true(fm_trace_equal(t, back));
        again = encode(back);
        g_assert_cmpmem(bytes->data, bytes->len, again->data, again->len);

        /* the FILE writer wrote the same octets */
        file_len = ftell(f);
        g_assert_cmpint(file_len, ==, (long)bytes->len);
        rewind(f);
        file_bytes = g_malloc(bytes->len + 1);
        g_assert_cmpuint(fread(file_bytes, 1, bytes->len, f), ==, bytes->len);
        g_assert_cmpmem(file_bytes, bytes->len, bytes->data, bytes->len);

        /* streamed from the FILE, interval by interval */
        rewind(f);
        reader = fm_trace_reader_new(f, NULL, 0, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(fm_trace_reader_page_size(reader), ==, page_size);
        g_assert_cmpuint(fm_trace_reader_page_count(reader), ==, pages);
        for (guint i = 0; (rc = fm_trace_reader_next(reader, &rtime, &runs, &n_runs, &error)) > 0;
             i++) {
            const FmTraceInterval *iv = fm_trace_interval(t, i);

            g_assert_cmpuint(rtime, ==, iv->time_ns);
            g_assert_cmpuint(n_runs, ==, iv->n_runs);
            if (n_runs)
                g_assert_cmpmem(runs, n_runs * sizeof(FmTraceRun), fm_trace_interval_runs(t, i),
                                n_runs * sizeof(FmTraceRun));
        }
        g_assert_no_error(error);
        g_assert_cmpint(rc, ==, 0);
        g_assert_cmpuint(fm_trace_reader_offset(reader), ==, bytes->len);
        g_assert_cmpint(fm_trace_reader_next(reader, NULL, NULL, NULL, &error), ==, 0);

        rewind(f);
        streamed = fm_trace_load_stream(f, &error);
        g_assert_no_error(error);
        g_assert_true(fm_trace_equal(t, streamed));
        fclose(f);
    }
}

/* Every truncation of the small trace is refused, naming where it was cut. */
static void
test_truncated(void)
{
    g_autoptr(FmTrace) t = small_trace();
    g_autoptr(FmTraceWriter) w = fm_trace_writer_new(NULL, 4096, 100, NULL);
    g_autoptr(GBytes) bytes = NULL;
    guint64 bounds[4];
    const guint8 *data;
    gsize len;

    /* the record boundaries, from the writer's offsets */
    bounds[0] = fm_trace_writer_offset(w);
    for (guint64 i = 0; i < fm_trace_n_intervals(t); i++) {
        const FmTraceInterval *iv = fm_trace_interval(t, i);

        g_assert_true(fm_trace_writer_add_runs(w, iv->time_ns, fm_trace_interval_runs(t, i),
                                               iv->n_runs, NULL));
        bounds[i + 1] = fm_trace_writer_offset(w);
    }
    g_assert_true(fm_trace_writer_finish(w, NULL));
    bytes = fm_trace_writer_steal_bytes(w);
    data = g_bytes_get_data(bytes, &len);
    g_assert_cmpuint(bounds[0], ==, FM_TRACE_HEADER_SIZE);

    for (gsize cut = 0; cut < len; cut++) {
        g_autofree char *want = NULL;

        if (cut < FM_TRACE_HEADER_SIZE) {
            want = g_strdup_printf("trace truncated at offset %zu (in the header)", cut);
        } else if (cut == bounds[0] || cut == bounds[1] || cut == bounds[2] || cut == bounds[3]) {
            want = g_strdup_printf("trace truncated at offset %zu (no END record)", cut);
        } else if (cut > bounds[3]) {
            want = g_strdup_printf("trace truncated at offset %zu (in the END record at offset %llu)",
                                   cut, (unsigned long long)bounds[3]);
        } else {
            guint k = cut < bounds[1] ? 0 : cut < bounds[2] ? 1 : 2;

            want = g_strdup_printf("trace truncated at offset %zu (in the INTERVAL record at offset %llu)",
                                   cut, (unsigned long long)bounds[k]);
        }
        assert_rejected(data, cut, want);
    }
    /* and the whole of it is fine */
    {
        g_autoptr(FmTrace) back = fm_trace_load_bytes(data, len, NULL);

        g_assert_nonnull(back);
        g_assert_true(fm_trace_equal(t, back));
    }
}

/* Every single bit flipped in the header is caught: magic, version, then the CRC. */
static void
test_header_bit_flips(void)
{
    g_autoptr(FmTrace) t = small_trace();
    g_autoptr(GByteArray) good = encode(t);

    for (guint byte = 0; byte < FM_TRACE_HEADER_SIZE; byte++) {
        for (guint bit = 0; bit < 8; bit++) {
            g_autoptr(GByteArray) b = g_byte_array_new();
            g_autofree char *want = NULL;

            g_byte_array_append(b, good->data, good->len);
            b->data[byte] ^= (guint8)(1u << bit);
            if (byte < 8) {
                guint64 magic = 0;

                for (int i = 0; i < 8; i++)
                    magic = magic << 8 | b->data[i];
                want = g_strdup_printf("bad magic 0x%016llx at offset 0: not a fragmig trace",
                                       (unsigned long long)magic);
            } else if (byte < 12) {
                want = g_strdup_printf("unsupported trace version %u at offset 8 (this build reads version 1)",
                                       fm_get_le32(b->data + 8));
            } else {
                want = g_strdup_printf("header checksum mismatch at offset 32: stored 0x%08x, computed 0x%08x",
                                       fm_get_le32(b->data + 32), fm_trace_header_crc(b->data));
            }
            assert_rejected(b->data, b->len, want);
        }
    }
}

/* A header whose fields are wrong but whose CRC is right. */
typedef struct {
    const char *name;
    guint offset;
    guint size;                /* 4 or 8 */
    guint64 value;
    const char *message;
} HeaderCase;

static void
test_header_fields(void)
{
    static const HeaderCase cases[] = {
        { "flags", 12, 4, 1, "flags 0x00000001 at offset 12: no flag is defined in version 1" },
        { "reserved-20", 20, 4, 7, "reserved field at offset 20 is not zero" },
        { "reserved-36", 36, 4, 1, "reserved field at offset 36 is not zero" },
        { "page-size-3000", 16, 4, 3000, "page size 3000 at offset 16 is not a power of two from 512 to 1048576" },
        { "page-size-256", 16, 4, 256, "page size 256 at offset 16 is not a power of two from 512 to 1048576" },
        { "page-size-2M", 16, 4, 2097152, "page size 2097152 at offset 16 is not a power of two from 512 to 1048576" },
        { "page-count-0", 24, 8, 0, "page count 0 at offset 24 is not between 1 and 4294967296" },
        { "page-count-huge", 24, 8, G_GUINT64_CONSTANT(4294967297), "page count 4294967297 at offset 24 is not between 1 and 4294967296" },
    };
    g_autoptr(FmTrace) t = small_trace();
    g_autoptr(GByteArray) good = encode(t);

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GByteArray) b = g_byte_array_new();

        g_byte_array_append(b, good->data, good->len);
        if (cases[i].size == 4)
            fm_put_le32(b->data + cases[i].offset, (guint32)cases[i].value);
        else
            fm_put_le64(b->data + cases[i].offset, cases[i].value);
        fix_header_crc(b->data);
        g_test_message("%s", cases[i].name);
        assert_rejected(b->data, b->len, cases[i].message);
    }

    /* short files: of another kind, empty, or a trace's first octets */
    assert_rejected((const guint8 *)"FRAGMIG!", 8,
                    "bad magic 0x465241474d494721 at offset 0: not a fragmig trace");
    assert_rejected((const guint8 *)"", 0, "trace truncated at offset 0 (in the header)");
    assert_rejected((const guint8 *)"FMTRACE!\x02\0\0\0", 12,
                    "unsupported trace version 2 at offset 8 (this build reads version 1)");
    assert_rejected((const guint8 *)"FMTR", 4, "trace truncated at offset 4 (in the header)");
}

/* Records crafted after a valid header of 100 pages. */
typedef struct {
    const char *name;
    guint8 bytes[32];
    gsize len;
    const char *message;
} RecordCase;

static void
test_corrupt_records(void)
{
    static const RecordCase cases[] = {
        { "unknown-tag", { 0x02 }, 1, "unknown record tag 0x02 at offset 40" },
        { "varint-overflow", { 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 }, 11,
          "varint at offset 41 overflows 64 bits" },
        { "varint-11-octets", { 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00 }, 12,
          "varint at offset 41 overflows 64 bits" },
        { "varint-not-minimal", { 0x01, 0x80, 0x00 }, 3,
          "varint at offset 41 is not minimally encoded" },
        { "varint-10-octets-zero", { 0x01, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 }, 11,
          "varint at offset 41 is not minimally encoded" },
        { "time-step-0", { 0x01, 0x00 }, 2,
          "time step of 0 ns at offset 41: intervals are at least 1 ns long" },
        { "time-beyond", { 0x01, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40 }, 10,
          "time step at offset 41 takes the trace beyond 4611686018427387904 ns" },
        { "time-sum-beyond", { 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x00,
                               0x01, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20 }, 21,
          "time step at offset 52 takes the trace beyond 4611686018427387904 ns" },
        { "run-count", { 0x01, 0x01, 51 }, 3,
          "run count 51 at offset 42 is more than a guest of 100 pages can hold (50)" },
        { "run-length-0", { 0x01, 0x01, 0x01, 0x05, 0x00 }, 5, "run at offset 43 has length 0" },
        { "run-ends-beyond", { 0x01, 0x01, 0x01, 99, 2 }, 5,
          "run at offset 43 (pfn 99, 2 pages) ends beyond the last page (the trace has 100 pages)" },
        { "run-starts-beyond", { 0x01, 0x01, 0x01, 100, 1 }, 5,
          "run at offset 43 starts beyond the last page (the trace has 100 pages)" },
        { "run-step-huge", { 0x01, 0x01, 0x02, 10, 5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                             0xff, 0xff, 0x01, 1 }, 16,
          "run at offset 45 starts beyond the last page (the trace has 100 pages)" },
        { "run-overlaps", { 0x01, 0x01, 0x02, 10, 5, 3, 1 }, 7,
          "run at offset 45 overlaps the previous run (pfn 13 is inside pfns 10 to 14)" },
        { "run-same-start", { 0x01, 0x01, 0x02, 10, 5, 0, 7 }, 7,
          "run at offset 45 overlaps the previous run (pfn 10 is inside pfns 10 to 14)" },
        { "run-adjacent", { 0x01, 0x01, 0x02, 10, 5, 5, 1 }, 7,
          "run at offset 45 starts at pfn 15, right after the previous run: adjacent runs must be one run" },
        { "end-count", { 0x01, 0x01, 0x00, 0x00, 0x02, 0, 0, 0, 0 }, 9,
          "END record at offset 43 counts 2 intervals, but the trace has 1" },
        { "end-count-no-interval", { 0x00, 0x01, 0, 0, 0, 0 }, 6,
          "END record at offset 40 counts 1 intervals, but the trace has 0" },
    };
    g_autoptr(GByteArray) header = header_bytes(100);

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GByteArray) b = g_byte_array_new();

        g_byte_array_append(b, header->data, header->len);
        g_byte_array_append(b, cases[i].bytes, cases[i].len);
        g_test_message("%s", cases[i].name);
        assert_rejected(b->data, b->len, cases[i].message);
    }
}

/* What the structure cannot see, the checksum does; nothing may follow END. */
static void
test_checksum_and_trailing(void)
{
    g_autoptr(FmTrace) t = small_trace();
    g_autoptr(GByteArray) good = encode(t);
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autofree char *want = NULL;
    guint32 computed;

    /* a time step of 1000 ns becomes 1001: still a valid record */
    g_byte_array_append(b, good->data, good->len);
    g_assert_cmphex(b->data[41], ==, 0xe8);
    b->data[41] = 0xe9;
    computed = fm_trace_crc32c(0, b->data + FM_TRACE_HEADER_SIZE, b->len - 4 - FM_TRACE_HEADER_SIZE);
    want = g_strdup_printf("trace checksum mismatch at offset %u: stored 0x%08x, computed 0x%08x",
                           b->len - 4, fm_get_le32(b->data + b->len - 4), computed);
    assert_rejected(b->data, b->len, want);

    /* the checksum itself damaged */
    g_byte_array_set_size(b, 0);
    g_byte_array_append(b, good->data, good->len);
    b->data[b->len - 1] ^= 0x80;
    g_free(want);
    want = g_strdup_printf("trace checksum mismatch at offset %u: stored 0x%08x, computed 0x%08x",
                           b->len - 4, fm_get_le32(b->data + b->len - 4),
                           fm_get_le32(good->data + good->len - 4));
    assert_rejected(b->data, b->len, want);

    /* one octet after END, even a zero */
    g_byte_array_set_size(b, 0);
    g_byte_array_append(b, good->data, good->len);
    g_byte_array_append(b, (const guint8 *)"", 1);
    g_free(want);
    want = g_strdup_printf("trailing data after the END record, at offset %u", good->len);
    assert_rejected(b->data, b->len, want);

    /* the streaming reader hands out intervals before the END fails */
    {
        g_autoptr(GError) error = NULL;
        g_autoptr(FmTraceReader) r = fm_trace_reader_new(NULL, b->data, b->len, &error);
        guint n = 0;
        int rc;

        g_assert_no_error(error);
        while ((rc = fm_trace_reader_next(r, NULL, NULL, NULL, &error)) > 0)
            n++;
        g_assert_cmpint(rc, ==, -1);
        g_assert_cmpuint(n, ==, 3);
        g_assert_error(error, FM_ERROR, FM_ERROR_PROTOCOL);
    }
}

/* The builders refuse what the format cannot hold, and merge touching runs. */
static void
test_builder_errors(void)
{
    g_autoptr(FmTrace) t = trace_new(4096, 100);
    g_autoptr(FmTraceWriter) w = fm_trace_writer_new(NULL, 4096, 100, NULL);
    g_autoptr(GError) error = NULL;
    static const struct {
        guint64 time;
        FmTraceRun runs[3];
        gsize n;
        const char *message;
    } bad[] = {
        { 0, { { 0, 1 } }, 1, "interval time 0 ns is not after the previous one (0 ns)" },
        { G_GUINT64_CONSTANT(4611686018427387905), { { 0, 1 } }, 1,
          "interval time 4611686018427387905 ns is beyond the limit of 4611686018427387904 ns" },
        { 10, { { 5, 0 } }, 1,
          "run 0 (pfn 5, 0 pages) is empty or beyond the last page (the trace has 100 pages)" },
        { 10, { { 99, 2 } }, 1,
          "run 0 (pfn 99, 2 pages) is empty or beyond the last page (the trace has 100 pages)" },
        { 10, { { 10, 5 }, { 3, 1 } }, 2, "run 1 (pfn 3) is out of order or overlaps the run before it" },
        { 10, { { 10, 5 }, { 14, 1 } }, 2, "run 1 (pfn 14) is out of order or overlaps the run before it" },
    };
    static const FmTraceRun touching[] = { { 1, 2 }, { 3, 4 }, { 9, 1 }, { 10, 1 } };
    FmTraceRun *runs;

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_false(fm_trace_append_runs(t, bad[i].time, bad[i].runs, bad[i].n, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
        g_assert_cmpstr(error->message, ==, bad[i].message);
        g_clear_error(&error);
        g_assert_false(fm_trace_writer_add_runs(w, bad[i].time, bad[i].runs, bad[i].n, &error));
        g_assert_cmpstr(error->message, ==, bad[i].message);
        g_clear_error(&error);
    }
    g_assert_cmpuint(fm_trace_n_intervals(t), ==, 0);
    g_assert_cmpuint(fm_trace_writer_n_intervals(w), ==, 0);
    g_assert_cmpuint(fm_trace_writer_offset(w), ==, FM_TRACE_HEADER_SIZE);

    g_assert_true(fm_trace_append_runs(t, 5, touching, G_N_ELEMENTS(touching), &error));
    g_assert_cmpuint(fm_trace_interval(t, 0)->n_runs, ==, 2);
    runs = (FmTraceRun *)fm_trace_interval_runs(t, 0);
    g_assert_cmpuint(runs[0].start, ==, 1);
    g_assert_cmpuint(runs[0].length, ==, 6);
    g_assert_cmpuint(runs[1].start, ==, 9);
    g_assert_cmpuint(runs[1].length, ==, 2);
    g_assert_false(fm_trace_append_runs(t, 5, touching, 1, &error));
    g_assert_cmpstr(error->message, ==, "interval time 5 ns is not after the previous one (5 ns)");
    g_clear_error(&error);
    check_invariants(t);

    /* sizes */
    g_assert_null(fm_trace_new(4095, 10, &error));
    g_assert_cmpstr(error->message, ==, "trace page size 4095 is not a power of two from 512 to 1048576");
    g_clear_error(&error);
    g_assert_null(fm_trace_writer_new(NULL, 4096, 0, &error));
    g_assert_cmpstr(error->message, ==, "trace page count 0 is not between 1 and 4294967296");
    g_clear_error(&error);
}

/* Files: saved and loaded back; missing, unwritable and invalid files named. */
static void
test_files(void)
{
    g_autofree char *dir = tmp_dir();
    g_autofree char *path = g_build_filename(dir, "small.fmt", NULL);
    g_autofree char *missing = g_build_filename(dir, "none.fmt", NULL);
    g_autofree char *nodir = g_build_filename(dir, "no", "x.fmt", NULL);
    g_autofree char *garbage = g_build_filename(dir, "garbage.fmt", NULL);
    g_autofree char *want = NULL;
    g_autoptr(FmTrace) t = small_trace();
    g_autoptr(FmTrace) back = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true(fm_trace_save_file(t, path, &error));
    g_assert_no_error(error);
    back = fm_trace_load_file(path, &error);
    g_assert_no_error(error);
    g_assert_true(fm_trace_equal(t, back));

    g_assert_null(fm_trace_load_file(missing, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_IO);
    want = g_strdup_printf("cannot open %s: No such file or directory", missing);
    g_assert_cmpstr(error->message, ==, want);
    g_clear_error(&error);

    g_assert_false(fm_trace_save_file(t, nodir, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_IO);
    g_free(want);
    want = g_strdup_printf("cannot create %s: No such file or directory", nodir);
    g_assert_cmpstr(error->message, ==, want);
    g_clear_error(&error);

    g_assert_true(g_file_set_contents(garbage, "FMTRACE!\x01\0\0\0", 12, NULL));
    g_assert_null(fm_trace_load_file(garbage, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_PROTOCOL);
    g_free(want);
    want = g_strdup_printf("%s: trace truncated at offset 12 (in the header)", garbage);
    g_assert_cmpstr(error->message, ==, want);
    rm_rf(dir);
}

/* ---- replay ---- */

/* Collects the writes of a replay. */
typedef struct {
    GArray *pfns;            /* guint64, in order */
} Writes;

static void
on_write(guint64 pfn, gpointer data)
{
    Writes *w = data;

    g_array_append_val(w->pfns, pfn);
}

/* A trace of 200 pages with 6 intervals of assorted shapes, 2 to 12 ms long. */
static FmTrace *
replay_trace(void)
{
    FmTrace *t = trace_new(4096, 200);

    add_runs(t, 2000000, (const guint64[]){ 0, 1, 50, 30 }, 2);
    add_runs(t, 5000000, (const guint64[]){ 7, 1, 9, 1, 11, 1, 199, 1 }, 4);
    add_runs(t, 6000000, NULL, 0);
    add_runs(t, 18000000, (const guint64[]){ 0, 200 }, 1);
    add_runs(t, 18000003, (const guint64[]){ 100, 17 }, 1);     /* 17 pages in 3 ns */
    add_runs(t, 20000000, (const guint64[]){ 5, 2, 150, 3 }, 2);
    return t;
}

/* A trace spec of @t (the caller clears it with fm_workload_spec_clear()). */
static FmWorkloadSpec
trace_spec(FmTrace *t)
{
    FmWorkloadSpec spec = { 0 };

    fm_workload_spec_set_trace(&spec, t);
    return spec;
}

/* Each interval's pages are written once during it, in pfn order, the lanes
 * sharing them; over three loops of the trace. */
static void
test_replay_exact(void)
{
    g_autoptr(FmTrace) t = replay_trace();
    FmWorkloadSpec spec = trace_spec(t);
    guint64 pages = 256;

    g_assert_true(fm_workload_spec_check(&spec, NULL));
    g_assert_cmpfloat_with_epsilon(spec.rate, fm_trace_total_pages(t) / 0.02, 1e-6);
    for (guint lanes = 1; lanes <= 3; lanes += 2) {
        FmWorkloadState states[3];
        guint64 total = 0;

        for (guint l = 0; l < lanes; l++)
            fm_workload_state_init_lane(&states[l], &spec, pages, 1, l, lanes);
        for (guint loop = 0; loop < 3; loop++) {
            for (guint64 i = 0; i < fm_trace_n_intervals(t); i++) {
                double until = (loop * 20000000.0 + fm_trace_interval(t, i)->time_ns) / 1e9;
                g_autoptr(FmBitmap) want = fm_bitmap_new(200);
                g_autoptr(FmBitmap) seen = fm_bitmap_new(200);
                g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(guint64));

                fm_trace_interval_fill(t, i, want);
                for (guint l = 0; l < lanes; l++) {
                    Writes w = { g_array_new(FALSE, FALSE, sizeof(guint64)) };
                    guint64 n = fm_workload_run_until(&spec, &states[l], pages, until, 1.0,
                                                      on_write, &w);

                    g_assert_cmpuint(n, ==, w.pfns->len);
                    /* in pfn order within a lane */
                    for (guint k = 1; k < w.pfns->len; k++)
                        g_assert_cmpuint(g_array_index(w.pfns, guint64, k), >,
                                         g_array_index(w.pfns, guint64, k - 1));
                    g_array_append_vals(all, w.pfns->data, w.pfns->len);
                    g_array_unref(w.pfns);
                }
                for (guint k = 0; k < all->len; k++) {
                    guint64 pfn = g_array_index(all, guint64, k);

                    g_assert_cmpuint(pfn, <, 200);
                    g_assert_false(fm_bitmap_test_and_set(seen, pfn));  /* once */
                }
                g_assert_true(fm_bitmap_equal(seen, want));
                total += all->len;
            }
        }
        g_assert_cmpuint(total, ==, 3 * fm_trace_total_pages(t));
        for (guint l = 0; l < lanes; l++)
            g_assert_cmpuint(states[l].cursor, ==, 0);
    }
    fm_workload_spec_clear(&spec);
    g_assert_null(spec.trace);
}

/* The k-th of n pages of an interval (s, e] falls at s + ceil(k (e - s) / n). */
static void
test_replay_timing(void)
{
    g_autoptr(FmTrace) t = trace_new(4096, 64);
    FmWorkloadSpec spec;
    FmWorkloadState st;
    guint64 count = 0;

    add_runs(t, 1000000, (const guint64[]){ 10, 10 }, 1);      /* 10 pages in 1 ms */
    add_runs(t, 1000003, (const guint64[]){ 30, 4 }, 1);       /* 4 pages in 3 ns */
    spec = trace_spec(t);
    fm_workload_state_init(&st, &spec, 64, 1);
    /* 0.1 ms apart: one write in each 0.1 ms, at its end */
    for (guint k = 1; k <= 10; k++) {
        Writes w = { g_array_new(FALSE, FALSE, sizeof(guint64)) };

        g_assert_cmpuint(fm_workload_run_until(&spec, &st, 64, (k * 100000 - 1) / 1e9, 1.0,
                                               on_write, &w), ==, 0);
        g_assert_cmpuint(fm_workload_run_until(&spec, &st, 64, k * 100000 / 1e9, 1.0,
                                               on_write, &w), ==, 1);
        g_assert_cmpuint(g_array_index(w.pfns, guint64, 0), ==, 9 + k);
        g_array_unref(w.pfns);
    }
    /* 4 pages in 3 ns: ceil(k x 3 / 4) = 1, 2, 3, 3 */
    for (guint ns = 1; ns <= 3; ns++) {
        Writes w = { g_array_new(FALSE, FALSE, sizeof(guint64)) };

        count += fm_workload_run_until(&spec, &st, 64, (1000000 + ns) / 1e9, 1.0, on_write, &w);
        g_assert_cmpuint(w.pfns->len, ==, ns < 3 ? 1 : 2);
        g_array_unref(w.pfns);
    }
    g_assert_cmpuint(count, ==, 4);
    g_assert_cmpuint(st.writes, ==, 14);
    fm_workload_spec_clear(&spec);
}

/* One step, many irregular steps, regular steps: the same writes and state, at any
 * speed; half the speed, half the writes. */
static void
test_replay_split(void)
{
    g_autoptr(FmTrace) t = replay_trace();
    FmWorkloadSpec spec = trace_spec(t);
    guint64 pages = 200;

    for (guint lanes = 1; lanes <= 2; lanes++) {
        for (int si = 0; si < 3; si++) {
            double speed = (double[]){ 1.0, 0.37, 2.5 }[si];
            Writes whole = { g_array_new(FALSE, FALSE, sizeof(guint64)) };
            Writes split = { g_array_new(FALSE, FALSE, sizeof(guint64)) };
            Writes regular = { g_array_new(FALSE, FALSE, sizeof(guint64)) };
            FmWorkloadState s1, s2, s3;
            FmRand cuts;
            double now = 0, end = 0.25;
            guint64 lane = lanes - 1;

            fm_workload_state_init_lane(&s1, &spec, pages, 9, lane, lanes);
            fm_workload_state_init_lane(&s2, &spec, pages, 9, lane, lanes);
            fm_workload_state_init_lane(&s3, &spec, pages, 9, lane, lanes);
            fm_workload_run_until(&spec, &s1, pages, end, speed, on_write, &whole);
            fm_rand_seed(&cuts, 77 + si);
            while (now < end) {
                now = MIN(end, now + fm_rand_double(&cuts) * 0.0005);
                fm_workload_run_until(&spec, &s2, pages, now, speed, on_write, &split);
            }
            for (int i = 1; i <= 2500; i++)
                fm_workload_run_until(&spec, &s3, pages, i * 0.0001, speed, on_write, &regular);

            g_assert_cmpuint(whole.pfns->len, >, 100);
            g_assert_cmpmem(whole.pfns->data, whole.pfns->len * 8, split.pfns->data,
                            split.pfns->len * 8);
            g_assert_cmpmem(whole.pfns->data, whole.pfns->len * 8, regular.pfns->data,
                            regular.pfns->len * 8);
            g_assert_cmpmem(&s1, sizeof(s1), &s2, sizeof(s2));
            g_assert_cmpmem(&s1, sizeof(s1), &s3, sizeof(s3));
            g_assert_cmpuint(s1.writes, ==, whole.pfns->len);
            if (lanes == 1) {
                /* trace time = speed x 0.25 s = 12.5 loops at full speed */
                double loops = speed * end / 0.02;
                double want = loops * fm_trace_total_pages(t);

                g_assert_cmpfloat(whole.pfns->len, >=, want - fm_trace_total_pages(t));
                g_assert_cmpfloat(whole.pfns->len, <=, want + fm_trace_total_pages(t));
            }
            g_array_unref(whole.pfns);
            g_array_unref(split.pfns);
            g_array_unref(regular.pfns);
        }
    }
    fm_workload_spec_clear(&spec);
}

/* The model's plain sequence (next) is the sequence the clock makes (advance). */
static void
test_replay_next(void)
{
    g_autoptr(FmTrace) t = replay_trace();
    FmWorkloadSpec spec = trace_spec(t);
    const FmWorkloadModel *model = fm_workload_model_get(FM_WORKLOAD_TRACE);
    FmWorkloadRegion region;

    g_assert_nonnull(model->next);
    g_assert_nonnull(model->advance);
    fm_workload_region_init(&region, &spec, 200);
    for (guint lanes = 1; lanes <= 3; lanes++) {
        for (guint lane = 0; lane < lanes; lane++) {
            Writes w = { g_array_new(FALSE, FALSE, sizeof(guint64)) };
            FmWorkloadState a, b;

            fm_workload_state_init_lane(&a, &spec, 200, 1, lane, lanes);
            fm_workload_state_init_lane(&b, &spec, 200, 1, lane, lanes);
            fm_workload_run_until(&spec, &a, 200, 0.1, 1.0, on_write, &w);
            for (guint k = 0; k < w.pfns->len; k++)
                g_assert_cmpuint(model->next(&spec, &region, &b), ==,
                                 g_array_index(w.pfns, guint64, k));
            g_assert_cmpuint(a.cursor, ==, b.cursor);
            g_assert_cmpuint(a.trace_page, ==, b.trace_page);
            g_array_unref(w.pfns);
        }
    }
    fm_workload_spec_clear(&spec);
}

/* A state from elsewhere that makes no sense is repaired, not followed. */
static void
test_replay_bad_state(void)
{
    g_autoptr(FmTrace) t = replay_trace();
    FmWorkloadSpec spec = trace_spec(t);
    FmWorkloadState st;
    Writes w = { g_array_new(FALSE, FALSE, sizeof(guint64)) };

    fm_workload_state_init_lane(&st, &spec, 200, 1, 1, 2);
    st.cursor = 1000;
    st.trace_time = G_MAXUINT64;
    st.trace_page = 3;
    fm_workload_run_until(&spec, &st, 200, 0.002, 1.0, on_write, &w);
    /* from the start of the trace, lane 1 of 2: pfns 50, 52, ... 78 */
    g_assert_cmpuint(w.pfns->len, ==, 15);
    g_assert_cmpuint(g_array_index(w.pfns, guint64, 0), ==, 50);
    g_array_unref(w.pfns);
    fm_workload_spec_clear(&spec);
}

/* Specs: checked, copied with their trace, never a phase. */
static void
test_spec(void)
{
    g_autoptr(FmTrace) t = replay_trace();
    g_autoptr(FmTrace) empty = trace_new(4096, 10);
    g_autoptr(GError) error = NULL;
    FmWorkloadSpec spec = { .type = FM_WORKLOAD_TRACE };
    FmWorkloadSpec phases[2];
    FmWorkloadSpec with_phases = { .type = FM_WORKLOAD_PHASES, .n_phases = 2, .phases = phases };
    FmWorkloadSpec *copy;
    FmWorkloadState st;
    Writes w = { g_array_new(FALSE, FALSE, sizeof(guint64)) };

    g_assert_cmpstr(fm_workload_type_to_string(FM_WORKLOAD_TRACE), ==, "trace");
    g_assert_cmpint(fm_workload_type_from_string("trace"), ==, FM_WORKLOAD_TRACE);

    g_assert_false(fm_workload_spec_check(&spec, &error));
    g_assert_cmpstr(error->message, ==, "workload: a trace workload needs a trace of at least one interval");
    g_clear_error(&error);
    fm_workload_spec_set_trace(&spec, empty);
    g_assert_false(fm_workload_spec_check(&spec, &error));
    g_clear_error(&error);
    fm_workload_spec_set_trace(&spec, t);      /* drops the reference to @empty */
    g_assert_true(fm_workload_spec_check(&spec, &error));

    memset(phases, 0, sizeof(phases));
    phases[0].type = FM_WORKLOAD_IDLE;
    phases[0].duration = 1;
    phases[1] = spec;
    g_assert_false(fm_workload_spec_check(&with_phases, &error));
    g_assert_cmpstr(error->message, ==, "workload phase 2: a trace cannot be a phase");
    g_clear_error(&error);

    /* the copy holds its own reference: it outlives the original's */
    copy = fm_workload_spec_copy(&spec);
    g_assert_true(copy->trace == t);
    fm_workload_spec_clear(&spec);
    g_assert_null(spec.trace);
    fm_workload_state_init(&st, copy, 200, 1);
    g_assert_cmpuint(fm_workload_run_until(copy, &st, 200, 0.02, 1.0, on_write, &w), ==,
                     fm_trace_total_pages(t));
    fm_workload_spec_free(copy);
    g_array_unref(w.pfns);
}

/* Scenarios: a trace next to the scenario file; every way it can be wrong. */
static void
test_scenario(void)
{
    g_autofree char *dir = tmp_dir();
    g_autofree char *trace_path = g_build_filename(dir, "t.fmt", NULL);
    g_autofree char *big_path = g_build_filename(dir, "big.fmt", NULL);
    g_autofree char *empty_path = g_build_filename(dir, "empty.fmt", NULL);
    g_autofree char *bad_path = g_build_filename(dir, "bad.fmt", NULL);
    g_autofree char *xml_path = g_build_filename(dir, "s.xml", NULL);
    g_autoptr(FmTrace) t = replay_trace();
    g_autoptr(FmTrace) big = trace_new(4096, 300);
    g_autoptr(FmTrace) empty = trace_new(4096, 10);
    g_autoptr(GError) error = NULL;
    static const struct {
        const char *workload;
        const char *message;          /* %1$s: the directory */
    } bad[] = {
        { "<workload type=\"trace\" file=\"none.fmt\"/>",
          "%s/s.xml:4: <workload file>: cannot open %s/none.fmt: No such file or directory" },
        { "<workload type=\"trace\" file=\"bad.fmt\"/>",
          "%s/s.xml:4: <workload file>: %s/bad.fmt: bad magic 0x6e6f742061207472 at offset 0: not a fragmig trace" },
        { "<workload type=\"trace\" file=\"big.fmt\"/>",
          "%s/s.xml:4: <workload file>: %s/big.fmt: the trace covers 300 pages, more than the guest's 256" },
        { "<workload type=\"trace\" file=\"empty.fmt\"/>",
          "%s/s.xml:4: <workload file>: %s/empty.fmt: the trace has no interval to replay" },
        { "<workload type=\"trace\" file=\"\"/>",
          "%s/s.xml:4: <workload file>: must not be empty" },
        { "<workload type=\"trace\"/>",
          "%s/s.xml:4: <workload>: missing required attribute 'file'" },
        { "<workload type=\"trace\" file=\"t.fmt\" rate=\"5%%\"/>",
          "%s/s.xml:4: <workload rate>: attribute not allowed here" },
        { "<workload type=\"db\" rate=\"5%%\" file=\"t.fmt\"/>",
          "%s/s.xml:4: <workload file>: attribute not allowed here" },
        { "<workload type=\"phases\"><phase type=\"trace\" file=\"t.fmt\"/></workload>",
          "%s/s.xml:4: <phase type>: a phase cannot be of type 'trace'" },
        { "<workload type=\"phases\"><phase type=\"trace\"/></workload>",
          "%s/s.xml:4: <phase type>: a phase cannot be of type 'trace'" },
        { "<workload type=\"tracer\" rate=\"5%%\"/>",
          "%s/s.xml:4: <workload type>: unknown workload type 'tracer' (expected idle, web, db, sweep, phases, trace, mix)" },
    };

    g_assert_true(fm_trace_save_file(t, trace_path, NULL));
    add_runs(big, 1, (const guint64[]){ 299, 1 }, 1);
    g_assert_true(fm_trace_save_file(big, big_path, NULL));
    g_assert_true(fm_trace_save_file(empty, empty_path, NULL));
    g_assert_true(g_file_set_contents(bad_path, "not a trace file", -1, NULL));

    /* relative to the scenario's directory, whatever the current one */
    {
        g_autofree char *xml = g_strdup_printf("<scenario name=\"r\">\n  <guest memory=\"1MiB\"/>\n"
                                               "  <link bandwidth=\"1Gbit\"/>\n"
                                               "  <workload type=\"trace\" file=\"t.fmt\"/>\n</scenario>\n");
        g_autoptr(FmScenario) sc = NULL;

        g_assert_true(g_file_set_contents(xml_path, xml, -1, NULL));
        sc = fm_scenario_load_file(xml_path, &error);
        g_assert_no_error(error);
        g_assert_cmpint(sc->workload->type, ==, FM_WORKLOAD_TRACE);
        g_assert_true(fm_trace_equal(sc->workload->trace, t));
        g_assert_cmpfloat_with_epsilon(sc->workload->rate, fm_trace_mean_rate(t), 1e-9);
        g_assert_true(fm_workload_spec_check(sc->workload, NULL));
    }
    /* an absolute path, from a string */
    {
        g_autofree char *xml = g_strdup_printf("<scenario><guest memory=\"1MiB\"/><link bandwidth=\"1Gbit\"/>"
                                               "<workload type=\"trace\" file=\"%s\"/></scenario>",
                                               trace_path);
        g_autoptr(FmScenario) sc = fm_scenario_load_string(xml, NULL, &error);

        g_assert_no_error(error);
        g_assert_true(fm_trace_equal(sc->workload->trace, t));
    }
    /* the guest's page size must be the trace's */
    {
        g_autofree char *xml = g_strdup_printf("<scenario><guest memory=\"2MiB\" page-size=\"8192\"/>"
                                               "<link bandwidth=\"1Gbit\"/><workload type=\"trace\" file=\"%s\"/>"
                                               "</scenario>", trace_path);
        g_autofree char *want = g_strdup_printf("x.xml:1: <workload file>: %s: the trace's pages are 4096 bytes, the guest's 8192",
                                                trace_path);

        g_assert_null(fm_scenario_load_string(xml, "x.xml", &error));
        g_assert_cmpstr(error->message, ==, want);
        g_clear_error(&error);
    }

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *xml = g_strdup_printf("<scenario name=\"r\">\n  <guest memory=\"1MiB\"/>\n"
                                               "  <link bandwidth=\"1Gbit\"/>\n  %s\n</scenario>\n",
                                               bad[i].workload);
        g_autofree char *want = g_strdup_printf(bad[i].message, dir, dir);

        g_assert_true(g_file_set_contents(xml_path, xml, -1, NULL));
        g_assert_null(fm_scenario_load_file(xml_path, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_CONFIG);
        g_assert_cmpstr(error->message, ==, want);
        g_clear_error(&error);
    }
    rm_rf(dir);
}

/* ---- the simulator ---- */

/* A trace for the simulator: 1024 pages (4 MiB); every 50 ms a hot set of 200
 * pages and a few scattered ones, drawn from a fixed seed; 1 s long. */
static FmTrace *
sim_trace(void)
{
    FmTrace *t = trace_new(4096, 1024);
    g_autoptr(FmBitmap) b = fm_bitmap_new(1024);
    FmRand r;

    fm_rand_seed(&r, 5);
    for (guint i = 1; i <= 20; i++) {
        fm_bitmap_clear_all(b);
        fm_bitmap_set_range(b, 300, 200);
        for (guint k = 0; k < 40; k++)
            fm_bitmap_set(b, fm_rand_below(&r, 1024));
        g_assert_true(fm_trace_append_bitmap(t, i * G_GUINT64_CONSTANT(50000000), b, NULL));
    }
    return t;
}

typedef struct {
    FmTraceWriter *writer;
    guint calls;
    gint64 last;
    guint64 pages;
} HarvestLog;

/* FmJobEventFunc on harvests: records each, checking that times never decrease. */
static void
on_harvest(FmJob *job G_GNUC_UNUSED, const FmJobEvent *event, gpointer data)
{
    HarvestLog *log = data;
    const FmBitmap *dirty = event->harvest.dirty;
    gint64 time_ns = event->harvest.time_ns;
    guint64 t;

    /* the sim's pause costs no time: the last two harvests may share it */
    g_assert_cmpint(time_ns, >=, log->last);
    g_assert_cmpint(time_ns, >=, 0);
    log->last = time_ns;
    log->calls++;
    log->pages += fm_bitmap_count(dirty);
    t = MAX((guint64)time_ns, fm_trace_writer_last_time(log->writer) + 1);
    g_assert_true(fm_trace_writer_add_bitmap(log->writer, t, dirty, NULL));
}

/* Runs @policy on @sc with a harvest log into @log; returns the stats (and the
 * rounds in *@rounds, caller frees). */
static FmJobStats
sim_run(const FmScenario *sc, const char *policy, HarvestLog *log, GArray **rounds)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmParamSet) params = fm_param_set_new();
    g_autoptr(FmSim) sim = fm_sim_new(sc, &error);
    g_autoptr(FmJob) job = NULL;
    FmPolicy *pol;
    FmJobStats st;
    const GArray *r;

    g_assert_no_error(error);
    pol = fm_policy_new(fm_policy_lookup(policy), params, &error);
    g_assert_no_error(error);
    job = fm_job_new(fm_sim_get_backend(sim), fm_sim_get_sink(sim), pol, params, &error);
    g_assert_no_error(error);
    fm_job_subscribe(job, FM_JOB_EVENT_MASK(FM_JOB_EVENT_HARVEST), on_harvest, log);
    g_assert_true(fm_job_run(job, &error));
    g_assert_no_error(error);
    g_assert_true(fm_sim_verify(sim, &error));
    g_assert_no_error(error);
    st = *fm_job_get_stats(job);
    r = fm_job_get_rounds(job);
    /* one harvest per pre-copy round, and the last one */
    g_assert_cmpuint(log->calls, ==, r->len + 1);
    *rounds = g_array_copy((GArray *)r);
    return st;
}

/* The same trace gives the same migration, field for field, under every policy;
 * and the harvest callback sees every harvest. */
static void
test_sim_determinism(void)
{
    static const char *const policies[] = { "fragment", "xen", "xen-classic", "qemu" };
    g_autofree char *dir = tmp_dir();
    g_autofree char *path = g_build_filename(dir, "sim.fmt", NULL);
    g_autofree char *xml = NULL;
    g_autoptr(FmTrace) t = sim_trace();
    g_autoptr(FmScenario) sc = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true(fm_trace_save_file(t, path, NULL));
    xml = g_strdup_printf("<scenario name=\"replay\"><guest memory=\"4MiB\"/>"
                          "<link bandwidth=\"100Mbit\" latency=\"1ms\"/>"
                          "<workload type=\"trace\" file=\"%s\"/></scenario>", path);
    sc = fm_scenario_load_string(xml, NULL, &error);
    g_assert_no_error(error);

    for (guint p = 0; p < G_N_ELEMENTS(policies); p++) {
        HarvestLog log1 = { fm_trace_writer_new(NULL, 4096, 1024, NULL), 0, -1, 0 };
        HarvestLog log2 = { fm_trace_writer_new(NULL, 4096, 1024, NULL), 0, -1, 0 };
        g_autoptr(GArray) r1 = NULL;
        g_autoptr(GArray) r2 = NULL;
        FmJobStats a = sim_run(sc, policies[p], &log1, &r1);
        FmJobStats b = sim_run(sc, policies[p], &log2, &r2);
        g_autoptr(GBytes) t1 = NULL;
        g_autoptr(GBytes) t2 = NULL;
        g_autoptr(FmTrace) recorded = NULL;

        g_test_message("%s: %.6f s, %llu pages, %llu rounds, %llu re-sent, stop %s",
                       policies[p], a.time_elapsed, (unsigned long long)a.pages_sent,
                       (unsigned long long)a.memory_iteration,
                       (unsigned long long)a.pages_resent, fm_stop_reason_to_string(a.stop_reason));
        g_assert_cmpfloat(a.time_elapsed, ==, b.time_elapsed);
        g_assert_cmpfloat(a.downtime, ==, b.downtime);
        g_assert_cmpuint(a.data_processed, ==, b.data_processed);
        g_assert_cmpuint(a.pages_sent, ==, b.pages_sent);
        g_assert_cmpuint(a.pages_resent, ==, b.pages_resent);
        g_assert_cmpuint(a.pages_skipped, ==, b.pages_skipped);
        g_assert_cmpuint(a.pages_downtime, ==, b.pages_downtime);
        g_assert_cmpuint(a.memory_iteration, ==, b.memory_iteration);
        g_assert_cmpuint(a.fragments_hot, ==, b.fragments_hot);
        g_assert_cmpfloat(a.memory_dirty_rate, ==, b.memory_dirty_rate);
        g_assert_cmpint(a.stop_reason, ==, b.stop_reason);
        g_assert_cmpuint(r1->len, ==, r2->len);
        g_assert_cmpmem(r1->data, r1->len * sizeof(FmRoundRecord), r2->data,
                        r2->len * sizeof(FmRoundRecord));
        /* the replay made the pre-copy re-send the hot set */
        g_assert_cmpuint(a.pages_resent, >=, 200);

        /* the harvests, recorded, are the same trace, and a valid one */
        g_assert_true(fm_trace_writer_finish(log1.writer, NULL));
        g_assert_true(fm_trace_writer_finish(log2.writer, NULL));
        t1 = fm_trace_writer_steal_bytes(log1.writer);
        t2 = fm_trace_writer_steal_bytes(log2.writer);
        g_assert_true(g_bytes_equal(t1, t2));
        recorded = fm_trace_load_bytes(g_bytes_get_data(t1, NULL), g_bytes_get_size(t1), &error);
        g_assert_no_error(error);
        g_assert_cmpuint(fm_trace_n_intervals(recorded), ==, log1.calls);
        g_assert_cmpuint(fm_trace_total_pages(recorded), ==, log1.pages);
        /* the sim writes only the trace's pages: 300..499 and the scattered ones */
        for (guint64 i = 0; i < fm_trace_n_intervals(recorded); i++) {
            g_autoptr(FmBitmap) got = fm_bitmap_new(1024);
            g_autoptr(FmBitmap) allowed = fm_bitmap_new(1024);

            fm_trace_interval_fill(recorded, i, got);
            for (guint64 k = 0; k < fm_trace_n_intervals(t); k++)
                fm_trace_interval_fill(t, k, allowed);
            fm_bitmap_and_not(got, allowed);
            g_assert_true(fm_bitmap_is_empty(got));
        }
        fm_trace_writer_free(log1.writer);
        fm_trace_writer_free(log2.writer);
    }
    rm_rf(dir);
}

/* ---- recording and replaying a real guest ---- */

#define GUEST_BYTES (32u << 20)
#define GUEST_RATE 20000.0
#define GUEST_REGION_START 0.5
#define GUEST_REGION_SIZE 0.1

typedef struct {
    gint32 status;           /* 0, or the GError code of a failed fm_guest_new() */
    char message[400];
} Hello;

/* The db workload the first child runs. */
static FmWorkloadSpec
db_spec(void)
{
    FmWorkloadSpec spec = {
        .type = FM_WORKLOAD_DB, .rate = GUEST_RATE,
        .region_start = GUEST_REGION_START, .region_size = GUEST_REGION_SIZE,
    };

    return spec;
}

typedef struct {
    guint64 memory;
    const FmWorkloadSpec *spec;
} GuestArgs;

/* fm_test_child_fork()'s entry point: runs the guest of @data until told to exit
 * (command 0) or the parent is gone. */
static void
guest_child_main(int sock, gpointer data)
{
    const GuestArgs *args = data;
    g_autoptr(GError) error = NULL;
    Hello hello = { 0 };
    FmTestCmdHeader h;
    FmGuest *guest;

    guest = fm_guest_new(args->memory, (gsize)sysconf(_SC_PAGESIZE), args->spec, 2, 42,
                         &error);
    if (guest && !fm_guest_start(guest, &error))
        g_clear_pointer(&guest, fm_guest_free);
    if (!guest) {
        hello.status = error->code ? error->code : -1;
        g_strlcpy(hello.message, error->message, sizeof(hello.message));
    }
    fm_test_io_full(sock, &hello, sizeof(hello), TRUE);
    if (guest)
        (void)fm_test_child_next_cmd(sock, &h);     /* until the parent lets go */
    _exit(0);
}

/* Forks a child that runs a guest of @memory bytes with @spec until
 * guest_child_end().  Returns its pid and *@sock, or 0 (test skipped) when this
 * kernel cannot track the guest's writes. */
static pid_t
guest_child(guint64 memory, const FmWorkloadSpec *spec, int *sock)
{
    GuestArgs args = { memory, spec };
    Hello hello = { 0 };
    pid_t pid = fm_test_child_fork(guest_child_main, &args, sock, &hello, sizeof(hello));

    if (hello.status != 0) {
        g_assert_cmpint(hello.status, ==, FM_ERROR_UNSUPPORTED);
        g_test_skip(hello.message);
        fm_test_child_kill(pid, *sock);
        return 0;
    }
    return pid;
}

/* Lets the child go and reaps it. */
static void
guest_child_end(pid_t pid, int sock)
{
    fm_test_child_exit(pid, sock, 0);
}

/* Records the guest of @pid for @seconds; returns the trace, and in *@writes the
 * page writes the guest made meanwhile (at least those the recording saw). */
static FmTrace *
record_child(pid_t pid, double seconds, guint64 *writes)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmBackend) backend = fm_local_backend_new(pid, &error);
    g_autoptr(FmTraceWriter) w = NULL;
    g_autoptr(GBytes) bytes = NULL;
    FmGuestHeader h0, h1;
    FmTrace *t;

    g_assert_no_error(error);
    g_assert_true(fm_local_backend_read_header(backend, &h0, &error));
    w = fm_trace_writer_new(NULL, (guint32)fm_backend_page_size(backend),
                            fm_backend_page_count(backend), &error);
    g_assert_no_error(error);
    g_assert_true(fm_trace_record(backend, w, seconds, 0.1, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(fm_local_backend_read_header(backend, &h1, &error));
    *writes = fm_guest_header_writes(&h1) - fm_guest_header_writes(&h0);
    g_assert_true(fm_trace_writer_finish(w, &error));
    bytes = fm_trace_writer_steal_bytes(w);
    t = fm_trace_load_bytes(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes), &error);
    g_assert_no_error(error);
    check_invariants(t);
    return t;
}

/* Record 1 s of a db guest: only its region (and the header page) is in the
 * trace.  Then a second guest replays the trace for real, and a recording of it
 * holds only pages of the trace.  How much a guest writes in 1 s, and how many of
 * the 10 harvests a recorder starved by a loaded host makes on time, depend on the
 * host: the counts are checked against the guest's own writes, not against a rate. */
static void
test_record_local(void)
{
    gsize page = (gsize)sysconf(_SC_PAGESIZE);
    guint64 pages = GUEST_BYTES / page;
    FmWorkloadSpec spec = db_spec();
    FmWorkloadSpec replay = { 0 };
    FmWorkloadRegion region;
    g_autoptr(FmTrace) t = NULL;
    g_autoptr(FmTrace) again = NULL;
    g_autoptr(FmBitmap) all = fm_bitmap_new(pages);
    g_autoptr(FmBitmap) outside = NULL;
    guint64 in_region = 0, with_header = 0, writes, replay_writes;
    int keep;
    pid_t pid = guest_child(GUEST_BYTES, &spec, &keep);

    if (pid == 0)
        return;
    t = record_child(pid, 1.0, &writes);
    guest_child_end(pid, keep);

    fm_workload_region_init(&region, &spec, pages);
    g_assert_cmpuint(fm_trace_page_size(t), ==, page);
    g_assert_cmpuint(fm_trace_page_count(t), ==, pages);
    g_test_message("recorded %llu intervals, %llu pages, %.3f s",
                   (unsigned long long)fm_trace_n_intervals(t),
                   (unsigned long long)fm_trace_total_pages(t),
                   fm_trace_duration_ns(t) / 1e9);
    /* harvests on time every 100 ms, late ones at once: 1 to 10 */
    g_assert_cmpuint(fm_trace_n_intervals(t), >=, 1);
    g_assert_cmpuint(fm_trace_n_intervals(t), <=, 10);
    g_assert_cmpuint(fm_trace_duration_ns(t), >=, 900000000);
    for (guint64 i = 0; i < fm_trace_n_intervals(t); i++) {
        const FmTraceRun *runs = fm_trace_interval_runs(t, i);

        for (guint64 k = 0; k < fm_trace_interval(t, i)->n_runs; k++) {
            guint64 s = runs[k].start, e = runs[k].start + runs[k].length;

            if (s == 0) {
                with_header++;
                s = 1;
            }
            if (s < e) {
                g_assert_cmpuint(s, >=, region.first);
                g_assert_cmpuint(e, <=, region.first + region.count);
                in_region += e - s;
            }
        }
        fm_trace_interval_fill(t, i, all);
    }
    /* every recorded page of an interval was written in it: at least one page, at
     * most one per write (a quiet host: ~2000 writes per 100 ms over 819 pages) */
    g_test_message("%llu pages of the region recorded, %llu writes",
                   (unsigned long long)in_region, (unsigned long long)writes);
    g_assert_cmpuint(in_region, >=, 1);
    g_assert_cmpuint(in_region, <=, writes);
    g_assert_cmpuint(with_header, >=, 1);

    /* Replay it for real, record that: only pages the trace has. */
    fm_workload_spec_set_trace(&replay, t);
    pid = guest_child(fm_guest_memory_for_trace(t), &replay, &keep);
    g_assert_cmpint(pid, >, 0);
    again = record_child(pid, 1.0, &replay_writes);
    guest_child_end(pid, keep);
    fm_workload_spec_clear(&replay);

    g_assert_cmpuint(fm_trace_page_count(again), >, pages);      /* + the encoding */
    g_assert_cmpuint(fm_trace_total_pages(again), >=, 1);
    outside = fm_bitmap_new(fm_trace_page_count(again));
    for (guint64 i = 0; i < fm_trace_n_intervals(again); i++)
        fm_trace_interval_fill(again, i, outside);
    for (guint64 p = 0; p < pages; p++) {
        if (fm_bitmap_test(all, p))
            fm_bitmap_clear(outside, p);
    }
    g_assert_cmpint(fm_bitmap_next_set(outside, 0), ==, -1);
}

/* ---- trace guests in this process (threads: after every fork) ---- */

/* Returns a fresh mapping holding a copy of @g's region (a migrated copy). */
static guint8 *
copy_region(FmGuest *g)
{
    guint8 *copy = mmap(NULL, fm_guest_region_len(g), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    g_assert_true(copy != MAP_FAILED);
    memcpy(copy, fm_guest_region(g), fm_guest_region_len(g));
    return copy;
}

/* Returns a running-then-stopped trace guest of @t, or NULL (skipped). */
static FmGuest *
trace_guest(FmTrace *t, guint64 memory, GError **error)
{
    FmWorkloadSpec spec = { 0 };
    FmGuest *g;

    fm_workload_spec_set_trace(&spec, t);
    g = fm_guest_new(memory, (gsize)sysconf(_SC_PAGESIZE), &spec, 3, 1, error);
    fm_workload_spec_clear(&spec);
    return g;
}

typedef void (*Corrupt)(FmGuestHeader *h, guint8 *region);

static void corrupt_blob(FmGuestHeader *h, guint8 *region) { region[h->trace_page * h->page_size + h->trace_bytes - 1] ^= 1; }
static void corrupt_blob_magic(FmGuestHeader *h, guint8 *region) { region[h->trace_page * h->page_size] = 'X'; }
static void corrupt_trace_page(FmGuestHeader *h, guint8 *region G_GNUC_UNUSED) { h->trace_page--; }
static void corrupt_trace_bytes(FmGuestHeader *h, guint8 *region G_GNUC_UNUSED) { h->trace_bytes = 3; }
static void corrupt_trace_huge(FmGuestHeader *h, guint8 *region G_GNUC_UNUSED) { h->trace_bytes = h->page_count * h->page_size; }
static void corrupt_cursor(FmGuestHeader *h, guint8 *region G_GNUC_UNUSED) { h->threads[0].state[h->threads[0].current].cursor = 99; }
static void corrupt_trace_time(FmGuestHeader *h, guint8 *region G_GNUC_UNUSED) { h->threads[1].state[h->threads[1].current].cursor = 0; h->threads[1].state[h->threads[1].current].trace_time = 2000000; }
static void corrupt_trace_lane(FmGuestHeader *h, guint8 *region G_GNUC_UNUSED) { h->threads[2].state[h->threads[2].current].cursor = 0; h->threads[2].state[h->threads[2].current].trace_time = 0; h->threads[2].state[h->threads[2].current].trace_page = 3; }

/* A trace guest carries its trace: a copy of its memory resumes where it was; a
 * guest too small for it is refused; a damaged one is refused with its fault. */
static void
test_guest_trace(void)
{
    gsize page = (gsize)sysconf(_SC_PAGESIZE);
    g_autoptr(FmTrace) t = trace_new((guint32)page, 200);
    g_autoptr(GError) error = NULL;
    guint64 memory;
    FmGuest *g, *adopted;
    guint8 *copy;
    guint64 writes;
    static const struct {
        const char *name;
        Corrupt corrupt;
        const char *message;       /* %llu: the trace page, where it appears */
    } bad[] = {
        { "blob", corrupt_blob, NULL },
        { "blob-magic", corrupt_blob_magic, "invalid guest header: trace: bad magic 0x584d545241434521 at offset 0: not a fragmig trace" },
        { "trace-page", corrupt_trace_page, NULL },
        { "trace-bytes", corrupt_trace_bytes, NULL },
        { "trace-huge", corrupt_trace_huge, NULL },
        { "cursor", corrupt_cursor, "invalid guest header: thread 0: trace interval 99 is beyond the trace's 6" },
        { "trace-time", corrupt_trace_time, "invalid guest header: thread 1: trace time 2000000 ns is outside interval 0 (0 to 2000000 ns)" },
        { "trace-lane", corrupt_trace_lane, "invalid guest header: thread 2: trace page 3 is not one of its lane's" },
    };

    /* the replay trace, in pages of this system */
    {
        g_autoptr(FmTrace) r = replay_trace();

        for (guint64 i = 0; i < fm_trace_n_intervals(r); i++)
            g_assert_true(fm_trace_append_runs(t, fm_trace_interval(r, i)->time_ns,
                                               fm_trace_interval_runs(r, i),
                                               fm_trace_interval(r, i)->n_runs, NULL));
    }
    memory = fm_guest_memory_for_trace(t);
    g_assert_cmpuint(memory, ==, 201 * page);      /* the encoding fits in one page */

    g = trace_guest(t, memory - page, &error);
    if (!g && g_error_matches(error, FM_ERROR, FM_ERROR_UNSUPPORTED)) {
        g_test_skip(error->message);
        return;
    }
    g_assert_null(g);
    g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_clear_error(&error);

    g = trace_guest(t, memory, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(fm_guest_header(g)->trace_page, ==, 200);
    {
        g_autoptr(GBytes) encoded = fm_trace_encode(t);

        g_assert_cmpuint(fm_guest_header(g)->trace_bytes, ==, g_bytes_get_size(encoded));
        g_assert_cmpmem((guint8 *)fm_guest_region(g) + 200 * page, g_bytes_get_size(encoded),
                        g_bytes_get_data(encoded, NULL), g_bytes_get_size(encoded));
    }
    g_assert_true(fm_guest_start(g, NULL));
    /* 30 ms of trace hold 1.5 loops of 306 pages: the replay loops (waiting for it
     * rather than a fixed time: a loaded host may keep the mutators off a CPU) */
    for (guint i = 0; i < 3000 && fm_guest_writes(g) < fm_trace_total_pages(t); i++)
        g_usleep(10000);
    fm_guest_stop(g);
    writes = fm_guest_writes(g);
    g_assert_cmpuint(writes, >=, fm_trace_total_pages(t));

    /* the copy resumes and goes on writing */
    copy = copy_region(g);
    adopted = fm_guest_adopt(copy, fm_guest_region_len(g), &error);
    g_assert_no_error(error);
    g_assert_cmpuint(fm_guest_writes(adopted), ==, writes);
    g_assert_true(fm_guest_start(adopted, NULL));
    for (guint i = 0; i < 3000 && fm_guest_writes(adopted) <= writes; i++)
        g_usleep(10000);
    fm_guest_stop(adopted);
    g_assert_cmpuint(fm_guest_writes(adopted), >, writes);
    /* the encoding is intact: the replay never wrote it */
    {
        const FmGuestHeader *h = fm_guest_header(adopted);
        g_autoptr(FmTrace) back = fm_trace_load_bytes((guint8 *)fm_guest_region(adopted) +
                                                      h->trace_page * page, h->trace_bytes,
                                                      &error);

        g_assert_no_error(error);
        g_assert_true(fm_trace_equal(back, t));
    }
    fm_guest_free(adopted);

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *want = NULL;
        FmGuestHeader *h;

        copy = copy_region(g);
        h = (FmGuestHeader *)copy;
        /* states at known places, for the messages */
        bad[i].corrupt(h, copy);
        if (bad[i].message)
            want = g_strdup(bad[i].message);
        else if (bad[i].corrupt == corrupt_blob)
            want = NULL;    /* a checksum mismatch: its values vary, the prefix does not */
        else if (bad[i].corrupt == corrupt_trace_page)
            want = g_strdup_printf("invalid guest header: trace at page %llu is not in the last 1 pages of %llu",
                                   (unsigned long long)h->trace_page,
                                   (unsigned long long)h->page_count);
        else if (bad[i].corrupt == corrupt_trace_huge)
            want = g_strdup_printf("invalid guest header: trace of %llu bytes does not fit between the header and the end of 201 pages",
                                   (unsigned long long)(201 * page));
        else
            want = g_strdup("invalid guest header: trace of 3 bytes is shorter than a trace header (40 bytes)");
        adopted = fm_guest_adopt(copy, fm_guest_region_len(g), &error);
        g_test_message("%s: %s", bad[i].name, error ? error->message : "accepted");
        g_assert_null(adopted);
        g_assert_error(error, FM_ERROR, FM_ERROR_PROTOCOL);
        if (want)
            g_assert_cmpstr(error->message, ==, want);
        else
            g_assert_true(g_str_has_prefix(error->message,
                                           "invalid guest header: trace: trace checksum mismatch at offset "));
        g_clear_error(&error);
        g_assert_cmpint(munmap(copy, fm_guest_region_len(g)), ==, 0);
    }
    fm_guest_free(g);

    /* a guest of another workload must not claim a trace */
    {
        FmWorkloadSpec spec = db_spec();
        FmGuest *d = fm_guest_new(64 * page, page, &spec, 1, 1, &error);

        g_assert_no_error(error);
        copy = copy_region(d);
        ((FmGuestHeader *)copy)->trace_bytes = 100;
        g_assert_null(fm_guest_adopt(copy, 64 * page, &error));
        g_assert_cmpstr(error->message, ==, "invalid guest header: trace fields are set for a workload of type db");
        g_clear_error(&error);
        g_assert_cmpint(munmap(copy, 64 * page), ==, 0);
        fm_guest_free(d);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/trace/crc", test_crc);
    g_test_add_func("/trace/layout", test_layout);
    g_test_add_func("/trace/round-trip", test_round_trip);
    g_test_add_func("/trace/truncated", test_truncated);
    g_test_add_func("/trace/header-bit-flips", test_header_bit_flips);
    g_test_add_func("/trace/header-fields", test_header_fields);
    g_test_add_func("/trace/corrupt-records", test_corrupt_records);
    g_test_add_func("/trace/checksum-and-trailing", test_checksum_and_trailing);
    g_test_add_func("/trace/builder-errors", test_builder_errors);
    g_test_add_func("/trace/files", test_files);
    g_test_add_func("/replay/exact", test_replay_exact);
    g_test_add_func("/replay/timing", test_replay_timing);
    g_test_add_func("/replay/split", test_replay_split);
    g_test_add_func("/replay/next", test_replay_next);
    g_test_add_func("/replay/bad-state", test_replay_bad_state);
    g_test_add_func("/replay/spec", test_spec);
    g_test_add_func("/replay/scenario", test_scenario);
    g_test_add_func("/replay/sim-determinism", test_sim_determinism);
    g_test_add_func("/record/local", test_record_local);
    /* In this process, after every fork: these start threads here. */
    g_test_add_func("/record/guest-trace", test_guest_trace);
    return g_test_run();
}
