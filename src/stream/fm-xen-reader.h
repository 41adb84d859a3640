/*
 * fm-xen-reader.h: the reader of Xen's migration stream (fm-xen-format.h).  It
 * trusts nothing: every length, count and field is checked before it is used,
 * with the checks the writer applies too (fm-xen-checks.h), and memory for a body
 * grows only as its bytes arrive (fm-record.h).  After an error the reader is
 * unusable.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <string.h>

#include "stream/fm-xen-format.h"
#include "transport/fm-channel.h"

G_BEGIN_DECLS

typedef struct _FmXenStreamReader FmXenStreamReader;

typedef enum {
    FM_XEN_LAYER_LIBXL,
    FM_XEN_LAYER_LIBXC,
} FmXenLayer;

/* One record, as returned by fm_xen_stream_reader_next(). */
typedef struct {
    FmXenLayer layer;          /* whose record type @type is */
    guint32 type;
    const guint8 *body;        /* owned by the reader, valid until its next call */
    gsize len;                 /* body length, without padding */
    guint64 offset;            /* stream offset of the record header */
    /* PAGE_DATA (libxc) */
    guint32 count;             /* pfn entries: fm_xen_record_get_pfn() */
    guint32 data_pages;        /* pages with data, at @data, in pfn order */
    const guint8 *pfns;        /* count little-endian u64 entries */
    const guint8 *data;        /* data_pages * FM_XEN_PAGE_SIZE bytes */
    /* EMULATOR_XENSTORE_DATA, EMULATOR_CONTEXT (libxl): the sub-header; the
     * emulator's data is @body + 8, @len - 8 bytes */
    guint32 emulator_id;
    guint32 emulator_index;
} FmXenRecord;

/* Returns the pfn of entry @i (< count) of a PAGE_DATA record and stores its
 * type in *@type (NULL ok). */
static inline guint64
fm_xen_record_get_pfn(const FmXenRecord *record, guint32 i, guint32 *type)
{
    guint64 v;

    memcpy(&v, record->pfns + 8 * (gsize)i, sizeof(v));
    v = GUINT64_FROM_LE(v);
    if (type != NULL)
        *type = (guint32)(v >> FM_XEN_PFN_TYPE_SHIFT);
    return v & FM_XEN_PFN_MASK;
}

/* Returns a new reader on @channel (borrowed) that accepts pfns below @max_pfns
 * (G_MAXUINT64: any pfn the format can carry). */
FmXenStreamReader *fm_xen_stream_reader_new(FmChannel *channel, guint64 max_pfns);
/* Frees the reader (not the channel); NULL ok. */
void fm_xen_stream_reader_free(FmXenStreamReader *reader);

/* Reads and checks the libxl header; first call only. */
gboolean fm_xen_stream_reader_read_header(FmXenStreamReader *reader, GError **error);
/* Reads and checks the next record into @record.  For LIBXC_CONTEXT it also reads
 * and checks the libxc image and domain headers (see the getters below).  After
 * the libxl END the stream is over (fm_xen_stream_reader_is_done()): do not call
 * again.  Order rules checked: one libxc stream, before the libxl END; in it,
 * static data (CPUID/MSR policies) before STATIC_DATA_END (version 3), memory and
 * registers after it, an HVM_CONTEXT before the libxc END; no PV, TOOLSTACK or
 * checkpoint records (a plain live migration of an HVM/PVH guest). */
gboolean fm_xen_stream_reader_next(FmXenStreamReader *reader, FmXenRecord *record,
                                   GError **error);
/* Returns TRUE once the libxl END has been read. */
gboolean fm_xen_stream_reader_is_done(const FmXenStreamReader *reader);
/* After the libxl END, checks that the channel is at end of file: for a stream
 * read from a file or a connection that carries nothing else (`xl migrate` sends
 * more after the stream, on its own protocol). */
gboolean fm_xen_stream_reader_check_eof(FmXenStreamReader *reader, GError **error);
/* Return header fields: the libxl options; the libxc version, domain type and Xen
 * version (0 before the LIBXC_CONTEXT record). */
guint32 fm_xen_stream_reader_get_libxl_options(const FmXenStreamReader *reader);
guint32 fm_xen_stream_reader_get_libxc_version(const FmXenStreamReader *reader);
guint32 fm_xen_stream_reader_get_domain_type(const FmXenStreamReader *reader);
void fm_xen_stream_reader_get_xen_version(const FmXenStreamReader *reader,
                                          guint32 *major, guint32 *minor);
/* Returns the bytes of stream consumed so far. */
guint64 fm_xen_stream_reader_get_offset(const FmXenStreamReader *reader);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmXenStreamReader, fm_xen_stream_reader_free)

G_END_DECLS
