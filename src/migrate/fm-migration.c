/*
 * fm-migration.c: one migration, assembled and controlled (see fm-migration.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "migrate/fm-migration.h"

#include <string.h>

#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"

typedef struct {
    guint mask;
    FmJobEventFunc func;
    gpointer data;
} FmMigrationSubscriber;

struct _FmMigration {
    /* set-up: the caller's thread, before the run */
    const FmPolicyOps *policy;
    FmParamSet *params;
    GArray *subscribers;       /* FmMigrationSubscriber */
    gboolean shared_params;    /* params may hold other policies' knobs */

    gint started;              /* atomic: fm_migration_run() was called */
    gint cancelled;            /* atomic: fm_migration_cancel() was called */
    gpointer job;              /* atomic FmJob *: set once, under lock, by the run;
                                * freed with the migration, so that a cancel or a
                                * monitor never reads a freed job */

    GMutex lock;               /* guards the controls below and the job's publication */
    guint64 bandwidth;         /* bytes per second, 0 = unlimited */
    gboolean bandwidth_changed;   /* not yet set on the channel */
    double max_downtime;
    gboolean max_downtime_set;

    FmChannel *channel;        /* the job's thread only, during the run */
};

/* Returns a new migration with the defaults (caller frees). */
FmMigration *
fm_migration_new(void)
{
    FmMigration *mig = g_new0(FmMigration, 1);

    mig->policy = fm_policy_lookup("fragment");
    mig->params = fm_param_set_new();
    mig->subscribers = g_array_new(FALSE, FALSE, sizeof(FmMigrationSubscriber));
    g_mutex_init(&mig->lock);
    return mig;
}

/* Frees @mig and its job; NULL ok. */
void
fm_migration_free(FmMigration *mig)
{
    if (mig == NULL)
        return;
    fm_job_free(mig->job);
    fm_param_set_free(mig->params);
    g_array_unref(mig->subscribers);
    g_mutex_clear(&mig->lock);
    g_free(mig);
}

/* Chooses the policy by name; FALSE with @error if unknown. */
gboolean
fm_migration_set_policy(FmMigration *mig, const char *name, GError **error)
{
    const FmPolicyOps *ops = fm_policy_lookup(name);

    g_return_val_if_fail(!fm_migration_started(mig), FALSE);
    if (ops == NULL) {
        g_autofree char *names = fm_policy_names();
        g_autofree char *quoted = fm_quote(name, -1);

        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("unknown policy %s (known: %s)"), quoted, names);
        return FALSE;
    }
    mig->policy = ops;
    return TRUE;
}

/* Chooses the policy by its vtable. */
void
fm_migration_set_policy_ops(FmMigration *mig, const FmPolicyOps *ops)
{
    g_return_if_fail(ops != NULL && !fm_migration_started(mig));
    mig->policy = ops;
}

/* Returns the policy's vtable (static). */
const FmPolicyOps *
fm_migration_get_policy_ops(const FmMigration *mig)
{
    return mig->policy;
}

/* Sets one knob; FALSE with @error on bad syntax. */
gboolean
fm_migration_set_param(FmMigration *mig, const char *name, const char *value,
                       GError **error)
{
    g_autofree char *assignment = g_strdup_printf("%s=%s", name, value);

    g_return_val_if_fail(!fm_migration_started(mig), FALSE);
    return fm_param_set_parse(mig->params, assignment, error);
}

/* Sets every knob of @params. */
void
fm_migration_set_params(FmMigration *mig, const FmParamSet *params)
{
    g_return_if_fail(!fm_migration_started(mig));
    for (guint i = 0; params && i < fm_param_set_length(params); i++) {
        const char *name, *value;

        fm_param_set_nth(params, i, &name, &value);
        fm_param_set_set(mig->params, name, value);
    }
}

/* Sets every knob of @params, which may hold other policies' knobs. */
void
fm_migration_set_shared_params(FmMigration *mig, const FmParamSet *params)
{
    fm_migration_set_params(mig, params);
    mig->shared_params = TRUE;
}

/* Queues a subscription to the job's events. */
void
fm_migration_subscribe(FmMigration *mig, guint mask, FmJobEventFunc func, gpointer data)
{
    FmMigrationSubscriber sub = { mask, func, data };

    g_return_if_fail(func != NULL && !fm_migration_started(mig));
    g_array_append_val(mig->subscribers, sub);
}

/* Returns the engine's and @policies' (or every policy's) knob tables. */
const FmParamSpec **
fm_migration_param_tables(const FmPolicyOps *const *policies)
{
    GPtrArray *tables = g_ptr_array_new();

    if (policies == NULL)
        policies = fm_policy_list();
    g_ptr_array_add(tables, (gpointer)fm_job_param_specs());
    for (guint i = 0; policies[i]; i++)
        g_ptr_array_add(tables, (gpointer)policies[i]->params);
    g_ptr_array_add(tables, NULL);
    return (const FmParamSpec **)g_ptr_array_free(tables, FALSE);
}

/* Sets a bandwidth asked for since the last call on the channel; the job's thread. */
static void
fm_migration_apply_bandwidth(FmMigration *mig)
{
    gboolean changed;
    guint64 bandwidth;

    g_mutex_lock(&mig->lock);
    changed = mig->bandwidth_changed;
    bandwidth = mig->bandwidth;
    mig->bandwidth_changed = FALSE;
    g_mutex_unlock(&mig->lock);
    if (changed && mig->channel != NULL) {
        g_debug("migration: bandwidth limit %" G_GUINT64_FORMAT " bytes/s", bandwidth);
        fm_channel_set_bandwidth(mig->channel, bandwidth);
    }
}

/* FmJobEventFunc, subscribed last: the controls other threads asked for reach the
 * job's thread here, between batches. */
static void
fm_migration_on_event(FmJob *job G_GNUC_UNUSED, const FmJobEvent *event G_GNUC_UNUSED,
                      gpointer data)
{
    fm_migration_apply_bandwidth(data);
}

/* Returns a new job of @mig over @backend and @sink, its subscribers in place, or
 * NULL with @error (bad knobs). */
static FmJob *
fm_migration_new_job(FmMigration *mig, FmBackend *backend, FmSink *sink, GError **error)
{
    const FmPolicyOps *const mine[] = { mig->policy, NULL };
    g_autofree const FmParamSpec **tables =
        fm_migration_param_tables(mig->shared_params ? NULL : mine);
    FmPolicy *policy;
    FmJob *job;

    if (!fm_param_set_check(mig->params, tables, error))
        return NULL;
    policy = fm_policy_new(mig->policy, mig->params, error);
    if (policy == NULL)
        return NULL;
    job = fm_job_new(backend, sink, policy, mig->params, error);
    if (job == NULL)
        return NULL;
    for (guint i = 0; i < mig->subscribers->len; i++) {
        const FmMigrationSubscriber *sub =
            &g_array_index(mig->subscribers, FmMigrationSubscriber, i);

        fm_job_subscribe(job, sub->mask, sub->func, sub->data);
    }
    fm_job_subscribe(job, FM_JOB_EVENTS_ALL, fm_migration_on_event, mig);
    return job;
}

/* Runs the migration; see fm-migration.h. */
gboolean
fm_migration_run(FmMigration *mig, FmBackend *backend, FmSink *sink, FmChannel *channel,
                 GError **error)
{
    FmJob *job;
    gboolean ok;

    g_return_val_if_fail(backend != NULL && sink != NULL, FALSE);
    if (!g_atomic_int_compare_and_exchange(&mig->started, 0, 1)) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG, _("this migration already ran"));
        return FALSE;
    }
    job = fm_migration_new_job(mig, backend, sink, error);
    if (job == NULL)
        return FALSE;

    mig->channel = channel;
    g_mutex_lock(&mig->lock);
    if (mig->max_downtime_set)
        fm_job_set_max_downtime(job, mig->max_downtime);
    mig->bandwidth_changed = TRUE;   /* the channel gets the limit asked for, or none */
    g_atomic_pointer_set(&mig->job, job);
    g_mutex_unlock(&mig->lock);
    /* after the job is visible: a cancel either sees it or is seen here */
    if (g_atomic_int_get(&mig->cancelled))
        fm_job_cancel(job);
    fm_migration_apply_bandwidth(mig);

    ok = fm_job_run(job, error);
    mig->channel = NULL;
    return ok;
}

/* Asks the migration to stop; async-signal-safe (atomics only). */
void
fm_migration_cancel(FmMigration *mig)
{
    FmJob *job;

    g_atomic_int_set(&mig->cancelled, 1);
    job = g_atomic_pointer_get(&mig->job);
    if (job != NULL)
        fm_job_cancel(job);
}

/* Returns TRUE once cancelled; async-signal-safe. */
gboolean
fm_migration_is_cancelled(FmMigration *mig)
{
    return g_atomic_int_get(&mig->cancelled) != 0;
}

/* Asks for a bandwidth limit; the job's thread sets it on the channel. */
void
fm_migration_set_bandwidth(FmMigration *mig, guint64 bytes_per_second)
{
    g_mutex_lock(&mig->lock);
    mig->bandwidth = bytes_per_second;
    mig->bandwidth_changed = TRUE;
    g_mutex_unlock(&mig->lock);
}

/* Returns the bandwidth limit last asked for. */
guint64
fm_migration_get_bandwidth(FmMigration *mig)
{
    guint64 bandwidth;

    g_mutex_lock(&mig->lock);
    bandwidth = mig->bandwidth;
    g_mutex_unlock(&mig->lock);
    return bandwidth;
}

/* Sets the downtime target, now or when the job is built. */
void
fm_migration_set_max_downtime(FmMigration *mig, double seconds)
{
    FmJob *job;

    g_return_if_fail(seconds >= 0 && seconds <= 3600);
    g_mutex_lock(&mig->lock);
    mig->max_downtime = seconds;
    mig->max_downtime_set = TRUE;
    job = g_atomic_pointer_get(&mig->job);
    if (job != NULL)
        fm_job_set_max_downtime(job, seconds);
    g_mutex_unlock(&mig->lock);
}

/* Returns the job's state, SETUP before it exists. */
FmJobState
fm_migration_get_state(FmMigration *mig)
{
    FmJob *job = g_atomic_pointer_get(&mig->job);

    return job != NULL ? fm_job_get_state(job) : FM_JOB_SETUP;
}

/* Copies the published statistics; FALSE (zeroed) before the job exists. */
gboolean
fm_migration_copy_stats(FmMigration *mig, FmJobStats *stats)
{
    FmJob *job = g_atomic_pointer_get(&mig->job);

    if (job == NULL) {
        memset(stats, 0, sizeof(*stats));
        return FALSE;
    }
    fm_job_copy_stats(job, stats);
    return TRUE;
}

/* Returns TRUE once the run was called. */
gboolean
fm_migration_started(FmMigration *mig)
{
    return g_atomic_int_get(&mig->started) != 0;
}

/* Returns the job (borrowed), NULL before the run. */
FmJob *
fm_migration_get_job(FmMigration *mig)
{
    return g_atomic_pointer_get(&mig->job);
}
