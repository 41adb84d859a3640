/*
 * fm-trace.c: dirty-page traces: the in-memory trace, the writer and the reader
 * (docs/trace-format.md).
 *
 * The reader treats its input as hostile: every varint is bounded before it is
 * shifted, every count is checked against what the guest can hold before anything
 * is read for it, every pfn is range-checked with arithmetic that cannot overflow,
 * and nothing is allocated in advance of data actually read, so a file claiming
 * more than it holds fails when it runs out, not in malloc.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "trace/fm-trace.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "util/fm-bytes.h"
#include "util/fm-crc32c.h"
#include "util/fm-error.h"
#include "util/fm-file.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"

/* A FILE writer hands its buffer to stdio once it holds this much. */
#define FM_TRACE_WRITER_FLUSH (64 * 1024)

/* ---- CRC-32C (src/util/fm-crc32c.c) ---- */

/* Returns the CRC-32C of @len bytes at @data continued from @crc (0 to start). */
guint32
fm_trace_crc32c(guint32 crc, const void *data, gsize len)
{
    return fm_crc32c(crc, data, len);
}

/* Returns the header_crc due for the header at @header. */
guint32
fm_trace_header_crc(const guint8 *header)
{
    guint8 copy[FM_TRACE_HEADER_SIZE];

    memcpy(copy, header, sizeof(copy));
    memset(copy + 32, 0, 4);
    return fm_trace_crc32c(0, copy, sizeof(copy));
}

/* Returns TRUE if @page_size and @page_count are within the format's limits, else
 * FALSE with an FM_ERROR_INVALID_ARG @error. */
static gboolean
fm_trace_check_sizes(guint32 page_size, guint64 page_count, GError **error)
{
    if (page_size < FM_TRACE_MIN_PAGE_SIZE || page_size > FM_TRACE_MAX_PAGE_SIZE ||
        (page_size & (page_size - 1)) != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("trace page size %u is not a power of two from %u to %u"),
                    page_size, FM_TRACE_MIN_PAGE_SIZE, FM_TRACE_MAX_PAGE_SIZE);
        return FALSE;
    }
    if (page_count < 1 || page_count > FM_TRACE_MAX_PAGES) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("trace page count %llu is not between 1 and %llu"),
                    (unsigned long long)page_count, (unsigned long long)FM_TRACE_MAX_PAGES);
        return FALSE;
    }
    return TRUE;
}

/* Returns TRUE if an interval may end at @time_ns after one that ended at @last
 * (0: none yet), else FALSE with an FM_ERROR_INVALID_ARG @error. */
static gboolean
fm_trace_check_time(guint64 last, guint64 time_ns, GError **error)
{
    if (time_ns <= last) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("interval time %llu ns is not after the previous one (%llu ns)"),
                    (unsigned long long)time_ns, (unsigned long long)last);
        return FALSE;
    }
    if (time_ns > FM_TRACE_MAX_TIME_NS) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("interval time %llu ns is beyond the limit of %llu ns"),
                    (unsigned long long)time_ns, (unsigned long long)FM_TRACE_MAX_TIME_NS);
        return FALSE;
    }
    return TRUE;
}

/* Appends the maximal runs of the set bits of @dirty to @out (of FmTraceRun). */
static void
fm_trace_bitmap_runs(const FmBitmap *dirty, GArray *out)
{
    guint64 size = fm_bitmap_size(dirty);
    gint64 s = fm_bitmap_next_set(dirty, 0);

    while (s >= 0) {
        gint64 e = fm_bitmap_next_clear(dirty, (guint64)s);
        FmTraceRun run;

        run.start = (guint64)s;
        run.length = (e < 0 ? size : (guint64)e) - run.start;
        g_array_append_val(out, run);
        if (e < 0)
            break;
        s = fm_bitmap_next_set(dirty, (guint64)e);
    }
}

/* Copies @n runs into @out (emptied first), merging touching ones, after checking
 * that they are non-empty, sorted, disjoint and inside @page_count pages.  Returns
 * FALSE with an FM_ERROR_INVALID_ARG @error otherwise. */
static gboolean
fm_trace_normalize_runs(guint64 page_count, const FmTraceRun *runs, gsize n, GArray *out,
                        GError **error)
{
    g_array_set_size(out, 0);
    for (gsize i = 0; i < n; i++) {
        const FmTraceRun *r = &runs[i];
        FmTraceRun *last = out->len ? &g_array_index(out, FmTraceRun, out->len - 1) : NULL;

        if (r->length == 0 || r->start >= page_count || r->length > page_count - r->start) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("run %zu (pfn %llu, %llu pages) is empty or beyond the last page (the trace has %llu pages)"),
                        i, (unsigned long long)r->start, (unsigned long long)r->length,
                        (unsigned long long)page_count);
            return FALSE;
        }
        if (last && r->start < last->start + last->length) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("run %zu (pfn %llu) is out of order or overlaps the run before it"),
                        i, (unsigned long long)r->start);
            return FALSE;
        }
        if (last && r->start == last->start + last->length)
            last->length += r->length;
        else
            g_array_append_val(out, *r);
    }
    return TRUE;
}

/* ---- FmTrace ---- */

struct _FmTrace {
    gint ref;                  /* atomic */
    guint32 page_size;
    guint64 page_count;
    FmTraceInterval *intervals;
    guint64 n_intervals;
    guint64 cap_intervals;
    FmTraceRun *runs;          /* the runs of every interval, one after the other */
    guint64 *run_base;         /* for each run, the index of its first page among the
                                * pages of its interval (for the replay's lookups) */
    guint64 n_runs;
    guint64 cap_runs;
    guint64 total_pages;
    GArray *scratch;           /* FmTraceRun, for appends */
};

/* Returns a new empty trace; see fm-trace.h. */
FmTrace *
fm_trace_new(guint32 page_size, guint64 page_count, GError **error)
{
    FmTrace *trace;

    if (!fm_trace_check_sizes(page_size, page_count, error))
        return NULL;
    trace = g_new0(FmTrace, 1);
    trace->ref = 1;
    trace->page_size = page_size;
    trace->page_count = page_count;
    trace->scratch = g_array_new(FALSE, FALSE, sizeof(FmTraceRun));
    return trace;
}

/* Returns @trace with one more reference. */
FmTrace *
fm_trace_ref(FmTrace *trace)
{
    g_return_val_if_fail(trace != NULL, NULL);
    g_atomic_int_inc(&trace->ref);
    return trace;
}

/* Drops a reference; NULL is accepted. */
void
fm_trace_unref(FmTrace *trace)
{
    if (trace == NULL || !g_atomic_int_dec_and_test(&trace->ref))
        return;
    g_free(trace->intervals);
    g_free(trace->runs);
    g_free(trace->run_base);
    g_array_unref(trace->scratch);
    g_free(trace);
}

/* Appends an interval at @time_ns (already checked) with the @n runs at @runs
 * (already maximal and in range). */
static void
fm_trace_push(FmTrace *trace, guint64 time_ns, const FmTraceRun *runs, gsize n)
{
    FmTraceInterval *iv;

    if (trace->n_intervals == trace->cap_intervals) {
        trace->cap_intervals = MAX(16, trace->cap_intervals * 2);
        trace->intervals = g_renew(FmTraceInterval, trace->intervals, trace->cap_intervals);
    }
    if (n > trace->cap_runs - trace->n_runs) {
        trace->cap_runs = MAX(MAX(64, trace->cap_runs * 2), trace->n_runs + n);
        trace->runs = g_renew(FmTraceRun, trace->runs, trace->cap_runs);
        trace->run_base = g_renew(guint64, trace->run_base, trace->cap_runs);
    }
    iv = &trace->intervals[trace->n_intervals++];
    iv->time_ns = time_ns;
    iv->first_run = trace->n_runs;
    iv->n_runs = n;
    iv->n_pages = 0;
    for (gsize i = 0; i < n; i++) {
        trace->run_base[trace->n_runs] = iv->n_pages;
        trace->runs[trace->n_runs++] = runs[i];
        iv->n_pages += runs[i].length;
    }
    trace->total_pages += iv->n_pages;
}

/* Appends the set bits of @dirty at @time_ns; see fm-trace.h. */
gboolean
fm_trace_append_bitmap(FmTrace *trace, guint64 time_ns, const FmBitmap *dirty,
                       GError **error)
{
    g_return_val_if_fail(trace != NULL && dirty != NULL, FALSE);
    g_return_val_if_fail(fm_bitmap_size(dirty) == trace->page_count, FALSE);

    if (!fm_trace_check_time(fm_trace_duration_ns(trace), time_ns, error))
        return FALSE;
    g_array_set_size(trace->scratch, 0);
    fm_trace_bitmap_runs(dirty, trace->scratch);
    fm_trace_push(trace, time_ns, (const FmTraceRun *)trace->scratch->data,
                  trace->scratch->len);
    return TRUE;
}

/* Appends @n_runs runs at @time_ns; see fm-trace.h. */
gboolean
fm_trace_append_runs(FmTrace *trace, guint64 time_ns, const FmTraceRun *runs,
                     gsize n_runs, GError **error)
{
    g_return_val_if_fail(trace != NULL && (runs != NULL || n_runs == 0), FALSE);

    if (!fm_trace_check_time(fm_trace_duration_ns(trace), time_ns, error) ||
        !fm_trace_normalize_runs(trace->page_count, runs, n_runs, trace->scratch, error))
        return FALSE;
    fm_trace_push(trace, time_ns, (const FmTraceRun *)trace->scratch->data,
                  trace->scratch->len);
    return TRUE;
}

/* Returns the guest's page size in bytes. */
guint32
fm_trace_page_size(const FmTrace *trace)
{
    g_return_val_if_fail(trace != NULL, 0);
    return trace->page_size;
}

/* Returns the guest's page count. */
guint64
fm_trace_page_count(const FmTrace *trace)
{
    g_return_val_if_fail(trace != NULL, 0);
    return trace->page_count;
}

/* Returns the number of intervals. */
guint64
fm_trace_n_intervals(const FmTrace *trace)
{
    g_return_val_if_fail(trace != NULL, 0);
    return trace->n_intervals;
}

/* Returns interval @i (borrowed). */
const FmTraceInterval *
fm_trace_interval(const FmTrace *trace, guint64 i)
{
    g_return_val_if_fail(trace != NULL && i < trace->n_intervals, NULL);
    return &trace->intervals[i];
}

/* Returns the runs of interval @i (borrowed). */
const FmTraceRun *
fm_trace_interval_runs(const FmTrace *trace, guint64 i)
{
    g_return_val_if_fail(trace != NULL && i < trace->n_intervals, NULL);
    return trace->runs + trace->intervals[i].first_run;
}

/* Returns the run of interval @i holding its @j-th page; see fm-trace.h. */
guint64
fm_trace_interval_find_page(const FmTrace *trace, guint64 i, guint64 j,
                            guint64 *run_first_page)
{
    const FmTraceInterval *iv;
    const guint64 *base;
    guint64 lo = 0, hi;

    g_return_val_if_fail(trace != NULL && i < trace->n_intervals, 0);
    iv = &trace->intervals[i];
    g_return_val_if_fail(j < iv->n_pages, 0);

    /* the last run whose first page is at or before @j: base[lo] <= j < base[hi] */
    base = trace->run_base + iv->first_run;
    hi = iv->n_runs;
    while (hi - lo > 1) {
        guint64 mid = lo + (hi - lo) / 2;

        if (base[mid] <= j)
            lo = mid;
        else
            hi = mid;
    }
    if (run_first_page)
        *run_first_page = base[lo];
    return lo;
}

/* ORs the pages of interval @i into @out. */
void
fm_trace_interval_fill(const FmTrace *trace, guint64 i, FmBitmap *out)
{
    const FmTraceInterval *iv;

    g_return_if_fail(trace != NULL && i < trace->n_intervals && out != NULL);
    g_return_if_fail(fm_bitmap_size(out) == trace->page_count);

    iv = &trace->intervals[i];
    for (guint64 k = 0; k < iv->n_runs; k++) {
        const FmTraceRun *r = &trace->runs[iv->first_run + k];

        fm_bitmap_set_range(out, r->start, r->length);
    }
}

/* Returns the time of the last interval, 0 without one. */
guint64
fm_trace_duration_ns(const FmTrace *trace)
{
    g_return_val_if_fail(trace != NULL, 0);
    return trace->n_intervals ? trace->intervals[trace->n_intervals - 1].time_ns : 0;
}

/* Returns the pages of all intervals. */
guint64
fm_trace_total_pages(const FmTrace *trace)
{
    g_return_val_if_fail(trace != NULL, 0);
    return trace->total_pages;
}

/* Returns the mean write rate in pages per second. */
double
fm_trace_mean_rate(const FmTrace *trace)
{
    guint64 d = fm_trace_duration_ns(trace);

    return d > 0 ? (double)trace->total_pages * 1e9 / (double)d : 0;
}

/* Returns TRUE if both traces hold the same guest and intervals. */
gboolean
fm_trace_equal(const FmTrace *a, const FmTrace *b)
{
    g_return_val_if_fail(a != NULL && b != NULL, FALSE);

    if (a->page_size != b->page_size || a->page_count != b->page_count ||
        a->n_intervals != b->n_intervals || a->n_runs != b->n_runs)
        return FALSE;
    for (guint64 i = 0; i < a->n_intervals; i++) {
        const FmTraceInterval *x = &a->intervals[i], *y = &b->intervals[i];

        if (x->time_ns != y->time_ns || x->n_runs != y->n_runs ||
            x->first_run != y->first_run || x->n_pages != y->n_pages)
            return FALSE;
    }
    return a->n_runs == 0 || memcmp(a->runs, b->runs, a->n_runs * sizeof(FmTraceRun)) == 0;
}

/* ---- the writer ---- */

struct _FmTraceWriter {
    FILE *out;                 /* borrowed; NULL: memory */
    GByteArray *buf;           /* not yet handed to @out; everything for memory */
    guint32 page_size;
    guint64 page_count;
    guint64 offset;            /* octets written, @buf included */
    guint64 last_time;
    guint64 n_intervals;
    guint32 crc;               /* CRC-32C of the records so far */
    gboolean failed;           /* an output error happened: nothing more goes out */
    gboolean finished;
    GArray *runs;              /* FmTraceRun scratch */
};

/* Appends @v as a varint to @buf. */
static void
fm_trace_put_varint(GByteArray *buf, guint64 v)
{
    guint8 b[FM_TRACE_MAX_VARINT];
    guint n = 0;

    do {
        b[n] = (guint8)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    g_byte_array_append(buf, b, n);
}

/* Hands the buffered output to the FILE when it is large enough or @force.  Returns
 * FALSE with @error set (FM_ERROR_IO) if the FILE fails. */
static gboolean
fm_trace_writer_flush(FmTraceWriter *w, gboolean force, GError **error)
{
    if (w->out == NULL || (!force && w->buf->len < FM_TRACE_WRITER_FLUSH))
        return TRUE;
    if ((w->buf->len > 0 && fwrite(w->buf->data, 1, w->buf->len, w->out) != w->buf->len) ||
        (force && fflush(w->out) != 0)) {
        int saved = errno;

        w->failed = TRUE;
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot write the trace: %s"),
                    g_strerror(saved));
        return FALSE;
    }
    g_byte_array_set_size(w->buf, 0);
    return TRUE;
}

/* Returns a new writer; see fm-trace.h. */
FmTraceWriter *
fm_trace_writer_new(FILE *out, guint32 page_size, guint64 page_count, GError **error)
{
    g_autoptr(FmTraceWriter) w = NULL;
    guint8 h[FM_TRACE_HEADER_SIZE] = { 0 };

    if (!fm_trace_check_sizes(page_size, page_count, error))
        return NULL;
    w = g_new0(FmTraceWriter, 1);
    w->out = out;
    w->buf = g_byte_array_new();
    w->page_size = page_size;
    w->page_count = page_count;
    w->runs = g_array_new(FALSE, FALSE, sizeof(FmTraceRun));

    for (int i = 0; i < 8; i++)
        h[i] = (guint8)(FM_TRACE_MAGIC >> (56 - 8 * i));
    fm_put_le32(h + 8, FM_TRACE_VERSION);
    fm_put_le32(h + 16, page_size);
    fm_put_le64(h + 24, page_count);
    fm_put_le32(h + 32, fm_trace_header_crc(h));
    g_byte_array_append(w->buf, h, sizeof(h));
    w->offset = sizeof(h);
    if (!fm_trace_writer_flush(w, out != NULL, error))
        return NULL;
    return g_steal_pointer(&w);
}

/* Encodes an INTERVAL record of the maximal in-range @n runs at @time_ns (checked). */
static gboolean
fm_trace_writer_put_interval(FmTraceWriter *w, guint64 time_ns, const FmTraceRun *runs,
                             gsize n, GError **error)
{
    guint before = w->buf->len;
    guint8 tag = FM_TRACE_TAG_INTERVAL;

    g_byte_array_append(w->buf, &tag, 1);
    fm_trace_put_varint(w->buf, time_ns - w->last_time);
    fm_trace_put_varint(w->buf, n);
    for (gsize i = 0; i < n; i++) {
        fm_trace_put_varint(w->buf, i == 0 ? runs[0].start : runs[i].start - runs[i - 1].start);
        fm_trace_put_varint(w->buf, runs[i].length);
    }
    w->crc = fm_trace_crc32c(w->crc, w->buf->data + before, w->buf->len - before);
    w->offset += w->buf->len - before;
    w->last_time = time_ns;
    w->n_intervals++;
    return fm_trace_writer_flush(w, FALSE, error);
}

/* Returns FALSE with @error set if @w cannot take more output (programmer errors
 * aside: a failed FILE). */
static gboolean
fm_trace_writer_usable(FmTraceWriter *w, GError **error)
{
    g_return_val_if_fail(!w->finished && w->buf != NULL, FALSE);
    if (w->failed) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO, "%s",
                    _("cannot write the trace: an earlier write failed"));
        return FALSE;
    }
    return TRUE;
}

/* Writes the set bits of @dirty at @time_ns; see fm-trace.h. */
gboolean
fm_trace_writer_add_bitmap(FmTraceWriter *writer, guint64 time_ns, const FmBitmap *dirty,
                           GError **error)
{
    g_return_val_if_fail(writer != NULL && dirty != NULL, FALSE);
    g_return_val_if_fail(fm_bitmap_size(dirty) == writer->page_count, FALSE);

    if (!fm_trace_writer_usable(writer, error) ||
        !fm_trace_check_time(writer->last_time, time_ns, error))
        return FALSE;
    g_array_set_size(writer->runs, 0);
    fm_trace_bitmap_runs(dirty, writer->runs);
    return fm_trace_writer_put_interval(writer, time_ns, (const FmTraceRun *)writer->runs->data,
                                        writer->runs->len, error);
}

/* Writes @n_runs runs at @time_ns; see fm-trace.h. */
gboolean
fm_trace_writer_add_runs(FmTraceWriter *writer, guint64 time_ns, const FmTraceRun *runs,
                         gsize n_runs, GError **error)
{
    g_return_val_if_fail(writer != NULL && (runs != NULL || n_runs == 0), FALSE);

    if (!fm_trace_writer_usable(writer, error) ||
        !fm_trace_check_time(writer->last_time, time_ns, error) ||
        !fm_trace_normalize_runs(writer->page_count, runs, n_runs, writer->runs, error))
        return FALSE;
    return fm_trace_writer_put_interval(writer, time_ns, (const FmTraceRun *)writer->runs->data,
                                        writer->runs->len, error);
}

/* Writes the END record and flushes; see fm-trace.h. */
gboolean
fm_trace_writer_finish(FmTraceWriter *writer, GError **error)
{
    guint before;
    guint8 tag = FM_TRACE_TAG_END;
    guint8 crc[4];

    g_return_val_if_fail(writer != NULL, FALSE);
    if (!fm_trace_writer_usable(writer, error))
        return FALSE;

    before = writer->buf->len;
    g_byte_array_append(writer->buf, &tag, 1);
    fm_trace_put_varint(writer->buf, writer->n_intervals);
    writer->crc = fm_trace_crc32c(writer->crc, writer->buf->data + before,
                                  writer->buf->len - before);
    fm_put_le32(crc, writer->crc);
    g_byte_array_append(writer->buf, crc, sizeof(crc));
    writer->offset += writer->buf->len - before;
    writer->finished = TRUE;
    return fm_trace_writer_flush(writer, TRUE, error);
}

/* Returns the octets written so far. */
guint64
fm_trace_writer_offset(const FmTraceWriter *writer)
{
    g_return_val_if_fail(writer != NULL, 0);
    return writer->offset;
}

/* Returns the time of the last interval written, 0 before the first. */
guint64
fm_trace_writer_last_time(const FmTraceWriter *writer)
{
    g_return_val_if_fail(writer != NULL, 0);
    return writer->last_time;
}

/* Returns the intervals written so far. */
guint64
fm_trace_writer_n_intervals(const FmTraceWriter *writer)
{
    g_return_val_if_fail(writer != NULL, 0);
    return writer->n_intervals;
}

/* Returns what a memory writer wrote (caller owns it); NULL for a FILE writer. */
GBytes *
fm_trace_writer_steal_bytes(FmTraceWriter *writer)
{
    g_return_val_if_fail(writer != NULL, NULL);

    if (writer->out != NULL || writer->buf == NULL)
        return NULL;
    writer->finished = TRUE;
    return g_byte_array_free_to_bytes(g_steal_pointer(&writer->buf));
}

/* Frees @writer, not its FILE; NULL is accepted. */
void
fm_trace_writer_free(FmTraceWriter *writer)
{
    if (writer == NULL)
        return;
    if (writer->buf)
        g_byte_array_unref(writer->buf);
    g_array_unref(writer->runs);
    g_free(writer);
}

/* Writes every interval of @trace and the END record to @w. */
static gboolean
fm_trace_write_all(const FmTrace *trace, FmTraceWriter *w, GError **error)
{
    for (guint64 i = 0; i < trace->n_intervals; i++) {
        const FmTraceInterval *iv = &trace->intervals[i];

        if (!fm_trace_writer_put_interval(w, iv->time_ns, trace->runs + iv->first_run,
                                          iv->n_runs, error))
            return FALSE;
    }
    return fm_trace_writer_finish(w, error);
}

/* Returns the encoding of @trace (caller owns it). */
GBytes *
fm_trace_encode(const FmTrace *trace)
{
    g_autoptr(FmTraceWriter) w = NULL;

    g_return_val_if_fail(trace != NULL, NULL);

    /* Neither can fail in memory: the trace's sizes and intervals were checked as
     * they went in. */
    w = fm_trace_writer_new(NULL, trace->page_size, trace->page_count, NULL);
    g_assert(w != NULL);
    if (!fm_trace_write_all(trace, w, NULL))
        g_assert_not_reached();
    return fm_trace_writer_steal_bytes(w);
}

/* Writes @trace to @path; see fm-trace.h. */
gboolean
fm_trace_save_file(const FmTrace *trace, const char *path, GError **error)
{
    g_autoptr(FmTraceWriter) w = NULL;
    g_autoptr(GError) local = NULL;
    FILE *f;
    gboolean ok;

    g_return_val_if_fail(trace != NULL && path != NULL, FALSE);

    f = fopen(path, "wb");
    if (f == NULL) {
        int saved = errno;

        g_autofree char *where = fm_utf8_safe(path, -1);

        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot create %s: %s"), where,
                    g_strerror(saved));
        return FALSE;
    }
    w = fm_trace_writer_new(f, trace->page_size, trace->page_count, &local);
    ok = w != NULL && fm_trace_write_all(trace, w, &local);
    if (fclose(f) != 0 && ok) {
        int saved = errno;

        ok = FALSE;
        g_set_error(&local, FM_ERROR, FM_ERROR_IO, _("cannot write the trace: %s"),
                    g_strerror(saved));
    }
    if (!ok) {
        g_autofree char *where = fm_utf8_safe(path, -1);

        (void)unlink(path);
        g_set_error(error, FM_ERROR, local->code, "%s: %s", where, local->message);
        return FALSE;
    }
    return TRUE;
}

/* ---- the reader ---- */

/* Where the reader is, for messages about a file that ends too soon. */
typedef enum {
    FM_TRACE_IN_HEADER,
    FM_TRACE_IN_GAP,           /* between records: a record was expected */
    FM_TRACE_IN_INTERVAL,
    FM_TRACE_IN_END,
} FmTracePlace;

struct _FmTraceReader {
    FILE *in;                  /* borrowed; NULL: @data */
    const guint8 *data;        /* borrowed */
    gsize len;
    guint64 offset;            /* of the next octet */
    guint32 page_size;
    guint64 page_count;
    guint64 time;              /* of the last interval read */
    guint64 n_intervals;
    guint32 crc;               /* of the record octets read so far */
    gboolean crc_on;           /* octets read now count in @crc */
    FmTracePlace place;
    guint64 record_offset;     /* of the record being read */
    gboolean failed;
    gboolean done;             /* END read and checked */
    GArray *runs;              /* FmTraceRun, the last interval's */
};

/* Sets @error (FM_ERROR_PROTOCOL) to the message of @format; returns FALSE. */
static gboolean G_GNUC_PRINTF(2, 3)
fm_trace_bad(GError **error, const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    g_propagate_error(error, g_error_new_valist(FM_ERROR, FM_ERROR_PROTOCOL, format, ap));
    va_end(ap);
    return FALSE;
}

/* Sets @error for the end of the input at the reader's offset; returns FALSE. */
static gboolean
fm_trace_truncated(FmTraceReader *r, GError **error)
{
    unsigned long long at = r->offset, rec = r->record_offset;

    switch (r->place) {
    case FM_TRACE_IN_HEADER:
        return fm_trace_bad(error, _("trace truncated at offset %llu (in the header)"), at);
    case FM_TRACE_IN_GAP:
        return fm_trace_bad(error, _("trace truncated at offset %llu (no END record)"), at);
    case FM_TRACE_IN_INTERVAL:
        return fm_trace_bad(error, _("trace truncated at offset %llu (in the INTERVAL record at offset %llu)"),
                            at, rec);
    case FM_TRACE_IN_END:
    default:
        return fm_trace_bad(error, _("trace truncated at offset %llu (in the END record at offset %llu)"),
                            at, rec);
    }
}

/* Reads the next octet: returns it (0 .. 255), or -1 at the end of the input (no
 * error set) or on a read error (@error set, FM_ERROR_IO). */
static int
fm_trace_reader_getc(FmTraceReader *r, GError **error)
{
    int b;

    if (r->in == NULL) {
        if (r->offset >= r->len)
            return -1;
        b = r->data[r->offset];
    } else {
        b = getc(r->in);
        if (b == EOF) {
            if (ferror(r->in)) {
                int saved = errno;

                g_set_error(error, FM_ERROR, FM_ERROR_IO,
                            _("cannot read the trace at offset %llu: %s"),
                            (unsigned long long)r->offset, g_strerror(saved));
            }
            return -1;
        }
    }
    r->offset++;
    if (r->crc_on) {
        guint8 octet = b;

        r->crc = fm_crc32c(r->crc, &octet, 1);
    }
    return b;
}

/* Reads one octet that must be there; FALSE with @error set at the end of input. */
static gboolean
fm_trace_reader_byte(FmTraceReader *r, guint8 *out, GError **error)
{
    GError *local = NULL;
    int b = fm_trace_reader_getc(r, &local);

    if (b < 0) {
        if (local) {
            g_propagate_error(error, local);
            return FALSE;
        }
        return fm_trace_truncated(r, error);
    }
    *out = (guint8)b;
    return TRUE;
}

/* Reads a varint into *@out; FALSE with @error set if it is cut short, longer than
 * 64 bits or not minimal. */
static gboolean
fm_trace_reader_varint(FmTraceReader *r, guint64 *out, GError **error)
{
    unsigned long long at = r->offset;
    guint64 v = 0;

    for (guint i = 0; i < FM_TRACE_MAX_VARINT; i++) {
        guint8 b = 0;

        if (!fm_trace_reader_byte(r, &b, error))
            return FALSE;
        /* The 10th octet holds bit 63 only. */
        if (i == FM_TRACE_MAX_VARINT - 1 && b > 1)
            return fm_trace_bad(error, _("varint at offset %llu overflows 64 bits"), at);
        v |= (guint64)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            if (b == 0 && i > 0)
                return fm_trace_bad(error, _("varint at offset %llu is not minimally encoded"), at);
            *out = v;
            return TRUE;
        }
    }
    g_assert_not_reached();
}

/* Reads and checks the header (the reader is at offset 0). */
static gboolean
fm_trace_reader_header(FmTraceReader *r, GError **error)
{
    guint8 h[FM_TRACE_HEADER_SIZE];
    gsize got = 0;
    guint64 magic = 0;
    guint32 version, flags, page_size, stored, computed;
    guint64 page_count;

    r->place = FM_TRACE_IN_HEADER;
    while (got < sizeof(h)) {
        GError *local = NULL;
        int b = fm_trace_reader_getc(r, &local);

        if (b < 0) {
            if (local) {
                g_propagate_error(error, local);
                return FALSE;
            }
            break;
        }
        h[got++] = (guint8)b;
    }

    /* The magic and the version first, even in a short file: a short file of
     * another kind is reported as such. */
    for (gsize i = 0; i < MIN(got, 8); i++)
        magic |= (guint64)h[i] << (56 - 8 * i);
    if (got >= 8 && magic != FM_TRACE_MAGIC)
        return fm_trace_bad(error, _("bad magic 0x%016llx at offset 0: not a fragmig trace"),
                            (unsigned long long)magic);
    if (got >= 12 && (version = fm_get_le32(h + 8)) != FM_TRACE_VERSION)
        return fm_trace_bad(error, _("unsupported trace version %u at offset 8 (this build reads version %u)"),
                            version, (guint)FM_TRACE_VERSION);
    if (got < sizeof(h))
        return fm_trace_truncated(r, error);

    stored = fm_get_le32(h + 32);
    computed = fm_trace_header_crc(h);
    if (stored != computed)
        return fm_trace_bad(error, _("header checksum mismatch at offset 32: stored 0x%08x, computed 0x%08x"),
                            stored, computed);
    flags = fm_get_le32(h + 12);
    if (flags != 0)
        return fm_trace_bad(error, _("flags 0x%08x at offset 12: no flag is defined in version %u"),
                            flags, (guint)FM_TRACE_VERSION);
    if (fm_get_le32(h + 20) != 0)
        return fm_trace_bad(error, _("reserved field at offset %u is not zero"), 20u);
    if (fm_get_le32(h + 36) != 0)
        return fm_trace_bad(error, _("reserved field at offset %u is not zero"), 36u);
    page_size = fm_get_le32(h + 16);
    if (!fm_trace_check_sizes(page_size, 1, NULL))
        return fm_trace_bad(error, _("page size %u at offset 16 is not a power of two from %u to %u"),
                            page_size, FM_TRACE_MIN_PAGE_SIZE, FM_TRACE_MAX_PAGE_SIZE);
    page_count = fm_get_le64(h + 24);
    if (!fm_trace_check_sizes(page_size, page_count, NULL))
        return fm_trace_bad(error, _("page count %llu at offset 24 is not between 1 and %llu"),
                            (unsigned long long)page_count,
                            (unsigned long long)FM_TRACE_MAX_PAGES);
    r->page_size = page_size;
    r->page_count = page_count;
    r->place = FM_TRACE_IN_GAP;
    r->crc_on = TRUE;
    return TRUE;
}

/* Returns a reader positioned after the header; see fm-trace.h. */
FmTraceReader *
fm_trace_reader_new(FILE *in, const void *data, gsize len, GError **error)
{
    g_autoptr(FmTraceReader) r = NULL;

    g_return_val_if_fail(in != NULL || data != NULL || len == 0, NULL);

    r = g_new0(FmTraceReader, 1);
    r->in = in;
    r->data = data;
    r->len = in ? 0 : len;
    r->runs = g_array_new(FALSE, FALSE, sizeof(FmTraceRun));
    if (!fm_trace_reader_header(r, error))
        return NULL;
    return g_steal_pointer(&r);
}

/* Reads the body of an INTERVAL record (its tag read) into r->time and r->runs. */
static gboolean
fm_trace_reader_interval(FmTraceReader *r, GError **error)
{
    unsigned long long at = r->offset;
    guint64 step, count, max_runs = r->page_count / 2 + r->page_count % 2;
    guint64 prev_start = 0, prev_len = 0;

    if (!fm_trace_reader_varint(r, &step, error))
        return FALSE;
    if (step == 0)
        return fm_trace_bad(error, _("time step of 0 ns at offset %llu: intervals are at least 1 ns long"),
                            at);
    if (step > FM_TRACE_MAX_TIME_NS - r->time)
        return fm_trace_bad(error, _("time step at offset %llu takes the trace beyond %llu ns"),
                            at, (unsigned long long)FM_TRACE_MAX_TIME_NS);

    at = r->offset;
    if (!fm_trace_reader_varint(r, &count, error))
        return FALSE;
    if (count > max_runs)
        return fm_trace_bad(error, _("run count %llu at offset %llu is more than a guest of %llu pages can hold (%llu)"),
                            (unsigned long long)count, at, (unsigned long long)r->page_count,
                            (unsigned long long)max_runs);

    g_array_set_size(r->runs, 0);
    for (guint64 k = 0; k < count; k++) {
        FmTraceRun run;
        guint64 delta;

        at = r->offset;
        if (!fm_trace_reader_varint(r, &delta, error) ||
            !fm_trace_reader_varint(r, &run.length, error))
            return FALSE;
        if (run.length == 0)
            return fm_trace_bad(error, _("run at offset %llu has length 0"), at);
        if (k > 0 && delta < prev_len)
            return fm_trace_bad(error, _("run at offset %llu overlaps the previous run (pfn %llu is inside pfns %llu to %llu)"),
                                at, (unsigned long long)(prev_start + delta),
                                (unsigned long long)prev_start,
                                (unsigned long long)(prev_start + prev_len - 1));
        if (k > 0 && delta == prev_len)
            return fm_trace_bad(error, _("run at offset %llu starts at pfn %llu, right after the previous run: adjacent runs must be one run"),
                                at, (unsigned long long)(prev_start + delta));
        /* prev_start < page_count <= 2^32: no overflow once delta is below that */
        if (delta >= r->page_count - prev_start)
            return fm_trace_bad(error, _("run at offset %llu starts beyond the last page (the trace has %llu pages)"),
                                at, (unsigned long long)r->page_count);
        run.start = prev_start + delta;
        if (run.length > r->page_count - run.start)
            return fm_trace_bad(error, _("run at offset %llu (pfn %llu, %llu pages) ends beyond the last page (the trace has %llu pages)"),
                                at, (unsigned long long)run.start,
                                (unsigned long long)run.length,
                                (unsigned long long)r->page_count);
        g_array_append_val(r->runs, run);
        prev_start = run.start;
        prev_len = run.length;
    }
    r->time += step;
    r->n_intervals++;
    return TRUE;
}

/* Reads the body of the END record (its tag read) and checks that nothing follows. */
static gboolean
fm_trace_reader_end(FmTraceReader *r, GError **error)
{
    unsigned long long at = r->offset;
    GError *local = NULL;
    guint64 count;
    guint32 computed, stored;
    guint8 b[4];

    if (!fm_trace_reader_varint(r, &count, error))
        return FALSE;
    if (count != r->n_intervals)
        return fm_trace_bad(error, _("END record at offset %llu counts %llu intervals, but the trace has %llu"),
                            (unsigned long long)r->record_offset, (unsigned long long)count,
                            (unsigned long long)r->n_intervals);
    computed = r->crc;
    r->crc_on = FALSE;
    at = r->offset;
    for (int i = 0; i < 4; i++) {
        if (!fm_trace_reader_byte(r, &b[i], error))
            return FALSE;
    }
    stored = fm_get_le32(b);
    if (stored != computed)
        return fm_trace_bad(error, _("trace checksum mismatch at offset %llu: stored 0x%08x, computed 0x%08x"),
                            at, stored, computed);
    at = r->offset;
    if (fm_trace_reader_getc(r, &local) >= 0)
        return fm_trace_bad(error, _("trailing data after the END record, at offset %llu"), at);
    if (local) {
        g_propagate_error(error, local);
        return FALSE;
    }
    return TRUE;
}

/* Reads the next record; see fm-trace.h. */
int
fm_trace_reader_next(FmTraceReader *reader, guint64 *time_ns, const FmTraceRun **runs,
                     gsize *n_runs, GError **error)
{
    guint8 tag = 0;
    gboolean ok;

    g_return_val_if_fail(reader != NULL && !reader->failed, -1);
    if (reader->done)
        return 0;

    reader->place = FM_TRACE_IN_GAP;
    reader->record_offset = reader->offset;
    if (!fm_trace_reader_byte(reader, &tag, error)) {
        reader->failed = TRUE;
        return -1;
    }
    switch (tag) {
    case FM_TRACE_TAG_INTERVAL:
        reader->place = FM_TRACE_IN_INTERVAL;
        ok = fm_trace_reader_interval(reader, error);
        break;
    case FM_TRACE_TAG_END:
        reader->place = FM_TRACE_IN_END;
        ok = fm_trace_reader_end(reader, error);
        break;
    default:
        ok = fm_trace_bad(error, _("unknown record tag 0x%02x at offset %llu"), tag,
                          (unsigned long long)reader->record_offset);
        break;
    }
    if (!ok) {
        reader->failed = TRUE;
        return -1;
    }
    reader->place = FM_TRACE_IN_GAP;
    if (tag == FM_TRACE_TAG_END) {
        reader->done = TRUE;
        return 0;
    }
    if (time_ns)
        *time_ns = reader->time;
    if (runs)
        *runs = (const FmTraceRun *)reader->runs->data;
    if (n_runs)
        *n_runs = reader->runs->len;
    return 1;
}

/* Returns the page size of the header read. */
guint32
fm_trace_reader_page_size(const FmTraceReader *reader)
{
    g_return_val_if_fail(reader != NULL, 0);
    return reader->page_size;
}

/* Returns the page count of the header read. */
guint64
fm_trace_reader_page_count(const FmTraceReader *reader)
{
    g_return_val_if_fail(reader != NULL, 0);
    return reader->page_count;
}

/* Returns the offset of the next octet to read. */
guint64
fm_trace_reader_offset(const FmTraceReader *reader)
{
    g_return_val_if_fail(reader != NULL, 0);
    return reader->offset;
}

/* Frees @reader, not its FILE; NULL is accepted. */
void
fm_trace_reader_free(FmTraceReader *reader)
{
    if (reader == NULL)
        return;
    g_array_unref(reader->runs);
    g_free(reader);
}

/* Reads the whole trace from @in or @data. */
static FmTrace *
fm_trace_load(FILE *in, const void *data, gsize len, GError **error)
{
    g_autoptr(FmTraceReader) r = fm_trace_reader_new(in, data, len, error);
    g_autoptr(FmTrace) trace = NULL;
    int rc;

    if (r == NULL)
        return NULL;
    trace = fm_trace_new(r->page_size, r->page_count, NULL);
    g_assert(trace != NULL);    /* the header's sizes were checked */
    while ((rc = fm_trace_reader_next(r, NULL, NULL, NULL, error)) > 0)
        fm_trace_push(trace, r->time, (const FmTraceRun *)r->runs->data, r->runs->len);
    if (rc < 0)
        return NULL;
    return g_steal_pointer(&trace);
}

/* Returns the trace in @len bytes at @data, or NULL with @error set. */
FmTrace *
fm_trace_load_bytes(const void *data, gsize len, GError **error)
{
    g_return_val_if_fail(data != NULL || len == 0, NULL);
    return fm_trace_load(NULL, data ? data : "", len, error);
}

/* Returns the trace read from @in, or NULL with @error set. */
FmTrace *
fm_trace_load_stream(FILE *in, GError **error)
{
    g_return_val_if_fail(in != NULL, NULL);
    return fm_trace_load(in, NULL, 0, error);
}

/* Returns the trace in file @path, or NULL with @error set (naming @path). */
FmTrace *
fm_trace_load_file(const char *path, GError **error)
{
    g_autoptr(GError) local = NULL;
    FmTrace *trace;
    FILE *f;
    int fd;

    g_return_val_if_fail(path != NULL, NULL);

    /* a FIFO or a device would block or never end: regular files only */
    fd = fm_file_open_regular(path, error);
    if (fd < 0)
        return NULL;
    f = fdopen(fd, "rb");
    if (f == NULL) {
        int saved = errno;
        g_autofree char *where = fm_utf8_safe(path, -1);

        close(fd);
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot open %s: %s"), where,
                    g_strerror(saved));
        return NULL;
    }
    trace = fm_trace_load_stream(f, &local);
    fclose(f);
    if (trace == NULL) {
        g_autofree char *where = fm_utf8_safe(path, -1);

        g_set_error(error, FM_ERROR, local->code, "%s: %s", where, local->message);
        return NULL;
    }
    return trace;
}
