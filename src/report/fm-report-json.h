/*
 * fm-report-json.h: the JSON every command prints with --format json (migrate,
 * simulate, advise, demo, save), one document in the schema of docs/json.md:
 *
 *   { "schema": 1, "command": "migrate", "runs": [ RUN, ... ], "advice": {...} }
 *
 * RUN has the same members for a real, a simulated and an advised migration
 * (unknown values are null, flags are booleans); "advice" is advise's only.
 * Written with json-glib, so that the output is always valid JSON whatever the
 * strings hold.  The header names no json-glib type: the driver library installs it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdio.h>
#include <glib.h>
#include "advise/fm-advise.h"
#include "report/fm-report.h"

G_BEGIN_DECLS

/* The version of the schema of docs/json.md: raised when a member changes meaning
 * or goes away (new members do not raise it). */
#define FM_REPORT_JSON_SCHEMA 1

/* Writes @report's rows as the document of @command ("migrate", "simulate", ...),
 * followed by a newline, to @out. */
void fm_report_print_json(const FmReport *report, const char *command, FILE *out);
/* Writes @advice as the document of "advise": its candidates as runs, and the
 * observation and the recommendation as "advice", to @out. */
void fm_report_print_advice_json(const FmAdvice *advice, FILE *out);

G_END_DECLS
