/*
 * test-units.c: tests of fm-units (parsing and printing of sizes, bandwidths,
 * durations and ratios).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>
#include "util/fm-units.h"

#include <math.h>

#include "util/fm-error.h"

/* A value no parser produces, to check that failures leave the output alone. */
#define SENTINEL_U64 G_GUINT64_CONSTANT(0xdeadbeefcafe)
#define SENTINEL_DBL (-12345.0)

/* The list of units that follows an unknown unit in the messages. */
#define SIZE_UNITS " (expected B, KiB, MiB, GiB, TiB, kB, MB, GB, TB)"
#define BANDWIDTH_UNITS \
    " (expected bit/s, kbit, Mbit, Gbit, Mbps, Gbps, B/s, MB/s, GB/s, K, M, G, MiB/s, GiB/s)"

typedef struct {
    const char *text;
    guint64 bytes;
} SizeCase;

typedef struct {
    const char *text;
    double value;
} DoubleCase;

typedef struct {
    const char *text;
    const char *message;   /* the exact error message */
} BadCase;

typedef gboolean (*DoubleParser)(const char *text, double *value, GError **error);

static const SizeCase good_sizes[] = {
    { "0", 0 },
    { "4096", 4096 },
    { "2B", 2 },
    { "512K", 524288 },
    { "512KiB", 524288 },
    { "4G", G_GUINT64_CONSTANT(4294967296) },
    { "4GiB", G_GUINT64_CONSTANT(4294967296) },
    { "1TiB", G_GUINT64_CONSTANT(1099511627776) },
    { "1kB", 1000 },
    { "4GB", G_GUINT64_CONSTANT(4000000000) },
    { "3MB", 3000000 },
    /* A space between number and unit is accepted: the formatter prints one. */
    { "10 G", G_GUINT64_CONSTANT(10737418240) },
    { "1.50 GiB", G_GUINT64_CONSTANT(1610612736) },
    { "0.5K", 512 },
    { ".5K", 512 },
    { "1e3", 1000 },
    { "2E2K", 204800 },
    /* Integers are exact beyond 2^53. */
    { "18446744073709551615", G_MAXUINT64 },
    { "9007199254740993", G_GUINT64_CONSTANT(9007199254740993) },
    { "16383P", G_GUINT64_CONSTANT(16383) << 50 },
    /* units without regard to case, as virsh: "gb" is SI, "g" and "gib" binary */
    { "1gb", 1000000000 },
    { "1g", G_GUINT64_CONSTANT(1) << 30 },
    { "1GIB", G_GUINT64_CONSTANT(1) << 30 },
    { "2k", 2048 },
    { "1b", 1 },
};

static const BadCase bad_sizes[] = {
    { "", "invalid size '': empty" },
    { "abc", "invalid size 'abc'" },
    { "lots", "invalid size 'lots'" },
    { "nan", "invalid size 'nan'" },
    { "inf", "invalid size 'inf'" },
    { "+1", "invalid size '+1'" },
    { ".", "invalid size '.'" },
    { "G", "invalid size 'G'" },
    { "-1", "invalid size '-1': must not be negative" },
    { "-0", "invalid size '-0': must not be negative" },
    { "1x", "invalid size '1x': unknown unit 'x'" SIZE_UNITS },
    { "1e", "invalid size '1e': unknown unit 'e'" SIZE_UNITS },
    { "0x10", "invalid size '0x10': unknown unit 'x10'" SIZE_UNITS },
    { "1 2", "invalid size '1 2': unknown unit '2'" SIZE_UNITS },
    { " 1G", "invalid size ' 1G': unexpected whitespace" },
    { "1G ", "invalid size '1G ': unexpected whitespace" },
    /* control characters are escaped: a message stays on one line */
    { "1\tG", "invalid size '1\\tG': unknown unit '\\tG'" SIZE_UNITS },
    /* input that is not UTF-8 is escaped byte by byte: the message is UTF-8 */
    { "1\xff", "invalid size '1\\xFF': unknown unit '\\xFF'" SIZE_UNITS },
    { "\xc3", "invalid size '\\xC3'" },
    { "1 G\xe2\x82", "invalid size '1 G\\xE2\\x82': unknown unit 'G\\xE2\\x82'" SIZE_UNITS },
    { "1'G", "invalid size '1\\'G': unknown unit '\\'G'" SIZE_UNITS },
    { "1e400", "invalid size '1e400': out of range" },
    { "18446744073709551616", "invalid size '18446744073709551616': out of range" },
    { "16384P", "invalid size '16384P': out of range" },
    { "2e19", "invalid size '2e19': out of range" },
    { "1.1K", "invalid size '1.1K': not a whole number of bytes" },
    { "1.5", "invalid size '1.5': not a whole number of bytes" },
};

static const DoubleCase good_bandwidths[] = {
    { "1Gbit", 125e6 },
    { "1Gbit/s", 125e6 },
    { "1 Gbit/s", 125e6 },
    { "100Mbit", 12.5e6 },
    { "10Gbps", 1.25e9 },
    { "2.5Gbit", 312.5e6 },
    { "8bit", 1.0 },
    { "8kbit", 1000.0 },
    { "8Kbps", 1000.0 },
    { "125MB/s", 125e6 },
    { "1GiB/s", 1073741824.0 },
    { "1000", 1000.0 },
    { "1000B/s", 1000.0 },
    /* case-insensitive units; sizes per second as virsh writes them */
    { "1g", 1073741824.0 },
    { "1G", 1073741824.0 },
    { "1GiB", 1073741824.0 },
    { "100m", 104857600.0 },
    { "1gbit", 125e6 },
    { "100MBIT/S", 12.5e6 },
    { "125mb/s", 125e6 },
};

static const BadCase bad_bandwidths[] = {
    { "", "invalid bandwidth '': empty" },
    { "fast", "invalid bandwidth 'fast'" },
    { "nan", "invalid bandwidth 'nan'" },
    { "0", "invalid bandwidth '0': must be positive" },
    { "0Gbit", "invalid bandwidth '0Gbit': must be positive" },
    { "-1Gbit", "invalid bandwidth '-1Gbit': must not be negative" },
    { "1Gb", "invalid bandwidth '1Gb': unknown unit 'Gb'" BANDWIDTH_UNITS },
    { "1GB", "invalid bandwidth '1GB': unknown unit 'GB'" BANDWIDTH_UNITS },
    { "1e400Gbit", "invalid bandwidth '1e400Gbit': out of range" },
    { "1e308GiB/s", "invalid bandwidth '1e308GiB/s': out of range" },
    /* bytes or bits?  refused rather than guessed */
    { "1MBps", "invalid bandwidth '1MBps': ambiguous unit 'MBps': write MB/s for bytes or Mbit/s for bits" },
    { "8Bps", "invalid bandwidth '8Bps': ambiguous unit 'Bps': write MB/s for bytes or Mbit/s for bits" },
};

static const DoubleCase good_durations[] = {
    { "0", 0.0 },
    { "5", 5.0 },
    { "300ms", 0.3 },
    { "20s", 20.0 },
    { "1.5s", 1.5 },
    { "2min", 120.0 },
    { "250us", 250e-6 },
    { "250\xc2\xb5s", 250e-6 },
    { "10ns", 1e-8 },
    { "1h", 3600.0 },
    { "0.5 ms", 0.5e-3 },
    { "1S", 1.0 },
    { "300MS", 0.3 },
    { "2Min", 120.0 },
};

static const BadCase bad_durations[] = {
    { "", "invalid duration '': empty" },
    { "soon", "invalid duration 'soon'" },
    { "-1s", "invalid duration '-1s': must not be negative" },
    { "1sec", "invalid duration '1sec': unknown unit 'sec' (expected ns, us, ms, s, min, h)" },
    { "1e400s", "invalid duration '1e400s': out of range" },
    { "1e308h", "invalid duration '1e308h': out of range" },
    { "20s ", "invalid duration '20s ': unexpected whitespace" },
};

static const DoubleCase good_ratios[] = {
    { "0", 0.0 },
    { "25%", 0.25 },
    { "25 %", 0.25 },
    { "0.25", 0.25 },
    { "120%", 1.2 },
    { "2.5", 2.5 },
    { "1e-2", 0.01 },
};

static const BadCase bad_ratios[] = {
    { "", "invalid ratio '': empty" },
    { "%", "invalid ratio '%'" },
    { "half", "invalid ratio 'half'" },
    { "-5%", "invalid ratio '-5%': must not be negative" },
    { "25 percent", "invalid ratio '25 percent': unknown unit 'percent' (expected %)" },
    { "25%%", "invalid ratio '25%%': unknown unit '%%' (expected %)" },
    { "1e400%", "invalid ratio '1e400%': out of range" },
};

static void
test_size_good(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(good_sizes); i++) {
        g_autoptr(GError) error = NULL;
        guint64 bytes = SENTINEL_U64;

        g_test_message("size '%s'", good_sizes[i].text);
        g_assert_true(fm_units_parse_size(good_sizes[i].text, &bytes, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(bytes, ==, good_sizes[i].bytes);
    }
}

static void
test_size_bad(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(bad_sizes); i++) {
        g_autoptr(GError) error = NULL;
        guint64 bytes = SENTINEL_U64;

        g_test_message("size '%s'", bad_sizes[i].text);
        g_assert_false(fm_units_parse_size(bad_sizes[i].text, &bytes, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
        g_assert_cmpstr(error->message, ==, bad_sizes[i].message);
        g_assert_cmpuint(bytes, ==, SENTINEL_U64);
    }
}

/* Runs @parser over @good (equal to a relative 1e-12) and @bad (exact messages). */
static void
check_double_parser(DoubleParser parser, const DoubleCase *good, gsize n_good,
                    const BadCase *bad, gsize n_bad)
{
    for (gsize i = 0; i < n_good; i++) {
        g_autoptr(GError) error = NULL;
        double value = SENTINEL_DBL;

        g_test_message("good '%s'", good[i].text);
        g_assert_true(parser(good[i].text, &value, &error));
        g_assert_no_error(error);
        g_assert_cmpfloat_with_epsilon(value, good[i].value, fabs(good[i].value) * 1e-12 + 1e-15);
    }
    for (gsize i = 0; i < n_bad; i++) {
        g_autoptr(GError) error = NULL;
        double value = SENTINEL_DBL;

        g_test_message("bad '%s'", bad[i].text);
        g_assert_false(parser(bad[i].text, &value, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
        g_assert_cmpstr(error->message, ==, bad[i].message);
        g_assert_cmpfloat(value, ==, SENTINEL_DBL);
    }
}

static void
test_bandwidth(void)
{
    check_double_parser(fm_units_parse_bandwidth,
                        good_bandwidths, G_N_ELEMENTS(good_bandwidths),
                        bad_bandwidths, G_N_ELEMENTS(bad_bandwidths));
}

static void
test_duration(void)
{
    check_double_parser(fm_units_parse_duration,
                        good_durations, G_N_ELEMENTS(good_durations),
                        bad_durations, G_N_ELEMENTS(bad_durations));
}

static void
test_ratio(void)
{
    check_double_parser(fm_units_parse_ratio,
                        good_ratios, G_N_ELEMENTS(good_ratios),
                        bad_ratios, G_N_ELEMENTS(bad_ratios));
}

typedef struct {
    double value;
    const char *text;
} FormatCase;

static void
test_format(void)
{
    static const FormatCase sizes[] = {
        { 0, "0 B" },
        { 512, "512 B" },
        { 1023, "1023 B" },
        { 1024, "1.00 KiB" },
        { 1610612736.0, "1.50 GiB" },
        { 4294967296.0, "4.00 GiB" },
        { 1048575.9, "1.00 MiB" },      /* rounds up into the next unit */
        { 1099511627776.0 * 3, "3.00 TiB" },
        { -2048, "-2.00 KiB" },
    };
    static const FormatCase bandwidths[] = {
        { 125e6, "1.00 Gbit/s" },
        { 1.25e9, "10.00 Gbit/s" },
        { 12.5e6, "100.00 Mbit/s" },
        { 100, "800 bit/s" },
        { 0, "0 bit/s" },
    };
    static const FormatCase durations[] = {
        { 0, "0 s" },
        { 1.234, "1.234 s" },
        { 20, "20.000 s" },
        { 0.0123, "12.3 ms" },
        { 0.3, "300.0 ms" },
        { 0.99999, "1.000 s" },        /* not "1000.0 ms" */
        { 250e-6, "250.0 us" },
        { -0.5, "-500.0 ms" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autofree char *s = fm_units_format_size(sizes[i].value);
        g_assert_cmpstr(s, ==, sizes[i].text);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(bandwidths); i++) {
        g_autofree char *s = fm_units_format_bandwidth(bandwidths[i].value);
        g_assert_cmpstr(s, ==, bandwidths[i].text);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(durations); i++) {
        g_autofree char *s = fm_units_format_duration(durations[i].value);
        g_assert_cmpstr(s, ==, durations[i].text);
    }
}

/* What the formatters print, the parsers read back (to the printed precision). */
static void
test_round_trip(void)
{
    static const double sizes[] = { 0, 512, 1024, 1610612736.0, 4294967296.0,
                                    17179869184.0, 1099511627776.0 };
    static const double bandwidths[] = { 1, 125e6, 1.25e9, 12.5e6, 3e3 };
    static const double durations[] = { 0, 1.234, 0.0123, 250e-6, 20 };

    for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *s = fm_units_format_size(sizes[i]);
        guint64 bytes = 0;

        g_assert_true(fm_units_parse_size(s, &bytes, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(bytes, ==, (guint64) sizes[i]);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(bandwidths); i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *s = fm_units_format_bandwidth(bandwidths[i]);
        double v = 0;

        g_assert_true(fm_units_parse_bandwidth(s, &v, &error));
        g_assert_no_error(error);
        g_assert_cmpfloat_with_epsilon(v, bandwidths[i], bandwidths[i] * 1e-9 + 1e-15);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(durations); i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *s = fm_units_format_duration(durations[i]);
        double v = -1;

        g_assert_true(fm_units_parse_duration(s, &v, &error));
        g_assert_no_error(error);
        g_assert_cmpfloat_with_epsilon(v, durations[i], durations[i] * 1e-9 + 1e-15);
    }
}

/* Workload rates: relative to the link's page rate or absolute; exact messages. */
static void
test_rate(void)
{
    static const struct {
        const char *text;
        double expect;          /* < 0: an error */
        const char *message;
    } cases[] = {
        { "25%", 7629.39453125, NULL },           /* of 125e6 / 4096 */
        { "7600/s", 7600, NULL },
        { "0/s", 0, NULL },
        { "0.5%", 152.587890625, NULL },
        { "25", -1, "invalid rate '25' (expected a share of the link's page rate such as '25%', or page writes per second such as '7600/s')" },
        { "-25%", -1, "invalid rate '-25%': must not be negative" },
        { "abc/s", -1, "invalid rate 'abc/s'" },
        { "+5/s", -1, "invalid rate '+5/s'" },
        { " 5/s", -1, "invalid rate ' 5/s'" },
        { "nan%", -1, "invalid rate 'nan%'" },
        { "1e400/s", -1, "invalid rate '1e400/s'" },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        double rate = -1;
        gboolean ok = fm_units_parse_rate(cases[i].text, 125e6 / 4096, &rate, &error);

        if (cases[i].expect >= 0) {
            g_assert_no_error(error);
            g_assert_true(ok);
            g_assert_cmpfloat_with_epsilon(rate, cases[i].expect, 1e-9);
        } else {
            g_assert_false(ok);
            g_assert_cmpstr(error->message, ==, cases[i].message);
        }
    }
}

/* Plain numbers: no sign, blanks, hex, nan or inf; a minus sign is reported. */
static void
test_number(void)
{
    gboolean negative;
    double v = 0;

    g_assert_true(fm_units_parse_number("1.5e3", &v, &negative));
    g_assert_cmpfloat(v, ==, 1500);
    g_assert_false(negative);
    g_assert_true(fm_units_parse_number(".5", &v, NULL));
    g_assert_cmpfloat(v, ==, 0.5);
    g_assert_false(fm_units_parse_number("-2", &v, &negative));
    g_assert_true(negative);
    for (const char *const *bad = (const char *const[]){ "", "+1", " 1", "1 ", "0x10", "inf", "nan", "1e999", "1,5", NULL }; *bad; bad++) {
        g_assert_false(fm_units_parse_number(*bad, &v, &negative));
        g_assert_false(negative);
    }
}

/* The command line's bare numbers: MiB/s and ms, as virsh; units still win, and
 * an unknown unit says what a bare number means. */
static void
test_bare(void)
{
    g_autoptr(GError) error = NULL;
    double v = SENTINEL_DBL;

    g_assert_true(fm_units_parse_bandwidth_bare("100", FM_UNITS_CLI_BANDWIDTH, &v, &error));
    g_assert_no_error(error);
    g_assert_cmpfloat(v, ==, 100 * 1048576.0);
    g_assert_true(fm_units_parse_bandwidth_bare("1Gbit", FM_UNITS_CLI_BANDWIDTH, &v, &error));
    g_assert_cmpfloat(v, ==, 125e6);
    g_assert_true(fm_units_parse_bandwidth("100", &v, &error));
    g_assert_cmpfloat(v, ==, 100.0);
    g_assert_true(fm_units_parse_duration_bare("300", FM_UNITS_CLI_DOWNTIME, &v, &error));
    g_assert_cmpfloat_with_epsilon(v, 0.3, 1e-12);
    g_assert_true(fm_units_parse_duration_bare("2s", FM_UNITS_CLI_DOWNTIME, &v, &error));
    g_assert_cmpfloat(v, ==, 2.0);
    g_assert_true(fm_units_parse_duration("300", &v, &error));
    g_assert_cmpfloat(v, ==, 300.0);

    v = SENTINEL_DBL;
    g_assert_false(fm_units_parse_bandwidth_bare("1q", FM_UNITS_CLI_BANDWIDTH, &v, &error));
    g_assert_cmpstr(error->message, ==,
                    "invalid bandwidth '1q': unknown unit 'q' (expected bit/s, kbit, Mbit, Gbit, Mbps, Gbps, B/s, MB/s, GB/s, K, M, G, MiB/s, GiB/s, or a bare number of MiB/s)");
    g_assert_cmpfloat(v, ==, SENTINEL_DBL);
    g_clear_error(&error);
    g_assert_false(fm_units_parse_duration_bare("3 sec", FM_UNITS_CLI_DOWNTIME, &v, &error));
    g_assert_cmpstr(error->message, ==,
                    "invalid duration '3 sec': unknown unit 'sec' (expected ns, us, ms, s, min, h, or a bare number of ms)");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/units/size/good", test_size_good);
    g_test_add_func("/units/size/bad", test_size_bad);
    g_test_add_func("/units/bandwidth", test_bandwidth);
    g_test_add_func("/units/duration", test_duration);
    g_test_add_func("/units/ratio", test_ratio);
    g_test_add_func("/units/bare", test_bare);
    g_test_add_func("/units/format", test_format);
    g_test_add_func("/units/rate", test_rate);
    g_test_add_func("/units/number", test_number);
    g_test_add_func("/units/round-trip", test_round_trip);

    return g_test_run();
}
