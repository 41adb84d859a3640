/*
 * fm-svg.h: a small SVG document builder, for the figures of `fragmig plot`.
 *
 * Invariants: whatever text it is given, the document is well-formed XML (markup
 * characters are escaped, invalid UTF-8 is repaired, control characters that XML 1.0
 * forbids are dropped), and the output is a pure function of the calls made: numbers
 * are printed locale-independently with a fixed precision, elements appear in call
 * order, nothing depends on the time, the locale or the host.  Groups opened with
 * fm_svg_begin_group() must be closed before fm_svg_finish().
 *
 * Coordinates are SVG user units (pixels), y pointing down.  FmSvgFrame maps data
 * values to a plot area and draws its axes; the chart code (fm-plot.c) builds on it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _FmSvg FmSvg;

typedef enum {
    FM_SVG_START,
    FM_SVG_MIDDLE,
    FM_SVG_END,
    FM_SVG_ANCHOR_LAST
} FmSvgAnchor;

/* A plot area (pixels) and the data ranges it shows.  With @y_log the y range must
 * be positive and is shown on a log10 scale. */
typedef struct {
    double x, y, width, height;
    double x_min, x_max;
    double y_min, y_max;
    gboolean y_log;
} FmSvgFrame;

/* Returns a new document of @width x @height with @title (its <title>) on a white
 * background (caller frees, or hands it to fm_svg_finish()). */
FmSvg *fm_svg_new(double width, double height, const char *title);
void fm_svg_free(FmSvg *svg);
/* Closes the document and returns its text (caller frees); frees @svg. */
char *fm_svg_finish(FmSvg *svg);

/* Opens a <g> with class @cls (NULL: none) and a <title> child @title (NULL: none);
 * close it with fm_svg_end_group(). */
void fm_svg_begin_group(FmSvg *svg, const char *cls, const char *title);
void fm_svg_end_group(FmSvg *svg);

/* Defines a diagonal hatch pattern @id with lines of @colour, for fills given as
 * "url(#ID)". */
void fm_svg_define_hatch(FmSvg *svg, const char *id, const char *colour);

/* Draws a line; @dashed gives a 4-3 dash pattern. */
void fm_svg_line(FmSvg *svg, double x1, double y1, double x2, double y2,
                 const char *stroke, double stroke_width, gboolean dashed);
/* Draws a polyline through @n points @xy (x0, y0, x1, y1, ...) with class @cls and
 * a <title> @title (both may be NULL). */
void fm_svg_polyline(FmSvg *svg, const double *xy, guint n, const char *stroke,
                     double stroke_width, const char *cls, const char *title);
/* Draws a rectangle filled with @fill (a colour or "url(#ID)"), outlined with
 * @stroke unless NULL, with class @cls and <title> @title (both may be NULL).
 * A negative width or height is normalised. */
void fm_svg_rect(FmSvg *svg, double x, double y, double width, double height,
                 const char *fill, const char *stroke, const char *cls, const char *title);
/* Draws a filled circle. */
void fm_svg_circle(FmSvg *svg, double cx, double cy, double r, const char *fill,
                   const char *cls);
/* Draws @text at (@x, @y) (the baseline), @size pixels high, anchored at @anchor,
 * turned by @rotate degrees about (@x, @y); @bold for headings; class @cls may be
 * NULL. */
void fm_svg_text(FmSvg *svg, double x, double y, double size, FmSvgAnchor anchor,
                 double rotate, gboolean bold, const char *cls, const char *text);

/* Returns an estimate of the width of @text at @size pixels (layout only). */
double fm_svg_text_width(const char *text, double size);

/* Returns the @i-th colour of the categorical palette ("#rrggbb", static; it cycles;
 * distinguishable by colour-blind readers for the first 7). */
const char *fm_svg_palette(guint i);

/* Returns the data range [*@lo, *@hi] widened to multiples of a "nice" step (1, 2 or
 * 5 x 10^k) giving about @target intervals, and that step. */
double fm_svg_nice_range(double *lo, double *hi, guint target);

/* Maps a data value to pixels in @frame (values outside are not clipped). */
double fm_svg_frame_x(const FmSvgFrame *frame, double value);
double fm_svg_frame_y(const FmSvgFrame *frame, double value);

/* Draws @frame's x axis with ticks every @step from x_min (labels with the decimals
 * @step needs) and @label centred below; @grid adds light vertical grid lines. */
void fm_svg_axis_x(FmSvg *svg, const FmSvgFrame *frame, double step, const char *label,
                   gboolean grid);
/* Draws the y axis likewise (ticks at each power of 10 when y_log, @step ignored),
 * with horizontal grid lines and @label turned along the axis. */
void fm_svg_axis_y(FmSvg *svg, const FmSvgFrame *frame, double step, const char *label);

typedef enum {
    FM_SVG_SWATCH_LINE,     /* a short thick line: a series */
    FM_SVG_SWATCH_BOX,      /* a filled square: bars, areas (the fill may be "url(#ID)") */
    FM_SVG_SWATCH_LAST
} FmSvgSwatch;

/* One legend entry: its text, its colour and the kind of swatch. */
typedef struct {
    const char *name;
    const char *colour;
    FmSvgSwatch swatch;
} FmSvgLegendEntry;

/* Draws a legend of @n entries from (@x, @y) (top left): one entry a row when
 * @max_width is 0, else entries side by side, wrapping before @max_width.  Returns
 * the height it took. */
double fm_svg_legend(FmSvg *svg, double x, double y, const FmSvgLegendEntry *entries,
                     guint n, double max_width);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmSvg, fm_svg_free)

G_END_DECLS
