/*
 * fm-record.c: the record layer shared by the stream codecs (fm-record.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "stream/fm-record.h"

#include <stdarg.h>

#include "util/fm-bytes.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* Bodies are read in steps of at least this much, the buffer doubling as bytes
 * arrive: a header that claims the largest body costs memory only once the
 * bytes are there. */
#define FM_RECORD_READ_STEP (64u * 1024)
#define FM_RECORD_MAX_ALIGN 8u

typedef unsigned long long ull;

/* Returns the padding after a @len byte body. */
gsize
fm_record_padding(const FmRecordFormat *format, guint64 len)
{
    return (gsize)((format->align - len % format->align) % format->align);
}

/* Returns the label of @type, in @buf. */
const char *
fm_record_label(const FmRecordFormat *format, guint32 type,
                char buf[FM_RECORD_LABEL_SIZE])
{
    const char *name = format->type_name(type);
    char number[16];

    if (name == NULL) {
        g_snprintf(number, sizeof(number), "0x%08x", type);
        name = number;
    }
    if (format->family != NULL)
        g_snprintf(buf, FM_RECORD_LABEL_SIZE, "%s %s", format->family, name);
    else
        g_snprintf(buf, FM_RECORD_LABEL_SIZE, "%s", name);
    return buf;
}

/* Sets an FM_ERROR_PROTOCOL error. */
void
fm_record_protocol_error(GError **error, const char *format, ...)
{
    va_list ap;
    char *message;

    va_start(ap, format);
    message = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_set_error_literal(error, FM_ERROR, FM_ERROR_PROTOCOL, message);
    g_free(message);
}

/* Checks a body length against its bounds; see fm-record.h. */
gboolean
fm_record_check_length(const FmRecordFormat *format, guint32 type, guint64 len,
                       guint64 min, guint64 max, guint64 unit, guint64 offset,
                       GError **error)
{
    char label[FM_RECORD_LABEL_SIZE];

    if (min == max && len != min) {
        fm_record_protocol_error(error, _("%s record at offset %llu has a body of %llu bytes (expected %llu)"),
                                 fm_record_label(format, type, label), (ull)offset,
                                 (ull)len, (ull)min);
        return FALSE;
    }
    if (len < min) {
        fm_record_protocol_error(error, _("%s record at offset %llu has a body of %llu bytes (at least %llu)"),
                                 fm_record_label(format, type, label), (ull)offset,
                                 (ull)len, (ull)min);
        return FALSE;
    }
    if (len > max) {
        fm_record_protocol_error(error, _("%s record at offset %llu has a body of %llu bytes (at most %llu)"),
                                 fm_record_label(format, type, label), (ull)offset,
                                 (ull)len, (ull)max);
        return FALSE;
    }
    if (unit != 0 && len % unit != 0) {
        fm_record_protocol_error(error, _("%s record at offset %llu has a body of %llu bytes (a multiple of %llu)"),
                                 fm_record_label(format, type, label), (ull)offset,
                                 (ull)len, (ull)unit);
        return FALSE;
    }
    return TRUE;
}

/* ---- writer ---- */

struct _FmRecordWriter {
    FmChannel *channel;
    const FmRecordFormat *format;
    guint64 base;              /* channel bytes written before the stream */
    gboolean failed;           /* a write failed: position unknown */
};

/* Returns a new writer on the borrowed @channel. */
FmRecordWriter *
fm_record_writer_new(FmChannel *channel, const FmRecordFormat *format)
{
    FmRecordWriter *writer;

    g_return_val_if_fail(channel != NULL && format != NULL, NULL);
    g_return_val_if_fail(format->align > 0 && format->align <= FM_RECORD_MAX_ALIGN, NULL);

    writer = g_new0(FmRecordWriter, 1);
    writer->channel = channel;
    writer->format = format;
    writer->base = fm_channel_get_bytes_written(channel);
    return writer;
}

/* Frees the writer, not the channel; NULL ok. */
void
fm_record_writer_free(FmRecordWriter *writer)
{
    g_free(writer);
}

/* Returns the stream bytes written so far. */
guint64
fm_record_writer_get_offset(const FmRecordWriter *writer)
{
    g_return_val_if_fail(writer != NULL, 0);
    return fm_channel_get_bytes_written(writer->channel) - writer->base;
}

/* Fails once a write has failed. */
gboolean
fm_record_writer_check_usable(const FmRecordWriter *writer, GError **error)
{
    g_return_val_if_fail(writer != NULL, FALSE);

    if (writer->failed) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("cannot write to the stream after an earlier error"));
        return FALSE;
    }
    return TRUE;
}

/* Writes @vectors; on failure marks the writer failed and says where. */
gboolean
fm_record_writer_put(FmRecordWriter *writer, const FmIoVector *vectors, gsize n,
                     GError **error)
{
    guint64 offset;

    g_return_val_if_fail(writer != NULL && !writer->failed, FALSE);

    offset = fm_record_writer_get_offset(writer);
    if (!fm_channel_writev_all(writer->channel, vectors, n, error)) {
        writer->failed = TRUE;
        g_prefix_error(error, _("cannot write the stream at offset %llu: "), (ull)offset);
        return FALSE;
    }
    return TRUE;
}

/* Writes one record: header, body vectors, padding. */
gboolean
fm_record_writer_put_record(FmRecordWriter *writer, guint32 type,
                            const FmIoVector *vectors, gsize n, GError **error)
{
    static const guint8 zeros[FM_RECORD_MAX_ALIGN];
    guint8 head[FM_RECORD_HEADER_SIZE];
    FmIoVector vec[6];
    guint64 len = 0;

    g_return_val_if_fail(writer != NULL, FALSE);
    g_return_val_if_fail(n <= G_N_ELEMENTS(vec) - 2, FALSE);

    for (gsize i = 0; i < n; i++)
        len += vectors[i].len;
    g_return_val_if_fail(len <= writer->format->max_body, FALSE);

    fm_put_le32(head, type);
    fm_put_le32(head + 4, (guint32)len);
    vec[0] = (FmIoVector){ head, sizeof(head) };
    for (gsize i = 0; i < n; i++)
        vec[1 + i] = vectors[i];
    vec[1 + n] = (FmIoVector){ zeros, fm_record_padding(writer->format, len) };
    return fm_record_writer_put(writer, vec, n + 2, error);
}

/* ---- reader ---- */

struct _FmRecordReader {
    FmChannel *channel;
    const FmRecordFormat *format;
    guint64 offset;            /* stream bytes consumed */
    /* the current record: its header's values and the format it was read in */
    const FmRecordFormat *record_format;
    guint32 type;
    guint32 len;
    guint64 record_offset;
    guint8 *buf;               /* body of the current record, at least 8 bytes */
    gsize buf_size;
};

/* Returns a new reader on the borrowed @channel. */
FmRecordReader *
fm_record_reader_new(FmChannel *channel, const FmRecordFormat *format)
{
    FmRecordReader *reader;

    g_return_val_if_fail(channel != NULL && format != NULL, NULL);
    g_return_val_if_fail(format->align > 0 && format->align <= FM_RECORD_MAX_ALIGN, NULL);

    reader = g_new0(FmRecordReader, 1);
    reader->channel = channel;
    reader->format = format;
    reader->record_format = format;
    /* Codecs read fixed fields of short bodies: never hand them NULL. */
    reader->buf_size = 8;
    reader->buf = g_malloc0(reader->buf_size);
    return reader;
}

/* Frees the reader, not the channel; NULL ok. */
void
fm_record_reader_free(FmRecordReader *reader)
{
    if (reader == NULL)
        return;
    g_free(reader->buf);
    g_free(reader);
}

/* Switches to @format from the next record on. */
void
fm_record_reader_set_format(FmRecordReader *reader, const FmRecordFormat *format)
{
    g_return_if_fail(reader != NULL && format != NULL);
    g_return_if_fail(format->align > 0 && format->align <= FM_RECORD_MAX_ALIGN);
    reader->format = format;
}

/* Returns the stream bytes consumed so far. */
guint64
fm_record_reader_get_offset(const FmRecordReader *reader)
{
    g_return_val_if_fail(reader != NULL, 0);
    return reader->offset;
}

/* Reads up to @len bytes; see fm-record.h. */
gboolean
fm_record_reader_read(FmRecordReader *reader, guint8 *buf, gsize len, gsize *got,
                      GError **error)
{
    gboolean ok;

    g_return_val_if_fail(reader != NULL && got != NULL, FALSE);

    ok = fm_channel_read_upto(reader->channel, buf, len, got, error);
    reader->offset += *got;
    if (!ok)
        g_prefix_error(error, _("cannot read the stream at offset %llu: "),
                       (ull)reader->offset);
    return ok;
}

/* Sets the truncation error at the current offset. */
gboolean
fm_record_reader_truncated(FmRecordReader *reader, const char *where, GError **error)
{
    g_return_val_if_fail(reader != NULL && where != NULL, FALSE);

    fm_record_protocol_error(error, _("stream truncated at offset %llu (%s)"),
                             (ull)reader->offset, where);
    return FALSE;
}

/* Reads exactly @len bytes or fails saying where the stream ended. */
gboolean
fm_record_reader_fill(FmRecordReader *reader, guint8 *buf, gsize len, const char *where,
                      GError **error)
{
    gsize got;

    if (!fm_record_reader_read(reader, buf, len, &got, error))
        return FALSE;
    if (got < len)
        return fm_record_reader_truncated(reader, where, error);
    return TRUE;
}

/* Reads the next record header; see fm-record.h. */
gboolean
fm_record_reader_next_header(FmRecordReader *reader, guint32 *type, guint32 *len,
                             GError **error)
{
    const char *family;
    guint8 head[FM_RECORD_HEADER_SIZE];
    guint64 offset;
    gsize got;

    g_return_val_if_fail(reader != NULL && type != NULL && len != NULL, FALSE);

    family = reader->format->family;
    offset = reader->offset;
    if (!fm_record_reader_read(reader, head, sizeof(head), &got, error))
        return FALSE;
    if (got == 0) {
        if (family != NULL)
            fm_record_protocol_error(error, _("stream ends at offset %llu without a %s END record"),
                                     (ull)offset, family);
        else
            fm_record_protocol_error(error, _("stream ends at offset %llu without an END record"),
                                     (ull)offset);
        return FALSE;
    }
    if (got < sizeof(head)) {
        g_autofree char *where = family != NULL ?
            g_strdup_printf(_("in a %s record header"), family) :
            g_strdup(_("in a record header"));

        return fm_record_reader_truncated(reader, where, error);
    }
    reader->record_format = reader->format;
    reader->type = fm_get_le32(head);
    reader->len = fm_get_le32(head + 4);
    reader->record_offset = offset;
    *type = reader->type;
    *len = reader->len;
    return TRUE;
}

/* Returns the offset of the current record. */
guint64
fm_record_reader_get_record_offset(const FmRecordReader *reader)
{
    g_return_val_if_fail(reader != NULL, 0);
    return reader->record_offset;
}

/* Fails with the truncation error inside the current record's body or padding. */
static gboolean
fm_record_reader_truncated_in(FmRecordReader *reader, gboolean padding, GError **error)
{
    char label[FM_RECORD_LABEL_SIZE];
    g_autofree char *where = NULL;

    fm_record_label(reader->record_format, reader->type, label);
    if (padding)
        where = g_strdup_printf(_("in the padding of the %s record at offset %llu"), label,
                                (ull)reader->record_offset);
    else
        where = g_strdup_printf(_("in the body of the %s record at offset %llu"), label,
                                (ull)reader->record_offset);
    return fm_record_reader_truncated(reader, where, error);
}

/* Reads part of the current body, growing the buffer as bytes arrive. */
gboolean
fm_record_reader_read_body(FmRecordReader *reader, gsize from, gsize n, GError **error)
{
    gsize done = 0;

    g_return_val_if_fail(reader != NULL, FALSE);
    g_return_val_if_fail(reader->len <= reader->record_format->max_body, FALSE);
    g_return_val_if_fail(from <= reader->len && n <= reader->len - from, FALSE);

    while (done < n) {
        gsize step = MIN(n - done, MAX((gsize)FM_RECORD_READ_STEP, from + done));
        gsize need = from + done + step;
        gsize got;

        if (reader->buf_size < need) {
            reader->buf_size = MIN(MAX(need, 2 * reader->buf_size), (gsize)reader->len);
            reader->buf = g_realloc(reader->buf, reader->buf_size);
        }
        if (!fm_record_reader_read(reader, reader->buf + from + done, step, &got, error))
            return FALSE;
        if (got < step)
            return fm_record_reader_truncated_in(reader, FALSE, error);
        done += step;
    }
    return TRUE;
}

/* Reads part of the current body into @dst. */
gboolean
fm_record_reader_read_body_to(FmRecordReader *reader, gsize from, guint8 *dst, gsize n,
                              GError **error)
{
    gsize got;

    g_return_val_if_fail(reader != NULL && (dst != NULL || n == 0), FALSE);
    g_return_val_if_fail(from <= reader->len && n <= reader->len - from, FALSE);

    if (!fm_record_reader_read(reader, dst, n, &got, error))
        return FALSE;
    if (got < n)
        return fm_record_reader_truncated_in(reader, FALSE, error);
    return TRUE;
}

/* Returns the body buffer. */
const guint8 *
fm_record_reader_get_body(const FmRecordReader *reader)
{
    g_return_val_if_fail(reader != NULL, NULL);
    return reader->buf;
}

/* Reads and checks the current record's padding. */
static gboolean
fm_record_reader_read_padding(FmRecordReader *reader, GError **error)
{
    guint8 pad[FM_RECORD_MAX_ALIGN];
    gsize pad_len;
    gsize got;

    pad_len = fm_record_padding(reader->record_format, reader->len);
    if (!fm_record_reader_read(reader, pad, pad_len, &got, error))
        return FALSE;
    if (got < pad_len)
        return fm_record_reader_truncated_in(reader, TRUE, error);
    for (gsize i = 0; i < pad_len; i++) {
        if (pad[i] != 0) {
            char label[FM_RECORD_LABEL_SIZE];

            fm_record_protocol_error(error, _("nonzero padding in the %s record at offset %llu"),
                                     fm_record_label(reader->record_format, reader->type,
                                                     label),
                                     (ull)reader->record_offset);
            return FALSE;
        }
    }
    return TRUE;
}

/* Reads the rest of the current body and its padding. */
gboolean
fm_record_reader_read_rest(FmRecordReader *reader, gsize from, GError **error)
{
    g_return_val_if_fail(reader != NULL && from <= reader->len, FALSE);

    return fm_record_reader_read_body(reader, from, reader->len - from, error) &&
        fm_record_reader_read_padding(reader, error);
}

/* Checks that nothing follows the current record. */
gboolean
fm_record_reader_check_eof(FmRecordReader *reader, GError **error)
{
    char label[FM_RECORD_LABEL_SIZE];
    guint8 byte;
    gsize got;

    g_return_val_if_fail(reader != NULL, FALSE);

    if (!fm_record_reader_read(reader, &byte, 1, &got, error))
        return FALSE;
    if (got != 0) {
        fm_record_protocol_error(error, _("trailing data after the %s record, at offset %llu"),
                                 fm_record_label(reader->record_format, reader->type, label),
                                 (ull)(reader->offset - 1));
        return FALSE;
    }
    return TRUE;
}
