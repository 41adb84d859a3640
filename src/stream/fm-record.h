/*
 * fm-record.h: the record layer shared by the stream codecs: the native fragmig
 * stream (fm-stream.c) and the two layers of Xen's stream (libxl and libxc,
 * fm-xen-writer.c and fm-xen-reader.c).
 *
 * Both formats frame their records alike: an 8-byte header (u32 type, u32 body
 * length, little-endian), the body, then zero padding up to a multiple of the
 * format's alignment.  What differs between them is described by an
 * FmRecordFormat: how records are named in messages, the alignment and the
 * longest body.  Their stream headers and the meaning of each record type stay in
 * the codecs, which check a record's type and length before they ask this layer
 * to read its body.
 *
 * The writer puts records on the channel and tracks the stream offset; the reader
 * reads them with offset tracking, a body buffer that grows only as bytes arrive
 * (a hostile length costs memory only once the bytes are there), and the exact
 * messages of a truncated, oversized or badly padded record, shared by the codecs
 * so that their messages agree.  Every protocol violation is an FM_ERROR_PROTOCOL
 * error naming the stream offset; a channel failure is the channel's error
 * prefixed with the offset.  After an error the writer or reader is unusable.
 *
 * Both borrow their FmChannel.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "transport/fm-channel.h"

G_BEGIN_DECLS

#define FM_RECORD_HEADER_SIZE 8
/* Room for a record label: a family, a space and a type name or number. */
#define FM_RECORD_LABEL_SIZE 64

/* How a record format differs from the others. */
typedef struct {
    /* The layer named before every type in messages ("libxc": "libxc END
     * record"), or NULL when the stream has one layer ("END record"). */
    const char *family;
    /* Returns the protocol name of @type ("PAGE_DATA"), or NULL if it has none:
     * messages then give its number. */
    const char *(*type_name)(guint32 type);
    guint32 align;             /* bodies are padded to a multiple of this (<= 8) */
    guint32 max_body;          /* longest body of any record type */
} FmRecordFormat;

/* Returns the bytes of padding after a @len byte body in @format. */
gsize fm_record_padding(const FmRecordFormat *format, guint64 len);
/* Returns the name of a @type record for messages, "libxc PAGE_DATA" or
 * "0x00000013" (written into @buf, which it returns). */
const char *fm_record_label(const FmRecordFormat *format, guint32 type,
                            char buf[FM_RECORD_LABEL_SIZE]);
/* Sets an FM_ERROR_PROTOCOL error with a printf-style message. */
void fm_record_protocol_error(GError **error, const char *format, ...)
    G_GNUC_PRINTF(2, 3);
/* Checks the body length @len of the @type record at @offset against [@min,
 * @max] and, unless @unit is 0, a multiple of @unit; FALSE with an
 * FM_ERROR_PROTOCOL error that says which bound it breaks. */
gboolean fm_record_check_length(const FmRecordFormat *format, guint32 type,
                                guint64 len, guint64 min, guint64 max, guint64 unit,
                                guint64 offset, GError **error);

/* ---- writer ---- */

typedef struct _FmRecordWriter FmRecordWriter;

/* Returns a new writer of @format records on @channel (both borrowed: they must
 * outlive the writer).  Offsets count from the channel's bytes written now. */
FmRecordWriter *fm_record_writer_new(FmChannel *channel, const FmRecordFormat *format);
/* Frees the writer (not the channel); NULL ok. */
void fm_record_writer_free(FmRecordWriter *writer);
/* Returns the stream bytes written so far. */
guint64 fm_record_writer_get_offset(const FmRecordWriter *writer);
/* Fails with FM_ERROR_FAILED once a write has failed (the position in the stream
 * is then unknown); TRUE otherwise. */
gboolean fm_record_writer_check_usable(const FmRecordWriter *writer, GError **error);
/* Writes the @n @vectors as they are (a stream header).  On failure the writer is
 * unusable and the error says at which offset. */
gboolean fm_record_writer_put(FmRecordWriter *writer, const FmIoVector *vectors,
                              gsize n, GError **error);
/* Writes a @type record whose body is the @n (<= 4) @vectors one after the other,
 * then its padding.  The body must be at most the format's max_body; the caller
 * has checked its content. */
gboolean fm_record_writer_put_record(FmRecordWriter *writer, guint32 type,
                                     const FmIoVector *vectors, gsize n,
                                     GError **error);

/* ---- reader ---- */

typedef struct _FmRecordReader FmRecordReader;

/* Returns a new reader of @format records on @channel (both borrowed). */
FmRecordReader *fm_record_reader_new(FmChannel *channel, const FmRecordFormat *format);
/* Frees the reader (not the channel); NULL ok. */
void fm_record_reader_free(FmRecordReader *reader);
/* Switches to @format (borrowed) from the next record on: a stream nested in
 * another (libxc in libxl) has its own. */
void fm_record_reader_set_format(FmRecordReader *reader, const FmRecordFormat *format);
/* Returns the stream bytes consumed so far. */
guint64 fm_record_reader_get_offset(const FmRecordReader *reader);

/* Reads up to @len bytes into @buf, stopping early only at end of file; stores
 * the count in *@got and adds it to the offset.  A channel error is prefixed with
 * the offset. */
gboolean fm_record_reader_read(FmRecordReader *reader, guint8 *buf, gsize len,
                               gsize *got, GError **error);
/* Sets the error of a stream that ends at the current offset inside @where ("in
 * the stream header").  Always returns FALSE. */
gboolean fm_record_reader_truncated(FmRecordReader *reader, const char *where,
                                    GError **error);
/* Reads exactly @len bytes into @buf; end of file first is a truncation error
 * inside @where. */
gboolean fm_record_reader_fill(FmRecordReader *reader, guint8 *buf, gsize len,
                               const char *where, GError **error);

/* Reads the next record header and stores its @type and body length @len; the
 * record's offset is then fm_record_reader_get_record_offset().  End of file
 * before the header is "stream ends ... without an END record", inside it a
 * truncation. */
gboolean fm_record_reader_next_header(FmRecordReader *reader, guint32 *type,
                                      guint32 *len, GError **error);
/* Returns the stream offset of the current record's header. */
guint64 fm_record_reader_get_record_offset(const FmRecordReader *reader);
/* Reads bytes @from to @from + @n of the current record's body into the body
 * buffer, which grows only as they arrive: a codec reads the head of a body
 * whose first fields say how long the rest must be, and checks them before
 * reading on.  The codec has checked the length against its limits: @from + @n
 * <= the header's length <= max_body. */
gboolean fm_record_reader_read_body(FmRecordReader *reader, gsize from, gsize n,
                                    GError **error);
/* Reads bytes @from to @from + @n of the current record's body into @dst instead of
 * the body buffer: a codec puts bulk data (pages) straight in place once it has
 * checked where they go.  Same conditions and errors as read_body. */
gboolean fm_record_reader_read_body_to(FmRecordReader *reader, gsize from, guint8 *dst,
                                       gsize n, GError **error);
/* Reads the current record's body from byte @from to its end (as read_body),
 * then its padding, which must be zero bytes up to the format's alignment. */
gboolean fm_record_reader_read_rest(FmRecordReader *reader, gsize from, GError **error);
/* Returns the body buffer (owned by the reader, never NULL, valid until the next
 * call to read_body): the bytes read so far of the current record's body. */
const guint8 *fm_record_reader_get_body(const FmRecordReader *reader);
/* After the current record, which ends the stream, checks that the channel is at
 * end of file. */
gboolean fm_record_reader_check_eof(FmRecordReader *reader, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmRecordWriter, fm_record_writer_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmRecordReader, fm_record_reader_free)

G_END_DECLS
