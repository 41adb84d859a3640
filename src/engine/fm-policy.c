/*
 * fm-policy.c: the policy table, dispatch and the helpers policies share.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "engine/fm-policy.h"
#include "engine/policies/fm-policies.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* Every policy, in the order they are listed to users. */
static const FmPolicyOps *const fm_policies[] = {
    &fm_policy_xen_ops,
    &fm_policy_xen_classic_ops,
    &fm_policy_qemu_ops,
    &fm_policy_fragment_ops,
    NULL
};

struct _FmPolicy {
    const FmPolicyOps *ops;
    gpointer priv;
};

FM_ENUM_IMPL(fm_decision, FmDecision, FM_DECISION_LAST,
             "continue", "stop-and-copy", "abort");

FM_ENUM_IMPL(fm_stop_reason, FmStopReason, FM_STOP_REASON_LAST,
             "", "downtime-target", "dirty-below-threshold", "only-hot-left",
             "no-progress", "downtime-slack", "xen-would-stop", "max-rounds", "max-data", "max-time", "busy", "cancelled",
             "error");

/* Returns TRUE for the reasons that mean the dirty set became small. */
gboolean
fm_stop_reason_converged(FmStopReason reason)
{
    return reason == FM_STOP_DOWNTIME_TARGET || reason == FM_STOP_DIRTY_BELOW_THRESHOLD ||
           reason == FM_STOP_DOWNTIME_SLACK;
}

/* Returns the static, NULL-terminated table of policies. */
const FmPolicyOps *const *
fm_policy_list(void)
{
    return fm_policies;
}

/* Returns the policy called @name, or NULL. */
const FmPolicyOps *
fm_policy_lookup(const char *name)
{
    g_return_val_if_fail(name != NULL, NULL);
    for (guint i = 0; fm_policies[i]; i++) {
        if (g_str_equal(fm_policies[i]->name, name))
            return fm_policies[i];
    }
    return NULL;
}

/* Returns the comma-separated names of all policies (caller frees). */
char *
fm_policy_names(void)
{
    GString *names = g_string_new(NULL);

    for (guint i = 0; fm_policies[i]; i++)
        g_string_append_printf(names, "%s%s", i ? ", " : "", fm_policies[i]->name);
    return g_string_free(names, FALSE);
}

/* Returns a new started policy (caller frees), or NULL with @error set. */
FmPolicy *
fm_policy_new(const FmPolicyOps *ops, const FmParamSet *params, GError **error)
{
    g_autoptr(FmPolicy) policy = NULL;

    g_return_val_if_fail(ops != NULL, NULL);

    policy = g_new0(FmPolicy, 1);
    policy->ops = ops;
    policy->priv = ops->priv_size ? g_malloc0(ops->priv_size) : NULL;
    if (!fm_param_set_check_own(params, ops->params, error))
        return NULL;
    if (!ops->start(policy, params, error))
        return NULL;
    return g_steal_pointer(&policy);
}

/* Frees @policy; NULL ok. */
void
fm_policy_free(FmPolicy *policy)
{
    if (policy == NULL)
        return;
    if (policy->ops->finalize && policy->priv)
        policy->ops->finalize(policy);
    g_free(policy->priv);
    g_free(policy);
}

/* Returns the policy's vtable. */
const FmPolicyOps *
fm_policy_ops(const FmPolicy *policy)
{
    return policy->ops;
}

/* Returns the policy's name (static). */
const char *
fm_policy_name(const FmPolicy *policy)
{
    return policy->ops->name;
}

/* Returns the policy's private state (owned by the policy). */
gpointer
fm_policy_priv(FmPolicy *policy)
{
    return policy->priv;
}

/* Empties @plan and lets the policy fill it. */
void
fm_policy_plan_round(FmPolicy *policy, const FmRoundStats *stats,
                     FmFragTracker *tracker, FmPlan *plan)
{
    g_array_set_size(plan->fragments, 0);
    plan->skip_redirtied = FALSE;
    plan->wait_until = 0;
    policy->ops->plan_round(policy, stats, tracker, plan);
}

/* Returns the policy's decision and, unless CONTINUE, its reason. */
FmDecision
fm_policy_should_stop(FmPolicy *policy, const FmRoundStats *stats,
                      const FmFragTracker *tracker, FmStopReason *reason)
{
    FmDecision decision;

    *reason = FM_STOP_NONE;
    decision = policy->ops->should_stop(policy, stats, tracker, reason);
    g_return_val_if_fail(decision == FM_DECISION_CONTINUE || *reason != FM_STOP_NONE, decision);
    return decision;
}

/* Returns whether the policy may throttle the guest; see fm-policy.h. */
gboolean
fm_policy_may_throttle(FmPolicy *policy)
{
    return policy->ops->may_throttle != NULL && policy->ops->may_throttle(policy);
}

/* Plans every fragment with pending pages, in address order. */
void
fm_policy_plan_all(const FmFragTracker *tracker, FmPlan *plan)
{
    guint n = fm_frag_tracker_count(tracker);

    for (guint32 i = 0; i < n; i++) {
        if (fm_frag_tracker_get(tracker, i)->pending)
            g_array_append_val(plan->fragments, i);
    }
}

/* Checks the safety caps; TRUE with *@reason set when one is reached. */
gboolean
fm_policy_cap_reached(const FmRoundStats *stats, guint max_rounds, double max_data,
                      FmStopReason *reason)
{
    if (max_rounds && stats->round >= max_rounds) {
        *reason = FM_STOP_MAX_ROUNDS;
        return TRUE;
    }
    if (max_data > 0 && stats->bytes_sent >= max_data * stats->page_count * stats->page_size) {
        *reason = FM_STOP_MAX_DATA;
        return TRUE;
    }
    if (stats->max_time > 0 && stats->elapsed >= stats->max_time) {
        *reason = FM_STOP_MAX_TIME;
        return TRUE;
    }
    return FALSE;
}

/* Returns the seconds needed to send @pages at the measured bandwidth. */
double
fm_policy_send_seconds(const FmRoundStats *stats, guint64 pages)
{
    if (stats->bandwidth <= 0)
        return G_MAXDOUBLE;
    return (double)pages * stats->page_size / stats->bandwidth;
}
