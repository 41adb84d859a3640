/*
 * fm-workload-web.c: a web/cache server: Zipf(s)-distributed writes over the region.
 * Rank r (1 = hottest) lands on page first + (a (r - 1) + b) mod count, with a coprime
 * to count (a permutation of the region, see fm_workload_region_init()): the hot
 * pages of a real server's heap are scattered, not side by side.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "workload/fm-workload-priv.h"

/* Prepares the Zipf sampler over the region's ranks. */
static void
fm_workload_web_init(const FmWorkloadSpec *spec, const FmWorkloadRegion *region,
                     FmWorkloadState *state)
{
    state->cursor = 0;
    fm_zipf_init(&state->zipf, region->count, spec->zipf_s > 0 ? spec->zipf_s : 1.0);
}

/* Returns (a x + b) mod m for x, a, b < m. */
static inline guint64
fm_workload_web_scatter(guint64 a, guint64 x, guint64 b, guint64 m)
{
    if (m <= G_MAXUINT32)
        return (a * x + b) % m;     /* < 2^64: a, x, b < 2^32 */
#ifdef __SIZEOF_INT128__
    return (guint64)(((unsigned __int128)a * x + b) % m);
#else
    {
        /* double-and-add, for compilers without 128-bit integers */
        guint64 r = b;

        while (x > 0) {
            if (x & 1)
                r = r >= m - a ? r - (m - a) : r + a;
            a = a >= m - a ? a - (m - a) : a + a;
            x >>= 1;
        }
        return r;
    }
#endif
}

/* Returns the page of the next Zipf-drawn rank. */
static guint64
fm_workload_web_next(const FmWorkloadSpec *spec G_GNUC_UNUSED,
                     const FmWorkloadRegion *region, FmWorkloadState *state)
{
    guint64 rank = fm_zipf_sample(&state->zipf, &state->rand);

    /* the sampler's n is the region's count unless a foreign state was loaded */
    if (rank < 1 || rank > region->count)
        rank = 1 + (rank - 1) % region->count;
    return region->first + fm_workload_web_scatter(region->scatter_a, rank - 1,
                                                   region->scatter_b, region->count);
}

const FmWorkloadModel fm_workload_model_web = {
    .type = FM_WORKLOAD_WEB,
    .init = fm_workload_web_init,
    .next = fm_workload_web_next,
};
