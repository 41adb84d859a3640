/*
 * fm-report.h: the result table of migrations (simulated or real), printed as an
 * aligned table for people, CSV for spreadsheets and plots, or JSON for tools.
 * Column keys (CSV header, JSON members) are stable and untranslated; table headings
 * are translated.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdio.h>
#include <glib.h>
#include "util/fm-enum.h"
#include "engine/fm-job.h"
#include "migrate/fm-migration.h"

G_BEGIN_DECLS

typedef enum {
    FM_REPORT_TABLE,
    FM_REPORT_CSV,
    FM_REPORT_JSON,
    FM_REPORT_FORMAT_LAST
} FmReportFormat;

typedef struct {
    char *scenario;
    char *policy;
    double bandwidth;       /* link bytes per second (for the physical limit) */
    double data_bound;      /* bytes no run of the engine can send less than
                             * (fm_sim_data_bound()); 0 = unknown (real runs) */
    FmJobStats stats;
    gboolean completed;
    gboolean verified;      /* destination content checked and equal */
    double wall_seconds;    /* real time the run took (simulations) */
    double max_downtime;    /* the downtime target of the run, seconds, when
                             * has_max_downtime (fm_report_row_set_migration()) */
    gboolean has_max_downtime;
    double handover_seconds; /* live migrations: the destination's READY to its
                             * RESULT (docs/stream-format.md §5.1); 0 otherwise */
} FmReportRow;

typedef struct _FmReport FmReport;

/* Returns a new, empty report (caller frees). */
FmReport *fm_report_new(void);
/* Sets the command whose result @report is ("migrate", "simulate", ...): the
 * "command" of its JSON document (fm-report-json.h).  @command is static. */
void fm_report_set_command(FmReport *report, const char *command);
/* Fills @row's stats and downtime target from @mig, which ran (or tried to). */
void fm_report_row_set_migration(FmReportRow *row, FmMigration *mig);
/* Returns TRUE when @row completed with a downtime above its target. */
gboolean fm_report_row_missed_target(const FmReportRow *row);
void fm_report_free(FmReport *report);
/* Appends a row (copied). */
void fm_report_add(FmReport *report, const FmReportRow *row);
/* Returns the number of rows. */
guint fm_report_length(const FmReport *report);
/* Returns row @i (borrowed). */
const FmReportRow *fm_report_get(const FmReport *report, guint i);
/* Writes the report to @out in @format: JSON as fm_report_print_json(); the table
 * for people fits 80 columns (columns that do not fit are left to CSV and JSON,
 * and a line says so) and is followed by a line for each run that missed its
 * downtime target. */
void fm_report_print(const FmReport *report, FmReportFormat format, FILE *out);
/* Names of the formats ("table", "csv", "json"). */
FM_ENUM_DECL(fm_report_format, FmReportFormat);
/* Parses a format name into *@format; FALSE with @error naming the known ones. */
gboolean fm_report_format_parse(const char *text, FmReportFormat *format, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmReport, fm_report_free)

G_END_DECLS
