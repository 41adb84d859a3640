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
    FmPlan plan = { frags, FALSE, 0 };
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
    FmPlan plan = { frags, FALSE, 0 };
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
    FmPlan plan = { frags, FALSE, 0 };

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

static void
test_fragment_hot(void)
{
    g_autoptr(FmPolicy) frag = make_policy("fragment", NULL);
    g_autoptr(FmFragTracker) tracker = make_tracker();
    g_autoptr(GArray) frags = g_array_new(FALSE, FALSE, sizeof(guint32));
    FmPlan plan = { frags, FALSE, 0 };
    FmRoundStats st = make_stats(2, 4 * FRAG);
    /* 4 * 64 pages pending at 125 MB/s: horizon 8.4 ms */

    set_frag(tracker, 0, FRAG, 2, 1000.0);  /* streak 2, 1-exp(-8.4) ~ 1: HOT */
    set_frag(tracker, 1, FRAG, 1, 1000.0);  /* streak 1 only: iterated */
    set_frag(tracker, 2, FRAG, 2, 1.0);     /* slow: 1-exp(-0.0084) < 0.5 */
    set_frag(tracker, 3, FRAG, 5, 10.0);    /* 1-exp(-0.084) < 0.5 */
    fm_policy_plan_round(frag, &st, tracker, &plan);
    g_assert_cmpuint(fm_frag_tracker_get(tracker, 0)->state, ==, FM_FRAG_HOT);
    g_assert_cmpuint(fm_frag_tracker_get(tracker, 1)->state, ==, FM_FRAG_ACTIVE);
    g_assert_cmpuint(fm_frag_tracker_get(tracker, 2)->state, ==, FM_FRAG_ACTIVE);
    g_assert_cmpuint(fm_frag_tracker_get(tracker, 3)->state, ==, FM_FRAG_ACTIVE);
    /* HOT left out; coldest first */
    g_assert_cmpuint(plan.fragments->len, ==, 3);
    g_assert_cmpuint(g_array_index(plan.fragments, guint32, 0), ==, 2);
    g_assert_cmpuint(g_array_index(plan.fragments, guint32, 1), ==, 3);
    g_assert_cmpuint(g_array_index(plan.fragments, guint32, 2), ==, 1);
    g_assert_false(plan.skip_redirtied);
    g_assert_cmpuint(fm_frag_tracker_hot_count(tracker), ==, 1);
    g_assert_cmpuint(fm_frag_tracker_pending_hot(tracker), ==, FRAG);
    g_assert_cmpuint(fm_frag_tracker_pending_other(tracker), ==, 3 * FRAG);
}

static void
test_fragment_hot_ratio(void)
{
    const char *const knobs[] = { "hot_ratio=5%", "hot_streak=3", NULL };
    g_autoptr(FmPolicy) frag = make_policy("fragment", knobs);
    g_autoptr(FmFragTracker) tracker = make_tracker();
    g_autoptr(GArray) frags = g_array_new(FALSE, FALSE, sizeof(guint32));
    FmPlan plan = { frags, FALSE, 0 };
    FmRoundStats st = make_stats(2, 4 * FRAG);

    /* 128 pages pending: horizon 4.19 ms */
    set_frag(tracker, 2, FRAG, 3, 20.0);    /* 8.0 % > 5 %, streak 3: HOT */
    set_frag(tracker, 3, FRAG, 2, 1000.0);  /* streak 2 < 3 */
    fm_policy_plan_round(frag, &st, tracker, &plan);
    g_assert_cmpuint(fm_frag_tracker_get(tracker, 2)->state, ==, FM_FRAG_HOT);
    g_assert_cmpuint(fm_frag_tracker_get(tracker, 3)->state, ==, FM_FRAG_ACTIVE);
}

static void
test_fragment_cool_down(void)
{
    g_autoptr(FmPolicy) frag = make_policy("fragment", NULL);
    g_autoptr(FmFragTracker) tracker = make_tracker();
    g_autoptr(GArray) frags = g_array_new(FALSE, FALSE, sizeof(guint32));
    FmPlan plan = { frags, FALSE, 0 };
    FmRoundStats st = make_stats(4, FRAG);
    FmFragment *f0 = fm_frag_tracker_get_mut(tracker, 0);

    set_frag(tracker, 0, FRAG, 0, 0.0);
    f0->state = FM_FRAG_HOT;
    f0->clean = 1;
    fm_policy_plan_round(frag, &st, tracker, &plan);
    g_assert_cmpuint(f0->state, ==, FM_FRAG_HOT);   /* one clean round is not enough */
    g_assert_cmpuint(plan.fragments->len, ==, 0);
    f0->clean = 2;
    fm_policy_plan_round(frag, &st, tracker, &plan);
    g_assert_cmpuint(f0->state, ==, FM_FRAG_COLD);
    g_assert_cmpuint(plan.fragments->len, ==, 1);
}

static void
test_fragment_stop(void)
{
    g_autoptr(FmFragTracker) tracker = make_tracker();
    FmRoundStats st;

    /* (a) everything fits the downtime target */
    {
        g_autoptr(FmPolicy) frag = make_policy("fragment", NULL);
        set_frag(tracker, 0, 9000 / 64, 1, 0.1);
        st = make_stats(1, 9000 / 64);
        assert_decision(frag, &st, tracker, FM_DECISION_STOP_AND_COPY, "downtime-target");
    }
    /* only HOT fragments have pending pages */
    {
        g_autoptr(FmPolicy) frag = make_policy("fragment", NULL);
        g_autoptr(FmFragTracker) t = make_tracker();
        for (guint i = 0; i < 64; i++)
            set_frag(t, i, 0, 0, 0);
        for (guint i = 0; i < 60; i++) {
            set_frag(t, i, FRAG, 3, 1000.0);
            fm_frag_tracker_set_state(t, i, FM_FRAG_HOT);
        }
        st = make_stats(3, 60 * FRAG);
        st.max_downtime = 0.001;
        assert_decision(frag, &st, t, FM_DECISION_STOP_AND_COPY, "only-hot-left");
    }
    /* (b) less than 10 % progress, then (c) caps */
    {
        g_autoptr(FmPolicy) frag = make_policy("fragment", NULL);
        g_autoptr(FmFragTracker) t = make_tracker();
        for (guint i = 0; i < 40; i++)
            set_frag(t, i, FRAG, 1, 0.01);
        st = make_stats(1, 40 * FRAG);          /* 2560 of 4096 pending: progress */
        st.max_downtime = 0.001;
        assert_decision(frag, &st, t, FM_DECISION_CONTINUE, NULL);
        for (guint i = 0; i < 40; i++)
            set_frag(t, i, 60, 1, 0.01);        /* 2400: shrank by 6.25 % only */
        st = make_stats(2, 40 * 60);
        st.max_downtime = 0.001;
        assert_decision(frag, &st, t, FM_DECISION_STOP_AND_COPY, "no-progress");
    }
    {
        const char *const knobs[] = { "max_rounds=3", "max_data=1.5", NULL };
        g_autoptr(FmPolicy) frag = make_policy("fragment", knobs);
        g_autoptr(FmFragTracker) t = make_tracker();
        for (guint i = 0; i < 40; i++)
            set_frag(t, i, FRAG, 1, 0.01);
        st = make_stats(3, 40 * FRAG);
        st.max_downtime = 0.001;
        assert_decision(frag, &st, t, FM_DECISION_STOP_AND_COPY, "max-rounds");
    }
    {
        const char *const knobs[] = { "max_data=1.5", NULL };
        g_autoptr(FmPolicy) frag = make_policy("fragment", knobs);
        g_autoptr(FmFragTracker) t = make_tracker();
        for (guint i = 0; i < 40; i++)
            set_frag(t, i, FRAG, 1, 0.01);
        st = make_stats(2, 40 * FRAG);
        st.max_downtime = 0.001;
        st.bytes_sent = 1.5 * PAGES * 4096;
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
        FmPlan pa = { fa, FALSE, 0 }, pb = { fb, FALSE, 0 };

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
