/*
 * fm-workload-idle.c: an idle guest: a trickle of writes spread uniformly over its
 * region (timer ticks, daemons, page cache); the region is all memory by default.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "workload/fm-workload-priv.h"

/* Uniform draws, as the db model makes them (fm-workload-db.c). */
const FmWorkloadModel fm_workload_model_idle = {
    .type = FM_WORKLOAD_IDLE,
    .init = fm_workload_uniform_init,
    .next = fm_workload_uniform_next,
};
