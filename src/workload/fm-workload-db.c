/*
 * fm-workload-db.c: a database: uniform random writes over its working set (the
 * region): every page of the set is as likely as any other, which is what makes an
 * OLTP buffer pool hard to pre-copy.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <string.h>

#include "workload/fm-workload-priv.h"

/* Starts a uniform model afresh: no sampler, cursor at the region's start.  Shared
 * with the idle model, which is the same draw at another rate over other pages. */
void
fm_workload_uniform_init(const FmWorkloadSpec *spec G_GNUC_UNUSED,
                         const FmWorkloadRegion *region G_GNUC_UNUSED,
                         FmWorkloadState *state)
{
    state->cursor = 0;
    memset(&state->zipf, 0, sizeof(state->zipf));
}

/* Returns a uniformly drawn page of the region. */
guint64
fm_workload_uniform_next(const FmWorkloadSpec *spec G_GNUC_UNUSED,
                         const FmWorkloadRegion *region, FmWorkloadState *state)
{
    return region->first + fm_rand_below(&state->rand, region->count);
}

const FmWorkloadModel fm_workload_model_db = {
    .type = FM_WORKLOAD_DB,
    .init = fm_workload_uniform_init,
    .next = fm_workload_uniform_next,
};
