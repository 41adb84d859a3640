/*
 * fm-xen-checks.c: the checks of Xen stream records that the writer and the
 * reader share (fm-xen-checks.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "stream/fm-xen-checks.h"

#include <string.h>

#include "util/fm-bytes.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

typedef unsigned long long ull;

/* Bits 59-52 of a pfn entry. */
#define FM_XEN_PFN_RESERVED_MASK (((G_GUINT64_CONSTANT(1) << 60) - 1) & ~FM_XEN_PFN_MASK)

/* The two layers' records, for the record layer (fm-record.h): messages name
 * every record with its layer, "libxc PAGE_DATA". */
const FmRecordFormat fm_xen_libxl_format = {
    .family = "libxl",
    .type_name = fm_xen_libxl_record_name,
    .align = FM_XEN_REC_ALIGN,
    .max_body = FM_XEN_REC_LENGTH_MAX,
};

const FmRecordFormat fm_xen_libxc_format = {
    .family = "libxc",
    .type_name = fm_xen_libxc_record_name,
    .align = FM_XEN_REC_ALIGN,
    .max_body = FM_XEN_REC_LENGTH_MAX,
};

/* Returns TRUE for the record types only an x86 PV stream carries. */
static gboolean
fm_xen_libxc_type_is_pv(guint32 type)
{
    switch (type) {
    case FM_XEN_LIBXC_REC_X86_PV_INFO:
    case FM_XEN_LIBXC_REC_X86_PV_P2M_FRAMES:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_BASIC:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_EXTENDED:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_XSAVE:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_MSRS:
    case FM_XEN_LIBXC_REC_SHARED_INFO:
        return TRUE;
    default:
        return FALSE;
    }
}

/* Returns TRUE for the record types only an x86 HVM stream carries. */
static gboolean
fm_xen_libxc_type_is_hvm(guint32 type)
{
    return type == FM_XEN_LIBXC_REC_HVM_CONTEXT || type == FM_XEN_LIBXC_REC_HVM_PARAMS;
}

/* Checks what Xen 4.17's PV restore needs before a record of @type (already past
 * STATIC_DATA_END): X86_PV_INFO before anything that depends on the guest's
 * width, X86_PV_P2M_FRAMES (once) before the pages it sizes, and the shared info
 * and a vCPU's basic state before the END. */
static gboolean
fm_xen_pv_check_order(const FmXenLibxcState *st, guint32 type, guint64 offset,
                      GError **error)
{
    const char *name = fm_xen_libxc_record_name(type);

    if (st->pv_width == 0 && type != FM_XEN_LIBXC_REC_X86_TSC_INFO) {
        fm_record_protocol_error(error, _("libxc %s record at offset %llu before X86_PV_INFO"),
                                 name, (ull)offset);
        return FALSE;
    }
    if (type == FM_XEN_LIBXC_REC_X86_PV_P2M_FRAMES && st->p2m_frames) {
        fm_record_protocol_error(error, _("second libxc %s record at offset %llu"), name,
                                 (ull)offset);
        return FALSE;
    }
    if ((type == FM_XEN_LIBXC_REC_PAGE_DATA || type == FM_XEN_LIBXC_REC_END) &&
        !st->p2m_frames) {
        fm_record_protocol_error(error, _("libxc %s record at offset %llu before X86_PV_P2M_FRAMES"),
                                 name, (ull)offset);
        return FALSE;
    }
    if (type == FM_XEN_LIBXC_REC_END && (!st->shared_info || !st->vcpu_basic)) {
        fm_record_protocol_error(error, _("libxc END record at offset %llu without %s (an x86 PV guest cannot be restored without it)"),
                                 (ull)offset, !st->shared_info ? "SHARED_INFO" : "X86_PV_VCPU_BASIC");
        return FALSE;
    }
    return TRUE;
}

/* Checks a libxc record header before its body is read; see fm-xen-checks.h. */
gboolean
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
        min = max = FM_XEN_PV_INFO_SIZE;
        break;
    case FM_XEN_LIBXC_REC_X86_PV_P2M_FRAMES:
        min = FM_XEN_PV_P2M_HEAD_SIZE + 8;
        unit = 8;
        break;
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_BASIC:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_EXTENDED:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_XSAVE:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_MSRS:
        min = FM_XEN_PV_VCPU_HEAD_SIZE;
        break;
    case FM_XEN_LIBXC_REC_SHARED_INFO:
        min = max = FM_XEN_SHARED_INFO_SIZE;
        break;
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
    if (st->domain_type == FM_XEN_DOMAIN_X86_PV ? fm_xen_libxc_type_is_hvm(type)
                                                : fm_xen_libxc_type_is_pv(type)) {
        fm_record_protocol_error(error, _("libxc %s record at offset %llu is not valid in an x86 %s stream"),
                                 name, (ull)offset,
                                 st->domain_type == FM_XEN_DOMAIN_X86_PV ? "PV" : "HVM");
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
    case FM_XEN_LIBXC_REC_X86_PV_P2M_FRAMES:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_BASIC:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_EXTENDED:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_XSAVE:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_MSRS:
    case FM_XEN_LIBXC_REC_SHARED_INFO:
    case FM_XEN_LIBXC_REC_END:
        /* A version 2 stream has no STATIC_DATA_END: its first PAGE_DATA stands for
         * it (the specification's "v3 compat with v2"). */
        if (st->version >= 3 && !st->static_data_end) {
            fm_record_protocol_error(error, _("libxc %s record at offset %llu before STATIC_DATA_END"),
                                     name, (ull)offset);
            return FALSE;
        }
        /* PV records reach here in PV streams only (refused above otherwise). */
        if (st->domain_type == FM_XEN_DOMAIN_X86_PV)
            return fm_xen_pv_check_order(st, type, offset, error);
        if (type == FM_XEN_LIBXC_REC_END && !st->hvm_context) {
            fm_record_protocol_error(error, _("libxc END record at offset %llu without an HVM_CONTEXT record (an x86 HVM guest cannot be restored without one)"),
                                     (ull)offset);
            return FALSE;
        }
        break;
    case FM_XEN_LIBXC_REC_X86_PV_INFO:
        /* Static data in a version 3 stream; the first record of a version 2 one. */
        if (st->static_data_end || st->pv_width != 0) {
            fm_record_protocol_error(error, _("libxc %s record at offset %llu after STATIC_DATA_END or a second one (it is static data)"),
                                     name, (ull)offset);
            return FALSE;
        }
        break;
    default:
        break;
    }
    return TRUE;
}

/* Checks the count and reserved field of a PAGE_DATA body; see fm-xen-checks.h. */
gboolean
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
                       FmXenPageData *out, GError **error)
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

/* Checks the body of an X86_PV_INFO record: a width and page-table depth that
 * Xen 4.17 restores (64-bit with 4 levels, 32-bit PAE with 3). */
static gboolean
fm_xen_check_pv_info(const guint8 *body, guint64 offset, GError **error)
{
    guint32 width = body[0], levels = body[1];

    if (!((width == 8 && levels == 4) || (width == 4 && levels == 3))) {
        fm_record_protocol_error(error, _("libxc X86_PV_INFO record at offset %llu: guest width %u with %u page-table levels (expected 8 with 4, or 4 with 3)"),
                                 (ull)offset, width, levels);
        return FALSE;
    }
    if (fm_get_le16(body + 2) != 0 || fm_get_le32(body + 4) != 0) {
        fm_record_protocol_error(error, _("nonzero reserved field 0x%llx at offset %llu"),
                                 (ull)(fm_get_le16(body + 2) | (guint64)fm_get_le32(body + 4) << 16),
                                 (ull)(offset + 8 + 2));
        return FALSE;
    }
    return TRUE;
}

/* Checks an X86_PV_P2M_FRAMES body: start <= end, and one frame for each page of
 * the p2m between them (a page holds 4096 / width entries). */
static gboolean
fm_xen_check_pv_p2m_frames(const FmXenLibxcState *st, const guint8 *body, gsize len,
                           guint64 offset, GError **error)
{
    guint64 start = fm_get_le32(body), end = fm_get_le32(body + 4);
    guint64 per_frame = FM_XEN_PAGE_SIZE / st->pv_width;
    guint64 expected;

    if (start > end) {
        fm_record_protocol_error(error, _("libxc X86_PV_P2M_FRAMES record at offset %llu: start pfn 0x%llx is above end pfn 0x%llx"),
                                 (ull)offset, (ull)start, (ull)end);
        return FALSE;
    }
    expected = FM_XEN_PV_P2M_HEAD_SIZE + 8 * (end / per_frame - start / per_frame + 1);
    if (len != expected) {
        fm_record_protocol_error(error, _("libxc X86_PV_P2M_FRAMES record at offset %llu: body length %llu does not match pfns 0x%llx-0x%llx (expected %llu)"),
                                 (ull)offset, (ull)len, (ull)start, (ull)end, (ull)expected);
        return FALSE;
    }
    return TRUE;
}

/* Checks an X86_PV_VCPU_* body: the reserved field, and the blob's size as Xen
 * 4.17's restore wants it. */
static gboolean
fm_xen_check_pv_vcpu(const FmXenLibxcState *st, guint32 type, const guint8 *body,
                     gsize len, guint64 offset, GError **error)
{
    gsize blob = len - FM_XEN_PV_VCPU_HEAD_SIZE;
    gboolean ok;

    if (fm_get_le32(body + 4) != 0) {
        fm_record_protocol_error(error, _("nonzero reserved field 0x%llx at offset %llu"),
                                 (ull)fm_get_le32(body + 4), (ull)(offset + 8 + 4));
        return FALSE;
    }
    switch (type) {
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_BASIC:
        ok = blob == (st->pv_width == 8 ? FM_XEN_PV_VCPU_BASIC_SIZE_64
                                        : FM_XEN_PV_VCPU_BASIC_SIZE_32);
        break;
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_EXTENDED:
        ok = blob > 0 && blob <= FM_XEN_PV_VCPU_EXTENDED_MAX;
        break;
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_XSAVE:
        ok = blob >= FM_XEN_PV_VCPU_XSAVE_MIN;
        break;
    default:
        ok = blob > 0 && blob % FM_XEN_PV_VCPU_MSR_SIZE == 0;
        break;
    }
    if (!ok) {
        fm_record_protocol_error(error, _("libxc %s record at offset %llu: a context of %llu bytes is not valid for a %u-bit guest"),
                                 fm_xen_libxc_record_name(type), (ull)offset, (ull)blob,
                                 st->pv_width * 8);
        return FALSE;
    }
    return TRUE;
}

/* Checks a libxc body once read; see fm-xen-checks.h. */
gboolean
fm_xen_libxc_check_body(const FmXenLibxcState *st, guint32 type, const guint8 *body,
                        gsize len, guint64 offset, guint64 max_pfns, FmXenPageData *out,
                        GError **error)
{
    switch (type) {
    case FM_XEN_LIBXC_REC_PAGE_DATA:
        /* A PV restore sizes the guest's p2m from X86_PV_P2M_FRAMES. */
        if (st->domain_type == FM_XEN_DOMAIN_X86_PV && st->p2m_frames)
            max_pfns = MIN(max_pfns, st->pv_end_pfn + 1);
        return fm_xen_check_page_data(body, len, offset, max_pfns, out, error);
    case FM_XEN_LIBXC_REC_X86_PV_INFO:
        return fm_xen_check_pv_info(body, offset, error);
    case FM_XEN_LIBXC_REC_X86_PV_P2M_FRAMES:
        return fm_xen_check_pv_p2m_frames(st, body, len, offset, error);
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_BASIC:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_EXTENDED:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_XSAVE:
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_MSRS:
        return fm_xen_check_pv_vcpu(st, type, body, len, offset, error);
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
void
fm_xen_libxc_state_apply(FmXenLibxcState *st, guint32 type, const guint8 *body)
{
    switch (type) {
    case FM_XEN_LIBXC_REC_X86_PV_INFO:
        st->pv_width = body[0];
        break;
    case FM_XEN_LIBXC_REC_X86_PV_P2M_FRAMES:
        st->p2m_frames = TRUE;
        st->pv_end_pfn = fm_get_le32(body + 4);
        break;
    case FM_XEN_LIBXC_REC_SHARED_INFO:
        st->shared_info = TRUE;
        break;
    case FM_XEN_LIBXC_REC_X86_PV_VCPU_BASIC:
        st->vcpu_basic = TRUE;
        break;
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

/* Checks the length of an emulator record; see fm-xen-checks.h. */
gboolean
fm_xen_check_emulator_length(guint32 type, gsize len, guint64 offset, GError **error)
{
    return fm_record_check_length(&fm_xen_libxl_format, type, 8 + (guint64)len, 8,
                                  FM_XEN_REC_LENGTH_MAX, 0, offset, error);
}

/* Checks the emulator part of an emulator record; see fm-xen-checks.h. */
gboolean
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
