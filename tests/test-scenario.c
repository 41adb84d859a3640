/*
 * test-scenario.c: tests of fm-scenario (scenario XML) and of workload specs.
 *
 * Data: FM_TEST_DATA (tests/data, the bad-*.xml files) and FM_TEST_EXAMPLES
 * (examples/, whose scenarios/ must all load); both default to the source tree.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>
#include "conf/fm-scenario.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <libxml/globals.h>
#include <libxml/xmlerror.h>

#include "util/fm-error.h"
#include "util/fm-quote.h"

#define GIB (G_GUINT64_CONSTANT(1) << 30)
#define GBIT 125e6    /* bytes per second */

/* Returns the directory named by @env, else @rel next to this source file
 * (caller frees). */
static char *
test_dir(const char *env, const char *rel)
{
    const char *dir = g_getenv(env);
    g_autofree char *here = NULL;

    if (dir && *dir)
        return g_strdup(dir);
    here = g_path_get_dirname(__FILE__);
    return g_build_filename(here, rel, NULL);
}

static char *
test_data_path(const char *file)
{
    g_autofree char *dir = test_dir("FM_TEST_DATA", "data");

    return g_build_filename(dir, file, NULL);
}

static char *
test_example_path(const char *file)
{
    g_autofree char *dir = test_dir("FM_TEST_EXAMPLES", "../examples");

    return g_build_filename(dir, "scenarios", file, NULL);
}

/* Checks what every loaded scenario must satisfy, whatever the file said. */
static void
check_invariants(const FmScenario *sc)
{
    const FmWorkloadSpec *w = sc->workload;

    g_assert_nonnull(sc->path);
    g_assert_nonnull(sc->name);
    g_assert_cmpstr(sc->name, !=, "");
    g_assert_cmpuint(sc->page_size, >=, 512);
    g_assert_cmpuint(sc->page_size, <=, 1024 * 1024);
    g_assert_cmpuint(sc->page_size & (sc->page_size - 1), ==, 0);
    g_assert_cmpuint(sc->memory, >=, sc->page_size);
    g_assert_cmpuint(sc->memory % sc->page_size, ==, 0);
    g_assert_cmpuint(fm_scenario_page_count(sc), ==, sc->memory / sc->page_size);
    g_assert_cmpfloat(sc->bandwidth, >, 0);
    g_assert_cmpfloat(sc->latency, >=, 0);
    g_assert_nonnull(sc->params);
    g_assert_nonnull(w);

    if (w->type == FM_WORKLOAD_PHASES || w->type == FM_WORKLOAD_MIX) {
        g_assert_cmpuint(w->n_phases, >=, 1);
        g_assert_cmpuint(w->n_phases, <=, FM_WORKLOAD_MAX_PHASES);
        g_assert_nonnull(w->phases);
    } else {
        g_assert_cmpuint(w->n_phases, ==, 0);
        g_assert_null(w->phases);
    }
    for (guint i = 0; i < MAX(w->n_phases, 1); i++) {
        const FmWorkloadSpec *m = w->n_phases ? &w->phases[i] : w;

        if (w->n_phases) {
            g_assert_cmpint(m->type, !=, FM_WORKLOAD_PHASES);
            g_assert_cmpint(m->type, !=, FM_WORKLOAD_MIX);
            if (w->type == FM_WORKLOAD_MIX)
                g_assert_cmpfloat(m->duration, ==, 0);     /* the parts run together */
            else if (i + 1 < w->n_phases)
                g_assert_cmpfloat(m->duration, >, 0);
        }
        g_assert_cmpfloat(m->rate, >=, 0);
        g_assert_cmpfloat(m->zipf_s, >, 0);
        g_assert_cmpfloat(m->region_start, >=, 0);
        g_assert_cmpfloat(m->region_start, <, 1);
        g_assert_cmpfloat(m->region_size, >, 0);
        g_assert_cmpfloat(m->region_start + m->region_size, <=, 1.0);
    }
}

/* Asserts @a == @b to a relative 1e-12. */
static void
assert_close(double a, double b)
{
    g_assert_cmpfloat_with_epsilon(a, b, fabs(b) * 1e-12 + 1e-15);
}

/* ---- the example suite ---- */

typedef struct {
    const char *file;
    guint64 memory;
    double bandwidth;
    FmWorkloadType type;
    double rate;            /* page writes per second (top level; 0 for phases) */
    double region_size;
} ExampleCase;

static const ExampleCase examples[] = {
    { "idle-4g-1g.xml", 4 * GIB, 1 * GBIT, FM_WORKLOAD_IDLE, 4.0, 1.0 },
    { "idle-4g-10g.xml", 4 * GIB, 10 * GBIT, FM_WORKLOAD_IDLE, 4.0, 1.0 },
    /* 25 % of the link's page rate: 0.25 x 125e6 / 4096 */
    { "web-4g-1g.xml", 4 * GIB, 1 * GBIT, FM_WORKLOAD_WEB, 0.25 * 125e6 / 4096, 1.0 },
    { "web-4g-10g.xml", 4 * GIB, 10 * GBIT, FM_WORKLOAD_WEB, 0.25 * 1250e6 / 4096, 1.0 },
    { "db-4g-1g.xml", 4 * GIB, 1 * GBIT, FM_WORKLOAD_DB, 0.60 * 125e6 / 4096, 0.10 },
    { "db-4g-10g.xml", 4 * GIB, 10 * GBIT, FM_WORKLOAD_DB, 0.60 * 1250e6 / 4096, 0.10 },
    { "db-16g-1g.xml", 16 * GIB, 1 * GBIT, FM_WORKLOAD_DB, 0.60 * 125e6 / 4096, 0.10 },
    { "sweep-4g-1g.xml", 4 * GIB, 1 * GBIT, FM_WORKLOAD_SWEEP, 1.20 * 125e6 / 4096, 0.50 },
    { "sweep-4g-10g.xml", 4 * GIB, 10 * GBIT, FM_WORKLOAD_SWEEP, 1.20 * 1250e6 / 4096, 0.50 },
    { "phases-4g-1g.xml", 4 * GIB, 1 * GBIT, FM_WORKLOAD_PHASES, 0, 1.0 },
    { "phases-4g-10g.xml", 4 * GIB, 10 * GBIT, FM_WORKLOAD_PHASES, 0, 1.0 },
    { "phases-sweep-ends-4g-1g.xml", 4 * GIB, 1 * GBIT, FM_WORKLOAD_PHASES, 0, 1.0 },
};

static void
test_examples(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(examples); i++) {
        const ExampleCase *ex = &examples[i];
        g_autofree char *path = test_example_path(ex->file);
        g_autofree char *name = g_strndup(ex->file, strlen(ex->file) - 4);
        g_autoptr(GError) error = NULL;
        g_autoptr(FmScenario) sc = NULL;

        g_test_message("%s", path);
        sc = fm_scenario_load_file(path, &error);
        g_assert_no_error(error);
        g_assert_nonnull(sc);
        check_invariants(sc);

        g_assert_cmpstr(sc->path, ==, path);
        g_assert_cmpstr(sc->name, ==, name);
        g_assert_nonnull(sc->description);
        g_assert_cmpuint(sc->memory, ==, ex->memory);
        g_assert_cmpuint(sc->page_size, ==, 4096);
        assert_close(sc->bandwidth, ex->bandwidth);
        assert_close(sc->latency, 0.5e-3);
        g_assert_cmpuint(sc->seed, ==, 1);
        g_assert_cmpuint(sc->params->len, ==, 0);
        g_assert_cmpint(sc->workload->type, ==, ex->type);
        assert_close(sc->workload->rate, ex->rate);
        assert_close(sc->workload->region_start, 0);
        assert_close(sc->workload->region_size, ex->region_size);
        assert_close(sc->workload->zipf_s, 1.0);
    }
}

/* The phases examples: web 25 %, then a sweep at 120 % over 50 %, then idle. */
static void
test_examples_phases(void)
{
    static const struct {
        const char *file;
        double page_rate;
        double web_seconds;
        double sweep_seconds;
    } files[] = {
        { "phases-4g-1g.xml", 125e6 / 4096, 10, 120 },
        { "phases-4g-10g.xml", 1250e6 / 4096, 1, 12 },
        { "phases-sweep-ends-4g-1g.xml", 125e6 / 4096, 20, 60 },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *path = test_example_path(files[i].file);
        g_autoptr(GError) error = NULL;
        g_autoptr(FmScenario) sc = fm_scenario_load_file(path, &error);
        const FmWorkloadSpec *p;

        g_assert_no_error(error);
        g_assert_cmpuint(sc->workload->n_phases, ==, 3);
        p = sc->workload->phases;

        g_assert_cmpint(p[0].type, ==, FM_WORKLOAD_WEB);
        assert_close(p[0].rate, 0.25 * files[i].page_rate);
        assert_close(p[0].zipf_s, 1.0);
        assert_close(p[0].region_size, 1.0);
        assert_close(p[0].duration, files[i].web_seconds);

        g_assert_cmpint(p[1].type, ==, FM_WORKLOAD_SWEEP);
        assert_close(p[1].rate, 1.20 * files[i].page_rate);
        assert_close(p[1].region_start, 0);
        assert_close(p[1].region_size, 0.5);
        assert_close(p[1].duration, files[i].sweep_seconds);

        g_assert_cmpint(p[2].type, ==, FM_WORKLOAD_IDLE);
        assert_close(p[2].rate, 4.0);
        assert_close(p[2].region_size, 1.0);
        assert_close(p[2].duration, 0);
    }
}

/* Every file in examples/scenarios/ is in the table above, so a new example
 * cannot go untested. */
static void
test_examples_complete(void)
{
    g_autofree char *any = test_example_path("x");
    g_autofree char *dir = g_path_get_dirname(any);
    g_autoptr(GError) error = NULL;
    g_autoptr(GDir) d = g_dir_open(dir, 0, &error);
    const char *name;
    guint n = 0;

    g_assert_no_error(error);
    while ((name = g_dir_read_name(d))) {
        gboolean known = FALSE;

        if (!g_str_has_suffix(name, ".xml"))
            continue;
        for (gsize i = 0; i < G_N_ELEMENTS(examples); i++)
            known = known || strcmp(examples[i].file, name) == 0;
        g_assert_true(known);
        n++;
    }
    g_assert_cmpuint(n, ==, G_N_ELEMENTS(examples));
}

/* ---- values, defaults and resolution, from strings ---- */

/* Loads @xml (which must be valid), checks the invariants and returns it. */
static FmScenario *
load_good(const char *xml)
{
    g_autoptr(GError) error = NULL;
    FmScenario *sc = fm_scenario_load_string(xml, "test.xml", &error);

    g_assert_no_error(error);
    g_assert_nonnull(sc);
    check_invariants(sc);
    return sc;
}

static void
test_defaults(void)
{
    g_autoptr(FmScenario) sc = load_good(
        "<scenario>"
        "<workload type='idle'/><link bandwidth='100Mbit'/><guest memory='1GiB'/>"
        "</scenario>");

    g_assert_cmpstr(sc->path, ==, "test.xml");
    g_assert_cmpstr(sc->name, ==, "test");    /* basename without .xml */
    g_assert_null(sc->description);
    g_assert_cmpuint(sc->memory, ==, GIB);
    g_assert_cmpuint(sc->page_size, ==, 4096);
    g_assert_cmpuint(fm_scenario_page_count(sc), ==, 262144);
    assert_close(sc->bandwidth, 12.5e6);
    assert_close(sc->latency, 0.5e-3);
    assert_close(sc->verify_rate, 0);          /* no verification modelled */
    g_assert_cmpuint(sc->seed, ==, 1);
    g_assert_cmpint(sc->workload->type, ==, FM_WORKLOAD_IDLE);
    assert_close(sc->workload->rate, 4.0);
    assert_close(sc->workload->zipf_s, 1.0);
    assert_close(sc->workload->region_start, 0);
    assert_close(sc->workload->region_size, 1.0);
    assert_close(sc->workload->duration, 0);
}

static void
test_values(void)
{
    g_autoptr(FmScenario) sc = load_good(
        "<?xml version='1.0'?>\n"
        "<scenario name='custom'>\n"
        "  <seed> 18446744073709551615 </seed>\n"
        "  <param name='hot_streak' value='3'/>\n"
        "  <workload type='web' rate='7600/s' zipf='0.8' region-start='25%'\n"
        "            region-size='0.5' duration='2min'/>\n"
        "  <description>  a <![CDATA[test]]> scenario  </description>\n"
        "  <link bandwidth='10Gbps' latency='1ms'/>\n"
        "  <param name='downtime' value='300ms'/>\n"
        "  <guest memory='512MiB' page-size='64KiB' verify-rate='4GB/s'/>\n"
        "</scenario>\n");
    const FmScenarioParam *p;

    g_assert_cmpstr(sc->name, ==, "custom");
    g_assert_cmpstr(sc->description, ==, "a test scenario");
    g_assert_cmpuint(sc->memory, ==, 512u << 20);
    g_assert_cmpuint(sc->page_size, ==, 65536);
    g_assert_cmpuint(fm_scenario_page_count(sc), ==, 8192);
    assert_close(sc->bandwidth, 1.25e9);
    assert_close(sc->latency, 1e-3);
    assert_close(sc->verify_rate, 4e9);
    g_assert_cmpuint(sc->seed, ==, G_MAXUINT64);
    g_assert_cmpint(sc->workload->type, ==, FM_WORKLOAD_WEB);
    assert_close(sc->workload->rate, 7600.0);         /* absolute: not scaled */
    assert_close(sc->workload->zipf_s, 0.8);
    assert_close(sc->workload->region_start, 0.25);
    assert_close(sc->workload->region_size, 0.5);
    assert_close(sc->workload->duration, 120.0);

    g_assert_cmpuint(sc->params->len, ==, 2);
    p = &g_array_index(sc->params, FmScenarioParam, 0);
    g_assert_cmpstr(p->name, ==, "hot_streak");
    g_assert_cmpstr(p->value, ==, "3");
    p = &g_array_index(sc->params, FmScenarioParam, 1);
    g_assert_cmpstr(p->name, ==, "downtime");
    g_assert_cmpstr(p->value, ==, "300ms");
}

/* Relative rates scale with the link and with the page size. */
static void
test_rate_resolution(void)
{
    static const struct {
        const char *bandwidth;
        const char *page_size;
        const char *rate;
        double expected;
    } cases[] = {
        { "1Gbit", "4096", "25%", 0.25 * 125e6 / 4096 },
        { "10Gbit", "4096", "25%", 0.25 * 1250e6 / 4096 },
        { "1Gbit", "1MiB", "25%", 0.25 * 125e6 / 1048576 },
        { "1Gbit", "512", "25%", 0.25 * 125e6 / 512 },
        { "1Gbit", "4096", "0%", 0 },
        { "1Gbit", "4096", "250%", 2.5 * 125e6 / 4096 },
        { "1Gbit", "4096", "0.5%", 0.005 * 125e6 / 4096 },
        { "10Gbit", "4096", "7600/s", 7600 },
        { "1Gbit", "4096", "0/s", 0 },
        { "1Gbit", "4096", "1.5e3/s", 1500 },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *xml = g_strdup_printf(
            "<scenario><guest memory='4GiB' page-size='%s'/><link bandwidth='%s'/>"
            "<workload type='db' rate='%s'/></scenario>",
            cases[i].page_size, cases[i].bandwidth, cases[i].rate);
        g_autoptr(FmScenario) sc = load_good(xml);

        g_test_message("%s of %s at %s", cases[i].rate, cases[i].bandwidth,
                       cases[i].page_size);
        assert_close(sc->workload->rate, cases[i].expected);
    }
}

/* Region defaults by model, and region-start with a default size. */
static void
test_region_defaults(void)
{
    static const struct {
        const char *workload;
        double start;
        double size;
    } cases[] = {
        { "type='idle'", 0, 1.0 },
        { "type='web' rate='1/s'", 0, 1.0 },
        { "type='db' rate='1/s'", 0, 0.1 },
        { "type='sweep' rate='1/s'", 0, 0.5 },
        { "type='web' rate='1/s' region-start='30%'", 0.3, 0.7 },
        { "type='idle' region-start='0.75'", 0.75, 0.25 },
        { "type='sweep' rate='1/s' region-start='80%'", 0.8, 0.2 },
        { "type='db' rate='1/s' region-start='90%' region-size='10%'", 0.9, 0.1 },
        { "type='db' rate='1/s' region-start='70%' region-size='30%'", 0.7, 0.3 },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *xml = g_strdup_printf(
            "<scenario><guest memory='4GiB'/><link bandwidth='1Gbit'/>"
            "<workload %s/></scenario>", cases[i].workload);
        g_autoptr(FmScenario) sc = load_good(xml);

        g_test_message("%s", cases[i].workload);
        assert_close(sc->workload->region_start, cases[i].start);
        g_assert_cmpfloat_with_epsilon(sc->workload->region_size, cases[i].size, 1e-9);
    }
}

static void
test_phases_max(void)
{
    GString *xml = g_string_new("<scenario><guest memory='4GiB'/>"
                                "<link bandwidth='1Gbit'/><workload type='phases'>");
    g_autoptr(FmScenario) sc = NULL;
    g_autofree char *text = NULL;

    for (guint i = 0; i < FM_WORKLOAD_MAX_PHASES; i++)
        g_string_append_printf(xml, "<phase type='db' rate='%u%%' duration='%us'/>",
                               i + 1, i + 1);
    g_string_append(xml, "</workload></scenario>");
    text = g_string_free(xml, FALSE);

    sc = load_good(text);
    g_assert_cmpuint(sc->workload->n_phases, ==, FM_WORKLOAD_MAX_PHASES);
    for (guint i = 0; i < FM_WORKLOAD_MAX_PHASES; i++) {
        assert_close(sc->workload->phases[i].rate, (i + 1) / 100.0 * 125e6 / 4096);
        assert_close(sc->workload->phases[i].duration, i + 1);
        assert_close(sc->workload->phases[i].region_size, 0.1);
    }
}

/* A mix: its parts, each with its own rate and region; what a mix may not hold. */
static void
test_mix(void)
{
    static const struct {
        const char *workload;
        const char *message;
    } bad[] = {
        { "<workload type='mix'/>", "missing element <part>" },
        { "<workload type='mix'><part type='db' rate='5%' duration='1s'/></workload>",
          "<part duration>" },
        { "<workload type='mix'><part type='phases'/></workload>",
          "a part of a mix is idle, web, db or sweep" },
        { "<workload type='mix' rate='5%'><part type='db' rate='5%'/></workload>",
          "<workload rate>" },
        { "<workload type='db' rate='5%'><part type='db' rate='5%'/></workload>",
          "only a workload of type 'mix' has parts" },
        { "<workload type='phases'><phase type='mix'/></workload>",
          "a phase cannot be of type 'mix'" },
        { "<workload type='mix'><part type='sweep' rate='5%'/><part type='sweep' rate='5%'/></workload>",
          "at most one web part and one sweep" },
    };
    g_autoptr(FmScenario) sc = load_good(
        "<scenario><guest memory='4GiB'/><link bandwidth='1Gbit'/>"
        "<workload type='mix'><part type='db' rate='40%' region-size='2%'/>"
        "<part type='web' rate='10%' zipf='1.2' region-start='10%' region-size='50%'/>"
        "<part type='sweep' rate='30%' region-start='70%' region-size='5%'/></workload>"
        "</scenario>");
    const FmWorkloadSpec *w = sc->workload;

    g_assert_cmpint(w->type, ==, FM_WORKLOAD_MIX);
    g_assert_cmpuint(w->n_phases, ==, 3);
    g_assert_cmpint(w->phases[0].type, ==, FM_WORKLOAD_DB);
    assert_close(w->phases[0].rate, 0.40 * 125e6 / 4096);
    assert_close(w->phases[0].region_size, 0.02);
    g_assert_cmpint(w->phases[1].type, ==, FM_WORKLOAD_WEB);
    assert_close(w->phases[1].zipf_s, 1.2);
    assert_close(w->phases[1].region_start, 0.10);
    g_assert_cmpint(w->phases[2].type, ==, FM_WORKLOAD_SWEEP);
    assert_close(w->phases[2].rate, 0.30 * 125e6 / 4096);
    assert_close(w->phases[2].region_start, 0.70);

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *xml = g_strdup_printf(
            "<scenario><guest memory='4GiB'/><link bandwidth='1Gbit'/>%s</scenario>",
            bad[i].workload);
        g_autoptr(GError) error = NULL;

        g_assert_null(fm_scenario_load_string(xml, "mix.xml", &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_CONFIG);
        g_test_message("%s", error->message);
        g_assert_nonnull(strstr(error->message, bad[i].message));
    }
}

/* Errors from strings name the caller's name, and the default "<memory>". */
static void
test_string_errors(void)
{
    static const char xml[] =
        "<scenario>\n<guest memory='4GiB' page-size='8192'/>\n"
        "<link bandwidth='1Gbit'/>\n<workload type='db' rate='fast'/>\n</scenario>";
    const char *expected_tail = ":4: <workload rate>: invalid rate 'fast' (expected a share of "
        "the link's page rate such as '25%', or page writes per second such as '7600/s')";
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) error2 = NULL;
    g_autofree char *expected = g_strconcat("my-scenario", expected_tail, NULL);
    g_autofree char *expected2 = g_strconcat("<memory>", expected_tail, NULL);

    g_assert_null(fm_scenario_load_string(xml, "my-scenario", &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_CONFIG);
    g_assert_cmpstr(error->message, ==, expected);

    g_assert_null(fm_scenario_load_string(xml, NULL, &error2));
    g_assert_error(error2, FM_ERROR, FM_ERROR_CONFIG);
    g_assert_cmpstr(error2->message, ==, expected2);
}

/* Input that is not UTF-8, or not printable, in each place a message quotes. */
typedef struct {
    const char *name;      /* the name for errors (a path) */
    const char *xml;
    const char *message;   /* the exact message */
} HostileCase;

#define HOSTILE_HEAD "<scenario><guest memory='4GiB'/><link bandwidth='1Gbit'/>"
#define HOSTILE_TYPES "(expected idle, web, db, sweep, phases, trace, mix)"

static const HostileCase hostile_cases[] = {
    /* the path: bytes of a file name that are not UTF-8, or none at all */
    { "\xff\xfe.xml", "<scenario><guest memory='lots'/><link bandwidth='1G'/><workload type='web'/></scenario>",
      "\\xFF\\xFE.xml:1: <guest memory>: invalid size 'lots'" },
    { "", "<scenario><guest memory='lots'/><link bandwidth='1G'/><workload type='web'/></scenario>",
      "'':1: <guest memory>: invalid size 'lots'" },
    { "bad\n.xml", "<scenario>", "bad\\n.xml:1: malformed XML: Premature end of data in tag scenario line 1" },
    { "\xc3", "", "\\xC3: empty document, expected <scenario>" },
    /* values: control characters written as character references */
    { "h.xml", "<scenario><guest memory='&#10;4G&#9;'/><link bandwidth='1G'/><workload type='web'/></scenario>",
      "h.xml:1: <guest memory>: invalid size '\\n4G\\t': unexpected whitespace" },
    { "h.xml", HOSTILE_HEAD "<workload type='&#x85;[31m'/></scenario>",
      "h.xml:1: <workload type>: unknown workload type '\\u{0085}[31m' " HOSTILE_TYPES },
    { "h.xml", HOSTILE_HEAD "<workload type='\xe2\x80\xae' rate='1/s'/></scenario>",
      "h.xml:1: <workload type>: unknown workload type '\\u{202E}' " HOSTILE_TYPES },
    { "h.xml", HOSTILE_HEAD "<workload type='idle' zipf=\"&apos;\"/></scenario>",
      "h.xml:1: <workload zipf>: invalid number '\\''" },
    { "h.xml", HOSTILE_HEAD "<workload type='web'/><seed>&#127;</seed></scenario>",
      "h.xml:1: <seed>: invalid seed '\\x7F' (expected an integer from 0 to 18446744073709551615)" },
    /* a document in Latin-1: libxml2 hands out UTF-8, which stays as it is */
    { "l.xml", "<?xml version='1.0' encoding='ISO-8859-1'?>" HOSTILE_HEAD
      "<workload type='\xe9t\xe9'/></scenario>",
      "l.xml:1: <workload type>: unknown workload type '\xc3\xa9t\xc3\xa9' " HOSTILE_TYPES },
    /* element and attribute names */
    { "n.xml", "<?xml version='1.0' encoding='ISO-8859-1'?>" HOSTILE_HEAD
      "<workload type='web' sp\xe9\x65\x64='1'/></scenario>",
      "n.xml:1: <workload sp\xc3\xa9\x65\x64>: attribute not allowed here" },
    { "n.xml", "<scenario><\xc3\xa9/></scenario>",
      "n.xml:1: <\xc3\xa9>: element not allowed inside <scenario>" },
    { "n.xml", "<scenario xmlns=\"urn:a'b\"/>",
      "n.xml:1: <scenario>: unexpected namespace 'urn:a\\'b' (scenario elements have none)" },
    { "n.xml", "<scenario xmlns='urn:\xc3\xa9&#x85;'/>",
      "n.xml:1: malformed XML: xmlns: 'urn:\xc3\xa9\\u{0085}' is not a valid URI" },
    /* libxml2's messages copy input too */
    { "n.xml", "<scenario xmlns='urn:&#9;x'/>",
      "n.xml:1: malformed XML: xmlns: 'urn:\\tx' is not a valid URI" },
    /* bytes that are not UTF-8 in a document that says nothing of its encoding:
     * libxml2's message, on one line */
    { "u.xml", "<scenario name='\xff\xfe'/>",
      "u.xml:1: malformed XML: Input is not proper UTF-8, indicate encoding ! "
      "Bytes: 0xFF 0xFE 0x27 0x2F" },
    /* the trace's path comes from the scenario's */
    { "\xff/t.xml", HOSTILE_HEAD "<workload type='trace' file='n&#10;.trace'/></scenario>",
      "\\xFF/t.xml:1: <workload file>: cannot open \\xFF/n\\n.trace: No such file or directory" },
};

static void
test_hostile_errors(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(hostile_cases); i++) {
        const HostileCase *c = &hostile_cases[i];
        g_autoptr(GError) error = NULL;

        g_test_message("case %" G_GSIZE_FORMAT, i);
        g_assert_null(fm_scenario_load_string(c->xml, c->name, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_CONFIG);
        g_assert_true(g_utf8_validate(error->message, -1, NULL));
        g_assert_cmpstr(error->message, ==, c->message);
    }
}

/* A huge value is cut in the message, which stays valid UTF-8 and names it. */
static void
test_hostile_long(void)
{
    g_autoptr(GString) xml = g_string_new(HOSTILE_HEAD "<workload type='idle' zipf='");
    g_autoptr(GError) error = NULL;

    for (int i = 0; i < 5000; i++)
        g_string_append(xml, "\xc3\xa9");
    g_string_append(xml, "'/></scenario>");
    g_assert_null(fm_scenario_load_string(xml->str, "long.xml", &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_CONFIG);
    g_assert_true(g_utf8_validate(error->message, -1, NULL));
    g_assert_true(g_str_has_prefix(error->message,
                                   "long.xml:1: <workload zipf>: invalid number '\xc3\xa9\xc3\xa9"));
    g_assert_true(g_str_has_suffix(error->message, "...'"));
    g_assert_cmpuint(strlen(error->message), <, FM_QUOTE_MAX_BYTES + 100);
}

/* ---- bad files ---- */

typedef struct {
    const char *file;
    const char *message;   /* what follows the path in the error message */
} BadCase;

static const BadCase bad_files[] = {
    { "bad-memory.xml", ":3: <guest memory>: invalid size 'lots'" },
    { "bad-memory-multiple.xml",
      ":4: <guest memory>: '1000000' is not a multiple of the page size (4096 bytes)" },
    { "bad-memory-small.xml", ":4: <guest memory>: '2KiB' is less than one page (4096 bytes)" },
    { "bad-memory-huge.xml",
      ":4: <guest memory>: '2TiB' is more than the supported maximum of 1 TiB" },
    { "bad-page-size.xml",
      ":4: <guest page-size>: must be a power of two from 512 to 1048576 bytes, not '3000'" },
    { "bad-bandwidth.xml",
      ":5: <link bandwidth>: invalid bandwidth '1Gb': unknown unit 'Gb' (expected bit/s, kbit, "
      "Mbit, Gbit, Mbps, Gbps, B/s, MB/s, GB/s, K, M, G, MiB/s, GiB/s)" },
    { "bad-latency.xml", ":5: <link latency>: invalid duration '-1ms': must not be negative" },
    { "bad-region.xml",
      ":6: <workload region-size>: the region ends beyond memory (region-start '60%' + "
      "region-size '50%' > 100%)" },
    { "bad-region-size.xml",
      ":6: <workload region-size>: must be more than 0% and at most 100% of memory, not '0%'" },
    { "bad-region-start.xml",
      ":6: <workload region-start>: must be below 100% of memory, not '100%'" },
    { "bad-zipf.xml",
      ":6: <workload zipf>: the Zipf exponent must be greater than 0, not '0'" },
    /* found by fuzzing (tests/data/fuzz/scenario/huge-relative-rate.xml): values
     * each valid alone that the workload models cannot run */
    { "bad-rate-relative-huge.xml",
      ":7: <workload>: workload: rate 6.71387e+226 is not between 0 and 1e+12 page writes per second" },
    { "bad-rate-huge.xml",
      ":7: <phase>: workload: rate 1e+13 is not between 0 and 1e+12 page writes per second" },
    { "bad-zipf-huge.xml", ":6: <workload>: workload: Zipf exponent 500 is not between 0 and 100" },
    { "bad-rate-negative.xml", ":6: <workload rate>: invalid rate '-25%': must not be negative" },
    { "bad-rate-syntax.xml",
      ":6: <workload rate>: invalid rate '25' (expected a share of the link's page rate such "
      "as '25%', or page writes per second such as '7600/s')" },
    { "bad-rate-missing.xml",
      ":6: <workload>: missing required attribute 'rate' (no default for type 'db')" },
    { "bad-type.xml",
      ":6: <workload type>: unknown workload type 'oltp' (expected idle, web, db, sweep, phases, trace, mix)" },
    { "bad-missing-attribute.xml", ":4: <guest>: missing required attribute 'memory'" },
    { "bad-missing-type.xml", ":6: <workload>: missing required attribute 'type'" },
    { "bad-missing-workload.xml", ":3: <scenario>: missing element <workload>" },
    { "bad-unknown-element.xml", ":5: <cpu>: element not allowed inside <scenario>" },
    { "bad-unknown-attribute.xml", ":5: <link speed>: attribute not allowed here" },
    { "bad-duplicate.xml", ":7: <guest>: element given more than once" },
    { "bad-text.xml", ":4: <guest>: unexpected text content" },
    { "bad-root.xml", ":3: <scenarios>: unexpected element, expected <scenario>" },
    { "bad-namespace.xml",
      ":3: <scenario>: unexpected namespace 'urn:example:other' (scenario elements have none)" },
    { "bad-name.xml", ":3: <scenario name>: must not be empty" },
    { "bad-seed.xml",
      ":7: <seed>: invalid seed '-3' (expected an integer from 0 to 18446744073709551615)" },
    { "bad-param.xml", ":7: <param>: missing required attribute 'value'" },
    { "bad-phase-nested.xml", ":8: <phase type>: a phase cannot itself be of type 'phases'" },
    { "bad-phase-duration.xml",
      ":7: <phase duration>: every phase but the last needs a duration greater than 0" },
    { "bad-phases-empty.xml", ":6: <workload>: missing element <phase>" },
    { "bad-phases-too-many.xml", ":6: <workload>: too many phases (9, at most 8)" },
    { "bad-phase-in-web.xml", ":7: <phase>: only a workload of type 'phases' has phases" },
    { "bad-doctype.xml", ": DOCTYPE declarations are not allowed" },
    { "bad-malformed.xml",
      ":7: malformed XML: Opening and ending tag mismatch: guest line 4 and scenario" },
    { "bad-not-xml.xml", ":1: malformed XML: Start tag expected, '<' not found" },
    { "bad-empty.xml", ": empty document, expected <scenario>" },
};

static void
test_bad_files(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(bad_files); i++) {
        g_autofree char *path = test_data_path(bad_files[i].file);
        g_autofree char *expected = g_strconcat(path, bad_files[i].message, NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(FmScenario) sc = NULL;

        g_test_message("%s", path);
        g_assert_true(g_file_test(path, G_FILE_TEST_IS_REGULAR));
        sc = fm_scenario_load_file(path, &error);
        g_assert_null(sc);
        g_assert_error(error, FM_ERROR, FM_ERROR_CONFIG);
        g_assert_cmpstr(error->message, ==, expected);
    }
}

static void
test_missing_file(void)
{
    g_autofree char *path = test_data_path("bad-does-not-exist.xml");
    g_autofree char *expected = g_strdup_printf("%s: cannot open: %s", path,
                                                g_strerror(ENOENT));
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) error2 = NULL;
    g_autofree char *dir = test_dir("FM_TEST_DATA", "data");
    g_autofree char *expected2 = g_strdup_printf("%s: it is a directory, not a regular file: refused",
                                                 dir);

    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_null(fm_scenario_load_file(path, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_CONFIG);
    g_assert_cmpstr(error->message, ==, expected);

    /* A directory opens but cannot be read. */
    g_assert_null(fm_scenario_load_file(dir, &error2));
    g_assert_error(error2, FM_ERROR, FM_ERROR_CONFIG);
    g_assert_cmpstr(error2->message, ==, expected2);
}

/* Messages keep the path as the caller wrote it, relative or not. */
static void
test_relative_path(void)
{
    g_autofree char *dir = test_dir("FM_TEST_DATA", "data");
    g_autofree char *cwd = g_get_current_dir();
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(g_chdir(dir), ==, 0);
    g_assert_null(fm_scenario_load_file("./bad-memory.xml", &error));
    g_assert_cmpint(g_chdir(cwd), ==, 0);
    g_assert_error(error, FM_ERROR, FM_ERROR_CONFIG);
    g_assert_cmpstr(error->message, ==, "./bad-memory.xml:3: <guest memory>: invalid size 'lots'");
}

/* Every bad-*.xml file has a case in the table. */
static void
test_bad_files_complete(void)
{
    g_autofree char *dir = test_dir("FM_TEST_DATA", "data");
    g_autoptr(GError) error = NULL;
    g_autoptr(GDir) d = g_dir_open(dir, 0, &error);
    const char *name;
    guint n = 0;

    g_assert_no_error(error);
    while ((name = g_dir_read_name(d))) {
        gboolean known = FALSE;

        if (!g_str_has_prefix(name, "bad-") || !g_str_has_suffix(name, ".xml"))
            continue;
        for (gsize i = 0; i < G_N_ELEMENTS(bad_files); i++)
            known = known || strcmp(bad_files[i].file, name) == 0;
        if (!known)
            g_test_message("no test case for %s", name);
        g_assert_true(known);
        n++;
    }
    g_assert_cmpuint(n, ==, G_N_ELEMENTS(bad_files));
}

/* libxml2 must not print: run the bad files in a child and look at its stderr. */
static void
test_quiet(void)
{
    if (g_test_subprocess()) {
        for (gsize i = 0; i < G_N_ELEMENTS(bad_files); i++) {
            g_autofree char *path = test_data_path(bad_files[i].file);
            g_autoptr(GError) error = NULL;
            g_autoptr(FmScenario) sc = fm_scenario_load_file(path, &error);

            g_assert_null(sc);
        }
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("");
}

static int caller_handler_calls;

static void
caller_handler(void *data, xmlErrorPtr err)
{
    (void) data;
    (void) err;
    caller_handler_calls++;
}

/* The caller's libxml2 error handler is back in place after a load, and saw
 * none of our errors. */
static void
test_handler_restored(void)
{
    g_autofree char *path = test_data_path("bad-not-xml.xml");
    g_autofree char *path2 = test_data_path("bad-unknown-element.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) error2 = NULL;
    int cookie;

    xmlSetStructuredErrorFunc(&cookie, caller_handler);
    g_assert_null(fm_scenario_load_file(path, &error));
    g_assert_null(fm_scenario_load_file(path2, &error2));
    g_assert_true(xmlStructuredError == caller_handler);
    g_assert_true(xmlStructuredErrorContext == &cookie);
    g_assert_cmpint(caller_handler_calls, ==, 0);
    xmlSetStructuredErrorFunc(NULL, NULL);
}

/* ---- workload specs ---- */

static void
test_spec_copy(void)
{
    g_autofree char *path = test_example_path("phases-4g-1g.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(FmScenario) sc = fm_scenario_load_file(path, &error);
    g_autoptr(FmWorkloadSpec) copy = NULL;
    g_autoptr(FmWorkloadSpec) copy2 = NULL;
    const FmWorkloadSpec *orig;

    g_assert_no_error(error);
    orig = sc->workload;
    copy = fm_workload_spec_copy(orig);
    g_assert_true(copy != orig);
    g_assert_cmpint(copy->type, ==, FM_WORKLOAD_PHASES);
    g_assert_cmpuint(copy->n_phases, ==, orig->n_phases);
    g_assert_true(copy->phases != orig->phases);
    for (guint i = 0; i < orig->n_phases; i++) {
        g_assert_cmpint(copy->phases[i].type, ==, orig->phases[i].type);
        g_assert_cmpfloat(copy->phases[i].rate, ==, orig->phases[i].rate);
        g_assert_cmpfloat(copy->phases[i].duration, ==, orig->phases[i].duration);
        g_assert_cmpfloat(copy->phases[i].region_size, ==, orig->phases[i].region_size);
    }

    /* The copy outlives the scenario. */
    g_clear_pointer(&sc, fm_scenario_free);
    copy2 = fm_workload_spec_copy(copy);
    g_assert_cmpfloat(copy2->phases[1].rate, ==, copy->phases[1].rate);

    fm_workload_spec_free(NULL);
    fm_scenario_free(NULL);
}

static void
test_type_names(void)
{
    static const char *const names[] = { "idle", "web", "db", "sweep", "phases", "trace",
                                         "mix" };

    G_STATIC_ASSERT(G_N_ELEMENTS(names) == FM_WORKLOAD_LAST);
    for (int t = 0; t < FM_WORKLOAD_LAST; t++) {
        g_assert_cmpstr(fm_workload_type_to_string(t), ==, names[t]);
        g_assert_cmpint(fm_workload_type_from_string(names[t]), ==, t);
    }
    g_assert_null(fm_workload_type_to_string(FM_WORKLOAD_LAST));
    g_assert_null(fm_workload_type_to_string((FmWorkloadType) -1));
    g_assert_cmpint(fm_workload_type_from_string("Web"), ==, -1);
    g_assert_cmpint(fm_workload_type_from_string(""), ==, -1);
    g_assert_cmpint(fm_workload_type_from_string(NULL), ==, -1);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/scenario/examples", test_examples);
    g_test_add_func("/scenario/examples/phases", test_examples_phases);
    g_test_add_func("/scenario/examples/complete", test_examples_complete);
    g_test_add_func("/scenario/defaults", test_defaults);
    g_test_add_func("/scenario/values", test_values);
    g_test_add_func("/scenario/rate-resolution", test_rate_resolution);
    g_test_add_func("/scenario/region-defaults", test_region_defaults);
    g_test_add_func("/scenario/phases-max", test_phases_max);
    g_test_add_func("/scenario/mix", test_mix);
    g_test_add_func("/scenario/errors/string", test_string_errors);
    g_test_add_func("/scenario/errors/hostile", test_hostile_errors);
    g_test_add_func("/scenario/errors/hostile-long", test_hostile_long);
    g_test_add_func("/scenario/errors/bad-files", test_bad_files);
    g_test_add_func("/scenario/errors/bad-files-complete", test_bad_files_complete);
    g_test_add_func("/scenario/errors/missing-file", test_missing_file);
    g_test_add_func("/scenario/errors/relative-path", test_relative_path);
    g_test_add_func("/scenario/errors/quiet", test_quiet);
    g_test_add_func("/scenario/errors/handler-restored", test_handler_restored);
    g_test_add_func("/workload/spec-copy", test_spec_copy);
    g_test_add_func("/workload/type-names", test_type_names);

    return g_test_run();
}
