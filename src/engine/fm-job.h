/*
 * fm-job.h: one live migration (docs/design.md section 2).
 *
 * States: SETUP -> PRECOPY -> STOP_AND_COPY -> COMPLETED, or CANCELLED / FAILED from
 * any state before COMPLETED.  One function, fm_job_set_state() (private), changes the
 * state, and logs each change with its reason.  On FAILED or CANCELLED the guest is
 * resumed on the source and log-dirty turned off: a failed migration loses nothing.
 *
 * The job borrows the backend and the sink (the caller keeps them alive for the run)
 * and owns its policy.  fm_job_run() runs the whole migration in the calling thread;
 * fm_job_cancel() may be called from any thread or a signal-safe context (it only sets
 * an atomic flag that the engine checks between batches).
 *
 * Events: the job tells what happens through one table of typed events (FmJobEvent:
 * state change, round decision, harvest, batch sent), to the functions subscribed
 * with fm_job_subscribe(): the progress display, run records and traces, the
 * migration driver's controls (src/migrate/) all listen there.
 *
 * Threads: fm_job_run() and the subscribers run in the job's thread, which alone
 * writes the statistics.  Before each event it publishes a copy of them under a
 * mutex; fm_job_copy_stats() reads that copy, so that a monitor (libvirt's
 * domjobinfo, reports, advise) gets a consistent snapshot from any thread.
 * fm_job_set_max_downtime() may also be called from any thread while the job runs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "util/fm-enum.h"
#include "engine/fm-backend.h"
#include "engine/fm-sink.h"
#include "engine/fm-policy.h"
#include "engine/fm-params.h"

G_BEGIN_DECLS

typedef enum {
    FM_JOB_SETUP,
    FM_JOB_PRECOPY,
    FM_JOB_STOP_AND_COPY,
    FM_JOB_COMPLETED,
    FM_JOB_CANCELLED,
    FM_JOB_FAILED,
    FM_JOB_STATE_LAST
} FmJobState;

/* Names of states ("stop-and-copy"): libvirt's fragmented.state. */
FM_ENUM_DECL(fm_job_state, FmJobState);

/* Statistics; names follow libvirt's job statistics (VIR_DOMAIN_JOB_*) where one
 * exists.  Times in seconds, sizes in bytes, rates per second. */
typedef struct {
    double time_elapsed;        /* start to completion (or to now) */
    double time_remaining;      /* predicted seconds to completion (fm-predict.h), updated
                                 * after every round; 0 once the job has ended */
    double downtime;            /* guest paused on the source until the destination took over */
    double setup_time;          /* enabling log-dirty etc. */
    guint64 data_total;         /* expected wire bytes: memory + what is known to be pending */
    guint64 data_processed;     /* wire bytes sent, framing included */
    guint64 data_remaining;     /* pending pages x page size */
    guint64 memory_total;       /* guest memory */
    guint64 memory_processed;   /* page bytes sent, re-sends included */
    guint64 memory_remaining;   /* pending page bytes */
    double memory_dirty_rate;   /* pages dirtied per second in the last round */
    guint64 memory_iteration;   /* pre-copy rounds completed */
    guint64 memory_page_size;
    double memory_bps;          /* measured throughput, bytes per second */
    /* fragmig's own */
    guint64 pages_sent;         /* pages sent, re-sends included */
    guint64 pages_resent;       /* pages sent more than once (each re-send counted) */
    guint64 pages_skipped;      /* pages skipped as re-dirtied (peek and skip) */
    guint64 pages_downtime;     /* pages sent while paused */
    guint fragments_hot;        /* HOT fragments at stop-and-copy */
    FmStopReason stop_reason;   /* why pre-copy ended (fm_stop_reason_to_string()) */
    double guest_slowdown;      /* fraction of guest work lost to throttling */
} FmJobStats;

/* One pre-copy round, for progress output and plots. */
typedef struct {
    guint round;                /* 0-based */
    double start;               /* seconds since the job started */
    double duration;
    guint64 pages_sent;
    guint64 pages_skipped;
    guint64 dirty_after;        /* pages the harvest after this round found dirty */
    guint64 pending_after;      /* pages pending after that harvest */
    guint fragments_hot;
    guint throttle;             /* percent */
} FmRoundRecord;

typedef struct _FmJob FmJob;

/* The events of a job, in the order a run emits them: STATE (-> precopy), then per
 * pre-copy round BATCH..., HARVEST, ROUND; STATE (-> stop-and-copy), HARVEST,
 * BATCH...; STATE (-> completed, failed or cancelled).  A failure may end this at
 * any point with its STATE event. */
typedef enum {
    FM_JOB_EVENT_STATE,     /* the state changed */
    FM_JOB_EVENT_ROUND,     /* a pre-copy round ended: its harvest and the decision */
    FM_JOB_EVENT_HARVEST,   /* a clearing harvest of the whole dirty log */
    FM_JOB_EVENT_BATCH,     /* a batch of pages went to the sink */
    FM_JOB_EVENT_LAST
} FmJobEventType;

FM_ENUM_DECL(fm_job_event_type, FmJobEventType);

/* Masks for fm_job_subscribe(). */
#define FM_JOB_EVENT_MASK(type) (1u << (type))
#define FM_JOB_EVENTS_ALL ((1u << FM_JOB_EVENT_LAST) - 1)

/* One event; the member named after the type is set.  Pointers are borrowed and
 * valid during the call only. */
typedef struct {
    FmJobEventType type;
    union {
        struct {
            FmJobState from;
            FmJobState to;
            const char *reason;       /* for logs: the error's message, the stop
                                       * reason's name... (never NULL) */
        } state;
        struct {
            const FmRoundRecord *record;
            FmDecision decision;      /* what the policy decided after this round */
            FmStopReason reason;      /* unless CONTINUE */
        } round;
        struct {
            /* the pages written since the previous harvest; one per pre-copy round
             * and the last one, with the guest paused */
            const FmBitmap *dirty;
            /* the backend clock after the harvest, in nanoseconds since log-dirty
             * was enabled: it never decreases, but two harvests may share it where
             * the clock did not move (the simulator's pause costs no time) */
            gint64 time_ns;
        } harvest;
        struct {
            guint64 pages;            /* pages sent in this batch */
            guint64 skipped;          /* pages of it skipped as dirty again */
        } batch;
    };
} FmJobEvent;

/* Called in the job's thread for each event subscribed to.  It may call
 * fm_job_cancel(), fm_job_get_stats() and the other getters, not fm_job_run(). */
typedef void (*FmJobEventFunc)(FmJob *job, const FmJobEvent *event, gpointer data);

/* Returns the knobs the engine itself reads (fragment_size, max_downtime, ...). */
const FmParamSpec *fm_job_param_specs(void);

/* Returns a new job migrating @backend's guest into @sink under @policy (the job takes
 * ownership of @policy).  @params carries the engine knobs (checked against
 * fm_job_param_specs()); the job keeps a copy.  NULL with @error on bad parameters. */
FmJob *fm_job_new(FmBackend *backend, FmSink *sink, FmPolicy *policy,
                  const FmParamSet *params, GError **error);
void fm_job_free(FmJob *job);

/* Subscribes @func with @data to the events in @mask (FM_JOB_EVENT_MASK()s); before
 * fm_job_run() or from a subscriber.  Subscribers are called in the order they
 * subscribed.  Returns an id (> 0) for fm_job_unsubscribe(). */
guint fm_job_subscribe(FmJob *job, guint mask, FmJobEventFunc func, gpointer data);
/* Removes subscription @id; before or after fm_job_run(), or from a subscriber. */
void fm_job_unsubscribe(FmJob *job, guint id);

/* Runs the migration to its end.  Returns TRUE when COMPLETED; otherwise FALSE with
 * @error set, the state FAILED or CANCELLED and the source guest running. */
gboolean fm_job_run(FmJob *job, GError **error);
/* Asks a running job to stop; the guest resumes on the source.  Before fm_job_run(),
 * makes it fail at once without touching the guest or the sink.  Async-signal-safe. */
void fm_job_cancel(FmJob *job);

/* Changes the downtime target (the max_downtime knob, in seconds >= 0) of a job that
 * may be running, from any thread (virsh migrate-setmaxdowntime).  The next decision
 * after a round uses it; a job already in stop-and-copy is not affected. */
void fm_job_set_max_downtime(FmJob *job, double seconds);
/* Returns the downtime target in seconds (any thread). */
double fm_job_get_max_downtime(FmJob *job);

/* Returns the current state (safe from any thread). */
FmJobState fm_job_get_state(const FmJob *job);
/* Returns the statistics (borrowed; updated by the job's thread without a lock: read
 * them only from that thread, e.g. in a callback, or once fm_job_run() has returned). */
const FmJobStats *fm_job_get_stats(const FmJob *job);
/* Copies into @out a consistent snapshot of the statistics as of the last event;
 * any thread. */
void fm_job_copy_stats(FmJob *job, FmJobStats *out);
/* Returns the rounds so far: an array of FmRoundRecord (borrowed). */
const GArray *fm_job_get_rounds(const FmJob *job);
/* Returns the policy (borrowed). */
FmPolicy *fm_job_get_policy(FmJob *job);
/* Returns the fragment tracker (borrowed; NULL before the run starts).  From a
 * progress callback it holds the statistics of the harvest that ended the round:
 * per-fragment dirty counts and states, e.g. for heat maps. */
const FmFragTracker *fm_job_get_tracker(const FmJob *job);


G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmJob, fm_job_free)

G_END_DECLS
