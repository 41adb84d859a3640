/*
 * fm-stream-format.h: constants of the native fragmig migration stream.
 * The format is specified in docs/stream-format.md; keep the two in step.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The stream's first 8 bytes are the ASCII "FRAGMIG!": this value stored big-endian
 * (every other field is little-endian). */
#define FM_STREAM_MAGIC      G_GUINT64_CONSTANT(0x465241474d494721)
#define FM_STREAM_VERSION    1
#define FM_STREAM_ALIGN      8        /* record bodies are padded to this */
#define FM_STREAM_HEADER_SIZE 40      /* magic .. reserved, see the spec's section 3 */

/* Limits of a version 1 stream; a reader rejects anything beyond them. */
#define FM_STREAM_MAX_BODY   (64u * 1024 * 1024) /* body_length of any record */
#define FM_STREAM_MAX_PAGES  4096u              /* pages in one PAGE_DATA record */
#define FM_STREAM_MAX_ZERO_PAGES 65536u         /* pfns in one ZERO_PAGES record */
#define FM_STREAM_MAX_STATS  (1024u * 1024)     /* STATS body */
#define FM_STREAM_MAX_TEXT   (64u * 1024)       /* ABORT reason, RESULT message */
#define FM_STREAM_MAX_DIGEST 64u                /* digest bytes in a DIGEST record */
#define FM_STREAM_MIN_PAGE_SIZE 512u
#define FM_STREAM_MAX_PAGE_SIZE 65536u

typedef enum {
    FM_RECORD_END         = 0x00000000, /* last record; empty body */
    FM_RECORD_PAGE_DATA   = 0x00000001, /* u32 count, u32 reserved, u64 pfns[count], pages */
    FM_RECORD_CPU_STATE   = 0x00000002, /* opaque to the stream; backend-defined */
    FM_RECORD_DEVICE_STATE= 0x00000003, /* opaque to the stream; backend-defined */
    FM_RECORD_STATS       = 0x00000004, /* UTF-8 "name=value\n" lines */
    FM_RECORD_DIGEST      = 0x00000005, /* u32 algorithm, u32 length, digest bytes */
    FM_RECORD_ROUND_END   = 0x00000006, /* u32 round, u32 reserved: end of a pre-copy round */
    FM_RECORD_ABORT       = 0x00000007, /* UTF-8 reason: the source gives up */
    FM_RECORD_RESULT      = 0x00000008, /* back channel only (destination -> source):
                                           u32 status, u32 reserved, UTF-8 message */
    FM_RECORD_ZERO_PAGES  = 0x00000009, /* u32 count, u32 reserved, u64 pfns[count]:
                                           pages of zeros, sent without their data */
    FM_RECORD_PREPARE     = 0x0000000a, /* empty: the source asks whether the destination
                                           can take over (handover, docs §5) */
    FM_RECORD_READY       = 0x0000000b, /* back channel only, empty: verified, waiting for
                                           END, which is the source's commit */
    FM_RECORD_TYPE_LAST
} FmRecordType;

/* DIGEST algorithms (docs/stream-format.md section 4.4). */
typedef enum {
    FM_DIGEST_SHA256 = 1,                 /* 32 bytes */
    FM_DIGEST_FM128  = 2,                 /* retired: fragmig 0.1.0's own hash, refused */
    FM_DIGEST_XXH3_128 = 3,               /* 16 bytes, src/util/fm-digest.h */
    FM_DIGEST_XXH3_128_PAGES = 4,         /* 16 bytes: XXH3-128 of the pages' XXH3-64
                                           * hashes (fm_digest_page_table()) */
} FmDigestAlgorithm;

/* RESULT status: the destination's verdict.  Each failure status corresponds to the
 * FmErrorCode the source reports (fm_stream_result_status_to_error_code()). */
typedef enum {
    FM_RESULT_OK        = 0,   /* accepted: the guest runs on the destination */
    FM_RESULT_FAILED    = 1,
    FM_RESULT_PROTOCOL  = 2,   /* malformed stream */
    FM_RESULT_VERIFY    = 3,   /* memory digest mismatch */
    FM_RESULT_LIMIT     = 4,   /* guest too large for the destination */
    FM_RESULT_IO        = 5,   /* destination-side I/O error */
    FM_RESULT_CANCELLED = 6,   /* cancelled on the destination */
    FM_RESULT_STATUS_LAST
} FmResultStatus;

/* Size on the wire of a record with a @body_len byte body: 8-byte header plus the
 * body padded to FM_STREAM_ALIGN. */
static inline guint64
fm_stream_record_size(guint64 body_len)
{
    return 8 + ((body_len + FM_STREAM_ALIGN - 1) & ~(guint64)(FM_STREAM_ALIGN - 1));
}

/* Size on the wire of a PAGE_DATA record carrying @n pages of @page_size bytes. */
static inline guint64
fm_stream_page_record_size(guint64 n, guint64 page_size)
{
    return fm_stream_record_size(8 + 8 * n + n * page_size);
}

/* Largest PAGE_DATA count for @page_size: min(FM_STREAM_MAX_PAGES, what fits in
 * FM_STREAM_MAX_BODY); 4096 for 4 KiB pages, 1023 for 64 KiB pages. */
static inline guint32
fm_stream_max_pages_per_record(guint64 page_size)
{
    guint64 fit = (FM_STREAM_MAX_BODY - 8) / (page_size + 8);

    return (guint32)MIN(fit, (guint64)FM_STREAM_MAX_PAGES);
}

G_END_DECLS
