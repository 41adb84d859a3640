/*
 * fm-workload-spec.c: workload specs: type names, deep copy and free.
 *
 * Kept apart from the generator (fm-workload.c) so that the scenario parser and its
 * tests need none of the models.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>
#include "workload/fm-workload.h"

#include <string.h>

#include "trace/fm-trace.h"

/* In the order of FmWorkloadType; these names appear in scenario XML and in reports. */
FM_ENUM_IMPL(fm_workload_type, FmWorkloadType, FM_WORKLOAD_LAST,
             "idle", "web", "db", "sweep", "phases", "trace", "mix");

/* Deep-copies the phases of @src into @dst, whose fields already hold a shallow
 * copy of @src. */
static void
fm_workload_spec_copy_phases(FmWorkloadSpec *dst, const FmWorkloadSpec *src)
{
    dst->phases = NULL;
    if (src->n_phases == 0 || !src->phases) {
        dst->n_phases = 0;
        return;
    }
    dst->phases = g_new0(FmWorkloadSpec, src->n_phases);
    for (guint i = 0; i < src->n_phases; i++) {
        dst->phases[i] = src->phases[i];
        if (dst->phases[i].trace)
            fm_trace_ref(dst->phases[i].trace);
        fm_workload_spec_copy_phases(&dst->phases[i], &src->phases[i]);
    }
}

/* Frees what @spec owns (its phases, recursively, and its trace reference), not
 * @spec itself: phase specs live inside their parent's array. */
void
fm_workload_spec_clear(FmWorkloadSpec *spec)
{
    if (!spec)
        return;
    if (spec->phases) {
        for (guint i = 0; i < spec->n_phases; i++)
            fm_workload_spec_clear(&spec->phases[i]);
        g_free(spec->phases);
    }
    spec->phases = NULL;
    spec->n_phases = 0;
    g_clear_pointer(&spec->trace, fm_trace_unref);
}

/* Makes @spec a trace workload of @trace (a new reference); see fm-workload.h. */
void
fm_workload_spec_set_trace(FmWorkloadSpec *spec, FmTrace *trace)
{
    g_return_if_fail(spec != NULL && trace != NULL);

    fm_trace_ref(trace);
    fm_workload_spec_clear(spec);
    spec->type = FM_WORKLOAD_TRACE;
    spec->trace = trace;
    spec->rate = fm_trace_mean_rate(trace);
}

/* Returns a new deep copy of @spec (caller frees with fm_workload_spec_free()). */
FmWorkloadSpec *
fm_workload_spec_copy(const FmWorkloadSpec *spec)
{
    FmWorkloadSpec *copy;

    g_return_val_if_fail(spec != NULL, NULL);

    copy = g_new0(FmWorkloadSpec, 1);
    *copy = *spec;
    if (copy->trace)
        fm_trace_ref(copy->trace);
    fm_workload_spec_copy_phases(copy, spec);
    return copy;
}

/* Frees @spec and its phases; NULL is accepted. */
void
fm_workload_spec_free(FmWorkloadSpec *spec)
{
    if (!spec)
        return;
    fm_workload_spec_clear(spec);
    g_free(spec);
}
