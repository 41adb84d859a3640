/*
 * fm-migration.h: one migration, assembled and controlled: the driver above the
 * engine that every way of running one uses (`fragmig migrate` and `demo`, `fragmig
 * migrate --xen` and `save --xen` and libvirt's libxl driver through FmXenSave,
 * `fragmig simulate`, and advise's simulated candidates).
 *
 * An FmMigration holds what a job is made of before it exists: the policy (default
 * "fragment"), the engine and policy knobs, the subscribers to the job's events, the
 * bandwidth limit and the downtime target.  fm_migration_run() checks the knobs
 * against the engine's and the policy's tables, builds the FmJob over a backend and
 * a sink (both borrowed) and runs it in the calling thread, "the job's thread".
 *
 * Control from other threads, at any time (before, during or after the run):
 *  - fm_migration_cancel() is async-signal-safe: it only stores to atomics, so a
 *    signal handler or a signal thread may call it.  A cancel before the run makes
 *    the run fail at once, before the guest is touched;
 *  - fm_migration_set_bandwidth() and fm_migration_set_max_downtime() take the
 *    migration's lock; the job's thread picks a new bandwidth up at its next event
 *    (after the batch being sent, at most batch_pages pages later) and sets it on the
 *    channel itself, which is never touched from another thread (fm-channel.h); the
 *    downtime target goes to the job under the job's lock and counts from the next
 *    decision;
 *  - fm_migration_get_state() and fm_migration_copy_stats() read the job's state and
 *    the statistics it published at its last event.
 * fm_migration_free() must not race with any of them: the caller ends the users of
 * the migration first.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "engine/fm-backend.h"
#include "engine/fm-job.h"
#include "engine/fm-params.h"
#include "engine/fm-policy.h"
#include "engine/fm-sink.h"
#include "transport/fm-channel.h"

G_BEGIN_DECLS

typedef struct _FmMigration FmMigration;

/* Returns a new migration: policy "fragment", no knobs, no bandwidth limit. */
FmMigration *fm_migration_new(void);
/* Frees @mig and its job; NULL ok.  Not while it runs, nor with other threads
 * still calling it. */
void fm_migration_free(FmMigration *mig);

/* ---- set-up, before fm_migration_run() ---- */

/* Chooses the policy by name (fm_policy_lookup()).  FALSE with FM_ERROR_INVALID_ARG
 * naming the known ones for an unknown name. */
gboolean fm_migration_set_policy(FmMigration *mig, const char *name, GError **error);
/* Chooses the policy by its vtable (static). */
void fm_migration_set_policy_ops(FmMigration *mig, const FmPolicyOps *ops);
/* Returns the policy's vtable (static). */
const FmPolicyOps *fm_migration_get_policy_ops(const FmMigration *mig);
/* Sets one knob ("fragment_size", "512"); the syntax is checked here, the name and
 * value against the tables when the run starts.  FALSE with @error if bad. */
gboolean fm_migration_set_param(FmMigration *mig, const char *name, const char *value,
                                GError **error);
/* Sets every knob of @params (copied), after those set before.  The run checks
 * them against the engine's and the policy's tables: another policy's knob is an
 * error. */
void fm_migration_set_params(FmMigration *mig, const FmParamSet *params);
/* The same for a set shared by the migrations of several policies (simulate,
 * advise's candidates): the run checks the names against every policy's table, and
 * this policy ignores the others' knobs. */
void fm_migration_set_shared_params(FmMigration *mig, const FmParamSet *params);
/* Subscribes @func to the job's events in @mask (fm_job_subscribe()) once the job
 * exists; subscribers are called in this order, before the migration's own. */
void fm_migration_subscribe(FmMigration *mig, guint mask, FmJobEventFunc func,
                            gpointer data);

/* Returns the knob tables of the engine and of @policies (NULL-terminated; NULL:
 * every policy), NULL-terminated (caller frees the array, not the tables). */
const FmParamSpec **fm_migration_param_tables(const FmPolicyOps *const *policies);

/* ---- the run ---- */

/* Runs the migration of @backend's guest into @sink (both borrowed, kept alive by
 * the caller for the run).  @channel (borrowed, may be NULL) is the channel under
 * @sink whose rate fm_migration_set_bandwidth() sets; it is only touched in this
 * thread.  Returns TRUE when the job COMPLETED; otherwise FALSE with @error (bad
 * knobs: FM_ERROR_INVALID_ARG before anything started; cancelled:
 * FM_ERROR_CANCELLED) and the source guest running.  Once per migration. */
gboolean fm_migration_run(FmMigration *mig, FmBackend *backend, FmSink *sink,
                          FmChannel *channel, GError **error);

/* ---- control and monitoring, any thread ---- */

/* Asks the migration to stop: a running job fails with FM_ERROR_CANCELLED and the
 * guest runs on; a run not started yet fails at once.  Async-signal-safe. */
void fm_migration_cancel(FmMigration *mig);
/* Returns TRUE once fm_migration_cancel() was called.  Async-signal-safe. */
gboolean fm_migration_is_cancelled(FmMigration *mig);
/* Limits the stream to @bytes_per_second (0 = unlimited). */
void fm_migration_set_bandwidth(FmMigration *mig, guint64 bytes_per_second);
/* Returns the bandwidth limit last asked for (0 = unlimited). */
guint64 fm_migration_get_bandwidth(FmMigration *mig);
/* Sets the downtime target, in seconds (0 to 3600): the max_downtime knob before
 * the run, fm_job_set_max_downtime() during it. */
void fm_migration_set_max_downtime(FmMigration *mig, double seconds);
/* Returns the job's state: FM_JOB_SETUP before the run. */
FmJobState fm_migration_get_state(FmMigration *mig);
/* Copies the statistics as of the job's last event into @stats and returns TRUE;
 * FALSE with @stats zeroed before the job exists. */
gboolean fm_migration_copy_stats(FmMigration *mig, FmJobStats *stats);
/* Returns TRUE once fm_migration_run() was called. */
gboolean fm_migration_started(FmMigration *mig);

/* Returns the job (borrowed; NULL before the run, kept after it for its rounds and
 * statistics).  Its getters are for the job's thread, or after the run. */
FmJob *fm_migration_get_job(FmMigration *mig);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmMigration, fm_migration_free)

G_END_DECLS
