/*
 * fm-xen-sink.h: the FmSink that writes Xen's migration stream (fm-xen-format.h)
 * for the engine, with the Xen stream writer (fm-xen-writer.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "engine/fm-sink.h"
#include "stream/fm-xen-format.h"
#include "transport/fm-channel.h"

G_BEGIN_DECLS

typedef enum {
    FM_XEN_GUEST_PVH,          /* no device model: no emulator records */
    FM_XEN_GUEST_HVM,          /* with a device model (QEMU) */
    FM_XEN_GUEST_PV,           /* x86 PV: PV records, typed pages (page tables) */
} FmXenGuestType;

/* What the sink needs to know before the first page: the static data goes
 * first in a version 3 stream.  The sink copies everything. */
typedef struct {
    FmXenGuestType guest_type;
    guint32 xen_major;           /* of the source hypervisor (XENVER_version) */
    guint32 xen_minor;
    const void *cpuid_policy;    /* X86_CPUID_POLICY body, xen_cpuid_leaf_t[] */
    gsize cpuid_policy_len;      /*   0: no record (as libxc elides empty ones) */
    const void *msr_policy;      /* X86_MSR_POLICY body, xen_msr_entry_t[] */
    gsize msr_policy_len;
    guint32 emulator_id;         /* HVM: QEMU_UPSTREAM or QEMU_TRADITIONAL */
    /* The guest pfn of each page number the engine uses, ascending (the Xen
     * backend numbers only the pages that hold memory, not the holes of the
     * guest's physical map); pfn_map_len must then be begin's page count.  NULL:
     * page numbers are pfns. */
    const guint64 *pfn_map;
    gsize pfn_map_len;
    /* The FmXenPageType of each page number (page_count entries), borrowed: the
     * backend keeps it current as it reads pages (a PV guest's page tables are
     * typed, and a page that could not be read consistently goes as XTAB, without
     * data, to be sent again).  NULL: every page is NOTAB. */
    const guint8 *page_types;
    /* PV guests: X86_PV_INFO (guest width 8 with 4 page-table levels, or 4 with
     * 3) and the X86_PV_P2M_FRAMES body (u32 start_pfn, u32 end_pfn, the pfns of
     * the guest's p2m pages), written by begin. */
    guint32 pv_guest_width;
    guint32 pv_pt_levels;
    const void *pv_p2m_frames;
    gsize pv_p2m_frames_len;
} FmXenStreamInfo;

/* Returns a new FmSink writing the Xen stream on @channel (borrowed, as by every
 * sink: it must outlive the sink, and it stays the caller's for the `xl migrate`
 * protocol).  Its send_record takes libxc records (FM_SINK_RECORDS_XEN_LIBXC).
 *  - begin: the libxl header, LIBXC_CONTEXT, the libxc image and domain headers
 *    (x86 PV for a PV guest, else x86 HVM), X86_PV_INFO (PV), X86_CPUID_POLICY
 *    and X86_MSR_POLICY (when given), STATIC_DATA_END, then X86_PV_P2M_FRAMES
 *    (PV), in Xen 4.17's order.  The page size must be FM_XEN_PAGE_SIZE; the page
 *    count bounds the pfns;
 *  - send_pages: PAGE_DATA records, every page NOTAB or of its page_types type
 *    (the data of types without data is left out), page numbers translated
 *    through the pfn map when there is one;
 *  - send_record: one libxc record whose @type is a libxc record type
 *    (FmXenLibxcRecordType, not an FmRecordType): the Xen backend passes the
 *    guest's X86_TSC_INFO, HVM_CONTEXT and HVM_PARAMS (4.17 writes them in that
 *    order; for a PV guest X86_TSC_INFO, SHARED_INFO and X86_PV_VCPU_*) with
 *    their libxc bodies.  END, PAGE_DATA and STATIC_DATA_END are the
 *    sink's own (FM_ERROR_INVALID_ARG);
 *  - flush: nothing to send (a libxc stream has no round marker; CHECKPOINT is
 *    for Remus/COLO only) and every write is already in the kernel;
 *  - finish: the libxc END, for an HVM guest the emulator records given with
 *    fm_xen_sink_set_emulator_state(), then the libxl END.  No verdict comes back
 *    on the stream: finish returns once the stream is written;
 *  - abort: nothing can be sent (the formats have no abort record): the sink
 *    refuses further calls and the caller closes or reuses the channel.
 * bytes_sent counts every byte of the stream. */
FmSink *fm_xen_sink_new(FmChannel *channel, const FmXenStreamInfo *info);
/* Sends @n pages of the given FmXenPageType @types, like
 * fm_xen_stream_writer_write_pages() (e.g. XTAB for holes, which have no data). */
gboolean fm_xen_sink_send_typed_pages(FmSink *sink, const guint64 *pfns,
                                      const guint8 *types, gsize n,
                                      const guint8 *data, GError **error);
/* Gives an HVM sink its device model's state, saved once the guest is paused and
 * written by finish: the xenstore data (packed "key\0value\0" pairs, relative to
 * the device model's xenstore directory; may be empty, then no record is written,
 * as libxl does) and the context blob (QEMU's saved device state, not empty).
 * The sink copies both.  FM_ERROR_INVALID_ARG for a PVH sink or invalid data.
 * This is the one way emulator records reach the stream (the writer's
 * fm_xen_stream_writer_write_emulator_record() is the sink's tool): the Xen
 * backend calls it from its save_state, once the guest is suspended. */
gboolean fm_xen_sink_set_emulator_state(FmSink *sink, const void *xenstore_data,
                                        gsize xenstore_len, const void *context,
                                        gsize context_len, GError **error);

G_END_DECLS
