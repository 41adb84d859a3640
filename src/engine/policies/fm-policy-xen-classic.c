/*
 * fm-policy-xen-classic.c: Xen 3.x as described by Clark et al. (NSDI 2005):
 * up to 29 iterations, stop below 50 dirty pages or once 3 x memory has been sent;
 * within a round, a page already dirtied again before its turn is skipped until the
 * next round ("peek and skip"), since sending it now would be wasted.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "engine/policies/fm-policies.h"
#include "util/fm-i18n.h"

typedef struct {
    guint max_rounds;
    guint dirty_threshold;
    double max_data;
} FmPolicyXenClassic;

static const FmParamSpec fm_policy_xen_classic_params[] = {
    { "max_rounds", FM_PARAM_UINT, 29, 1, 10000,
      N_("xen-classic: pre-copy rounds before stop-and-copy (Xen 3.x: 29)") },
    { "dirty_threshold", FM_PARAM_UINT, 50, 0, G_MAXUINT32,
      N_("xen, xen-classic: stop when fewer pages than this are dirty (libxenguest: 50)") },
    { "max_data", FM_PARAM_DOUBLE, 3.0, 0, 1000,
      N_("xen-classic, fragment: stop once this multiple of memory has been sent (0 = no cap)") },
    { NULL, 0, 0, 0, 0, NULL }
};

/* Reads the knobs. */
static gboolean
fm_policy_xen_classic_start(FmPolicy *self, const FmParamSet *params,
                            GError **error G_GNUC_UNUSED)
{
    FmPolicyXenClassic *priv = fm_policy_priv(self);
    const FmParamSpec *specs = fm_policy_xen_classic_params;

    priv->max_rounds = fm_param_set_get_named(params, specs, "max_rounds");
    priv->dirty_threshold = fm_param_set_get_named(params, specs, "dirty_threshold");
    priv->max_data = fm_param_set_get_named(params, specs, "max_data");
    return TRUE;
}

/* Sends every dirty page in address order, skipping pages re-dirtied before their turn. */
static void
fm_policy_xen_classic_plan_round(FmPolicy *self G_GNUC_UNUSED,
                                 const FmRoundStats *stats G_GNUC_UNUSED,
                                 FmFragTracker *tracker, FmPlan *plan)
{
    fm_policy_plan_all(tracker, plan);
    plan->skip_redirtied = TRUE;
}

/* Returns STOP_AND_COPY below the threshold, at the round cap or at 3 x memory. */
static FmDecision
fm_policy_xen_classic_should_stop(FmPolicy *self, const FmRoundStats *stats,
                                  const FmFragTracker *tracker G_GNUC_UNUSED,
                                  FmStopReason *reason)
{
    FmPolicyXenClassic *priv = fm_policy_priv(self);

    return fm_policy_xen_decide(stats, priv->dirty_threshold, priv->max_rounds,
                                priv->max_data, reason);
}

const FmPolicyOps fm_policy_xen_classic_ops = {
    .name = "xen-classic",
    .summary = N_("Xen 3.x / Clark 2005: 29 rounds, < 50 dirty pages or 3 x memory; peek and skip"),
    .params = fm_policy_xen_classic_params,
    .priv_size = sizeof(FmPolicyXenClassic),
    .start = fm_policy_xen_classic_start,
    .plan_round = fm_policy_xen_classic_plan_round,
    .should_stop = fm_policy_xen_classic_should_stop,
};
