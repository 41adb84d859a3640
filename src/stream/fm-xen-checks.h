/*
 * fm-xen-checks.h: the checks of Xen stream records (fm-xen-format.h) that the
 * writer and the reader share, so that the writer never puts on the wire what the
 * reader would reject: each record against the specifications and the order Xen
 * 4.17 needs (static data first, STATIC_DATA_END before memory, HVM_CONTEXT before
 * the libxc END...).  For the Xen stream modules only (fm-xen-writer.c,
 * fm-xen-reader.c, fm-xen-sink.c).
 *
 * Every check returns TRUE, or FALSE with an FM_ERROR_PROTOCOL error that names
 * the problem and its stream offset (FM_ERROR_LIMIT for a pfn beyond the limit).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "stream/fm-record.h"
#include "stream/fm-xen-format.h"

G_BEGIN_DECLS

/* The two layers' records, for the record layer: messages name every record
 * with its layer, "libxc PAGE_DATA". */
extern const FmRecordFormat fm_xen_libxl_format;
extern const FmRecordFormat fm_xen_libxc_format;

/* What the libxc records seen so far allow next. */
typedef struct {
    guint32 version;           /* image header version: 2 or 3 */
    guint32 domain_type;       /* FmXenDomainType of the domain header */
    gboolean static_data_end;  /* seen (v3), or inferred at the first PAGE_DATA (v2) */
    gboolean cpuid_policy;
    gboolean msr_policy;
    gboolean hvm_context;
    /* x86 PV streams */
    guint32 pv_width;          /* from X86_PV_INFO: 4 or 8; 0 until then */
    gboolean p2m_frames;       /* X86_PV_P2M_FRAMES seen: pv_end_pfn is set */
    guint64 pv_end_pfn;        /* its end_pfn: the highest pfn pages may have */
    gboolean shared_info;
    gboolean vcpu_basic;       /* an X86_PV_VCPU_BASIC seen */
} FmXenLibxcState;

/* A PAGE_DATA body, parsed: pointers into the body, valid as long as it is. */
typedef struct {
    guint32 count;             /* pfn entries */
    guint32 data_pages;        /* pages with data, at @data, in pfn order */
    const guint8 *pfns;        /* count little-endian u64 entries */
    const guint8 *data;        /* data_pages * FM_XEN_PAGE_SIZE bytes */
} FmXenPageData;

/* Checks a libxc record header (@type, body length @len, at @offset) before its
 * body is read: the type is one a stream of its domain type may carry, the
 * length fits it, and the record may come now (@st). */
gboolean fm_xen_libxc_check_header(const FmXenLibxcState *st, guint32 type, guint64 len,
                                   guint64 offset, GError **error);
/* Checks the first 8 bytes of a PAGE_DATA body of @len bytes at @offset (count
 * and reserved field), enough to know that the pfns fit; stores the count. */
gboolean fm_xen_check_page_data_head(const guint8 *body, guint64 len, guint64 offset,
                                     guint32 *count, GError **error);
/* Checks a libxc body once read (its header already passed
 * fm_xen_libxc_check_header() with @st), with pfns below @max_pfns (and, in a PV
 * stream, not above the P2M_FRAMES end_pfn); for PAGE_DATA, fills @out. */
gboolean fm_xen_libxc_check_body(const FmXenLibxcState *st, guint32 type,
                                 const guint8 *body, gsize len, guint64 offset,
                                 guint64 max_pfns, FmXenPageData *out, GError **error);
/* Records in @st that a @type record with @body (checked) has been accepted. */
void fm_xen_libxc_state_apply(FmXenLibxcState *st, guint32 type, const guint8 *body);
/* Checks that an emulator record of @type at @offset can carry @len bytes of
 * emulator data after its sub-header. */
gboolean fm_xen_check_emulator_length(guint32 type, gsize len, guint64 offset,
                                      GError **error);
/* Checks the emulator part of an emulator record at @offset: the emulator @id
 * (UNKNOWN only in a @legacy stream) and, for xenstore data, the @len bytes of
 * packed "key\0value\0" pairs at @data. */
gboolean fm_xen_check_emulator(guint32 type, guint32 id, const guint8 *data, gsize len,
                               gboolean legacy, guint64 offset, GError **error);

G_END_DECLS
