/*
 * fm-xen-stream.c: encoder and decoder of the libxl v2 / libxc v3 migration stream
 * of an x86 HVM or PVH guest (docs/xen-stream.md), and the Xen FmSink.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "stream/fm-xen-stream.h"

#include <string.h>

#include "stream/fm-record.h"
#include "util/fm-bytes.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

typedef unsigned long long ull;

/* Bits 59-52 of a pfn entry. */
#define FM_XEN_PFN_RESERVED_MASK (((G_GUINT64_CONSTANT(1) << 60) - 1) & ~FM_XEN_PFN_MASK)
/* libxl header options that mean something. */
#define FM_XEN_LIBXL_OPT_KNOWN (FM_XEN_LIBXL_OPT_BIG_ENDIAN | FM_XEN_LIBXL_OPT_LEGACY)
/* libxc image header options: bit 0 is the endianness, 1-15 are reserved. */
#define FM_XEN_LIBXC_OPT_BIG_ENDIAN 0x0001u

G_STATIC_ASSERT(FM_XEN_PAGE_SIZE == 4096);
G_STATIC_ASSERT(8 + FM_XEN_PAGE_DATA_MAX_BATCH * (8 + (guint64)FM_XEN_PAGE_SIZE) <=
                FM_XEN_REC_LENGTH_MAX);

static const char *const libxc_record_names[FM_XEN_LIBXC_REC_TYPE_LAST] = {
    [FM_XEN_LIBXC_REC_END] = "END",
    [FM_XEN_LIBXC_REC_PAGE_DATA] = "PAGE_DATA",
    [FM_XEN_LIBXC_REC_X86_PV_INFO] = "X86_PV_INFO",
    [FM_XEN_LIBXC_REC_X86_PV_P2M_FRAMES] = "X86_PV_P2M_FRAMES",
    [FM_XEN_LIBXC_REC_X86_PV_VCPU_BASIC] = "X86_PV_VCPU_BASIC",
    [FM_XEN_LIBXC_REC_X86_PV_VCPU_EXTENDED] = "X86_PV_VCPU_EXTENDED",
    [FM_XEN_LIBXC_REC_X86_PV_VCPU_XSAVE] = "X86_PV_VCPU_XSAVE",
    [FM_XEN_LIBXC_REC_SHARED_INFO] = "SHARED_INFO",
    [FM_XEN_LIBXC_REC_X86_TSC_INFO] = "X86_TSC_INFO",
    [FM_XEN_LIBXC_REC_HVM_CONTEXT] = "HVM_CONTEXT",
    [FM_XEN_LIBXC_REC_HVM_PARAMS] = "HVM_PARAMS",
    [FM_XEN_LIBXC_REC_TOOLSTACK] = "TOOLSTACK",
    [FM_XEN_LIBXC_REC_X86_PV_VCPU_MSRS] = "X86_PV_VCPU_MSRS",
    [FM_XEN_LIBXC_REC_VERIFY] = "VERIFY",
    [FM_XEN_LIBXC_REC_CHECKPOINT] = "CHECKPOINT",
    [FM_XEN_LIBXC_REC_CHECKPOINT_DIRTY_PFN_LIST] = "CHECKPOINT_DIRTY_PFN_LIST",
    [FM_XEN_LIBXC_REC_STATIC_DATA_END] = "STATIC_DATA_END",
    [FM_XEN_LIBXC_REC_X86_CPUID_POLICY] = "X86_CPUID_POLICY",
    [FM_XEN_LIBXC_REC_X86_MSR_POLICY] = "X86_MSR_POLICY",
};

static const char *const libxl_record_names[FM_XEN_LIBXL_REC_TYPE_LAST] = {
    [FM_XEN_LIBXL_REC_END] = "END",
    [FM_XEN_LIBXL_REC_LIBXC_CONTEXT] = "LIBXC_CONTEXT",
    [FM_XEN_LIBXL_REC_EMULATOR_XENSTORE_DATA] = "EMULATOR_XENSTORE_DATA",
    [FM_XEN_LIBXL_REC_EMULATOR_CONTEXT] = "EMULATOR_CONTEXT",
    [FM_XEN_LIBXL_REC_CHECKPOINT_END] = "CHECKPOINT_END",
    [FM_XEN_LIBXL_REC_CHECKPOINT_STATE] = "CHECKPOINT_STATE",
};

static const char *const page_type_names[16] = {
    [FM_XEN_PAGE_NOTAB] = "NOTAB",
    [FM_XEN_PAGE_L1TAB] = "L1TAB",
    [FM_XEN_PAGE_L2TAB] = "L2TAB",
    [FM_XEN_PAGE_L3TAB] = "L3TAB",
    [FM_XEN_PAGE_L4TAB] = "L4TAB",
    [FM_XEN_PAGE_L1TAB_PIN] = "L1TAB_PIN",
    [FM_XEN_PAGE_L2TAB_PIN] = "L2TAB_PIN",
    [FM_XEN_PAGE_L3TAB_PIN] = "L3TAB_PIN",
    [FM_XEN_PAGE_L4TAB_PIN] = "L4TAB_PIN",
    [FM_XEN_PAGE_BROKEN] = "BROKEN",
    [FM_XEN_PAGE_XALLOC] = "XALLOC",
    [FM_XEN_PAGE_XTAB] = "XTAB",
};

/* Returns the name of libxc record @type, or NULL if unknown. */
const char *
fm_xen_libxc_record_name(guint32 type)
{
    return type < FM_XEN_LIBXC_REC_TYPE_LAST ? libxc_record_names[type] : NULL;
}

/* Returns the name of libxl record @type, or NULL if unknown. */
const char *
fm_xen_libxl_record_name(guint32 type)
{
    return type < FM_XEN_LIBXL_REC_TYPE_LAST ? libxl_record_names[type] : NULL;
}

/* Returns the name of page @type, or NULL if reserved or out of range. */
const char *
fm_xen_page_type_name(guint32 type)
{
    return type < G_N_ELEMENTS(page_type_names) ? page_type_names[type] : NULL;
}

/* Returns TRUE if a page of @type has data in PAGE_DATA: normal pages and page
 * tables; not holes (XTAB), allocate-only or broken pages. */
gboolean
fm_xen_page_type_has_data(guint32 type)
{
    return fm_xen_page_type_name(type) != NULL && type != FM_XEN_PAGE_BROKEN &&
        type != FM_XEN_PAGE_XALLOC && type != FM_XEN_PAGE_XTAB;
}

/* The two layers' records, for the record layer (fm-record.h): messages name
 * every record with its layer, "libxc PAGE_DATA". */
static const FmRecordFormat fm_xen_libxl_format = {
    .family = "libxl",
    .type_name = fm_xen_libxl_record_name,
    .align = FM_XEN_REC_ALIGN,
    .max_body = FM_XEN_REC_LENGTH_MAX,
};

static const FmRecordFormat fm_xen_libxc_format = {
    .family = "libxc",
    .type_name = fm_xen_libxc_record_name,
    .align = FM_XEN_REC_ALIGN,
    .max_body = FM_XEN_REC_LENGTH_MAX,
};

/* Byte order: the headers are big-endian, everything else little-endian
 * (accessors in util/fm-bytes.h). */

/* ---- checks shared by the writer and the reader ---- */

/* What the libxc records seen so far allow next. */
typedef struct {
    guint32 version;           /* image header version: 2 or 3 */
    gboolean static_data_end;  /* seen (v3), or inferred at the first PAGE_DATA (v2) */
    gboolean cpuid_policy;
    gboolean msr_policy;
    gboolean hvm_context;
} FmXenLibxcState;

/* Checks a libxc record header (@type, body length @len, at @offset) before its
 * body is read: the type is one an HVM stream may carry, the length fits it, and
 * the record may come now (@st). */
static gboolean
fm_xen_libxc_check_header(const FmXenLibxcState *st, guint32 type, guint64 len,
                          guint64 offset, GError **error)
{
    const char *name = fm_xen_libxc_record_name(type);
    guint64 min = 0, max = FM_XEN_REC_LENGTH_MAX, unit = 0;

    if (type & FM_XEN_LIBXC_REC_OPTIONAL) {
        /* Optional records may be ignored by a restorer: any content will do. */
        return fm_record_check_length(&fm_xen_libxc_format, type, len, 0,
                                      FM_XEN_REC_LENGTH_MAX, 0, offset, error);
    }
    switch ((FmXenLibxcRecordType)type) {
    case FM_XEN_LIBXC_REC_END:
    case FM_XEN_LIBXC_REC_STATIC_DATA_END:
    case FM_XEN_LIBXC_REC_VERIFY:
        max = 0;
        break;
    case FM_XEN_LIBXC_REC_PAGE_DATA:
        min = 16;              /* count, reserved and at least one pfn */
        break;
    case FM_XEN_LIBXC_REC_X86_TSC_INFO:
        min = max = FM_XEN_TSC_INFO_SIZE;
        break;
    case FM_XEN_LIBXC_REC_HVM_CONTEXT:
        min = 1;
        break;
    case FM_XEN_LIBXC_REC_HVM_PARAMS:
        min = 8;
        break;
    case FM_XEN_LIBXC_REC_X86_CPUID_POLICY:
        min = unit = FM_XEN_CPUID_LEAF_SIZE;
        break;
    case FM_XEN_LIBXC_REC_X86_MSR_POLICY:
        min = unit = FM_XEN_MSR_ENTRY_SIZE;
        break;
    case FM_XEN_LIBXC_REC_X86_PV_INFO:
    case FM_XEN_LIBXC_REC_X86_PV_P2M_FRAMES:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_BASIC:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_EXTENDED:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_XSAVE:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_MSRS:
    case FM_XEN_LIBXC_REC_SHARED_INFO:
        fm_record_protocol_error(error, _("libxc %s record at offset %llu is not valid in an x86 HVM stream"),
                              name, (ull)offset);
        return FALSE;
    case FM_XEN_LIBXC_REC_TOOLSTACK:
        fm_record_protocol_error(error, _("libxc TOOLSTACK record at offset %llu: the record is deprecated and Xen cannot restore it"),
                              (ull)offset);
        return FALSE;
    case FM_XEN_LIBXC_REC_CHECKPOINT:
        fm_record_protocol_error(error, _("libxc CHECKPOINT record at offset %llu in a stream that is not checkpointed"),
                              (ull)offset);
        return FALSE;
    case FM_XEN_LIBXC_REC_CHECKPOINT_DIRTY_PFN_LIST:
        fm_record_protocol_error(error, _("libxc CHECKPOINT_DIRTY_PFN_LIST record at offset %llu: only a COLO back channel carries one"),
                              (ull)offset);
        return FALSE;
    case FM_XEN_LIBXC_REC_TYPE_LAST:
    default:
        fm_record_protocol_error(error, _("unknown mandatory libxc record type 0x%08x at offset %llu"),
                              type, (ull)offset);
        return FALSE;
    }
    if (!fm_record_check_length(&fm_xen_libxc_format, type, len, min, max, unit, offset,
                                error))
        return FALSE;

    /* Order: static data, STATIC_DATA_END, then memory and registers. */
    switch ((FmXenLibxcRecordType)type) {
    case FM_XEN_LIBXC_REC_STATIC_DATA_END:
    case FM_XEN_LIBXC_REC_X86_CPUID_POLICY:
    case FM_XEN_LIBXC_REC_X86_MSR_POLICY:
        if (st->version < 3) {
            fm_record_protocol_error(error, _("libxc %s record at offset %llu in a version %u stream (it needs version 3)"),
                                  name, (ull)offset, st->version);
            return FALSE;
        }
        if (type != FM_XEN_LIBXC_REC_STATIC_DATA_END && st->static_data_end) {
            fm_record_protocol_error(error, _("libxc %s record at offset %llu after STATIC_DATA_END (static data comes first)"),
                                  name, (ull)offset);
            return FALSE;
        }
        if ((type == FM_XEN_LIBXC_REC_STATIC_DATA_END && st->static_data_end) ||
            (type == FM_XEN_LIBXC_REC_X86_CPUID_POLICY && st->cpuid_policy) ||
            (type == FM_XEN_LIBXC_REC_X86_MSR_POLICY && st->msr_policy)) {
            fm_record_protocol_error(error, _("second libxc %s record at offset %llu"), name,
                                  (ull)offset);
            return FALSE;
        }
        break;
    case FM_XEN_LIBXC_REC_PAGE_DATA:
    case FM_XEN_LIBXC_REC_X86_TSC_INFO:
    case FM_XEN_LIBXC_REC_HVM_CONTEXT:
    case FM_XEN_LIBXC_REC_HVM_PARAMS:
    case FM_XEN_LIBXC_REC_END:
        /* A version 2 stream has no STATIC_DATA_END: its first PAGE_DATA stands for
         * it (the specification's "v3 compat with v2"). */
        if (st->version >= 3 && !st->static_data_end) {
            fm_record_protocol_error(error, _("libxc %s record at offset %llu before STATIC_DATA_END"),
                                  name, (ull)offset);
            return FALSE;
        }
        if (type == FM_XEN_LIBXC_REC_END && !st->hvm_context) {
            fm_record_protocol_error(error, _("libxc END record at offset %llu without an HVM_CONTEXT record (an x86 HVM guest cannot be restored without one)"),
                                  (ull)offset);
            return FALSE;
        }
        break;
    default:
        break;
    }
    return TRUE;
}

/* Checks the first 8 bytes of a PAGE_DATA body of @len bytes at @offset (count
 * and reserved field), enough to know that the pfns fit; stores the count. */
static gboolean
fm_xen_check_page_data_head(const guint8 *body, guint64 len, guint64 offset,
                            guint32 *count, GError **error)
{
    guint32 n = fm_get_le32(body);
    guint32 reserved = fm_get_le32(body + 4);

    if (n == 0) {
        fm_record_protocol_error(error, _("libxc PAGE_DATA record at offset %llu has no pages"),
                              (ull)offset);
        return FALSE;
    }
    if (reserved != 0) {
        fm_record_protocol_error(error, _("nonzero reserved field 0x%llx at offset %llu"),
                              (ull)reserved, (ull)(offset + 8 + 4));
        return FALSE;
    }
    if (8 + 8 * (guint64)n > len) {
        fm_record_protocol_error(error, _("libxc PAGE_DATA record at offset %llu: %u pfns do not fit in a body of %llu bytes"),
                              (ull)offset, n, (ull)len);
        return FALSE;
    }
    *count = n;
    return TRUE;
}

/* Checks a whole PAGE_DATA body: every pfn entry (type, reserved bits, pfn below
 * @max_pfns) and the length against the pages that have data.  Fills the page
 * fields of @out. */
static gboolean
fm_xen_check_page_data(const guint8 *body, gsize len, guint64 offset, guint64 max_pfns,
                       FmXenRecord *out, GError **error)
{
    guint32 count;
    guint32 data_pages = 0;
    guint64 expected;

    if (!fm_xen_check_page_data_head(body, len, offset, &count, error))
        return FALSE;
    for (guint32 i = 0; i < count; i++) {
        guint64 entry = fm_get_le64(body + 8 + 8 * (gsize)i);
        guint64 entry_offset = offset + 16 + 8 * (guint64)i;
        guint32 type = (guint32)(entry >> FM_XEN_PFN_TYPE_SHIFT);
        guint64 pfn = entry & FM_XEN_PFN_MASK;

        if (fm_xen_page_type_name(type) == NULL) {
            fm_record_protocol_error(error, _("reserved page type 0x%x in pfn entry 0x%016llx at offset %llu"),
                                  type, (ull)entry, (ull)entry_offset);
            return FALSE;
        }
        if (entry & FM_XEN_PFN_RESERVED_MASK) {
            fm_record_protocol_error(error, _("reserved bits set in pfn entry 0x%016llx at offset %llu"),
                                  (ull)entry, (ull)entry_offset);
            return FALSE;
        }
        if (pfn >= max_pfns) {
            g_set_error(error, FM_ERROR, FM_ERROR_LIMIT,
                        _("pfn 0x%llx at offset %llu is beyond the destination's limit (pfns below 0x%llx)"),
                        (ull)pfn, (ull)entry_offset, (ull)max_pfns);
            return FALSE;
        }
        if (fm_xen_page_type_has_data(type))
            data_pages++;
    }
    expected = 8 + 8 * (guint64)count + (guint64)data_pages * FM_XEN_PAGE_SIZE;
    if (len != expected) {
        fm_record_protocol_error(error, _("libxc PAGE_DATA record at offset %llu: body length %llu does not match %u pfns and %u pages of data (expected %llu)"),
                              (ull)offset, (ull)len, count, data_pages, (ull)expected);
        return FALSE;
    }
    out->count = count;
    out->data_pages = data_pages;
    out->pfns = body + 8;
    out->data = body + 8 + 8 * (gsize)count;
    return TRUE;
}

/* Checks a libxc body once read (its header already passed
 * fm_xen_libxc_check_header()); for PAGE_DATA, fills the page fields of @out. */
static gboolean
fm_xen_libxc_check_body(guint32 type, const guint8 *body, gsize len, guint64 offset,
                        guint64 max_pfns, FmXenRecord *out, GError **error)
{
    switch (type) {
    case FM_XEN_LIBXC_REC_PAGE_DATA:
        return fm_xen_check_page_data(body, len, offset, max_pfns, out, error);
    case FM_XEN_LIBXC_REC_X86_TSC_INFO:
        if (fm_get_le32(body + 20) != 0) {
            fm_record_protocol_error(error, _("nonzero reserved field 0x%llx at offset %llu"),
                                  (ull)fm_get_le32(body + 20), (ull)(offset + 8 + 20));
            return FALSE;
        }
        return TRUE;
    case FM_XEN_LIBXC_REC_HVM_PARAMS: {
        guint32 count = fm_get_le32(body);
        guint64 expected = 8 + (guint64)count * FM_XEN_HVM_PARAM_SIZE;

        if (fm_get_le32(body + 4) != 0) {
            fm_record_protocol_error(error, _("nonzero reserved field 0x%llx at offset %llu"),
                                  (ull)fm_get_le32(body + 4), (ull)(offset + 8 + 4));
            return FALSE;
        }
        if (len != expected) {
            fm_record_protocol_error(error, _("libxc HVM_PARAMS record at offset %llu: body length %llu does not match %u parameters (expected %llu)"),
                                  (ull)offset, (ull)len, count, (ull)expected);
            return FALSE;
        }
        return TRUE;
    }
    case FM_XEN_LIBXC_REC_X86_MSR_POLICY:
        /* xen_msr_entry_t: u32 idx, u32 flags (reserved, must be zero), u64 val. */
        for (gsize i = 0; i < len / FM_XEN_MSR_ENTRY_SIZE; i++) {
            guint32 flags = fm_get_le32(body + i * FM_XEN_MSR_ENTRY_SIZE + 4);

            if (flags != 0) {
                fm_record_protocol_error(error, _("nonzero reserved field 0x%llx at offset %llu"),
                                      (ull)flags,
                                      (ull)(offset + 8 + i * FM_XEN_MSR_ENTRY_SIZE + 4));
                return FALSE;
            }
        }
        return TRUE;
    default:
        return TRUE;
    }
}

/* Records in @st that a @type record has been accepted. */
static void
fm_xen_libxc_state_apply(FmXenLibxcState *st, guint32 type)
{
    switch (type) {
    case FM_XEN_LIBXC_REC_STATIC_DATA_END:
    case FM_XEN_LIBXC_REC_PAGE_DATA:
        st->static_data_end = TRUE;
        break;
    case FM_XEN_LIBXC_REC_X86_CPUID_POLICY:
        st->cpuid_policy = TRUE;
        break;
    case FM_XEN_LIBXC_REC_X86_MSR_POLICY:
        st->msr_policy = TRUE;
        break;
    case FM_XEN_LIBXC_REC_HVM_CONTEXT:
        st->hvm_context = TRUE;
        break;
    default:
        break;
    }
}

/* Returns TRUE if @c may appear in a xenstore key of emulator data. */
static gboolean
fm_xen_is_key_char(guint8 c)
{
    return g_ascii_isalnum(c) || c == '-' || c == '/' || c == '_' || c == '@';
}

/* Checks that an emulator record of @type at @offset can carry @len bytes of
 * emulator data after its sub-header. */
static gboolean
fm_xen_check_emulator_length(guint32 type, gsize len, guint64 offset, GError **error)
{
    return fm_record_check_length(&fm_xen_libxl_format, type, 8 + (guint64)len, 8,
                                  FM_XEN_REC_LENGTH_MAX, 0, offset, error);
}

/* Checks the emulator part of an emulator record at @offset: the emulator @id
 * (UNKNOWN only in a @legacy stream) and, for xenstore data, the @len bytes of
 * packed "key\0value\0" pairs at @data. */
static gboolean
fm_xen_check_emulator(guint32 type, guint32 id, const guint8 *data, gsize len,
                      gboolean legacy, guint64 offset, GError **error)
{
    const char *name = fm_xen_libxl_record_name(type);
    gsize pos = 0;
    guint strings = 0;

    if (id != FM_XEN_EMULATOR_QEMU_TRADITIONAL && id != FM_XEN_EMULATOR_QEMU_UPSTREAM &&
        !(id == FM_XEN_EMULATOR_UNKNOWN && legacy)) {
        fm_record_protocol_error(error, _("unknown emulator id %u in the libxl %s record at offset %llu"),
                              id, name, (ull)offset);
        return FALSE;
    }
    if (type != FM_XEN_LIBXL_REC_EMULATOR_XENSTORE_DATA || len == 0)
        return TRUE;
    if (data[len - 1] != '\0') {
        fm_record_protocol_error(error, _("libxl %s record at offset %llu: the data does not end with a NUL byte"),
                              name, (ull)offset);
        return FALSE;
    }
    while (pos < len) {
        gsize end = pos + strlen((const char *)data + pos);   /* data[len - 1] is NUL */

        if (strings % 2 == 0) {
            gboolean valid = end > pos;

            for (gsize i = pos; valid && i < end; i++)
                valid = fm_xen_is_key_char(data[i]);
            if (!valid) {
                fm_record_protocol_error(error, _("libxl %s record at offset %llu: key %u is empty or has a character other than A-Z, a-z, 0-9, -, /, _ and @"),
                                      name, (ull)offset, strings / 2);
                return FALSE;
            }
        }
        strings++;
        pos = end + 1;
    }
    if (strings % 2 != 0) {
        fm_record_protocol_error(error, _("libxl %s record at offset %llu has %u strings (keys and values come in pairs)"),
                              name, (ull)offset, strings);
        return FALSE;
    }
    return TRUE;
}

/* ---- writer ---- */

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

/* Writes the libxl header; see fm-xen-stream.h. */
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

/* Writes LIBXC_CONTEXT and the libxc headers; see fm-xen-stream.h. */
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
    if (domain_type != FM_XEN_DOMAIN_X86_HVM) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("cannot write a stream of libxc domain type %u: only x86 HVM (HVM and PVH guests) is supported"),
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
    writer->state = FM_XEN_WRITER_LIBXC;
    return TRUE;
}

/* Writes one libxc record other than PAGE_DATA and END; see fm-xen-stream.h. */
gboolean
fm_xen_stream_writer_write_libxc_record(FmXenStreamWriter *writer, guint32 type,
                                        const void *body, gsize len, GError **error)
{
    g_autoptr(GError) invalid = NULL;
    FmXenRecord unused;
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
        !fm_xen_libxc_check_body(type, body, len, offset, G_MAXUINT64, &unused,
                                 &invalid)) {
        fm_xen_writer_refuse(error, invalid);
        return FALSE;
    }
    if (!fm_xen_writer_put_record(writer, type, NULL, 0, body, len, error))
        return FALSE;
    fm_xen_libxc_state_apply(&writer->xc, type);
    return TRUE;
}

/* Writes pages as PAGE_DATA records; see fm-xen-stream.h. */
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
        fm_xen_libxc_state_apply(&writer->xc, FM_XEN_LIBXC_REC_PAGE_DATA);
        done += count;
        data_done += with_data;
    }
    return TRUE;
}

/* Writes the libxc END; see fm-xen-stream.h. */
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

/* Writes an emulator record; see fm-xen-stream.h. */
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

/* Writes the libxl END; see fm-xen-stream.h. */
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

/* ---- reader ---- */

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

/* Reads and checks the libxl header; see fm-xen-stream.h. */
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
    if (value == FM_XEN_DOMAIN_X86_PV) {
        fm_record_protocol_error(error, _("unsupported libxc domain type 1 (x86 PV) at offset %llu: only x86 HVM streams (HVM and PVH guests) are supported"),
                              (ull)at);
        return FALSE;
    }
    if (value != FM_XEN_DOMAIN_X86_HVM) {
        fm_record_protocol_error(error, _("unknown libxc domain type %u at offset %llu"), value,
                              (ull)at);
        return FALSE;
    }
    reader->domain_type = value;
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
        !fm_record_reader_read_body(reader->records, 0, len, error) ||
        !fm_record_reader_read_padding(reader->records, error))
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
    if (!fm_record_reader_read_body(reader->records, head, len - head, error) ||
        !fm_record_reader_read_padding(reader->records, error) ||
        !fm_xen_libxc_check_body(type, fm_record_reader_get_body(reader->records), len,
                                 offset, reader->max_pfns, record, error))
        return FALSE;
    fm_xen_libxc_state_apply(&reader->xc, type);
    if (type == FM_XEN_LIBXC_REC_END) {
        reader->state = FM_XEN_READER_LIBXL;
        fm_record_reader_set_format(reader->records, &fm_xen_libxl_format);
    } else {
        reader->state = FM_XEN_READER_LIBXC;
    }
    return TRUE;
}

/* Reads and checks the next record; see fm-xen-stream.h. */
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

/* Checks that nothing follows the libxl END; see fm-xen-stream.h. */
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

/* ---- the Xen sink ---- */

typedef struct {
    FmSink parent;
    FmChannel *channel;        /* borrowed */
    FmXenStreamWriter *writer; /* on channel */
    FmXenGuestType guest_type;
    guint32 xen_major;
    guint32 xen_minor;
    guint32 emulator_id;
    GBytes *cpuid_policy;      /* NULL: none */
    GBytes *msr_policy;
    GBytes *emu_xenstore;      /* set by fm_xen_sink_set_emulator_state() */
    GBytes *emu_context;       /*   NULL until then */
    guint64 page_count;        /* from begin */
    guint64 *pfn_map;          /* page number -> guest pfn; NULL: identity */
    gsize pfn_map_len;
    GArray *mapped;            /* scratch: the pfns of one send_pages call */
    gboolean begun;
    gboolean aborted;
} FmXenSink;

static const FmSinkOps fm_xen_sink_ops;

/* Returns @sink as a Xen sink; NULL (and a critical) if it is another kind. */
static FmXenSink *
fm_xen_sink_cast(FmSink *sink)
{
    g_return_val_if_fail(sink != NULL && sink->ops == &fm_xen_sink_ops, NULL);
    return (FmXenSink *)sink;
}

/* Brings bytes_sent up to date. */
static void
fm_xen_sink_count(FmXenSink *self)
{
    self->parent.bytes_sent = fm_xen_stream_writer_get_offset(self->writer);
}

/* Fails once the sink was aborted or before begin (@need_begun). */
static gboolean
fm_xen_sink_check_usable(FmXenSink *self, gboolean need_begun, GError **error)
{
    if (self->aborted) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("cannot write to a stream that was abandoned"));
        return FALSE;
    }
    if (need_begun && !self->begun) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("cannot write a record before the stream was begun"));
        return FALSE;
    }
    return TRUE;
}

/* Writes the headers and the static data. */
static gboolean
fm_xen_sink_begin(FmSink *sink, guint64 page_count, gsize page_size, GError **error)
{
    FmXenSink *self = fm_xen_sink_cast(sink);
    gboolean ok;

    if (!fm_xen_sink_check_usable(self, FALSE, error))
        return FALSE;
    if (self->begun) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED, _("the stream was already begun"));
        return FALSE;
    }
    if (page_size != FM_XEN_PAGE_SIZE) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid page size %llu for a Xen x86 stream (it must be 4096)"),
                    (ull)page_size);
        return FALSE;
    }
    if (page_count == 0 || page_count - 1 > FM_XEN_PFN_MASK) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid page count %llu for a Xen x86 stream"), (ull)page_count);
        return FALSE;
    }
    if (self->pfn_map != NULL && page_count != self->pfn_map_len) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid page count %llu: the pfn map has %llu pages"),
                    (ull)page_count, (ull)self->pfn_map_len);
        return FALSE;
    }
    if (self->guest_type == FM_XEN_GUEST_HVM &&
        self->emulator_id != FM_XEN_EMULATOR_QEMU_TRADITIONAL &&
        self->emulator_id != FM_XEN_EMULATOR_QEMU_UPSTREAM) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid emulator id %u for an HVM guest (1: qemu-traditional, 2: qemu-upstream)"),
                    self->emulator_id);
        return FALSE;
    }

    ok = fm_xen_stream_writer_write_libxl_header(self->writer, error) &&
        fm_xen_stream_writer_begin_libxc(self->writer, FM_XEN_DOMAIN_X86_HVM,
                                         self->xen_major, self->xen_minor, error) &&
        (self->cpuid_policy == NULL ||
         fm_xen_stream_writer_write_libxc_record(self->writer,
                                                 FM_XEN_LIBXC_REC_X86_CPUID_POLICY,
                                                 g_bytes_get_data(self->cpuid_policy, NULL),
                                                 g_bytes_get_size(self->cpuid_policy),
                                                 error)) &&
        (self->msr_policy == NULL ||
         fm_xen_stream_writer_write_libxc_record(self->writer,
                                                 FM_XEN_LIBXC_REC_X86_MSR_POLICY,
                                                 g_bytes_get_data(self->msr_policy, NULL),
                                                 g_bytes_get_size(self->msr_policy),
                                                 error)) &&
        fm_xen_stream_writer_write_libxc_record(self->writer,
                                                FM_XEN_LIBXC_REC_STATIC_DATA_END, NULL, 0,
                                                error);
    fm_xen_sink_count(self);
    if (!ok)
        return FALSE;
    self->page_count = page_count;
    self->begun = TRUE;
    return TRUE;
}

/* Sends pages of the given types (NULL: NOTAB), bounded by the page count. */
static gboolean
fm_xen_sink_write_pages(FmXenSink *self, const guint64 *pfns, const guint8 *types,
                        gsize n, const guint8 *data, GError **error)
{
    gboolean ok;

    if (!fm_xen_sink_check_usable(self, TRUE, error))
        return FALSE;
    for (gsize i = 0; i < n; i++) {
        if (pfns[i] >= self->page_count) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("cannot send pfn %llu: the guest has %llu pages"),
                        (ull)pfns[i], (ull)self->page_count);
            return FALSE;
        }
    }
    if (self->pfn_map != NULL) {
        g_array_set_size(self->mapped, n);
        for (gsize i = 0; i < n; i++)
            g_array_index(self->mapped, guint64, i) = self->pfn_map[pfns[i]];
        pfns = (const guint64 *)(gconstpointer)self->mapped->data;
    }
    ok = fm_xen_stream_writer_write_pages(self->writer, pfns, types, n, data, error);
    fm_xen_sink_count(self);
    return ok;
}

/* Sends pages as NOTAB PAGE_DATA. */
static gboolean
fm_xen_sink_send_pages(FmSink *sink, const guint64 *pfns, gsize n, const guint8 *data,
                       GError **error)
{
    return fm_xen_sink_write_pages(fm_xen_sink_cast(sink), pfns, NULL, n, data, error);
}

/* Sends typed pages; see fm-xen-stream.h. */
gboolean
fm_xen_sink_send_typed_pages(FmSink *sink, const guint64 *pfns, const guint8 *types,
                             gsize n, const guint8 *data, GError **error)
{
    FmXenSink *self = fm_xen_sink_cast(sink);

    g_return_val_if_fail(self != NULL, FALSE);
    g_return_val_if_fail(n == 0 || (pfns != NULL && types != NULL), FALSE);
    return fm_xen_sink_write_pages(self, pfns, types, n, data, error);
}

/* Sends one libxc record of libxc type @type. */
static gboolean
fm_xen_sink_send_record(FmSink *sink, guint32 type, const void *data, gsize len,
                        GError **error)
{
    FmXenSink *self = fm_xen_sink_cast(sink);
    gboolean ok;

    if (!fm_xen_sink_check_usable(self, TRUE, error))
        return FALSE;
    if (type == FM_XEN_LIBXC_REC_END || type == FM_XEN_LIBXC_REC_PAGE_DATA ||
        type == FM_XEN_LIBXC_REC_STATIC_DATA_END) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("cannot send a libxc %s record with fm_sink_send_record(): the Xen sink writes it"),
                    fm_xen_libxc_record_name(type));
        return FALSE;
    }
    ok = fm_xen_stream_writer_write_libxc_record(self->writer, type, data, len, error);
    fm_xen_sink_count(self);
    return ok;
}

/* Nothing to mark: the writes are already in the kernel. */
static gboolean
fm_xen_sink_flush(FmSink *sink, GError **error)
{
    return fm_xen_sink_check_usable(fm_xen_sink_cast(sink), TRUE, error);
}

/* Writes the libxc END, the emulator records of an HVM guest and the libxl END. */
static gboolean
fm_xen_sink_finish(FmSink *sink, GError **error)
{
    FmXenSink *self = fm_xen_sink_cast(sink);
    gboolean hvm = self->guest_type == FM_XEN_GUEST_HVM;
    gboolean ok;

    if (!fm_xen_sink_check_usable(self, TRUE, error))
        return FALSE;
    /* Xen's restore of an HVM guest starts its device model from this state. */
    if (hvm && self->emu_context == NULL) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("cannot end the stream of an HVM guest without its device model state"));
        return FALSE;
    }
    ok = fm_xen_stream_writer_end_libxc(self->writer, error) &&
        (!hvm || g_bytes_get_size(self->emu_xenstore) == 0 ||
         fm_xen_stream_writer_write_emulator_record(self->writer,
                                                    FM_XEN_LIBXL_REC_EMULATOR_XENSTORE_DATA,
                                                    self->emulator_id, 0,
                                                    g_bytes_get_data(self->emu_xenstore, NULL),
                                                    g_bytes_get_size(self->emu_xenstore),
                                                    error)) &&
        (!hvm ||
         fm_xen_stream_writer_write_emulator_record(self->writer,
                                                    FM_XEN_LIBXL_REC_EMULATOR_CONTEXT,
                                                    self->emulator_id, 0,
                                                    g_bytes_get_data(self->emu_context, NULL),
                                                    g_bytes_get_size(self->emu_context),
                                                    error)) &&
        fm_xen_stream_writer_write_libxl_end(self->writer, error);
    fm_xen_sink_count(self);
    return ok;
}

/* Nothing to send: the sink only refuses further calls. */
static void
fm_xen_sink_abort(FmSink *sink, const char *reason)
{
    FmXenSink *self = fm_xen_sink_cast(sink);

    (void)reason;
    self->aborted = TRUE;
}

/* Frees the sink, not the channel. */
static void
fm_xen_sink_free(FmSink *sink)
{
    FmXenSink *self = fm_xen_sink_cast(sink);

    fm_xen_stream_writer_free(self->writer);
    g_clear_pointer(&self->cpuid_policy, g_bytes_unref);
    g_clear_pointer(&self->msr_policy, g_bytes_unref);
    g_clear_pointer(&self->emu_xenstore, g_bytes_unref);
    g_clear_pointer(&self->emu_context, g_bytes_unref);
    g_free(self->pfn_map);
    g_array_unref(self->mapped);
    g_free(self);
}

static const FmSinkOps fm_xen_sink_ops = {
    .name = "xen",
    .records = FM_SINK_RECORDS_XEN_LIBXC,
    .begin = fm_xen_sink_begin,
    .send_pages = fm_xen_sink_send_pages,
    .send_record = fm_xen_sink_send_record,
    .flush = fm_xen_sink_flush,
    .finish = fm_xen_sink_finish,
    .abort = fm_xen_sink_abort,
    .free = fm_xen_sink_free,
};

/* Returns a copy of @len bytes at @data, or NULL when empty. */
static GBytes *
fm_xen_copy_blob(const void *data, gsize len)
{
    return len > 0 ? g_bytes_new(data, len) : NULL;
}

/* Returns a new Xen sink on the borrowed @channel; see fm-xen-stream.h. */
FmSink *
fm_xen_sink_new(FmChannel *channel, const FmXenStreamInfo *info)
{
    FmXenSink *self;

    g_return_val_if_fail(channel != NULL && info != NULL, NULL);
    g_return_val_if_fail(info->guest_type == FM_XEN_GUEST_PVH ||
                         info->guest_type == FM_XEN_GUEST_HVM, NULL);
    g_return_val_if_fail(info->cpuid_policy_len == 0 || info->cpuid_policy != NULL, NULL);
    g_return_val_if_fail(info->msr_policy_len == 0 || info->msr_policy != NULL, NULL);
    g_return_val_if_fail(info->pfn_map_len == 0 || info->pfn_map != NULL, NULL);

    self = g_new0(FmXenSink, 1);
    self->parent.ops = &fm_xen_sink_ops;
    self->channel = channel;
    self->writer = fm_xen_stream_writer_new(channel);
    self->guest_type = info->guest_type;
    self->xen_major = info->xen_major;
    self->xen_minor = info->xen_minor;
    self->emulator_id = info->emulator_id;
    self->cpuid_policy = fm_xen_copy_blob(info->cpuid_policy, info->cpuid_policy_len);
    self->msr_policy = fm_xen_copy_blob(info->msr_policy, info->msr_policy_len);
    if (info->pfn_map != NULL) {
        self->pfn_map = g_memdup2(info->pfn_map, info->pfn_map_len * sizeof(guint64));
        self->pfn_map_len = info->pfn_map_len;
    }
    self->mapped = g_array_new(FALSE, FALSE, sizeof(guint64));
    return &self->parent;
}

/* Stores an HVM guest's device model state; see fm-xen-stream.h. */
gboolean
fm_xen_sink_set_emulator_state(FmSink *sink, const void *xenstore_data,
                               gsize xenstore_len, const void *context,
                               gsize context_len, GError **error)
{
    FmXenSink *self = fm_xen_sink_cast(sink);
    g_autoptr(GError) invalid = NULL;

    g_return_val_if_fail(self != NULL, FALSE);
    g_return_val_if_fail(xenstore_len == 0 || xenstore_data != NULL, FALSE);
    g_return_val_if_fail(context_len == 0 || context != NULL, FALSE);

    if (self->guest_type != FM_XEN_GUEST_HVM) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("a PVH guest has no device model state"));
        return FALSE;
    }
    if (context_len == 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("the device model state of an HVM guest cannot be empty"));
        return FALSE;
    }
    /* The offset is unknown yet: the checks below speak of offset 0. */
    if (!fm_xen_check_emulator_length(FM_XEN_LIBXL_REC_EMULATOR_XENSTORE_DATA,
                                      xenstore_len, 0, &invalid) ||
        !fm_xen_check_emulator_length(FM_XEN_LIBXL_REC_EMULATOR_CONTEXT, context_len, 0,
                                      &invalid) ||
        !fm_xen_check_emulator(FM_XEN_LIBXL_REC_EMULATOR_XENSTORE_DATA,
                               FM_XEN_EMULATOR_QEMU_UPSTREAM, xenstore_data, xenstore_len,
                               FALSE, 0, &invalid)) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid device model state: %s"), invalid->message);
        return FALSE;
    }
    g_clear_pointer(&self->emu_xenstore, g_bytes_unref);
    g_clear_pointer(&self->emu_context, g_bytes_unref);
    self->emu_xenstore = g_bytes_new(xenstore_data, xenstore_len);
    self->emu_context = g_bytes_new(context, context_len);
    return TRUE;
}
