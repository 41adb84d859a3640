/*
 * test-policy.c: each policy's decisions on hand-built statistics, without a backend.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "engine/fm-policy.h"

#define PAGES 4096      /* 16 MiB of 4 KiB pages */
#define FRAG 64         /* 64 fragments */
#define BW 125e6        /* 1 Gbit/s in bytes per second */

/* Returns stats after round @round with @pending pages pending. */
static FmRoundStats
make_stats(guint round, guint64 pending)
{
    FmRoundStats st = {
        .round = round, .page_count = PAGES, .page_size = 4096,
        .pending = pending, .pending_prev = PAGES, .dirty_last = pending,
        .sent_last = PAGES, .pages_sent = PAGES, .bytes_sent = (guint64)PAGES * 4096,
        .bandwidth = BW, .round_seconds = 1.0, .elapsed = round,
        .max_downtime = 0.3, .max_time = 1000,
    };
    return st;
}

/* Returns a started policy @name with @assignments (NULL-terminated "k=v"). */
static FmPolicy *
make_policy(const char *name, const char *const *assignments)
{
    g_autoptr(FmParamSet) params = fm_param_set_new();
    g_autoptr(GError) error = NULL;
    FmPolicy *policy;

    for (guint i = 0; assignments && assignments[i]; i++)
        g_assert_true(fm_param_set_parse(params, assignments[i], NULL));
    policy = fm_policy_new(fm_policy_lookup(name), params, &error);
    g_assert_no_error(error);
    g_assert_nonnull(policy);
    return policy;
}

/* Returns the decision of @policy, checking the reason is @expect_reason (NULL for
 * CONTINUE). */
static void
assert_decision(FmPolicy *policy, const FmRoundStats *st, FmFragTracker *tracker,
                FmDecision expect, const char *expect_reason)
{
    g_autoptr(GArray) frags = g_array_new(FALSE, FALSE, sizeof(guint32));
    FmPlan plan = { frags, FALSE, 0, 0 };
    FmStopReason reason;
    FmDecision d;

    fm_policy_plan_round(policy, st, tracker, &plan);
    d = fm_policy_should_stop(policy, st, tracker, &reason);
    g_assert_cmpstr(fm_decision_to_string(d), ==, fm_decision_to_string(expect));
    /* the reasons are checked by their names, as they appear in reports */
    g_assert_cmpstr(reason == FM_STOP_NONE ? NULL : fm_stop_reason_to_string(reason), ==,
                    expect_reason);
}

static void
test_registry(void)
{
    g_autofree char *names = fm_policy_names();

    g_assert_cmpstr(names, ==, "xen, xen-classic, qemu, fragment");
    g_assert_null(fm_policy_lookup("nope"));
    for (const FmPolicyOps *const *p = fm_policy_list(); *p; p++) {
        g_assert_true(fm_policy_lookup((*p)->name) == *p);
        g_assert_nonnull((*p)->start);
        g_assert_nonnull((*p)->plan_round);
        g_assert_nonnull((*p)->should_stop);
    }
}

static void
test_bad_param_value(void)
{
    g_autoptr(FmParamSet) params = fm_param_set_new();
    g_autoptr(GError) error = NULL;

    fm_param_set_set(params, "hot_ratio", "150%");
    g_assert_null(fm_policy_new(fm_policy_lookup("fragment"), params, &error));
    g_assert_cmpstr(error->message, ==, "parameter hot_ratio: 150% is out of range [0, 1]");
    /* another policy's knob is not this policy's business */
    {
        g_autoptr(FmPolicy) xen = fm_policy_new(fm_policy_lookup("xen"), params, NULL);
        g_assert_nonnull(xen);
    }
}

static void
test_xen(void)
{
    g_autoptr(FmPolicy) xen = make_policy("xen", NULL);
    g_autoptr(FmFragTracker) tracker = fm_frag_tracker_new(PAGES, FRAG);
    FmRoundStats st;

    st = make_stats(1, 49);
    assert_decision(xen, &st, tracker, FM_DECISION_STOP_AND_COPY, "dirty-below-threshold");
    st = make_stats(1, 50);
    assert_decision(xen, &st, tracker, FM_DECISION_CONTINUE, NULL);
    st = make_stats(4, 3000);
    assert_decision(xen, &st, tracker, FM_DECISION_CONTINUE, NULL);
    st = make_stats(5, 3000);
    assert_decision(xen, &st, tracker, FM_DECISION_STOP_AND_COPY, "max-rounds");
}

static void
test_xen_knobs(void)
{
    const char *const knobs[] = { "max_rounds=2", "dirty_threshold=10", NULL };
    g_autoptr(FmPolicy) xen = make_policy("xen", knobs);
    g_autoptr(FmFragTracker) tracker = fm_frag_tracker_new(PAGES, FRAG);
    FmRoundStats st;

    st = make_stats(1, 10);
    assert_decision(xen, &st, tracker, FM_DECISION_CONTINUE, NULL);
    st = make_stats(2, 10);
    assert_decision(xen, &st, tracker, FM_DECISION_STOP_AND_COPY, "max-rounds");
}

static void
test_xen_classic(void)
{
    g_autoptr(FmPolicy) xc = make_policy("xen-classic", NULL);
    g_autoptr(FmFragTracker) tracker = fm_frag_tracker_new(PAGES, FRAG);
    g_autoptr(GArray) frags = g_array_new(FALSE, FALSE, sizeof(guint32));
    FmPlan plan = { frags, FALSE, 0, 0 };
    FmRoundStats st;

    st = make_stats(5, 3000);
    fm_policy_plan_round(xc, &st, tracker, &plan);
    g_assert_true(plan.skip_redirtied);
    g_assert_cmpuint(plan.fragments->len, ==, PAGES / FRAG);  /* all pending at start */
    assert_decision(xc, &st, tracker, FM_DECISION_CONTINUE, NULL);
    st = make_stats(28, 3000);
    assert_decision(xc, &st, tracker, FM_DECISION_CONTINUE, NULL);
    st = make_stats(29, 3000);
    assert_decision(xc, &st, tracker, FM_DECISION_STOP_AND_COPY, "max-rounds");
    st = make_stats(10, 3000);
    st.bytes_sent = 3ull * PAGES * 4096;
    assert_decision(xc, &st, tracker, FM_DECISION_STOP_AND_COPY, "max-data");
    st = make_stats(10, 20);
    assert_decision(xc, &st, tracker, FM_DECISION_STOP_AND_COPY, "dirty-below-threshold");
}

static void
test_qemu(void)
{
    g_autoptr(FmPolicy) qemu = make_policy("qemu", NULL);
    g_autoptr(FmFragTracker) tracker = fm_frag_tracker_new(PAGES, FRAG);
    /* 300 ms at 125 MB/s is 9155.27 pages */
    FmRoundStats st = make_stats(7, 9155);

    assert_decision(qemu, &st, tracker, FM_DECISION_STOP_AND_COPY, "downtime-target");
    st = make_stats(100, 9156);
    assert_decision(qemu, &st, tracker, FM_DECISION_CONTINUE, NULL);
    st.elapsed = 1000;
    assert_decision(qemu, &st, tracker, FM_DECISION_STOP_AND_COPY, "max-time");
    st = make_stats(1, 9156);
    st.bandwidth = 0;  /* nothing measured yet: cannot fit anything */
    assert_decision(qemu, &st, tracker, FM_DECISION_CONTINUE, NULL);
}

static void
test_qemu_auto_converge(void)
{
    const char *const knobs[] = { "auto_converge=yes", NULL };
    const guint expect[] = { 0, 20, 20, 30, 30, 40, 40, 50, 50, 60, 60, 70, 70, 80, 80,
                             90, 90, 99, 99, 99 };
    g_autoptr(FmPolicy) qemu = make_policy("qemu", knobs);
    g_autoptr(FmPolicy) plain = make_policy("qemu", NULL);
    g_autoptr(FmFragTracker) tracker = fm_frag_tracker_new(PAGES, FRAG);
    g_autoptr(GArray) frags = g_array_new(FALSE, FALSE, sizeof(guint32));
    FmPlan plan = { frags, FALSE, 0, 0 };

    for (guint i = 0; i < G_N_ELEMENTS(expect); i++) {
        FmRoundStats st = make_stats(i + 1, 4000);
        st.sent_last = 4000;
        st.dirty_last = 2001;   /* just over half of what was sent */
        fm_policy_plan_round(qemu, &st, tracker, &plan);
        g_assert_cmpuint(plan.throttle, ==, expect[i]);
        fm_policy_plan_round(plain, &st, tracker, &plan);
        g_assert_cmpuint(plan.throttle, ==, 0);
    }
    /* under the trigger: the throttle stays where it is */
    {
        g_autoptr(FmPolicy) calm = make_policy("qemu", knobs);
        for (guint i = 0; i < 5; i++) {
            FmRoundStats st = make_stats(i + 1, 4000);
            st.sent_last = 4000;
            st.dirty_last = 2000;
            fm_policy_plan_round(calm, &st, tracker, &plan);
            g_assert_cmpuint(plan.throttle, ==, 0);
        }
    }
}

/* Sets fragment @i's statistics by hand. */
static void
set_frag(FmFragTracker *tracker, guint i, guint pending, guint streak, double rate)
{
    FmFragment *frag = fm_frag_tracker_get_mut(tracker, i);

    frag->pending = pending;
    frag->dirty_last = streak ? pending : 0;
    frag->streak = streak;
    frag->clean = streak ? 0 : 1;
    frag->rate = rate;
    frag->state = streak ? FM_FRAG_ACTIVE : FM_FRAG_COLD;
}

/* A tracker where only fragments 0..3 have pending pages. */
static FmFragTracker *
make_tracker(void)
{
    FmFragTracker *tracker = fm_frag_tracker_new(PAGES, FRAG);

    for (guint i = 0; i < PAGES / FRAG; i++)
        set_frag(tracker, i, 0, 0, 0);
    return tracker;
}

/* Feeds the fragment policy one harvest: @dirty pages found dirty, @pending (NULL:
 * the dirty ones) waiting, at @elapsed seconds; returns the decision, fills @plan. */
static FmDecision
fragment_step_pending(FmPolicy *policy, FmFragTracker *tracker, FmBitmap *dirty,
                      FmBitmap *pending, double elapsed, FmPlan *plan, FmStopReason *reason)
{
    FmRoundStats st;

    pending = pending ? pending : dirty;
    st = make_stats(1, fm_bitmap_count(pending));
    st.elapsed = elapsed;
    st.dirty = dirty;
    fm_frag_tracker_update(tracker, dirty, pending, 1.0, 0.5);
    fm_policy_plan_round(policy, &st, tracker, plan);
    return fm_policy_should_stop(policy, &st, tracker, reason);
}

/* The same, with every dirty page pending. */
static FmDecision
fragment_step(FmPolicy *policy, FmFragTracker *tracker, FmBitmap *dirty, double elapsed,
              FmPlan *plan, FmStopReason *reason)
{
    return fragment_step_pending(policy, tracker, dirty, NULL, elapsed, plan, reason);
}

/* After Xen's round 0: a fragment written whole is HOT, one written at 1/8 or 1/2
 * is sent; the plan skips re-dirtied pages and waits for the shadow's next harvest. */
static void
test_fragment_hot(void)
{
    g_autoptr(FmPolicy) frag = make_policy("fragment", NULL);
    g_autoptr(FmFragTracker) tracker = make_tracker();
    g_autoptr(GArray) frags = g_array_new(FALSE, FALSE, sizeof(guint32));
    g_autoptr(FmBitmap) dirty = fm_bitmap_new(PAGES);
    FmPlan plan = { frags, FALSE, 0, 0 };
    FmStopReason reason = FM_STOP_NONE;
    double round;

    fm_bitmap_set_range(dirty, 0, FRAG);            /* fragment 0: all of it */
    fm_bitmap_set_range(dirty, 3 * FRAG, FRAG / 8); /* fragment 3: 8 pages */
    fm_bitmap_set_range(dirty, 5 * FRAG, FRAG / 2); /* fragment 5: half */
    /* a round 0 of 3.5 ms; the next one lasts 3.4 ms */
    g_assert_cmpint(fragment_step(frag, tracker, dirty, 0.0035, &plan, &reason), ==,
                    FM_DECISION_CONTINUE);
    g_assert_cmpuint(fm_frag_tracker_get(tracker, 0)->state, ==, FM_FRAG_HOT);
    g_assert_cmpuint(fm_frag_tracker_get(tracker, 3)->state, ==, FM_FRAG_ACTIVE);
    g_assert_cmpuint(fm_frag_tracker_get(tracker, 5)->state, ==, FM_FRAG_ACTIVE);
    /* HOT left out; coldest first */
    g_assert_cmpuint(plan.fragments->len, ==, 2);
    g_assert_cmpuint(g_array_index(plan.fragments, guint32, 0), ==, 3);
    g_assert_cmpuint(g_array_index(plan.fragments, guint32, 1), ==, 5);
    g_assert_true(plan.skip_redirtied);
    /* Xen's round 1 sends the 104 dirty pages: the shadow round lasts that long;
     * the next harvest comes after the 40 pages planned and an eighth of it */
    round = 104.0 * 4096 / BW;
    g_assert_cmpfloat_with_epsilon(plan.wait_until, 0.0035 + 40.0 * 4096 / BW + round / 8,
                                   1e-9);
}

/* hot_ratio: the share of a fragment predicted to be re-dirtied within a round. */
static void
test_fragment_hot_ratio(void)
{
    const char *const knobs[] = { "hot_ratio=40%", NULL };
    g_autoptr(FmPolicy) frag = make_policy("fragment", knobs);
    g_autoptr(FmFragTracker) tracker = make_tracker();
    g_autoptr(GArray) frags = g_array_new(FALSE, FALSE, sizeof(guint32));
    g_autoptr(FmBitmap) dirty = fm_bitmap_new(PAGES);
    FmPlan plan = { frags, FALSE, 0, 0 };
    FmStopReason reason = FM_STOP_NONE;

    /* 96 pages dirty: the next round lasts 3.1 ms of a 1 s round 0, so fragment 2
     * (all written) is predicted re-dirtied at 2.1 %, fragment 3 less */
    fm_bitmap_set_range(dirty, 2 * FRAG, FRAG);
    fm_bitmap_set_range(dirty, 3 * FRAG, FRAG / 2);
    fragment_step(frag, tracker, dirty, 1.0, &plan, &reason);
    g_assert_cmpuint(fm_frag_tracker_get(tracker, 2)->state, !=, FM_FRAG_HOT);
    /* a round as long as the last one: 1 - (0.5 / 64) > 40 % */
    fm_bitmap_clear_all(dirty);
    fm_bitmap_set_range(dirty, 0, 48 * FRAG);
    fm_bitmap_set_range(dirty, 2 * FRAG, FRAG);
    {
        g_autoptr(FmPolicy) frag2 = make_policy("fragment", knobs);
        g_autoptr(FmFragTracker) t2 = make_tracker();

        /* 3072 dirty pages take 0.1 s: a round 0 of 0.1 s predicts the same share */
        fragment_step(frag2, t2, dirty, 3072.0 * 4096 / BW, &plan, &reason);
        g_assert_cmpuint(fm_frag_tracker_get(t2, 2)->state, ==, FM_FRAG_HOT);
    }
}

/* A HOT fragment whose load stops rejoins within the shadow round, and a stray
 * write afterwards does not make it HOT again. */
static void
test_fragment_cool_down(void)
{
    g_autoptr(FmPolicy) frag = make_policy("fragment", NULL);
    g_autoptr(FmFragTracker) tracker = make_tracker();
    g_autoptr(GArray) frags = g_array_new(FALSE, FALSE, sizeof(guint32));
    g_autoptr(FmBitmap) dirty = fm_bitmap_new(PAGES);
    g_autoptr(FmBitmap) pending = fm_bitmap_new(PAGES);
    FmPlan plan = { frags, FALSE, 0, 0 };
    FmStopReason reason = FM_STOP_NONE;
    double t, end;

    /* round 0 of 10 ms with fragments 0-9 written whole: HOT */
    fm_bitmap_set_range(dirty, 0, 10 * FRAG);
    fragment_step(frag, tracker, dirty, 0.01, &plan, &reason);
    g_assert_cmpuint(fm_frag_tracker_hot_count(tracker), ==, 10);
    end = plan.wait_until;
    /* still written: an observation at the usual rate keeps them HOT */
    t = 0.01 + (end - 0.01) / 2;
    fragment_step(frag, tracker, dirty, t, &plan, &reason);
    g_assert_cmpuint(fm_frag_tracker_hot_count(tracker), ==, 10);
    g_assert_cmpuint(plan.fragments->len, ==, 0);
    /* nothing written since but one page elsewhere: they cool, planned at once */
    fm_bitmap_set(pending, 11 * FRAG);
    fm_bitmap_set_range(pending, 0, 10 * FRAG);
    fm_bitmap_clear_all(dirty);
    fm_bitmap_set(dirty, 11 * FRAG);
    g_assert_cmpint(fragment_step_pending(frag, tracker, dirty, pending, t + 1e-4, &plan,
                                          &reason), ==, FM_DECISION_CONTINUE);
    g_assert_cmpuint(fm_frag_tracker_hot_count(tracker), ==, 0);
    /* coldest first (11), then 0-9 until the shadow's boundary is reached: 19.6 ms
     * of the 21 ms round are left, 598 pages; the last fragment may overshoot (peek
     * and skip usually sends less than planned) */
    g_assert_cmpuint(plan.fragments->len, ==, 11);
    g_assert_cmpuint(g_array_index(plan.fragments, guint32, 0), ==, 11);
    g_assert_cmpuint(g_array_index(plan.fragments, guint32, 10), ==, 9);
    /* one page written again in fragment 0: still cooled */
    fm_bitmap_set(dirty, 0);
    fragment_step_pending(frag, tracker, dirty, pending, t + 2e-4, &plan, &reason);
    g_assert_cmpuint(fm_frag_tracker_get(tracker, 0)->state, !=, FM_FRAG_HOT);
}

/* The stop rules: below Xen's threshold, within downtime_slack, at Xen's own stop;
 * with patience 0 when only HOT fragments are left; at max_data. */
static void
test_fragment_stop(void)
{
    g_autoptr(GArray) frags = g_array_new(FALSE, FALSE, sizeof(guint32));
    g_autoptr(FmBitmap) dirty = fm_bitmap_new(PAGES);
    FmPlan plan = { frags, FALSE, 0, 0 };
    FmStopReason reason = FM_STOP_NONE;

    {
        const char *const knobs[] = { "downtime_slack=0", NULL };
        g_autoptr(FmPolicy) frag = make_policy("fragment", knobs);
        g_autoptr(FmFragTracker) t = make_tracker();

        fm_bitmap_set_range(dirty, 0, 49);
        g_assert_cmpint(fragment_step(frag, t, dirty, 1.0, &plan, &reason), ==,
                        FM_DECISION_STOP_AND_COPY);
        g_assert_cmpstr(fm_stop_reason_to_string(reason), ==, "dirty-below-threshold");
    }
    {
        g_autoptr(FmPolicy) frag = make_policy("fragment", NULL);
        g_autoptr(FmFragTracker) t = make_tracker();

        /* 60 pages take 1.97 ms: within the 2 ms slack */
        fm_bitmap_set_range(dirty, 0, 60);
        fragment_step(frag, t, dirty, 1.0, &plan, &reason);
        g_assert_cmpstr(fm_stop_reason_to_string(reason), ==, "downtime-slack");
    }
    {
        /* Xen's five rounds, each as long as the shadow says: then Xen's stop */
        g_autoptr(FmPolicy) frag = make_policy("fragment", NULL);
        g_autoptr(FmFragTracker) t = make_tracker();
        double when = 1.0;
        guint steps = 0;

        fm_bitmap_clear_all(dirty);
        fm_bitmap_set_range(dirty, 0, 20 * FRAG + 7);
        while (fragment_step(frag, t, dirty, when, &plan, &reason) ==
               FM_DECISION_CONTINUE) {
            g_assert_cmpfloat(plan.wait_until, >, when);
            when = plan.wait_until;
            g_assert_cmpuint(++steps, <, 1000);
        }
        g_assert_cmpstr(fm_stop_reason_to_string(reason), ==, "xen-would-stop");
        /* four shadow rounds of 1287 pages each after round 0 */
        g_assert_cmpfloat_with_epsilon(when, 1.0 + 4 * 1287.0 * 4096 / BW, 1e-6);
    }
    {
        const char *const knobs[] = { "patience=0", NULL };
        g_autoptr(FmPolicy) frag = make_policy("fragment", knobs);
        g_autoptr(FmFragTracker) t = make_tracker();

        fm_bitmap_clear_all(dirty);
        fm_bitmap_set_range(dirty, 0, 20 * FRAG);
        fragment_step(frag, t, dirty, 0.01, &plan, &reason);
        g_assert_cmpuint(fm_frag_tracker_hot_count(t), ==, 20);
        g_assert_cmpstr(fm_stop_reason_to_string(reason), ==, "only-hot-left");
    }
    {
        const char *const knobs[] = { "max_data=1.5", NULL };
        g_autoptr(FmPolicy) frag = make_policy("fragment", knobs);
        g_autoptr(FmFragTracker) t = make_tracker();
        FmRoundStats st = make_stats(1, 40 * FRAG);

        fm_bitmap_clear_all(dirty);
        fm_bitmap_set_range(dirty, 0, 40 * FRAG);
        st.dirty = dirty;
        st.bytes_sent = 1.5 * PAGES * 4096;
        fm_frag_tracker_update(t, dirty, dirty, 1.0, 0.5);
        assert_decision(frag, &st, t, FM_DECISION_STOP_AND_COPY, "max-data");
    }
}

/* Same inputs, same decisions: two instances fed the same sequence agree. */
static void
test_deterministic(void)
{
    for (const FmPolicyOps *const *p = fm_policy_list(); *p; p++) {
        g_autoptr(FmPolicy) a = make_policy((*p)->name, NULL);
        g_autoptr(FmPolicy) b = make_policy((*p)->name, NULL);
        g_autoptr(FmFragTracker) ta = make_tracker();
        g_autoptr(FmFragTracker) tb = make_tracker();
        g_autoptr(GArray) fa = g_array_new(FALSE, FALSE, sizeof(guint32));
        g_autoptr(GArray) fb = g_array_new(FALSE, FALSE, sizeof(guint32));
        FmPlan pa = { fa, FALSE, 0, 0 }, pb = { fb, FALSE, 0, 0 };

        for (guint r = 1; r < 40; r++) {
            FmRoundStats st = make_stats(r, 100 + (r * 7919) % 3000);
            FmStopReason ra, rb;
            for (guint i = 0; i < 64; i++) {
                guint pend = (i * r * 31) % (FRAG + 1);
                set_frag(ta, i, pend, (i + r) % 4, (i % 7) * 10.0);
                set_frag(tb, i, pend, (i + r) % 4, (i % 7) * 10.0);
            }
            fm_policy_plan_round(a, &st, ta, &pa);
            fm_policy_plan_round(b, &st, tb, &pb);
            g_assert_cmpmem(pa.fragments->data, pa.fragments->len * 4,
                            pb.fragments->data, pb.fragments->len * 4);
            g_assert_cmpint(fm_policy_should_stop(a, &st, ta, &ra), ==,
                            fm_policy_should_stop(b, &st, tb, &rb));
            g_assert_cmpint(ra, ==, rb);
        }
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/policy/registry", test_registry);
    g_test_add_func("/policy/bad-param-value", test_bad_param_value);
    g_test_add_func("/policy/xen", test_xen);
    g_test_add_func("/policy/xen-knobs", test_xen_knobs);
    g_test_add_func("/policy/xen-classic", test_xen_classic);
    g_test_add_func("/policy/qemu", test_qemu);
    g_test_add_func("/policy/qemu-auto-converge", test_qemu_auto_converge);
    g_test_add_func("/policy/fragment-hot", test_fragment_hot);
    g_test_add_func("/policy/fragment-hot-ratio", test_fragment_hot_ratio);
    g_test_add_func("/policy/fragment-cool-down", test_fragment_cool_down);
    g_test_add_func("/policy/fragment-stop", test_fragment_stop);
    g_test_add_func("/policy/deterministic", test_deterministic);
    return g_test_run();
}
