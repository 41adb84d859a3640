/*
 * fm-xen-reader.c: the reader of Xen's migration stream (fm-xen-reader.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "stream/fm-xen-reader.h"

#include "stream/fm-record.h"
#include "stream/fm-xen-checks.h"
#include "util/fm-bytes.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

typedef unsigned long long ull;

/* libxl header options that mean something. */
#define FM_XEN_LIBXL_OPT_KNOWN (FM_XEN_LIBXL_OPT_BIG_ENDIAN | FM_XEN_LIBXL_OPT_LEGACY)
/* libxc image header options: bit 0 is the endianness, 1-15 are reserved. */
#define FM_XEN_LIBXC_OPT_BIG_ENDIAN 0x0001u

typedef enum {
    FM_XEN_READER_NEW,         /* libxl header not read yet */
    FM_XEN_READER_LIBXL,       /* between libxl records */
    FM_XEN_READER_LIBXC,       /* between libxc records */
    FM_XEN_READER_DONE,        /* libxl END read */
    FM_XEN_READER_FAILED,
} FmXenReaderState;

struct _FmXenStreamReader {
    FmRecordReader *records;   /* in the format of the current layer */
    guint64 max_pfns;
    FmXenReaderState state;
    guint32 libxl_options;
    gboolean libxc_seen;       /* LIBXC_CONTEXT read */
    guint32 domain_type;
    guint32 xen_major;
    guint32 xen_minor;
    FmXenLibxcState xc;
};

/* Returns a new reader on the borrowed @channel. */
FmXenStreamReader *
fm_xen_stream_reader_new(FmChannel *channel, guint64 max_pfns)
{
    FmXenStreamReader *reader;

    g_return_val_if_fail(channel != NULL, NULL);

    reader = g_new0(FmXenStreamReader, 1);
    reader->records = fm_record_reader_new(channel, &fm_xen_libxl_format);
    reader->max_pfns = max_pfns;
    return reader;
}

/* Frees the reader, not the channel; NULL ok. */
void
fm_xen_stream_reader_free(FmXenStreamReader *reader)
{
    if (reader == NULL)
        return;
    fm_record_reader_free(reader->records);
    g_free(reader);
}

/* Reads and checks the libxl header; see fm-xen-reader.h. */
gboolean
fm_xen_stream_reader_read_header(FmXenStreamReader *reader, GError **error)
{
    guint8 h[FM_XEN_LIBXL_HEADER_SIZE];
    guint64 ident;
    guint32 version;
    guint32 options;
    gsize got;

    g_return_val_if_fail(reader != NULL, FALSE);
    g_return_val_if_fail(reader->state == FM_XEN_READER_NEW, FALSE);
    reader->state = FM_XEN_READER_FAILED;

    if (!fm_record_reader_read(reader->records, h, sizeof(h), &got, error))
        return FALSE;
    /* Identify the stream before complaining that it is short. */
    if (got >= 8) {
        ident = fm_get_be64(h);
        if (ident != FM_XEN_LIBXL_IDENT) {
            fm_record_protocol_error(error, _("bad ident 0x%016llx at offset 0: not a libxl migration stream"),
                                     (ull)ident);
            return FALSE;
        }
    }
    if (got < sizeof(h))
        return fm_record_reader_truncated(reader->records, _("in the libxl header"), error);
    version = fm_get_be32(h + 8);
    if (version != FM_XEN_LIBXL_VERSION) {
        fm_record_protocol_error(error, _("unsupported libxl stream version %u at offset 8 (this build reads version %u)"),
                                 version, FM_XEN_LIBXL_VERSION);
        return FALSE;
    }
    options = fm_get_be32(h + 12);
    if (options & ~FM_XEN_LIBXL_OPT_KNOWN) {
        fm_record_protocol_error(error, _("reserved libxl stream options 0x%08x set at offset 12"),
                                 options & ~FM_XEN_LIBXL_OPT_KNOWN);
        return FALSE;
    }
    if (options & FM_XEN_LIBXL_OPT_BIG_ENDIAN) {
        fm_record_protocol_error(error, _("big-endian libxl stream (options 0x%08x at offset 12): only little-endian streams are supported"),
                                 options);
        return FALSE;
    }
    reader->libxl_options = options;
    reader->state = FM_XEN_READER_LIBXL;
    return TRUE;
}

/* Reads and checks the libxc image and domain headers after LIBXC_CONTEXT. */
static gboolean
fm_xen_reader_read_libxc_headers(FmXenStreamReader *reader, GError **error)
{
    guint8 ih[FM_XEN_LIBXC_IMAGE_HEADER_SIZE];
    guint8 dh[FM_XEN_LIBXC_DOMAIN_HEADER_SIZE];
    guint64 at = fm_record_reader_get_offset(reader->records);
    guint64 marker;
    guint32 value;
    guint16 options;

    if (!fm_record_reader_fill(reader->records, ih, sizeof(ih),
                               _("in the libxc image header"), error))
        return FALSE;
    marker = fm_get_be64(ih);
    if (marker != FM_XEN_LIBXC_MARKER) {
        fm_record_protocol_error(error, _("bad libxc image marker 0x%016llx at offset %llu"),
                                 (ull)marker, (ull)at);
        return FALSE;
    }
    value = fm_get_be32(ih + 8);
    if (value != FM_XEN_LIBXC_ID) {
        fm_record_protocol_error(error, _("bad libxc image id 0x%08x at offset %llu (expected 0x%08x, \"XENF\")"),
                                 value, (ull)(at + 8), FM_XEN_LIBXC_ID);
        return FALSE;
    }
    value = fm_get_be32(ih + 12);
    if (value < 2 || value > FM_XEN_LIBXC_VERSION) {
        fm_record_protocol_error(error, _("unsupported libxc stream version %u at offset %llu (this build reads versions 2 and 3)"),
                                 value, (ull)(at + 12));
        return FALSE;
    }
    reader->xc.version = value;
    options = fm_get_be16(ih + 16);
    if (options & ~FM_XEN_LIBXC_OPT_BIG_ENDIAN) {
        fm_record_protocol_error(error, _("reserved libxc image options 0x%04x set at offset %llu"),
                                 options & ~FM_XEN_LIBXC_OPT_BIG_ENDIAN, (ull)(at + 16));
        return FALSE;
    }
    if (options & FM_XEN_LIBXC_OPT_BIG_ENDIAN) {
        fm_record_protocol_error(error, _("big-endian libxc stream (options 0x%04x at offset %llu): only little-endian streams are supported"),
                                 options, (ull)(at + 16));
        return FALSE;
    }
    if (fm_get_be16(ih + 18) != 0 || fm_get_be32(ih + 20) != 0) {
        guint off = fm_get_be16(ih + 18) != 0 ? 18 : 20;

        fm_record_protocol_error(error, _("nonzero reserved field 0x%llx at offset %llu"),
                                 (ull)(off == 18 ? fm_get_be16(ih + 18) : fm_get_be32(ih + 20)),
                                 (ull)(at + off));
        return FALSE;
    }

    at = fm_record_reader_get_offset(reader->records);
    if (!fm_record_reader_fill(reader->records, dh, sizeof(dh),
                               _("in the libxc domain header"), error))
        return FALSE;
    value = fm_get_le32(dh);
    if (value != FM_XEN_DOMAIN_X86_HVM && value != FM_XEN_DOMAIN_X86_PV) {
        fm_record_protocol_error(error, _("unknown libxc domain type %u at offset %llu"), value,
                                 (ull)at);
        return FALSE;
    }
    reader->domain_type = value;
    reader->xc.domain_type = value;
    value = fm_get_le16(dh + 4);
    if (value != FM_XEN_PAGE_SHIFT) {
        fm_record_protocol_error(error, _("invalid page shift %u at offset %llu (x86 pages are 4096 bytes: 12)"),
                                 value, (ull)(at + 4));
        return FALSE;
    }
    if (fm_get_le16(dh + 6) != 0) {
        fm_record_protocol_error(error, _("nonzero reserved field 0x%llx at offset %llu"),
                                 (ull)fm_get_le16(dh + 6), (ull)(at + 6));
        return FALSE;
    }
    reader->xen_major = fm_get_le32(dh + 8);
    reader->xen_minor = fm_get_le32(dh + 12);
    return TRUE;
}

/* Reads the next libxl record (header at @offset: @type, @len) into @record. */
static gboolean
fm_xen_reader_libxl_record(FmXenStreamReader *reader, guint32 type, guint32 len,
                           guint64 offset, FmXenRecord *record, GError **error)
{
    const char *name = fm_xen_libxl_record_name(type);
    const guint8 *body;
    guint64 min = 0, max = 0;

    switch ((FmXenLibxlRecordType)type) {
    case FM_XEN_LIBXL_REC_END:
        if (!reader->libxc_seen) {
            fm_record_protocol_error(error, _("libxl END record at offset %llu before any libxc stream"),
                                     (ull)offset);
            return FALSE;
        }
        break;
    case FM_XEN_LIBXL_REC_LIBXC_CONTEXT:
        if (reader->libxc_seen) {
            fm_record_protocol_error(error, _("second libxl LIBXC_CONTEXT record at offset %llu (a stream carries one libxc stream)"),
                                     (ull)offset);
            return FALSE;
        }
        break;
    case FM_XEN_LIBXL_REC_EMULATOR_XENSTORE_DATA:
    case FM_XEN_LIBXL_REC_EMULATOR_CONTEXT:
        min = 8;
        max = FM_XEN_REC_LENGTH_MAX;
        break;
    case FM_XEN_LIBXL_REC_CHECKPOINT_END:
    case FM_XEN_LIBXL_REC_CHECKPOINT_STATE:
        fm_record_protocol_error(error, _("libxl %s record at offset %llu in a stream that is not checkpointed"),
                                 name, (ull)offset);
        return FALSE;
    case FM_XEN_LIBXL_REC_TYPE_LAST:
    default:
        fm_record_protocol_error(error, _("unknown libxl record type 0x%08x at offset %llu"),
                                 type, (ull)offset);
        return FALSE;
    }
    if (!fm_record_check_length(&fm_xen_libxl_format, type, len, min, max, 0, offset,
                                error) ||
        !fm_record_reader_read_rest(reader->records, 0, error))
        return FALSE;
    body = fm_record_reader_get_body(reader->records);

    if (min == 8) {
        record->emulator_id = fm_get_le32(body);
        record->emulator_index = fm_get_le32(body + 4);
        if (!fm_xen_check_emulator(type, record->emulator_id, body + 8, len - 8,
                                   (reader->libxl_options & FM_XEN_LIBXL_OPT_LEGACY) != 0,
                                   offset, error))
            return FALSE;
    }
    if (type == FM_XEN_LIBXL_REC_LIBXC_CONTEXT) {
        if (!fm_xen_reader_read_libxc_headers(reader, error))
            return FALSE;
        reader->libxc_seen = TRUE;
        reader->state = FM_XEN_READER_LIBXC;
        fm_record_reader_set_format(reader->records, &fm_xen_libxc_format);
    } else if (type == FM_XEN_LIBXL_REC_END) {
        reader->state = FM_XEN_READER_DONE;
    } else {
        reader->state = FM_XEN_READER_LIBXL;
    }
    return TRUE;
}

/* Reads the next libxc record (header at @offset: @type, @len) into @record. */
static gboolean
fm_xen_reader_libxc_record(FmXenStreamReader *reader, guint32 type, guint32 len,
                           guint64 offset, FmXenRecord *record, GError **error)
{
    FmXenPageData pages = { 0 };
    gsize head = 0;

    if (!fm_xen_libxc_check_header(&reader->xc, type, len, offset, error))
        return FALSE;
    /* The count says how much of the rest are pfns: check it before reading on. */
    if (type == FM_XEN_LIBXC_REC_PAGE_DATA) {
        guint32 count;

        head = 8;
        if (!fm_record_reader_read_body(reader->records, 0, head, error) ||
            !fm_xen_check_page_data_head(fm_record_reader_get_body(reader->records), len,
                                         offset, &count, error))
            return FALSE;
    }
    if (!fm_record_reader_read_rest(reader->records, head, error) ||
        !fm_xen_libxc_check_body(&reader->xc, type,
                                 fm_record_reader_get_body(reader->records), len, offset,
                                 reader->max_pfns, &pages, error))
        return FALSE;
    record->count = pages.count;
    record->data_pages = pages.data_pages;
    record->pfns = pages.pfns;
    record->data = pages.data;
    fm_xen_libxc_state_apply(&reader->xc, type, fm_record_reader_get_body(reader->records));
    if (type == FM_XEN_LIBXC_REC_END) {
        reader->state = FM_XEN_READER_LIBXL;
        fm_record_reader_set_format(reader->records, &fm_xen_libxl_format);
    } else {
        reader->state = FM_XEN_READER_LIBXC;
    }
    return TRUE;
}

/* Reads and checks the next record; see fm-xen-reader.h. */
gboolean
fm_xen_stream_reader_next(FmXenStreamReader *reader, FmXenRecord *record,
                          GError **error)
{
    FmXenLayer layer;
    guint64 offset;
    guint32 type;
    guint32 len;
    gboolean ok;

    g_return_val_if_fail(reader != NULL && record != NULL, FALSE);
    g_return_val_if_fail(reader->state == FM_XEN_READER_LIBXL ||
                         reader->state == FM_XEN_READER_LIBXC, FALSE);
    layer = reader->state == FM_XEN_READER_LIBXC ? FM_XEN_LAYER_LIBXC : FM_XEN_LAYER_LIBXL;
    reader->state = FM_XEN_READER_FAILED;

    if (!fm_record_reader_next_header(reader->records, &type, &len, error))
        return FALSE;
    offset = fm_record_reader_get_record_offset(reader->records);

    memset(record, 0, sizeof(*record));
    if (layer == FM_XEN_LAYER_LIBXC)
        ok = fm_xen_reader_libxc_record(reader, type, len, offset, record, error);
    else
        ok = fm_xen_reader_libxl_record(reader, type, len, offset, record, error);
    if (!ok) {
        reader->state = FM_XEN_READER_FAILED;
        return FALSE;
    }
    record->layer = layer;
    record->type = type;
    record->body = fm_record_reader_get_body(reader->records);
    record->len = len;
    record->offset = offset;
    return TRUE;
}

/* Returns TRUE once the libxl END has been read. */
gboolean
fm_xen_stream_reader_is_done(const FmXenStreamReader *reader)
{
    g_return_val_if_fail(reader != NULL, FALSE);
    return reader->state == FM_XEN_READER_DONE;
}

/* Checks that nothing follows the libxl END; see fm-xen-reader.h. */
gboolean
fm_xen_stream_reader_check_eof(FmXenStreamReader *reader, GError **error)
{
    g_return_val_if_fail(reader != NULL, FALSE);
    g_return_val_if_fail(reader->state == FM_XEN_READER_DONE, FALSE);

    return fm_record_reader_check_eof(reader->records, error);
}

/* Returns the libxl header's options. */
guint32
fm_xen_stream_reader_get_libxl_options(const FmXenStreamReader *reader)
{
    g_return_val_if_fail(reader != NULL, 0);
    return reader->libxl_options;
}

/* Returns the libxc image header's version, 0 before LIBXC_CONTEXT. */
guint32
fm_xen_stream_reader_get_libxc_version(const FmXenStreamReader *reader)
{
    g_return_val_if_fail(reader != NULL, 0);
    return reader->libxc_seen ? reader->xc.version : 0;
}

/* Returns the libxc domain header's type, 0 before LIBXC_CONTEXT. */
guint32
fm_xen_stream_reader_get_domain_type(const FmXenStreamReader *reader)
{
    g_return_val_if_fail(reader != NULL, 0);
    return reader->domain_type;
}

/* Stores the domain header's Xen version (0.0 before LIBXC_CONTEXT). */
void
fm_xen_stream_reader_get_xen_version(const FmXenStreamReader *reader, guint32 *major,
                                     guint32 *minor)
{
    g_return_if_fail(reader != NULL);
    if (major != NULL)
        *major = reader->xen_major;
    if (minor != NULL)
        *minor = reader->xen_minor;
}

/* Returns the stream bytes consumed so far. */
guint64
fm_xen_stream_reader_get_offset(const FmXenStreamReader *reader)
{
    g_return_val_if_fail(reader != NULL, 0);
    return fm_record_reader_get_offset(reader->records);
}
