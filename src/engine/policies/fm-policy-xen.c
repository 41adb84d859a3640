/*
 * fm-policy-xen.c: the libxenguest 4.17 default (simple_precopy_policy):
 * stop and copy once fewer than 50 pages were dirtied in a round, or after 5
 * iterations; every round re-sends the whole dirty set, in address order.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "engine/policies/fm-policies.h"
#include "util/fm-i18n.h"

typedef struct {
    guint max_rounds;
    guint dirty_threshold;
} FmPolicyXen;

static const FmParamSpec fm_policy_xen_params[] = {
    { "max_rounds", FM_PARAM_UINT, 5, 1, 10000,
      N_("xen: pre-copy rounds before stop-and-copy (libxenguest: 5)") },
    { "dirty_threshold", FM_PARAM_UINT, 50, 0, G_MAXUINT32,
      N_("xen, xen-classic: stop when fewer pages than this are dirty (libxenguest: 50)") },
    { NULL, 0, 0, 0, 0, NULL }
};

/* Reads the knobs. */
static gboolean
fm_policy_xen_start(FmPolicy *self, const FmParamSet *params, GError **error G_GNUC_UNUSED)
{
    FmPolicyXen *priv = fm_policy_priv(self);

    priv->max_rounds = fm_param_set_get_named(params, fm_policy_xen_params, "max_rounds");
    priv->dirty_threshold =
        fm_param_set_get_named(params, fm_policy_xen_params, "dirty_threshold");
    return TRUE;
}

/* Sends every dirty page, in address order. */
static void
fm_policy_xen_plan_round(FmPolicy *self G_GNUC_UNUSED, const FmRoundStats *stats G_GNUC_UNUSED,
                         FmFragTracker *tracker, FmPlan *plan)
{
    fm_policy_plan_all(tracker, plan);
}

/* Returns the decision of the Xen family of policies: stop when fewer than
 * @dirty_threshold pages are pending, or a cap is reached. */
FmDecision
fm_policy_xen_decide(const FmRoundStats *stats, guint dirty_threshold, guint max_rounds,
                     double max_data, FmStopReason *reason)
{
    if (stats->pending < dirty_threshold) {
        *reason = FM_STOP_DIRTY_BELOW_THRESHOLD;
        return FM_DECISION_STOP_AND_COPY;
    }
    if (fm_policy_cap_reached(stats, max_rounds, max_data, reason))
        return FM_DECISION_STOP_AND_COPY;
    return FM_DECISION_CONTINUE;
}

/* Returns STOP_AND_COPY below the threshold or at the round cap. */
static FmDecision
fm_policy_xen_should_stop(FmPolicy *self, const FmRoundStats *stats,
                          const FmFragTracker *tracker G_GNUC_UNUSED, FmStopReason *reason)
{
    FmPolicyXen *priv = fm_policy_priv(self);

    return fm_policy_xen_decide(stats, priv->dirty_threshold, priv->max_rounds, 0, reason);
}

const FmPolicyOps fm_policy_xen_ops = {
    .name = "xen",
    .summary = N_("Xen 4.17 libxenguest default: 5 rounds or < 50 dirty pages"),
    .params = fm_policy_xen_params,
    .priv_size = sizeof(FmPolicyXen),
    .start = fm_policy_xen_start,
    .plan_round = fm_policy_xen_plan_round,
    .should_stop = fm_policy_xen_should_stop,
};
