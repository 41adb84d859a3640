/*
 * fm-frag-tracker.c: per-fragment statistics of the dirty log.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <math.h>

#include "engine/fm-frag-tracker.h"

struct _FmFragTracker {
    guint64 page_count;
    guint32 frag_pages;
    guint count;
    FmFragment *frags;
};

FM_ENUM_IMPL(fm_frag_state, FmFragState, FM_FRAG_STATE_LAST,
             "cold", "active", "hot");

/* Returns a new tracker (caller frees); every page starts pending. */
FmFragTracker *
fm_frag_tracker_new(guint64 page_count, guint32 frag_pages)
{
    FmFragTracker *tracker;

    g_return_val_if_fail(frag_pages > 0, NULL);
    g_return_val_if_fail(page_count / frag_pages < G_MAXUINT - 1, NULL);

    tracker = g_new0(FmFragTracker, 1);
    tracker->page_count = page_count;
    tracker->frag_pages = frag_pages;
    tracker->count = (page_count + frag_pages - 1) / frag_pages;
    tracker->frags = g_new0(FmFragment, tracker->count);
    for (guint i = 0; i < tracker->count; i++) {
        guint64 first = (guint64)i * frag_pages;
        tracker->frags[i].pages = MIN((guint64)frag_pages, page_count - first);
        tracker->frags[i].pending = tracker->frags[i].pages;
        tracker->frags[i].state = FM_FRAG_COLD;
    }
    return tracker;
}

/* Frees @tracker; NULL ok. */
void
fm_frag_tracker_free(FmFragTracker *tracker)
{
    if (tracker == NULL)
        return;
    g_free(tracker->frags);
    g_free(tracker);
}

/* Returns the number of fragments. */
guint
fm_frag_tracker_count(const FmFragTracker *tracker)
{
    return tracker->count;
}

/* Returns the nominal fragment size in pages. */
guint32
fm_frag_tracker_frag_pages(const FmFragTracker *tracker)
{
    return tracker->frag_pages;
}

/* Returns the number of pages tracked. */
guint64
fm_frag_tracker_page_count(const FmFragTracker *tracker)
{
    return tracker->page_count;
}

/* Returns the first page of fragment @i. */
guint64
fm_frag_tracker_first_page(const FmFragTracker *tracker, guint i)
{
    g_return_val_if_fail(i < tracker->count, 0);
    return (guint64)i * tracker->frag_pages;
}

/* Returns the per-page write rate implied by a fraction @f of pages found dirty after
 * @seconds (inverting the uniform-writes model 1 - exp(-lambda t)). */
static double
fm_frag_rate_sample(guint32 dirty, guint32 pages, double seconds)
{
    double f;

    if (dirty == 0 || seconds <= 0)
        return 0;
    /* a fully dirty fragment says "at least this fast": cap f just below 1 */
    f = MIN((double)dirty / pages, 1.0 - 0.5 / pages);
    return -log1p(-f) / seconds;
}

/* Folds one harvest in; see fm-frag-tracker.h. */
void
fm_frag_tracker_update(FmFragTracker *tracker, const FmBitmap *dirty,
                       const FmBitmap *pending, double round_seconds, double alpha)
{
    g_return_if_fail(fm_bitmap_size(dirty) == tracker->page_count);
    g_return_if_fail(fm_bitmap_size(pending) == tracker->page_count);
    g_return_if_fail(alpha > 0 && alpha <= 1);

    for (guint i = 0; i < tracker->count; i++) {
        FmFragment *frag = &tracker->frags[i];
        guint64 first = (guint64)i * tracker->frag_pages;
        double sample;

        frag->dirty_last = fm_bitmap_count_range(dirty, first, frag->pages);
        frag->pending = fm_bitmap_count_range(pending, first, frag->pages);
        sample = fm_frag_rate_sample(frag->dirty_last, frag->pages, round_seconds);
        frag->rate = alpha * sample + (1 - alpha) * frag->rate;
        if (frag->dirty_last) {
            frag->streak++;
            frag->clean = 0;
        } else {
            frag->streak = 0;
            frag->clean++;
        }
        if (frag->state != FM_FRAG_HOT)
            frag->state = frag->dirty_last ? FM_FRAG_ACTIVE : FM_FRAG_COLD;
    }
}

/* Recounts the pending pages of every fragment. */
void
fm_frag_tracker_update_pending(FmFragTracker *tracker, const FmBitmap *pending)
{
    g_return_if_fail(fm_bitmap_size(pending) == tracker->page_count);

    for (guint i = 0; i < tracker->count; i++) {
        tracker->frags[i].pending =
            fm_bitmap_count_range(pending, (guint64)i * tracker->frag_pages,
                                  tracker->frags[i].pages);
    }
}

/* Returns fragment @i (borrowed). */
const FmFragment *
fm_frag_tracker_get(const FmFragTracker *tracker, guint i)
{
    g_return_val_if_fail(i < tracker->count, NULL);
    return &tracker->frags[i];
}

/* Returns fragment @i for modification (borrowed). */
FmFragment *
fm_frag_tracker_get_mut(FmFragTracker *tracker, guint i)
{
    g_return_val_if_fail(i < tracker->count, NULL);
    return &tracker->frags[i];
}

/* Sets the state of fragment @i. */
void
fm_frag_tracker_set_state(FmFragTracker *tracker, guint i, FmFragState state)
{
    g_return_if_fail(i < tracker->count && (guint)state < FM_FRAG_STATE_LAST);
    tracker->frags[i].state = state;
}

/* Returns the number of HOT fragments. */
guint
fm_frag_tracker_hot_count(const FmFragTracker *tracker)
{
    guint n = 0;

    for (guint i = 0; i < tracker->count; i++)
        n += tracker->frags[i].state == FM_FRAG_HOT;
    return n;
}

/* Returns the pending pages of fragments in (@hot) or not in (!@hot) the HOT state. */
static guint64
fm_frag_tracker_pending_where(const FmFragTracker *tracker, gboolean hot)
{
    guint64 n = 0;

    for (guint i = 0; i < tracker->count; i++) {
        if ((tracker->frags[i].state == FM_FRAG_HOT) == hot)
            n += tracker->frags[i].pending;
    }
    return n;
}

/* Returns the pending pages of HOT fragments. */
guint64
fm_frag_tracker_pending_hot(const FmFragTracker *tracker)
{
    return fm_frag_tracker_pending_where(tracker, TRUE);
}

/* Returns the pending pages of the fragments that are not HOT. */
guint64
fm_frag_tracker_pending_other(const FmFragTracker *tracker)
{
    return fm_frag_tracker_pending_where(tracker, FALSE);
}
