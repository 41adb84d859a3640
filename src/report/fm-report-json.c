/*
 * fm-report-json.c: the JSON documents of docs/json.md, built with json-glib.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <math.h>
#include <json-glib/json-glib.h>

#include "report/fm-report-json.h"

/* Adds member @name with @value, or null when it is not a finite number (a ratio
 * over an unknown limit).  Not rounded: json-glib writes 17 significant digits,
 * with which a rounded value would read no shorter, only less exact. */
static void
fm_json_add_number(JsonBuilder *b, const char *name, double value)
{
    json_builder_set_member_name(b, name);
    if (isfinite(value))
        json_builder_add_double_value(b, value);
    else
        json_builder_add_null_value(b);
}

/* Adds member @name as a string, or null for NULL. */
static void
fm_json_add_string(JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name(b, name);
    if (value)
        json_builder_add_string_value(b, value);
    else
        json_builder_add_null_value(b);
}

/* Adds member @name as an integer. */
static void
fm_json_add_int(JsonBuilder *b, const char *name, guint64 value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, (gint64)MIN(value, (guint64)G_MAXINT64));
}

/* Adds member @name as a boolean. */
static void
fm_json_add_bool(JsonBuilder *b, const char *name, gboolean value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_boolean_value(b, value);
}

/* Returns a builder inside the document's open top object, its "schema" and
 * "command" written (caller unrefs). */
static JsonBuilder *
fm_json_begin(const char *command)
{
    JsonBuilder *b = json_builder_new();

    json_builder_begin_object(b);
    fm_json_add_int(b, "schema", FM_REPORT_JSON_SCHEMA);
    fm_json_add_string(b, "command", command);
    return b;
}

/* Closes the top object of @b and writes the document, indented by 2, and a
 * newline to @out. */
static void
fm_json_finish(JsonBuilder *b, FILE *out)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *text = NULL;

    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, TRUE);
    json_generator_set_indent(gen, 2);
    text = json_generator_to_data(gen, NULL);
    fprintf(out, "%s\n", text);
    fflush(out);
}

/* Adds the members every run has (docs/json.md, "A run") from @row to the open
 * object of @b; @params is the candidate's own parameters (advise) or NULL. */
static void
fm_json_run_members(JsonBuilder *b, const FmReportRow *row, const char *params)
{
    const FmJobStats *st = &row->stats;
    double limit_time = row->bandwidth > 0 ? st->memory_total / row->bandwidth : 0;

    fm_json_add_string(b, "scenario", row->scenario);
    fm_json_add_string(b, "policy", row->policy);
    fm_json_add_string(b, "params", params);
    fm_json_add_bool(b, "completed", row->completed);
    fm_json_add_bool(b, "verified", row->completed && row->verified);
    fm_json_add_string(b, "stop_reason", fm_stop_reason_to_string(st->stop_reason));
    fm_json_add_number(b, "total_time_s", st->time_elapsed);
    fm_json_add_number(b, "downtime_ms", st->downtime * 1000);
    fm_json_add_number(b, "max_downtime_ms",
                       row->has_max_downtime ? row->max_downtime * 1000 : NAN);
    json_builder_set_member_name(b, "downtime_target_met");
    if (row->has_max_downtime && row->completed)
        json_builder_add_boolean_value(b, !fm_report_row_missed_target(row));
    else
        json_builder_add_null_value(b);
    fm_json_add_number(b, "data_sent_mib", st->data_processed / 1048576.0);
    fm_json_add_int(b, "rounds", st->memory_iteration);
    fm_json_add_int(b, "pages_resent", st->pages_resent);
    fm_json_add_int(b, "hot_fragments", st->fragments_hot);
    fm_json_add_number(b, "guest_slowdown_pct", st->guest_slowdown * 100);
    fm_json_add_number(b, "bandwidth_mib_s", row->bandwidth > 0 ? row->bandwidth / 1048576.0 : NAN);
    fm_json_add_number(b, "time_ratio", limit_time > 0 ? st->time_elapsed / limit_time : NAN);
    fm_json_add_number(b, "data_ratio",
                       st->memory_total ? (double)st->data_processed / st->memory_total : NAN);
    fm_json_add_number(b, "data_bound_ratio",
                       row->data_bound > 0 ? st->data_processed / row->data_bound : NAN);
    fm_json_add_number(b, "wall_s", row->wall_seconds > 0 ? row->wall_seconds : NAN);
    fm_json_add_number(b, "handover_ms",
                       row->handover_seconds > 0 ? row->handover_seconds * 1000 : NAN);
}

/* Writes the document of @command with @report's rows; see the header. */
void
fm_report_print_json(const FmReport *report, const char *command, FILE *out)
{
    g_autoptr(JsonBuilder) b = fm_json_begin(command);

    json_builder_set_member_name(b, "runs");
    json_builder_begin_array(b);
    for (guint i = 0; i < fm_report_length(report); i++) {
        json_builder_begin_object(b);
        fm_json_run_members(b, fm_report_get(report, i), NULL);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    fm_json_finish(b, out);
}

/* Writes advise's document; see the header. */
void
fm_report_print_advice_json(const FmAdvice *advice, FILE *out)
{
    g_autoptr(JsonBuilder) b = fm_json_begin("advise");
    const FmAdviseOptions *opt = &advice->options;

    json_builder_set_member_name(b, "runs");
    json_builder_begin_array(b);
    for (guint i = 0; i < advice->rows->len; i++) {
        const FmAdviceRow *cand = &g_array_index(advice->rows, FmAdviceRow, i);
        /* a simulated run: completed means verified there */
        FmReportRow row = {
            .policy = (char *)cand->policy->name,
            .bandwidth = opt->bandwidth,
            .stats = cand->stats,
            .completed = cand->completed,
            .verified = cand->completed,
            .max_downtime = opt->max_downtime,
            .has_max_downtime = TRUE,
        };

        json_builder_begin_object(b);
        fm_json_run_members(b, &row, cand->variant);
        fm_json_add_bool(b, "converges", cand->converges);
        /* the limit less the downtime no policy changes (fm-advise.h) */
        fm_json_add_bool(b, "meets_limit", cand->meets_limit);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);

    json_builder_set_member_name(b, "advice");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "guest");
    json_builder_begin_object(b);
    fm_json_add_int(b, "page_size", advice->page_size);
    fm_json_add_int(b, "pages", advice->page_count);
    fm_json_add_number(b, "memory_mib", advice->page_count * advice->page_size / 1048576.0);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "observed");
    json_builder_begin_object(b);
    fm_json_add_number(b, "seconds", advice->observed_seconds);
    fm_json_add_int(b, "intervals", advice->intervals);
    fm_json_add_number(b, "dirty_pages_per_s", advice->dirty_rate);
    fm_json_add_int(b, "working_set_pages", advice->working_set);
    json_builder_end_object(b);
    fm_json_add_number(b, "bandwidth_mib_s", opt->bandwidth / 1048576.0);
    fm_json_add_number(b, "max_downtime_ms", opt->max_downtime * 1000);
    fm_json_add_number(b, "verify_rate_mib_s", opt->verify_rate / 1048576.0);
    fm_json_add_number(b, "pause_cost_ms", opt->pause_cost * 1000);
    fm_json_add_number(b, "fixed_downtime_ms", advice->fixed_downtime * 1000);
    json_builder_set_member_name(b, "recommended");
    if (advice->recommended >= 0)
        json_builder_add_int_value(b, advice->recommended);
    else
        json_builder_add_null_value(b);
    fm_json_add_bool(b, "meets_limit", advice->meets_limit);
    json_builder_end_object(b);
    fm_json_finish(b, out);
}
