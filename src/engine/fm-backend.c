/*
 * fm-backend.c: dispatch of the FmBackend vtable, with argument checks.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "engine/fm-backend-impl.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* Returns the backend's name (static). */
const char *
fm_backend_name(const FmBackend *backend)
{
    g_return_val_if_fail(backend != NULL, NULL);
    return backend->ops->name;
}

/* Returns the number of guest page frames. */
guint64
fm_backend_page_count(const FmBackend *backend)
{
    g_return_val_if_fail(backend != NULL, 0);
    return backend->ops->page_count((FmBackend *)backend);
}

/* Returns the page size in bytes. */
gsize
fm_backend_page_size(const FmBackend *backend)
{
    g_return_val_if_fail(backend != NULL, 0);
    return backend->ops->page_size((FmBackend *)backend);
}

/* Turns dirty logging on; FALSE with @error on failure. */
gboolean
fm_backend_log_dirty_enable(FmBackend *backend, GError **error)
{
    g_return_val_if_fail(backend != NULL, FALSE);
    return backend->ops->log_dirty_enable(backend, error);
}

/* Turns dirty logging off; FALSE with @error on failure. */
gboolean
fm_backend_log_dirty_disable(FmBackend *backend, GError **error)
{
    g_return_val_if_fail(backend != NULL, FALSE);
    return backend->ops->log_dirty_disable(backend, error);
}

/* ORs the dirty pages of a range into @dirty; see fm-backend.h. */
gboolean
fm_backend_harvest(FmBackend *backend, FmBitmap *dirty, guint64 first, guint64 count,
                   gboolean clear, GError **error)
{
    g_return_val_if_fail(backend != NULL && dirty != NULL, FALSE);
    g_return_val_if_fail(fm_bitmap_size(dirty) == fm_backend_page_count(backend), FALSE);
    g_return_val_if_fail(first <= fm_bitmap_size(dirty) &&
                         count <= fm_bitmap_size(dirty) - first, FALSE);
    if (count == 0)
        return TRUE;
    return backend->ops->harvest(backend, dirty, first, count, clear, error);
}

/* Returns TRUE if a range harvest is cheaper than a whole one. */
gboolean
fm_backend_can_harvest_range(const FmBackend *backend)
{
    g_return_val_if_fail(backend != NULL, FALSE);
    return backend->ops->can_harvest_range;
}

/* Copies @n pages into @buf; see fm-backend.h. */
gboolean
fm_backend_read_pages(FmBackend *backend, const guint64 *pfns, gsize n, guint8 *buf,
                      GError **error)
{
    g_return_val_if_fail(backend != NULL, FALSE);
    g_return_val_if_fail(n == 0 || (pfns != NULL && buf != NULL), FALSE);
    if (n == 0)
        return TRUE;
    return backend->ops->read_pages(backend, pfns, n, buf, error);
}

/* Stops the guest. */
gboolean
fm_backend_pause(FmBackend *backend, GError **error)
{
    g_return_val_if_fail(backend != NULL, FALSE);
    return backend->ops->pause(backend, error);
}

/* Restarts the guest. */
gboolean
fm_backend_resume(FmBackend *backend, GError **error)
{
    g_return_val_if_fail(backend != NULL, FALSE);
    return backend->ops->resume(backend, error);
}

/* Writes the guest's non-memory state into @sink. */
gboolean
fm_backend_save_state(FmBackend *backend, FmSink *sink, GError **error)
{
    g_return_val_if_fail(backend != NULL && sink != NULL, FALSE);
    return backend->ops->save_state(backend, sink, error);
}

/* Throttles the guest; FM_ERROR_UNSUPPORTED where the backend cannot. */
gboolean
fm_backend_set_throttle(FmBackend *backend, guint percent, GError **error)
{
    g_return_val_if_fail(backend != NULL, FALSE);
    g_return_val_if_fail(percent <= 100, FALSE);
    if (backend->ops->set_throttle == NULL) {
        if (percent == 0)
            return TRUE;
        g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                    _("the %s backend cannot throttle its guest (auto-converge)"),
                    backend->ops->name);
        return FALSE;
    }
    return backend->ops->set_throttle(backend, percent, error);
}

/* Returns the fraction of guest work lost to throttling, 0 if not measured. */
double
fm_backend_guest_slowdown(FmBackend *backend)
{
    g_return_val_if_fail(backend != NULL, 0);
    return backend->ops->guest_slowdown ? backend->ops->guest_slowdown(backend) : 0;
}

/* Returns the backend clock in nanoseconds. */
gint64
fm_backend_now(FmBackend *backend)
{
    g_return_val_if_fail(backend != NULL, 0);
    return backend->ops->now(backend);
}

/* Destroys the backend; NULL ok. */
void
fm_backend_free(FmBackend *backend)
{
    if (backend != NULL)
        backend->ops->free(backend);
}

/* Waits @seconds on the backend's clock: its own hook, or a real sleep. */
void
fm_backend_wait(FmBackend *backend, double seconds)
{
    g_return_if_fail(backend != NULL);
    if (!(seconds > 0))
        return;
    if (backend->ops->wait)
        backend->ops->wait(backend, seconds);
    else
        g_usleep((gulong)MIN(seconds * 1e6, (double)G_MAXULONG));
}
