/*
 * fm-stream.c: encoder and decoder of the native fragmig stream
 * (docs/stream-format.md).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "stream/fm-stream.h"

#include <string.h>

#include "stream/fm-record.h"
#include "util/fm-bytes.h"
#include "util/fm-crc32c.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* Stream offsets of the header fields (docs/stream-format.md §3). */
#define HDR_OFF_MAGIC      0
#define HDR_OFF_VERSION    8
#define HDR_OFF_FLAGS      12
#define HDR_OFF_PAGE_SIZE  16
#define HDR_OFF_RESERVED1  20
#define HDR_OFF_PAGE_COUNT 24
#define HDR_OFF_CRC        32
#define HDR_OFF_RESERVED2  36

G_STATIC_ASSERT(FM_STREAM_HEADER_SIZE == 40);
G_STATIC_ASSERT(FM_STREAM_MAX_TEXT + 8 <= FM_STREAM_MAX_BODY);

typedef unsigned long long ull;

static const char *const record_type_names[FM_RECORD_TYPE_LAST] = {
    [FM_RECORD_END] = "END",
    [FM_RECORD_PAGE_DATA] = "PAGE_DATA",
    [FM_RECORD_CPU_STATE] = "CPU_STATE",
    [FM_RECORD_DEVICE_STATE] = "DEVICE_STATE",
    [FM_RECORD_STATS] = "STATS",
    [FM_RECORD_DIGEST] = "DIGEST",
    [FM_RECORD_ROUND_END] = "ROUND_END",
    [FM_RECORD_ABORT] = "ABORT",
    [FM_RECORD_RESULT] = "RESULT",
    [FM_RECORD_ZERO_PAGES] = "ZERO_PAGES",
    [FM_RECORD_PREPARE] = "PREPARE",
    [FM_RECORD_READY] = "READY",
};

/* Returns the protocol name of @type, or NULL if unknown. */
const char *
fm_record_type_name(guint32 type)
{
    if (type >= FM_RECORD_TYPE_LAST)
        return NULL;
    return record_type_names[type];
}

/* The native stream's records, for the record layer (fm-record.h). */
static const FmRecordFormat fm_stream_format = {
    .family = NULL,
    .type_name = fm_record_type_name,
    .align = FM_STREAM_ALIGN,
    .max_body = FM_STREAM_MAX_BODY,
};

/* Returns the CRC-32C of @len bytes (src/util/fm-crc32c.c). */
guint32
fm_stream_crc32c(const void *data, gsize len)
{
    return fm_crc32c(0, data, len);
}

/* Returns the header_crc due for @header (with its CRC field taken as zero). */
guint32
fm_stream_header_crc(const guint8 *header)
{
    guint8 copy[FM_STREAM_HEADER_SIZE];

    g_return_val_if_fail(header != NULL, 0);

    memcpy(copy, header, sizeof(copy));
    fm_put_le32(copy + HDR_OFF_CRC, 0);
    return fm_stream_crc32c(copy, sizeof(copy));
}

/* Returns TRUE for a power of two from 512 to 64 KiB. */
static gboolean
fm_page_size_is_valid(guint64 page_size)
{
    return page_size >= FM_STREAM_MIN_PAGE_SIZE && page_size <= FM_STREAM_MAX_PAGE_SIZE &&
        (page_size & (page_size - 1)) == 0;
}

/* Checks the body length @len of a @type record at @offset before the body is
 * read (docs/stream-format.md §4). */
static gboolean
fm_stream_check_length(guint32 type, guint64 len, guint64 offset, GError **error)
{
    guint64 min = 0;
    guint64 max = FM_STREAM_MAX_BODY;

    switch ((FmRecordType)type) {
    case FM_RECORD_END:
    case FM_RECORD_PREPARE:
    case FM_RECORD_READY:
        max = 0;
        break;
    case FM_RECORD_PAGE_DATA:
        min = 8;
        break;
    case FM_RECORD_CPU_STATE:
    case FM_RECORD_DEVICE_STATE:
        break;
    case FM_RECORD_STATS:
        max = FM_STREAM_MAX_STATS;
        break;
    case FM_RECORD_DIGEST:
        min = 8;
        max = 8 + FM_STREAM_MAX_DIGEST;
        break;
    case FM_RECORD_ROUND_END:
        min = max = 8;
        break;
    case FM_RECORD_ABORT:
        max = FM_STREAM_MAX_TEXT;
        break;
    case FM_RECORD_RESULT:
        min = 8;
        max = 8 + FM_STREAM_MAX_TEXT;
        break;
    case FM_RECORD_ZERO_PAGES:
        min = 16;
        max = 8 + 8 * (guint64)FM_STREAM_MAX_ZERO_PAGES;
        break;
    case FM_RECORD_TYPE_LAST:
        g_return_val_if_reached(FALSE);
    }

    return fm_record_check_length(&fm_stream_format, type, len, min, max, 0, offset,
                                  error);
}

/* Checks the first 8 bytes of a PAGE_DATA body (count, reserved) against the body
 * length @len and @page_size; stores the count in *@count. */
static gboolean
fm_stream_check_page_header(const guint8 *body, guint64 len, gsize page_size,
                            guint64 offset, guint32 *count, GError **error)
{
    guint32 n = fm_get_le32(body);
    guint32 reserved = fm_get_le32(body + 4);
    guint32 max = fm_stream_max_pages_per_record(page_size);

    if (n == 0) {
        fm_record_protocol_error(error, _("PAGE_DATA record at offset %llu has no pages"),
                                 (ull)offset);
        return FALSE;
    }
    if (n > max) {
        fm_record_protocol_error(error, _("PAGE_DATA record at offset %llu has %u pages (at most %u)"),
                                 (ull)offset, n, max);
        return FALSE;
    }
    /* n <= 4096 and page_size <= 64 KiB: no overflow. */
    if (len != 8 + (guint64)n * (8 + page_size)) {
        fm_record_protocol_error(error, _("PAGE_DATA record at offset %llu: body length %llu does not match %u pages of %llu bytes"),
                                 (ull)offset, (ull)len, n, (ull)page_size);
        return FALSE;
    }
    if (reserved != 0) {
        fm_record_protocol_error(error, _("nonzero reserved field 0x%08x at offset %llu"),
                                 reserved, (ull)(offset + 8 + 4));
        return FALSE;
    }
    *count = n;
    return TRUE;
}

/* Checks the @count pfns at @pfns (little-endian u64) of the PAGE_DATA record at
 * @offset against @page_count. */
static gboolean
fm_stream_check_pfns(const guint8 *pfns, guint32 count, guint64 page_count, guint64 offset,
                     GError **error)
{
    for (guint32 i = 0; i < count; i++) {
        guint64 pfn = fm_get_le64(pfns + 8 * (gsize)i);

        if (pfn >= page_count) {
            fm_record_protocol_error(error, _("pfn %llu at offset %llu is out of range (the guest has %llu pages)"),
                                     (ull)pfn, (ull)(offset + 16 + 8 * (guint64)i),
                                     (ull)page_count);
            return FALSE;
        }
    }
    return TRUE;
}

/* Parses and checks a PAGE_DATA body; see the header. */
gboolean
fm_stream_parse_page_data(const guint8 *body, gsize len, guint64 page_count,
                          gsize page_size, guint64 offset, FmPageData *out,
                          GError **error)
{
    guint32 count;

    g_return_val_if_fail(body != NULL || len == 0, FALSE);
    g_return_val_if_fail(fm_page_size_is_valid(page_size), FALSE);
    g_return_val_if_fail(out != NULL, FALSE);

    if (!fm_stream_check_length(FM_RECORD_PAGE_DATA, len, offset, error) ||
        !fm_stream_check_page_header(body, len, page_size, offset, &count, error))
        return FALSE;
    if (!fm_stream_check_pfns(body + 8, count, page_count, offset, error))
        return FALSE;
    out->count = count;
    out->pfns = body + 8;
    out->data = body + 8 + 8 * (gsize)count;
    return TRUE;
}

/* Checks that the @len bytes at @text are UTF-8 without NUL. */
static gboolean
fm_stream_check_text(guint32 type, const guint8 *text, gsize len, guint64 offset,
                     GError **error)
{
    if (len > 0 && !g_utf8_validate_len((const char *)text, len, NULL)) {
        fm_record_protocol_error(error, _("%s record at offset %llu: the text is not valid UTF-8"),
                                 fm_record_type_name(type), (ull)offset);
        return FALSE;
    }
    return TRUE;
}

/* Checks a STATS body: UTF-8 lines "name=value\n". */
static gboolean
fm_stream_check_stats(const guint8 *body, gsize len, guint64 offset, GError **error)
{
    gsize pos = 0;
    guint line = 0;

    if (!fm_stream_check_text(FM_RECORD_STATS, body, len, offset, error))
        return FALSE;
    while (pos < len) {
        const guint8 *nl = memchr(body + pos, '\n', len - pos);
        const guint8 *eq;

        line++;
        if (nl == NULL) {
            fm_record_protocol_error(error, _("STATS record at offset %llu: line %u does not end with a newline"),
                                     (ull)offset, line);
            return FALSE;
        }
        eq = memchr(body + pos, '=', nl - (body + pos));
        if (eq == NULL || eq == body + pos) {
            fm_record_protocol_error(error, _("STATS record at offset %llu: line %u is not of the form name=value"),
                                     (ull)offset, line);
            return FALSE;
        }
        pos = (gsize)(nl - body) + 1;
    }
    return TRUE;
}

/* Checks a DIGEST body (its length is already within the limits). */
static gboolean
fm_stream_check_digest(const guint8 *body, gsize len, guint64 offset, GError **error)
{
    guint32 algorithm = fm_get_le32(body);
    guint32 dlen = fm_get_le32(body + 4);
    const char *name;
    guint32 expected;

    switch (algorithm) {
    case FM_DIGEST_SHA256:
        name = "SHA-256";
        expected = 32;
        break;
    case FM_DIGEST_XXH3_128:
        name = "XXH3-128";
        expected = 16;
        break;
    case FM_DIGEST_XXH3_128_PAGES:
        name = "XXH3-128 of page hashes";
        expected = 16;
        break;
    case FM_DIGEST_FM128:
        /* fragmig 0.1.0's home-made hash, replaced by XXH3-128: dropped rather
         * than kept as a second hash to maintain for reading old streams, which
         * are refused with this message (docs/stream-format.md section 4.4). */
        fm_record_protocol_error(error, _("DIGEST record at offset %llu: the stream's memory digest is fm128, the digest of fragmig 0.1.0, which this version no longer computes: send or save the guest again with this version"),
                          (ull)offset);
        return FALSE;
    default:
        fm_record_protocol_error(error, _("DIGEST record at offset %llu: unknown digest algorithm %u"),
                                 (ull)offset, algorithm);
        return FALSE;
    }
    if (8 + (guint64)dlen != len) {
        fm_record_protocol_error(error, _("DIGEST record at offset %llu: digest length %u does not match the body length %llu"),
                                 (ull)offset, dlen, (ull)len);
        return FALSE;
    }
    if (dlen != expected) {
        fm_record_protocol_error(error, _("DIGEST record at offset %llu: %s digests are %u bytes, not %u"),
                                 (ull)offset, name, expected, dlen);
        return FALSE;
    }
    return TRUE;
}

/* Checks a ZERO_PAGES body (count, reserved, the pfns) of @len bytes (within the
 * limits) and points @out at its pfns (data NULL). */
static gboolean
fm_stream_parse_zero_pages(const guint8 *body, gsize len, guint64 page_count,
                           guint64 offset, FmPageData *out, GError **error)
{
    guint32 n = fm_get_le32(body);
    guint32 reserved = fm_get_le32(body + 4);

    if (n == 0 || len != 8 + 8 * (guint64)n) {
        fm_record_protocol_error(error, _("ZERO_PAGES record at offset %llu: body length %llu does not match %u pages"),
                                 (ull)offset, (ull)len, n);
        return FALSE;
    }
    if (reserved != 0) {
        fm_record_protocol_error(error, _("nonzero reserved field 0x%08x at offset %llu"),
                                 reserved, (ull)(offset + 8 + 4));
        return FALSE;
    }
    if (!fm_stream_check_pfns(body + 8, n, page_count, offset, error))
        return FALSE;
    out->count = n;
    out->pfns = body + 8;
    out->data = NULL;
    return TRUE;
}

/* Checks the content of a record body once read (lengths already checked);
 * parses PAGE_DATA and ZERO_PAGES (pages.data NULL) into @pages. */
static gboolean
fm_stream_check_body(guint32 type, const guint8 *body, gsize len, guint64 page_count,
                     gsize page_size, guint64 offset, FmPageData *pages,
                     GError **error)
{
    switch ((FmRecordType)type) {
    case FM_RECORD_PAGE_DATA:
        return fm_stream_parse_page_data(body, len, page_count, page_size, offset,
                                         pages, error);
    case FM_RECORD_ZERO_PAGES:
        return fm_stream_parse_zero_pages(body, len, page_count, offset, pages, error);
    case FM_RECORD_ROUND_END:
        if (fm_get_le32(body + 4) != 0) {
            fm_record_protocol_error(error, _("nonzero reserved field 0x%08x at offset %llu"),
                                     fm_get_le32(body + 4), (ull)(offset + 8 + 4));
            return FALSE;
        }
        return TRUE;
    case FM_RECORD_DIGEST:
        return fm_stream_check_digest(body, len, offset, error);
    case FM_RECORD_STATS:
        return fm_stream_check_stats(body, len, offset, error);
    case FM_RECORD_ABORT:
        return fm_stream_check_text(type, body, len, offset, error);
    case FM_RECORD_RESULT:
        if (fm_get_le32(body + 4) != 0) {
            fm_record_protocol_error(error, _("nonzero reserved field 0x%08x at offset %llu"),
                                     fm_get_le32(body + 4), (ull)(offset + 8 + 4));
            return FALSE;
        }
        return fm_stream_check_text(type, body + 8, len - 8, offset, error);
    case FM_RECORD_END:
    case FM_RECORD_PREPARE:
    case FM_RECORD_READY:
    case FM_RECORD_CPU_STATE:
    case FM_RECORD_DEVICE_STATE:
        return TRUE;
    case FM_RECORD_TYPE_LAST:
        break;
    }
    g_return_val_if_reached(FALSE);
}

/* Returns a copy of @text that is valid UTF-8 and at most FM_STREAM_MAX_TEXT bytes,
 * cut at a character boundary. */
static char *
fm_stream_wire_text(const char *text)
{
    char *valid = g_utf8_make_valid(text != NULL ? text : "", -1);
    gsize len = strlen(valid);

    if (len > FM_STREAM_MAX_TEXT) {
        gsize cut = FM_STREAM_MAX_TEXT;

        while (cut > 0 && ((guint8)valid[cut] & 0xC0) == 0x80)
            cut--;
        valid[cut] = '\0';
    }
    return valid;
}

/* ---- writer ---- */

typedef enum {
    FM_WRITER_NEW,             /* header not written yet */
    FM_WRITER_RECORDS,
    FM_WRITER_DONE,            /* END or ABORT written */
} FmWriterState;

struct _FmStreamWriter {
    FmRecordWriter *records;   /* knows whether a write failed */
    FmWriterState state;
    guint64 page_count;
    gsize page_size;
    gboolean sent_digest;
    gboolean zero_pages;       /* send pages of zeros as ZERO_PAGES */
};

/* Returns a new writer on the borrowed @channel. */
FmStreamWriter *
fm_stream_writer_new(FmChannel *channel)
{
    FmStreamWriter *writer;

    g_return_val_if_fail(channel != NULL, NULL);

    writer = g_new0(FmStreamWriter, 1);
    writer->records = fm_record_writer_new(channel, &fm_stream_format);
    return writer;
}

/* Frees the writer, not the channel; NULL ok. */
void
fm_stream_writer_free(FmStreamWriter *writer)
{
    if (writer == NULL)
        return;
    fm_record_writer_free(writer->records);
    g_free(writer);
}

/* Returns the stream bytes written so far. */
guint64
fm_stream_writer_get_offset(const FmStreamWriter *writer)
{
    g_return_val_if_fail(writer != NULL, 0);
    return fm_record_writer_get_offset(writer->records);
}

/* Fails with the error of a writer that cannot write any more. */
static gboolean
fm_stream_writer_check_usable(FmStreamWriter *writer, GError **error)
{
    if (!fm_record_writer_check_usable(writer->records, error))
        return FALSE;
    switch (writer->state) {
    case FM_WRITER_RECORDS:
        return TRUE;
    case FM_WRITER_DONE:
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("cannot write to the stream after its END or ABORT record"));
        return FALSE;
    case FM_WRITER_NEW:
        break;
    }
    g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                _("cannot write a record before the stream header"));
    return FALSE;
}

/* Writes the header; see fm-stream.h. */
gboolean
fm_stream_writer_write_header(FmStreamWriter *writer, guint64 page_count,
                              gsize page_size, GError **error)
{
    guint8 header[FM_STREAM_HEADER_SIZE] = { 0 };
    guint64 magic = GUINT64_TO_BE(FM_STREAM_MAGIC);
    FmIoVector vec = { header, sizeof(header) };

    g_return_val_if_fail(writer != NULL, FALSE);
    g_return_val_if_fail(writer->state == FM_WRITER_NEW, FALSE);
    if (!fm_record_writer_check_usable(writer->records, error))
        return FALSE;

    if (!fm_page_size_is_valid(page_size)) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid page size %llu: it must be a power of two from 512 to 65536"),
                    (ull)page_size);
        return FALSE;
    }
    if (page_count == 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid page count 0: a guest has at least one page"));
        return FALSE;
    }
    memcpy(header + HDR_OFF_MAGIC, &magic, sizeof(magic));
    fm_put_le32(header + HDR_OFF_VERSION, FM_STREAM_VERSION);
    fm_put_le32(header + HDR_OFF_PAGE_SIZE, (guint32)page_size);
    fm_put_le64(header + HDR_OFF_PAGE_COUNT, page_count);
    fm_put_le32(header + HDR_OFF_CRC, fm_stream_header_crc(header));

    if (!fm_record_writer_put(writer->records, &vec, 1, error))
        return FALSE;
    writer->page_count = page_count;
    writer->page_size = page_size;
    writer->state = FM_WRITER_RECORDS;
    return TRUE;
}

/* Sends pages of zeros as ZERO_PAGES; see fm-stream.h. */
void
fm_stream_writer_set_zero_pages(FmStreamWriter *writer, gboolean zero_pages)
{
    g_return_if_fail(writer != NULL);
    writer->zero_pages = zero_pages;
}

/* Returns TRUE if the @len bytes at @page (a multiple of 8, 8-aligned) are all
 * zero; stops at the first that is not. */
static gboolean
fm_stream_page_is_zero(const guint8 *page, gsize len)
{
    const guint64 *w = (const guint64 *)(const void *)page;

    for (gsize i = 0; i < len / 8; i += 8) {
        if ((w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] |
             w[i + 7]) != 0)
            return FALSE;
    }
    return TRUE;
}

/* Writes @n pages as records of @type, at most @max a record: PAGE_DATA (count,
 * reserved, the pfns, the pages from @data) or, with @data NULL, ZERO_PAGES (the
 * same without the pages). */
static gboolean
fm_stream_writer_put_pfn_records(FmStreamWriter *writer, guint32 type, guint32 max,
                                 const guint64 *pfns, gsize n, const guint8 *data,
                                 GError **error)
{
    for (gsize done = 0; done < n; ) {
        guint32 count = (guint32)MIN((gsize)max, n - done);
        guint8 head[8];
        FmIoVector vec[3];
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
        const guint64 *wire_pfns = pfns + done;
#else
        g_autofree guint64 *wire_pfns = g_new(guint64, count);

        for (guint32 i = 0; i < count; i++)
            wire_pfns[i] = GUINT64_TO_LE(pfns[done + i]);
#endif

        fm_put_le32(head, count);
        fm_put_le32(head + 4, 0);
        vec[0] = (FmIoVector){ head, sizeof(head) };
        vec[1] = (FmIoVector){ wire_pfns, 8 * (gsize)count };
        if (data != NULL)
            vec[2] = (FmIoVector){ data + done * writer->page_size,
                                   (gsize)count * writer->page_size };
        if (!fm_record_writer_put_record(writer->records, type, vec, data ? 3 : 2, error))
            return FALSE;
        done += count;
    }
    return TRUE;
}

/* Writes @n pfns as ZERO_PAGES records. */
static gboolean
fm_stream_writer_put_zero_pages(FmStreamWriter *writer, const guint64 *pfns, gsize n,
                                GError **error)
{
    return fm_stream_writer_put_pfn_records(writer, FM_RECORD_ZERO_PAGES,
                                            FM_STREAM_MAX_ZERO_PAGES, pfns, n, NULL, error);
}

/* Writes @n pages as PAGE_DATA records (no zero detection). */
static gboolean
fm_stream_writer_put_pages(FmStreamWriter *writer, const guint64 *pfns, gsize n,
                           const guint8 *data, GError **error)
{
    return fm_stream_writer_put_pfn_records(writer, FM_RECORD_PAGE_DATA,
                                            fm_stream_max_pages_per_record(writer->page_size),
                                            pfns, n, data, error);
}

/* Writes @n pages as PAGE_DATA records, and runs of zero pages as ZERO_PAGES when
 * the writer sends them so; see fm-stream.h. */
gboolean
fm_stream_writer_write_pages(FmStreamWriter *writer, const guint64 *pfns, gsize n,
                             const guint8 *data, GError **error)
{
    gsize ps;

    g_return_val_if_fail(writer != NULL, FALSE);
    g_return_val_if_fail(n == 0 || (pfns != NULL && data != NULL), FALSE);

    if (!fm_stream_writer_check_usable(writer, error))
        return FALSE;
    for (gsize i = 0; i < n; i++) {
        if (pfns[i] >= writer->page_count) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("cannot send pfn %llu: the guest has %llu pages"),
                        (ull)pfns[i], (ull)writer->page_count);
            return FALSE;
        }
    }
    if (!writer->zero_pages || ((guintptr)data % 8) != 0)
        return fm_stream_writer_put_pages(writer, pfns, n, data, error);

    /* alternate runs of zero and other pages, in order: a pfn twice in a batch
     * keeps its last version */
    ps = writer->page_size;
    for (gsize i = 0; i < n; ) {
        gboolean zero = fm_stream_page_is_zero(data + i * ps, ps);
        gsize end = i + 1;
        gboolean ok;

        while (end < n && fm_stream_page_is_zero(data + end * ps, ps) == zero)
            end++;
        ok = zero ? fm_stream_writer_put_zero_pages(writer, pfns + i, end - i, error)
                  : fm_stream_writer_put_pages(writer, pfns + i, end - i, data + i * ps,
                                               error);
        if (!ok)
            return FALSE;
        i = end;
    }
    return TRUE;
}

/* Writes one non-page record; see fm-stream.h. */
gboolean
fm_stream_writer_write_record(FmStreamWriter *writer, guint32 type, const void *body,
                              gsize len, GError **error)
{
    g_autoptr(GError) invalid = NULL;
    guint64 offset;
    FmIoVector vec = { body, len };
    FmPageData unused;

    g_return_val_if_fail(writer != NULL, FALSE);
    g_return_val_if_fail(len == 0 || body != NULL, FALSE);

    if (!fm_stream_writer_check_usable(writer, error))
        return FALSE;
    if (type == FM_RECORD_PAGE_DATA || type == FM_RECORD_RESULT ||
        type >= FM_RECORD_TYPE_LAST) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("cannot send a record of type 0x%08x with fm_stream_writer_write_record()"),
                    type);
        return FALSE;
    }
    if (type == FM_RECORD_DIGEST && writer->sent_digest) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("cannot send a second DIGEST record"));
        return FALSE;
    }
    offset = fm_stream_writer_get_offset(writer);
    if (!fm_stream_check_length(type, len, offset, &invalid) ||
        !fm_stream_check_body(type, body, len, writer->page_count, writer->page_size,
                              offset, &unused, &invalid)) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("refusing to send an invalid record: %s"), invalid->message);
        return FALSE;
    }

    if (!fm_record_writer_put_record(writer->records, type, &vec, 1, error))
        return FALSE;
    if (type == FM_RECORD_DIGEST)
        writer->sent_digest = TRUE;
    if (type == FM_RECORD_END || type == FM_RECORD_ABORT)
        writer->state = FM_WRITER_DONE;
    return TRUE;
}

/* Writes END. */
gboolean
fm_stream_writer_write_end(FmStreamWriter *writer, GError **error)
{
    return fm_stream_writer_write_record(writer, FM_RECORD_END, NULL, 0, error);
}

/* Writes ABORT with @reason. */
gboolean
fm_stream_writer_write_abort(FmStreamWriter *writer, const char *reason, GError **error)
{
    g_autofree char *text = fm_stream_wire_text(reason);

    return fm_stream_writer_write_record(writer, FM_RECORD_ABORT, text, strlen(text),
                                         error);
}

/* ---- reader ---- */

typedef enum {
    FM_READER_NEW,
    FM_READER_RECORDS,
    FM_READER_DONE,
    FM_READER_FAILED,
} FmReaderState;

struct _FmStreamReader {
    FmRecordReader *records;   /* offset and body of the current record */
    guint64 max_memory;
    FmReaderState state;
    guint64 page_count;
    gsize page_size;
    gboolean seen_digest;
    guint8 *page_memory;       /* pages go here directly, or NULL */
    gboolean seen_prepare;     /* only END or ABORT may follow PREPARE */
};

/* Returns a new reader on the borrowed @channel. */
FmStreamReader *
fm_stream_reader_new(FmChannel *channel, guint64 max_memory)
{
    FmStreamReader *reader;

    g_return_val_if_fail(channel != NULL, NULL);

    reader = g_new0(FmStreamReader, 1);
    reader->records = fm_record_reader_new(channel, &fm_stream_format);
    reader->max_memory = max_memory;
    return reader;
}

/* Frees the reader, not the channel; NULL ok. */
void
fm_stream_reader_free(FmStreamReader *reader)
{
    if (reader == NULL)
        return;
    fm_record_reader_free(reader->records);
    g_free(reader);
}

/* Pages go straight to @memory; see fm-stream.h. */
void
fm_stream_reader_set_page_memory(FmStreamReader *reader, guint8 *memory)
{
    g_return_if_fail(reader != NULL);
    reader->page_memory = memory;
}

/* Reads and checks the header; see fm-stream.h. */
gboolean
fm_stream_reader_read_header(FmStreamReader *reader, GError **error)
{
    guint8 h[FM_STREAM_HEADER_SIZE];
    guint64 magic;
    guint32 version;
    guint32 value;
    guint32 page_size;
    guint64 page_count;
    gsize got;

    g_return_val_if_fail(reader != NULL, FALSE);
    g_return_val_if_fail(reader->state == FM_READER_NEW, FALSE);
    reader->state = FM_READER_FAILED;

    if (!fm_record_reader_read(reader->records, h, sizeof(h), &got, error))
        return FALSE;
    /* Identify the stream before complaining that it is short: a short file of
     * something else is "not a fragmig stream". */
    if (got >= HDR_OFF_MAGIC + 8) {
        memcpy(&magic, h + HDR_OFF_MAGIC, sizeof(magic));
        magic = GUINT64_FROM_BE(magic);
        if (magic != FM_STREAM_MAGIC) {
            fm_record_protocol_error(error, _("bad magic 0x%016llx at offset 0: not a fragmig stream"),
                                     (ull)magic);
            return FALSE;
        }
    }
    if (got >= HDR_OFF_VERSION + 4) {
        version = fm_get_le32(h + HDR_OFF_VERSION);
        if (version != FM_STREAM_VERSION) {
            fm_record_protocol_error(error, _("unsupported stream version %u at offset 8 (this build reads version %u)"),
                                     version, FM_STREAM_VERSION);
            return FALSE;
        }
    }
    if (got < sizeof(h))
        return fm_record_reader_truncated(reader->records, _("in the stream header"), error);
    value = fm_get_le32(h + HDR_OFF_CRC);
    if (value != fm_stream_header_crc(h)) {
        fm_record_protocol_error(error, _("header checksum mismatch at offset 32: stored 0x%08x, computed 0x%08x"),
                                 value, fm_stream_header_crc(h));
        return FALSE;
    }
    value = fm_get_le32(h + HDR_OFF_FLAGS);
    if (value != 0) {
        fm_record_protocol_error(error, _("unknown stream flags 0x%08x at offset 12"), value);
        return FALSE;
    }
    if (fm_get_le32(h + HDR_OFF_RESERVED1) != 0 || fm_get_le32(h + HDR_OFF_RESERVED2) != 0) {
        guint off = fm_get_le32(h + HDR_OFF_RESERVED1) != 0 ? HDR_OFF_RESERVED1 :
            HDR_OFF_RESERVED2;

        fm_record_protocol_error(error, _("nonzero reserved field 0x%08x at offset %llu"),
                                 fm_get_le32(h + off), (ull)off);
        return FALSE;
    }
    page_size = fm_get_le32(h + HDR_OFF_PAGE_SIZE);
    if (!fm_page_size_is_valid(page_size)) {
        fm_record_protocol_error(error, _("invalid page size %u at offset 16: it must be a power of two from 512 to 65536"),
                                 page_size);
        return FALSE;
    }
    page_count = fm_get_le64(h + HDR_OFF_PAGE_COUNT);
    if (page_count == 0) {
        fm_record_protocol_error(error, _("invalid page count 0 at offset 24"));
        return FALSE;
    }
    if (page_count > reader->max_memory / page_size) {
        g_set_error(error, FM_ERROR, FM_ERROR_LIMIT,
                    _("the guest (%llu pages of %u bytes, at offset 24) exceeds the destination's memory limit of %llu bytes"),
                    (ull)page_count, page_size, (ull)reader->max_memory);
        return FALSE;
    }

    reader->page_size = page_size;
    reader->page_count = page_count;
    reader->state = FM_READER_RECORDS;
    return TRUE;
}

/* Returns the header's page count. */
guint64
fm_stream_reader_get_page_count(const FmStreamReader *reader)
{
    g_return_val_if_fail(reader != NULL, 0);
    return reader->page_count;
}

/* Returns the header's page size. */
gsize
fm_stream_reader_get_page_size(const FmStreamReader *reader)
{
    g_return_val_if_fail(reader != NULL, 0);
    return reader->page_size;
}

/* Returns TRUE once END or ABORT has been read. */
gboolean
fm_stream_reader_is_done(const FmStreamReader *reader)
{
    g_return_val_if_fail(reader != NULL, FALSE);
    return reader->state == FM_READER_DONE;
}

/* Returns the stream bytes consumed so far. */
guint64
fm_stream_reader_get_offset(const FmStreamReader *reader)
{
    g_return_val_if_fail(reader != NULL, 0);
    return fm_record_reader_get_offset(reader->records);
}

/* Reads a PAGE_DATA body of @len bytes whose count @count is checked: the pfns into
 * the body buffer and, once they are checked, each run of consecutive pfns' pages
 * straight into reader->page_memory; then the padding.  Fills @pages. */
static gboolean
fm_stream_reader_read_pages_in_place(FmStreamReader *reader, guint32 count, guint32 len,
                                     guint64 offset, FmPageData *pages, GError **error)
{
    gsize from = 8 + 8 * (gsize)count;
    const guint8 *body;

    if (!fm_record_reader_read_body(reader->records, 8, 8 * (gsize)count, error))
        return FALSE;
    body = fm_record_reader_get_body(reader->records);
    pages->count = count;
    pages->pfns = body + 8;
    pages->data = NULL;
    if (!fm_stream_check_pfns(pages->pfns, count, reader->page_count, offset, error))
        return FALSE;
    for (guint32 i = 0; i < count; ) {
        guint64 pfn = fm_page_data_get_pfn(pages, i);
        guint32 run = 1;

        while (i + run < count && fm_page_data_get_pfn(pages, i + run) == pfn + run)
            run++;
        if (!fm_record_reader_read_body_to(reader->records, from,
                                           reader->page_memory + pfn * reader->page_size,
                                           (gsize)run * reader->page_size, error))
            return FALSE;
        from += (gsize)run * reader->page_size;
        i += run;
    }
    return fm_record_reader_read_rest(reader->records, len, error);
}

/* Reads the body and padding of a record whose header (at @offset) said @type and
 * @len, already checked against the limits; a PAGE_DATA record's pages go in place
 * when the reader has page memory (@pages filled, *@in_place TRUE). */
static gboolean
fm_stream_reader_read_body(FmStreamReader *reader, guint32 type, guint32 len,
                           guint64 offset, FmPageData *pages, gboolean *in_place,
                           GError **error)
{
    gsize head = 0;

    *in_place = FALSE;

    /* The count decides the length of the rest: check it before reading on. */
    if (type == FM_RECORD_PAGE_DATA) {
        guint32 count;

        head = 8;
        if (!fm_record_reader_read_body(reader->records, 0, head, error) ||
            !fm_stream_check_page_header(fm_record_reader_get_body(reader->records), len,
                                         reader->page_size, offset, &count, error))
            return FALSE;
        if (reader->page_memory != NULL) {
            *in_place = TRUE;
            return fm_stream_reader_read_pages_in_place(reader, count, len, offset, pages,
                                                        error);
        }
    }
    return fm_record_reader_read_rest(reader->records, head, error);
}

/* Reads and checks the next record; see fm-stream.h. */
gboolean
fm_stream_reader_next(FmStreamReader *reader, FmStreamRecord *record, GError **error)
{
    const guint8 *body;
    gboolean in_place;
    guint64 offset;
    guint32 type;
    guint32 len;

    g_return_val_if_fail(reader != NULL && record != NULL, FALSE);
    g_return_val_if_fail(reader->state == FM_READER_RECORDS, FALSE);
    reader->state = FM_READER_FAILED;

    if (!fm_record_reader_next_header(reader->records, &type, &len, error))
        return FALSE;
    offset = fm_record_reader_get_record_offset(reader->records);

    if (type >= FM_RECORD_TYPE_LAST) {
        fm_record_protocol_error(error, _("unknown record type 0x%08x at offset %llu"), type,
                                 (ull)offset);
        return FALSE;
    }
    if (type == FM_RECORD_RESULT) {
        fm_record_protocol_error(error, _("unexpected RESULT record at offset %llu: only the destination sends one"),
                                 (ull)offset);
        return FALSE;
    }
    if (type == FM_RECORD_READY) {
        fm_record_protocol_error(error, _("unexpected READY record at offset %llu: only the destination sends one"),
                                 (ull)offset);
        return FALSE;
    }
    if (reader->seen_prepare && type != FM_RECORD_END && type != FM_RECORD_ABORT) {
        fm_record_protocol_error(error, _("%s record at offset %llu after PREPARE (only END or ABORT may follow it)"),
                                 fm_record_type_name(type), (ull)offset);
        return FALSE;
    }
    if (type == FM_RECORD_PREPARE && !reader->seen_digest) {
        fm_record_protocol_error(error, _("PREPARE record at offset %llu before the DIGEST record"),
                                 (ull)offset);
        return FALSE;
    }
    if (type == FM_RECORD_DIGEST && reader->seen_digest) {
        fm_record_protocol_error(error, _("second DIGEST record at offset %llu (a stream has at most one)"),
                                 (ull)offset);
        return FALSE;
    }
    memset(record, 0, sizeof(*record));
    if (!fm_stream_check_length(type, len, offset, error) ||
        !fm_stream_reader_read_body(reader, type, len, offset, &record->pages, &in_place,
                                    error))
        return FALSE;

    body = fm_record_reader_get_body(reader->records);
    if (!in_place &&
        !fm_stream_check_body(type, body, len, reader->page_count, reader->page_size,
                              offset, &record->pages, error))
        return FALSE;

    if (type == FM_RECORD_END || type == FM_RECORD_ABORT) {
        if (!fm_record_reader_check_eof(reader->records, error))
            return FALSE;
        reader->state = FM_READER_DONE;
    } else {
        reader->state = FM_READER_RECORDS;
    }
    if (type == FM_RECORD_DIGEST)
        reader->seen_digest = TRUE;
    if (type == FM_RECORD_PREPARE)
        reader->seen_prepare = TRUE;

    record->type = type;
    record->body = body;
    record->len = len;
    record->offset = offset;
    return TRUE;
}

/* ---- back channel ---- */

/* Writes a RESULT record; see fm-stream.h. */
gboolean
fm_stream_write_result(FmChannel *channel, FmResultStatus status, const char *message,
                       GError **error)
{
    static const guint8 zeros[FM_STREAM_ALIGN];
    g_autofree char *text = fm_stream_wire_text(message);
    gsize len = 8 + strlen(text);
    guint8 head[16];
    FmIoVector vec[3];

    g_return_val_if_fail(channel != NULL, FALSE);

    fm_put_le32(head, FM_RECORD_RESULT);
    fm_put_le32(head + 4, (guint32)len);
    fm_put_le32(head + 8, status);
    fm_put_le32(head + 12, 0);
    vec[0] = (FmIoVector){ head, sizeof(head) };
    vec[1] = (FmIoVector){ text, len - 8 };
    vec[2] = (FmIoVector){ zeros, fm_stream_record_size(len) - 8 - len };
    if (!fm_channel_writev_all(channel, vec, G_N_ELEMENTS(vec), error)) {
        g_prefix_error(error, _("cannot send the reply: "));
        return FALSE;
    }
    return TRUE;
}

/* Writes a READY record; see fm-stream.h. */
gboolean
fm_stream_write_ready(FmChannel *channel, GError **error)
{
    guint8 head[8];
    FmIoVector vec = { head, sizeof(head) };

    g_return_val_if_fail(channel != NULL, FALSE);

    fm_put_le32(head, FM_RECORD_READY);
    fm_put_le32(head + 4, 0);
    if (!fm_channel_writev_all(channel, &vec, 1, error)) {
        g_prefix_error(error, _("cannot send the reply: "));
        return FALSE;
    }
    return TRUE;
}

/* Reads exactly @len bytes of the reply at reply offset *@offset (advanced);
 * end of file first is a truncation error. */
static gboolean
fm_stream_read_reply(FmChannel *channel, guint8 *buf, gsize len, guint64 *offset,
                     GError **error)
{
    gsize got;

    if (!fm_channel_read_upto(channel, buf, len, &got, error)) {
        g_prefix_error(error, _("cannot read the destination's reply: "));
        return FALSE;
    }
    *offset += got;
    if (got < len) {
        fm_record_protocol_error(error, _("the destination's reply is truncated at offset %llu"),
                                 (ull)*offset);
        return FALSE;
    }
    return TRUE;
}

/* Reads the destination's RESULT; see fm-stream.h. */
gboolean
fm_stream_read_result(FmChannel *channel, guint32 *status, char **message,
                      GError **error)
{
    return fm_stream_read_answer(channel, NULL, status, message, error);
}

/* Reads the destination's READY (if @ready is not NULL) or RESULT; see fm-stream.h. */
gboolean
fm_stream_read_answer(FmChannel *channel, gboolean *ready, guint32 *status, char **message,
                     GError **error)
{
    guint8 head[8];
    g_autofree guint8 *body = NULL;
    guint8 pad[FM_STREAM_ALIGN];
    guint64 offset = 0;
    guint32 type;
    guint32 len;
    gsize pad_len;
    gsize got;
    guint8 byte;
    FmPageData unused;
    g_autoptr(GError) ignored = NULL;

    g_return_val_if_fail(channel != NULL && status != NULL && message != NULL, FALSE);

    if (!fm_channel_read_upto(channel, head, sizeof(head), &got, error)) {
        g_prefix_error(error, _("cannot read the destination's reply: "));
        return FALSE;
    }
    if (got == 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("the destination closed the connection without a reply"));
        return FALSE;
    }
    offset = got;
    if (got < sizeof(head)) {
        fm_record_protocol_error(error, _("the destination's reply is truncated at offset %llu"),
                                 (ull)offset);
        return FALSE;
    }
    type = fm_get_le32(head);
    len = fm_get_le32(head + 4);
    if (ready != NULL)
        *ready = FALSE;
    if (ready != NULL && type == FM_RECORD_READY) {
        if (len != 0) {
            fm_record_protocol_error(error, _("READY record with a body of %u bytes in the destination's reply"),
                                     len);
            return FALSE;
        }
        /* the RESULT follows later, after END */
        *ready = TRUE;
        *status = FM_RESULT_OK;
        *message = g_strdup("");
        return TRUE;
    }
    if (type != FM_RECORD_RESULT) {
        fm_record_protocol_error(error, _("unexpected record type 0x%08x in the destination's reply"),
                                 type);
        return FALSE;
    }
    if (!fm_stream_check_length(type, len, 0, error))
        return FALSE;

    pad_len = fm_stream_record_size(len) - 8 - len;
    body = g_malloc(len);
    if (!fm_stream_read_reply(channel, body, len, &offset, error) ||
        !fm_stream_read_reply(channel, pad, pad_len, &offset, error))
        return FALSE;
    for (gsize i = 0; i < pad_len; i++) {
        if (pad[i] != 0) {
            fm_record_protocol_error(error, _("nonzero padding in the %s record at offset %llu"),
                                     "RESULT", 0ull);
            return FALSE;
        }
    }
    if (!fm_stream_check_body(type, body, len, 0, FM_STREAM_MIN_PAGE_SIZE, 0, &unused,
                              error))
        return FALSE;

    /* The destination closes (or shuts down) right after its reply.  A reset at
     * this point cannot change the verdict already read: only data is an error. */
    if (fm_channel_read_upto(channel, &byte, 1, &got, &ignored) && got != 0) {
        fm_record_protocol_error(error, _("trailing data after the %s record, at offset %llu"),
                                 "RESULT", (ull)offset);
        return FALSE;
    }

    *status = fm_get_le32(body);
    *message = g_strndup((const char *)body + 8, len - 8);
    return TRUE;
}

/* Returns the RESULT status for @error. */
FmResultStatus
fm_stream_result_status_from_error(const GError *error)
{
    if (error == NULL || error->domain != FM_ERROR)
        return FM_RESULT_FAILED;
    switch ((FmErrorCode)error->code) {
    case FM_ERROR_PROTOCOL:
        return FM_RESULT_PROTOCOL;
    case FM_ERROR_VERIFY:
        return FM_RESULT_VERIFY;
    case FM_ERROR_LIMIT:
        return FM_RESULT_LIMIT;
    case FM_ERROR_IO:
        return FM_RESULT_IO;
    case FM_ERROR_CANCELLED:
        return FM_RESULT_CANCELLED;
    case FM_ERROR_FAILED:
    case FM_ERROR_INVALID_ARG:
    case FM_ERROR_CONFIG:
    case FM_ERROR_UNSUPPORTED:
    case FM_ERROR_IN_DOUBT:
    case FM_ERROR_BUSY:
        break;
    }
    return FM_RESULT_FAILED;
}

/* Returns the FmErrorCode for a refusal with @status. */
int
fm_stream_result_status_to_error_code(guint32 status)
{
    switch ((FmResultStatus)status) {
    case FM_RESULT_PROTOCOL:
        return FM_ERROR_PROTOCOL;
    case FM_RESULT_VERIFY:
        return FM_ERROR_VERIFY;
    case FM_RESULT_LIMIT:
        return FM_ERROR_LIMIT;
    case FM_RESULT_IO:
        return FM_ERROR_IO;
    case FM_RESULT_CANCELLED:
        return FM_ERROR_CANCELLED;
    case FM_RESULT_OK:
    case FM_RESULT_FAILED:
    case FM_RESULT_STATUS_LAST:
        break;
    }
    return FM_ERROR_FAILED;
}
