/*
 * test-xen-pv.c: the PV part of the Xen backend without Xen: a guest's p2m list
 * given as memory (fm_xen_pv_new_for_test()), the X86_PV_P2M_FRAMES body built
 * from it, pfn -> mfn, and the normalisation of page tables as libxenguest does
 * it: frames rewritten mfn -> pfn with every other bit kept, Xen's L4 slots
 * cleared, superpages refused, an entry naming a page that is not the guest's
 * deferred while the guest runs and an error once it is paused.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "backend/xen/fm-xen-pv.h"

#include <string.h>

#include "stream/fm-xen-format.h"
#include "util/fm-bytes.h"
#include "util/fm-error.h"

#define N_PFNS 1024u               /* two pages of p2m list */
#define MFN_BASE G_GUINT64_CONSTANT(0x50000)
#define FOREIGN_MFN G_GUINT64_CONSTANT(0x7777)
#define PTE_FLAGS G_GUINT64_CONSTANT(0x8000000000000067)   /* NX, dirty, accessed, user, rw, present */

/* A guest whose pfn i is backed by mfn MFN_BASE + 1023 - i, except pfns 100-103
 * (ballooned out: invalid) and 200 (an identity marker); its p2m list lives in
 * pfns 10 and 11. */
static FmXenPv *
make_guest(guint64 *p2m, GError **error)
{
    guint64 frames[2];

    for (guint64 i = 0; i < N_PFNS; i++)
        p2m[i] = MFN_BASE + (N_PFNS - 1 - i);
    for (guint64 i = 100; i < 104; i++)
        p2m[i] = G_MAXUINT64;
    p2m[200] = (G_GUINT64_CONSTANT(1) << 62) | 200;
    frames[0] = p2m[10];
    frames[1] = p2m[11];
    return fm_xen_pv_new_for_test(p2m, N_PFNS, frames, error);
}

/* Returns the pte for @mfn with the usual flags. */
static guint64
pte(guint64 mfn)
{
    return PTE_FLAGS | (mfn << 12);
}

static void
test_p2m(void)
{
    g_autofree guint64 *p2m = g_new(guint64, N_PFNS);
    g_autoptr(GError) err = NULL;
    g_autoptr(FmXenPv) pv = make_guest(p2m, &err);
    guint32 width = 0, levels = 0;
    gsize len = 0;
    const guint8 *body;

    g_assert_no_error(err);
    g_assert_cmpuint(fm_xen_pv_get_p2m_size(pv), ==, N_PFNS);
    g_assert_cmpuint(fm_xen_pv_pfn_to_mfn(pv, 0), ==, MFN_BASE + N_PFNS - 1);
    g_assert_cmpuint(fm_xen_pv_pfn_to_mfn(pv, 1023), ==, MFN_BASE);
    g_assert_cmpuint(fm_xen_pv_pfn_to_mfn(pv, 101), ==, FM_XEN_PV_INVALID_MFN);
    g_assert_cmpuint(fm_xen_pv_pfn_to_mfn(pv, 200), ==, FM_XEN_PV_INVALID_MFN);

    body = fm_xen_pv_get_stream_info(pv, &width, &levels, &len);
    g_assert_cmpuint(width, ==, 8);
    g_assert_cmpuint(levels, ==, 4);
    g_assert_cmpuint(len, ==, FM_XEN_PV_P2M_HEAD_SIZE + 2 * 8);
    g_assert_cmpuint(fm_get_le32(body), ==, 0);
    g_assert_cmpuint(fm_get_le32(body + 4), ==, N_PFNS - 1);
    g_assert_cmpuint(fm_get_le64(body + 8), ==, 10);
    g_assert_cmpuint(fm_get_le64(body + 16), ==, 11);
}

/* A p2m list whose own page is not one of the guest's pages is refused. */
static void
test_p2m_foreign_frame(void)
{
    g_autofree guint64 *p2m = g_new(guint64, N_PFNS);
    g_autoptr(GError) err = NULL;
    guint64 frames[2];
    FmXenPv *pv;

    for (guint64 i = 0; i < N_PFNS; i++)
        p2m[i] = MFN_BASE + i;
    frames[0] = MFN_BASE;
    frames[1] = FOREIGN_MFN;
    pv = fm_xen_pv_new_for_test(p2m, N_PFNS, frames, &err);
    g_assert_null(pv);
    g_assert_error(err, FM_ERROR, FM_ERROR_FAILED);
    g_assert_cmpstr(err->message, ==,
                    "domain 0: page 1 of the p2m list (mfn 0x7777) is not the guest's");
}

static void
test_normalise(void)
{
    g_autofree guint64 *p2m = g_new(guint64, N_PFNS);
    g_autoptr(GError) err = NULL;
    g_autoptr(FmXenPv) pv = make_guest(p2m, &err);
    guint8 page[FM_XEN_PAGE_SIZE];
    gboolean again = TRUE;

    g_assert_no_error(err);
    /* L1: present entries become pfns with their flags; others stay as they are. */
    memset(page, 0, sizeof(page));
    fm_put_le64(page + 8 * 0, pte(MFN_BASE + N_PFNS - 1));       /* pfn 0 */
    fm_put_le64(page + 8 * 1, pte(MFN_BASE));                    /* pfn 1023 */
    fm_put_le64(page + 8 * 2, G_GUINT64_CONSTANT(0x123456789abc0)); /* not present */
    fm_put_le64(page + 8 * 511, pte(MFN_BASE + 500) & ~G_GUINT64_CONSTANT(0x8000000000000000));
    g_assert_true(fm_xen_pv_normalise(pv, FM_XEN_PAGE_L1TAB, page, FALSE, &again, &err));
    g_assert_no_error(err);
    g_assert_false(again);
    g_assert_cmpuint(fm_get_le64(page + 8 * 0), ==, PTE_FLAGS);
    g_assert_cmpuint(fm_get_le64(page + 8 * 1), ==, pte(1023));
    g_assert_cmpuint(fm_get_le64(page + 8 * 2), ==, G_GUINT64_CONSTANT(0x123456789abc0));
    g_assert_cmpuint(fm_get_le64(page + 8 * 511), ==,
                     pte(523) & ~G_GUINT64_CONSTANT(0x8000000000000000));
    for (guint i = 3; i < 511; i++)
        g_assert_cmpuint(fm_get_le64(page + 8 * i), ==, 0);

    /* A pinned L4: Xen's slots 256-272 are cleared, whatever they hold; 255 and 273
     * are the guest's. */
    for (guint i = 0; i < 512; i++)
        fm_put_le64(page + 8 * i, pte(i >= 256 && i <= 272 ? FOREIGN_MFN : MFN_BASE + i));
    g_assert_true(fm_xen_pv_normalise(pv, FM_XEN_PAGE_L4TAB_PIN, page, TRUE, &again, &err));
    g_assert_no_error(err);
    for (guint i = 0; i < 512; i++)
        g_assert_cmpuint(fm_get_le64(page + 8 * i), ==,
                         i >= 256 && i <= 272 ? 0 : pte(N_PFNS - 1 - i));

    /* The same slots of an L3 are not Xen's: a foreign frame there is deferred. */
    memset(page, 0, sizeof(page));
    fm_put_le64(page + 8 * 260, pte(FOREIGN_MFN));
    g_assert_false(fm_xen_pv_normalise(pv, FM_XEN_PAGE_L3TAB, page, FALSE, &again, &err));
    g_assert_no_error(err);
    g_assert_true(again);
    g_assert_cmpuint(fm_get_le64(page + 8 * 260), ==, pte(FOREIGN_MFN));
    /* Once paused, it is an error. */
    g_assert_false(fm_xen_pv_normalise(pv, FM_XEN_PAGE_L3TAB, page, TRUE, &again, &err));
    g_assert_false(again);
    g_assert_error(err, FM_ERROR, FM_ERROR_FAILED);
    g_assert_cmpstr(err->message, ==,
                    "domain 0: entry 260 of a level 3 page table names mfn 0x7777, which is not the guest's");
    g_clear_error(&err);

    /* A ballooned-out pfn's old mfn is no longer the guest's. */
    memset(page, 0, sizeof(page));
    fm_put_le64(page, pte(MFN_BASE + N_PFNS - 1 - 101));
    g_assert_false(fm_xen_pv_normalise(pv, FM_XEN_PAGE_L1TAB, page, FALSE, &again, &err));
    g_assert_true(again);
    g_assert_no_error(err);

    /* Superpages cannot be migrated. */
    memset(page, 0, sizeof(page));
    fm_put_le64(page + 8 * 7, pte(MFN_BASE) | 0x80);
    g_assert_false(fm_xen_pv_normalise(pv, FM_XEN_PAGE_L2TAB, page, FALSE, &again, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_UNSUPPORTED);
    g_assert_false(again);
    g_clear_error(&err);
    /* In an L1 bit 7 is PAT, not a superpage. */
    fm_put_le64(page + 8 * 7, pte(MFN_BASE) | 0x80);
    g_assert_true(fm_xen_pv_normalise(pv, FM_XEN_PAGE_L1TAB, page, FALSE, &again, &err));
    g_assert_cmpuint(fm_get_le64(page + 8 * 7), ==, pte(1023) | 0x80);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/xen-pv/p2m", test_p2m);
    g_test_add_func("/xen-pv/p2m-foreign-frame", test_p2m_foreign_frame);
    g_test_add_func("/xen-pv/normalise", test_normalise);
    return g_test_run();
}
