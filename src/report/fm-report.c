/*
 * fm-report.c: the result table of migrations, as text, CSV or JSON.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <string.h>

#include "report/fm-report.h"
#include "report/fm-report-json.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"

struct _FmReport {
    GArray *rows;         /* FmReportRow, strings owned */
    const char *command;  /* static */
};

/* The table for people fits this many columns: a terminal's default width. */
#define FM_REPORT_TABLE_WIDTH 80

/* A column: its stable key, its translated heading, and either a string or a number
 * (with its printf precision) taken from a row. */
typedef struct {
    const char *key;
    const char *heading;  /* N_() */
    const char *(*text)(const FmReportRow *row);
    double (*number)(const FmReportRow *row);
    int precision;
    int rank;             /* the table for people drops the highest ranks first
                           * when it does not fit */
} FmReportColumn;

static const char *col_scenario(const FmReportRow *r) { return r->scenario; }
static const char *col_policy(const FmReportRow *r) { return r->policy; }
static const char *col_reason(const FmReportRow *r) { return fm_stop_reason_to_string(r->stats.stop_reason); }
static const char *col_verified(const FmReportRow *r)
{
    return !r->completed ? "failed" : r->verified ? "yes" : "no";
}
static double col_total(const FmReportRow *r) { return r->stats.time_elapsed; }
static double col_downtime(const FmReportRow *r) { return r->stats.downtime * 1000; }
static double col_data(const FmReportRow *r) { return r->stats.data_processed / 1048576.0; }
static double col_rounds(const FmReportRow *r) { return r->stats.memory_iteration; }
static double col_resent(const FmReportRow *r) { return r->stats.pages_resent; }
static double col_hot(const FmReportRow *r) { return r->stats.fragments_hot; }
static double col_slowdown(const FmReportRow *r) { return r->stats.guest_slowdown * 100; }
static double col_wall(const FmReportRow *r) { return r->wall_seconds; }

/* Total time over the physical limit: memory / bandwidth. */
static double
col_time_ratio(const FmReportRow *r)
{
    double limit = r->bandwidth > 0 ? r->stats.memory_total / r->bandwidth : 0;
    return limit > 0 ? r->stats.time_elapsed / limit : 0;
}

/* Data sent over the physical limit: memory. */
static double
col_data_ratio(const FmReportRow *r)
{
    return r->stats.memory_total ? (double)r->stats.data_processed / r->stats.memory_total : 0;
}

/* Data sent over the online lower bound (fm_sim_data_bound()); 0 where unknown. */
static double
col_data_bound_ratio(const FmReportRow *r)
{
    return r->data_bound > 0 ? r->stats.data_processed / r->data_bound : 0;
}

static const FmReportColumn fm_report_columns[] = {
    { "scenario", N_("scenario"), col_scenario, NULL, 0, 5 },
    { "policy", N_("policy"), col_policy, NULL, 0, 0 },
    { "total_time_s", N_("time (s)"), NULL, col_total, 2, 1 },
    { "downtime_ms", N_("downtime (ms)"), NULL, col_downtime, 1, 0 },
    { "data_sent_mib", N_("data (MiB)"), NULL, col_data, 1, 2 },
    { "rounds", N_("rounds"), NULL, col_rounds, 0, 4 },
    { "pages_resent", N_("re-sent"), NULL, col_resent, 0, 9 },
    { "hot_fragments", N_("hot"), NULL, col_hot, 0, 7 },
    { "guest_slowdown_pct", N_("slowdown %"), NULL, col_slowdown, 1, 8 },
    { "time_ratio", N_("time/limit"), NULL, col_time_ratio, 2, 10 },
    { "data_ratio", N_("data/mem"), NULL, col_data_ratio, 2, 11 },
    { "data_bound_ratio", N_("data/bound"), NULL, col_data_bound_ratio, 2, 12 },
    { "stop_reason", N_("stop reason"), col_reason, NULL, 0, 6 },
    { "verified", N_("verified"), col_verified, NULL, 0, 3 },
    { "wall_s", N_("wall (s)"), NULL, col_wall, 3, 13 },
};

/* Returns a new empty report. */
FmReport *
fm_report_new(void)
{
    FmReport *report = g_new0(FmReport, 1);

    report->rows = g_array_new(FALSE, TRUE, sizeof(FmReportRow));
    return report;
}

/* Frees @report and its rows; NULL ok. */
void
fm_report_free(FmReport *report)
{
    if (report == NULL)
        return;
    for (guint i = 0; i < report->rows->len; i++) {
        FmReportRow *row = &g_array_index(report->rows, FmReportRow, i);
        g_free(row->scenario);
        g_free(row->policy);
    }
    g_array_unref(report->rows);
    g_free(report);
}

/* Sets the command of @report's JSON document. */
void
fm_report_set_command(FmReport *report, const char *command)
{
    report->command = command;
}

/* Fills @row's stats and downtime target from @mig. */
void
fm_report_row_set_migration(FmReportRow *row, FmMigration *mig)
{
    FmJob *job = fm_migration_get_job(mig);

    fm_migration_copy_stats(mig, &row->stats);
    /* no job: the knobs were refused before it existed, there is no target */
    row->has_max_downtime = job != NULL;
    row->max_downtime = job ? fm_job_get_max_downtime(job) : 0;
}

/* Returns TRUE when @row completed above its downtime target. */
gboolean
fm_report_row_missed_target(const FmReportRow *row)
{
    return row->completed && row->has_max_downtime && row->stats.downtime > row->max_downtime;
}

/* Appends a copy of @row. */
void
fm_report_add(FmReport *report, const FmReportRow *row)
{
    FmReportRow copy = *row;

    copy.scenario = g_strdup(row->scenario);
    copy.policy = g_strdup(row->policy);
    g_array_append_val(report->rows, copy);
}

/* Returns the number of rows. */
guint
fm_report_length(const FmReport *report)
{
    return report->rows->len;
}

/* Returns row @i (borrowed). */
const FmReportRow *
fm_report_get(const FmReport *report, guint i)
{
    g_return_val_if_fail(i < report->rows->len, NULL);
    return &g_array_index(report->rows, FmReportRow, i);
}

/* Returns the cell of @col in @row as a new string (caller frees). */
static char *
fm_report_cell(const FmReportColumn *col, const FmReportRow *row)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_autofree char *fmt = NULL;

    if (col->text)
        return g_strdup(col->text(row) ? col->text(row) : "");
    fmt = g_strdup_printf("%%.%df", col->precision);
    /* locale-independent: CSV and JSON readers expect a dot */
    return g_strdup(g_ascii_formatd(buf, sizeof(buf), fmt, col->number(row)));
}

/* Prints @text as a CSV field, quoted when it needs to be. */
static void
fm_report_csv_field(FILE *out, const char *text)
{
    if (strpbrk(text, ",\"\n") == NULL) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

/* Prints the table for people: the columns that fit FM_REPORT_TABLE_WIDTH, by
 * rank, then a line for each run that missed its downtime target. */
static void
fm_report_print_table(const FmReport *report, FILE *out)
{
    const guint ncols = G_N_ELEMENTS(fm_report_columns);
    guint nrows = report->rows->len;
    g_autofree int *width = g_new0(int, ncols);
    g_autofree gboolean *shown = g_new0(gboolean, ncols);
    g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);
    gboolean hidden = FALSE;
    int line = -2;
    gboolean first = TRUE;

    /* line 0 holds the headings, line r + 1 row r */
    for (guint c = 0; c < ncols; c++)
        g_ptr_array_add(cells, g_strdup(_(fm_report_columns[c].heading)));
    for (guint r = 0; r < nrows; r++) {
        for (guint c = 0; c < ncols; c++)
            g_ptr_array_add(cells, fm_report_cell(&fm_report_columns[c],
                                                  fm_report_get(report, r)));
    }
    for (guint i = 0; i < cells->len; i++)
        width[i % ncols] = MAX(width[i % ncols], (int)g_utf8_strlen(cells->pdata[i], -1));
    /* the most important columns first, while they fit (2 blanks between two) */
    for (int rank = 0; rank <= 13; rank++) {
        for (guint c = 0; c < ncols; c++) {
            if (fm_report_columns[c].rank != rank)
                continue;
            if (line + 2 + width[c] <= FM_REPORT_TABLE_WIDTH) {
                shown[c] = TRUE;
                line += 2 + width[c];
            } else {
                hidden = TRUE;
            }
        }
    }
    for (guint i = 0; i < cells->len; i++) {
        guint c = i % ncols;
        int pad = width[c] - (int)g_utf8_strlen(cells->pdata[i], -1);
        gboolean left = fm_report_columns[c].text != NULL;
        gboolean last = TRUE;

        for (guint d = c + 1; d < ncols; d++)
            last = last && !shown[d];
        if (c == 0)
            first = TRUE;
        if (shown[c]) {
            /* text left-aligned, numbers right-aligned; no trailing blanks */
            fprintf(out, "%s%*s%s", first ? "" : "  ", left ? 0 : pad, "",
                    (const char *)cells->pdata[i]);
            if (left && !last)
                fprintf(out, "%*s", pad, "");
            first = FALSE;
        }
        if (c + 1 == ncols)
            fputc('\n', out);
    }
    if (hidden)
        fprintf(out, _("(more columns with --format csv or json)\n"));
    for (guint r = 0; r < nrows; r++) {
        const FmReportRow *row = fm_report_get(report, r);

        if (!fm_report_row_missed_target(row))
            continue;
        if (row->scenario)
            fprintf(out, _("%s, %s: the downtime, %.1f ms, missed the target of %.1f ms\n"),
                    row->scenario, row->policy, row->stats.downtime * 1000,
                    row->max_downtime * 1000);
        else
            fprintf(out, _("%s: the downtime, %.1f ms, missed the target of %.1f ms\n"),
                    row->policy, row->stats.downtime * 1000, row->max_downtime * 1000);
    }
}

/* Writes the report in @format. */
void
fm_report_print(const FmReport *report, FmReportFormat format, FILE *out)
{
    const guint ncols = G_N_ELEMENTS(fm_report_columns);
    guint nrows = report->rows->len;

    switch (format) {
    case FM_REPORT_CSV:
        for (guint c = 0; c < ncols; c++)
            fprintf(out, "%s%s", c ? "," : "", fm_report_columns[c].key);
        fputc('\n', out);
        for (guint r = 0; r < nrows; r++) {
            for (guint c = 0; c < ncols; c++) {
                g_autofree char *cell = fm_report_cell(&fm_report_columns[c],
                                                       fm_report_get(report, r));
                if (c)
                    fputc(',', out);
                fm_report_csv_field(out, cell);
            }
            fputc('\n', out);
        }
        break;

    case FM_REPORT_JSON:
        fm_report_print_json(report, report->command, out);
        break;

    case FM_REPORT_TABLE:
    default:
        fm_report_print_table(report, out);
        break;
    }
}

FM_ENUM_IMPL(fm_report_format, FmReportFormat, FM_REPORT_FORMAT_LAST,
             "table", "csv", "json");

/* Parses a format name into *@format; FALSE with @error if unknown. */
gboolean
fm_report_format_parse(const char *text, FmReportFormat *format, GError **error)
{
    int value = fm_report_format_from_string(text);
    g_autofree char *quoted = NULL;

    if (value >= 0) {
        *format = value;
        return TRUE;
    }
    quoted = fm_quote(text, -1);
    g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                _("unknown output format %s (use table, csv or json)"), quoted);
    return FALSE;
}
