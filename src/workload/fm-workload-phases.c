/*
 * fm-workload-phases.c: a sequence of the other models, each run for its duration.
 *
 * A phase with duration 0 is open-ended: it runs forever (normally the last one).
 * If the last phase has a duration, the guest stops writing once it is over: the
 * sequence is a finite program, not a loop.  At a phase change fm-workload.c calls
 * init again, so the new phase starts with a fresh sampler / cursor over its own
 * region; the PRNG stream simply continues.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <math.h>

#include "workload/fm-workload-priv.h"

/* Returns the current phase, NULL past the last one. */
const FmWorkloadSpec *
fm_workload_phases_current(const FmWorkloadSpec *spec, const FmWorkloadState *state)
{
    if (state->phase >= spec->n_phases)
        return NULL;
    return &spec->phases[state->phase];
}

/* Returns the time the current phase ends, INFINITY if it never does. */
double
fm_workload_phases_end(const FmWorkloadSpec *spec, const FmWorkloadState *state)
{
    const FmWorkloadSpec *phase = fm_workload_phases_current(spec, state);

    if (phase == NULL || !(phase->duration > 0))
        return INFINITY;
    return state->phase_start + phase->duration;
}

/* Initialises the current phase's model (@region is that phase's). */
static void
fm_workload_phases_init(const FmWorkloadSpec *spec, const FmWorkloadRegion *region,
                        FmWorkloadState *state)
{
    const FmWorkloadSpec *phase = fm_workload_phases_current(spec, state);

    if (phase != NULL && phase->type != FM_WORKLOAD_PHASES)
        fm_workload_model_get(phase->type)->init(phase, region, state);
}

/* Returns the next write of the current phase's model (@region is that phase's). */
static guint64
fm_workload_phases_next(const FmWorkloadSpec *spec, const FmWorkloadRegion *region,
                        FmWorkloadState *state)
{
    const FmWorkloadSpec *phase = fm_workload_phases_current(spec, state);

    /* fm-workload.c makes no writes past the last phase; nested phases are refused
     * by fm_workload_spec_check() */
    if (phase == NULL || phase->type == FM_WORKLOAD_PHASES)
        return region->first;
    return fm_workload_model_get(phase->type)->next(phase, region, state);
}

const FmWorkloadModel fm_workload_model_phases = {
    .type = FM_WORKLOAD_PHASES,
    .init = fm_workload_phases_init,
    .next = fm_workload_phases_next,
};
