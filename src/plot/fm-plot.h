/*
 * fm-plot.h: the figures of `fragmig plot`, as SVG text: pure functions of run
 * records (fm-run-record.h), built with fm-svg.h.  The same records give the same bytes.
 *
 * - fm_plot_remaining(): data remaining vs time, one run with its round boundaries
 *   and stop-and-copy shaded, or several runs (policies) of one scenario overlaid;
 * - fm_plot_sent(): data sent per round (the stop-and-copy last, hatched), one run or
 *   several side by side;
 * - fm_plot_heat(): the heat map of one run: columns of fragments (in address order)
 *   x rounds, coloured by the share of a fragment's pages dirtied during the round,
 *   HOT fragments hatched;
 * - fm_plot_suite(): a scenario suite: grouped bars of total time, downtime and data
 *   sent, one bar per policy in each scenario's group (log scale where the values
 *   span more than two decades).
 *
 * Each policy has the same colour in every figure (fm_plot_policy_colour()).  Data
 * series carry class "series", bars class "bar", heat cells class "cell" / "hot",
 * each with a <title> naming what it shows.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "report/fm-run-record.h"

G_BEGIN_DECLS

/* Returns the colour of @policy ("#rrggbb", static): fixed for the registered
 * policies, by order of the registry; another name gets a colour from its letters. */
const char *fm_plot_policy_colour(const char *policy);

/* Each returns a new SVG document (caller frees).  @runs must have rounds. */
char *fm_plot_remaining(FmRunRecord *const *runs, guint n);
char *fm_plot_sent(FmRunRecord *const *runs, guint n);
/* @run must have a heat map (heat_columns > 0). */
char *fm_plot_heat(const FmRunRecord *run);
/* @suite must have rows. */
char *fm_plot_suite(const FmSuite *suite);

G_END_DECLS
