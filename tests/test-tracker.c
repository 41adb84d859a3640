/*
 * test-tracker.c: the fragment tracker's statistics.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <math.h>

#include "engine/fm-frag-tracker.h"

/* Re-checks the tracker's invariants: sizes add up, counts within sizes. */
static void
check_invariants(const FmFragTracker *t)
{
    guint64 total = 0, pending = 0;

    for (guint i = 0; i < fm_frag_tracker_count(t); i++) {
        const FmFragment *f = fm_frag_tracker_get(t, i);
        g_assert_cmpuint(fm_frag_tracker_first_page(t, i), ==, total);
        g_assert_cmpuint(f->pending, <=, f->pages);
        g_assert_cmpuint(f->dirty_last, <=, f->pages);
        g_assert_cmpuint(f->state, <, FM_FRAG_STATE_LAST);
        g_assert_true(f->streak == 0 || f->clean == 0);
        g_assert_cmpfloat(f->rate, >=, 0);
        total += f->pages;
        pending += f->pending;
    }
    g_assert_cmpuint(total, ==, fm_frag_tracker_page_count(t));
    g_assert_cmpuint(pending, ==, fm_frag_tracker_pending_hot(t) +
                     fm_frag_tracker_pending_other(t));
}

static void
test_shape(void)
{
    g_autoptr(FmFragTracker) t = fm_frag_tracker_new(1000, 64);

    g_assert_cmpuint(fm_frag_tracker_count(t), ==, 16);
    g_assert_cmpuint(fm_frag_tracker_get(t, 15)->pages, ==, 1000 - 15 * 64);
    g_assert_cmpuint(fm_frag_tracker_pending_other(t), ==, 1000);
    g_assert_cmpuint(fm_frag_tracker_hot_count(t), ==, 0);
    check_invariants(t);
    {
        g_autoptr(FmFragTracker) empty = fm_frag_tracker_new(0, 512);
        g_assert_cmpuint(fm_frag_tracker_count(empty), ==, 0);
    }
}

static void
test_update(void)
{
    g_autoptr(FmFragTracker) t = fm_frag_tracker_new(256, 64);
    g_autoptr(FmBitmap) dirty = fm_bitmap_new(256);
    g_autoptr(FmBitmap) pending = fm_bitmap_new(256);
    const FmFragment *f0 = fm_frag_tracker_get(t, 0);
    const FmFragment *f1 = fm_frag_tracker_get(t, 1);
    const FmFragment *f3 = fm_frag_tracker_get(t, 3);

    /* round 1: half of fragment 0 and all of fragment 3 dirty */
    fm_bitmap_set_range(dirty, 0, 32);
    fm_bitmap_set_range(dirty, 192, 64);
    fm_bitmap_copy_from(pending, dirty);
    fm_bitmap_set(pending, 70);
    fm_frag_tracker_update(t, dirty, pending, 2.0, 1.0);
    check_invariants(t);
    g_assert_cmpuint(f0->dirty_last, ==, 32);
    g_assert_cmpuint(f0->pending, ==, 32);
    g_assert_cmpuint(f1->pending, ==, 1);
    g_assert_cmpuint(f0->streak, ==, 1);
    g_assert_cmpuint(f1->clean, ==, 1);
    g_assert_cmpuint(f0->state, ==, FM_FRAG_ACTIVE);
    g_assert_cmpuint(f1->state, ==, FM_FRAG_COLD);
    /* half dirty in 2 s: lambda = ln 2 / 2 */
    g_assert_cmpfloat_with_epsilon(f0->rate, log(2) / 2, 1e-12);
    /* fully dirty is capped just below 1: ln(2 * 64) / 2 */
    g_assert_cmpfloat_with_epsilon(f3->rate, log(128) / 2, 1e-12);

    /* round 2: fragment 0 clean, EWMA halves its rate, streak resets */
    fm_bitmap_clear_all(dirty);
    fm_bitmap_set(dirty, 200);
    fm_frag_tracker_update(t, dirty, pending, 1.0, 0.5);
    check_invariants(t);
    g_assert_cmpuint(f0->streak, ==, 0);
    g_assert_cmpuint(f0->clean, ==, 1);
    g_assert_cmpfloat_with_epsilon(f0->rate, log(2) / 4, 1e-12);
    g_assert_cmpuint(f3->streak, ==, 2);

    /* HOT is kept across updates until the policy changes it */
    fm_frag_tracker_set_state(t, 3, FM_FRAG_HOT);
    fm_bitmap_clear_all(dirty);
    fm_frag_tracker_update(t, dirty, pending, 1.0, 0.5);
    g_assert_cmpuint(f3->state, ==, FM_FRAG_HOT);
    g_assert_cmpuint(fm_frag_tracker_hot_count(t), ==, 1);
    g_assert_cmpuint(fm_frag_tracker_pending_hot(t), ==, 64);
    check_invariants(t);

    fm_bitmap_clear_all(pending);
    fm_frag_tracker_update_pending(t, pending);
    g_assert_cmpuint(fm_frag_tracker_pending_hot(t) + fm_frag_tracker_pending_other(t), ==, 0);
    g_assert_cmpstr(fm_frag_state_to_string(FM_FRAG_HOT), ==, "hot");
    g_assert_null(fm_frag_state_to_string(FM_FRAG_STATE_LAST));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/tracker/shape", test_shape);
    g_test_add_func("/tracker/update", test_update);
    return g_test_run();
}
