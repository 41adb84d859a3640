/*
 * fm-predict.h: the engine's model of the rest of a pre-copy migration, for the
 * predicted time remaining (FmJobStats.time_remaining, libvirt's time_remaining)
 * and abort_if_busy.
 *
 * From the state after a harvest (pages pending, measured bandwidth) and the fragment
 * tracker's write rates lambda_f (per page per second, fm-frag-tracker.h), the model
 * plays the following rounds forward: a round sends what is pending, which takes
 * T = pending x page size / bandwidth, and leaves pending the pages written during
 * it, sum over fragments of pages_f x (1 - exp(-lambda_f T)).  It stops as the
 * policies do (docs/design.md section 3): (a) when what is pending fits the downtime
 * target; (b) when a round shrinks the pending set by less than progress_min: more
 * rounds cannot help; (c) at the time cap.  The downtime is then the time to send
 * what is pending at the stop.
 *
 * It is a generic model: it knows the engine's limits but not a policy's own caps
 * (xen's 5 rounds, a round cap), nor what the guest spends outside sending (a
 * verification digest while paused).  So it is exact on the decision the policies
 * share and an upper bound on the rounds of a policy with a round cap; the engine
 * refreshes it after every round.  Pure code: same inputs, same prediction.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "util/fm-enum.h"
#include "engine/fm-frag-tracker.h"

G_BEGIN_DECLS

/* Rounds the model plays at most (a guard against a time cap of 0). */
#define FM_PREDICT_MAX_ROUNDS 1000

typedef enum {
    FM_PREDICT_DOWNTIME_TARGET,  /* converges: what is pending fits max_downtime */
    FM_PREDICT_NO_PROGRESS,      /* the pending set stops shrinking above the target */
    FM_PREDICT_TIME_CAP,         /* the time cap (or the round guard) comes first */
    FM_PREDICT_STOP_LAST
} FmPredictStop;

/* The state the model starts from. */
typedef struct {
    guint64 page_size;
    guint64 pending;          /* pages waiting to be sent now (HOT fragments included) */
    double bandwidth;         /* bytes per second; <= 0: unknown, no prediction */
    double max_downtime;      /* downtime target, seconds */
    double time_left;         /* seconds before the time cap; <= 0: no cap */
    double progress_min;      /* rule (b): least shrink of a useful round, e.g. 0.1 */
    double rate_scale;        /* factor on the tracker's rates; <= 0 means 1.  The
                               * engine corrects the start-up bias of their EWMA, which
                               * starts at 0: 1 / (1 - (1 - alpha)^samples) */
} FmPredictInput;

typedef struct {
    double precopy_seconds;   /* pre-copy time still to come */
    double downtime;          /* seconds to send what is pending at the stop */
    double total_seconds;     /* precopy_seconds + downtime: the time remaining */
    guint64 pages;            /* pages still to send, the stop-and-copy's included */
    guint rounds;             /* pre-copy rounds still to come */
    guint64 pending_at_stop;  /* pages pending when the guest would be paused */
    FmPredictStop stop;       /* why the model stops */
} FmPrediction;

/* Plays the rest of the migration from @in with the write rates of @tracker into
 * @out.  Returns FALSE (and a zeroed @out) when the bandwidth is not known yet. */
gboolean fm_predict_precopy(const FmPredictInput *in, const FmFragTracker *tracker,
                            FmPrediction *out);

/* Returns the pages of @tracker written within @seconds under its rates: the sum
 * over fragments of pages x (1 - exp(-rate x seconds)). */
double fm_predict_dirty_pages(const FmFragTracker *tracker, double seconds);

/* Returns the name of @stop ("no-progress"), or NULL if out of range. */
FM_ENUM_DECL(fm_predict_stop, FmPredictStop);

G_END_DECLS
