/*
 * fm-cmd-plot.c: `fragmig plot [--out DIR] [--scenario GLOB]... [--policy P[,P...]]
 * FILE...`: draws SVG figures from run records (`fragmig simulate --record-dir`) and
 * suite CSVs (`fragmig simulate --format csv`):
 *   per run          STEM.remaining.svg, STEM.sent.svg, STEM.heat.svg
 *   per scenario     SCENARIO.remaining.svg, SCENARIO.sent.svg (several policies)
 *   per suite CSV    NAME.svg (NAME.csv's grouped bars)
 * where STEM is SCENARIO.POLICY (fm_run_record_file_stem()).  Prints each file written.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>

#include "fm-cmd.h"
#include "plot/fm-plot.h"
#include "report/fm-run-record.h"
#include "engine/fm-policy.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* What to draw: the --scenario globs and --policy names (NULL: everything). */
typedef struct {
    char **scenarios;
    GPtrArray *policies;
} FmPlotFilter;

/* Returns TRUE when @filter keeps @scenario under @policy. */
static gboolean
fm_plot_cmd_keep(const FmPlotFilter *filter, const char *scenario, const char *policy)
{
    gboolean keep = filter->scenarios == NULL;

    for (guint i = 0; filter->scenarios && filter->scenarios[i]; i++)
        keep = keep || g_pattern_match_simple(filter->scenarios[i], scenario);
    if (keep && filter->policies) {
        keep = FALSE;
        for (guint i = 0; i < filter->policies->len; i++)
            keep = keep || g_str_equal(filter->policies->pdata[i], policy);
    }
    return keep;
}

/* Writes @svg (taken over) to DIR/NAME.svg and prints the path.  FALSE with @error. */
static gboolean
fm_plot_cmd_write(const char *dir, const char *name, char *svg, GError **error)
{
    g_autofree char *text = svg;
    g_autofree char *file = g_strconcat(name, ".svg", NULL);
    g_autofree char *path = g_build_filename(dir, file, NULL);
    g_autoptr(GError) local = NULL;

    if (!g_file_set_contents(path, text, -1, &local)) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO, "%s", local->message);
        return FALSE;
    }
    printf("%s\n", path);
    return TRUE;
}

/* Returns the rank of @policy in the registry (xen, xen-classic, qemu, fragment), or
 * G_MAXINT for others: comparisons list policies in the suite's order. */
static int
fm_plot_cmd_policy_rank(const char *policy)
{
    const FmPolicyOps *const *all = fm_policy_list();

    for (int i = 0; all[i]; i++) {
        if (g_str_equal(all[i]->name, policy))
            return i;
    }
    return G_MAXINT;
}

/* GCompareFunc over FmRunRecord pointers: by policy rank, then name. */
static gint
fm_plot_cmd_compare_runs(gconstpointer a, gconstpointer b)
{
    const FmRunRecord *ra = *(FmRunRecord *const *)a, *rb = *(FmRunRecord *const *)b;
    int ka = fm_plot_cmd_policy_rank(ra->policy), kb = fm_plot_cmd_policy_rank(rb->policy);

    if (ka != kb)
        return ka < kb ? -1 : 1;
    return strcmp(ra->policy, rb->policy);
}

/* Draws every figure of @set that @filter keeps into @dir; returns the number of
 * files written, or -1 with @error. */
static int
fm_plot_cmd_draw(const FmRunRecordSet *set, const FmPlotFilter *filter, const char *dir,
                 GError **error)
{
    g_autoptr(GPtrArray) scenarios = g_ptr_array_new();
    int written = 0;

    for (guint i = 0; i < fm_run_record_set_n_runs(set); i++) {
        FmRunRecord *run = fm_run_record_set_get_run(set, i);
        g_autofree char *stem = fm_run_record_file_stem(run->scenario, run->policy);
        g_autofree char *name = NULL;
        gboolean seen = FALSE;

        if (!fm_plot_cmd_keep(filter, run->scenario, run->policy))
            continue;
        if (run->rounds->len > 0) {
            name = g_strconcat(stem, ".remaining", NULL);
            if (!fm_plot_cmd_write(dir, name, fm_plot_remaining(&run, 1), error))
                return -1;
            g_free(name);
            name = g_strconcat(stem, ".sent", NULL);
            if (!fm_plot_cmd_write(dir, name, fm_plot_sent(&run, 1), error))
                return -1;
            g_clear_pointer(&name, g_free);
            written += 2;
            for (guint k = 0; k < scenarios->len; k++)
                seen = seen || g_str_equal(scenarios->pdata[k], run->scenario);
            if (!seen)
                g_ptr_array_add(scenarios, run->scenario);
        }
        if (run->heat_columns > 0 && fm_run_record_heat_rows(run) > 0) {
            name = g_strconcat(stem, ".heat", NULL);
            if (!fm_plot_cmd_write(dir, name, fm_plot_heat(run), error))
                return -1;
            written++;
        }
    }

    /* several policies on one scenario: the comparisons */
    for (guint k = 0; k < scenarios->len; k++) {
        g_autoptr(GPtrArray) runs = g_ptr_array_new();
        g_autofree char *stem = fm_run_record_file_stem(scenarios->pdata[k], NULL);
        g_autofree char *name = NULL;

        for (guint i = 0; i < fm_run_record_set_n_runs(set); i++) {
            FmRunRecord *run = fm_run_record_set_get_run(set, i);
            if (g_str_equal(run->scenario, scenarios->pdata[k]) && run->rounds->len > 0 &&
                fm_plot_cmd_keep(filter, run->scenario, run->policy))
                g_ptr_array_add(runs, run);
        }
        if (runs->len < 2)
            continue;
        g_ptr_array_sort(runs, fm_plot_cmd_compare_runs);
        name = g_strconcat(stem, ".remaining", NULL);
        if (!fm_plot_cmd_write(dir, name, fm_plot_remaining((FmRunRecord *const *)runs->pdata,
                                                            runs->len), error))
            return -1;
        g_free(name);
        name = g_strconcat(stem, ".sent", NULL);
        if (!fm_plot_cmd_write(dir, name, fm_plot_sent((FmRunRecord *const *)runs->pdata,
                                                       runs->len), error))
            return -1;
        written += 2;
    }

    for (guint i = 0; i < fm_run_record_set_n_suites(set); i++) {
        const FmSuite *suite = fm_run_record_set_get_suite(set, i);
        FmSuite kept = { suite->name, g_array_new(FALSE, FALSE, sizeof(FmSuiteRow)) };
        g_autofree char *stem = fm_run_record_file_stem(suite->name, NULL);
        gboolean ok = TRUE;

        for (guint r = 0; r < suite->rows->len; r++) {
            const FmSuiteRow *row = &g_array_index(suite->rows, FmSuiteRow, r);
            if (fm_plot_cmd_keep(filter, row->scenario, row->policy))
                g_array_append_vals(kept.rows, row, 1);
        }
        if (kept.rows->len > 0) {
            ok = fm_plot_cmd_write(dir, stem, fm_plot_suite(&kept), error);
            written++;
        }
        g_array_unref(kept.rows);
        if (!ok)
            return -1;
    }
    return written;
}

/* The plot command; returns an exit status. */
int
fm_cmd_plot(int argc, char **argv)
{
    g_autofree char *out_dir = NULL;
    g_auto(GStrv) policy_args = NULL;
    g_auto(GStrv) scenario_args = NULL;
    g_autoptr(GPtrArray) policies = NULL;
    g_autoptr(FmRunRecordSet) set = fm_run_record_set_new();
    g_autoptr(GError) error = NULL;
    FmPlotFilter filter = { NULL, NULL };
    int written;
    GOptionEntry entries[] = {
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir,
          N_("directory for the SVG files (default: the current directory)"), "DIR" },
        { "scenario", 's', 0, G_OPTION_ARG_STRING_ARRAY, &scenario_args,
          N_("only scenarios whose name matches GLOB (repeatable)"), "GLOB" },
        { "policy", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &policy_args,
          N_("only these policies, comma-separated"), "P[,P...]" },
        { NULL, 0, 0, 0, NULL, NULL, NULL }
    };

    if (!fm_cmd_parse_options(&argc, &argv, _("FILE..."),
                              _("Draw SVG figures from run records (fragmig simulate --record-dir) and suite CSVs (fragmig simulate --format csv): data remaining over time with the round boundaries, data sent per round, the heat map of fragments x rounds with HOT fragments marked, comparisons of the policies on one scenario, and the suite's total time, downtime and data per policy."), entries))
        return FM_EXIT_USAGE;
    if (argc < 2)
        return fm_cmd_fail(FM_EXIT_USAGE, _("no file given (try 'fragmig plot --help')"));
    for (guint i = 0; policy_args && policy_args[i]; i++) {
        g_auto(GStrv) names = g_strsplit(policy_args[i], ",", -1);

        if (policies == NULL)
            policies = g_ptr_array_new_with_free_func(g_free);
        for (guint j = 0; names[j]; j++) {
            if (*g_strstrip(names[j]))
                g_ptr_array_add(policies, g_strdup(names[j]));
        }
    }
    filter.scenarios = scenario_args;
    filter.policies = policies;

    for (int i = 1; i < argc; i++) {
        if (!fm_run_record_set_load_file(set, argv[i], &error))
            return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
    }
    if (out_dir == NULL)
        out_dir = g_strdup(".");
    if (g_mkdir_with_parents(out_dir, 0777) < 0) {
        int saved = errno;
        return fm_cmd_fail(FM_EXIT_FAILURE, _("cannot create directory '%s': %s"), out_dir,
                           g_strerror(saved));
    }
    written = fm_plot_cmd_draw(set, &filter, out_dir, &error);
    if (written < 0)
        return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
    if (written == 0)
        return fm_cmd_fail(FM_EXIT_FAILURE, _("nothing to plot: no run or suite row is left after --scenario and --policy"));
    return FM_EXIT_OK;
}
