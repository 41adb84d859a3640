/*
 * fm-xen-pv.h: what the xen backend needs for an x86 PV guest, whose memory Xen
 * names by machine frame (mfn) and whose own p2m list says which mfn backs each
 * of its pfns (docs/xen-stream.md section 4a, docs/xen-backend.md).
 *
 * The guest's p2m list is found as Xen 4.17's save code finds it: through the
 * linear list the guest announces in its shared info (p2m_cr3, p2m_vaddr,
 * max_pfn), walked through the guest's page tables, and mapped read-only for the
 * life of the object.  mfn -> pfn goes through a sorted copy of that list,
 * checked against the live list at each use (an mfn is the guest's only while
 * its p2m entry still names it), instead of Xen's machine-to-phys table.
 *
 * For the backend (fm-xen.c) only.  64-bit guests only (4-level page tables);
 * guests without a linear p2m list (p2m_cr3 0: Linux before 4.x) are refused.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <xenctrl.h>
#include <xenforeignmemory.h>

#include "engine/fm-sink.h"

G_BEGIN_DECLS

typedef struct _FmXenPv FmXenPv;

/* An mfn that names no page: a pfn ballooned out of the guest. */
#define FM_XEN_PV_INVALID_MFN G_MAXUINT64

/* Returns the PV view of domain @domid (handles borrowed: they must outlive it),
 * or NULL with @error: FM_ERROR_UNSUPPORTED for a 32-bit guest or one without a
 * linear p2m list, FM_ERROR_IO for a failed Xen call, FM_ERROR_FAILED for an
 * inconsistent p2m list. */
FmXenPv *fm_xen_pv_new(xc_interface *xch, xenforeignmemory_handle *fmem, guint32 domid,
                       GError **error);
/* Returns a PV view of a guest that does not exist, for tests: a copy of the
 * @p2m_size entries of @p2m stand for its p2m list, whose pages are the mfns
 * @frame_mfns (one per 512 entries).  No Xen call is made, now or later, except
 * by fm_xen_pv_check_p2m() and fm_xen_pv_save_state(), which it must not be
 * given to. */
FmXenPv *fm_xen_pv_new_for_test(const guint64 *p2m, guint64 p2m_size,
                                const guint64 *frame_mfns, GError **error);
void fm_xen_pv_free(FmXenPv *pv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmXenPv, fm_xen_pv_free)

/* Returns the number of pfns the p2m list covers (its end pfn + 1). */
guint64 fm_xen_pv_get_p2m_size(const FmXenPv *pv);

/* Returns the mfn backing @pfn now (< p2m size), or FM_XEN_PV_INVALID_MFN. */
guint64 fm_xen_pv_pfn_to_mfn(const FmXenPv *pv, guint64 pfn);

/* Fills the X86_PV_INFO fields and returns the X86_PV_P2M_FRAMES body (the
 * object's; @len set). */
const guint8 *fm_xen_pv_get_stream_info(const FmXenPv *pv, guint32 *width,
                                        guint32 *levels, gsize *len);

/* Rewrites the page table @page of FmXenPageType @type in place for the stream:
 * every present entry's mfn becomes its pfn, Xen's own slots of an L4 are
 * cleared.  Returns TRUE; or FALSE with *@again TRUE (no error) when an entry
 * names a page that is not the guest's while the guest runs (@paused FALSE: an
 * update half done; the page is to be sent again later, as libxenguest does);
 * or FALSE with @error (a superpage, or a bad entry once paused). */
gboolean fm_xen_pv_normalise(const FmXenPv *pv, guint32 type, guint8 *page,
                             gboolean paused, gboolean *again, GError **error);

/* Checks that the guest did not rebuild its p2m list since fm_xen_pv_new()
 * (its p2m_generation): the stream's P2M_FRAMES would be stale. */
gboolean fm_xen_pv_check_p2m(const FmXenPv *pv, GError **error);

/* Sends SHARED_INFO and, for each online vCPU, X86_PV_VCPU_BASIC (frames as
 * pfns), _EXTENDED, _XSAVE and _MSRS (those not empty) to @sink, the guest being
 * paused. */
gboolean fm_xen_pv_save_state(const FmXenPv *pv, FmSink *sink, GError **error);

G_END_DECLS
