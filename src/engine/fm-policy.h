/*
 * fm-policy.h: pre-copy policies (docs/design.md section 3).
 *
 * A policy is pure decision code: from the statistics of the rounds so far (an
 * FmRoundStats filled by the engine) and the fragment tracker, it plans the next round
 * (which fragments to send, in which order) and decides whether to go on, stop and
 * copy, or abort.  Same inputs, same decisions: policies are unit-tested on hand-built
 * statistics without any backend.
 *
 * Per round the engine: harvests the dirty log, updates the tracker, calls
 * plan_round() (where a policy also classifies fragments), then should_stop(); if the
 * answer is CONTINUE it sends the plan.  Round 0 (everything) needs no plan.
 *
 * Adding a policy: one new file in src/engine/policies/ defining an FmPolicyOps, and
 * one entry in the table of fm-policy.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "util/fm-enum.h"
#include "engine/fm-params.h"
#include "engine/fm-frag-tracker.h"

G_BEGIN_DECLS

typedef enum {
    FM_DECISION_CONTINUE,
    FM_DECISION_STOP_AND_COPY,
    FM_DECISION_ABORT,
    FM_DECISION_LAST
} FmDecision;

/* Why pre-copy ended (FmJobStats.stop_reason).  The names are those of simulate's
 * stop_reason column, advise's JSON and libvirt's fragmented.stop_reason. */
typedef enum {
    FM_STOP_NONE,                  /* "": pre-copy has not ended */
    FM_STOP_DOWNTIME_TARGET,       /* what is pending fits the downtime target */
    FM_STOP_DIRTY_BELOW_THRESHOLD, /* fewer pages pending than the Xen threshold */
    FM_STOP_ONLY_HOT_LEFT,         /* only the HOT fragments' pages are pending */
    FM_STOP_NO_PROGRESS,           /* the pending set stopped shrinking */
    FM_STOP_DOWNTIME_SLACK,        /* what is pending is sent within the policy's slack */
    FM_STOP_XEN_WOULD_STOP,        /* the fragment policy's shadow of stock Xen stops */
    FM_STOP_MAX_ROUNDS,            /* the caps of fm_policy_cap_reached() */
    FM_STOP_MAX_DATA,
    FM_STOP_MAX_TIME,
    FM_STOP_BUSY,                  /* the engine's abort_if_busy */
    FM_STOP_CANCELLED,             /* fm_job_cancel() */
    FM_STOP_ERROR,                 /* any other failure */
    FM_STOP_REASON_LAST
} FmStopReason;

FM_ENUM_DECL(fm_stop_reason, FmStopReason);
/* Returns TRUE if @reason says the dirty set became small enough (the migration
 * converged), FALSE for a cap, a lack of progress or a failure. */
gboolean fm_stop_reason_converged(FmStopReason reason);

/* What the engine tells a policy after each harvest.  Counts are pages. */
typedef struct {
    guint round;              /* pre-copy rounds completed (1 after round 0) */
    guint64 page_count;
    guint64 page_size;
    guint64 pending;          /* pages waiting to be sent, HOT fragments included */
    guint64 pending_prev;     /* pending after the previous harvest (page_count at 1) */
    guint64 dirty_last;       /* pages the last harvest found dirty */
    guint64 sent_last;        /* pages sent by the last round */
    guint64 pages_sent;       /* pages sent so far, re-sends included */
    guint64 bytes_sent;       /* wire bytes so far */
    double bandwidth;         /* measured link throughput, bytes per second */
    double round_seconds;     /* duration of the last round */
    double elapsed;           /* seconds since the migration started */
    double dirty_bytes_rate;  /* bytes dirtied per second during the last round */
    const FmBitmap *dirty;    /* the pages the last harvest found dirty (borrowed,
                               * valid during the call; NULL in hand-built stats) */
    /* engine-wide limits, from the engine's parameters */
    double max_downtime;      /* downtime target, seconds */
    double max_time;          /* total time cap, seconds (0 = none) */
} FmRoundStats;

/* A round's plan.  The engine sends, for each listed fragment in order, its pending
 * pages in address order. */
typedef struct {
    GArray *fragments;        /* guint32 fragment indices, in sending order */
    gboolean skip_redirtied;  /* peek the dirty log per batch and skip pages already
                               * dirty again: they go next round (Xen 3.x) */
    guint throttle;           /* guest throttle the policy wants, percent (0 = none) */
    double wait_until;        /* after sending, let the guest run until this many
                               * seconds since the start before the next harvest
                               * (0 = harvest at once): a policy that watches a load */
} FmPlan;

typedef struct _FmPolicy FmPolicy;

typedef struct {
    const char *name;             /* as on the command line: "fragment" */
    const char *summary;          /* N_()-marked one-liner for --help */
    const FmParamSpec *params;    /* knobs, NULL-name terminated */
    gsize priv_size;              /* bytes of private state, zeroed, see fm_policy_priv() */
    /* Reads the knobs from @params (already checked against ->params). */
    gboolean (*start)(FmPolicy *self, const FmParamSet *params, GError **error);
    /* Fills @plan (its array arrives empty) and may change fragment states. */
    void (*plan_round)(FmPolicy *self, const FmRoundStats *stats, FmFragTracker *tracker,
                       FmPlan *plan);
    /* Returns the decision; for anything but CONTINUE sets *@reason (not NONE). */
    FmDecision (*should_stop)(FmPolicy *self, const FmRoundStats *stats,
                              const FmFragTracker *tracker, FmStopReason *reason);
    /* Returns TRUE if this policy, as started, may throttle the guest (QEMU's
     * auto-converge): the engine's prediction then does not call a guest too busy,
     * since the throttle changes the rates it predicts from.  NULL: never. */
    gboolean (*may_throttle)(FmPolicy *self);
    /* Frees what start() or later calls allocated in the private state (optional). */
    void (*finalize)(FmPolicy *self);
} FmPolicyOps;

/* Returns the policy registered as @name, or NULL. */
const FmPolicyOps *fm_policy_lookup(const char *name);
/* Returns the NULL-terminated table of all policies (static). */
const FmPolicyOps *const *fm_policy_list(void);
/* Returns "xen, xen-classic, qemu, fragment" (caller frees). */
char *fm_policy_names(void);

/* Returns a new policy of @ops started with @params, or NULL with @error set. */
FmPolicy *fm_policy_new(const FmPolicyOps *ops, const FmParamSet *params, GError **error);
void fm_policy_free(FmPolicy *policy);
/* Returns the policy's vtable / name / private state (zeroed, priv_size bytes). */
const FmPolicyOps *fm_policy_ops(const FmPolicy *policy);
const char *fm_policy_name(const FmPolicy *policy);
gpointer fm_policy_priv(FmPolicy *policy);

/* Dispatchers (the plan's array is emptied first). */
void fm_policy_plan_round(FmPolicy *policy, const FmRoundStats *stats,
                          FmFragTracker *tracker, FmPlan *plan);
FmDecision fm_policy_should_stop(FmPolicy *policy, const FmRoundStats *stats,
                                 const FmFragTracker *tracker, FmStopReason *reason);

/* Returns TRUE if the policy may throttle the guest (FmPolicyOps.may_throttle). */
gboolean fm_policy_may_throttle(FmPolicy *policy);

/* Names of decisions ("stop-and-copy"). */
FM_ENUM_DECL(fm_decision, FmDecision);

/* ---- helpers shared by policies ---- */

/* Plans every fragment with pending pages, in address order. */
void fm_policy_plan_all(const FmFragTracker *tracker, FmPlan *plan);
/* Checks the safety caps: @max_rounds (0 = none), @max_data (multiple of memory,
 * 0 = none) and stats->max_time.  Returns TRUE and sets *@reason when one is reached. */
gboolean fm_policy_cap_reached(const FmRoundStats *stats, guint max_rounds,
                               double max_data, FmStopReason *reason);
/* Returns the seconds needed to send @pages at the measured bandwidth (or G_MAXDOUBLE
 * before any bandwidth is known). */
double fm_policy_send_seconds(const FmRoundStats *stats, guint64 pages);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmPolicy, fm_policy_free)

G_END_DECLS
