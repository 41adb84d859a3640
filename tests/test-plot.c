/*
 * test-plot.c: the SVG writer, the run records and the figures of `fragmig plot`:
 * every document parses back with libxml2 without a single error, holds the series it
 * should (counted with XPath), escapes what it is given, and is the same byte for
 * byte for the same input; the CSV reader rejects bad files with exact messages.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <locale.h>
#include <string.h>
#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "plot/fm-plot.h"
#include "report/fm-run-record.h"
#include "plot/fm-svg.h"
#include "backend/sim/fm-sim.h"
#include "conf/fm-scenario.h"
#include "engine/fm-job.h"
#include "engine/fm-policy.h"
#include "util/fm-error.h"

#define SVG_NS "http://www.w3.org/2000/svg"

/* ---- parsing the documents back ---- */

static guint xml_errors;

/* libxml2's structured error handler: every message is an error here. */
static void
count_xml_error(void *data G_GNUC_UNUSED, const xmlError *error)
{
    g_test_message("libxml2: %s", error->message);
    xml_errors++;
}

/* Returns @svg parsed, asserting that libxml2 found no error and that the root is
 * an <svg> in the SVG namespace (caller frees). */
static xmlDoc *
parse_svg(const char *svg)
{
    xmlDoc *doc;
    xmlNode *root;

    g_assert_nonnull(svg);
    xml_errors = 0;
    xmlSetStructuredErrorFunc(NULL, (xmlStructuredErrorFunc)count_xml_error);
    doc = xmlReadMemory(svg, strlen(svg), "test.svg", NULL, XML_PARSE_NONET);
    xmlSetStructuredErrorFunc(NULL, NULL);
    g_assert_nonnull(doc);
    g_assert_cmpuint(xml_errors, ==, 0);
    root = xmlDocGetRootElement(doc);
    g_assert_cmpstr((const char *)root->name, ==, "svg");
    g_assert_nonnull(root->ns);
    g_assert_cmpstr((const char *)root->ns->href, ==, SVG_NS);
    return doc;
}

/* Returns the number of nodes @xpath (prefix s: for SVG) selects in @doc. */
static guint
count(xmlDoc *doc, const char *xpath)
{
    xmlXPathContext *ctx = xmlXPathNewContext(doc);
    xmlXPathObject *obj;
    guint n;

    xmlXPathRegisterNs(ctx, BAD_CAST "s", BAD_CAST SVG_NS);
    obj = xmlXPathEvalExpression(BAD_CAST xpath, ctx);
    g_assert_nonnull(obj);
    n = obj->nodesetval ? obj->nodesetval->nodeNr : 0;
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctx);
    return n;
}

/* Returns the text of the first node @xpath selects (caller frees), or NULL. */
static char *
text_of(xmlDoc *doc, const char *xpath)
{
    xmlXPathContext *ctx = xmlXPathNewContext(doc);
    xmlXPathObject *obj;
    char *text = NULL;

    xmlXPathRegisterNs(ctx, BAD_CAST "s", BAD_CAST SVG_NS);
    obj = xmlXPathEvalExpression(BAD_CAST xpath, ctx);
    if (obj && obj->nodesetval && obj->nodesetval->nodeNr > 0) {
        xmlChar *c = xmlNodeGetContent(obj->nodesetval->nodeTab[0]);
        text = g_strdup((const char *)c);
        xmlFree(c);
    }
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctx);
    return text;
}

/* Returns the number of points of the polyline @xpath selects. */
static guint
points_of(xmlDoc *doc, const char *xpath)
{
    g_autofree char *expr = g_strdup_printf("string(%s/@points)", xpath);
    xmlXPathContext *ctx = xmlXPathNewContext(doc);
    xmlXPathObject *obj;
    g_auto(GStrv) pts = NULL;

    xmlXPathRegisterNs(ctx, BAD_CAST "s", BAD_CAST SVG_NS);
    obj = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    g_assert_nonnull(obj);
    pts = g_strsplit((const char *)obj->stringval, " ", -1);
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctx);
    return g_strv_length(pts);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)

/* ---- the SVG writer ---- */

static void
test_svg_escaping(void)
{
    g_autoptr(FmSvg) svg = fm_svg_new(100, 50, "title <&> \"'");
    g_autofree char *text = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    g_autofree char *title = NULL;
    g_autofree char *label = NULL;
    g_autofree char *bad = NULL;

    fm_svg_begin_group(svg, "g<1>", "group & co");
    fm_svg_text(svg, 10, 10, 12, FM_SVG_START, 0, FALSE, "a\"b", "x < y && y > z");
    /* a control character XML 1.0 forbids, and a byte that is not UTF-8 */
    fm_svg_text(svg, 10, 20, 12, FM_SVG_MIDDLE, -90, TRUE, NULL, "bell\a here \xff end");
    fm_svg_rect(svg, 1, 2, 3, 4, "#ffffff", NULL, "r'", "tip <b>");
    fm_svg_end_group(svg);
    text = fm_svg_finish(g_steal_pointer(&svg));

    g_assert_nonnull(strstr(text, "x &lt; y &amp;&amp; y &gt; z"));
    g_assert_null(strstr(text, "\a"));
    doc = parse_svg(text);
    title = text_of(doc, "/s:svg/s:title");
    g_assert_cmpstr(title, ==, "title <&> \"'");
    label = text_of(doc, "//s:text[@class='a\"b']");
    g_assert_cmpstr(label, ==, "x < y && y > z");
    bad = text_of(doc, "//s:text[@font-weight='bold']");
    g_assert_true(g_str_has_prefix(bad, "bell here "));
    g_assert_true(g_str_has_suffix(bad, " end"));
    g_assert_cmpuint(count(doc, "//s:g[@class='g<1>']/s:title[.='group & co']"), ==, 1);
    g_assert_cmpuint(count(doc, "//s:rect[@class=\"r'\"]/s:title[.='tip <b>']"), ==, 1);
}

static void
test_svg_numbers(void)
{
    g_autoptr(FmSvg) svg = fm_svg_new(200.04, 100, "n");
    g_autofree char *text = NULL;
    double xy[] = { 0, -0.01, 1.26, 2, 1e300 * 1e300, 3 };

    /* a comma locale must not leak into the numbers (skipped where not installed) */
    setlocale(LC_NUMERIC, "de_DE.UTF-8");
    fm_svg_polyline(svg, xy, 3, "#000000", 1.5, "series", NULL);
    fm_svg_rect(svg, 10, 10, -5, -4, "#000000", NULL, NULL, NULL);
    text = fm_svg_finish(g_steal_pointer(&svg));
    setlocale(LC_NUMERIC, "C");

    /* one decimal, no "-0", no trailing ".0", infinities as 0 */
    g_assert_nonnull(strstr(text, "points=\"0,0 1.3,2 0,3\""));
    g_assert_nonnull(strstr(text, "stroke-width=\"1.5\""));
    g_assert_nonnull(strstr(text, "width=\"200\" height=\"100\" viewBox=\"0 0 200 100\""));
    /* a negative size is normalised */
    g_assert_nonnull(strstr(text, "x=\"5\" y=\"6\" width=\"5\" height=\"4\""));
    xmlFreeDoc(parse_svg(text));
}

static void
test_svg_nice_range(void)
{
    static const struct {
        double lo, hi;
        guint target;
        double step, nice_lo, nice_hi;
    } cases[] = {
        { 0, 4.1, 5, 1, 0, 5 },
        { 0, 361.5, 8, 50, 0, 400 },
        { 0, 1, 5, 0.2, 0, 1 },
        { 0, 4, 5, 1, 0, 4 },
        { 3, 3, 5, 1, 3, 6 },
        { 0, 0, 4, 0.5, 0, 1 },
        { 0.0011, 17.2, 4, 5, 0, 20 },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        double lo = cases[i].lo, hi = cases[i].hi;
        double step = fm_svg_nice_range(&lo, &hi, cases[i].target);

        g_assert_cmpfloat_with_epsilon(step, cases[i].step, 1e-12);
        g_assert_cmpfloat_with_epsilon(lo, cases[i].nice_lo, 1e-12);
        g_assert_cmpfloat_with_epsilon(hi, cases[i].nice_hi, 1e-12);
    }
}

static void
test_svg_axes_legend(void)
{
    g_autoptr(FmSvg) svg = fm_svg_new(400, 300, "axes");
    FmSvgFrame lin = { 50, 20, 300, 200, 0, 10, 0, 5, FALSE };
    FmSvgFrame log = { 50, 20, 300, 200, 0, 10, 0.001, 10, TRUE };
    const FmSvgLegendEntry legend[] = {
        { "one", "#ff0000", FM_SVG_SWATCH_LINE },
        { "two", "#00ff00", FM_SVG_SWATCH_BOX },
        { "three", "#0000ff", FM_SVG_SWATCH_BOX },
    };
    g_autofree char *text = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    double h;

    g_assert_cmpfloat(fm_svg_frame_x(&lin, 5), ==, 200);
    g_assert_cmpfloat(fm_svg_frame_y(&lin, 0), ==, 220);
    g_assert_cmpfloat(fm_svg_frame_y(&lin, 5), ==, 20);
    g_assert_cmpfloat_with_epsilon(fm_svg_frame_y(&log, 0.1), 120, 1e-9);
    fm_svg_axis_x(svg, &lin, 2, "x axis", TRUE);
    fm_svg_axis_y(svg, &lin, 1, "y axis");
    fm_svg_axis_y(svg, &log, 0, "log axis");
    h = fm_svg_legend(svg, 10, 10, legend, 3, 0);
    g_assert_cmpfloat(h, ==, 54);
    h = fm_svg_legend(svg, 10, 250, legend, 3, 1000);
    g_assert_cmpfloat(h, ==, 18);
    h = fm_svg_legend(svg, 10, 250, legend, 3, 60);
    g_assert_cmpfloat(h, ==, 54);
    text = fm_svg_finish(g_steal_pointer(&svg));
    doc = parse_svg(text);

    /* x: 0, 2, ..., 10; y: 0..5; log: 0.001 .. 10, five decades */
    g_assert_cmpuint(count(doc, "//s:g[@class='axis-x']/s:text[@class='tick']"), ==, 6);
    g_assert_cmpuint(count(doc, "(//s:g[@class='axis-y'])[1]/s:text[@class='tick']"), ==, 6);
    g_assert_cmpuint(count(doc, "(//s:g[@class='axis-y'])[2]/s:text[@class='tick']"), ==, 5);
    g_assert_cmpuint(count(doc, "//s:text[.='0.001']"), ==, 1);
    g_assert_cmpuint(count(doc, "//s:text[.='10']"), ==, 2);
    g_assert_cmpuint(count(doc, "//s:g[@class='legend']/s:text"), ==, 9);
    g_assert_cmpuint(count(doc, "//s:g[@class='legend']/s:rect[@class='swatch']"), ==, 6);
}

/* ---- records ---- */

/* A round for fm_run_record_add_round(). */
static void
add_round(FmRunRecord *rec, FmFragTracker *tracker, double start, double duration,
          guint64 sent, guint64 dirty, guint64 pending, guint hot, guint64 data)
{
    FmRoundRecord r = { 0 };
    FmJobStats st = { 0 };

    r.round = rec->rounds->len;
    r.start = start;
    r.duration = duration;
    r.pages_sent = sent;
    r.dirty_after = dirty;
    r.pending_after = pending;
    r.fragments_hot = hot;
    st.memory_page_size = 4096;
    st.memory_total = 1000 * 4096;
    st.data_processed = data;
    fm_run_record_add_round(rec, &r, &st, tracker);
}

/* Returns a finished record of 1000 pages in 100 fragments of 10 with 3 rounds: the
 * second half of memory is dirtied every round and HOT from round 1. */
static FmRunRecord *
make_record(const char *scenario, const char *policy)
{
    g_autoptr(FmFragTracker) t = fm_frag_tracker_new(1000, 10);
    FmRunRecord *rec = fm_run_record_new(scenario, policy);
    FmJobStats st = { 0 };

    for (guint i = 50; i < 100; i++)
        fm_frag_tracker_get_mut(t, i)->dirty_last = 10;
    fm_frag_tracker_get_mut(t, 3)->dirty_last = 1;
    add_round(rec, t, 0.5, 4, 1000, 500, 500, 0, 4096000 + 100);
    for (guint i = 50; i < 100; i++)
        fm_frag_tracker_set_state(t, i, FM_FRAG_HOT);
    fm_frag_tracker_get_mut(t, 3)->dirty_last = 0;
    add_round(rec, t, 4.5, 2, 500, 500, 500, 50, 6144000 + 200);
    add_round(rec, t, 6.5, 0.25, 0, 500, 500, 50, 6144000 + 300);
    st.memory_page_size = 4096;
    st.memory_total = 1000 * 4096;
    st.time_elapsed = 8.75;
    st.downtime = 2;
    st.pages_downtime = 500;
    st.data_processed = 8192000 + 400;
    st.stop_reason = FM_STOP_ONLY_HOT_LEFT;
    fm_run_record_finish(rec, &st, TRUE);
    return rec;
}

static void
test_record_collect(void)
{
    g_autoptr(FmRunRecord) rec = make_record("s", "fragment");
    const FmRunRecordRound *r1 = &g_array_index(rec->rounds, FmRunRecordRound, 1);

    g_assert_cmpuint(rec->page_size, ==, 4096);
    g_assert_cmpuint(rec->memory, ==, 4096000);
    g_assert_cmpuint(rec->fragments, ==, 100);
    g_assert_cmpuint(rec->heat_per_column, ==, 1);
    g_assert_cmpuint(rec->heat_columns, ==, 100);
    g_assert_cmpuint(rec->rounds->len, ==, 3);
    g_assert_cmpuint(fm_run_record_heat_rows(rec), ==, 3);
    g_assert_cmpuint(r1->base.round, ==, 1);
    g_assert_cmpuint(r1->data_remaining, ==, 500 * 4096);
    g_assert_cmpuint(r1->data_sent, ==, 6144200);
    g_assert_cmpfloat(g_array_index(rec->heat_dirty, float, 3), ==, 0.1f);
    g_assert_cmpfloat(g_array_index(rec->heat_dirty, float, 100 + 3), ==, 0);
    g_assert_cmpfloat(g_array_index(rec->heat_dirty, float, 60), ==, 1);
    g_assert_cmpuint(g_array_index(rec->heat_hot, guint8, 60), ==, 0);
    g_assert_cmpuint(g_array_index(rec->heat_hot, guint8, 100 + 60), ==, 1);
    g_assert_true(rec->finished);
    g_assert_cmpstr(rec->stop_reason, ==, "only-hot-left");
}

static void
test_record_pooling(void)
{
    /* 600 fragments: 3 a column, 200 columns; the max of each three shows */
    g_autoptr(FmFragTracker) t = fm_frag_tracker_new(600 * 8, 8);
    g_autoptr(FmRunRecord) rec = fm_run_record_new("big", "xen");
    g_autofree char *csv = NULL;
    g_autoptr(FmRunRecordSet) set = fm_run_record_set_new();
    g_autoptr(GError) error = NULL;
    FmRunRecord *back;

    fm_frag_tracker_get_mut(t, 3)->dirty_last = 2;
    fm_frag_tracker_get_mut(t, 4)->dirty_last = 6;
    fm_frag_tracker_set_state(t, 599, FM_FRAG_HOT);
    add_round(rec, t, 0, 1, 4800, 8, 8, 1, 1000);
    g_assert_cmpuint(rec->heat_per_column, ==, 3);
    g_assert_cmpuint(rec->heat_columns, ==, 200);
    g_assert_cmpfloat(g_array_index(rec->heat_dirty, float, 1), ==, 0.75f);
    g_assert_cmpfloat(g_array_index(rec->heat_dirty, float, 0), ==, 0);
    g_assert_cmpuint(g_array_index(rec->heat_hot, guint8, 199), ==, 1);
    g_assert_cmpuint(g_array_index(rec->heat_hot, guint8, 198), ==, 0);

    /* 8192 fragments (16 GiB of 2 MiB) pool to 256 columns */
    {
        g_autoptr(FmFragTracker) t16 = fm_frag_tracker_new(8192ULL * 512, 512);
        g_autoptr(FmRunRecord) r16 = fm_run_record_new("db-16g", "xen");
        add_round(r16, t16, 0, 1, 1, 0, 0, 0, 1);
        g_assert_cmpuint(r16->heat_columns, ==, FM_RUN_RECORD_HEAT_COLUMNS);
        g_assert_cmpuint(r16->heat_per_column, ==, 32);
    }

    csv = fm_run_record_heat_csv(rec);
    g_assert_true(fm_run_record_set_load_data(set, "big.xen.heat.csv", csv, &error));
    g_assert_no_error(error);
    back = fm_run_record_set_get_run(set, 0);
    g_assert_cmpuint(back->heat_columns, ==, 200);
    g_assert_cmpuint(back->heat_per_column, ==, 3);
    g_assert_cmpuint(fm_run_record_heat_rows(back), ==, 1);
    g_assert_cmpfloat(g_array_index(back->heat_dirty, float, 1), ==, 0.75f);
    g_assert_cmpuint(g_array_index(back->heat_hot, guint8, 199), ==, 1);
}

static void
test_record_roundtrip(void)
{
    g_autoptr(FmRunRecord) rec = make_record("round <trip>", "fragment");
    g_autofree char *rounds = fm_run_record_rounds_csv(rec);
    g_autofree char *heat = fm_run_record_heat_csv(rec);
    g_autoptr(FmRunRecordSet) set = fm_run_record_set_new();
    g_autoptr(GError) error = NULL;
    FmRunRecord *back;

    g_assert_true(g_str_has_prefix(rounds, "# fragmig run record: rounds\n# scenario=round <trip>\n"));
    g_assert_nonnull(strstr(rounds, "\nround,start_s,duration_s,pages_sent,dirty_after,pending_after,fragments_hot,throttle,data_sent_bytes_cumulative,data_remaining_bytes\n"
                                    "0,0.500000,4.000000,1000,500,500,0,0,4096100,2048000\n"));
    /* heat first, then rounds: the two files merge into one run whatever the order */
    g_assert_true(fm_run_record_set_load_data(set, "a.heat.csv", heat, &error));
    g_assert_true(fm_run_record_set_load_data(set, "a.rounds.csv", rounds, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(fm_run_record_set_n_runs(set), ==, 1);
    back = fm_run_record_set_get_run(set, 0);
    g_assert_cmpstr(back->scenario, ==, "round <trip>");
    g_assert_cmpstr(back->policy, ==, "fragment");
    g_assert_cmpuint(back->rounds->len, ==, 3);
    g_assert_cmpuint(fm_run_record_heat_rows(back), ==, 3);
    g_assert_true(back->finished && back->completed);
    g_assert_cmpfloat(back->total_time, ==, 8.75);
    g_assert_cmpfloat(back->downtime, ==, 2);
    g_assert_cmpuint(back->pages_downtime, ==, 500);
    g_assert_cmpuint(back->data_sent, ==, 8192400);
    g_assert_cmpstr(back->stop_reason, ==, "only-hot-left");
    g_assert_cmpuint(back->fragments, ==, 100);
    g_assert_cmpuint(back->fragment_pages, ==, 10);
    g_assert_cmpmem(back->rounds->data, 3 * sizeof(FmRunRecordRound),
                    rec->rounds->data, 3 * sizeof(FmRunRecordRound));
    g_assert_cmpmem(back->heat_dirty->data, 300 * sizeof(float),
                    rec->heat_dirty->data, 300 * sizeof(float));
    g_assert_cmpmem(back->heat_hot->data, 300, rec->heat_hot->data, 300);

    /* and the figures drawn from the file are those drawn from the record */
    {
        g_autofree char *a = fm_plot_remaining(&rec, 1);
        g_autofree char *b = fm_plot_remaining(&back, 1);
        g_autofree char *c = fm_plot_heat(rec);
        g_autofree char *d = fm_plot_heat(back);
        g_assert_cmpstr(a, ==, b);
        g_assert_cmpstr(c, ==, d);
    }

    /* a second rounds file of the same run is refused, and the set is unchanged */
    g_assert_false(fm_run_record_set_load_data(set, "b.rounds.csv", rounds, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_CONFIG);
    g_assert_cmpstr(error->message, ==, "b.rounds.csv: a second record of round <trip> under fragment");
    g_assert_cmpuint(fm_run_record_set_n_runs(set), ==, 1);
}

static void
test_record_files(void)
{
    g_autofree char *dir = g_dir_make_tmp("fm-test-plot-XXXXXX", NULL);
    g_autofree char *sub = g_build_filename(dir, "new", "dir", NULL);
    g_autoptr(FmRunRecord) rec = make_record("a/b c", "xen");
    g_autofree char *stem = fm_run_record_file_stem("a/b c", "xen");
    g_autofree char *hidden = fm_run_record_file_stem("..", NULL);
    g_autofree char *rounds = NULL;
    g_autofree char *heat = NULL;
    g_autoptr(FmRunRecordSet) set = fm_run_record_set_new();
    g_autoptr(GError) error = NULL;

    g_assert_cmpstr(stem, ==, "a_b_c.xen");
    g_assert_cmpstr(hidden, ==, "_.");
    g_assert_true(fm_run_record_write(rec, sub, &error));
    g_assert_no_error(error);
    rounds = g_build_filename(sub, "a_b_c.xen.rounds.csv", NULL);
    heat = g_build_filename(sub, "a_b_c.xen.heat.csv", NULL);
    g_assert_true(fm_run_record_set_load_file(set, rounds, &error));
    g_assert_true(fm_run_record_set_load_file(set, heat, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(fm_run_record_set_n_runs(set), ==, 1);
    g_assert_cmpstr(fm_run_record_set_get_run(set, 0)->scenario, ==, "a/b c");

    g_unlink(rounds);
    g_unlink(heat);
    g_rmdir(sub);
    g_free(sub);
    sub = g_build_filename(dir, "new", NULL);
    g_rmdir(sub);
    g_rmdir(dir);

    /* a missing file: an I/O error naming it */
    g_assert_false(fm_run_record_set_load_file(set, rounds, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_IO);
    g_assert_nonnull(strstr(error->message, "a_b_c.xen.rounds.csv"));
}

#define META "# scenario=s\n# policy=p\n# page_size=4096\n# memory_bytes=40960\n"
#define ROUNDS_HEADER "round,start_s,duration_s,pages_sent,dirty_after,pending_after,fragments_hot,throttle,data_sent_bytes_cumulative,data_remaining_bytes\n"
#define HEAT_META "# scenario=s\n# policy=p\n# fragments=4\n# fragments_per_column=2\n"
#define SUITE_HEADER "scenario,policy,total_time_s,downtime_ms,data_sent_mib,stop_reason\n"

static void
test_csv_errors(void)
{
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        { "", "t.csv: no header line (empty file?)" },
        { "# only a comment\n\n", "t.csv: no header line (empty file?)" },
        { "a,b\n1,2\n", "t.csv:1: not a rounds, heat or suite CSV (unknown header 'a,b')" },
        /* rounds */
        { META ROUNDS_HEADER, "t.csv:5: no rounds after the header" },
        { META ROUNDS_HEADER "0,0,1,10,0,0,0,0,40960\n", "t.csv:6: expected 10 fields, found 9" },
        { META ROUNDS_HEADER "0,0,1,x,0,0,0,0,40960,0\n",
          "t.csv:6: pages_sent: 'x' is not a whole number (0 to 18446744073709551615)" },
        { META ROUNDS_HEADER "0,0,1,-1,0,0,0,0,40960,0\n",
          "t.csv:6: pages_sent: '-1' is not a whole number (0 to 18446744073709551615)" },
        { META ROUNDS_HEADER "0,0,nan,10,0,0,0,0,40960,0\n",
          "t.csv:6: duration_s: 'nan' is not a non-negative number" },
        { META ROUNDS_HEADER "0,0, 1,10,0,0,0,0,40960,0\n",
          "t.csv:6: duration_s: ' 1' is not a non-negative number" },
        { META ROUNDS_HEADER "0,0,1,10,0,0,0,101,40960,0\n",
          "t.csv:6: throttle: '101' is not a whole number (0 to 100)" },
        { META ROUNDS_HEADER "0,0,1,10,0,0,0,0,40960,0\n# a comment\n\n2,1,1,0,0,0,0,0,40960,0\n",
          "t.csv:9: round 2 out of order (expected 1)" },
        { "# scenario=s\n# policy=p\n# page_size=4096\n" ROUNDS_HEADER "0,0,1,10,0,0,0,0,40960,0\n",
          "t.csv:4: no '# memory_bytes=' line before the header" },
        { "# policy=p\n" ROUNDS_HEADER, "t.csv:2: no '# scenario=' line before the header" },
        { "# scenario=s\n# policy=p\n# page_size=4k\n# memory_bytes=1\n" ROUNDS_HEADER,
          "t.csv:3: page_size: '4k' is not a whole number (0 to 4294967295)" },
        { "# scenario=s\n# policy=p\n# page_size=0\n# memory_bytes=1\n" ROUNDS_HEADER "0,0,1,10,0,0,0,0,40960,0\n",
          "t.csv:3: page_size: must not be 0" },
        { META "# total_time_s=-1\n" ROUNDS_HEADER "0,0,1,10,0,0,0,0,40960,0\n",
          "t.csv:5: total_time_s: '-1' is not a non-negative number" },
        /* heat */
        { HEAT_META "round,column,dirty_fraction,hot\n0,0,0.5,0\n",
          "t.csv:6: round 0 ends after 1 of 2 columns" },
        { HEAT_META "round,column,dirty_fraction,hot\n0,0,0.5,0\n0,2,0.5,0\n",
          "t.csv:7: expected round 0 column 1, found round 0 column 2" },
        { HEAT_META "round,column,dirty_fraction,hot\n0,0,1.5,0\n",
          "t.csv:6: dirty_fraction: '1.5' is more than 1" },
        { HEAT_META "round,column,dirty_fraction,hot\n0,0,0.5,2\n",
          "t.csv:6: hot: '2' is not a whole number (0 to 1)" },
        { HEAT_META "round,column,dirty_fraction,hot\n0,0,0.5\n", "t.csv:6: expected 4 fields, found 3" },
        { "# scenario=s\n# policy=p\n# fragments=4\nround,column,dirty_fraction,hot\n",
          "t.csv:4: no '# fragments_per_column=' line before the header" },
        { "# scenario=s\n# policy=p\n# fragments=0\n# fragments_per_column=1\nround,column,dirty_fraction,hot\n",
          "t.csv:5: fragments and fragments_per_column must not be 0" },
        { "# scenario=s\n# policy=p\n# fragments=4000000\n# fragments_per_column=1\nround,column,dirty_fraction,hot\n",
          "t.csv:5: 4000000 columns of fragments (at most 65536)" },
        { HEAT_META "round,column,dirty_fraction,hot\n", "t.csv:5: no rounds after the header" },
        /* suite */
        { "scenario,policy,total_time_s\n", "t.csv:1: the header lacks the column 'downtime_ms'" },
        { SUITE_HEADER "a,xen,1,2,3\n", "t.csv:2: expected 6 fields, found 5" },
        { SUITE_HEADER "\"a,xen,1,2,3,x\n", "t.csv:2: unterminated quoted field" },
        { SUITE_HEADER "a,xen,1,2,lots,x\n", "t.csv:2: data_sent_mib: 'lots' is not a non-negative number" },
        { SUITE_HEADER ",xen,1,2,3,x\n", "t.csv:2: empty scenario or policy" },
        { SUITE_HEADER "\n", "t.csv:2: no rows after the header" },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(FmRunRecordSet) set = fm_run_record_set_new();
        g_autoptr(GError) error = NULL;

        g_test_message("case %u: %s", i, cases[i].message);
        g_assert_false(fm_run_record_set_load_data(set, "t.csv", cases[i].text, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_CONFIG);
        g_assert_cmpstr(error->message, ==, cases[i].message);
        g_assert_cmpuint(fm_run_record_set_n_runs(set), ==, 0);
        g_assert_cmpuint(fm_run_record_set_n_suites(set), ==, 0);
    }
}

static void
test_csv_suite(void)
{
    /* fm-report's quoting: a name with a comma and quotes; CRLF line ends */
    const char *text = SUITE_HEADER
        "\"we,ird \"\"<&>\"\"\",xen,1.5,2.5,1024,max-rounds\r\n"
        "\"we,ird \"\"<&>\"\"\",fragment,1,300,512,only-hot-left\r\n"
        "other,xen,10,0.5,2048.5,x\r\n";
    g_autoptr(FmRunRecordSet) set = fm_run_record_set_new();
    g_autoptr(GError) error = NULL;
    const FmSuite *suite;
    const FmSuiteRow *row;

    g_assert_true(fm_run_record_set_load_data(set, "dir/sim-suite.csv", text, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(fm_run_record_set_n_suites(set), ==, 1);
    suite = fm_run_record_set_get_suite(set, 0);
    g_assert_cmpstr(suite->name, ==, "sim-suite");
    g_assert_cmpuint(suite->rows->len, ==, 3);
    row = &g_array_index(suite->rows, FmSuiteRow, 0);
    g_assert_cmpstr(row->scenario, ==, "we,ird \"<&>\"");
    g_assert_cmpstr(row->policy, ==, "xen");
    g_assert_cmpfloat(row->total_time, ==, 1.5);
    g_assert_cmpfloat(row->downtime, ==, 0.0025);
    g_assert_cmpfloat(row->data_sent, ==, 1024.0 * 1048576);
    row = &g_array_index(suite->rows, FmSuiteRow, 2);
    g_assert_cmpstr(row->policy, ==, "xen");
    g_assert_cmpfloat(row->data_sent, ==, 2048.5 * 1048576);
}

/* ---- figures ---- */

static void
test_plot_remaining(void)
{
    g_autoptr(FmRunRecord) a = make_record("sweep", "fragment");
    g_autoptr(FmRunRecord) b = make_record("sweep", "xen");
    g_autoptr(FmRunRecord) c = make_record("sweep", "qemu");
    FmRunRecord *runs[] = { b, c, a };
    g_autofree char *one = fm_plot_remaining(&a, 1);
    g_autofree char *three = fm_plot_remaining(runs, 3);
    g_autofree char *again = fm_plot_remaining(runs, 3);
    g_autoptr(xmlDoc) d1 = parse_svg(one);
    g_autoptr(xmlDoc) d3 = parse_svg(three);
    g_autofree char *title = text_of(d1, "/s:svg/s:title");

    g_assert_cmpstr(title, ==, "sweep under fragment: data remaining");
    /* one series: the start, 3 points a round, 3 for stop-and-copy */
    g_assert_cmpuint(count(d1, "//s:polyline[@class='series']"), ==, 1);
    g_assert_cmpuint(count(d1, "//s:polyline[@class='series']/s:title[.='fragment']"), ==, 1);
    g_assert_cmpuint(points_of(d1, "//s:polyline[@class='series']"), ==, 1 + 3 * 3 + 3);
    /* round boundaries: a dashed line at the start of rounds 1 and 2, a label each */
    g_assert_cmpuint(count(d1, "//s:g[@class='rounds']/s:line[@stroke-dasharray]"), ==, 2);
    g_assert_cmpuint(count(d1, "//s:g[@class='rounds']/s:text[@class='round-label']"), ==, 4);
    g_assert_cmpuint(count(d1, "//s:rect[@class='paused']"), ==, 1);
    g_assert_cmpuint(count(d1, "//s:text[@class='subtitle' and contains(., 'downtime 2.00 s')]"), ==, 1);

    /* three policies overlaid, each with its colour and its round ends marked */
    g_assert_cmpuint(count(d3, "//s:polyline[@class='series']"), ==, 3);
    g_assert_cmpuint(count(d3, "//s:polyline[@class='series']/s:title[.='xen']"), ==, 1);
    g_assert_cmpuint(count(d3, "//s:polyline[@class='series']/s:title[.='qemu']"), ==, 1);
    g_assert_cmpuint(count(d3, "//s:circle[@class='mark']"), ==, 9);
    g_assert_cmpuint(count(d3, "//s:g[@class='legend']/s:text[starts-with(., 'xen: 8.75 s')]"), ==, 1);
    g_assert_cmpuint(count(d3, "//s:polyline[@stroke='#D55E00']"), ==, 1);
    g_assert_cmpstr(fm_plot_policy_colour("fragment"), ==, "#D55E00");
    g_assert_cmpstr(fm_plot_policy_colour("xen"), ==, "#0072B2");
    g_assert_cmpstr(three, ==, again);
}

static void
test_plot_sent(void)
{
    g_autoptr(FmRunRecord) a = make_record("s", "fragment");
    g_autoptr(FmRunRecord) b = fm_run_record_new("s", "xen");
    FmRunRecord *runs[] = { b, a };
    g_autofree char *one = NULL;
    g_autofree char *two = NULL;
    g_autoptr(xmlDoc) d1 = NULL;
    g_autoptr(xmlDoc) d2 = NULL;

    /* an unfinished run of 5 rounds: no stop-and-copy bar */
    for (guint i = 0; i < 5; i++)
        add_round(b, NULL, i, 1, 10, 1, 1, 0, (i + 1) * 40960);
    one = fm_plot_sent(&a, 1);
    two = fm_plot_sent(runs, 2);
    d1 = parse_svg(one);
    d2 = parse_svg(two);

    /* 3 rounds and stop-and-copy, with their values */
    g_assert_cmpuint(count(d1, "//s:rect[@class='bar']"), ==, 4);
    g_assert_cmpuint(count(d1, "//s:rect[@class='bar']/s:title[.='fragment, stop-and-copy: 1.95 MiB']"), ==, 1);
    g_assert_cmpuint(count(d1, "//s:rect[@class='bar']/s:title[.='fragment, round 0: 3.91 MiB']"), ==, 1);
    g_assert_cmpuint(count(d1, "//s:text[@class='value']"), ==, 4);
    g_assert_cmpuint(count(d2, "//s:g[@class='series']"), ==, 2);
    g_assert_cmpuint(count(d2, "//s:rect[@class='bar']"), ==, 5 + 4);
    /* groups: rounds 0-4 and stop */
    g_assert_cmpuint(count(d2, "//s:g[@class='axis-x']/s:text[@class='tick']"), ==, 6);
}

static void
test_plot_heat(void)
{
    g_autoptr(FmRunRecord) rec = make_record("s", "fragment");
    g_autofree char *svg = fm_plot_heat(rec);
    g_autoptr(xmlDoc) doc = parse_svg(svg);

    /* round 0: fragment 3 (10 %) and 50-99 (100 %); rounds 1-2: 50-99 only; equal
     * neighbours are one rectangle */
    g_assert_cmpuint(count(doc, "//s:g[@class='row']"), ==, 3);
    g_assert_cmpuint(count(doc, "(//s:g[@class='row'])[1]/s:rect[@class='cell']"), ==, 2);
    g_assert_cmpuint(count(doc, "(//s:g[@class='row'])[2]/s:rect[@class='cell']"), ==, 1);
    g_assert_cmpuint(count(doc, "//s:rect[@class='cell']/s:title[.='round 0, columns 3-3: up to 10% of pages dirtied']"), ==, 1);
    g_assert_cmpuint(count(doc, "//s:rect[@class='cell']/s:title[.='round 2, columns 50-99: up to 100% of pages dirtied']"), ==, 1);
    /* HOT from round 1 on */
    g_assert_cmpuint(count(doc, "(//s:g[@class='row'])[1]/s:rect[@class='hot']"), ==, 0);
    g_assert_cmpuint(count(doc, "//s:rect[@class='hot']"), ==, 2);
    g_assert_cmpuint(count(doc, "//s:rect[@class='hot']/s:title[.='round 1, columns 50-99: HOT']"), ==, 1);
    /* memory addresses below, HOT counts on the right */
    g_assert_cmpuint(count(doc, "//s:text[@class='axis-label' and .='guest memory address (MiB)']"), ==, 1);
    g_assert_cmpuint(count(doc, "//s:g[@class='axis-y']/s:text[.='50']"), ==, 2);
    /* the HOT band is explained, in the subtitle and the key */
    g_assert_nonnull(strstr(svg, "blue band: HOT"));
    g_assert_cmpuint(count(doc, "//s:text[@class='key-label' and .='HOT']"), ==, 1);
}

/* A policy that marked nothing HOT: no band, and nothing explains one. */
static void
test_plot_heat_no_hot(void)
{
    g_autoptr(FmRunRecord) rec = make_record("s", "xen");
    g_autofree char *svg = NULL;
    g_autoptr(xmlDoc) doc = NULL;

    /* the same record with the HOT marks and counts taken away */
    memset(rec->heat_hot->data, 0, rec->heat_hot->len);
    for (guint r = 0; r < rec->rounds->len; r++)
        g_array_index(rec->rounds, FmRunRecordRound, r).base.fragments_hot = 0;
    svg = fm_plot_heat(rec);
    doc = parse_svg(svg);
    g_assert_cmpuint(count(doc, "//s:g[@class='row']"), ==, 3);
    g_assert_cmpuint(count(doc, "//s:rect[@class='hot']"), ==, 0);
    g_assert_null(strstr(svg, "HOT"));
    g_assert_cmpuint(count(doc, "//s:text[@class='key-label']"), ==, 1);
}

static void
test_plot_suite(void)
{
    const char *text = SUITE_HEADER
        "a<&>b,xen,120.5,17214.6,14364.1,max-rounds\n"
        "a<&>b,fragment,68.9,17214.6,8208,only-hot-left\n"
        "idle,xen,34.4,1.1,4104.6,x\n"
        "idle,fragment,34.4,5.6,4104.6,x\n"
        "idle,qemu,34.4,5.6,4104.6,x\n";
    g_autoptr(FmRunRecordSet) set = fm_run_record_set_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *svg = NULL;
    g_autofree char *again = NULL;
    g_autoptr(xmlDoc) doc = NULL;

    g_assert_true(fm_run_record_set_load_data(set, "suite.csv", text, &error));
    svg = fm_plot_suite(fm_run_record_set_get_suite(set, 0));
    again = fm_plot_suite(fm_run_record_set_get_suite(set, 0));
    g_assert_cmpstr(svg, ==, again);
    g_assert_nonnull(strstr(svg, ">a&lt;&amp;&gt;b</text>"));
    g_assert_null(strstr(svg, "a<&>b"));
    doc = parse_svg(svg);

    /* three panels of five bars, a group per scenario and panel */
    g_assert_cmpuint(count(doc, "//s:rect[@class='bar']"), ==, 15);
    g_assert_cmpuint(count(doc, "//s:g[@class='group']/s:title[.='a<&>b']"), ==, 3);
    g_assert_cmpuint(count(doc, "//s:g[@class='axis-x']/s:text[.='a<&>b']"), ==, 1);
    g_assert_cmpuint(count(doc, "//s:rect[@class='bar']/s:title[.='a<&>b / fragment: 68.9 s']"), ==, 1);
    g_assert_cmpuint(count(doc, "//s:rect[@class='bar']/s:title[.='idle / xen: 1.1 ms']"), ==, 1);
    g_assert_cmpuint(count(doc, "//s:rect[@class='bar']/s:title[.='a<&>b / xen: 14.0 GiB']"), ==, 1);
    /* policies in the order first seen, in their fixed colours */
    g_assert_cmpuint(count(doc, "//s:g[@class='legend']/s:text"), ==, 3);
    g_assert_cmpuint(count(doc, "(//s:g[@class='legend']/s:text)[3][.='qemu']"), ==, 1);
    g_assert_cmpuint(count(doc, "//s:rect[@class='bar' and @fill='#E69F00']"), ==, 3);
    /* downtime spans 1.1 ms to 17 s: a log scale; time and data do not */
    g_assert_cmpuint(count(doc, "//s:text[@class='axis-label' and .='downtime (s, log)']"), ==, 1);
    g_assert_cmpuint(count(doc, "//s:text[@class='axis-label' and .='total time (s)']"), ==, 1);
    g_assert_cmpuint(count(doc, "//s:text[@class='axis-label' and .='data sent (GiB)']"), ==, 1);
}

/* A real simulated run, recorded through the job's progress callback. */
static void
test_record_from_job(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmScenario) sc = fm_scenario_load_string(
        "<scenario name='rec'><guest memory='256MiB'/><link bandwidth='1Gbit'/>"
        "<workload type='sweep' rate='120%' region-size='50%'/></scenario>", "rec.xml", &error);
    g_autoptr(FmSim) sim = NULL;
    g_autoptr(FmJob) job = NULL;
    g_autoptr(FmParamSet) params = fm_param_set_new();
    g_autoptr(FmRunRecord) rec = fm_run_record_new("rec", "fragment");
    g_autofree char *heat = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    const GArray *rounds;
    FmPolicy *policy;
    guint hot_cells = 0;

    g_assert_no_error(error);
    sim = fm_sim_new(sc, &error);
    g_assert_no_error(error);
    policy = fm_policy_new(fm_policy_lookup("fragment"), params, &error);
    g_assert_no_error(error);
    job = fm_job_new(fm_sim_get_backend(sim), fm_sim_get_sink(sim), policy, params, &error);
    g_assert_no_error(error);
    fm_job_subscribe(job, FM_RUN_RECORD_EVENTS, fm_run_record_on_event, rec);
    g_assert_true(fm_job_run(job, &error));
    /* the end of the run came through the events too */
    g_assert_true(rec->finished && rec->completed);
    g_assert_cmpfloat(rec->total_time, ==, fm_job_get_stats(job)->time_elapsed);

    rounds = fm_job_get_rounds(job);
    g_assert_cmpuint(rec->rounds->len, ==, rounds->len);
    g_assert_cmpuint(fm_run_record_heat_rows(rec), ==, rounds->len);
    g_assert_cmpuint(rec->fragments, ==, 128);
    g_assert_cmpuint(rec->heat_columns, ==, 128);
    for (guint i = 0; i < rounds->len; i++) {
        const FmRoundRecord *r = &g_array_index(rounds, FmRoundRecord, i);
        const FmRunRecordRound *mine = &g_array_index(rec->rounds, FmRunRecordRound, i);

        g_assert_cmpuint(mine->base.pages_sent, ==, r->pages_sent);
        g_assert_cmpuint(mine->base.pending_after, ==, r->pending_after);
        g_assert_cmpuint(mine->base.fragments_hot, ==, r->fragments_hot);
        g_assert_cmpfloat(mine->base.start, ==, r->start);
    }
    /* the swept half ends HOT: the last row marks its 64 fragments */
    for (guint c = 0; c < 128; c++)
        hot_cells += g_array_index(rec->heat_hot, guint8, (rounds->len - 1) * 128 + c);
    g_assert_cmpuint(hot_cells, ==, fm_job_get_stats(job)->fragments_hot);
    g_assert_cmpuint(hot_cells, ==, 64);
    g_assert_cmpfloat(rec->total_time, ==, fm_job_get_stats(job)->time_elapsed);

    heat = fm_plot_heat(rec);
    doc = parse_svg(heat);
    g_assert_cmpuint(count(doc, "//s:g[@class='row']"), ==, rounds->len);
    g_assert_cmpuint(count(doc, "//s:rect[@class='hot']"), >=, 1);
}

int
main(int argc, char **argv)
{
    setlocale(LC_ALL, "C.UTF-8");
    g_test_init(&argc, &argv, NULL);
    LIBXML_TEST_VERSION

    g_test_add_func("/svg/escaping", test_svg_escaping);
    g_test_add_func("/svg/numbers", test_svg_numbers);
    g_test_add_func("/svg/nice-range", test_svg_nice_range);
    g_test_add_func("/svg/axes-legend", test_svg_axes_legend);
    g_test_add_func("/record/collect", test_record_collect);
    g_test_add_func("/record/pooling", test_record_pooling);
    g_test_add_func("/record/roundtrip", test_record_roundtrip);
    g_test_add_func("/record/files", test_record_files);
    g_test_add_func("/record/from-job", test_record_from_job);
    g_test_add_func("/csv/errors", test_csv_errors);
    g_test_add_func("/csv/suite", test_csv_suite);
    g_test_add_func("/plot/remaining", test_plot_remaining);
    g_test_add_func("/plot/sent", test_plot_sent);
    g_test_add_func("/plot/heat", test_plot_heat);
    g_test_add_func("/plot/heat-no-hot", test_plot_heat_no_hot);
    g_test_add_func("/plot/suite", test_plot_suite);
    return g_test_run();
}
