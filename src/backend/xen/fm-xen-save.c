/*
 * fm-xen-save.c: the live save of a Xen domain by the fragmig engine.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "backend/xen/fm-xen-save.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "backend/xen/fm-xen.h"
#include "engine/fm-params.h"
#include "engine/fm-policy.h"
#include "stream/fm-xen-sink.h"
#include "transport/fm-channel.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

struct _FmXenSave {
    FmBackend *backend;
    const FmPolicyOps *policy;
    FmParamSet *params;
    GMutex lock;               /* guards what other threads read or set below */
    FmJob *job;                /* while running */
    FmChannel *channel;        /* while running */
    guint64 bandwidth;
    gboolean cancelled;
    gboolean started;
    FmJobStats final_stats;    /* once the run ended */
    FmJobState final_state;
};

/* Returns a new save of @domid; see fm-xen-save.h. */
FmXenSave *
fm_xen_save_new(guint32 domid, gpointer libxl_ctx, GError **error)
{
    g_autoptr(FmBackend) backend = fm_xen_backend_new(domid, libxl_ctx, error);
    FmXenSave *self;

    if (backend == NULL)
        return NULL;
    self = g_new0(FmXenSave, 1);
    self->backend = g_steal_pointer(&backend);
    self->policy = fm_policy_lookup("fragment");
    self->params = fm_param_set_new();
    self->final_state = FM_JOB_SETUP;
    g_mutex_init(&self->lock);
    return self;
}

/* Frees @save; see fm-xen-save.h. */
void
fm_xen_save_free(FmXenSave *save)
{
    if (save == NULL)
        return;
    g_return_if_fail(save->job == NULL);
    fm_backend_free(save->backend);
    fm_param_set_free(save->params);
    g_mutex_clear(&save->lock);
    g_free(save);
}

/* Chooses the policy; see fm-xen-save.h. */
gboolean
fm_xen_save_set_policy(FmXenSave *save, const char *name, GError **error)
{
    const FmPolicyOps *ops = fm_policy_lookup(name);

    g_return_val_if_fail(save != NULL && !save->started, FALSE);
    if (ops == NULL) {
        g_autofree char *names = fm_policy_names();

        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("unknown policy '%s' (known: %s)"), name, names);
        return FALSE;
    }
    save->policy = ops;
    return TRUE;
}

/* Sets a knob; see fm-xen-save.h. */
gboolean
fm_xen_save_set_param(FmXenSave *save, const char *name, const char *value,
                      GError **error)
{
    g_autofree char *assignment = g_strdup_printf("%s=%s", name, value);

    g_return_val_if_fail(save != NULL && !save->started, FALSE);
    return fm_param_set_parse(save->params, assignment, error);
}

/* Limits the stream's bandwidth; see fm-xen-save.h. */
void
fm_xen_save_set_bandwidth(FmXenSave *save, guint64 bytes_per_second)
{
    g_mutex_lock(&save->lock);
    save->bandwidth = bytes_per_second;
    if (save->channel != NULL)
        fm_channel_set_bandwidth(save->channel, bytes_per_second);
    g_mutex_unlock(&save->lock);
}

/* Sets the downtime target; see fm-xen-save.h. */
void
fm_xen_save_set_max_downtime(FmXenSave *save, double seconds)
{
    g_autofree char *value = g_strdup_printf("%.6f", seconds);

    g_mutex_lock(&save->lock);
    if (save->job != NULL)
        fm_job_set_max_downtime(save->job, seconds);
    else if (!save->started)
        fm_param_set_set(save->params, "max_downtime", value);
    g_mutex_unlock(&save->lock);
}

/* Returns the run's statistics; see fm-xen-save.h. */
gboolean
fm_xen_save_get_stats(FmXenSave *save, FmJobStats *stats)
{
    gboolean ok = TRUE;

    g_mutex_lock(&save->lock);
    if (save->job != NULL)
        fm_job_copy_stats(save->job, stats);
    else if (save->started)
        *stats = save->final_stats;
    else {
        memset(stats, 0, sizeof(*stats));
        ok = FALSE;
    }
    g_mutex_unlock(&save->lock);
    return ok;
}

/* Returns the backend; see fm-xen-save.h. */
FmBackend *
fm_xen_save_get_backend(FmXenSave *save)
{
    return save->backend;
}

/* Returns the job's state; see fm-xen-save.h. */
FmJobState
fm_xen_save_get_state(FmXenSave *save)
{
    FmJobState state;

    g_mutex_lock(&save->lock);
    state = save->job != NULL ? fm_job_get_state(save->job) : save->final_state;
    g_mutex_unlock(&save->lock);
    return state;
}

/* Cancels the run; see fm-xen-save.h. */
void
fm_xen_save_cancel(FmXenSave *save)
{
    g_mutex_lock(&save->lock);
    save->cancelled = TRUE;
    if (save->job != NULL)
        fm_job_cancel(save->job);
    g_mutex_unlock(&save->lock);
}

/* Returns a new job of @self writing into @sink, or NULL with @error (bad knobs). */
static FmJob *
fm_xen_save_new_job(FmXenSave *self, FmSink *sink, GError **error)
{
    const FmParamSpec *tables[] = { fm_job_param_specs(), self->policy->params, NULL };
    FmPolicy *policy;

    if (!fm_param_set_check(self->params, tables, error))
        return NULL;
    policy = fm_policy_new(self->policy, self->params, error);
    if (policy == NULL)
        return NULL;
    return fm_job_new(self->backend, sink, policy, self->params, error);
}

/* Runs the engine into @channel; the job is visible to other threads meanwhile. */
static gboolean
fm_xen_save_run_job(FmXenSave *self, FmChannel *channel, GError **error)
{
    FmXenStreamInfo info;
    g_autoptr(FmSink) sink = NULL;
    FmJob *job;
    gboolean ok;

    fm_xen_backend_get_stream_info(self->backend, &info);
    sink = fm_xen_sink_new(channel, &info);
    job = fm_xen_save_new_job(self, sink, error);
    if (job == NULL)
        return FALSE;

    g_mutex_lock(&self->lock);
    self->job = job;
    self->channel = channel;
    fm_channel_set_bandwidth(channel, self->bandwidth);
    if (self->cancelled)
        fm_job_cancel(job);
    g_mutex_unlock(&self->lock);

    ok = fm_job_run(job, error);

    g_mutex_lock(&self->lock);
    fm_job_copy_stats(job, &self->final_stats);
    self->final_state = fm_job_get_state(job);
    self->job = NULL;
    self->channel = NULL;
    g_mutex_unlock(&self->lock);
    fm_job_free(job);
    return ok;
}

/* Runs the save into @fd; see fm-xen-save.h. */
gboolean
fm_xen_save_run(FmXenSave *save, int fd, GError **error)
{
    g_autoptr(FmChannel) channel = NULL;
    int flags, copy;
    gboolean ok;

    g_return_val_if_fail(save != NULL, FALSE);
    g_mutex_lock(&save->lock);
    if (save->started) {
        g_mutex_unlock(&save->lock);
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG, _("this save already ran"));
        return FALSE;
    }
    save->started = TRUE;
    g_mutex_unlock(&save->lock);

    /* The channel works on a copy of @fd, non-blocking: the file status flags are
     * shared with the caller's descriptor, so they are put back afterwards. */
    flags = fcntl(fd, F_GETFL);
    copy = flags < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("file descriptor %d cannot be used: %s"), fd, g_strerror(errno));
        return FALSE;
    }
    channel = fm_channel_new_from_fd(copy, error);
    if (channel == NULL) {
        close(copy);
        return FALSE;
    }
    ok = fm_xen_save_run_job(save, channel, error);
    g_clear_pointer(&channel, fm_channel_free);
    if (fcntl(fd, F_SETFL, flags) < 0)
        g_debug("restoring the flags of descriptor %d: %s", fd, g_strerror(errno));
    return ok;
}
