/*
 * fm-workload-idle.c: an idle guest: a trickle of writes spread uniformly over its
 * region (timer ticks, daemons, page cache); the region is all memory by default.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <string.h>

#include "backend/workload/fm-workload-priv.h"

/* Starts the model afresh: no sampler, cursor at the region's start. */
static void
fm_workload_idle_init(const FmWorkloadSpec *spec G_GNUC_UNUSED,
                      const FmWorkloadRegion *region G_GNUC_UNUSED,
                      FmWorkloadState *state)
{
    state->cursor = 0;
    memset(&state->zipf, 0, sizeof(state->zipf));
}

/* Returns a uniformly drawn page of the region. */
static guint64
fm_workload_idle_next(const FmWorkloadSpec *spec G_GNUC_UNUSED,
                      const FmWorkloadRegion *region, FmWorkloadState *state)
{
    return region->first + fm_rand_below(&state->rand, region->count);
}

const FmWorkloadModel fm_workload_model_idle = {
    .type = FM_WORKLOAD_IDLE,
    .init = fm_workload_idle_init,
    .next = fm_workload_idle_next,
};
