/*
 * fm-policy-fragment.c: fragment-iterative pre-copy (docs/design.md, "The fragment
 * policy").
 *
 * The policy never does worse than stock Xen (the `xen` policy: libxenguest 4.17,
 * five rounds or fewer than 50 dirty pages), because it runs a shadow of it: the
 * rounds Xen would run, on the same clock.  Round 0 is Xen's.  Each shadow round
 * lasts as long as Xen would need to send what the previous one found dirty; the
 * union of the harvests within it is exactly the dirty set Xen would find at its
 * end, so the shadow knows when Xen would stop and with how much left.  The policy
 * stops no later than that, and earlier only when what it would copy while paused
 * is no worse than Xen's own stop (fewer than dirty_threshold pages, or
 * downtime_slack of data).
 *
 * Within the shadow's rounds it sends less than Xen:
 * - per-fragment statistics: a fragment whose pages were nearly all written again
 *   within a round (the fraction projected over the coming round reaches
 *   hot_ratio) is HOT: re-sending it now would be wasted, since it will be dirty
 *   again when the next round (or the pause) comes, so its iteration is cut;
 * - peek and skip: a page written again since the harvest is not sent; the next
 *   round sends its newer content;
 * - a round that has sent its share waits instead of re-sending what was dirtied
 *   meanwhile (Xen would not send it before its next round either).  While it
 *   waits the policy harvests observe_splits times a round, to see HOT fragments
 *   cool down: when the HOT set as a whole is written at less than cool_ratio of
 *   its usual rate, its fragments that stayed clean rejoin at once and use the idle
 *   link.  A cooled fragment is not read as "no progress": it is simply sent.
 * In Xen's last round everything that is not HOT is sent as Xen sends it (address
 * order, no skip): what is left would be copied while paused anyway, so sending it
 * now costs no time and saves downtime.  A HOT set written more slowly than the
 * link is not cut at all: Xen's rounds chase its writer and keep most of it clean,
 * so the policy sends as Xen does (docs/design.md section 3, rules 7 and 8).
 *
 * patience < 1 trades the guarantee for time on loads that never end: once only
 * HOT fragments are pending and the elapsed time reaches patience x the shadow's
 * predicted end, the policy stops (a heavy sweep then takes about half of Xen's
 * time; a sweep that would have ended soon costs its whole region in downtime).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "engine/policies/fm-policies.h"
#include "util/fm-i18n.h"

/* Two clock readings this close are the same instant (the backends tick in ns). */
#define FM_FRAGMENT_EPSILON 1e-6

typedef struct {
    /* knobs */
    guint xen_rounds;
    guint dirty_threshold;
    guint hot_streak;
    double hot_ratio;
    guint cool_rounds;
    double cool_ratio;
    guint observe_splits;
    double downtime_slack;
    double patience;
    double max_data;

    /* the shadow of Xen */
    gboolean started;
    FmBitmap *window;          /* pages dirtied since the shadow round began */
    guint shadow_rounds;       /* rounds Xen has started (1: round 0) */
    double shadow_start;       /* when the current shadow round began, s */
    double shadow_end;         /* when it ends, s */
    double window_len;         /* length of the last completed shadow round, s */
    gboolean xen_stops;        /* the last boundary was Xen's stop */

    /* per fragment */
    double *frac;              /* fraction dirtied in the last completed shadow round */
    guint *planned;            /* shadow round in which it was last planned, 0 = never */
    gboolean *cooled;          /* rejoined after its HOT load stopped, clean since */
    guint *streak;             /* shadow rounds in a row predicted to re-dirty it */

    guint quiet;               /* observations in a row of a quiet HOT set */

    /* the link as xen's rounds see it: the best measurement so far (round 0's, unless
     * a later one is better); the short rounds of a waiting policy are dominated by
     * the round trip and would make the shadow's rounds longer than xen's */
    double bandwidth;
    guint *visits;             /* observations since the boundary that found it dirty */
    guint observations;        /* harvests since the boundary */

    /* the HOT set's write rate, pages per second, EWMA over observations */
    double hot_rate;
    double last_harvest;       /* when the previous harvest was, s */
} FmPolicyFragment;

static const FmParamSpec fm_policy_fragment_params[] = {
    { "xen_rounds", FM_PARAM_UINT, 5, 1, 10000,
      N_("fragment: rounds of the stock Xen run it never outlasts (libxenguest: 5)") },
    { "dirty_threshold", FM_PARAM_UINT, 50, 0, G_MAXUINT32,
      N_("fragment: stop when fewer pages than this are pending (libxenguest: 50)") },
    { "hot_streak", FM_PARAM_UINT, 1, 1, 1000,
      N_("fragment: rounds in a row a fragment must be predicted re-dirtied before it is HOT (k)") },
    { "hot_ratio", FM_PARAM_RATIO, 0.9, 0, 1,
      N_("fragment: share of a fragment predicted to be re-dirtied within a round that makes it HOT (theta)") },
    { "cool_rounds", FM_PARAM_UINT, 1, 1, 1000,
      N_("fragment: quiet observations of the HOT set in a row before its clean fragments rejoin") },
    { "cool_ratio", FM_PARAM_RATIO, 0.25, 0, 1,
      N_("fragment: the HOT set is quiet when written at less than this share of its rate") },
    { "observe_splits", FM_PARAM_UINT, 8, 1, 1000,
      N_("fragment: harvests per round while waiting, to see HOT fragments cool down") },
    { "downtime_slack", FM_PARAM_DURATION, 0.002, 0, 3600,
      N_("fragment: stop early once what is pending can be sent in this time") },
    { "patience", FM_PARAM_RATIO, 1, 0, 1,
      N_("fragment: share of the stock Xen time to wait for HOT fragments to cool (1 = never stop later or with more downtime than Xen)") },
    { "max_data", FM_PARAM_DOUBLE, 0, 0, 1000,
      N_("fragment: stop once this multiple of memory has been sent (0 = no cap)") },
    { NULL, 0, 0, 0, 0, NULL }
};

/* Reads the knobs. */
static gboolean
fm_policy_fragment_start(FmPolicy *self, const FmParamSet *params,
                         GError **error G_GNUC_UNUSED)
{
    FmPolicyFragment *priv = fm_policy_priv(self);
    const FmParamSpec *specs = fm_policy_fragment_params;

    priv->xen_rounds = fm_param_set_get_named(params, specs, "xen_rounds");
    priv->dirty_threshold = fm_param_set_get_named(params, specs, "dirty_threshold");
    priv->hot_streak = fm_param_set_get_named(params, specs, "hot_streak");
    priv->hot_ratio = fm_param_set_get_named(params, specs, "hot_ratio");
    priv->cool_rounds = fm_param_set_get_named(params, specs, "cool_rounds");
    priv->cool_ratio = fm_param_set_get_named(params, specs, "cool_ratio");
    priv->observe_splits = fm_param_set_get_named(params, specs, "observe_splits");
    priv->downtime_slack = fm_param_set_get_named(params, specs, "downtime_slack");
    priv->patience = fm_param_set_get_named(params, specs, "patience");
    priv->max_data = fm_param_set_get_named(params, specs, "max_data");
    return TRUE;
}

/* Frees the shadow's state. */
static void
fm_policy_fragment_finalize(FmPolicy *self)
{
    FmPolicyFragment *priv = fm_policy_priv(self);

    fm_bitmap_free(priv->window);
    g_free(priv->frac);
    g_free(priv->planned);
    g_free(priv->cooled);
    g_free(priv->streak);
    g_free(priv->visits);
}

/* Returns the seconds xen needs to send @pages over the shadow's link. */
static double
fm_policy_fragment_seconds(const FmPolicyFragment *priv, const FmRoundStats *stats,
                           double pages)
{
    return pages * stats->page_size / priv->bandwidth;
}

/* Returns the share of fragment @i's pages predicted to be written within @seconds,
 * from its share @frac written within the last shadow round: writes as a Poisson
 * process per page, the full share clipped to half a page short of it. */
static double
fm_policy_fragment_redirty(const FmPolicyFragment *priv, const FmFragment *frag,
                           double frac, double seconds)
{
    double clip = 1.0 - 0.5 / MAX(frag->pages, 1);

    if (frac <= 0 || priv->window_len <= 0)
        return 0;
    return -expm1(log1p(-MIN(frac, clip)) * seconds / priv->window_len);
}

/* A shadow round ends: folds its dirty set into the per-fragment shares and starts
 * Xen's next round, or records that Xen would stop here. */
static void
fm_policy_fragment_boundary(FmPolicyFragment *priv, const FmRoundStats *stats,
                            FmFragTracker *tracker)
{
    guint n = fm_frag_tracker_count(tracker);
    guint64 dirty = fm_bitmap_count(priv->window);

    priv->window_len = MAX(stats->elapsed - priv->shadow_start, FM_FRAGMENT_EPSILON);
    for (guint i = 0; i < n; i++) {
        const FmFragment *frag = fm_frag_tracker_get(tracker, i);
        guint64 first = fm_frag_tracker_first_page(tracker, i);

        priv->frac[i] = (double)fm_bitmap_count_range(priv->window, first, frag->pages) /
                        MAX(frag->pages, 1);
    }
    fm_bitmap_clear_all(priv->window);
    if (dirty < priv->dirty_threshold || priv->shadow_rounds >= priv->xen_rounds) {
        priv->xen_stops = TRUE;
        return;
    }
    priv->shadow_rounds++;
    priv->shadow_start = stats->elapsed;
    priv->shadow_end = stats->elapsed + fm_policy_fragment_seconds(priv, stats, dirty);
}

/* Returns TRUE if the HOT set, as measured, is written more slowly than the link
 * sends: then xen's rounds chase its writer (a sweep at 90 % of the link) and a
 * page sent just behind it stays clean for most of a pass, so that re-sending is
 * not wasted and skipping a page just written (peek and skip) leaves it for the
 * pause; the policy then sends as xen does. */
static gboolean
fm_policy_fragment_chase(const FmPolicyFragment *priv, const FmRoundStats *stats)
{
    return priv->hot_rate > 0 && priv->hot_rate * stats->page_size < priv->bandwidth;
}

/* Marks HOT the fragments whose pages would be written again within the coming
 * shadow round, as predicted hot_streak boundaries in a row, and un-marks the
 * others. */
static void
fm_policy_fragment_classify(FmPolicyFragment *priv, const FmRoundStats *stats,
                            FmFragTracker *tracker)
{
    guint n = fm_frag_tracker_count(tracker);
    double horizon = priv->shadow_end - priv->shadow_start;
    gboolean chase = fm_policy_fragment_chase(priv, stats);

    for (guint i = 0; i < n; i++) {
        const FmFragment *frag = fm_frag_tracker_get(tracker, i);
        /* A fragment visited v times in a round of length L comes back within L'
         * with a chance of at most v L' / L (a periodic writer, a sweep, has this
         * chance exactly): the Poisson projection alone would call a slow sweep's
         * last stretch HOT just as the sweep moves on. */
        double periodic = MIN(1.0, MAX(priv->visits[i], 1) * horizon / priv->window_len);
        gboolean hot = !chase && !priv->cooled[i] && priv->hot_ratio > 0 &&
                       periodic >= priv->hot_ratio &&
                       fm_policy_fragment_redirty(priv, frag, priv->frac[i], horizon) >=
                       priv->hot_ratio;

        priv->streak[i] = hot ? priv->streak[i] + 1 : 0;
        if (hot && priv->streak[i] >= priv->hot_streak)
            fm_frag_tracker_set_state(tracker, i, FM_FRAG_HOT);
        else if (frag->state == FM_FRAG_HOT)
            fm_frag_tracker_set_state(tracker, i, frag->dirty_last ? FM_FRAG_ACTIVE
                                                                   : FM_FRAG_COLD);
    }
}

/* Between boundaries: if the HOT set as a whole is written at less than cool_ratio
 * of its rate so far, cool_rounds observations in a row, its load has stopped: the
 * HOT fragments that stayed clean since the last harvest rejoin.  A cooled fragment
 * stays so until a HOT share of it is written again. */
static void
fm_policy_fragment_observe(FmPolicyFragment *priv, const FmRoundStats *stats,
                           FmFragTracker *tracker)
{
    guint n = fm_frag_tracker_count(tracker);
    double seconds = stats->elapsed - priv->last_harvest;
    guint64 hot_dirty = 0;
    guint hot = 0;
    double rate;

    for (guint i = 0; i < n; i++) {
        const FmFragment *frag = fm_frag_tracker_get(tracker, i);

        /* a stray write does not make a cooled fragment hot again: only a share of
         * its pages that could make it HOT */
        if (frag->dirty_last > (1 - priv->hot_ratio) * frag->pages)
            priv->cooled[i] = FALSE;
        if (frag->dirty_last)
            priv->visits[i]++;
        if (frag->state == FM_FRAG_HOT) {
            hot++;
            hot_dirty += frag->dirty_last;
        }
    }
    if (hot == 0 || seconds <= FM_FRAGMENT_EPSILON)
        return;
    rate = hot_dirty / seconds;
    if (!(priv->hot_rate > 0 && rate < priv->cool_ratio * priv->hot_rate)) {
        priv->quiet = 0;
        /* quick to rise, slow to fall: a quiet spell is compared with the usual rate */
        priv->hot_rate = MAX(rate, 0.5 * (rate + priv->hot_rate));
        return;
    }
    if (++priv->quiet < priv->cool_rounds)
        return;
    priv->quiet = 0;
    for (guint i = 0; i < n; i++) {
        const FmFragment *frag = fm_frag_tracker_get(tracker, i);

        if (frag->state == FM_FRAG_HOT && frag->dirty_last == 0) {
            priv->cooled[i] = TRUE;
            fm_frag_tracker_set_state(tracker, i, FM_FRAG_COLD);
        }
    }
}

typedef struct {
    guint32 index;
    double frac;
} FmFragOrder;

/* Orders fragments coldest first, then by address (a total order: deterministic). */
static int
fm_frag_order_compare(gconstpointer pa, gconstpointer pb)
{
    const FmFragOrder *a = pa, *b = pb;

    if (a->frac != b->frac)
        return a->frac < b->frac ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Plans the pending pages of the fragments not HOT and not yet sent in this shadow
 * round, coldest first, as many as fit before the round's end (all of them in Xen's
 * last round), and when to harvest next. */
static void
fm_policy_fragment_plan_sends(FmPolicyFragment *priv, const FmRoundStats *stats,
                              FmFragTracker *tracker, FmPlan *plan)
{
    guint n = fm_frag_tracker_count(tracker);
    g_autoptr(GArray) order = g_array_new(FALSE, FALSE, sizeof(FmFragOrder));
    gboolean last = priv->shadow_rounds >= priv->xen_rounds;
    double budget = (priv->shadow_end - stats->elapsed) * priv->bandwidth /
                    stats->page_size;
    double planned = 0, step;

    /* In xen's last round, what xen would leave dirty at the pause is what it sends
     * and the guest writes again before the pause: send as xen does (address
     * order, no skip), so that nothing is left that xen would have sent clean.  A
     * page skipped because it was written since the harvest would be copied while
     * paused, where xen sends it now and, under a writer slower than the link (a
     * sweep at 90 % of it), finds it still clean at the pause.  The HOT set is
     * sent too unless it is written faster than the link can send it: then all of
     * it is written again before the pause whatever is sent (xen re-sends it for
     * nothing), and cutting it keeps the data saving. */
    gboolean chase_hot = last && fm_policy_fragment_chase(priv, stats);

    for (guint32 i = 0; i < n; i++) {
        const FmFragment *frag = fm_frag_tracker_get(tracker, i);
        FmFragOrder item = { i, last ? 0 : priv->frac[i] };

        if ((frag->state != FM_FRAG_HOT || chase_hot) && frag->pending &&
            priv->planned[i] != priv->shadow_rounds)
            g_array_append_val(order, item);
    }
    g_array_sort(order, fm_frag_order_compare);
    for (guint k = 0; k < order->len; k++) {
        guint32 i = g_array_index(order, FmFragOrder, k).index;
        guint32 pending = fm_frag_tracker_get(tracker, i)->pending;

        if (!last && planned >= budget)
            break;
        planned += pending;
        priv->planned[i] = priv->shadow_rounds;
        g_array_append_val(plan->fragments, i);
    }
    plan->skip_redirtied = !last && !fm_policy_fragment_chase(priv, stats);

    /* Harvest again after the sends and one observation step, landing exactly on
     * the shadow's boundary rather than just short of it. */
    step = (priv->shadow_end - priv->shadow_start) / priv->observe_splits;
    plan->wait_until = stats->elapsed + fm_policy_fragment_seconds(priv, stats, planned) + step;
    if (plan->wait_until > priv->shadow_end - step / 2)
        plan->wait_until = priv->shadow_end;
}

/* Runs the shadow one harvest further, classifies fragments and plans the round. */
static void
fm_policy_fragment_plan_round(FmPolicy *self, const FmRoundStats *stats,
                              FmFragTracker *tracker, FmPlan *plan)
{
    FmPolicyFragment *priv = fm_policy_priv(self);
    guint n = fm_frag_tracker_count(tracker);

    if (!priv->started) {
        /* round 0 is Xen's own: its end is the first boundary */
        priv->started = TRUE;
        priv->window = fm_bitmap_new(stats->page_count);
        priv->frac = g_new0(double, n);
        priv->planned = g_new0(guint, n);
        priv->cooled = g_new0(gboolean, n);
        priv->streak = g_new0(guint, n);
        priv->visits = g_new0(guint, n);
        priv->shadow_rounds = 1;
        priv->shadow_start = 0;
        priv->shadow_end = stats->elapsed;
    }
    if (stats->dirty)
        fm_bitmap_or(priv->window, stats->dirty);
    else
        fm_bitmap_set_all(priv->window); /* hand-built stats: assume the worst */

    priv->bandwidth = MAX(priv->bandwidth, stats->bandwidth);
    fm_policy_fragment_observe(priv, stats, tracker);
    priv->last_harvest = stats->elapsed;
    if (stats->elapsed >= priv->shadow_end - FM_FRAGMENT_EPSILON && !priv->xen_stops) {
        if (priv->bandwidth <= 0) {
            priv->xen_stops = TRUE;  /* too little sent to measure the link: stop */
            return;
        }
        fm_policy_fragment_boundary(priv, stats, tracker);
        if (!priv->xen_stops)
            fm_policy_fragment_classify(priv, stats, tracker);
        memset(priv->visits, 0, n * sizeof(*priv->visits));
    }
    if (!priv->xen_stops)
        fm_policy_fragment_plan_sends(priv, stats, tracker, plan);
}

/* Returns STOP_AND_COPY when stopping is no worse than Xen: fewer pages pending than
 * Xen's threshold, a pause within downtime_slack, or Xen's own stop; with
 * patience < 1 also when only HOT fragments are left late enough; or at a cap. */
static FmDecision
fm_policy_fragment_should_stop(FmPolicy *self, const FmRoundStats *stats,
                               const FmFragTracker *tracker, FmStopReason *reason)
{
    FmPolicyFragment *priv = fm_policy_priv(self);

    if (stats->pending < priv->dirty_threshold) {
        *reason = FM_STOP_DIRTY_BELOW_THRESHOLD;
        return FM_DECISION_STOP_AND_COPY;
    }
    if (fm_policy_send_seconds(stats, stats->pending) <= priv->downtime_slack) {
        *reason = FM_STOP_DOWNTIME_SLACK;
        return FM_DECISION_STOP_AND_COPY;
    }
    if (priv->xen_stops || !priv->started) {
        *reason = FM_STOP_XEN_WOULD_STOP;
        return FM_DECISION_STOP_AND_COPY;
    }
    if (priv->patience < 1 && fm_frag_tracker_pending_other(tracker) == 0) {
        /* Xen's end if the rounds to come last as long as this one */
        double round = priv->shadow_end - priv->shadow_start;
        double xen_end = priv->shadow_end + round * (priv->xen_rounds - priv->shadow_rounds);

        if (stats->elapsed >= priv->patience * xen_end) {
            *reason = FM_STOP_ONLY_HOT_LEFT;
            return FM_DECISION_STOP_AND_COPY;
        }
    }
    if (fm_policy_cap_reached(stats, 0, priv->max_data, reason))
        return FM_DECISION_STOP_AND_COPY;
    return FM_DECISION_CONTINUE;
}

const FmPolicyOps fm_policy_fragment_ops = {
    .name = "fragment",
    .summary = N_("fragment-iterative: cut the iteration of HOT fragments, never worse than stock Xen"),
    .params = fm_policy_fragment_params,
    .priv_size = sizeof(FmPolicyFragment),
    .start = fm_policy_fragment_start,
    .plan_round = fm_policy_fragment_plan_round,
    .should_stop = fm_policy_fragment_should_stop,
    .finalize = fm_policy_fragment_finalize,
};
