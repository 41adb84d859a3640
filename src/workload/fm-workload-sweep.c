/*
 * fm-workload-sweep.c: sequential writes over the region, wrapping around: Clark et
 * al.'s "MMuncher".  Faster than the link, it re-dirties every page before pre-copy
 * can send it again; no randomness at all.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <string.h>

#include "workload/fm-workload-priv.h"

/* Starts the model afresh: no sampler, the cursor at the lane's share of the region
 * (lane 0 of 1: the region's start). */
static void
fm_workload_sweep_init(const FmWorkloadSpec *spec G_GNUC_UNUSED,
                       const FmWorkloadRegion *region, FmWorkloadState *state)
{
    guint lanes = MAX(state->lanes, 1);

    state->cursor = region->count * MIN(state->lane, lanes - 1) / lanes;
    memset(&state->zipf, 0, sizeof(state->zipf));
}

/* Returns the page under the cursor and moves the cursor on. */
static guint64
fm_workload_sweep_next(const FmWorkloadSpec *spec G_GNUC_UNUSED,
                       const FmWorkloadRegion *region, FmWorkloadState *state)
{
    guint64 offset = state->cursor;

    /* a state carried over from elsewhere may hold a cursor past this region */
    if (offset >= region->count)
        offset = 0;
    state->cursor = offset + 1 < region->count ? offset + 1 : 0;
    return region->first + offset;
}

const FmWorkloadModel fm_workload_model_sweep = {
    .type = FM_WORKLOAD_SWEEP,
    .init = fm_workload_sweep_init,
    .next = fm_workload_sweep_next,
};
