/*
 * fm-xen-writer.c: the writer of Xen's migration stream (fm-xen-writer.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "stream/fm-xen-writer.h"

#include <string.h>

#include "stream/fm-record.h"
#include "stream/fm-xen-checks.h"
#include "util/fm-bytes.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

typedef unsigned long long ull;

G_STATIC_ASSERT(8 + FM_XEN_PAGE_DATA_MAX_BATCH * (8 + (guint64)FM_XEN_PAGE_SIZE) <=
                FM_XEN_REC_LENGTH_MAX);

typedef enum {
    FM_XEN_WRITER_NEW,         /* nothing written */
    FM_XEN_WRITER_LIBXL_HEAD,  /* libxl header written: LIBXC_CONTEXT next */
    FM_XEN_WRITER_LIBXC,       /* inside the libxc stream */
    FM_XEN_WRITER_LIBXL_TAIL,  /* libxc END written: emulator records, libxl END */
    FM_XEN_WRITER_DONE,        /* libxl END written */
} FmXenWriterState;

struct _FmXenStreamWriter {
    FmRecordWriter *records;   /* knows whether a write failed */
    FmXenWriterState state;
    FmXenLibxcState xc;
    guint64 entries[FM_XEN_PAGE_DATA_MAX_BATCH];  /* pfn entries of one PAGE_DATA */
};

/* Returns a new writer on the borrowed @channel. */
FmXenStreamWriter *
fm_xen_stream_writer_new(FmChannel *channel)
{
    FmXenStreamWriter *writer;

    g_return_val_if_fail(channel != NULL, NULL);

    writer = g_new0(FmXenStreamWriter, 1);
    /* Both layers frame records alike: one record writer serves both. */
    writer->records = fm_record_writer_new(channel, &fm_xen_libxl_format);
    return writer;
}

/* Frees the writer, not the channel; NULL ok. */
void
fm_xen_stream_writer_free(FmXenStreamWriter *writer)
{
    if (writer == NULL)
        return;
    fm_record_writer_free(writer->records);
    g_free(writer);
}

/* Returns the stream bytes written so far. */
guint64
fm_xen_stream_writer_get_offset(const FmXenStreamWriter *writer)
{
    g_return_val_if_fail(writer != NULL, 0);
    return fm_record_writer_get_offset(writer->records);
}

/* Fails unless the writer is in @expected; @misplaced is the message for a call
 * out of order. */
static gboolean
fm_xen_writer_check_state(FmXenStreamWriter *writer, FmXenWriterState expected,
                          const char *misplaced, GError **error)
{
    if (!fm_record_writer_check_usable(writer->records, error))
        return FALSE;
    if (writer->state == expected)
        return TRUE;
    if (writer->state == FM_XEN_WRITER_DONE)
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("cannot write to the stream after its libxl END record"));
    else
        g_set_error_literal(error, FM_ERROR, FM_ERROR_FAILED, misplaced);
    return FALSE;
}

/* Writes one record: @type, then @sub (@sub_len bytes, the emulator sub-header or
 * nothing) and @body (@len bytes) as its body, then the padding. */
static gboolean
fm_xen_writer_put_record(FmXenStreamWriter *writer, guint32 type, const guint8 *sub,
                         gsize sub_len, const void *body, gsize len, GError **error)
{
    FmIoVector vec[2] = { { sub, sub_len }, { body, len } };

    return fm_record_writer_put_record(writer->records, type, vec, G_N_ELEMENTS(vec),
                                       error);
}

/* Turns the reader's verdict @invalid on a record into the writer's refusal. */
static void
fm_xen_writer_refuse(GError **error, const GError *invalid)
{
    g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                _("refusing to write an invalid record: %s"), invalid->message);
}

/* Writes the libxl header; see fm-xen-writer.h. */
gboolean
fm_xen_stream_writer_write_libxl_header(FmXenStreamWriter *writer, GError **error)
{
    guint8 header[FM_XEN_LIBXL_HEADER_SIZE];
    FmIoVector vec = { header, sizeof(header) };

    g_return_val_if_fail(writer != NULL, FALSE);

    if (!fm_xen_writer_check_state(writer, FM_XEN_WRITER_NEW,
                                   _("the libxl header has already been written"), error))
        return FALSE;
    fm_put_be64(header, FM_XEN_LIBXL_IDENT);
    fm_put_be32(header + 8, FM_XEN_LIBXL_VERSION);
    fm_put_be32(header + 12, 0);             /* little-endian, not legacy */
    if (!fm_record_writer_put(writer->records, &vec, 1, error))
        return FALSE;
    writer->state = FM_XEN_WRITER_LIBXL_HEAD;
    return TRUE;
}

/* Writes LIBXC_CONTEXT and the libxc headers; see fm-xen-writer.h. */
gboolean
fm_xen_stream_writer_begin_libxc(FmXenStreamWriter *writer, guint32 domain_type,
                                 guint32 xen_major, guint32 xen_minor, GError **error)
{
    guint8 buf[8 + FM_XEN_LIBXC_IMAGE_HEADER_SIZE + FM_XEN_LIBXC_DOMAIN_HEADER_SIZE] = { 0 };
    guint8 *image = buf + 8;
    guint8 *domain = image + FM_XEN_LIBXC_IMAGE_HEADER_SIZE;
    FmIoVector vec = { buf, sizeof(buf) };

    g_return_val_if_fail(writer != NULL, FALSE);

    if (!fm_xen_writer_check_state(writer, FM_XEN_WRITER_LIBXL_HEAD,
                                   _("the libxc stream comes once, right after the libxl header"),
                                   error))
        return FALSE;
    if (domain_type != FM_XEN_DOMAIN_X86_HVM && domain_type != FM_XEN_DOMAIN_X86_PV) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("cannot write a stream of libxc domain type %u: only x86 HVM (HVM and PVH guests) and x86 PV are supported"),
                    domain_type);
        return FALSE;
    }
    if (xen_major == 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid Xen version 0.%u: a major version 0 marks streams converted from the legacy format"),
                    xen_minor);
        return FALSE;
    }
    /* LIBXC_CONTEXT: an empty libxl record. */
    fm_put_le32(buf, FM_XEN_LIBXL_REC_LIBXC_CONTEXT);
    fm_put_le32(buf + 4, 0);
    /* Image header, big-endian: marker, id, version, options, reserved. */
    fm_put_be64(image, FM_XEN_LIBXC_MARKER);
    fm_put_be32(image + 8, FM_XEN_LIBXC_ID);
    fm_put_be32(image + 12, FM_XEN_LIBXC_VERSION);
    fm_put_be16(image + 16, 0);              /* little-endian */
    /* Domain header: type, page_shift, reserved, xen_major, xen_minor. */
    fm_put_le32(domain, domain_type);
    fm_put_le16(domain + 4, FM_XEN_PAGE_SHIFT);
    fm_put_le32(domain + 8, xen_major);
    fm_put_le32(domain + 12, xen_minor);
    if (!fm_record_writer_put(writer->records, &vec, 1, error))
        return FALSE;
    memset(&writer->xc, 0, sizeof(writer->xc));
    writer->xc.version = FM_XEN_LIBXC_VERSION;
    writer->xc.domain_type = domain_type;
    writer->state = FM_XEN_WRITER_LIBXC;
    return TRUE;
}

/* Writes one libxc record other than PAGE_DATA and END; see fm-xen-writer.h. */
gboolean
fm_xen_stream_writer_write_libxc_record(FmXenStreamWriter *writer, guint32 type,
                                        const void *body, gsize len, GError **error)
{
    g_autoptr(GError) invalid = NULL;
    FmXenPageData unused;
    guint64 offset;

    g_return_val_if_fail(writer != NULL, FALSE);
    g_return_val_if_fail(len == 0 || body != NULL, FALSE);

    if (!fm_xen_writer_check_state(writer, FM_XEN_WRITER_LIBXC,
                                   _("cannot write a libxc record outside the libxc stream"),
                                   error))
        return FALSE;
    if (type == FM_XEN_LIBXC_REC_PAGE_DATA || type == FM_XEN_LIBXC_REC_END) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("cannot write a libxc %s record with fm_xen_stream_writer_write_libxc_record()"),
                    fm_xen_libxc_record_name(type));
        return FALSE;
    }
    offset = fm_xen_stream_writer_get_offset(writer);
    if (!fm_xen_libxc_check_header(&writer->xc, type, len, offset, &invalid) ||
        !fm_xen_libxc_check_body(&writer->xc, type, body, len, offset, G_MAXUINT64,
                                 &unused, &invalid)) {
        fm_xen_writer_refuse(error, invalid);
        return FALSE;
    }
    if (!fm_xen_writer_put_record(writer, type, NULL, 0, body, len, error))
        return FALSE;
    fm_xen_libxc_state_apply(&writer->xc, type, body);
    return TRUE;
}

/* Writes pages as PAGE_DATA records; see fm-xen-writer.h. */
gboolean
fm_xen_stream_writer_write_pages(FmXenStreamWriter *writer, const guint64 *pfns,
                                 const guint8 *types, gsize n, const guint8 *data,
                                 GError **error)
{
    g_autoptr(GError) invalid = NULL;
    gsize data_done = 0;
    gsize data_total = 0;

    g_return_val_if_fail(writer != NULL, FALSE);
    g_return_val_if_fail(n == 0 || pfns != NULL, FALSE);

    if (!fm_xen_writer_check_state(writer, FM_XEN_WRITER_LIBXC,
                                   _("cannot write a libxc record outside the libxc stream"),
                                   error))
        return FALSE;
    if (!fm_xen_libxc_check_header(&writer->xc, FM_XEN_LIBXC_REC_PAGE_DATA, 16,
                                   fm_xen_stream_writer_get_offset(writer), &invalid)) {
        fm_xen_writer_refuse(error, invalid);
        return FALSE;
    }
    for (gsize i = 0; i < n; i++) {
        guint32 type = types != NULL ? types[i] : FM_XEN_PAGE_NOTAB;

        if (pfns[i] > FM_XEN_PFN_MASK) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("cannot write pfn 0x%llx: a pfn has at most 52 bits"),
                        (ull)pfns[i]);
            return FALSE;
        }
        if (fm_xen_page_type_name(type) == NULL) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("cannot write pfn 0x%llx with the reserved page type 0x%x"),
                        (ull)pfns[i], type);
            return FALSE;
        }
        if (writer->xc.domain_type == FM_XEN_DOMAIN_X86_PV &&
            pfns[i] > writer->xc.pv_end_pfn) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("cannot write pfn 0x%llx: X86_PV_P2M_FRAMES ends at pfn 0x%llx"),
                        (ull)pfns[i], (ull)writer->xc.pv_end_pfn);
            return FALSE;
        }
        if (writer->xc.domain_type != FM_XEN_DOMAIN_X86_PV && type != FM_XEN_PAGE_NOTAB &&
            fm_xen_page_type_has_data(type)) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("cannot write pfn 0x%llx as a %s page: page tables are typed in x86 PV streams only"),
                        (ull)pfns[i], fm_xen_page_type_name(type));
            return FALSE;
        }
        if (fm_xen_page_type_has_data(type))
            data_total++;
    }
    g_return_val_if_fail(data_total == 0 || data != NULL, FALSE);

    for (gsize done = 0; done < n; ) {
        guint32 count = (guint32)MIN((gsize)FM_XEN_PAGE_DATA_MAX_BATCH, n - done);
        guint32 with_data = 0;
        guint8 head[8];
        FmIoVector vec[3];

        for (guint32 i = 0; i < count; i++) {
            guint32 type = types != NULL ? types[done + i] : FM_XEN_PAGE_NOTAB;

            writer->entries[i] = GUINT64_TO_LE(fm_xen_pfn_entry(pfns[done + i], type));
            if (fm_xen_page_type_has_data(type))
                with_data++;
        }
        /* Body: count, reserved, the pfn entries, the pages with data. */
        fm_put_le32(head, count);
        fm_put_le32(head + 4, 0);
        vec[0] = (FmIoVector){ head, sizeof(head) };
        vec[1] = (FmIoVector){ writer->entries, 8 * (gsize)count };
        vec[2] = (FmIoVector){ with_data > 0 ? data + data_done * FM_XEN_PAGE_SIZE : NULL,
                               (gsize)with_data * FM_XEN_PAGE_SIZE };
        if (!fm_record_writer_put_record(writer->records, FM_XEN_LIBXC_REC_PAGE_DATA, vec,
                                         G_N_ELEMENTS(vec), error))
            return FALSE;
        fm_xen_libxc_state_apply(&writer->xc, FM_XEN_LIBXC_REC_PAGE_DATA, NULL);
        done += count;
        data_done += with_data;
    }
    return TRUE;
}

/* Writes the libxc END; see fm-xen-writer.h. */
gboolean
fm_xen_stream_writer_end_libxc(FmXenStreamWriter *writer, GError **error)
{
    g_autoptr(GError) invalid = NULL;

    g_return_val_if_fail(writer != NULL, FALSE);

    if (!fm_xen_writer_check_state(writer, FM_XEN_WRITER_LIBXC,
                                   _("cannot write a libxc record outside the libxc stream"),
                                   error))
        return FALSE;
    if (!fm_xen_libxc_check_header(&writer->xc, FM_XEN_LIBXC_REC_END, 0,
                                   fm_xen_stream_writer_get_offset(writer), &invalid)) {
        fm_xen_writer_refuse(error, invalid);
        return FALSE;
    }
    if (!fm_xen_writer_put_record(writer, FM_XEN_LIBXC_REC_END, NULL, 0, NULL, 0, error))
        return FALSE;
    writer->state = FM_XEN_WRITER_LIBXL_TAIL;
    return TRUE;
}

/* Writes an emulator record; see fm-xen-writer.h. */
gboolean
fm_xen_stream_writer_write_emulator_record(FmXenStreamWriter *writer, guint32 type,
                                           guint32 emulator_id, guint32 index,
                                           const void *body, gsize len, GError **error)
{
    g_autoptr(GError) invalid = NULL;
    guint64 offset;
    guint8 sub[8];

    g_return_val_if_fail(writer != NULL, FALSE);
    g_return_val_if_fail(len == 0 || body != NULL, FALSE);

    if (!fm_xen_writer_check_state(writer, FM_XEN_WRITER_LIBXL_TAIL,
                                   _("emulator records come after the libxc END and before the libxl END"),
                                   error))
        return FALSE;
    if (type != FM_XEN_LIBXL_REC_EMULATOR_XENSTORE_DATA &&
        type != FM_XEN_LIBXL_REC_EMULATOR_CONTEXT) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("libxl record type 0x%08x is not an emulator record"), type);
        return FALSE;
    }
    offset = fm_xen_stream_writer_get_offset(writer);
    if (!fm_xen_check_emulator_length(type, len, offset, &invalid) ||
        !fm_xen_check_emulator(type, emulator_id, body, len, FALSE, offset, &invalid)) {
        fm_xen_writer_refuse(error, invalid);
        return FALSE;
    }
    fm_put_le32(sub, emulator_id);
    fm_put_le32(sub + 4, index);
    return fm_xen_writer_put_record(writer, type, sub, sizeof(sub), body, len, error);
}

/* Writes the libxl END; see fm-xen-writer.h. */
gboolean
fm_xen_stream_writer_write_libxl_end(FmXenStreamWriter *writer, GError **error)
{
    g_return_val_if_fail(writer != NULL, FALSE);

    if (!fm_xen_writer_check_state(writer, FM_XEN_WRITER_LIBXL_TAIL,
                                   _("cannot write the libxl END before the libxc END"),
                                   error))
        return FALSE;
    if (!fm_xen_writer_put_record(writer, FM_XEN_LIBXL_REC_END, NULL, 0, NULL, 0, error))
        return FALSE;
    writer->state = FM_XEN_WRITER_DONE;
    return TRUE;
}
