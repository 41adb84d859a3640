/*
 * fm-predict.c: the engine's model of the rest of a pre-copy migration.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "engine/fm-predict.h"

#include <math.h>
#include <string.h>

FM_ENUM_IMPL(fm_predict_stop, FmPredictStop, FM_PREDICT_STOP_LAST,
             "downtime-target", "no-progress", "time-cap");

/* Returns the pages written within @seconds under the tracker's rates times @scale. */
static double
fm_predict_dirty_scaled(const FmFragTracker *tracker, double seconds, double scale)
{
    guint n = fm_frag_tracker_count(tracker);
    double pages = 0;

    if (seconds <= 0)
        return 0;
    for (guint i = 0; i < n; i++) {
        const FmFragment *frag = fm_frag_tracker_get(tracker, i);

        if (frag->rate > 0)
            pages += frag->pages * -expm1(-frag->rate * scale * seconds);
    }
    return pages;
}

/* Returns the pages written within @seconds under the tracker's rates. */
double
fm_predict_dirty_pages(const FmFragTracker *tracker, double seconds)
{
    return fm_predict_dirty_scaled(tracker, seconds, 1.0);
}

/* Plays the rest of the migration forward; see fm-predict.h. */
gboolean
fm_predict_precopy(const FmPredictInput *in, const FmFragTracker *tracker,
                   FmPrediction *out)
{
    double pending = in->pending;
    double elapsed = 0, pages = 0;
    guint rounds = 0;

    memset(out, 0, sizeof(*out));
    g_return_val_if_fail(in->page_size > 0, FALSE);
    if (!(in->bandwidth > 0))
        return FALSE;

    for (;;) {
        double send = pending * in->page_size / in->bandwidth;
        double next;

        if (send <= in->max_downtime) {
            out->stop = FM_PREDICT_DOWNTIME_TARGET;
            break;
        }
        if ((in->time_left > 0 && elapsed >= in->time_left) ||
            rounds >= FM_PREDICT_MAX_ROUNDS) {
            out->stop = FM_PREDICT_TIME_CAP;
            break;
        }
        next = fm_predict_dirty_scaled(tracker, send, in->rate_scale > 0 ? in->rate_scale : 1.0);
        /* a round cannot leave more pending than the guest has written in it, nor
         * more than the whole memory */
        next = MIN(next, (double)fm_frag_tracker_page_count(tracker));
        rounds++;
        elapsed += send;
        pages += pending;
        if (next > (1.0 - in->progress_min) * pending) {
            /* rule (b): this round did not help, the policy stops after it */
            pending = next;
            out->stop = FM_PREDICT_NO_PROGRESS;
            break;
        }
        pending = next;
    }

    out->rounds = rounds;
    out->precopy_seconds = elapsed;
    out->pending_at_stop = (guint64)llround(pending);
    out->downtime = pending * in->page_size / in->bandwidth;
    out->pages = (guint64)llround(pages + pending);
    out->total_seconds = out->precopy_seconds + out->downtime;
    return TRUE;
}
