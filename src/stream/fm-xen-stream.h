/*
 * fm-xen-stream.h: encoder and decoder of Xen's migration streams: a libxl
 * migration stream v2 carrying a libxc migration stream (version 3) for an x86
 * HVM or PVH guest, as Xen 4.17's `xl migrate-receive` and libvirt's libxl driver
 * restore it (docs/xen-stream.md; Xen's docs/specs/libxl-migration-stream.pandoc
 * and libxc-migration-stream.pandoc).  Also the FmSink that sends it.
 *
 * Layout on the wire (stream offsets count from the libxl header):
 *   libxl header, LIBXC_CONTEXT record, then the libxc stream (image header,
 *   domain header, libxc records up to the libxc END), then libxl records (the
 *   emulator records of an HVM guest), then the libxl END.
 *
 * Rules (as for the native stream, fm-stream.h):
 *  - the writer never puts on the wire what the reader would reject: every record
 *    is checked by the same code the reader uses, against the specifications and
 *    the order Xen 4.17 needs (static data first, STATIC_DATA_END before memory,
 *    HVM_CONTEXT before the libxc END...).  A refused record is an
 *    FM_ERROR_INVALID_ARG error and nothing is written;
 *  - the reader trusts nothing: every length, count and field is checked before it
 *    is used, and memory for a body grows only as its bytes arrive.  Violations
 *    are FM_ERROR_PROTOCOL errors naming the problem and its stream offset
 *    (FM_ERROR_LIMIT for a pfn beyond the reader's limit); channel failures are
 *    FM_ERROR_IO errors prefixed with the offset;
 *  - after an error a writer or reader is unusable; further calls fail;
 *  - writer, reader and sink borrow their FmChannel: the `xl migrate` protocol
 *    (its own header and messages around the libxl stream) goes over the same
 *    descriptor and belongs to the caller;
 *  - every multi-byte field is little-endian, except the libxl header and the
 *    libxc image header, which are big-endian (as the specifications say).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <string.h>

#include "engine/fm-sink.h"
#include "transport/fm-channel.h"

G_BEGIN_DECLS

/* ---- libxl migration stream v2 (libxl-migration-stream.pandoc) ---- */

#define FM_XEN_LIBXL_IDENT   G_GUINT64_CONSTANT(0x4c6962786c466d74) /* "LibxlFmt" */
#define FM_XEN_LIBXL_VERSION 2u
#define FM_XEN_LIBXL_OPT_BIG_ENDIAN (1u << 0)
#define FM_XEN_LIBXL_OPT_LEGACY     (1u << 1)  /* made by the legacy conversion tool */
#define FM_XEN_LIBXL_HEADER_SIZE    16

typedef enum {
    FM_XEN_LIBXL_REC_END                    = 0x00000000,
    FM_XEN_LIBXL_REC_LIBXC_CONTEXT          = 0x00000001, /* empty; the libxc stream follows */
    FM_XEN_LIBXL_REC_EMULATOR_XENSTORE_DATA = 0x00000002, /* emulator header + key\0value\0... */
    FM_XEN_LIBXL_REC_EMULATOR_CONTEXT       = 0x00000003, /* emulator header + device model blob */
    FM_XEN_LIBXL_REC_CHECKPOINT_END         = 0x00000004, /* Remus/COLO only */
    FM_XEN_LIBXL_REC_CHECKPOINT_STATE       = 0x00000005, /* COLO only */
    FM_XEN_LIBXL_REC_TYPE_LAST
} FmXenLibxlRecordType;

/* emulator_id of the emulator sub-header (8 bytes: u32 id, u32 index). */
typedef enum {
    FM_XEN_EMULATOR_UNKNOWN          = 0, /* legacy-converted streams only */
    FM_XEN_EMULATOR_QEMU_TRADITIONAL = 1,
    FM_XEN_EMULATOR_QEMU_UPSTREAM    = 2,
} FmXenEmulatorId;

/* ---- libxc migration stream (libxc-migration-stream.pandoc, revision 3) ---- */

#define FM_XEN_LIBXC_MARKER  G_GUINT64_CONSTANT(0xffffffffffffffff)
#define FM_XEN_LIBXC_ID      0x58454e46u        /* "XENF" */
#define FM_XEN_LIBXC_VERSION 3u                 /* written; the reader takes 2 and 3 */
#define FM_XEN_LIBXC_IMAGE_HEADER_SIZE  24
#define FM_XEN_LIBXC_DOMAIN_HEADER_SIZE 16

/* Domain header type.  A PVH guest is saved as x86 HVM. */
typedef enum {
    FM_XEN_DOMAIN_X86_PV  = 1,
    FM_XEN_DOMAIN_X86_HVM = 2,
} FmXenDomainType;

#define FM_XEN_PAGE_SHIFT 12u                   /* x86 */
#define FM_XEN_PAGE_SIZE  (1u << FM_XEN_PAGE_SHIFT)

#define FM_XEN_REC_ALIGN      8u
/* Longest record body (libxl or libxc): libxc's REC_LENGTH_MAX (128 MiB), which
 * Xen's restore enforces. */
#define FM_XEN_REC_LENGTH_MAX (128u << 20)
/* Most pfns the writer puts in one PAGE_DATA record: libxc's MAX_BATCH_SIZE.  The
 * specification sets no limit and the reader accepts any count its body holds. */
#define FM_XEN_PAGE_DATA_MAX_BATCH 1024u

typedef enum {
    FM_XEN_LIBXC_REC_END                       = 0x00000000,
    FM_XEN_LIBXC_REC_PAGE_DATA                 = 0x00000001,
    FM_XEN_LIBXC_REC_X86_PV_INFO               = 0x00000002,
    FM_XEN_LIBXC_REC_X86_PV_P2M_FRAMES         = 0x00000003,
    FM_XEN_LIBXC_REC_X86_PV_VCPU_BASIC         = 0x00000004,
    FM_XEN_LIBXC_REC_X86_PV_VCPU_EXTENDED      = 0x00000005,
    FM_XEN_LIBXC_REC_X86_PV_VCPU_XSAVE         = 0x00000006,
    FM_XEN_LIBXC_REC_SHARED_INFO               = 0x00000007,
    FM_XEN_LIBXC_REC_X86_TSC_INFO              = 0x00000008, /* u32 mode, u32 khz, u64 nsec,
                                                                u32 incarnation, u32 reserved */
    FM_XEN_LIBXC_REC_HVM_CONTEXT               = 0x00000009, /* Xen's HVM context blob */
    FM_XEN_LIBXC_REC_HVM_PARAMS                = 0x0000000a, /* u32 count, u32 reserved,
                                                                {u64 index, u64 value}[count] */
    FM_XEN_LIBXC_REC_TOOLSTACK                 = 0x0000000b, /* deprecated */
    FM_XEN_LIBXC_REC_X86_PV_VCPU_MSRS          = 0x0000000c,
    FM_XEN_LIBXC_REC_VERIFY                    = 0x0000000d,
    FM_XEN_LIBXC_REC_CHECKPOINT                = 0x0000000e,
    FM_XEN_LIBXC_REC_CHECKPOINT_DIRTY_PFN_LIST = 0x0000000f,
    FM_XEN_LIBXC_REC_STATIC_DATA_END           = 0x00000010,
    FM_XEN_LIBXC_REC_X86_CPUID_POLICY          = 0x00000011, /* xen_cpuid_leaf_t[] (24 bytes) */
    FM_XEN_LIBXC_REC_X86_MSR_POLICY            = 0x00000012, /* xen_msr_entry_t[] (16 bytes) */
    FM_XEN_LIBXC_REC_TYPE_LAST
} FmXenLibxcRecordType;

/* Types with this bit are optional: a restorer may ignore them. */
#define FM_XEN_LIBXC_REC_OPTIONAL 0x80000000u

#define FM_XEN_TSC_INFO_SIZE      24u
#define FM_XEN_CPUID_LEAF_SIZE    24u
#define FM_XEN_MSR_ENTRY_SIZE     16u
#define FM_XEN_HVM_PARAM_SIZE     16u

/* PAGE_DATA pfn entries: bits 63-60 the type, 59-52 reserved, 51-0 the pfn. */
#define FM_XEN_PFN_MASK       ((G_GUINT64_CONSTANT(1) << 52) - 1)
#define FM_XEN_PFN_TYPE_SHIFT 60

/* XEN_DOMCTL_PFINFO_* page types, as the 4-bit value of a pfn entry. */
typedef enum {
    FM_XEN_PAGE_NOTAB     = 0x0,   /* normal page: data follows */
    FM_XEN_PAGE_L1TAB     = 0x1,   /* page tables (PV guests): data follows */
    FM_XEN_PAGE_L2TAB     = 0x2,
    FM_XEN_PAGE_L3TAB     = 0x3,
    FM_XEN_PAGE_L4TAB     = 0x4,
    FM_XEN_PAGE_L1TAB_PIN = 0x9,
    FM_XEN_PAGE_L2TAB_PIN = 0xa,
    FM_XEN_PAGE_L3TAB_PIN = 0xb,
    FM_XEN_PAGE_L4TAB_PIN = 0xc,
    FM_XEN_PAGE_BROKEN    = 0xd,   /* no data */
    FM_XEN_PAGE_XALLOC    = 0xe,   /* allocate only: no data */
    FM_XEN_PAGE_XTAB      = 0xf,   /* invalid (a hole): no data */
} FmXenPageType;

/* Return the protocol name of a record type ("PAGE_DATA"), or NULL if unknown
 * (for libxc, also for optional types). */
const char *fm_xen_libxc_record_name(guint32 type);
const char *fm_xen_libxl_record_name(guint32 type);
/* Returns the name of a page type ("NOTAB"), or NULL for the reserved 0x5-0x8. */
const char *fm_xen_page_type_name(guint32 type);
/* Returns TRUE if a page of @type carries page_size bytes of data in PAGE_DATA. */
gboolean fm_xen_page_type_has_data(guint32 type);

/* Returns the pfn entry for @pfn with @type (both already valid). */
static inline guint64
fm_xen_pfn_entry(guint64 pfn, guint32 type)
{
    return ((guint64)type << FM_XEN_PFN_TYPE_SHIFT) | pfn;
}

/* ---- writer ---- */

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
 * Only FM_XEN_DOMAIN_X86_HVM is supported (FM_ERROR_INVALID_ARG otherwise). */
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
 * STATIC_DATA_END. */
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

/* ---- reader ---- */

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

/* ---- the Xen sink ---- */

typedef enum {
    FM_XEN_GUEST_PVH,          /* no device model: no emulator records */
    FM_XEN_GUEST_HVM,          /* with a device model (QEMU) */
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
} FmXenStreamInfo;

/* Returns a new FmSink writing the Xen stream on @channel (borrowed, as by every
 * sink: it must outlive the sink, and it stays the caller's for the `xl migrate`
 * protocol).  Its send_record takes libxc records (FM_SINK_RECORDS_XEN_LIBXC).
 *  - begin: the libxl header, LIBXC_CONTEXT, the libxc image and domain headers,
 *    X86_CPUID_POLICY and X86_MSR_POLICY (when given) and STATIC_DATA_END.  The
 *    page size must be FM_XEN_PAGE_SIZE; the page count bounds the pfns;
 *  - send_pages: PAGE_DATA records, every page NOTAB, page numbers translated
 *    through the pfn map when there is one;
 *  - send_record: one libxc record whose @type is a libxc record type
 *    (FmXenLibxcRecordType, not an FmRecordType): the Xen backend passes the
 *    guest's X86_TSC_INFO, HVM_CONTEXT and HVM_PARAMS (4.17 writes them in that
 *    order) with their libxc bodies.  END, PAGE_DATA and STATIC_DATA_END are the
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
 * The sink copies both.  FM_ERROR_INVALID_ARG for a PVH sink or invalid data. */
gboolean fm_xen_sink_set_emulator_state(FmSink *sink, const void *xenstore_data,
                                        gsize xenstore_len, const void *context,
                                        gsize context_len, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmXenStreamWriter, fm_xen_stream_writer_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmXenStreamReader, fm_xen_stream_reader_free)

G_END_DECLS
