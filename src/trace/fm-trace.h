/*
 * fm-trace.h: dirty-page traces: a guest's dirty log over time (docs/trace-format.md,
 * which this header's constants follow; keep the two in step).
 *
 * Three objects:
 *  - FmTrace: a trace in memory, for replay (the trace workload) and tests: the
 *    guest's page size and count, and a list of intervals, each the end time of a
 *    harvest and the runs of pages it found dirty.  Reference-counted: workload
 *    specs share it (fm_workload_spec_copy() takes a reference).  Invariants, checked
 *    by every function that adds to it: interval times strictly increase from >= 1
 *    to <= FM_TRACE_MAX_TIME_NS; the runs of an interval are maximal (non-empty,
 *    sorted, neither overlapping nor touching) and inside [0, page_count).  Once
 *    shared it must not change: only its builder appends, before handing it out.
 *  - FmTraceWriter: encodes intervals as they come (a recorder), to a FILE (borrowed)
 *    or to memory.  The header goes out at creation, the END record at finish; a
 *    trace that was not finished has no END and no reader accepts it.
 *  - FmTraceReader: decodes a trace from a FILE (borrowed) or from memory, one
 *    interval at a time, checking every field against the format; any violation is
 *    an FM_ERROR_PROTOCOL error that names the file offset.  The loaders
 *    (fm_trace_load_*) read a whole trace, END and checksum included, before they
 *    return it.
 *
 * None of them is thread-safe; an FmTrace that nobody appends to any more may be read
 * from any number of threads.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdio.h>
#include <glib.h>

#include "util/fm-bitmap.h"

G_BEGIN_DECLS

/* The file's first 8 bytes are the ASCII "FMTRACE!": this value stored big-endian. */
#define FM_TRACE_MAGIC G_GUINT64_CONSTANT(0x464d545241434521)
#define FM_TRACE_VERSION 1
#define FM_TRACE_HEADER_SIZE 40
#define FM_TRACE_MIN_PAGE_SIZE 512u
#define FM_TRACE_MAX_PAGE_SIZE (1024u * 1024u)
#define FM_TRACE_MAX_PAGES (G_GUINT64_CONSTANT(1) << 32)
#define FM_TRACE_MAX_TIME_NS (G_GUINT64_CONSTANT(1) << 62)
#define FM_TRACE_MAX_VARINT 10          /* octets of a 64-bit varint */

/* Record tags. */
#define FM_TRACE_TAG_END 0x00
#define FM_TRACE_TAG_INTERVAL 0x01

/* @length pages from pfn @start. */
typedef struct {
    guint64 start;
    guint64 length;
} FmTraceRun;

/* One harvest: the pages written in (previous time_ns, time_ns]. */
typedef struct {
    guint64 time_ns;      /* ns since the trace began, strictly increasing, >= 1 */
    guint64 first_run;    /* index of its first run in the trace's run array */
    guint64 n_runs;
    guint64 n_pages;      /* pages of its runs */
} FmTraceInterval;

typedef struct _FmTrace FmTrace;
typedef struct _FmTraceWriter FmTraceWriter;
typedef struct _FmTraceReader FmTraceReader;

/* ---- FmTrace ---- */

/* Returns a new empty trace of a guest of @page_count pages of @page_size bytes
 * (caller owns the reference: fm_trace_unref()), or NULL with @error set
 * (FM_ERROR_INVALID_ARG) when either is outside the format's limits. */
FmTrace *fm_trace_new(guint32 page_size, guint64 page_count, GError **error);
/* Returns @trace with one more reference. */
FmTrace *fm_trace_ref(FmTrace *trace);
/* Drops a reference; the last one frees the trace.  NULL is accepted. */
void fm_trace_unref(FmTrace *trace);

/* Appends an interval ending at @time_ns whose dirty pages are the set bits of
 * @dirty (fm_trace_page_count() bits; programmer error otherwise).  Returns TRUE, or
 * FALSE with @error set (FM_ERROR_INVALID_ARG) when @time_ns is not after the last
 * interval or beyond FM_TRACE_MAX_TIME_NS; the trace is then unchanged. */
gboolean fm_trace_append_bitmap(FmTrace *trace, guint64 time_ns, const FmBitmap *dirty,
                                GError **error);
/* Same with @n_runs runs (borrowed), sorted by start and not overlapping; touching
 * runs are merged.  FALSE with @error set (FM_ERROR_INVALID_ARG, trace unchanged) on
 * bad time, empty, unsorted, overlapping or out-of-range runs. */
gboolean fm_trace_append_runs(FmTrace *trace, guint64 time_ns, const FmTraceRun *runs,
                              gsize n_runs, GError **error);

guint32 fm_trace_page_size(const FmTrace *trace);
guint64 fm_trace_page_count(const FmTrace *trace);
/* Returns the number of intervals. */
guint64 fm_trace_n_intervals(const FmTrace *trace);
/* Returns interval @i (< fm_trace_n_intervals(); borrowed, valid while the trace is
 * not appended to). */
const FmTraceInterval *fm_trace_interval(const FmTrace *trace, guint64 i);
/* Returns the runs of interval @i (its n_runs entries; borrowed, as above). */
const FmTraceRun *fm_trace_interval_runs(const FmTrace *trace, guint64 i);
/* Returns the index, among the runs of interval @i, of the run that holds the
 * interval's @j-th page (pages counted from 0 in pfn order; @j < its n_pages), and
 * in *@run_first_page (may be NULL) the index of that run's first page.
 * O(log runs). */
guint64 fm_trace_interval_find_page(const FmTrace *trace, guint64 i, guint64 j,
                                    guint64 *run_first_page);
/* ORs the pages of interval @i into @out (fm_trace_page_count() bits). */
void fm_trace_interval_fill(const FmTrace *trace, guint64 i, FmBitmap *out);
/* Returns the time of the last interval (the trace's length), 0 when it has none. */
guint64 fm_trace_duration_ns(const FmTrace *trace);
/* Returns the pages of all intervals (a page counts once per interval). */
guint64 fm_trace_total_pages(const FmTrace *trace);
/* Returns total pages / duration, in pages per second; 0 for an empty trace. */
double fm_trace_mean_rate(const FmTrace *trace);
/* Returns TRUE if @a and @b have the same page size, page count and intervals. */
gboolean fm_trace_equal(const FmTrace *a, const FmTrace *b);

/* ---- writing ---- */

/* Returns a writer that writes a trace of @page_count pages of @page_size bytes to
 * @out (borrowed: the caller closes it after fm_trace_writer_finish()), or, when
 * @out is NULL, to memory (fm_trace_writer_steal_bytes()).  The header is written at
 * once.  Returns NULL with @error set: FM_ERROR_INVALID_ARG for sizes outside the
 * format's limits, FM_ERROR_IO when @out fails.  Free with fm_trace_writer_free(). */
FmTraceWriter *fm_trace_writer_new(FILE *out, guint32 page_size, guint64 page_count,
                                   GError **error);
/* Writes an INTERVAL record: the set bits of @dirty (page_count bits) at @time_ns.
 * Returns TRUE, or FALSE with @error set: FM_ERROR_INVALID_ARG when @time_ns is not
 * after the previous interval or beyond FM_TRACE_MAX_TIME_NS (nothing written),
 * FM_ERROR_IO when the output fails (the writer is then unusable). */
gboolean fm_trace_writer_add_bitmap(FmTraceWriter *writer, guint64 time_ns,
                                    const FmBitmap *dirty, GError **error);
/* Same with runs, under the rules of fm_trace_append_runs(). */
gboolean fm_trace_writer_add_runs(FmTraceWriter *writer, guint64 time_ns,
                                  const FmTraceRun *runs, gsize n_runs, GError **error);
/* Writes the END record and flushes the output.  Returns TRUE, or FALSE with @error
 * set (FM_ERROR_IO).  Nothing may be added afterwards. */
gboolean fm_trace_writer_finish(FmTraceWriter *writer, GError **error);
/* Returns the octets written so far (the offset of the next record). */
guint64 fm_trace_writer_offset(const FmTraceWriter *writer);
/* Returns the time of the last interval written, 0 before the first. */
guint64 fm_trace_writer_last_time(const FmTraceWriter *writer);
/* Returns the intervals written so far. */
guint64 fm_trace_writer_n_intervals(const FmTraceWriter *writer);
/* For a memory writer: returns what it wrote (caller owns it); the writer then
 * holds nothing and accepts nothing more.  NULL for a FILE writer. */
GBytes *fm_trace_writer_steal_bytes(FmTraceWriter *writer);
/* Frees @writer (not its FILE); NULL is accepted. */
void fm_trace_writer_free(FmTraceWriter *writer);

/* Returns the encoding of @trace (caller owns it): its canonical file content. */
GBytes *fm_trace_encode(const FmTrace *trace);
/* Writes @trace to @path (created or truncated; removed again on failure).  Returns
 * TRUE, or FALSE with @error set (FM_ERROR_IO, the message names @path). */
gboolean fm_trace_save_file(const FmTrace *trace, const char *path, GError **error);

/* ---- reading ---- */

/* Returns a reader of the trace in @in (borrowed) or in the @len bytes at @data
 * (borrowed; used when @in is NULL), having read and checked the header; or NULL with
 * @error set (FM_ERROR_PROTOCOL, FM_ERROR_IO). */
FmTraceReader *fm_trace_reader_new(FILE *in, const void *data, gsize len,
                                   GError **error);
/* Reads the next record.  Returns 1 for an interval: *@time_ns is its time, *@runs
 * its *@n_runs runs (borrowed from the reader, valid until the next call); 0 at the
 * END record, once its count and checksum are checked and nothing follows it; -1
 * with @error set on any violation (the reader is then unusable). */
int fm_trace_reader_next(FmTraceReader *reader, guint64 *time_ns,
                         const FmTraceRun **runs, gsize *n_runs, GError **error);
guint32 fm_trace_reader_page_size(const FmTraceReader *reader);
guint64 fm_trace_reader_page_count(const FmTraceReader *reader);
/* Returns the offset of the next octet to read. */
guint64 fm_trace_reader_offset(const FmTraceReader *reader);
/* Frees @reader (not its FILE); NULL is accepted. */
void fm_trace_reader_free(FmTraceReader *reader);

/* Return the whole trace in @len bytes at @data / in @in / in file @path (caller
 * owns it), or NULL with @error set: FM_ERROR_PROTOCOL for an invalid trace,
 * FM_ERROR_IO when the file cannot be read.  fm_trace_load_file() prefixes
 * messages with @path ("db.fmt: bad magic ..."). */
FmTrace *fm_trace_load_bytes(const void *data, gsize len, GError **error);
FmTrace *fm_trace_load_stream(FILE *in, GError **error);
FmTrace *fm_trace_load_file(const char *path, GError **error);

/* Returns the header_crc due for the FM_TRACE_HEADER_SIZE bytes at @header (the
 * field taken as zero), and the CRC-32C of @len bytes continued from @crc (start
 * with 0).  For the format's tests. */
guint32 fm_trace_header_crc(const guint8 *header);
guint32 fm_trace_crc32c(guint32 crc, const void *data, gsize len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmTrace, fm_trace_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmTraceWriter, fm_trace_writer_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmTraceReader, fm_trace_reader_free)

G_END_DECLS
