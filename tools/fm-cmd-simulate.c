/*
 * fm-cmd-simulate.c: `fragmig simulate SCENARIO.xml... [--policy P[,P...]]
 * [--param NAME=VALUE]... [--format table|csv|json] [--record-dir DIR]`: runs each
 * scenario under each policy in the simulator (the real engine over the sim backend)
 * and prints the results, each run checked page by page against the source; with
 * --record-dir, each run's rounds and fragment heat map are written there for
 * `fragmig plot` (fm-run-record.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "fm-cmd.h"
#include "report/fm-run-record.h"
#include "report/fm-report.h"
#include "backend/sim/fm-sim.h"
#include "conf/fm-scenario.h"
#include "engine/fm-job.h"
#include "engine/fm-policy.h"
#include "migrate/fm-migration.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"

/* Parses the --policy values ("xen,fragment", repeatable) into a NULL-terminated
 * array of policies (caller frees the array, not the entries); all policies if none
 * was given.  NULL with @error on an unknown name. */
static const FmPolicyOps **
fm_simulate_parse_policies(char **values, GError **error)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new();

    for (guint i = 0; values && values[i]; i++) {
        g_auto(GStrv) names = g_strsplit(values[i], ",", -1);

        for (guint j = 0; names[j]; j++) {
            const FmPolicyOps *ops;
            char *name = g_strstrip(names[j]);

            if (!*name)
                continue;
            ops = fm_policy_lookup(name);
            if (ops == NULL) {
                g_autofree char *known = fm_policy_names();
                g_autofree char *quoted = fm_quote(name, -1);

                g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                            _("unknown policy %s (known: %s)"), quoted, known);
                return NULL;
            }
            g_ptr_array_add(out, (gpointer)ops);
        }
    }
    if (out->len == 0) {
        const FmPolicyOps *const *all = fm_policy_list();
        for (guint i = 0; all[i]; i++)
            g_ptr_array_add(out, (gpointer)all[i]);
    }
    g_ptr_array_add(out, NULL);
    return (const FmPolicyOps **)g_ptr_array_free(g_steal_pointer(&out), FALSE);
}

/* Runs @scenario under @ops with @params and appends the result to @report; with
 * @record_dir (may be NULL), writes the run's record there.  Returns FALSE (with
 * @error) only for setup errors and unwritable records; a failed migration is a row. */
static gboolean
fm_simulate_one(const FmScenario *scenario, const FmPolicyOps *ops,
                const FmParamSet *params, const char *record_dir, FmReport *report,
                GError **error)
{
    g_autoptr(FmSim) sim = NULL;
    g_autoptr(FmMigration) mig = fm_migration_new();
    g_autoptr(FmRunRecord) record = NULL;
    g_autoptr(GError) run_error = NULL;
    FmReportRow row = { 0 };
    gint64 t0 = g_get_monotonic_time();

    sim = fm_sim_new(scenario, error);
    if (sim == NULL)
        return FALSE;
    fm_migration_set_policy_ops(mig, ops);
    fm_migration_set_shared_params(mig, params);
    if (record_dir) {
        record = fm_run_record_new(scenario->name, ops->name);
        fm_migration_subscribe(mig, FM_RUN_RECORD_EVENTS, fm_run_record_on_event, record);
    }

    row.completed = fm_migration_run(mig, fm_sim_get_backend(sim), fm_sim_get_sink(sim),
                                     NULL, &run_error);
    if (fm_migration_get_job(mig) == NULL) {
        /* a set-up error (a bad knob value), not a failed migration */
        g_propagate_error(error, g_steal_pointer(&run_error));
        return FALSE;
    }
    if (row.completed) {
        row.verified = fm_sim_verify(sim, &run_error);
    }
    if (run_error)
        fm_cmd_fail(FM_EXIT_FAILURE, _("%s under %s: %s"), scenario->name, ops->name,
                    run_error->message);
    row.scenario = scenario->name;
    row.policy = (char *)ops->name;
    row.bandwidth = scenario->bandwidth;
    row.data_bound = fm_sim_data_bound(sim);
    fm_report_row_set_migration(&row, mig);
    row.wall_seconds = (g_get_monotonic_time() - t0) / 1e6;
    fm_report_add(report, &row);
    if (record) {
        if (!fm_run_record_write(record, record_dir, error))
            return FALSE;
    }
    return TRUE;
}

/* The simulate command; returns an exit status. */
int
fm_cmd_simulate(int argc, char **argv)
{
    g_auto(GStrv) policy_args = NULL;
    g_auto(GStrv) param_args = NULL;
    g_autofree char *format_arg = NULL;
    g_autofree char *record_dir = NULL;
    g_autofree const FmPolicyOps **policies = NULL;
    g_autofree const FmParamSpec **tables = NULL;
    g_autoptr(FmParamSet) cli_params = fm_param_set_new();
    g_autoptr(FmReport) report = fm_report_new();
    g_autoptr(GError) error = NULL;
    FmReportFormat format = FM_REPORT_TABLE;
    int status = FM_EXIT_OK;
    GOptionEntry entries[] = {
        { "policy", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &policy_args,
          N_("policies to run, comma-separated (default: all)"), "P[,P...]" },
        { "param", 'P', 0, G_OPTION_ARG_STRING_ARRAY, &param_args,
          N_("set an engine or policy parameter (see 'fragmig policies')"), "NAME=VALUE" },
        { "format", 'f', 0, G_OPTION_ARG_STRING, &format_arg,
          N_("output format: table, csv or json (default: table)"), "FORMAT" },
        { "record-dir", 'r', 0, G_OPTION_ARG_FILENAME, &record_dir,
          N_("write each run's rounds and heat map there, for 'fragmig plot'"), "DIR" },
        { NULL, 0, 0, 0, NULL, NULL, NULL }
    };

    if (!fm_cmd_parse_options(&argc, &argv, _("SCENARIO.xml..."),
                              _("Run each scenario under each policy in the simulator and print total time, downtime, data sent, rounds, pages re-sent, guest slowdown, stop reason and the ratios to the physical limits."), entries))
        return FM_EXIT_USAGE;
    if (argc < 2)
        return fm_cmd_fail(FM_EXIT_USAGE, _("no scenario given (try 'fragmig simulate --help')"));
    if (format_arg && !fm_report_format_parse(format_arg, &format, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", error->message);
    policies = fm_simulate_parse_policies(policy_args, &error);
    if (policies == NULL)
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", error->message);
    tables = fm_migration_param_tables(policies);
    for (guint i = 0; param_args && param_args[i]; i++) {
        if (!fm_param_set_parse(cli_params, param_args[i], &error))
            return fm_cmd_fail(FM_EXIT_USAGE, "%s", error->message);
    }
    if (!fm_param_set_check(cli_params, tables, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", error->message);

    for (int i = 1; i < argc; i++) {
        g_autoptr(FmScenario) scenario = fm_scenario_load_file(argv[i], &error);
        g_autoptr(FmParamSet) params = fm_param_set_new();

        if (scenario == NULL)
            return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
        /* the scenario's own settings first, the command line's override them */
        for (guint j = 0; j < scenario->params->len; j++) {
            const FmScenarioParam *p = &g_array_index(scenario->params, FmScenarioParam, j);
            fm_param_set_set(params, p->name, p->value);
        }
        if (!fm_param_set_check(params, tables, &error))
            return fm_cmd_fail(FM_EXIT_FAILURE, "%s: %s", argv[i], error->message);
        for (guint j = 0; j < fm_param_set_length(cli_params); j++) {
            const char *name, *value;
            fm_param_set_nth(cli_params, j, &name, &value);
            fm_param_set_set(params, name, value);
        }
        for (guint p = 0; policies[p]; p++) {
            if (!fm_simulate_one(scenario, policies[p], params, record_dir, report, &error))
                return fm_cmd_fail(FM_EXIT_FAILURE, "%s: %s", argv[i], error->message);
            if (!fm_report_get(report, fm_report_length(report) - 1)->verified)
                status = FM_EXIT_FAILURE;
        }
    }
    fm_report_set_command(report, "simulate");
    fm_report_print(report, format, stdout);
    return status;
}
