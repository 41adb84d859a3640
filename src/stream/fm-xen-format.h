/*
 * fm-xen-format.h: the constants and names of Xen's migration streams: a libxl
 * migration stream v2 carrying a libxc migration stream (version 3) for an x86
 * HVM, PVH or PV guest, as Xen 4.17's `xl migrate-receive` and libvirt's libxl driver
 * restore it (docs/xen-stream.md; Xen's docs/specs/libxl-migration-stream.pandoc
 * and libxc-migration-stream.pandoc).
 *
 * The codec is four modules: the checks that writer and reader share
 * (fm-xen-checks.c, private), the writer (fm-xen-writer.h), the reader
 * (fm-xen-reader.h) and the FmSink that writes the stream for the engine
 * (fm-xen-sink.h).  Records are framed by the record layer (fm-record.h).
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

/* Domain header type.  A PVH guest is saved as x86 HVM; a PV guest as x86 PV,
 * whose stream also carries X86_PV_INFO (static data), X86_PV_P2M_FRAMES
 * (right after STATIC_DATA_END), page tables with their frames written as pfns,
 * and SHARED_INFO and X86_PV_VCPU_* records instead of HVM_CONTEXT/PARAMS. */
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

/* PV records (x86 PV guests only). */
#define FM_XEN_PV_INFO_SIZE       8u     /* u8 guest_width, u8 pt_levels, u16 + u32 reserved */
#define FM_XEN_PV_P2M_HEAD_SIZE   8u     /* u32 start_pfn, u32 end_pfn, then u64 pfns */
#define FM_XEN_PV_VCPU_HEAD_SIZE  8u     /* u32 vcpu_id, u32 reserved, then the blob */
/* X86_PV_VCPU_BASIC blobs: vcpu_guest_context_x86_64_t / _x86_32_t. */
#define FM_XEN_PV_VCPU_BASIC_SIZE_64 5168u
#define FM_XEN_PV_VCPU_BASIC_SIZE_32 2800u
#define FM_XEN_PV_VCPU_EXTENDED_MAX  128u
#define FM_XEN_PV_VCPU_XSAVE_MIN     16u
#define FM_XEN_PV_VCPU_MSR_SIZE      16u  /* xen_domctl_vcpu_msr_t */
#define FM_XEN_SHARED_INFO_SIZE      4096u

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

G_END_DECLS
