/*
 * fm-xen-writer.h: the writer of Xen's migration stream (fm-xen-format.h): the
 * libxl header, the libxc stream inside it and the libxl records after it, each
 * record checked as the reader would check it (fm-xen-checks.h) before it is
 * written: a refused record is an FM_ERROR_INVALID_ARG error and nothing is
 * written.  After a failed write the writer is unusable.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "stream/fm-xen-format.h"
#include "transport/fm-channel.h"

G_BEGIN_DECLS

typedef struct _FmXenStreamWriter FmXenStreamWriter;

/* Returns a new writer on @channel (borrowed: it must outlive the writer). */
FmXenStreamWriter *fm_xen_stream_writer_new(FmChannel *channel);
/* Frees the writer (not the channel); NULL ok. */
void fm_xen_stream_writer_free(FmXenStreamWriter *writer);

/* Writes the libxl header (version 2, little-endian); first call only. */
gboolean fm_xen_stream_writer_write_libxl_header(FmXenStreamWriter *writer,
                                                 GError **error);
/* Writes the LIBXC_CONTEXT record and the libxc image and domain headers (version
 * 3, little-endian, @domain_type, 4 KiB pages, Xen @xen_major.@xen_minor, which
 * must be nonzero: 0 marks a legacy conversion).  Once, after the libxl header.
 * FM_XEN_DOMAIN_X86_HVM or FM_XEN_DOMAIN_X86_PV (FM_ERROR_INVALID_ARG otherwise). */
gboolean fm_xen_stream_writer_begin_libxc(FmXenStreamWriter *writer,
                                          guint32 domain_type, guint32 xen_major,
                                          guint32 xen_minor, GError **error);
/* Writes one libxc record of @type (an FmXenLibxcRecordType or an optional type)
 * with the @len bytes of @body, padded to 8 bytes.  Not for PAGE_DATA (use
 * write_pages) nor END (use end_libxc).  The record is checked as the reader
 * would, in the stream's state: e.g. X86_CPUID_POLICY only before
 * STATIC_DATA_END, X86_TSC_INFO only after it. */
gboolean fm_xen_stream_writer_write_libxc_record(FmXenStreamWriter *writer,
                                                 guint32 type, const void *body,
                                                 gsize len, GError **error);
/* Writes @n pfns as PAGE_DATA records of at most FM_XEN_PAGE_DATA_MAX_BATCH pfns:
 * @pfns[i] with type @types[i] (an FmXenPageType; @types NULL: all NOTAB).
 * @data holds, one after the other, the FM_XEN_PAGE_SIZE bytes of each page whose
 * type has data (fm_xen_page_type_has_data()), in the order of @pfns; holes (XTAB)
 * have none.  The arrays stay the caller's.  FM_ERROR_INVALID_ARG (nothing
 * written) for a pfn beyond 52 bits, a reserved type, or pages before
 * STATIC_DATA_END; in a PV stream, a pfn beyond X86_PV_P2M_FRAMES's end or pages
 * before it; in an HVM stream, a page-table type. */
gboolean fm_xen_stream_writer_write_pages(FmXenStreamWriter *writer,
                                          const guint64 *pfns, const guint8 *types,
                                          gsize n, const guint8 *data, GError **error);
/* Writes the libxc END: the libxc stream is over, libxl records follow. */
gboolean fm_xen_stream_writer_end_libxc(FmXenStreamWriter *writer, GError **error);
/* Writes an EMULATOR_XENSTORE_DATA or EMULATOR_CONTEXT record for emulator
 * @emulator_id (QEMU_TRADITIONAL or QEMU_UPSTREAM) number @index: the emulator
 * sub-header and the @len bytes of @body (for xenstore data: packed
 * "key\0value\0" pairs, keys of [A-Za-z0-9-/_@]).  After the libxc END. */
gboolean fm_xen_stream_writer_write_emulator_record(FmXenStreamWriter *writer,
                                                    guint32 type, guint32 emulator_id,
                                                    guint32 index, const void *body,
                                                    gsize len, GError **error);
/* Writes the libxl END, after the libxc END: the stream is complete. */
gboolean fm_xen_stream_writer_write_libxl_end(FmXenStreamWriter *writer,
                                              GError **error);
/* Returns the bytes of stream written so far (headers and framing included). */
guint64 fm_xen_stream_writer_get_offset(const FmXenStreamWriter *writer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmXenStreamWriter, fm_xen_stream_writer_free)

G_END_DECLS
