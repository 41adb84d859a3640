/*
 * fm-policy-qemu.c: QEMU's pre-copy: iterate until the pending data can be sent
 * within the downtime limit (migrate-setmaxdowntime, 300 ms by default), with no
 * round cap (only the engine's max_time).  With auto-converge, when the guest dirtied
 * more than throttle_trigger of what was sent in a round, twice, throttle the guest:
 * 20 % first, then +10 % each time, up to 99 %.  The workload really slows down, and
 * the engine reports that as guest_slowdown.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "engine/policies/fm-policies.h"
#include "util/fm-i18n.h"

typedef struct {
    gboolean auto_converge;
    guint throttle_initial;
    guint throttle_increment;
    guint throttle_max;
    double throttle_trigger;
    guint max_rounds;
    /* state */
    guint dirty_high_count;   /* rounds in a row over the trigger, since the last step */
    guint throttle;           /* current throttle, percent */
} FmPolicyQemu;

static const FmParamSpec fm_policy_qemu_params[] = {
    { "auto_converge", FM_PARAM_BOOL, 0, 0, 1,
      N_("qemu: throttle the guest when it dirties memory faster than it is sent") },
    { "throttle_initial", FM_PARAM_UINT, 20, 1, 99,
      N_("qemu: first throttle step, percent (QEMU: 20)") },
    { "throttle_increment", FM_PARAM_UINT, 10, 1, 99,
      N_("qemu: further throttle steps, percent (QEMU: 10)") },
    { "throttle_max", FM_PARAM_UINT, 99, 1, 99,
      N_("qemu: maximum throttle, percent (QEMU: 99)") },
    { "throttle_trigger", FM_PARAM_RATIO, 0.5, 0.01, 10,
      N_("qemu: throttle when dirtied bytes exceed this fraction of sent bytes (QEMU: 50%)") },
    { "max_rounds", FM_PARAM_UINT, 0, 0, 100000,
      N_("qemu: round cap, 0 = none (QEMU has none)") },
    { NULL, 0, 0, 0, 0, NULL }
};

/* Reads the knobs. */
static gboolean
fm_policy_qemu_start(FmPolicy *self, const FmParamSet *params, GError **error G_GNUC_UNUSED)
{
    FmPolicyQemu *priv = fm_policy_priv(self);
    const FmParamSpec *specs = fm_policy_qemu_params;

    priv->auto_converge = fm_param_set_get_named(params, specs, "auto_converge") != 0;
    priv->throttle_initial = fm_param_set_get_named(params, specs, "throttle_initial");
    priv->throttle_increment = fm_param_set_get_named(params, specs, "throttle_increment");
    priv->throttle_max = fm_param_set_get_named(params, specs, "throttle_max");
    priv->throttle_trigger = fm_param_set_get_named(params, specs, "throttle_trigger");
    priv->max_rounds = fm_param_set_get_named(params, specs, "max_rounds");
    return TRUE;
}

/* Sends every dirty page in address order; steps the throttle up when the guest
 * out-dirties the link (QEMU's mig_throttle_guest_down rule). */
static void
fm_policy_qemu_plan_round(FmPolicy *self, const FmRoundStats *stats,
                          FmFragTracker *tracker, FmPlan *plan)
{
    FmPolicyQemu *priv = fm_policy_priv(self);

    fm_policy_plan_all(tracker, plan);
    if (priv->auto_converge && stats->round > 0 &&
        (double)stats->dirty_last > priv->throttle_trigger * stats->sent_last &&
        ++priv->dirty_high_count >= 2) {
        priv->dirty_high_count = 0;
        if (priv->throttle == 0)
            priv->throttle = priv->throttle_initial;
        else
            priv->throttle = MIN(priv->throttle + priv->throttle_increment,
                                 priv->throttle_max);
    }
    plan->throttle = priv->throttle;
}

/* Returns STOP_AND_COPY once the pending pages fit in the downtime target. */
static FmDecision
fm_policy_qemu_should_stop(FmPolicy *self, const FmRoundStats *stats,
                           const FmFragTracker *tracker G_GNUC_UNUSED, FmStopReason *reason)
{
    FmPolicyQemu *priv = fm_policy_priv(self);

    if (fm_policy_send_seconds(stats, stats->pending) <= stats->max_downtime) {
        *reason = FM_STOP_DOWNTIME_TARGET;
        return FM_DECISION_STOP_AND_COPY;
    }
    if (fm_policy_cap_reached(stats, priv->max_rounds, 0, reason))
        return FM_DECISION_STOP_AND_COPY;
    return FM_DECISION_CONTINUE;
}

/* Returns TRUE with auto-converge on: the policy may throttle the guest. */
static gboolean
fm_policy_qemu_may_throttle(FmPolicy *self)
{
    FmPolicyQemu *priv = fm_policy_priv(self);

    return priv->auto_converge;
}

const FmPolicyOps fm_policy_qemu_ops = {
    .name = "qemu",
    .summary = N_("QEMU: until pending data fits the downtime target; optional auto-converge"),
    .params = fm_policy_qemu_params,
    .priv_size = sizeof(FmPolicyQemu),
    .start = fm_policy_qemu_start,
    .plan_round = fm_policy_qemu_plan_round,
    .should_stop = fm_policy_qemu_should_stop,
    .may_throttle = fm_policy_qemu_may_throttle,
};
