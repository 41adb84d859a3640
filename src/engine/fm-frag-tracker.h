/*
 * fm-frag-tracker.h: per-fragment statistics of the dirty log (docs/design.md section 3).
 *
 * Memory is cut into fragments of F contiguous pages (the last one may be shorter).
 * After every harvest the engine calls fm_frag_tracker_update() with the pages found
 * dirty and the pages still pending; the tracker then holds, per fragment, the pending
 * and dirty counts, the streak of consecutive dirty harvests, the streak of clean ones
 * and an EWMA of the fragment's write rate.  The tracker itself only marks fragments
 * COLD or ACTIVE; HOT is a policy's decision (fm_frag_tracker_set_state()), which the
 * tracker keeps until the policy changes it.
 *
 * Write rate: a fragment of n pages of which a fraction f was found dirty after t
 * seconds is written at lambda = -ln(1 - f) / t distinct-page-events per page per
 * second under uniform random writes; the tracker keeps an EWMA of lambda, so that the
 * policy can predict the fraction re-dirtied within T seconds as 1 - exp(-lambda T).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "util/fm-enum.h"
#include "util/fm-bitmap.h"

G_BEGIN_DECLS

typedef enum {
    FM_FRAG_COLD,     /* not dirtied by the last harvest */
    FM_FRAG_ACTIVE,   /* dirtied, still iterated */
    FM_FRAG_HOT,      /* iteration cut: its pages wait for stop-and-copy */
    FM_FRAG_STATE_LAST
} FmFragState;

typedef struct {
    guint32 pages;       /* pages in this fragment (F, or less for the last) */
    guint32 pending;     /* pages waiting to be sent */
    guint32 dirty_last;  /* pages found dirty by the last harvest */
    guint32 streak;      /* consecutive harvests that found it dirty */
    guint32 clean;       /* consecutive harvests that found it clean */
    guint32 state;       /* FmFragState */
    double rate;         /* EWMA of lambda (per page per second), see above */
} FmFragment;

typedef struct _FmFragTracker FmFragTracker;

/* Returns a tracker for @page_count pages in fragments of @frag_pages (> 0) pages;
 * every fragment starts COLD with all pages pending. */
FmFragTracker *fm_frag_tracker_new(guint64 page_count, guint32 frag_pages);
void fm_frag_tracker_free(FmFragTracker *tracker);

/* Returns the number of fragments / the fragment size / the page count. */
guint fm_frag_tracker_count(const FmFragTracker *tracker);
guint32 fm_frag_tracker_frag_pages(const FmFragTracker *tracker);
guint64 fm_frag_tracker_page_count(const FmFragTracker *tracker);
/* Returns the first page of fragment @i. */
guint64 fm_frag_tracker_first_page(const FmFragTracker *tracker, guint i);

/* Folds one harvest in: @dirty are the pages found dirty after a round of
 * @round_seconds, @pending the pages now waiting to be sent; @alpha is the EWMA
 * weight of the new sample (0 < alpha <= 1). */
void fm_frag_tracker_update(FmFragTracker *tracker, const FmBitmap *dirty,
                            const FmBitmap *pending, double round_seconds, double alpha);
/* Recounts only the pending pages (after a round sent some). */
void fm_frag_tracker_update_pending(FmFragTracker *tracker, const FmBitmap *pending);

/* Returns fragment @i (borrowed; valid until the tracker is freed). */
const FmFragment *fm_frag_tracker_get(const FmFragTracker *tracker, guint i);
/* Returns fragment @i for modification: for policies (state) and tests (hand-built
 * statistics). */
FmFragment *fm_frag_tracker_get_mut(FmFragTracker *tracker, guint i);
/* Sets the state of fragment @i. */
void fm_frag_tracker_set_state(FmFragTracker *tracker, guint i, FmFragState state);

/* Returns the number of HOT fragments, and the pending pages in HOT / other fragments. */
guint fm_frag_tracker_hot_count(const FmFragTracker *tracker);
guint64 fm_frag_tracker_pending_hot(const FmFragTracker *tracker);
guint64 fm_frag_tracker_pending_other(const FmFragTracker *tracker);

/* Returns the name of @state ("hot"). */
FM_ENUM_DECL(fm_frag_state, FmFragState);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmFragTracker, fm_frag_tracker_free)

G_END_DECLS
