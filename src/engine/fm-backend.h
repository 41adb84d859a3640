/*
 * fm-backend.h: what the engine knows of a guest (docs/design.md section 2).
 *
 * A backend exposes a guest's memory and dirty log; the engine never touches guest
 * memory except through it.  Backends are vtables (FmBackendOps, in fm-backend-impl.h),
 * like libxenguest's save_ops: sim/ (virtual time), local/ (a real process), xen/.
 * The functions below dispatch and check arguments; each returns FALSE with @error set
 * on failure.  Times are in nanoseconds on the backend's own clock (virtual for sim,
 * CLOCK_MONOTONIC otherwise).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "util/fm-bitmap.h"

G_BEGIN_DECLS

typedef struct _FmBackend FmBackend;
typedef struct _FmSink FmSink;

/* Returns the backend's name ("sim", "local", "xen"). */
const char *fm_backend_name(const FmBackend *backend);
/* Returns the number of guest page frames. */
guint64 fm_backend_page_count(const FmBackend *backend);
/* Returns the page size in bytes. */
gsize fm_backend_page_size(const FmBackend *backend);

gboolean fm_backend_log_dirty_enable(FmBackend *backend, GError **error);
gboolean fm_backend_log_dirty_disable(FmBackend *backend, GError **error);

/* ORs the pages of [@first, @first + @count) written since the last clearing harvest
 * into @dirty (sized page_count); with @clear, also re-arms tracking for them (the
 * get-and-clear of Xen's CLEAN / PAGEMAP_SCAN with WP_MATCHING); without it, only peeks.
 * Backends that cannot harvest a range may harvest more than asked (never less). */
gboolean fm_backend_harvest(FmBackend *backend, FmBitmap *dirty, guint64 first,
                            guint64 count, gboolean clear, GError **error);
/* Returns TRUE if harvesting a sub-range costs less than harvesting everything. */
gboolean fm_backend_can_harvest_range(const FmBackend *backend);

/* Copies the @n pages @pfns (each < page_count) into @buf (@n * page_size bytes). */
gboolean fm_backend_read_pages(FmBackend *backend, const guint64 *pfns, gsize n,
                               guint8 *buf, GError **error);

/* Stops / restarts the guest's vCPUs (or mutators). */
gboolean fm_backend_pause(FmBackend *backend, GError **error);
gboolean fm_backend_resume(FmBackend *backend, GError **error);

/* Writes the guest's non-memory state (CPU, devices, a digest of memory where the
 * backend can take one) to @sink; called with the guest paused, after the last pages. */
gboolean fm_backend_save_state(FmBackend *backend, FmSink *sink, GError **error);

/* Slows the guest to (100 - @percent) % of its speed (auto-converge); 0 = full speed.
 * Fails with FM_ERROR_UNSUPPORTED where the backend cannot throttle. */
gboolean fm_backend_set_throttle(FmBackend *backend, guint percent, GError **error);
/* Returns the fraction of guest work lost to throttling since log_dirty_enable, in
 * [0, 1]; 0 where the backend does not measure it. */
double fm_backend_guest_slowdown(FmBackend *backend);

/* Returns the backend's clock in nanoseconds. */
gint64 fm_backend_now(FmBackend *backend);
/* Lets @seconds (>= 0) pass on the backend clock with the guest running: a policy
 * that waits for a load to change (a simulator advances its clock). */
void fm_backend_wait(FmBackend *backend, double seconds);

/* Destroys the backend (not the guest behind it, unless the backend owns it); NULL ok. */
void fm_backend_free(FmBackend *backend);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmBackend, fm_backend_free)

G_END_DECLS
