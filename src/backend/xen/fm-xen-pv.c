/*
 * fm-xen-pv.c: the p2m list, page-table normalisation and state records of an
 * x86 PV guest (fm-xen-pv.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "backend/xen/fm-xen-pv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xen/xen.h>

#include "stream/fm-xen-format.h"
#include "util/fm-bytes.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

typedef unsigned long long ull;

/* Page-table entries: present and superpage bits, the frame in bits 12-51. */
#define FM_PTE_PRESENT  G_GUINT64_CONSTANT(0x1)
#define FM_PTE_PSE      G_GUINT64_CONSTANT(0x80)
#define FM_PTE_FRAME    G_GUINT64_CONSTANT(0x000ffffffffff000)
#define FM_PTES         (FM_XEN_PAGE_SIZE / 8)
/* The L4 slots of Xen's own range in a 64-bit guest (0xffff800000000000 up to
 * 0xffff880000000000, 512 GiB a slot): cleared in the stream, the destination's
 * Xen fills in its own. */
#define FM_L4_XEN_FIRST 256u
#define FM_L4_XEN_LAST  272u
/* p2m entries (64-bit guest: u64) a page of the list holds. */
#define FM_P2M_PER_PAGE (FM_XEN_PAGE_SIZE / 8)

G_STATIC_ASSERT(sizeof(vcpu_guest_context_x86_64_t) == FM_XEN_PV_VCPU_BASIC_SIZE_64);
G_STATIC_ASSERT(sizeof(xen_domctl_vcpu_msr_t) == FM_XEN_PV_VCPU_MSR_SIZE);

typedef struct {
    guint64 mfn;
    guint64 pfn;
} FmMfnPfn;

struct _FmXenPv {
    xc_interface *xch;                 /* borrowed */
    xenforeignmemory_handle *fmem;     /* borrowed */
    guint32 domid;
    guint32 max_vcpu_id;
    guint64 shinfo_mfn;
    struct shared_info *shinfo;        /* mapped read-only */
    guint64 p2m_generation;            /* when the list was mapped */
    guint64 p2m_size;                  /* pfns covered: end pfn + 1 */
    const guint64 *p2m;                /* the guest's list, mapped read-only */
    gsize p2m_pages;
    guint64 *p2m_copy;                 /* fm_xen_pv_new_for_test(): p2m, owned */
    FmMfnPfn *by_mfn;                  /* sorted copy, for mfn -> pfn */
    gsize by_mfn_len;
    GByteArray *p2m_frames;            /* the X86_PV_P2M_FRAMES body */
};

/* Sets @error for a failed Xen call @what (errno @err). */
static void
fm_xen_pv_set_errno(GError **error, int err, const char *what, guint32 domid)
{
    g_set_error(error, FM_ERROR, FM_ERROR_IO, _("domain %u: %s failed: %s"), domid, what,
                g_strerror(err ? err : EIO));
}

/* Returns a read-only mapping of the @n guest frames @mfns, or NULL with @error. */
static void *
fm_xen_pv_map(const FmXenPv *pv, const guint64 *mfns, gsize n, GError **error)
{
    g_autofree xen_pfn_t *arr = g_new(xen_pfn_t, n);
    g_autofree int *errs = g_new0(int, n);
    void *map;

    for (gsize i = 0; i < n; i++)
        arr[i] = mfns[i];
    map = xenforeignmemory_map(pv->fmem, pv->domid, PROT_READ, n, arr, errs);
    if (map == NULL) {
        fm_xen_pv_set_errno(error, errno, "mapping guest frames", pv->domid);
        return NULL;
    }
    for (gsize i = 0; i < n; i++) {
        if (errs[i] != 0) {
            g_set_error(error, FM_ERROR, FM_ERROR_IO,
                        _("domain %u: cannot map mfn 0x%llx: %s"), pv->domid,
                        (ull)mfns[i], g_strerror(-errs[i]));
            xenforeignmemory_unmap(pv->fmem, map, n);
            return NULL;
        }
    }
    return map;
}

/* Returns the mfn that maps guest virtual address @va in the page tables rooted
 * at mfn @root (4 levels), or FM_XEN_PV_INVALID_MFN with @error. */
static guint64
fm_xen_pv_walk(const FmXenPv *pv, guint64 root, guint64 va, GError **error)
{
    guint64 mfn = root;

    for (int level = 4; level >= 1; level--) {
        guint64 *table = fm_xen_pv_map(pv, &mfn, 1, error);
        guint64 pte;

        if (table == NULL)
            return FM_XEN_PV_INVALID_MFN;
        pte = table[(va >> (12 + 9 * (level - 1))) & 511];
        xenforeignmemory_unmap(pv->fmem, table, 1);
        if (!(pte & FM_PTE_PRESENT) || (level > 1 && (pte & FM_PTE_PSE))) {
            g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                        _("domain %u: the p2m list at 0x%llx is not mapped by 4 KiB pages (level %d entry 0x%llx)"),
                        pv->domid, (ull)va, level, (ull)pte);
            return FM_XEN_PV_INVALID_MFN;
        }
        mfn = (pte & FM_PTE_FRAME) >> 12;
    }
    return mfn;
}

static int
fm_mfn_pfn_cmp(const void *a, const void *b)
{
    guint64 x = ((const FmMfnPfn *)a)->mfn, y = ((const FmMfnPfn *)b)->mfn;

    return x < y ? -1 : x > y;
}

/* Returns the pfn of @mfn if the guest's p2m names it now, else G_MAXUINT64. */
static guint64
fm_xen_pv_mfn_to_pfn(const FmXenPv *pv, guint64 mfn)
{
    FmMfnPfn key = { mfn, 0 };
    const FmMfnPfn *hit = bsearch(&key, pv->by_mfn, pv->by_mfn_len, sizeof(key),
                                  fm_mfn_pfn_cmp);

    if (hit == NULL || pv->p2m[hit->pfn] != mfn)
        return G_MAXUINT64;
    return hit->pfn;
}

/* Builds the mfn -> pfn index of pv->p2m (p2m_size entries) and the
 * X86_PV_P2M_FRAMES body, given the mfns of the list's p2m_pages pages. */
static gboolean
fm_xen_pv_index(FmXenPv *pv, const guint64 *mfns, GError **error)
{
    pv->by_mfn = g_new(FmMfnPfn, pv->p2m_size);
    for (guint64 pfn = 0; pfn < pv->p2m_size; pfn++) {
        guint64 mfn = pv->p2m[pfn];

        if (mfn > FM_XEN_PFN_MASK)     /* invalid, or an identity or foreign marker */
            continue;
        pv->by_mfn[pv->by_mfn_len++] = (FmMfnPfn){ mfn, pfn };
    }
    qsort(pv->by_mfn, pv->by_mfn_len, sizeof(FmMfnPfn), fm_mfn_pfn_cmp);

    /* X86_PV_P2M_FRAMES: pfns 0 .. p2m_size - 1, the list's own pages as pfns. */
    g_byte_array_set_size(pv->p2m_frames, FM_XEN_PV_P2M_HEAD_SIZE + 8 * pv->p2m_pages);
    fm_put_le32(pv->p2m_frames->data, 0);
    fm_put_le32(pv->p2m_frames->data + 4, (guint32)(pv->p2m_size - 1));
    for (gsize i = 0; i < pv->p2m_pages; i++) {
        guint64 pfn = fm_xen_pv_mfn_to_pfn(pv, mfns[i]);

        if (pfn == G_MAXUINT64) {
            g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                        _("domain %u: page %zu of the p2m list (mfn 0x%llx) is not the guest's"),
                        pv->domid, i, (ull)mfns[i]);
            return FALSE;
        }
        fm_put_le64(pv->p2m_frames->data + FM_XEN_PV_P2M_HEAD_SIZE + 8 * i, pfn);
    }
    return TRUE;
}

/* Maps the guest's linear p2m list and the X86_PV_P2M_FRAMES body. */
static gboolean
fm_xen_pv_map_p2m(FmXenPv *pv, GError **error)
{
    guint64 cr3 = pv->shinfo->arch.p2m_cr3;
    guint64 vaddr = pv->shinfo->arch.p2m_vaddr;
    guint64 max_pfn = pv->shinfo->arch.max_pfn;   /* pfns the list holds */
    g_autofree guint64 *mfns = NULL;

    pv->p2m_generation = pv->shinfo->arch.p2m_generation;
    if (cr3 == 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                    _("domain %u: the PV guest announces no linear p2m list (p2m_cr3 is 0): its kernel is too old for fragmig, use xl migrate"),
                    pv->domid);
        return FALSE;
    }
    if (max_pfn == 0 || max_pfn > FM_XEN_PFN_MASK) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("domain %u: invalid max_pfn 0x%llx in the shared info"), pv->domid,
                    (ull)max_pfn);
        return FALSE;
    }
    pv->p2m_pages = (max_pfn + FM_P2M_PER_PAGE - 1) / FM_P2M_PER_PAGE;
    mfns = g_new(guint64, pv->p2m_pages);
    for (gsize i = 0; i < pv->p2m_pages; i++) {
        mfns[i] = fm_xen_pv_walk(pv, cr3 >> 12, vaddr + i * FM_XEN_PAGE_SIZE, error);
        if (mfns[i] == FM_XEN_PV_INVALID_MFN)
            return FALSE;
    }
    /* As libxenguest: trailing pages of the list that repeat one frame (the
     * guest's shared "missing" page) hold no memory. */
    while (pv->p2m_pages > 1 && mfns[pv->p2m_pages - 1] == mfns[pv->p2m_pages - 2])
        pv->p2m_pages--;
    pv->p2m_size = MIN(max_pfn, pv->p2m_pages * FM_P2M_PER_PAGE);
    pv->p2m = fm_xen_pv_map(pv, mfns, pv->p2m_pages, error);
    return pv->p2m != NULL && fm_xen_pv_index(pv, mfns, error);
}

/* Returns the PV view of @domid; see fm-xen-pv.h. */
FmXenPv *
fm_xen_pv_new(xc_interface *xch, xenforeignmemory_handle *fmem, guint32 domid,
              GError **error)
{
    g_autoptr(FmXenPv) pv = g_new0(FmXenPv, 1);
    unsigned int width = 0;
    xc_dominfo_t info;

    pv->xch = xch;
    pv->fmem = fmem;
    pv->domid = domid;
    pv->p2m_frames = g_byte_array_new();
    if (xc_domain_get_guest_width(xch, domid, &width) != 0) {
        fm_xen_pv_set_errno(error, errno, "xc_domain_get_guest_width", domid);
        return NULL;
    }
    if (width != 8) {
        g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                    _("domain %u is a %u-bit PV guest: fragmig migrates 64-bit PV guests"),
                    domid, width * 8);
        return NULL;
    }
    if (xc_domain_getinfo(xch, domid, 1, &info) != 1 || info.domid != domid) {
        fm_xen_pv_set_errno(error, errno, "xc_domain_getinfo", domid);
        return NULL;
    }
    pv->max_vcpu_id = info.max_vcpu_id;
    pv->shinfo_mfn = info.shared_info_frame;
    pv->shinfo = fm_xen_pv_map(pv, &pv->shinfo_mfn, 1, error);
    if (pv->shinfo == NULL || !fm_xen_pv_map_p2m(pv, error))
        return NULL;
    return g_steal_pointer(&pv);
}

/* Returns a PV view over a copy of @p2m, without Xen; see fm-xen-pv.h. */
FmXenPv *
fm_xen_pv_new_for_test(const guint64 *p2m, guint64 p2m_size, const guint64 *frame_mfns,
                       GError **error)
{
    g_autoptr(FmXenPv) pv = g_new0(FmXenPv, 1);

    g_return_val_if_fail(p2m != NULL && p2m_size > 0 && frame_mfns != NULL, NULL);
    pv->p2m_frames = g_byte_array_new();
    pv->p2m_size = p2m_size;
    pv->p2m_pages = (p2m_size + FM_P2M_PER_PAGE - 1) / FM_P2M_PER_PAGE;
    pv->p2m_copy = g_new(guint64, p2m_size);
    memcpy(pv->p2m_copy, p2m, p2m_size * sizeof(guint64));
    pv->p2m = pv->p2m_copy;
    if (!fm_xen_pv_index(pv, frame_mfns, error))
        return NULL;
    return g_steal_pointer(&pv);
}

/* Unmaps and frees everything. */
void
fm_xen_pv_free(FmXenPv *pv)
{
    if (pv == NULL)
        return;
    if (pv->p2m != NULL && pv->p2m_copy == NULL)
        xenforeignmemory_unmap(pv->fmem, (void *)pv->p2m, pv->p2m_pages);
    g_free(pv->p2m_copy);
    if (pv->shinfo != NULL)
        xenforeignmemory_unmap(pv->fmem, pv->shinfo, 1);
    g_byte_array_unref(pv->p2m_frames);
    g_free(pv->by_mfn);
    g_free(pv);
}

guint64
fm_xen_pv_get_p2m_size(const FmXenPv *pv)
{
    return pv->p2m_size;
}

/* Returns the mfn of @pfn now; see fm-xen-pv.h. */
guint64
fm_xen_pv_pfn_to_mfn(const FmXenPv *pv, guint64 pfn)
{
    guint64 mfn = pv->p2m[pfn];

    return mfn > FM_XEN_PFN_MASK ? FM_XEN_PV_INVALID_MFN : mfn;
}

/* Returns the stream's PV records; see fm-xen-pv.h. */
const guint8 *
fm_xen_pv_get_stream_info(const FmXenPv *pv, guint32 *width, guint32 *levels, gsize *len)
{
    *width = 8;
    *levels = 4;
    *len = pv->p2m_frames->len;
    return pv->p2m_frames->data;
}

/* Normalises a page table in place; see fm-xen-pv.h. */
gboolean
fm_xen_pv_normalise(const FmXenPv *pv, guint32 type, guint8 *page, gboolean paused,
                    gboolean *again, GError **error)
{
    guint32 level = type & 0x7;        /* L1TAB..L4TAB, with or without _PIN */
    guint64 out[FM_PTES];

    *again = FALSE;
    for (guint i = 0; i < FM_PTES; i++) {
        guint64 pte = fm_get_le64(page + 8 * i);
        guint64 pfn;

        if (level == 4 && i >= FM_L4_XEN_FIRST && i <= FM_L4_XEN_LAST)
            pte = 0;
        if (pte & FM_PTE_PRESENT) {
            if (level > 1 && (pte & FM_PTE_PSE)) {
                g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                            _("domain %u: a level %u page table maps a superpage (entry %u: 0x%llx), which Xen cannot migrate"),
                            pv->domid, level, i, (ull)pte);
                return FALSE;
            }
            pfn = fm_xen_pv_mfn_to_pfn(pv, (pte & FM_PTE_FRAME) >> 12);
            if (pfn == G_MAXUINT64) {
                if (!paused) {
                    *again = TRUE;
                    return FALSE;
                }
                g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                            _("domain %u: entry %u of a level %u page table names mfn 0x%llx, which is not the guest's"),
                            pv->domid, i, level, (ull)((pte & FM_PTE_FRAME) >> 12));
                return FALSE;
            }
            pte = (pte & ~FM_PTE_FRAME) | (pfn << 12);
        }
        out[i] = pte;
    }
    for (guint i = 0; i < FM_PTES; i++)
        fm_put_le64(page + 8 * i, out[i]);
    return TRUE;
}

/* Checks the p2m generation; see fm-xen-pv.h. */
gboolean
fm_xen_pv_check_p2m(const FmXenPv *pv, GError **error)
{
    guint64 now = pv->shinfo->arch.p2m_generation;

    if (now != pv->p2m_generation) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("domain %u changed its p2m list during the migration (generation %llu, was %llu): the migration is abandoned, as libxenguest does"),
                    pv->domid, (ull)now, (ull)pv->p2m_generation);
        return FALSE;
    }
    return TRUE;
}

/* Converts the mfn in *@field to a pfn (shifted by @shift, with @low ORed in);
 * FALSE with @error naming @what if the frame is not the guest's. */
static gboolean
fm_xen_pv_frame_to_pfn(const FmXenPv *pv, guint64 *field, guint shift, guint64 low,
                       const char *what, guint32 vcpu, GError **error)
{
    guint64 mfn = *field >> shift;
    guint64 pfn = fm_xen_pv_mfn_to_pfn(pv, mfn);

    if (pfn == G_MAXUINT64) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("domain %u: vCPU %u's %s (mfn 0x%llx) is not a page of the guest"),
                    pv->domid, vcpu, what, (ull)mfn);
        return FALSE;
    }
    *field = (pfn << shift) | low;
    return TRUE;
}

/* Sends one X86_PV_VCPU_* record: the vCPU header and @len bytes at @blob. */
static gboolean
fm_xen_pv_send_vcpu(FmSink *sink, guint32 type, guint32 vcpu, const void *blob, gsize len,
                    GError **error)
{
    g_autofree guint8 *body = g_malloc(FM_XEN_PV_VCPU_HEAD_SIZE + len);

    fm_put_le32(body, vcpu);
    fm_put_le32(body + 4, 0);
    memcpy(body + FM_XEN_PV_VCPU_HEAD_SIZE, blob, len);
    return fm_sink_send_record(sink, type, body, FM_XEN_PV_VCPU_HEAD_SIZE + len, error);
}

/* Sends X86_PV_VCPU_BASIC with its frames as pfns (as libxenguest converts them). */
static gboolean
fm_xen_pv_send_basic(const FmXenPv *pv, FmSink *sink, guint32 id, GError **error)
{
    vcpu_guest_context_any_t ctx;
    struct vcpu_guest_context_x86_64 *c = &ctx.x64;
    guint gdt_frames;

    if (xc_vcpu_getcontext(pv->xch, pv->domid, id, &ctx) != 0) {
        fm_xen_pv_set_errno(error, errno, "xc_vcpu_getcontext", pv->domid);
        return FALSE;
    }
    /* vCPU 0's edx holds the start info frame across a suspend. */
    if (id == 0 &&
        !fm_xen_pv_frame_to_pfn(pv, &c->user_regs.rdx, 0, 0, "start info", id, error))
        return FALSE;
    if (c->gdt_ents > FIRST_RESERVED_GDT_ENTRY) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("domain %u: vCPU %u has %llu GDT entries (at most %u)"), pv->domid,
                    id, (ull)c->gdt_ents, (guint)FIRST_RESERVED_GDT_ENTRY);
        return FALSE;
    }
    gdt_frames = (guint)((c->gdt_ents + 511) / 512);
    for (guint i = 0; i < gdt_frames; i++) {
        guint64 frame = c->gdt_frames[i];

        if (!fm_xen_pv_frame_to_pfn(pv, &frame, 0, 0, "GDT", id, error))
            return FALSE;
        c->gdt_frames[i] = frame;
    }
    if (!fm_xen_pv_frame_to_pfn(pv, &c->ctrlreg[3], 12, 0, "cr3", id, error))
        return FALSE;
    /* cr1: the user page tables of a 64-bit guest, bit 0 = valid. */
    if (c->ctrlreg[1] != 0 &&
        !fm_xen_pv_frame_to_pfn(pv, &c->ctrlreg[1], 12, 1, "cr1", id, error))
        return FALSE;
    return fm_xen_pv_send_vcpu(sink, FM_XEN_LIBXC_REC_X86_PV_VCPU_BASIC, id, c, sizeof(*c),
                               error);
}

/* Sends X86_PV_VCPU_EXTENDED, unless empty. */
static gboolean
fm_xen_pv_send_extended(const FmXenPv *pv, FmSink *sink, guint32 id, GError **error)
{
    struct xen_domctl domctl = { 0 };

    domctl.cmd = XEN_DOMCTL_get_ext_vcpucontext;
    domctl.domain = pv->domid;
    domctl.u.ext_vcpucontext.vcpu = id;
    if (xc_domctl(pv->xch, &domctl) < 0) {
        fm_xen_pv_set_errno(error, errno, "XEN_DOMCTL_get_ext_vcpucontext", pv->domid);
        return FALSE;
    }
    if (domctl.u.ext_vcpucontext.size == 0)
        return TRUE;
    return fm_xen_pv_send_vcpu(sink, FM_XEN_LIBXC_REC_X86_PV_VCPU_EXTENDED, id,
                               &domctl.u.ext_vcpucontext, domctl.u.ext_vcpucontext.size,
                               error);
}

/* Sends X86_PV_VCPU_XSAVE, unless the vCPU has no xsave state. */
static gboolean
fm_xen_pv_send_xsave(const FmXenPv *pv, FmSink *sink, guint32 id, GError **error)
{
    struct xen_domctl domctl = { 0 };
    DECLARE_HYPERCALL_BUFFER(void, buffer);
    gboolean ok;

    domctl.cmd = XEN_DOMCTL_getvcpuextstate;
    domctl.domain = pv->domid;
    domctl.u.vcpuextstate.vcpu = id;
    if (xc_domctl(pv->xch, &domctl) < 0) {
        fm_xen_pv_set_errno(error, errno, "XEN_DOMCTL_getvcpuextstate", pv->domid);
        return FALSE;
    }
    if (domctl.u.vcpuextstate.xfeature_mask == 0 || domctl.u.vcpuextstate.size == 0)
        return TRUE;
    buffer = xc_hypercall_buffer_alloc(pv->xch, buffer, domctl.u.vcpuextstate.size);
    if (buffer == NULL) {
        fm_xen_pv_set_errno(error, ENOMEM, "allocating the xsave buffer", pv->domid);
        return FALSE;
    }
    set_xen_guest_handle(domctl.u.vcpuextstate.buffer, buffer);
    if (xc_domctl(pv->xch, &domctl) < 0) {
        fm_xen_pv_set_errno(error, errno, "XEN_DOMCTL_getvcpuextstate", pv->domid);
        ok = FALSE;
    } else {
        ok = domctl.u.vcpuextstate.size == 0 ||
            fm_xen_pv_send_vcpu(sink, FM_XEN_LIBXC_REC_X86_PV_VCPU_XSAVE, id, buffer,
                                domctl.u.vcpuextstate.size, error);
    }
    xc_hypercall_buffer_free(pv->xch, buffer);
    return ok;
}

/* Sends X86_PV_VCPU_MSRS, unless the vCPU has none to save. */
static gboolean
fm_xen_pv_send_msrs(const FmXenPv *pv, FmSink *sink, guint32 id, GError **error)
{
    struct xen_domctl domctl = { 0 };
    DECLARE_HYPERCALL_BUFFER(void, buffer);
    gsize size;
    gboolean ok;

    domctl.cmd = XEN_DOMCTL_get_vcpu_msrs;
    domctl.domain = pv->domid;
    domctl.u.vcpu_msrs.vcpu = id;
    if (xc_domctl(pv->xch, &domctl) < 0) {
        fm_xen_pv_set_errno(error, errno, "XEN_DOMCTL_get_vcpu_msrs", pv->domid);
        return FALSE;
    }
    if (domctl.u.vcpu_msrs.msr_count == 0)
        return TRUE;
    size = domctl.u.vcpu_msrs.msr_count * sizeof(xen_domctl_vcpu_msr_t);
    buffer = xc_hypercall_buffer_alloc(pv->xch, buffer, size);
    if (buffer == NULL) {
        fm_xen_pv_set_errno(error, ENOMEM, "allocating the MSR buffer", pv->domid);
        return FALSE;
    }
    set_xen_guest_handle(domctl.u.vcpu_msrs.msrs, buffer);
    if (xc_domctl(pv->xch, &domctl) < 0) {
        fm_xen_pv_set_errno(error, errno, "XEN_DOMCTL_get_vcpu_msrs", pv->domid);
        ok = FALSE;
    } else {
        ok = domctl.u.vcpu_msrs.msr_count == 0 ||
            fm_xen_pv_send_vcpu(sink, FM_XEN_LIBXC_REC_X86_PV_VCPU_MSRS, id, buffer,
                                domctl.u.vcpu_msrs.msr_count *
                                sizeof(xen_domctl_vcpu_msr_t), error);
    }
    xc_hypercall_buffer_free(pv->xch, buffer);
    return ok;
}

/* Sends SHARED_INFO and the vCPU records; see fm-xen-pv.h. */
gboolean
fm_xen_pv_save_state(const FmXenPv *pv, FmSink *sink, GError **error)
{
    if (!fm_sink_send_record(sink, FM_XEN_LIBXC_REC_SHARED_INFO, pv->shinfo,
                             FM_XEN_SHARED_INFO_SIZE, error))
        return FALSE;
    for (guint32 id = 0; id <= pv->max_vcpu_id; id++) {
        xc_vcpuinfo_t vinfo;

        if (xc_vcpu_getinfo(pv->xch, pv->domid, id, &vinfo) != 0) {
            fm_xen_pv_set_errno(error, errno, "xc_vcpu_getinfo", pv->domid);
            return FALSE;
        }
        if (!vinfo.online)
            continue;
        if (!fm_xen_pv_send_basic(pv, sink, id, error) ||
            !fm_xen_pv_send_extended(pv, sink, id, error) ||
            !fm_xen_pv_send_xsave(pv, sink, id, error) ||
            !fm_xen_pv_send_msrs(pv, sink, id, error))
            return FALSE;
    }
    return TRUE;
}
