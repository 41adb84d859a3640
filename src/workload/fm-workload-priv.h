/*
 * fm-workload-priv.h: the workload model vtable, for the model files only (the
 * layers above use fm-workload.h).
 *
 * A model is two hooks: init (set up the model's part of the state: sampler, cursor)
 * and next (the pfn of the next write).  fm-workload.c owns the clock: it decides how
 * many writes fall in an interval and calls next that many times, so models know
 * nothing of time.  One entry per FmWorkloadType in the table of fm-workload.c.
 *
 * The exception is a model whose writes have times of their own (trace): it has a
 * third hook, advance, and fm-workload.c hands it, instead of a number of writes, the
 * nanoseconds of model time that an interval is worth at the current speed (counted
 * with the same exact integer carry); the model makes the writes that fall in them.
 *
 * Both hooks receive the region of the spec being run (for phases, of the current
 * phase), computed by fm_workload_region_init() from the spec and the page count.  The
 * region is derived data, recomputed on demand, never stored in the state: the state
 * stays plain data that can be copied byte for byte.
 *
 * Conventions of a zeroed spec field (specs built by hand, in tests): region_size 0
 * means all memory; zipf_s 0 means 1.0.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "workload/fm-workload.h"

G_BEGIN_DECLS

/* The pages a model writes to, and the constants it derives from them. */
typedef struct {
    guint64 first;        /* first pfn of the region */
    guint64 count;        /* pages in the region, >= 1, first + count <= page count */
    guint64 scatter_a;    /* web: rank r -> first + (a (r - 1) + b) mod count, */
    guint64 scatter_b;    /*      a coprime to count, so ranks land on distinct pages */
} FmWorkloadRegion;

typedef struct {
    FmWorkloadType type;
    /* (Re)initialises the model's part of @state (cursor, zipf) for @spec over
     * @region: at fm_workload_state_init() and at every phase change. */
    void (*init)(const FmWorkloadSpec *spec, const FmWorkloadRegion *region,
                 FmWorkloadState *state);
    /* Returns the pfn of the next write, inside @region; draws from state->rand. */
    guint64 (*next)(const FmWorkloadSpec *spec, const FmWorkloadRegion *region,
                    FmWorkloadState *state);
    /* NULL, or: makes the writes of the next @ns nanoseconds of model time (@ns > 0),
     * calling @write for each (pfn < @page_count), and returns how many it made. */
    guint64 (*advance)(const FmWorkloadSpec *spec, FmWorkloadState *state,
                       guint64 page_count, guint64 ns, FmWorkloadWriteFunc write,
                       gpointer user_data);
} FmWorkloadModel;

extern const FmWorkloadModel fm_workload_model_idle;
extern const FmWorkloadModel fm_workload_model_web;
extern const FmWorkloadModel fm_workload_model_db;
extern const FmWorkloadModel fm_workload_model_sweep;
extern const FmWorkloadModel fm_workload_model_phases;
extern const FmWorkloadModel fm_workload_model_trace;
extern const FmWorkloadModel fm_workload_model_mix;

/* Returns the page writes per second of @spec: the sum of the parts' for a mix. */
double fm_workload_rate(const FmWorkloadSpec *spec);

/* The uniform draw over a region that the db and idle models share
 * (fm-workload-db.c). */
void fm_workload_uniform_init(const FmWorkloadSpec *spec, const FmWorkloadRegion *region,
                              FmWorkloadState *state);
guint64 fm_workload_uniform_next(const FmWorkloadSpec *spec,
                                 const FmWorkloadRegion *region, FmWorkloadState *state);

/* Returns the model of @type (< FM_WORKLOAD_LAST). */
const FmWorkloadModel *fm_workload_model_get(FmWorkloadType type);

/* Fills @region for the simple (non-phases) spec @spec on a guest of @page_count
 * (> 0) pages: first = floor(region_start x pages), count = max(1, floor(region_size x
 * pages)), both clipped to memory; scatter constants for web. */
void fm_workload_region_init(FmWorkloadRegion *region, const FmWorkloadSpec *spec,
                             guint64 page_count);

/* Returns the simple spec that @state is running: @spec itself, or for phases the
 * current phase, or NULL once a sequence whose last phase has a duration is over
 * (the guest then writes nothing more). */
const FmWorkloadSpec *fm_workload_current(const FmWorkloadSpec *spec,
                                          const FmWorkloadState *state);

/* Phases (fm-workload-phases.c): returns the current phase, NULL past the last one. */
const FmWorkloadSpec *fm_workload_phases_current(const FmWorkloadSpec *spec,
                                                 const FmWorkloadState *state);
/* Returns the workload time at which the current phase ends; INFINITY if it is
 * open-ended (duration 0) or the sequence is over. */
double fm_workload_phases_end(const FmWorkloadSpec *spec, const FmWorkloadState *state);

G_END_DECLS
