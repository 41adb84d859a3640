/*
 * fm-stream.h: encoder and decoder of the native fragmig stream
 * (docs/stream-format.md), and the FmSink that sends it.
 *
 * Rules:
 *  - the writer never puts on the wire what the reader would reject: it checks its
 *    arguments (page size, pfn range, record bodies) and splits pages into records
 *    of at most fm_stream_max_pages_per_record() pages;
 *  - the reader trusts nothing: every length, count and index is checked against
 *    the header and the limits of fm-stream-format.h before memory is allocated
 *    for it or it is used.  Violations are FM_ERROR_PROTOCOL errors that name the
 *    problem and its stream offset (FM_ERROR_LIMIT for a guest larger than the
 *    destination's limit); channel failures are FM_ERROR_IO errors prefixed with
 *    the offset;
 *  - after an error a writer or reader is unusable (its position in the stream is
 *    unknown); further calls fail;
 *  - both borrow their FmChannel, and so does the native sink (fm-sink.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <string.h>

#include "engine/fm-sink.h"
#include "stream/fm-stream-format.h"
#include "transport/fm-channel.h"

G_BEGIN_DECLS

/* Returns the protocol name of a record type ("PAGE_DATA"), or NULL if unknown. */
const char *fm_record_type_name(guint32 type);

/* Returns the CRC-32C (Castagnoli) of @len bytes. */
guint32 fm_stream_crc32c(const void *data, gsize len);
/* Returns the header_crc due for the FM_STREAM_HEADER_SIZE bytes at @header
 * (computed with the header_crc field taken as zero). */
guint32 fm_stream_header_crc(const guint8 *header);

/* A PAGE_DATA body, parsed: pointers into the body, valid as long as it is. */
typedef struct {
    guint32 count;
    const guint8 *pfns;        /* count little-endian u64: use fm_page_data_get_pfn() */
    const guint8 *data;        /* count * page_size bytes, page i at i * page_size;
                                * NULL when the reader put the pages in place
                                * (fm_stream_reader_set_page_memory()) */
} FmPageData;

/* Returns the pfn of page @i of @pd (i < count). */
static inline guint64
fm_page_data_get_pfn(const FmPageData *pd, guint32 i)
{
    guint64 v;

    memcpy(&v, pd->pfns + 8 * (gsize)i, sizeof(v));
    return GUINT64_FROM_LE(v);
}

/* Parses and checks the PAGE_DATA body @body of @len bytes for a guest of
 * @page_count pages of @page_size bytes; @offset is the stream offset of the
 * record (for messages).  Fills @out and returns TRUE, or FALSE with an
 * FM_ERROR_PROTOCOL error (count 0 or too large, length inconsistent with the
 * count, nonzero reserved field, pfn out of range). */
gboolean fm_stream_parse_page_data(const guint8 *body, gsize len, guint64 page_count,
                                   gsize page_size, guint64 offset, FmPageData *out,
                                   GError **error);

/* ---- writer ---- */

typedef struct _FmStreamWriter FmStreamWriter;

/* Returns a new writer on @channel (borrowed: it must outlive the writer). */
FmStreamWriter *fm_stream_writer_new(FmChannel *channel);
/* Frees the writer (not the channel); NULL ok. */
void fm_stream_writer_free(FmStreamWriter *writer);

/* Writes the header for @page_count pages of @page_size bytes; first call only.
 * FM_ERROR_INVALID_ARG for a page size or count the format cannot carry. */
gboolean fm_stream_writer_write_header(FmStreamWriter *writer, guint64 page_count,
                                       gsize page_size, GError **error);
/* Writes @n pages (@pfns[i] with contents @data + i * page_size) as PAGE_DATA
 * records of at most fm_stream_max_pages_per_record() pages (and ZERO_PAGES, see
 * fm_stream_writer_set_zero_pages()), in order.  The arrays stay the
 * caller's.  FM_ERROR_INVALID_ARG (nothing written) if a pfn is out of range. */
gboolean fm_stream_writer_write_pages(FmStreamWriter *writer, const guint64 *pfns,
                                      gsize n, const guint8 *data, GError **error);
/* From now on, write_pages sends the pages that are all zeros as ZERO_PAGES
 * records, their pfns without their data (off by default: a reader of fragmig
 * before ZERO_PAGES refuses the record). */
void fm_stream_writer_set_zero_pages(FmStreamWriter *writer, gboolean zero_pages);
/* Writes one record of any source type but PAGE_DATA (use write_pages), with the
 * @len bytes of @body (padding added).  The body is checked as the reader would
 * (FM_ERROR_INVALID_ARG, nothing written).  END and ABORT end the stream. */
gboolean fm_stream_writer_write_record(FmStreamWriter *writer, guint32 type,
                                       const void *body, gsize len, GError **error);
/* Writes END. */
gboolean fm_stream_writer_write_end(FmStreamWriter *writer, GError **error);
/* Writes ABORT with @reason (made valid UTF-8 and cut to FM_STREAM_MAX_TEXT). */
gboolean fm_stream_writer_write_abort(FmStreamWriter *writer, const char *reason,
                                      GError **error);
/* Returns the bytes of stream written so far (header and framing included). */
guint64 fm_stream_writer_get_offset(const FmStreamWriter *writer);

/* ---- reader ---- */

typedef struct _FmStreamReader FmStreamReader;

/* One record, as returned by fm_stream_reader_next(). */
typedef struct {
    guint32 type;              /* an FmRecordType other than RESULT */
    const guint8 *body;        /* owned by the reader, valid until its next call */
    gsize len;                 /* body length, without padding */
    guint64 offset;            /* stream offset of the record header */
    FmPageData pages;          /* parsed body when type is PAGE_DATA or ZERO_PAGES
                                * (data NULL: the pages are zeros) */
} FmStreamRecord;

/* Returns a new reader on @channel (borrowed), for a destination that accepts
 * guests of at most @max_memory bytes (page_count * page_size). */
FmStreamReader *fm_stream_reader_new(FmChannel *channel, guint64 max_memory);
/* Frees the reader (not the channel); NULL ok. */
void fm_stream_reader_free(FmStreamReader *reader);

/* From the next PAGE_DATA record on, reads pages straight to @memory + pfn *
 * page_size (page_count * page_size bytes, borrowed: it must outlive the reader)
 * once their pfns are checked, instead of into the record body: the records then
 * come with pages.data NULL.  Saves a copy of every byte received.  The pages of a
 * record that fails half-way are partly written. */
void fm_stream_reader_set_page_memory(FmStreamReader *reader, guint8 *memory);
/* Reads and checks the header; first call only. */
gboolean fm_stream_reader_read_header(FmStreamReader *reader, GError **error);
/* Return the header's values (after fm_stream_reader_read_header()). */
guint64 fm_stream_reader_get_page_count(const FmStreamReader *reader);
gsize fm_stream_reader_get_page_size(const FmStreamReader *reader);

/* Reads and checks the next record into @record.  After END or ABORT it has also
 * checked that the stream ends there (end of file: the sender shut down its
 * side), and the stream is over: do not call again. */
gboolean fm_stream_reader_next(FmStreamReader *reader, FmStreamRecord *record,
                               GError **error);
/* Returns TRUE once END or ABORT has been read. */
gboolean fm_stream_reader_is_done(const FmStreamReader *reader);
/* Returns the bytes of stream consumed so far. */
guint64 fm_stream_reader_get_offset(const FmStreamReader *reader);

/* ---- back channel ---- */

/* Writes the RESULT record (@status, @message, cut to FM_STREAM_MAX_TEXT) on
 * @channel.  A destination then shuts its sending side down, and, when it fails
 * before END, drains the channel before closing it (docs/stream-format.md §5). */
gboolean fm_stream_write_result(FmChannel *channel, FmResultStatus status,
                                const char *message, GError **error);
/* Reads the destination's RESULT from @channel and checks that nothing follows.
 * Stores the status in *@status and the message (caller frees) in *@message.
 * FM_ERROR_IO if the connection ends first, FM_ERROR_PROTOCOL if the reply is
 * malformed. */
gboolean fm_stream_read_result(FmChannel *channel, guint32 *status, char **message,
                               GError **error);
/* Writes the READY record on @channel: the destination verified the guest and waits
 * for the source's commit (END, docs/stream-format.md §5).  FALSE with @error. */
gboolean fm_stream_write_ready(FmChannel *channel, GError **error);
/* Reads the destination's next reply: READY (only if @ready is not NULL; *@ready
 * is then TRUE, the status OK and the message empty, and nothing is checked after
 * it: the RESULT comes later) or RESULT, as fm_stream_read_result(). */
gboolean fm_stream_read_answer(FmChannel *channel, gboolean *ready, guint32 *status,
                               char **message, GError **error);
/* Returns the RESULT status a destination sends for @error (FAILED if NULL or
 * not in FM_ERROR). */
FmResultStatus fm_stream_result_status_from_error(const GError *error);
/* Returns the FmErrorCode the source reports for a refusal with @status. */
int fm_stream_result_status_to_error_code(guint32 status);

/* ---- the native sink ---- */

/* Returns a new FmSink writing the native stream on @channel (borrowed: it must
 * outlive the sink; the caller closes it after fm_sink_free()).  Its flush writes a ROUND_END record (rounds numbered
 * from 0) and returns once the data is handed to the kernel: the socket buffer may
 * still hold some.  finish writes END, shuts the sending side down and waits for
 * the RESULT; a destination's refusal fails with its message and the error code
 * of its status.  Before each record the sink checks whether the destination has
 * already answered (it fails mid-stream) and, if so, fails with that answer. */
FmSink *fm_native_sink_new(FmChannel *channel);

/* Commits the source's copy to the handover (@commit TRUE: from then on it must not
 * run again unless released) or releases it (@commit FALSE: the destination refused
 * after the commit and discarded its copy).  Returns FALSE with @error if it could
 * not: a failed commit leaves the copy as it was. */
typedef gboolean (*FmHandoverFunc)(gpointer data, gboolean commit, GError **error);

/* Makes the finish of the native sink @sink a handover (docs/stream-format.md §5):
 * PREPARE, the destination's READY, @func(@data, TRUE), END, then the RESULT.
 * Failures before the commit are ordinary; after it, anything but the destination's
 * answer fails with FM_ERROR_IN_DOUBT, and a refusal calls @func(@data, FALSE). */
void fm_native_sink_set_handover(FmSink *sink, FmHandoverFunc func, gpointer data);
/* Returns the seconds from the destination's READY to its RESULT in the last
 * handover of @sink (the commit, one round trip and the destination's start); 0 if
 * none completed. */
double fm_native_sink_get_handover_seconds(FmSink *sink);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmStreamWriter, fm_stream_writer_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmStreamReader, fm_stream_reader_free)

G_END_DECLS
