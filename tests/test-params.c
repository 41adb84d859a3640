/*
 * test-params.c: knob tables and NAME=VALUE settings.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "engine/fm-params.h"
#include "engine/fm-job.h"

static const FmParamSpec specs_a[] = {
    { "count", FM_PARAM_UINT, 5, 1, 100, "a count" },
    { "ratio", FM_PARAM_RATIO, 0.5, 0, 1, "a ratio" },
    { "flag", FM_PARAM_BOOL, 0, 0, 1, "a flag" },
    { NULL, 0, 0, 0, 0, NULL }
};
static const FmParamSpec specs_b[] = {
    { "delay", FM_PARAM_DURATION, 0.3, 0, 10, "a duration" },
    { "scale", FM_PARAM_DOUBLE, 1.5, -2, 2, "a real" },
    { "count", FM_PARAM_UINT, 7, 1, 100, "the same knob in another module" },
    { NULL, 0, 0, 0, 0, NULL }
};
static const FmParamSpec *const tables[] = { specs_a, specs_b, NULL };

static void
test_defaults(void)
{
    g_autoptr(FmParamSet) set = fm_param_set_new();

    g_assert_true(fm_param_set_check(set, tables, NULL));
    g_assert_cmpfloat(fm_param_set_get_named(set, specs_a, "count"), ==, 5);
    g_assert_cmpfloat(fm_param_set_get_named(set, specs_b, "count"), ==, 7);
    g_assert_cmpfloat(fm_param_set_get_named(set, specs_b, "delay"), ==, 0.3);
    g_assert_cmpfloat(fm_param_set_get_named(NULL, specs_a, "ratio"), ==, 0.5);
}

static void
test_values(void)
{
    g_autoptr(FmParamSet) set = fm_param_set_new();
    g_autoptr(GError) error = NULL;

    g_assert_true(fm_param_set_parse(set, "count=9", NULL));
    g_assert_true(fm_param_set_parse(set, "ratio=25%", NULL));
    g_assert_true(fm_param_set_parse(set, "flag=yes", NULL));
    g_assert_true(fm_param_set_parse(set, "delay=150ms", NULL));
    g_assert_true(fm_param_set_parse(set, "scale=-1.25", NULL));
    g_assert_true(fm_param_set_parse(set, "count=10", NULL));   /* later wins */
    g_assert_true(fm_param_set_check(set, tables, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(fm_param_set_length(set), ==, 5);
    g_assert_cmpfloat(fm_param_set_get_named(set, specs_a, "count"), ==, 10);
    g_assert_cmpfloat(fm_param_set_get_named(set, specs_b, "count"), ==, 10);
    g_assert_cmpfloat(fm_param_set_get_named(set, specs_a, "ratio"), ==, 0.25);
    g_assert_cmpfloat(fm_param_set_get_named(set, specs_a, "flag"), ==, 1);
    g_assert_cmpfloat_with_epsilon(fm_param_set_get_named(set, specs_b, "delay"), 0.15, 1e-12);
    g_assert_cmpfloat(fm_param_set_get_named(set, specs_b, "scale"), ==, -1.25);
    {
        g_autoptr(FmParamSet) copy = fm_param_set_copy(set);
        g_assert_cmpfloat(fm_param_set_get_named(copy, specs_a, "count"), ==, 10);
    }
}

static void
test_errors(void)
{
    static const struct {
        const char *assignment;
        const char *message;
    } cases[] = {
        { "count=0", "parameter count: 0 is out of range [1, 100]" },
        { "count=101", "parameter count: 101 is out of range [1, 100]" },
        { "count=-1", "parameter count: '-1' is not a non-negative integer" },
        { "count=2.5", "parameter count: '2.5' is not a non-negative integer" },
        { "count=+3", "parameter count: '+3' is not a non-negative integer" },
        { "scale=abc", "parameter scale: 'abc' is not a number" },
        { "scale=nan", "parameter scale: 'nan' is not a number" },
        { "scale=3", "parameter scale: 3 is out of range [-2, 2]" },
        { "flag=maybe", "parameter flag: 'maybe' is not a boolean (use 1/0, true/false, yes/no, on/off)" },
        { "ratio=150%", "parameter ratio: 150% is out of range [0, 1]" },
        { "nosuch=1", "unknown parameter 'nosuch' (known: count, ratio, flag, delay, scale)" },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(FmParamSet) set = fm_param_set_new();
        g_autoptr(GError) error = NULL;

        g_assert_true(fm_param_set_parse(set, cases[i].assignment, NULL));
        g_assert_false(fm_param_set_check(set, tables, &error));
        g_assert_nonnull(error);
        g_assert_cmpstr(error->message, ==, cases[i].message);
    }
}

static void
test_syntax(void)
{
    const char *bad[] = { "count", "=3", "count=", "" };

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(FmParamSet) set = fm_param_set_new();
        g_autoptr(GError) error = NULL;
        g_autofree char *expect = g_strdup_printf("invalid parameter '%s': expected NAME=VALUE", bad[i]);

        g_assert_false(fm_param_set_parse(set, bad[i], &error));
        g_assert_cmpstr(error->message, ==, expect);
        g_assert_cmpuint(fm_param_set_length(set), ==, 0);
    }
}

/* A module checks only its own knobs: other names pass, its bad values do not. */
static void
test_check_own(void)
{
    g_autoptr(FmParamSet) set = fm_param_set_new();
    g_autoptr(GError) error = NULL;

    fm_param_set_set(set, "delay", "not a duration");   /* specs_b's business */
    fm_param_set_set(set, "count", "50");
    g_assert_true(fm_param_set_check_own(set, specs_a, &error));
    g_assert_no_error(error);
    fm_param_set_set(set, "flag", "2");
    g_assert_false(fm_param_set_check_own(set, specs_a, &error));
    g_assert_cmpstr(error->message, ==,
                    "parameter flag: '2' is not a boolean (use 1/0, true/false, yes/no, on/off)");
    g_clear_error(&error);
    g_assert_false(fm_param_set_check_own(set, specs_b, &error));
    g_assert_cmpstr(error->message, ==,
                    "parameter delay: invalid duration 'not a duration'");
    g_assert_true(fm_param_set_check_own(NULL, specs_a, NULL));
}

/* The engine's own table is well-formed: defaults within bounds, names unique. */
static void
test_engine_table(void)
{
    const FmParamSpec *specs = fm_job_param_specs();
    guint n = 0;

    for (const FmParamSpec *s = specs; s->name; s++, n++) {
        g_assert_cmpfloat(s->def, >=, s->min);
        g_assert_cmpfloat(s->def, <=, s->max);
        g_assert_true(fm_param_spec_lookup(specs, s->name) == s);
        g_assert_nonnull(fm_param_type_to_string(s->type));
    }
    g_assert_cmpuint(n, >=, 4);
    g_assert_nonnull(fm_param_spec_lookup(specs, "fragment_size"));
    g_assert_nonnull(fm_param_spec_lookup(specs, "max_downtime"));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/params/defaults", test_defaults);
    g_test_add_func("/params/values", test_values);
    g_test_add_func("/params/errors", test_errors);
    g_test_add_func("/params/syntax", test_syntax);
    g_test_add_func("/params/check-own", test_check_own);
    g_test_add_func("/params/engine-table", test_engine_table);
    return g_test_run();
}
