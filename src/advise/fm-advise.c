/*
 * fm-advise.c: observe a guest's dirty log, simulate every policy on it, recommend.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "advise/fm-advise.h"

#include <math.h>
#include <string.h>

#include "backend/sim/fm-sim.h"
#include "conf/fm-scenario.h"
#include "migrate/fm-migration.h"
#include "backend/fm-trace-record.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-units.h"

/* The candidates: every policy with its defaults, and the variants that matter most
 * under load (docs/design.md section 3): no waiting for HOT fragments to cool, a
 * quicker or slower cut of HOT fragments,
 * smaller and larger fragments, and QEMU's auto-converge.  Parameters are
 * space-separated NAME=VALUE. */
static const struct {
    const char *policy;
    const char *variant;
} fm_advise_candidates[] = {
    { "fragment", "" },
    { "fragment", "patience=0" },
    { "fragment", "hot_ratio=0.25" },
    { "fragment", "hot_ratio=0.8" },
    { "fragment", "fragment_size=128" },
    { "fragment", "fragment_size=2048" },
    { "qemu", "" },
    { "qemu", "auto_converge=1" },
    { "xen", "" },
    { "xen-classic", "" },
};

/* Returns the number of candidates. */
guint
fm_advise_n_candidates(void)
{
    return G_N_ELEMENTS(fm_advise_candidates);
}

/* Returns candidate @i's policy and variant (static). */
void
fm_advise_candidate(guint i, const FmPolicyOps **policy, const char **variant)
{
    g_return_if_fail(i < G_N_ELEMENTS(fm_advise_candidates));
    *policy = fm_policy_lookup(fm_advise_candidates[i].policy);
    *variant = fm_advise_candidates[i].variant;
}

/* Records the dirty log into a trace in memory; see fm-advise.h. */
FmTrace *
fm_advise_observe(FmBackend *backend, double seconds, double interval, const gint *stop,
                  GError **error)
{
    g_autoptr(FmTraceWriter) writer = NULL;
    g_autoptr(GBytes) bytes = NULL;
    gsize len;
    const void *data;

    g_return_val_if_fail(backend != NULL && seconds > 0 && interval > 0, NULL);

    writer = fm_trace_writer_new(NULL, (guint32)fm_backend_page_size(backend),
                                 fm_backend_page_count(backend), error);
    if (writer == NULL)
        return NULL;
    if (!fm_trace_record(backend, writer, seconds, interval, stop, error) ||
        !fm_trace_writer_finish(writer, error))
        return NULL;
    bytes = fm_trace_writer_steal_bytes(writer);
    data = g_bytes_get_data(bytes, &len);
    return fm_trace_load_bytes(data, len, error);
}

/* Fills the observed-load fields of @advice from @trace. */
static void
fm_advise_describe(FmAdvice *advice, FmTrace *trace)
{
    g_autoptr(FmBitmap) all = fm_bitmap_new(fm_trace_page_count(trace));
    guint64 n = fm_trace_n_intervals(trace);

    for (guint64 i = 0; i < n; i++)
        fm_trace_interval_fill(trace, i, all);
    advice->observed_seconds = fm_trace_duration_ns(trace) / 1e9;
    advice->intervals = n;
    advice->dirty_rate = fm_trace_mean_rate(trace);
    advice->working_set = fm_bitmap_count(all);
    advice->page_count = fm_trace_page_count(trace);
    advice->page_size = fm_trace_page_size(trace);
}

/* Returns a scenario of a guest of @trace's size replaying it (caller frees). */
static FmScenario *
fm_advise_scenario(FmTrace *trace, const FmAdviseOptions *options)
{
    FmScenario *sc = g_new0(FmScenario, 1);

    sc->path = g_strdup("<advise>");
    sc->name = g_strdup("observed");
    sc->page_size = fm_trace_page_size(trace);
    sc->memory = fm_trace_page_count(trace) * sc->page_size;
    sc->verify_rate = options->verify_rate;
    sc->bandwidth = options->bandwidth;
    sc->latency = options->latency;
    sc->seed = options->seed ? options->seed : 1;
    sc->workload = g_new0(FmWorkloadSpec, 1);
    fm_workload_spec_set_trace(sc->workload, trace);
    sc->params = g_array_new(FALSE, TRUE, sizeof(FmScenarioParam));
    return sc;
}

/* Runs candidate @i on @scenario into @row.  FALSE with @error on setup errors. */
static gboolean
fm_advise_run_one(guint i, const FmScenario *scenario, const FmAdviseOptions *options,
                  FmAdviceRow *row, GError **error)
{
    g_autoptr(FmParamSet) params = options->params ? fm_param_set_copy(options->params)
                                                   : fm_param_set_new();
    g_auto(GStrv) words = NULL;
    g_autoptr(FmSim) sim = NULL;
    g_autoptr(FmMigration) mig = fm_migration_new();
    g_autoptr(GError) run_error = NULL;
    g_autofree char *downtime = g_strdup_printf("%.9fs", options->max_downtime);
    const char *variant;

    fm_advise_candidate(i, &row->policy, &variant);
    row->variant = g_strdup(variant);
    fm_param_set_set(params, "max_downtime", downtime);
    words = g_strsplit(variant, " ", -1);
    for (guint k = 0; words[k]; k++) {
        if (*words[k] && !fm_param_set_parse(params, words[k], error))
            return FALSE;
    }
    sim = fm_sim_new(scenario, error);
    if (sim == NULL)
        return FALSE;
    fm_migration_set_policy_ops(mig, row->policy);
    fm_migration_set_shared_params(mig, params);
    row->completed = fm_migration_run(mig, fm_sim_get_backend(sim), fm_sim_get_sink(sim),
                                      NULL, &run_error) &&
                     fm_sim_verify(sim, &run_error);
    if (fm_migration_get_job(mig) == NULL) {
        g_propagate_error(error, g_steal_pointer(&run_error));   /* a bad knob */
        return FALSE;
    }
    if (run_error)
        g_debug("advise: %s %s: %s", row->policy->name, variant, run_error->message);
    fm_migration_copy_stats(mig, &row->stats);
    row->converges = row->completed && fm_stop_reason_converged(row->stats.stop_reason);
    return TRUE;
}

/* Returns TRUE if row @a is better than row @b on downtime, then total time, then
 * data (the order among candidates whose times count as equal). */
static gboolean
fm_advise_better(const FmAdviceRow *a, const FmAdviceRow *b)
{
    if (a->stats.downtime != b->stats.downtime)
        return a->stats.downtime < b->stats.downtime;
    if (a->stats.time_elapsed != b->stats.time_elapsed)
        return a->stats.time_elapsed < b->stats.time_elapsed;
    return a->stats.data_processed < b->stats.data_processed;
}

/* Simulates every candidate; see fm-advise.h. */
FmAdvice *
fm_advise_simulate(FmTrace *trace, const FmAdviseOptions *options, GError **error)
{
    g_autoptr(FmAdvice) advice = NULL;
    g_autoptr(FmScenario) scenario = NULL;
    g_autofree const FmParamSpec **tables = fm_migration_param_tables(NULL);
    gint best = -1, best_any = -1;
    double fastest = INFINITY;

    g_return_val_if_fail(trace != NULL && options != NULL, NULL);

    if (!(options->bandwidth > 0 && isfinite(options->bandwidth))) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("the link bandwidth must be positive"));
        return NULL;
    }
    if (!(options->verify_rate >= 0 && isfinite(options->verify_rate))) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("the verification rate must be positive or 0"));
        return NULL;
    }
    if (!(options->pause_cost >= 0 && options->pause_cost <= 3600)) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("the pause cost must be between 0 and 3600 s"));
        return NULL;
    }
    if (!(options->max_downtime >= 0 && options->max_downtime <= 3600)) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("the downtime limit must be between 0 and 3600 s"));
        return NULL;
    }
    if (options->params && !fm_param_set_check(options->params, tables, error))
        return NULL;
    if (fm_trace_n_intervals(trace) == 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("the observation holds no harvest of the dirty log"));
        return NULL;
    }

    advice = g_new0(FmAdvice, 1);
    advice->rows = g_array_new(FALSE, TRUE, sizeof(FmAdviceRow));
    advice->recommended = -1;
    advice->options = *options;
    advice->options.params = NULL;
    fm_advise_describe(advice, trace);
    scenario = fm_advise_scenario(trace, options);
    /* each side digests the whole memory while the guest is paused (simulated); the
     * pause's own costs are not simulated: added to each run below */
    if (options->verify_rate > 0)
        advice->fixed_downtime = 2.0 * scenario->memory / options->verify_rate;
    advice->fixed_downtime += options->pause_cost;

    for (guint i = 0; i < fm_advise_n_candidates(); i++) {
        FmAdviceRow row = { 0 };

        if (!fm_advise_run_one(i, scenario, options, &row, error)) {
            g_free(row.variant);
            return NULL;
        }
        if (row.completed) {
            /* the guest is paused and the link idle meanwhile: nothing else changes */
            row.stats.downtime += options->pause_cost;
            row.stats.time_elapsed += options->pause_cost;
        }
        row.meets_limit = row.completed &&
            row.stats.downtime - advice->fixed_downtime <= options->max_downtime + 1e-9;
        g_array_append_val(advice->rows, row);
    }

    /* Two passes, so that the choice does not depend on the candidates' order: the
     * fastest time within the limit first, then the least downtime among those
     * within FM_ADVISE_TIME_TOLERANCE of it. */
    for (guint i = 0; i < advice->rows->len; i++) {
        const FmAdviceRow *row = &g_array_index(advice->rows, FmAdviceRow, i);

        if (row->meets_limit)
            fastest = MIN(fastest, row->stats.time_elapsed);
    }
    for (guint i = 0; i < advice->rows->len; i++) {
        const FmAdviceRow *row = &g_array_index(advice->rows, FmAdviceRow, i);

        if (!row->completed)
            continue;
        if (row->meets_limit &&
            row->stats.time_elapsed <= fastest * (1 + FM_ADVISE_TIME_TOLERANCE) &&
            (best < 0 || fm_advise_better(row, &g_array_index(advice->rows, FmAdviceRow, best))))
            best = i;
        if (best_any < 0 ||
            fm_advise_better(row, &g_array_index(advice->rows, FmAdviceRow, best_any)))
            best_any = i;
    }
    advice->meets_limit = best >= 0;
    advice->recommended = best >= 0 ? best : best_any;
    return g_steal_pointer(&advice);
}

/* Frees @advice; NULL ok. */
void
fm_advice_free(FmAdvice *advice)
{
    if (advice == NULL)
        return;
    for (guint i = 0; advice->rows && i < advice->rows->len; i++)
        g_free(g_array_index(advice->rows, FmAdviceRow, i).variant);
    if (advice->rows)
        g_array_unref(advice->rows);
    g_free(advice);
}

/* Returns the recommended row or NULL (borrowed). */
const FmAdviceRow *
fm_advice_recommended(const FmAdvice *advice)
{
    if (advice->recommended < 0)
        return NULL;
    return &g_array_index(advice->rows, FmAdviceRow, advice->recommended);
}

/* Writes @advice as a table with the recommendation. */
void
fm_advice_print_table(const FmAdvice *advice, FILE *out)
{
    const FmAdviceRow *rec = fm_advice_recommended(advice);
    g_autofree char *mem = fm_units_format_size((double)advice->page_count * advice->page_size);
    g_autofree char *bw = fm_units_format_bandwidth(advice->options.bandwidth);
    g_autofree char *ws = fm_units_format_size((double)advice->working_set * advice->page_size);
    g_autofree char *rate = fm_units_format_bandwidth(advice->dirty_rate * advice->page_size);

    /* every line within 80 columns, as the table */
    fprintf(out, _("guest: %s; observed %.1f s (%llu harvests)\n"),
            mem, advice->observed_seconds, (unsigned long long)advice->intervals);
    fprintf(out, _("dirtying %s, %s written in all\n"), rate, ws);
    fprintf(out, _("link: %s; downtime limit: %.0f ms\n"), bw, advice->options.max_downtime * 1000);
    if (advice->fixed_downtime > 0)
        fprintf(out, _("(plus %.0f ms of verification and pause that no policy changes)\n"),
                advice->fixed_downtime * 1000);
    fputc('\n', out);
    /* 78 columns, for an 80-column terminal: the rounds and the stop reason of
     * each candidate are in the JSON (docs/json.md); "*" marks the advice */
    fprintf(out, "  %-11s %-18s %8s %9s %10s %-9s %s\n", _("policy"), _("parameters"),
            _("time (s)"), _("down (ms)"), _("data (MiB)"), _("converges"), _("limit"));
    for (guint i = 0; i < advice->rows->len; i++) {
        const FmAdviceRow *row = &g_array_index(advice->rows, FmAdviceRow, i);

        fprintf(out, "%s %-11s %-18s %8.2f %9.1f %10.1f %-9s %s\n",
                (gint)i == advice->recommended ? "*" : " ",
                row->policy->name, row->variant[0] ? row->variant : "-",
                row->stats.time_elapsed, row->stats.downtime * 1000,
                row->stats.data_processed / 1048576.0,
                row->converges ? _("yes") : _("no"), row->meets_limit ? _("met") : _("over"));
    }
    fputc('\n', out);
    if (rec == NULL) {
        fprintf(out, _("no recommendation: no simulated migration completed\n"));
        return;
    }
    if (advice->meets_limit)
        fprintf(out, _("recommended (*): --policy %s%s%s\n  %.2f s in all, %.0f ms of downtime\n"),
                rec->policy->name, rec->variant[0] ? " --param " : "", rec->variant,
                rec->stats.time_elapsed, rec->stats.downtime * 1000);
    else
        fprintf(out, _("no policy meets the %.0f ms limit: this guest is too busy for it.\nthe least downtime (*): --policy %s%s%s\n  %.0f ms of downtime, %.2f s in all\n"),
                advice->options.max_downtime * 1000, rec->policy->name,
                rec->variant[0] ? " --param " : "", rec->variant,
                rec->stats.downtime * 1000, rec->stats.time_elapsed);
}
