/*
 * fm-policy-fragment.c: fragment-iterative pre-copy (DESIGN.md section 3).
 *
 * Each round sends the pending pages of the fragments that are not HOT, coldest first,
 * so that the pages least likely to be written again go first.  A fragment whose
 * streak of dirty harvests reaches hot_streak, and of which at least hot_ratio is
 * predicted to be re-dirtied before it could be sent again, is HOT: its iteration is
 * cut and its pages wait for stop-and-copy.  A HOT fragment clean for cool_rounds
 * harvests is iterated again.
 *
 * The prediction uses the tracker's write rate lambda (per page per second): the
 * fraction re-dirtied within T is 1 - exp(-lambda T), where T is the time the next
 * round needs to send the pending pages of the fragments still iterated: the soonest
 * the fragment's pages could be sent again.
 *
 * The whole iteration stops when (a) everything pending fits the downtime target at
 * the measured bandwidth, (b) the iterated set shrank by less than progress_min in the
 * last round, or nothing but HOT fragments is left, or (c) a safety cap is reached.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <math.h>

#include "engine/policies/fm-policies.h"
#include "util/fm-i18n.h"

typedef struct {
    guint hot_streak;
    double hot_ratio;
    guint cool_rounds;
    double progress_min;
    guint max_rounds;
    double max_data;
    /* state */
    guint64 prev_other;       /* iterated pending pages at the previous decision */
    gboolean have_prev;
} FmPolicyFragment;

static const FmParamSpec fm_policy_fragment_params[] = {
    { "hot_streak", FM_PARAM_UINT, 2, 1, 1000,
      N_("fragment: consecutive dirty rounds before a fragment may become HOT (k)") },
    { "hot_ratio", FM_PARAM_RATIO, 0.5, 0, 1,
      N_("fragment: predicted re-dirty fraction that makes a fragment HOT (theta)") },
    { "cool_rounds", FM_PARAM_UINT, 2, 1, 1000,
      N_("fragment: clean rounds after which a HOT fragment is iterated again") },
    { "progress_min", FM_PARAM_RATIO, 0.10, 0, 1,
      N_("fragment: stop when a round shrinks the iterated set by less than this (epsilon)") },
    { "max_rounds", FM_PARAM_UINT, 30, 1, 10000,
      N_("fragment: pre-copy round cap") },
    { "max_data", FM_PARAM_DOUBLE, 3.0, 0, 1000,
      N_("xen-classic, fragment: stop once this multiple of memory has been sent (0 = no cap)") },
    { NULL, 0, 0, 0, 0, NULL }
};

/* Reads the knobs. */
static gboolean
fm_policy_fragment_start(FmPolicy *self, const FmParamSet *params,
                         GError **error G_GNUC_UNUSED)
{
    FmPolicyFragment *priv = fm_policy_priv(self);
    const FmParamSpec *specs = fm_policy_fragment_params;

    priv->hot_streak = fm_param_set_get_named(params, specs, "hot_streak");
    priv->hot_ratio = fm_param_set_get_named(params, specs, "hot_ratio");
    priv->cool_rounds = fm_param_set_get_named(params, specs, "cool_rounds");
    priv->progress_min = fm_param_set_get_named(params, specs, "progress_min");
    priv->max_rounds = fm_param_set_get_named(params, specs, "max_rounds");
    priv->max_data = fm_param_set_get_named(params, specs, "max_data");
    return TRUE;
}

typedef struct {
    guint32 index;
    double rate;
} FmFragOrder;

/* Orders fragments coldest first, then by address (a total order: deterministic). */
static int
fm_frag_order_compare(gconstpointer pa, gconstpointer pb)
{
    const FmFragOrder *a = pa, *b = pb;

    if (a->rate != b->rate)
        return a->rate < b->rate ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Classifies fragments (HOT / back to iterated) and plans the iterated ones with
 * pending pages, coldest first. */
static void
fm_policy_fragment_plan_round(FmPolicy *self, const FmRoundStats *stats,
                              FmFragTracker *tracker, FmPlan *plan)
{
    FmPolicyFragment *priv = fm_policy_priv(self);
    guint n = fm_frag_tracker_count(tracker);
    g_autoptr(GArray) order = g_array_sized_new(FALSE, FALSE, sizeof(FmFragOrder), n);
    double horizon;

    /* Cool down first, so that the horizon counts what will really be iterated. */
    for (guint i = 0; i < n; i++) {
        const FmFragment *frag = fm_frag_tracker_get(tracker, i);

        if (frag->state == FM_FRAG_HOT && frag->clean >= priv->cool_rounds)
            fm_frag_tracker_set_state(tracker, i, frag->dirty_last ? FM_FRAG_ACTIVE
                                                                   : FM_FRAG_COLD);
    }

    horizon = fm_policy_send_seconds(stats, fm_frag_tracker_pending_other(tracker));
    for (guint i = 0; i < n; i++) {
        const FmFragment *frag = fm_frag_tracker_get(tracker, i);
        double redirty;

        if (frag->state == FM_FRAG_HOT || frag->streak < priv->hot_streak)
            continue;
        redirty = horizon >= G_MAXDOUBLE ? 1.0 : -expm1(-frag->rate * horizon);
        if (redirty >= priv->hot_ratio)
            fm_frag_tracker_set_state(tracker, i, FM_FRAG_HOT);
    }

    for (guint32 i = 0; i < n; i++) {
        const FmFragment *frag = fm_frag_tracker_get(tracker, i);
        FmFragOrder item = { i, frag->rate };

        if (frag->state != FM_FRAG_HOT && frag->pending)
            g_array_append_val(order, item);
    }
    g_array_sort(order, fm_frag_order_compare);
    for (guint i = 0; i < order->len; i++)
        g_array_append_val(plan->fragments, g_array_index(order, FmFragOrder, i).index);
}

/* Returns STOP_AND_COPY at the downtime target, without progress, or at a cap. */
static FmDecision
fm_policy_fragment_should_stop(FmPolicy *self, const FmRoundStats *stats,
                               const FmFragTracker *tracker, FmStopReason *reason)
{
    FmPolicyFragment *priv = fm_policy_priv(self);
    guint64 other = fm_frag_tracker_pending_other(tracker);
    guint64 prev = priv->have_prev ? priv->prev_other : stats->pending_prev;
    FmDecision decision = FM_DECISION_STOP_AND_COPY;

    priv->prev_other = other;
    priv->have_prev = TRUE;

    if (fm_policy_send_seconds(stats, stats->pending) <= stats->max_downtime)
        *reason = FM_STOP_DOWNTIME_TARGET;
    else if (other == 0)
        *reason = FM_STOP_ONLY_HOT_LEFT;
    else if ((double)other > (1.0 - priv->progress_min) * prev)
        *reason = FM_STOP_NO_PROGRESS;
    else if (!fm_policy_cap_reached(stats, priv->max_rounds, priv->max_data, reason))
        decision = FM_DECISION_CONTINUE;
    return decision;
}

const FmPolicyOps fm_policy_fragment_ops = {
    .name = "fragment",
    .summary = N_("fragment-iterative: cut the iteration of HOT fragments, stop when rounds stop helping"),
    .params = fm_policy_fragment_params,
    .priv_size = sizeof(FmPolicyFragment),
    .start = fm_policy_fragment_start,
    .plan_round = fm_policy_fragment_plan_round,
    .should_stop = fm_policy_fragment_should_stop,
};
