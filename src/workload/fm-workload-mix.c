/*
 * fm-workload-mix.c: several models at once (fm-workload.h, "mix").
 *
 * Each write goes to one part, drawn in proportion to the parts' rates, so that
 * over any interval each part makes its share of the writes; the parts share the
 * state's PRNG, and the web part (at most one) its sampler, the sweep (at most one)
 * its cursor.  A mix's own region is the whole memory (its region fields are 0), so
 * the region a hook receives gives the page count from which the parts' regions
 * are derived.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "workload/fm-workload-priv.h"

/* Returns the writes per second of @spec: the sum of the parts' for a mix. */
double
fm_workload_rate(const FmWorkloadSpec *spec)
{
    double sum = 0;

    if (spec->type != FM_WORKLOAD_MIX)
        return spec->rate;
    for (guint i = 0; i < spec->n_phases; i++)
        sum += spec->phases[i].rate;
    return sum;
}

/* Initialises every part; the web part and the sweep last, so that the simple
 * models' resets do not undo their sampler and cursor. */
static void
fm_workload_mix_init(const FmWorkloadSpec *spec, const FmWorkloadRegion *region,
                     FmWorkloadState *state)
{
    for (guint pass = 0; pass < 2; pass++) {
        for (guint i = 0; i < spec->n_phases; i++) {
            const FmWorkloadSpec *part = &spec->phases[i];
            gboolean keeps = part->type == FM_WORKLOAD_WEB || part->type == FM_WORKLOAD_SWEEP;
            FmWorkloadRegion r;

            if (keeps != (pass == 1))
                continue;
            fm_workload_region_init(&r, part, region->count);
            fm_workload_model_get(part->type)->init(part, &r, state);
        }
    }
}

/* Returns the next write: of a part drawn in proportion to its rate. */
static guint64
fm_workload_mix_next(const FmWorkloadSpec *spec, const FmWorkloadRegion *region,
                     FmWorkloadState *state)
{
    double u = fm_rand_double(&state->rand) * fm_workload_rate(spec);
    const FmWorkloadSpec *part = &spec->phases[spec->n_phases - 1];
    FmWorkloadRegion r;

    for (guint i = 0; i + 1 < spec->n_phases; i++) {
        if (u < spec->phases[i].rate) {
            part = &spec->phases[i];
            break;
        }
        u -= spec->phases[i].rate;
    }
    fm_workload_region_init(&r, part, region->count);
    return fm_workload_model_get(part->type)->next(part, &r, state);
}

const FmWorkloadModel fm_workload_model_mix = {
    .type = FM_WORKLOAD_MIX,
    .init = fm_workload_mix_init,
    .next = fm_workload_mix_next,
};
