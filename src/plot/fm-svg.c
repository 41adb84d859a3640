/*
 * fm-svg.c: a small SVG document builder: escaping, shapes, text, axes, legends.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "plot/fm-svg.h"

#include <math.h>
#include <string.h>

struct _FmSvg {
    GString *out;
    guint depth;      /* open <g> elements */
};

/* Okabe & Ito's colour-blind-safe palette, the light yellow last (poor on white). */
static const char *const fm_svg_colours[] = {
    "#0072B2", "#009E73", "#E69F00", "#D55E00", "#56B4E9", "#CC79A7", "#000000", "#F0E442",
};

/* Appends @value with at most one decimal, without a trailing ".0" and never "-0":
 * a fixed, locale-independent form, so that equal inputs give equal bytes. */
static void
fm_svg_num(GString *out, double value)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    size_t len;

    if (!isfinite(value) || fabs(value) < 0.05)
        value = 0;
    g_ascii_formatd(buf, sizeof(buf), "%.1f", value);
    len = strlen(buf);
    if (len > 2 && buf[len - 2] == '.' && buf[len - 1] == '0')
        buf[len - 2] = '\0';
    g_string_append(out, buf);
}

/* Appends ` NAME="VALUE"` with a number. */
static void
fm_svg_attr_num(GString *out, const char *name, double value)
{
    g_string_append_printf(out, " %s=\"", name);
    fm_svg_num(out, value);
    g_string_append_c(out, '"');
}

/* Appends @text as XML character data or attribute text: markup characters become
 * entities, invalid UTF-8 is repaired and characters XML 1.0 forbids are dropped. */
static void
fm_svg_escape(GString *out, const char *text)
{
    g_autofree char *valid = g_utf8_make_valid(text ? text : "", -1);

    for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);

        switch (c) {
        case '<': g_string_append(out, "&lt;"); break;
        case '>': g_string_append(out, "&gt;"); break;
        case '&': g_string_append(out, "&amp;"); break;
        case '"': g_string_append(out, "&quot;"); break;
        case '\'': g_string_append(out, "&apos;"); break;
        default:
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0xFFFE || c == 0xFFFF)
                break;
            g_string_append_len(out, p, g_utf8_next_char(p) - p);
        }
    }
}

/* Appends ` NAME="TEXT"` escaped; nothing when @text is NULL. */
static void
fm_svg_attr_text(GString *out, const char *name, const char *text)
{
    if (text == NULL)
        return;
    g_string_append_printf(out, " %s=\"", name);
    fm_svg_escape(out, text);
    g_string_append_c(out, '"');
}

/* Starts a new line at the current depth. */
static void
fm_svg_indent(FmSvg *svg)
{
    for (guint i = 0; i < svg->depth + 1; i++)
        g_string_append(svg->out, "  ");
}

/* Ends an element opened without its '>': with a <title> child when @title is set,
 * else self-closed. */
static void
fm_svg_close(FmSvg *svg, const char *element, const char *title)
{
    if (title == NULL) {
        g_string_append(svg->out, "/>\n");
        return;
    }
    g_string_append(svg->out, "><title>");
    fm_svg_escape(svg->out, title);
    g_string_append_printf(svg->out, "</title></%s>\n", element);
}

/* Returns a new document; see fm-svg.h. */
FmSvg *
fm_svg_new(double width, double height, const char *title)
{
    FmSvg *svg = g_new0(FmSvg, 1);

    svg->out = g_string_new("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    g_string_append(svg->out, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\"");
    fm_svg_attr_num(svg->out, "width", width);
    fm_svg_attr_num(svg->out, "height", height);
    g_string_append(svg->out, " viewBox=\"0 0 ");
    fm_svg_num(svg->out, width);
    g_string_append_c(svg->out, ' ');
    fm_svg_num(svg->out, height);
    g_string_append(svg->out, "\" font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\">\n");
    g_string_append(svg->out, "  <title>");
    fm_svg_escape(svg->out, title);
    g_string_append(svg->out, "</title>\n");
    /* opaque, so that the figure reads the same on dark pages and in PNG */
    g_string_append(svg->out, "  <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
    return svg;
}

/* Frees @svg; NULL ok. */
void
fm_svg_free(FmSvg *svg)
{
    if (svg == NULL)
        return;
    g_string_free(svg->out, TRUE);
    g_free(svg);
}

/* Closes the document; returns its text (caller frees) and frees @svg. */
char *
fm_svg_finish(FmSvg *svg)
{
    char *text;

    g_return_val_if_fail(svg->depth == 0, NULL);
    g_string_append(svg->out, "</svg>\n");
    text = g_string_free(svg->out, FALSE);
    g_free(svg);
    return text;
}

/* Opens a group. */
void
fm_svg_begin_group(FmSvg *svg, const char *cls, const char *title)
{
    fm_svg_indent(svg);
    g_string_append(svg->out, "<g");
    fm_svg_attr_text(svg->out, "class", cls);
    g_string_append(svg->out, ">\n");
    svg->depth++;
    if (title) {
        fm_svg_indent(svg);
        g_string_append(svg->out, "<title>");
        fm_svg_escape(svg->out, title);
        g_string_append(svg->out, "</title>\n");
    }
}

/* Closes the innermost group. */
void
fm_svg_end_group(FmSvg *svg)
{
    g_return_if_fail(svg->depth > 0);
    svg->depth--;
    fm_svg_indent(svg);
    g_string_append(svg->out, "</g>\n");
}

/* Defines a hatch pattern. */
void
fm_svg_define_hatch(FmSvg *svg, const char *id, const char *colour)
{
    fm_svg_indent(svg);
    g_string_append(svg->out, "<defs><pattern");
    fm_svg_attr_text(svg->out, "id", id);
    g_string_append(svg->out, " width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\""
                    " patternTransform=\"rotate(45)\"><rect width=\"1.5\" height=\"4\"");
    fm_svg_attr_text(svg->out, "fill", colour);
    g_string_append(svg->out, "/></pattern></defs>\n");
}

/* Draws a line. */
void
fm_svg_line(FmSvg *svg, double x1, double y1, double x2, double y2,
            const char *stroke, double stroke_width, gboolean dashed)
{
    fm_svg_indent(svg);
    g_string_append(svg->out, "<line");
    fm_svg_attr_num(svg->out, "x1", x1);
    fm_svg_attr_num(svg->out, "y1", y1);
    fm_svg_attr_num(svg->out, "x2", x2);
    fm_svg_attr_num(svg->out, "y2", y2);
    fm_svg_attr_text(svg->out, "stroke", stroke);
    fm_svg_attr_num(svg->out, "stroke-width", stroke_width);
    if (dashed)
        g_string_append(svg->out, " stroke-dasharray=\"4 3\"");
    g_string_append(svg->out, "/>\n");
}

/* Draws a polyline. */
void
fm_svg_polyline(FmSvg *svg, const double *xy, guint n, const char *stroke,
                double stroke_width, const char *cls, const char *title)
{
    fm_svg_indent(svg);
    g_string_append(svg->out, "<polyline");
    fm_svg_attr_text(svg->out, "class", cls);
    g_string_append(svg->out, " points=\"");
    for (guint i = 0; i < n; i++) {
        if (i)
            g_string_append_c(svg->out, ' ');
        fm_svg_num(svg->out, xy[2 * i]);
        g_string_append_c(svg->out, ',');
        fm_svg_num(svg->out, xy[2 * i + 1]);
    }
    g_string_append(svg->out, "\" fill=\"none\"");
    fm_svg_attr_text(svg->out, "stroke", stroke);
    fm_svg_attr_num(svg->out, "stroke-width", stroke_width);
    g_string_append(svg->out, " stroke-linejoin=\"round\"");
    fm_svg_close(svg, "polyline", title);
}

/* Draws a rectangle. */
void
fm_svg_rect(FmSvg *svg, double x, double y, double width, double height,
            const char *fill, const char *stroke, const char *cls, const char *title)
{
    if (width < 0) {
        x += width;
        width = -width;
    }
    if (height < 0) {
        y += height;
        height = -height;
    }
    fm_svg_indent(svg);
    g_string_append(svg->out, "<rect");
    fm_svg_attr_text(svg->out, "class", cls);
    fm_svg_attr_num(svg->out, "x", x);
    fm_svg_attr_num(svg->out, "y", y);
    fm_svg_attr_num(svg->out, "width", width);
    fm_svg_attr_num(svg->out, "height", height);
    fm_svg_attr_text(svg->out, "fill", fill);
    if (stroke) {
        fm_svg_attr_text(svg->out, "stroke", stroke);
        g_string_append(svg->out, " stroke-width=\"0.5\"");
    }
    fm_svg_close(svg, "rect", title);
}

/* Draws a filled circle. */
void
fm_svg_circle(FmSvg *svg, double cx, double cy, double r, const char *fill, const char *cls)
{
    fm_svg_indent(svg);
    g_string_append(svg->out, "<circle");
    fm_svg_attr_text(svg->out, "class", cls);
    fm_svg_attr_num(svg->out, "cx", cx);
    fm_svg_attr_num(svg->out, "cy", cy);
    fm_svg_attr_num(svg->out, "r", r);
    fm_svg_attr_text(svg->out, "fill", fill);
    g_string_append(svg->out, "/>\n");
}

/* Draws text. */
void
fm_svg_text(FmSvg *svg, double x, double y, double size, FmSvgAnchor anchor,
            double rotate, gboolean bold, const char *cls, const char *text)
{
    static const char *const anchors[] = { "start", "middle", "end" };
    G_STATIC_ASSERT(G_N_ELEMENTS(anchors) == FM_SVG_ANCHOR_LAST);

    g_return_if_fail(anchor < FM_SVG_ANCHOR_LAST);
    fm_svg_indent(svg);
    g_string_append(svg->out, "<text");
    fm_svg_attr_text(svg->out, "class", cls);
    fm_svg_attr_num(svg->out, "x", x);
    fm_svg_attr_num(svg->out, "y", y);
    fm_svg_attr_num(svg->out, "font-size", size);
    if (anchor != FM_SVG_START)
        g_string_append_printf(svg->out, " text-anchor=\"%s\"", anchors[anchor]);
    if (bold)
        g_string_append(svg->out, " font-weight=\"bold\"");
    if (rotate != 0) {
        g_string_append(svg->out, " transform=\"rotate(");
        fm_svg_num(svg->out, rotate);
        g_string_append_c(svg->out, ' ');
        fm_svg_num(svg->out, x);
        g_string_append_c(svg->out, ' ');
        fm_svg_num(svg->out, y);
        g_string_append(svg->out, ")\"");
    }
    g_string_append_c(svg->out, '>');
    fm_svg_escape(svg->out, text);
    g_string_append(svg->out, "</text>\n");
}

/* Returns the estimated width of @text: DejaVu Sans averages ~0.56 em a character
 * in our labels (measured on the rendered figures). */
double
fm_svg_text_width(const char *text, double size)
{
    return g_utf8_strlen(text, -1) * size * 0.56;
}

/* Returns palette colour @i. */
const char *
fm_svg_palette(guint i)
{
    return fm_svg_colours[i % G_N_ELEMENTS(fm_svg_colours)];
}

/* Widens [*lo, *hi] to nice multiples; returns the step. */
double
fm_svg_nice_range(double *lo, double *hi, guint target)
{
    double raw, mag, norm, step;

    if (!isfinite(*lo) || !isfinite(*hi)) {
        *lo = 0;
        *hi = 1;
    }
    if (*hi <= *lo)
        *hi = *lo + (*lo != 0 ? fabs(*lo) : 1);
    raw = (*hi - *lo) / MAX(target, 1);
    mag = pow(10, floor(log10(raw)));
    norm = raw / mag;
    step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
    /* the tolerance keeps a value already on a step from growing one more step */
    *lo = floor(*lo / step + 1e-9) * step;
    *hi = ceil(*hi / step - 1e-9) * step;
    return step;
}

/* Maps a value to pixels. */
double
fm_svg_frame_x(const FmSvgFrame *frame, double value)
{
    double span = frame->x_max - frame->x_min;

    return frame->x + (span > 0 ? (value - frame->x_min) / span : 0) * frame->width;
}

/* Maps a value to pixels (y grows downwards). */
double
fm_svg_frame_y(const FmSvgFrame *frame, double value)
{
    double lo = frame->y_min, hi = frame->y_max, f;

    if (frame->y_log) {
        lo = log10(lo);
        hi = log10(hi);
        value = value > 0 ? log10(value) : lo;
    }
    f = hi > lo ? (value - lo) / (hi - lo) : 0;
    return frame->y + frame->height - f * frame->height;
}

/* Formats a tick value with the decimals @step needs (locale-independent). */
static char *
fm_svg_tick_label(double value, double step)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    g_autofree char *fmt = g_strdup_printf("%%.%df", CLAMP(decimals, 0, 9));

    if (fabs(value) < step * 1e-9)
        value = 0;
    return g_strdup(g_ascii_formatd(buf, sizeof(buf), fmt, value));
}

/* Draws the x axis. */
void
fm_svg_axis_x(FmSvg *svg, const FmSvgFrame *frame, double step, const char *label,
              gboolean grid)
{
    double bottom = frame->y + frame->height;

    fm_svg_begin_group(svg, "axis-x", NULL);
    if (step > 0) {
        guint n = (guint)floor((frame->x_max - frame->x_min) / step + 1e-9);

        for (guint i = 0; i <= n && i <= 1000; i++) {
            double v = frame->x_min + i * step;
            double px = fm_svg_frame_x(frame, v);
            g_autofree char *text = fm_svg_tick_label(v, step);

            if (grid && i > 0)
                fm_svg_line(svg, px, frame->y, px, bottom, "#e8e8e8", 1, FALSE);
            fm_svg_line(svg, px, bottom, px, bottom + 5, "#444444", 1, FALSE);
            fm_svg_text(svg, px, bottom + 18, 11, FM_SVG_MIDDLE, 0, FALSE, "tick", text);
        }
    }
    fm_svg_line(svg, frame->x, bottom, frame->x + frame->width, bottom, "#444444", 1, FALSE);
    if (label)
        fm_svg_text(svg, frame->x + frame->width / 2, bottom + 38, 12, FM_SVG_MIDDLE, 0,
                    FALSE, "axis-label", label);
    fm_svg_end_group(svg);
}

/* Draws the y axis. */
void
fm_svg_axis_y(FmSvg *svg, const FmSvgFrame *frame, double step, const char *label)
{
    GArray *ticks = g_array_new(FALSE, FALSE, sizeof(double));
    double widest = 0;

    if (frame->y_log) {
        int k0 = (int)floor(log10(frame->y_min) + 1e-9);
        int k1 = (int)ceil(log10(frame->y_max) - 1e-9);

        for (int k = k0; k <= k1 && k - k0 < 40; k++) {
            double v = pow(10, k);
            g_array_append_val(ticks, v);
        }
    } else if (step > 0) {
        guint n = (guint)floor((frame->y_max - frame->y_min) / step + 1e-9);

        for (guint i = 0; i <= n && i <= 1000; i++) {
            double v = frame->y_min + i * step;
            g_array_append_val(ticks, v);
        }
    }

    fm_svg_begin_group(svg, "axis-y", NULL);
    for (guint i = 0; i < ticks->len; i++) {
        double v = g_array_index(ticks, double, i);
        double py = fm_svg_frame_y(frame, v);
        /* a decade's label needs as many decimals as the decade is below 1 */
        g_autofree char *text = fm_svg_tick_label(v, frame->y_log ? MIN(v, 1) : step);

        if (i > 0 || frame->y_log)
            fm_svg_line(svg, frame->x, py, frame->x + frame->width, py, "#e8e8e8", 1, FALSE);
        fm_svg_line(svg, frame->x - 5, py, frame->x, py, "#444444", 1, FALSE);
        fm_svg_text(svg, frame->x - 8, py + 4, 11, FM_SVG_END, 0, FALSE, "tick", text);
        widest = MAX(widest, fm_svg_text_width(text, 11));
    }
    fm_svg_line(svg, frame->x, frame->y, frame->x, frame->y + frame->height, "#444444", 1,
                FALSE);
    if (label) {
        double lx = frame->x - 8 - widest - 10;
        fm_svg_text(svg, lx, frame->y + frame->height / 2, 12, FM_SVG_MIDDLE, -90, FALSE,
                    "axis-label", label);
    }
    fm_svg_end_group(svg);
    g_array_unref(ticks);
}

/* Draws a legend; returns its height. */
double
fm_svg_legend(FmSvg *svg, double x, double y, const FmSvgLegendEntry *entries, guint n,
              double max_width)
{
    const double row = 18, gap = 22;
    double cx = x, cy = y;

    fm_svg_begin_group(svg, "legend", NULL);
    for (guint i = 0; i < n; i++) {
        const FmSvgLegendEntry *e = &entries[i];
        double w = 26 + fm_svg_text_width(e->name, 11);

        if (max_width > 0 && cx > x && cx + w > x + max_width) {
            cx = x;
            cy += row;
        }
        if (e->swatch == FM_SVG_SWATCH_LINE)
            fm_svg_line(svg, cx, cy + 6, cx + 20, cy + 6, e->colour, 2.5, FALSE);
        else
            fm_svg_rect(svg, cx + 3, cy, 14, 12, e->colour, "#555555", "swatch", NULL);
        fm_svg_text(svg, cx + 26, cy + 10, 11, FM_SVG_START, 0, FALSE, "legend-label", e->name);
        if (max_width > 0)
            cx += w + gap;
        else
            cy += row;
    }
    fm_svg_end_group(svg);
    return max_width > 0 ? cy - y + row : cy - y;
}
