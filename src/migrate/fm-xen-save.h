/*
 * fm-xen-save.h: the live save of a Xen domain into a libxl migration stream v2
 * by the fragmig engine: what libxl_domain_suspend(..., LIBXL_SUSPEND_LIVE) does,
 * with the pre-copy rounds chosen by a policy (docs/design.md sections 4 and 5).  A
 * driver above the engine: the Xen backend and the Xen stream's sink run by an
 * FmMigration (fm-migration.h), which owns the cancel and the controls.
 *
 * The stream written is the one a stock Xen 4.17 restores: `xl migrate-receive`
 * and `xl restore` (behind their own headers, see fm-xl-format.h) and libvirt's
 * libxl driver (src/libvirt/patches), which calls this API on its migration
 * socket inside its migration job.
 *
 * Threads: fm_xen_save_run() blocks in the calling thread.  fm_xen_save_cancel(),
 * fm_xen_save_get_stats(), fm_xen_save_set_bandwidth() and
 * fm_xen_save_set_max_downtime() may be called from any other thread while it
 * runs (libvirt's domjobabort, domjobinfo, migrate-setspeed,
 * migrate-setmaxdowntime); fm_xen_save_cancel() also from a signal handler.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "engine/fm-backend.h"
#include "engine/fm-job.h"
#include "migrate/fm-migration.h"

G_BEGIN_DECLS

typedef struct _FmXenSave FmXenSave;

/* Returns a new save of domain @domid, or NULL with @error: no such domain
 * (FM_ERROR_INVALID_ARG), a PV guest or an HVM guest whose device model is not
 * upstream QEMU in dom0 (FM_ERROR_UNSUPPORTED), no access to Xen (FM_ERROR_IO).  @libxl_ctx is a
 * `libxl_ctx *` the caller owns and keeps for the life of the save (libvirt's
 * driver passes its own), or NULL: the save opens and closes its own. */
FmXenSave *fm_xen_save_new(guint32 domid, gpointer libxl_ctx, GError **error);
/* Frees @save (not the domain, not the caller's libxl_ctx); NULL ok.  Not while
 * fm_xen_save_run() runs. */
void fm_xen_save_free(FmXenSave *save);

/* Chooses the policy by name (fm_policy_lookup(); default "fragment").  Before
 * run.  FM_ERROR_INVALID_ARG for an unknown name. */
gboolean fm_xen_save_set_policy(FmXenSave *save, const char *name, GError **error);
/* Sets an engine or policy knob by its name and value as `fragmig policies`
 * lists them ("fragment_size", "512"; "max_rounds", "30").  Before run; the set
 * is checked against the engine's and the policy's tables when the run starts
 * (and here for the name and value syntax).  FM_ERROR_INVALID_ARG if bad. */
gboolean fm_xen_save_set_param(FmXenSave *save, const char *name, const char *value,
                               GError **error);
/* Limits the stream to @bytes_per_second (0 = unlimited).  Any time; the job's
 * thread sets it on the stream's channel after the batch it is sending. */
void fm_xen_save_set_bandwidth(FmXenSave *save, guint64 bytes_per_second);
/* Sets the downtime target in seconds (engine knob max_downtime).  Any time;
 * takes effect at the next round's decision. */
void fm_xen_save_set_max_downtime(FmXenSave *save, double seconds);

/* Runs the save, writing the stream to @fd (borrowed: left open, not closed).
 * Returns TRUE once the whole stream is written: the domain is then suspended,
 * and the caller destroys it (migration done) or resumes it with
 * libxl_domain_resume(ctx, domid, 1, NULL) (the destination failed), as after
 * libxl_domain_suspend().  Returns FALSE with @error on failure or cancel
 * (FM_ERROR_CANCELLED): the domain then runs again on this host and log-dirty
 * mode is off.  Once per save. */
gboolean fm_xen_save_run(FmXenSave *save, int fd, GError **error);
/* Asks a running save to stop (it then fails with FM_ERROR_CANCELLED and the
 * guest resumes); before run, makes run fail at once, before the domain or the
 * descriptor is touched.  Any thread; async-signal-safe. */
void fm_xen_save_cancel(FmXenSave *save);
/* Copies the statistics of the run so far into @stats and returns TRUE; FALSE
 * (and @stats zeroed) before the run started.  Any thread. */
gboolean fm_xen_save_get_stats(FmXenSave *save, FmJobStats *stats);
/* Returns the xen backend of the save (borrowed), for what comes after the run:
 * fm_backend_resume(), fm_xen_backend_destroy_domain()... (fm-xen.h). */
FmBackend *fm_xen_save_get_backend(FmXenSave *save);
/* Returns the job's state (FM_JOB_SETUP before the run).  Any thread. */
FmJobState fm_xen_save_get_state(FmXenSave *save);
/* Returns the migration that runs the save (borrowed), for what FmMigration adds:
 * subscribing to the job's events before the run, the job's rounds after it. */
FmMigration *fm_xen_save_get_migration(FmXenSave *save);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmXenSave, fm_xen_save_free)

G_END_DECLS
