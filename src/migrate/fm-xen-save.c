/*
 * fm-xen-save.c: the live save of a Xen domain by the fragmig engine: the Xen
 * backend and sink, run by an FmMigration.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "migrate/fm-xen-save.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "backend/xen/fm-xen.h"
#include "stream/fm-xen-sink.h"
#include "transport/fm-channel.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

struct _FmXenSave {
    FmBackend *backend;
    FmMigration *migration;    /* owns the cancel, the controls and the job */
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
    self->migration = fm_migration_new();
    return self;
}

/* Frees @save; see fm-xen-save.h. */
void
fm_xen_save_free(FmXenSave *save)
{
    if (save == NULL)
        return;
    fm_migration_free(save->migration);
    fm_backend_free(save->backend);
    g_free(save);
}

/* Chooses the policy; see fm-xen-save.h. */
gboolean
fm_xen_save_set_policy(FmXenSave *save, const char *name, GError **error)
{
    g_return_val_if_fail(save != NULL, FALSE);
    return fm_migration_set_policy(save->migration, name, error);
}

/* Sets a knob; see fm-xen-save.h. */
gboolean
fm_xen_save_set_param(FmXenSave *save, const char *name, const char *value,
                      GError **error)
{
    g_return_val_if_fail(save != NULL, FALSE);
    return fm_migration_set_param(save->migration, name, value, error);
}

/* Limits the stream's bandwidth; see fm-xen-save.h. */
void
fm_xen_save_set_bandwidth(FmXenSave *save, guint64 bytes_per_second)
{
    fm_migration_set_bandwidth(save->migration, bytes_per_second);
}

/* Sets the downtime target; see fm-xen-save.h. */
void
fm_xen_save_set_max_downtime(FmXenSave *save, double seconds)
{
    fm_migration_set_max_downtime(save->migration, seconds);
}

/* Returns the run's statistics; see fm-xen-save.h. */
gboolean
fm_xen_save_get_stats(FmXenSave *save, FmJobStats *stats)
{
    return fm_migration_copy_stats(save->migration, stats);
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
    return fm_migration_get_state(save->migration);
}

/* Returns the migration; see fm-xen-save.h. */
FmMigration *
fm_xen_save_get_migration(FmXenSave *save)
{
    return save->migration;
}

/* Cancels the run; see fm-xen-save.h. */
void
fm_xen_save_cancel(FmXenSave *save)
{
    fm_migration_cancel(save->migration);
}

/* Runs the save into @fd; see fm-xen-save.h. */
gboolean
fm_xen_save_run(FmXenSave *save, int fd, GError **error)
{
    g_autoptr(FmChannel) channel = NULL;
    g_autoptr(FmSink) sink = NULL;
    FmXenStreamInfo info;
    int flags, copy;
    gboolean ok;

    g_return_val_if_fail(save != NULL, FALSE);
    if (fm_migration_started(save->migration)) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG, _("this save already ran"));
        return FALSE;
    }

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
    fm_xen_backend_get_stream_info(save->backend, &info);
    sink = fm_xen_sink_new(channel, &info);
    ok = fm_migration_run(save->migration, save->backend, sink, channel, error);
    g_clear_pointer(&sink, fm_sink_free);
    g_clear_pointer(&channel, fm_channel_free);
    if (fcntl(fd, F_SETFL, flags) < 0)
        g_debug("restoring the flags of descriptor %d: %s", fd, g_strerror(errno));
    return ok;
}
