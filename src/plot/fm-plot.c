/*
 * fm-plot.c: the figures of `fragmig plot`: data remaining vs time, data sent per
 * round, the fragment heat map, and the suite's grouped bars, as SVG.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "plot/fm-plot.h"

#include <math.h>
#include <string.h>

#include "plot/fm-svg.h"
#include "engine/fm-policy.h"
#include "util/fm-i18n.h"

#define FM_PLOT_WIDTH 860.0
#define FM_PLOT_LEFT 84.0
#define FM_PLOT_RIGHT 24.0
#define FM_PLOT_HATCH "url(#hatch)"

/* Colours of the heat map's classes (ColorBrewer YlOrRd), the clean background, and
 * the upper bound of each class: finer at the low end, where most fragments are. */
static const char *const fm_plot_heat_colours[] = {
    "#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026",
    "#800026",
};
static const double fm_plot_heat_bounds[] = { 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9, 1.0 };
G_STATIC_ASSERT(G_N_ELEMENTS(fm_plot_heat_colours) == G_N_ELEMENTS(fm_plot_heat_bounds));
#define FM_PLOT_CLEAN "#f0f0f0"
#define FM_PLOT_PAUSED "#fbdada"
#define FM_PLOT_HOT "#2166ac"

/* A display unit: the divisor from bytes or seconds, and its symbol. */
typedef struct {
    double div;
    const char *symbol;
} FmPlotUnit;

/* Returns the binary unit that shows @max_bytes with 1 to 4 digits. */
static FmPlotUnit
fm_plot_bytes_unit(double max_bytes)
{
    if (max_bytes >= 1073741824.0)
        return (FmPlotUnit){ 1073741824.0, "GiB" };
    if (max_bytes >= 1048576.0)
        return (FmPlotUnit){ 1048576.0, "MiB" };
    return (FmPlotUnit){ 1024.0, "KiB" };
}

/* Returns @value with @decimals decimals, locale-independently (caller frees). */
static char *
fm_plot_number(double value, int decimals)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    char fmt[8];

    g_snprintf(fmt, sizeof(fmt), "%%.%df", CLAMP(decimals, 0, 6));
    return g_strdup(g_ascii_formatd(buf, sizeof(buf), fmt, value));
}

/* Returns a duration for labels: "361 s", "68.9 s", "1.72 s", "5.6 ms" (caller
 * frees). */
static char *
fm_plot_duration(double seconds)
{
    g_autofree char *n = NULL;

    if (seconds >= 1) {
        n = fm_plot_number(seconds, seconds >= 100 ? 0 : seconds >= 10 ? 1 : 2);
        return g_strdup_printf("%s s", n);
    }
    n = fm_plot_number(seconds * 1000, seconds >= 0.1 ? 0 : 1);
    return g_strdup_printf("%s ms", n);
}

/* Returns a size for labels: "8.02 GiB" (caller frees). */
static char *
fm_plot_size(double bytes)
{
    FmPlotUnit unit = fm_plot_bytes_unit(bytes);
    double v = bytes / unit.div;
    g_autofree char *n = fm_plot_number(v, v >= 100 ? 0 : v >= 10 ? 1 : 2);

    return g_strdup_printf("%s %s", n, unit.symbol);
}

/* Returns @policy's colour; see fm-plot.h. */
const char *
fm_plot_policy_colour(const char *policy)
{
    const FmPolicyOps *const *all = fm_policy_list();
    guint i;

    for (i = 0; all[i]; i++) {
        if (g_str_equal(all[i]->name, policy))
            return fm_svg_palette(i);
    }
    /* g_str_hash is a fixed function of the bytes: the same name, the same colour */
    return fm_svg_palette(i + g_str_hash(policy) % 3);
}

/* Draws the title and a subtitle (may be NULL) at the top of a figure @width wide. */
static void
fm_plot_heading(FmSvg *svg, double width, const char *title, const char *subtitle)
{
    fm_svg_text(svg, width / 2, 24, 15, FM_SVG_MIDDLE, 0, TRUE, "title", title);
    if (subtitle)
        fm_svg_text(svg, width / 2, 42, 11, FM_SVG_MIDDLE, 0, FALSE, "subtitle", subtitle);
}

/* Returns when @run ended: its total time, or the end of its last round. */
static double
fm_plot_run_end(const FmRunRecord *run)
{
    const FmRunRecordRound *last;

    if (run->rounds->len == 0)
        return run->finished ? run->total_time : 0;
    last = &g_array_index(run->rounds, FmRunRecordRound, run->rounds->len - 1);
    return MAX(run->finished ? run->total_time : 0, last->base.start + last->base.duration);
}

/* Returns the time the guest was paused: the end of the last round, or total time
 * minus downtime if that is later. */
static double
fm_plot_pause_time(const FmRunRecord *run)
{
    const FmRunRecordRound *last = &g_array_index(run->rounds, FmRunRecordRound,
                                                  run->rounds->len - 1);

    return MAX(last->base.start + last->base.duration, run->total_time - run->downtime);
}

/* Appends to @pts (x, y pairs of seconds and bytes) the data remaining of @run over
 * time: each round sends from what the last harvest left, the harvest that ends it
 * adds what the guest dirtied meanwhile, and stop-and-copy sends the rest.  Appends
 * to @marks (if not NULL) the point after each harvest. */
static void
fm_plot_remaining_points(const FmRunRecord *run, GArray *pts, GArray *marks)
{
    double left = run->memory;

#define FM_PLOT_PUT(arr, x, y) G_STMT_START { \
        double p_[2] = { (x), (y) }; g_array_append_vals((arr), p_, 2); } G_STMT_END

    FM_PLOT_PUT(pts, 0.0, left);
    for (guint i = 0; i < run->rounds->len; i++) {
        const FmRunRecordRound *r = &g_array_index(run->rounds, FmRunRecordRound, i);
        double end = r->base.start + r->base.duration;
        double sent = (double)r->base.pages_sent * run->page_size;

        FM_PLOT_PUT(pts, r->base.start, left);
        FM_PLOT_PUT(pts, end, MAX(left - sent, 0));
        FM_PLOT_PUT(pts, end, (double)r->data_remaining);
        if (marks)
            FM_PLOT_PUT(marks, end, (double)r->data_remaining);
        left = r->data_remaining;
    }
    if (run->finished && run->rounds->len) {
        double pause = fm_plot_pause_time(run);

        FM_PLOT_PUT(pts, pause, left);
        FM_PLOT_PUT(pts, pause, (double)run->pages_downtime * run->page_size);
        FM_PLOT_PUT(pts, MAX(run->total_time, pause), 0.0);
    }
#undef FM_PLOT_PUT
}

/* Returns "policy: 68.9 s, downtime 17.2 s" (caller frees). */
static char *
fm_plot_run_label(const FmRunRecord *run)
{
    g_autofree char *total = NULL;
    g_autofree char *down = NULL;

    if (!run->finished)
        return g_strdup(run->policy);
    total = fm_plot_duration(run->total_time);
    down = fm_plot_duration(run->downtime);
    return g_strdup_printf(_("%s: %s, downtime %s"), run->policy, total, down);
}

/* Orders runs by decreasing length, so that the shorter ones are drawn on top. */
static gint
fm_plot_compare_length(gconstpointer a, gconstpointer b)
{
    double ea = fm_plot_run_end(*(FmRunRecord *const *)a);
    double eb = fm_plot_run_end(*(FmRunRecord *const *)b);

    return ea > eb ? -1 : ea < eb ? 1 : 0;
}

/* The data remaining figure; see fm-plot.h. */
char *
fm_plot_remaining(FmRunRecord *const *runs, guint n)
{
    g_autoptr(FmSvg) svg = NULL;
    g_autoptr(GPtrArray) labels = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) order = g_ptr_array_new();
    g_autofree FmSvgLegendEntry *legend = g_new0(FmSvgLegendEntry, n + 1);
    g_autofree char *title = NULL;
    g_autofree char *subtitle = NULL;
    g_autofree char *ylabel = NULL;
    FmSvgFrame frame = { 0 };
    FmPlotUnit unit;
    double height = 440, max_bytes = 0, x_step, y_step, y_hi, legend_h;
    const double plot_w = FM_PLOT_WIDTH - FM_PLOT_LEFT - FM_PLOT_RIGHT;
    gboolean single = n == 1;
    guint n_legend = n;

    g_return_val_if_fail(n > 0, NULL);
    for (guint i = 0; i < n; i++) {
        g_return_val_if_fail(runs[i]->rounds->len > 0, NULL);
        max_bytes = MAX(max_bytes, runs[i]->memory);
        for (guint j = 0; j < runs[i]->rounds->len; j++)
            max_bytes = MAX(max_bytes,
                            g_array_index(runs[i]->rounds, FmRunRecordRound, j).data_remaining);
        frame.x_max = MAX(frame.x_max, fm_plot_run_end(runs[i]));
        g_ptr_array_add(labels, single ? g_strdup(runs[i]->policy) : fm_plot_run_label(runs[i]));
        legend[i].name = labels->pdata[i];
        legend[i].colour = fm_plot_policy_colour(runs[i]->policy);
        legend[i].swatch = FM_SVG_SWATCH_LINE;
        g_ptr_array_add(order, runs[i]);
    }
    unit = fm_plot_bytes_unit(max_bytes);

    if (single) {
        const FmRunRecord *run = runs[0];
        g_autofree char *sent = fm_plot_size(run->finished ? run->data_sent
                                              : g_array_index(run->rounds, FmRunRecordRound,
                                                              run->rounds->len - 1).data_sent);
        g_autofree char *total = fm_plot_duration(run->total_time);
        g_autofree char *down = fm_plot_duration(run->downtime);

        title = g_strdup_printf(_("%s under %s: data remaining"), run->scenario, run->policy);
        if (run->finished) {
            subtitle = g_strdup_printf(_("total %s, downtime %s, %s sent in %u rounds; stop: %s"),
                                       total, down, sent, run->rounds->len,
                                       run->stop_reason ? run->stop_reason : "?");
            legend[n_legend].name = _("stop-and-copy: guest paused");
            legend[n_legend].colour = FM_PLOT_PAUSED;
            legend[n_legend++].swatch = FM_SVG_SWATCH_BOX;
        }
    } else {
        title = g_strdup_printf(_("%s: data remaining, by policy"), runs[0]->scenario);
        subtitle = g_strdup(_("dots: the end of each pre-copy round; the last fall is stop-and-copy"));
        g_ptr_array_sort(order, fm_plot_compare_length);
    }

    svg = fm_svg_new(FM_PLOT_WIDTH, height, title);
    fm_plot_heading(svg, FM_PLOT_WIDTH, title, subtitle);
    legend_h = fm_svg_legend(svg, FM_PLOT_LEFT, 52, legend, n_legend, plot_w);
    frame.x = FM_PLOT_LEFT;
    frame.y = 52 + legend_h + (single ? 22 : 10);
    frame.width = plot_w;
    frame.height = height - frame.y - 56;
    frame.x_min = 0;
    x_step = fm_svg_nice_range(&frame.x_min, &frame.x_max, 8);
    frame.y_min = 0;
    y_hi = max_bytes / unit.div;
    y_step = fm_svg_nice_range(&frame.y_min, &y_hi, 5);
    frame.y_max = y_hi;

    ylabel = g_strdup_printf(_("data remaining (%s)"), unit.symbol);
    if (single) {
        const FmRunRecord *run = runs[0];
        double last_label = -1e9;

        /* the pause first, so that the curve and boundaries draw over it */
        if (run->finished) {
            double x0 = fm_svg_frame_x(&frame, fm_plot_pause_time(run));
            double x1 = fm_svg_frame_x(&frame, MAX(run->total_time, fm_plot_pause_time(run)));

            fm_svg_rect(svg, x0, frame.y, MAX(x1 - x0, 1.5), frame.height, FM_PLOT_PAUSED,
                        NULL, "paused", _("stop-and-copy: guest paused"));
        }
        fm_svg_axis_y(svg, &frame, y_step, ylabel);
        fm_svg_begin_group(svg, "rounds", NULL);
        fm_svg_text(svg, frame.x - 8, frame.y - 6, 10, FM_SVG_END, 0, FALSE, "round-label",
                    _("round"));
        for (guint i = 0; i < run->rounds->len; i++) {
            const FmRunRecordRound *r = &g_array_index(run->rounds, FmRunRecordRound, i);
            double px = fm_svg_frame_x(&frame, r->base.start);
            g_autofree char *num = g_strdup_printf("%u", r->base.round);

            if (i > 0)
                fm_svg_line(svg, px, frame.y, px, frame.y + frame.height, "#999999", 1, TRUE);
            if (px - last_label >= 18) {
                fm_svg_text(svg, px, frame.y - 6, 10, FM_SVG_MIDDLE, 0, FALSE, "round-label",
                            num);
                last_label = px;
            }
        }
        fm_svg_end_group(svg);
    } else {
        fm_svg_axis_y(svg, &frame, y_step, ylabel);
    }
    fm_svg_axis_x(svg, &frame, x_step, _("time (s)"), TRUE);

    for (guint i = 0; i < n; i++) {
        const FmRunRecord *run = order->pdata[i];
        g_autoptr(GArray) pts = g_array_new(FALSE, FALSE, sizeof(double));
        g_autoptr(GArray) marks = g_array_new(FALSE, FALSE, sizeof(double));
        const char *colour = fm_plot_policy_colour(run->policy);

        fm_plot_remaining_points(run, pts, marks);
        for (guint k = 0; k < pts->len; k += 2) {
            double *p = &g_array_index(pts, double, k);
            p[0] = fm_svg_frame_x(&frame, p[0]);
            p[1] = fm_svg_frame_y(&frame, p[1] / unit.div);
        }
        fm_svg_polyline(svg, (const double *)pts->data, pts->len / 2, colour,
                        single ? 2 : 1.6, "series", run->policy);
        if (!single) {
            fm_svg_begin_group(svg, "marks", NULL);
            for (guint k = 0; k < marks->len; k += 2) {
                const double *p = &g_array_index(marks, double, k);
                fm_svg_circle(svg, fm_svg_frame_x(&frame, p[0]),
                              fm_svg_frame_y(&frame, p[1] / unit.div), 2.8, colour, "mark");
            }
            fm_svg_end_group(svg);
        }
    }
    return fm_svg_finish(g_steal_pointer(&svg));
}

/* Returns the wire bytes @run sent in round @i, or, for @i == its number of rounds,
 * during stop-and-copy (-1 when it has no such round or did not finish). */
static double
fm_plot_sent_in(const FmRunRecord *run, guint i)
{
    guint n = run->rounds->len;
    double before = 0;

    if (i > 0 && i <= n)
        before = g_array_index(run->rounds, FmRunRecordRound, i - 1).data_sent;

    if (i < n)
        return g_array_index(run->rounds, FmRunRecordRound, i).data_sent - before;
    if (i == n && run->finished)
        return run->data_sent > before ? run->data_sent - before : 0;
    return -1;
}

/* The data sent per round figure; see fm-plot.h. */
char *
fm_plot_sent(FmRunRecord *const *runs, guint n)
{
    g_autoptr(FmSvg) svg = NULL;
    g_autofree FmSvgLegendEntry *legend = g_new0(FmSvgLegendEntry, n + 1);
    g_autofree char *title = NULL;
    g_autofree char *ylabel = NULL;
    FmSvgFrame frame = { 0 };
    FmPlotUnit unit;
    guint groups = 0, label_every, n_legend = n;
    gboolean any_stop = FALSE, single = n == 1;
    double max_bytes = 0, y_hi, y_step, gw, bw, legend_h, height = 400;

    g_return_val_if_fail(n > 0, NULL);
    for (guint i = 0; i < n; i++) {
        g_return_val_if_fail(runs[i]->rounds->len > 0, NULL);
        groups = MAX(groups, runs[i]->rounds->len);
        any_stop = any_stop || runs[i]->finished;
        for (guint k = 0; k <= runs[i]->rounds->len; k++)
            max_bytes = MAX(max_bytes, fm_plot_sent_in(runs[i], k));
        legend[i].name = runs[i]->policy;
        legend[i].colour = fm_plot_policy_colour(runs[i]->policy);
        legend[i].swatch = FM_SVG_SWATCH_BOX;
    }
    if (any_stop) {
        legend[n_legend].name = _("stop-and-copy (guest paused)");
        legend[n_legend].colour = FM_PLOT_HATCH;
        legend[n_legend++].swatch = FM_SVG_SWATCH_BOX;
        groups++;
    }
    unit = fm_plot_bytes_unit(max_bytes);

    if (single)
        title = g_strdup_printf(_("%s under %s: data sent per round"), runs[0]->scenario,
                                runs[0]->policy);
    else
        title = g_strdup_printf(_("%s: data sent per round, by policy"), runs[0]->scenario);

    svg = fm_svg_new(FM_PLOT_WIDTH, height, title);
    fm_svg_define_hatch(svg, "hatch", "#333333");
    fm_plot_heading(svg, FM_PLOT_WIDTH, title, NULL);
    frame.x = FM_PLOT_LEFT;
    frame.width = FM_PLOT_WIDTH - FM_PLOT_LEFT - FM_PLOT_RIGHT;
    legend_h = fm_svg_legend(svg, frame.x, 40, legend, n_legend, frame.width);
    frame.y = 40 + legend_h + 16;
    frame.height = height - frame.y - 56;
    frame.x_min = 0;
    frame.x_max = groups;
    frame.y_min = 0;
    y_hi = max_bytes / unit.div;
    y_step = fm_svg_nice_range(&frame.y_min, &y_hi, 5);
    frame.y_max = y_hi;
    ylabel = g_strdup_printf(_("data sent (%s)"), unit.symbol);
    fm_svg_axis_y(svg, &frame, y_step, ylabel);

    gw = frame.width / groups;
    bw = gw * 0.8 / n;
    label_every = MAX(1, (guint)ceil(24 / gw));
    fm_svg_begin_group(svg, "axis-x", NULL);
    fm_svg_line(svg, frame.x, frame.y + frame.height, frame.x + frame.width,
                frame.y + frame.height, "#444444", 1, FALSE);
    for (guint g = 0; g < groups; g++) {
        gboolean stop = any_stop && g == groups - 1;
        g_autofree char *text = stop ? g_strdup(_("stop")) : g_strdup_printf("%u", g);

        if (stop || g % label_every == 0)
            fm_svg_text(svg, frame.x + (g + 0.5) * gw, frame.y + frame.height + 16, 11,
                        FM_SVG_MIDDLE, 0, FALSE, "tick", text);
    }
    fm_svg_text(svg, frame.x + frame.width / 2, frame.y + frame.height + 38, 12, FM_SVG_MIDDLE,
                0, FALSE, "axis-label", _("pre-copy round"));
    fm_svg_end_group(svg);

    for (guint i = 0; i < n; i++) {
        guint nr = runs[i]->rounds->len;

        fm_svg_begin_group(svg, "series", runs[i]->policy);
        for (guint k = 0; k <= nr; k++) {
            double v = fm_plot_sent_in(runs[i], k);
            gboolean stop = k == nr;
            guint g = stop ? groups - 1 : k;
            double x = frame.x + g * gw + gw * 0.1 + i * bw;
            double y = fm_svg_frame_y(&frame, v / unit.div);
            g_autofree char *size = NULL;
            g_autofree char *tip = NULL;

            if (v < 0)
                continue;
            size = fm_plot_size(v);
            tip = stop ? g_strdup_printf(_("%s, stop-and-copy: %s"), runs[i]->policy, size)
                       : g_strdup_printf(_("%s, round %u: %s"), runs[i]->policy, k, size);
            fm_svg_rect(svg, x, y, bw, frame.y + frame.height - y, legend[i].colour, NULL,
                        "bar", tip);
            if (stop)
                fm_svg_rect(svg, x, y, bw, frame.y + frame.height - y, FM_PLOT_HATCH, NULL,
                            NULL, NULL);
            /* the values themselves, where there is room */
            if (single && groups <= 16)
                fm_svg_text(svg, x + bw / 2, y - 4, 10, FM_SVG_MIDDLE, 0, FALSE, "value", size);
        }
        fm_svg_end_group(svg);
    }
    return fm_svg_finish(g_steal_pointer(&svg));
}

/* Returns the heat class of a dirty fraction: 0 clean, 1.. the colour index + 1. */
static guint
fm_plot_heat_class(double dirty)
{
    if (dirty <= 0)
        return 0;
    /* the tolerance puts a float's 0.1 (0.100000001) in the class "up to 10 %" */
    for (guint k = 0; k < G_N_ELEMENTS(fm_plot_heat_bounds); k++) {
        if (dirty <= fm_plot_heat_bounds[k] + 1e-6)
            return k + 1;
    }
    return G_N_ELEMENTS(fm_plot_heat_bounds);
}

/* The heat map; see fm-plot.h. */
char *
fm_plot_heat(const FmRunRecord *run)
{
    g_autoptr(FmSvg) svg = NULL;
    g_autofree char *title = NULL;
    g_autofree char *subtitle = NULL;
    g_autofree char *frag_size = NULL;
    guint rows = fm_run_record_heat_rows(run), cols = run->heat_columns, label_every;
    gboolean hot_counts = FALSE, any_hot = FALSE;
    double cell_w, row_h, band, x0 = FM_PLOT_LEFT, y0 = 70, map_w, map_h, height, ly;
    double column_bytes = (double)run->heat_per_column * run->fragment_pages * run->page_size;

    g_return_val_if_fail(cols > 0 && rows > 0, NULL);
    /* the HOT counts column only says something when some round had HOT fragments */
    for (guint r = 0; r < run->rounds->len && run->rounds->len == rows; r++)
        hot_counts = hot_counts || g_array_index(run->rounds, FmRunRecordRound, r).base.fragments_hot;
    /* a policy that never marks fragments HOT (xen, qemu) gets no HOT legend: a key
     * for a band that cannot appear would send the reader looking for it */
    for (guint i = 0; i < run->heat_hot->len && !any_hot; i++)
        any_hot = g_array_index(run->heat_hot, guint8, i) != 0;
    any_hot = any_hot || hot_counts;
    /* fractional widths fill the figure; equal cells are merged, so no seams show */
    cell_w = CLAMP((FM_PLOT_WIDTH - x0 - 70) / cols, 2, 24);
    row_h = CLAMP(floor(300.0 / rows), 5, 36);
    band = MAX(2, floor(row_h * 0.35));
    map_w = cell_w * cols;
    map_h = row_h * rows;
    height = y0 + map_h + 100;

    title = g_strdup_printf(_("%s under %s: dirty pages per fragment and round"),
                            run->scenario, run->policy);
    frag_size = run->fragment_pages * run->page_size > 0
        ? fm_plot_size((double)run->fragment_pages * run->page_size) : g_strdup("?");
    if (run->heat_per_column > 1 && any_hot)
        subtitle = g_strdup_printf(_("%u fragments of %s, %u per column (the busiest shown); blue band: HOT, iteration cut"),
                                   run->fragments, frag_size, run->heat_per_column);
    else if (run->heat_per_column > 1)
        subtitle = g_strdup_printf(_("%u fragments of %s, %u per column (the busiest shown)"),
                                   run->fragments, frag_size, run->heat_per_column);
    else if (any_hot)
        subtitle = g_strdup_printf(_("%u fragments of %s; blue band: HOT, iteration cut"),
                                   run->fragments, frag_size);
    else
        subtitle = g_strdup_printf(_("%u fragments of %s"), run->fragments, frag_size);

    svg = fm_svg_new(FM_PLOT_WIDTH, height, title);
    fm_plot_heading(svg, FM_PLOT_WIDTH, title, subtitle);
    fm_svg_rect(svg, x0, y0, map_w, map_h, FM_PLOT_CLEAN, NULL, "background", NULL);

    /* each row as runs of equal cells, so that a 256-column map stays small */
    for (guint r = 0; r < rows; r++) {
        const float *dirty = &g_array_index(run->heat_dirty, float, r * cols);
        const guint8 *hot = &g_array_index(run->heat_hot, guint8, r * cols);
        double y = y0 + r * row_h;
        guint c = 0;

        fm_svg_begin_group(svg, "row", NULL);
        while (c < cols) {
            guint cls = fm_plot_heat_class(dirty[c]), e = c + 1;

            while (e < cols && fm_plot_heat_class(dirty[e]) == cls)
                e++;
            if (cls > 0) {
                g_autofree char *pct = fm_plot_number(fm_plot_heat_bounds[cls - 1] * 100, 0);
                g_autofree char *tip = g_strdup_printf(_("round %u, columns %u-%u: up to %s%% of pages dirtied"),
                                                       r, c, e - 1, pct);

                fm_svg_rect(svg, x0 + c * cell_w, y, (e - c) * cell_w, row_h,
                            fm_plot_heat_colours[cls - 1], NULL, "cell", tip);
            }
            c = e;
        }
        /* HOT as a band along the bottom of the cells: readable on any colour */
        for (c = 0; c < cols;) {
            guint e = c + 1;

            if (!hot[c]) {
                c++;
                continue;
            }
            while (e < cols && hot[e])
                e++;
            {
                g_autofree char *tip = g_strdup_printf(_("round %u, columns %u-%u: HOT"),
                                                       r, c, e - 1);
                fm_svg_rect(svg, x0 + c * cell_w, y + row_h - band, (e - c) * cell_w, band,
                            FM_PLOT_HOT, NULL, "hot", tip);
            }
            c = e;
        }
        fm_svg_end_group(svg);
    }
    fm_svg_rect(svg, x0, y0, map_w, map_h, "none", "#444444", "frame", NULL);

    /* rows: round numbers on the left, HOT counts on the right */
    label_every = MAX(1, (guint)ceil(12 / row_h));
    fm_svg_begin_group(svg, "axis-y", NULL);
    for (guint r = 0; r < rows; r += label_every) {
        g_autofree char *num = g_strdup_printf("%u", r);
        fm_svg_text(svg, x0 - 6, y0 + (r + 0.5) * row_h + 4, 10, FM_SVG_END, 0, FALSE, "tick",
                    num);
    }
    fm_svg_text(svg, x0 - 36, y0 + map_h / 2, 12, FM_SVG_MIDDLE, -90, FALSE, "axis-label",
                _("round"));
    if (hot_counts) {
        fm_svg_text(svg, x0 + map_w + 6, y0 - 6, 10, FM_SVG_START, 0, FALSE, "tick",
                    _("HOT"));
        for (guint r = 0; r < rows; r += label_every) {
            const FmRunRecordRound *rr = &g_array_index(run->rounds, FmRunRecordRound, r);
            g_autofree char *num = g_strdup_printf("%u", rr->base.fragments_hot);

            fm_svg_text(svg, x0 + map_w + 6, y0 + (r + 0.5) * row_h + 4, 10, FM_SVG_START, 0,
                        FALSE, "tick", num);
        }
    }
    fm_svg_end_group(svg);

    /* columns: guest memory addresses where the layout is known, else column numbers */
    if (column_bytes > 0) {
        FmPlotUnit unit = fm_plot_bytes_unit(run->memory);
        FmSvgFrame frame = { x0, y0, map_w, map_h, 0, 0, 0, 1, FALSE };
        double lo = 0, hi = cols * column_bytes / unit.div, step;
        g_autofree char *label = g_strdup_printf(_("guest memory address (%s)"), unit.symbol);

        /* ticks only inside the map: the true scale, not the widened range */
        frame.x_max = hi;
        step = fm_svg_nice_range(&lo, &hi, 5);
        fm_svg_begin_group(svg, "axis-x", NULL);
        for (guint i = 0; i * step <= frame.x_max + step * 1e-9; i++) {
            double v = i * step;
            int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
            g_autofree char *text = fm_plot_number(v, decimals);
            double px = fm_svg_frame_x(&frame, v);

            fm_svg_line(svg, px, y0 + map_h, px, y0 + map_h + 5, "#444444", 1, FALSE);
            fm_svg_text(svg, px, y0 + map_h + 18, 11, FM_SVG_MIDDLE, 0, FALSE, "tick", text);
        }
        fm_svg_text(svg, x0 + map_w / 2, y0 + map_h + 36, 12, FM_SVG_MIDDLE, 0, FALSE,
                    "axis-label", label);
        fm_svg_end_group(svg);
    } else {
        FmSvgFrame frame = { x0, y0, map_w, map_h, 0, cols, 0, 1, FALSE };
        double lo = 0, hi = cols, step = fm_svg_nice_range(&lo, &hi, 5);

        fm_svg_axis_x(svg, &frame, step, _("column of fragments"), FALSE);
    }

    /* the colour key: one box per class, bounds below */
    ly = y0 + map_h + 56;
    fm_svg_begin_group(svg, "key", NULL);
    fm_svg_text(svg, x0, ly + 10, 11, FM_SVG_START, 0, FALSE, "key-label",
                _("pages dirtied during the round:"));
    {
        double kx = x0 + 190, bw = 34;

        fm_svg_rect(svg, kx, ly, bw, 12, FM_PLOT_CLEAN, "#888888", "key", _("none"));
        fm_svg_text(svg, kx + bw / 2, ly + 26, 10, FM_SVG_MIDDLE, 0, FALSE, "tick", "0");
        kx += bw + 6;
        for (guint k = 0; k < G_N_ELEMENTS(fm_plot_heat_colours); k++) {
            g_autofree char *pct = fm_plot_number(fm_plot_heat_bounds[k] * 100, 0);
            g_autofree char *text = g_strdup_printf("%s%%", pct);

            fm_svg_rect(svg, kx + k * bw, ly, bw, 12, fm_plot_heat_colours[k], NULL, "key", NULL);
            fm_svg_text(svg, kx + (k + 1) * bw, ly + 26, 10, FM_SVG_MIDDLE, 0, FALSE, "tick", text);
        }
        kx += G_N_ELEMENTS(fm_plot_heat_colours) * bw + 24;
        if (any_hot) {
            fm_svg_rect(svg, kx, ly, 24, 12, fm_plot_heat_colours[7], NULL, "key", NULL);
            fm_svg_rect(svg, kx, ly + 12 - 5, 24, 5, FM_PLOT_HOT, NULL, "key", NULL);
            fm_svg_text(svg, kx + 30, ly + 10, 11, FM_SVG_START, 0, FALSE, "key-label", _("HOT"));
        }
    }
    fm_svg_end_group(svg);
    return fm_svg_finish(g_steal_pointer(&svg));
}

/* A metric of the suite figure. */
typedef struct {
    const char *label;    /* N_() */
    double (*value)(const FmSuiteRow *row);
    gboolean bytes;       /* else seconds */
} FmPlotMetric;

/* The metrics of a suite row: seconds, seconds, bytes. */
static double fm_plot_row_time(const FmSuiteRow *row) { return row->total_time; }
static double fm_plot_row_downtime(const FmSuiteRow *row) { return row->downtime; }
static double fm_plot_row_data(const FmSuiteRow *row) { return row->data_sent; }

static const FmPlotMetric fm_plot_metrics[] = {
    { N_("total time"), fm_plot_row_time, FALSE },
    { N_("downtime"), fm_plot_row_downtime, FALSE },
    { N_("data sent"), fm_plot_row_data, TRUE },
};

/* Appends @text to @list unless it is there; returns its index. */
static guint
fm_plot_intern(GPtrArray *list, const char *text)
{
    for (guint i = 0; i < list->len; i++) {
        if (g_str_equal(list->pdata[i], text))
            return i;
    }
    g_ptr_array_add(list, (gpointer)text);
    return list->len - 1;
}

/* The suite figure; see fm-plot.h. */
char *
fm_plot_suite(const FmSuite *suite)
{
    g_autoptr(FmSvg) svg = NULL;
    g_autoptr(GPtrArray) scenarios = g_ptr_array_new();
    g_autoptr(GPtrArray) policies = g_ptr_array_new();
    g_autoptr(GPtrArray) colours = g_ptr_array_new();
    g_autofree char *title = NULL;
    g_autofree char *subtitle = NULL;
    g_autofree const FmSuiteRow **cell = NULL;
    g_autofree FmSvgLegendEntry *legend = NULL;
    const double panel_h = 170, panel_gap = 26, bar_w_max = 16;
    double width, height, gw, bw, label_w = 0, top = 76;
    guint ns, np;

    g_return_val_if_fail(suite->rows->len > 0, NULL);
    for (guint i = 0; i < suite->rows->len; i++) {
        const FmSuiteRow *row = &g_array_index(suite->rows, FmSuiteRow, i);
        fm_plot_intern(scenarios, row->scenario);
        fm_plot_intern(policies, row->policy);
    }
    ns = scenarios->len;
    np = policies->len;
    cell = g_new0(const FmSuiteRow *, ns * np);
    for (guint i = 0; i < suite->rows->len; i++) {
        const FmSuiteRow *row = &g_array_index(suite->rows, FmSuiteRow, i);
        cell[fm_plot_intern(scenarios, row->scenario) * np +
             fm_plot_intern(policies, row->policy)] = row;
        label_w = MAX(label_w, fm_svg_text_width(row->scenario, 11));
    }
    for (guint p = 0; p < np; p++)
        g_ptr_array_add(colours, (gpointer)fm_plot_policy_colour(policies->pdata[p]));
    legend = g_new0(FmSvgLegendEntry, np);

    /* a group per scenario, a bar per policy; wide suites get a wider figure */
    bw = bar_w_max;
    gw = np * bw + 18;
    width = MAX(ns < 3 ? 600 : FM_PLOT_WIDTH, FM_PLOT_LEFT + FM_PLOT_RIGHT + ns * gw);
    gw = (width - FM_PLOT_LEFT - FM_PLOT_RIGHT) / ns;
    bw = MIN(bar_w_max * 1.5, (gw - 18) / np);
    height = top + G_N_ELEMENTS(fm_plot_metrics) * (panel_h + panel_gap) + label_w * 0.5 + 12;

    title = g_strdup_printf(_("%s: total time, downtime and data sent per policy"), suite->name);
    subtitle = g_strdup_printf(_("scenarios: %u, policies: %u; log scale where values span more than two decades"),
                               ns, np);
    svg = fm_svg_new(width, height, title);
    fm_plot_heading(svg, width, title, subtitle);
    for (guint p = 0; p < np; p++) {
        legend[p].name = policies->pdata[p];
        legend[p].colour = colours->pdata[p];
        legend[p].swatch = FM_SVG_SWATCH_BOX;
    }
    fm_svg_legend(svg, FM_PLOT_LEFT, 52, legend, np, width - FM_PLOT_LEFT - FM_PLOT_RIGHT);

    for (guint m = 0; m < G_N_ELEMENTS(fm_plot_metrics); m++) {
        const FmPlotMetric *metric = &fm_plot_metrics[m];
        FmSvgFrame frame = { 0 };
        double lo = G_MAXDOUBLE, hi = 0, step = 0, div = 1;
        const char *symbol;
        g_autofree char *ylabel = NULL;

        for (guint k = 0; k < ns * np; k++) {
            double v = cell[k] ? metric->value(cell[k]) : 0;
            if (v > 0) {
                lo = MIN(lo, v);
                hi = MAX(hi, v);
            }
        }
        if (metric->bytes) {
            FmPlotUnit unit = fm_plot_bytes_unit(hi);
            div = unit.div;
            symbol = unit.symbol;
        } else {
            div = hi >= 1 || hi == 0 ? 1 : 1e-3;
            symbol = div == 1 ? "s" : "ms";
        }
        frame.x = FM_PLOT_LEFT;
        frame.y = top + m * (panel_h + panel_gap);
        frame.width = width - FM_PLOT_LEFT - FM_PLOT_RIGHT;
        frame.height = panel_h;
        frame.x_max = ns;
        frame.y_log = hi > 0 && hi / lo > 100;
        if (frame.y_log) {
            /* a decade below the smallest value, less a bit, so that its bar shows */
            frame.y_min = pow(10, floor(log10(lo / div) - 0.3));
            frame.y_max = pow(10, ceil(log10(hi / div) - 1e-9));
            if (frame.y_max <= frame.y_min)
                frame.y_max = frame.y_min * 10;
        } else {
            double y_hi = hi / div;
            frame.y_min = 0;
            step = fm_svg_nice_range(&frame.y_min, &y_hi, 4);
            frame.y_max = y_hi;
        }
        /* TRANSLATORS: an axis label: the metric, its unit and, maybe, "log scale" */
        ylabel = g_strdup_printf(frame.y_log ? _("%s (%s, log)") : _("%s (%s)"),
                                 _(metric->label), symbol);
        fm_svg_axis_y(svg, &frame, step, ylabel);
        fm_svg_line(svg, frame.x, frame.y + frame.height, frame.x + frame.width,
                    frame.y + frame.height, "#444444", 1, FALSE);

        for (guint s = 0; s < ns; s++) {
            double gx = frame.x + s * gw + (gw - np * bw) / 2;

            if (s > 0)
                fm_svg_line(svg, frame.x + s * gw, frame.y, frame.x + s * gw,
                            frame.y + frame.height, "#d8d8d8", 1, TRUE);
            fm_svg_begin_group(svg, "group", scenarios->pdata[s]);
            for (guint p = 0; p < np; p++) {
                const FmSuiteRow *row = cell[s * np + p];
                double v, y;
                g_autofree char *shown = NULL;
                g_autofree char *tip = NULL;

                if (row == NULL)
                    continue;
                v = metric->value(row);
                shown = metric->bytes ? fm_plot_size(v) : fm_plot_duration(v);
                tip = g_strdup_printf("%s / %s: %s", row->scenario, row->policy, shown);
                y = v > 0 ? fm_svg_frame_y(&frame, MAX(v / div, frame.y_min))
                          : frame.y + frame.height;
                fm_svg_rect(svg, gx + p * bw, y, bw - 1, frame.y + frame.height - y,
                            colours->pdata[p], NULL, "bar", tip);
            }
            fm_svg_end_group(svg);
        }
    }

    /* scenario names under the last panel, turned to fit */
    fm_svg_begin_group(svg, "axis-x", NULL);
    for (guint s = 0; s < ns; s++) {
        double x = FM_PLOT_LEFT + (s + 0.5) * gw + 4;
        double y = top + G_N_ELEMENTS(fm_plot_metrics) * (panel_h + panel_gap) - panel_gap + 14;

        fm_svg_text(svg, x, y, 11, FM_SVG_END, -30, FALSE, "tick", scenarios->pdata[s]);
    }
    fm_svg_end_group(svg);
    return fm_svg_finish(g_steal_pointer(&svg));
}
