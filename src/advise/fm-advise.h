/*
 * fm-advise.h: know before you migrate (`fragmig advise`).
 *
 * Observing: the guest's dirty log is harvested for a short window, without
 * migrating, into an in-memory trace (trace/fm-trace.h), through any FmBackend:
 * the local backend for a process, the Xen backend for a domain.
 *
 * Advising: the simulator (backend/sim/fm-sim.h) runs the real engine under every
 * policy, and a few parameter variants of the fragment and qemu policies, on a guest
 * whose workload replays the observed trace (the `trace` workload, looped), on a link
 * of the given bandwidth.  Each candidate gives a predicted total time, downtime,
 * data sent and rounds, whether it converges, and whether it meets the downtime
 * limit.
 *
 * A real migration's downtime also holds costs no policy changes: the digest of the
 * whole memory on each side (verify_rate, simulated as <guest verify-rate>) and
 * the pause's own costs (pause_cost: the last harvest, the destination taking the
 * guest over), which the simulator does not model and advise adds to each
 * candidate.  For a process guest `fragmig advise` measures both on the guest.
 *
 * The recommendation rule (also in fragmig(1)): among the candidates whose
 * controllable downtime (the predicted downtime less the fixed downtime, the
 * verification and the pause cost, that no policy changes) is within the limit, and
 * whose total time is within FM_ADVISE_TIME_TOLERANCE of the least of theirs, the
 * one with the least downtime: a few percent of time is worth less to an operator
 * than a pause 100 times shorter (1.30 s with 1.3 ms of downtime beats 1.26 s with
 * 181 ms).  Ties go to the least time, then the least data, then the candidate
 * listed first.  When no candidate meets the limit, the one with the least
 * downtime, and FmAdvice.meets_limit is FALSE: this guest is too busy for that
 * limit.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdio.h>
#include <glib.h>
#include "engine/fm-backend.h"
#include "engine/fm-job.h"
#include "engine/fm-params.h"
#include "engine/fm-policy.h"
#include "trace/fm-trace.h"

G_BEGIN_DECLS

/* Total times within this share of the fastest count as equal for the
 * recommendation: the least downtime among them wins. */
#define FM_ADVISE_TIME_TOLERANCE 0.05

/* The default link latency of the simulated link (one way, seconds): loopback. */
#define FM_ADVISE_DEFAULT_LATENCY 0.0001

typedef struct {
    double bandwidth;          /* link bytes per second, > 0 */
    double latency;            /* one-way link latency, seconds (>= 0) */
    double verify_rate;        /* bytes per second at which each side digests memory
                                * while the guest is paused (the local backend's
                                * verification); 0 = none */
    double pause_cost;         /* seconds of downtime besides sending and digesting:
                                * the last harvest, the destination taking the guest
                                * over; added to every candidate's downtime and total
                                * time (0 = none) */
    double max_downtime;       /* downtime limit, seconds */
    const FmParamSet *params;  /* engine and policy knobs for every candidate (may be
                                * NULL; checked against the tables of the engine and
                                * every policy); a candidate's own variant wins */
    guint64 seed;              /* of the simulation (the trace replay is exact) */
} FmAdviseOptions;

/* One simulated candidate. */
typedef struct {
    const FmPolicyOps *policy;
    char *variant;             /* its own parameters, "hot_ratio=0.3 hot_streak=1", or
                                * "" for the policy's defaults (owned) */
    FmJobStats stats;          /* of the simulated run */
    gboolean completed;        /* the simulated migration completed and verified */
    gboolean converges;        /* pre-copy ended because the dirty set became small
                                * (downtime-target, dirty-below-threshold), not at a
                                * cap or for want of progress */
    gboolean meets_limit;      /* controllable downtime <= the limit (see above) */
} FmAdviceRow;

typedef struct {
    GArray *rows;              /* FmAdviceRow, in candidate order */
    gint recommended;          /* index into rows, -1 if no candidate completed */
    gboolean meets_limit;      /* the recommended candidate meets the limit */
    double fixed_downtime;     /* seconds of downtime no policy changes (verification
                                * and pause cost) */
    /* the observed load */
    double observed_seconds;   /* length of the trace */
    guint64 intervals;         /* harvests in it */
    double dirty_rate;         /* mean pages dirtied per second (per harvest, distinct) */
    guint64 working_set;       /* distinct pages dirtied over the whole window */
    guint64 page_count;
    guint64 page_size;
    FmAdviseOptions options;   /* as given (params not kept: NULL) */
} FmAdvice;

/* Records @backend's dirty log for @seconds (> 0), harvesting every @interval (> 0)
 * seconds, into a new trace (caller owns the reference), without migrating: the
 * guest keeps running; log-dirty is disabled again at the end.  *@stop (may be NULL)
 * ends the window early.  NULL with @error set on a backend failure. */
FmTrace *fm_advise_observe(FmBackend *backend, double seconds, double interval,
                           const gint *stop, GError **error);

/* Returns the number of candidates and the policy / variant of candidate @i. */
guint fm_advise_n_candidates(void);
void fm_advise_candidate(guint i, const FmPolicyOps **policy, const char **variant);

/* Simulates every candidate on a guest replaying @trace (borrowed) under @options
 * and returns the advice (caller frees), or NULL with @error set (bad options or
 * parameters, a trace the simulator cannot replay). */
FmAdvice *fm_advise_simulate(FmTrace *trace, const FmAdviseOptions *options,
                             GError **error);
void fm_advice_free(FmAdvice *advice);

/* Returns the recommended row, or NULL when no candidate completed (borrowed). */
const FmAdviceRow *fm_advice_recommended(const FmAdvice *advice);

/* (Its JSON is written by the report layer: fm_report_print_advice_json().) */
/* Writes @advice as a table for people, with the recommendation, to @out. */
void fm_advice_print_table(const FmAdvice *advice, FILE *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmAdvice, fm_advice_free)

G_END_DECLS
