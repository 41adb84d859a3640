/*
 * test-rand.c: FmRand reproducibility, bounded integers and the Zipf sampler.
 *
 * All generators are seeded with fixed values, so the statistical checks below are
 * deterministic: their loose bounds guard against a wrong algorithm, not bad luck.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "util/fm-rand.h"

#include <math.h>
#include <string.h>

/* Returns how many fm_rand_next() steps lead from @before to @after (at most
 * @limit; @limit + 1 if more), to see how many draws a call consumed. */
static guint
steps_between(const FmRand *before, const FmRand *after, guint limit)
{
    FmRand r = *before;
    guint steps;

    for (steps = 0; steps <= limit; steps++) {
        if (memcmp(&r, after, sizeof(r)) == 0)
            return steps;
        fm_rand_next(&r);
    }
    return limit + 1;
}

/* Returns Pearson's chi-square statistic of @observed against @expected counts. */
static double
chi_square(const guint64 *observed, const double *expected, gsize nbins)
{
    double stat = 0.0;
    gsize i;

    for (i = 0; i < nbins; i++) {
        double d = (double) observed[i] - expected[i];

        stat += d * d / expected[i];
    }
    return stat;
}

/*
 * Golden values, computed once with an independent transcription of the reference
 * definitions (splitmix64.c and xoshiro256starstar.c by Vigna, prng.di.unimi.it):
 * the state is four successive splitmix64 outputs of the seed, and the first
 * splitmix64 output of seed 0, 0xe220a8397b1dcdaf, is the widely published one.
 * These numbers pin the sequence across hosts and versions: a scenario replayed
 * with the same seed must dirty the same pages.
 */
static void
test_rand_golden(void)
{
    static const guint64 state0[4] = {
        G_GUINT64_CONSTANT(0xe220a8397b1dcdaf), G_GUINT64_CONSTANT(0x6e789e6aa1b965f4),
        G_GUINT64_CONSTANT(0x06c45d188009454f), G_GUINT64_CONSTANT(0xf88bb8a8724c81ec),
    };
    static const guint64 out0[4] = {
        G_GUINT64_CONSTANT(0x99ec5f36cb75f2b4), G_GUINT64_CONSTANT(0xbf6e1f784956452a),
        G_GUINT64_CONSTANT(0x1a5f849d4933e6e0), G_GUINT64_CONSTANT(0x6aa594f1262d2d2c),
    };
    FmRand r;
    int i;

    fm_rand_seed(&r, 0);
    for (i = 0; i < 4; i++)
        g_assert_cmphex(r.s[i], ==, state0[i]);
    for (i = 0; i < 4; i++)
        g_assert_cmphex(fm_rand_next(&r), ==, out0[i]);

    fm_rand_seed(&r, 1);
    g_assert_cmphex(fm_rand_next(&r), ==, G_GUINT64_CONSTANT(0xb3f2af6d0fc710c5));
    fm_rand_seed(&r, 12345);
    g_assert_cmphex(fm_rand_next(&r), ==, G_GUINT64_CONSTANT(0xbe6a36374160d49b));

    /* fm_rand_double keeps the top 53 bits of the same sequence. */
    fm_rand_seed(&r, 0);
    g_assert_cmpfloat(fm_rand_double(&r), ==, (double) (out0[0] >> 11) / 9007199254740992.0);
    g_assert_cmpfloat_with_epsilon(fm_rand_double(&r), 0.7477740925472398, 1e-15);
}

/* Same seed, same sequence; and the state is plain data that can be copied midway
 * (as a migrated guest does) and resumed exactly. */
static void
test_rand_same_seed(void)
{
    FmRand a, b, saved;
    int i;

    fm_rand_seed(&a, 42);
    fm_rand_seed(&b, 42);
    for (i = 0; i < 1000; i++)
        g_assert_cmphex(fm_rand_next(&a), ==, fm_rand_next(&b));

    saved = a;
    for (i = 0; i < 1000; i++) {
        guint64 x = fm_rand_next(&a);

        g_assert_cmphex(x, ==, fm_rand_next(&b));
        g_assert_cmphex(x, !=, 0); /* possible, but not in these 1000 draws */
    }
    for (i = 0; i < 1000; i++)
        fm_rand_next(&saved);
    g_assert_cmpmem(&saved, sizeof(saved), &a, sizeof(a));

    /* Reseeding restarts the sequence. */
    fm_rand_seed(&a, 42);
    fm_rand_seed(&b, 42);
    fm_rand_next(&b);
    fm_rand_seed(&b, 42);
    g_assert_cmpmem(&a, sizeof(a), &b, sizeof(b));
}

/* Different seeds, including neighbouring ones, give unrelated sequences. */
static void
test_rand_different_seeds(void)
{
    static const guint64 seeds[] = {
        0, 1, 2, 3, 42, G_GUINT64_CONSTANT(1) << 32, G_GUINT64_CONSTANT(1) << 63, G_MAXUINT64,
    };
    guint64 first[G_N_ELEMENTS(seeds)][16];
    gsize i, j;
    int k;

    for (i = 0; i < G_N_ELEMENTS(seeds); i++) {
        FmRand r;

        fm_rand_seed(&r, seeds[i]);
        g_assert_false(r.s[0] == 0 && r.s[1] == 0 && r.s[2] == 0 && r.s[3] == 0);
        for (k = 0; k < 16; k++)
            first[i][k] = fm_rand_next(&r);
    }
    for (i = 0; i < G_N_ELEMENTS(seeds); i++) {
        for (j = i + 1; j < G_N_ELEMENTS(seeds); j++) {
            int same = 0;

            for (k = 0; k < 16; k++)
                same += first[i][k] == first[j][k];
            g_assert_cmpint(same, ==, 0);
        }
    }
}

static void
test_rand_double(void)
{
    const int n = 200000;
    FmRand r, twin;
    double sum = 0.0, min = 1.0, max = 0.0;
    int i;

    fm_rand_seed(&r, 7);
    fm_rand_seed(&twin, 7);
    for (i = 0; i < n; i++) {
        double d = fm_rand_double(&r);
        double scaled = d * 9007199254740992.0; /* 2^53 */

        g_assert_cmpfloat(d, >=, 0.0);
        g_assert_cmpfloat(d, <, 1.0);
        g_assert_cmpfloat(scaled, ==, floor(scaled)); /* a multiple of 2^-53 */
        g_assert_cmpfloat(scaled, ==, (double) (fm_rand_next(&twin) >> 11));
        sum += d;
        min = MIN(min, d);
        max = MAX(max, d);
    }
    g_assert_cmpfloat_with_epsilon(sum / n, 0.5, 0.005);
    g_assert_cmpfloat(min, <, 1e-4);
    g_assert_cmpfloat(max, >, 1.0 - 1e-4);
}

/* Results stay below the bound, including bounds where most of the 64-bit range
 * must be rejected. */
static void
test_rand_below_bounds(void)
{
    static const guint64 bounds[] = {
        1, 2, 3, 7, 1000, G_GUINT64_CONSTANT(1) << 32, (G_GUINT64_CONSTANT(1) << 32) + 1,
        (G_GUINT64_CONSTANT(1) << 63) + 1, G_MAXUINT64 - 1, G_MAXUINT64,
    };
    gsize b;

    for (b = 0; b < G_N_ELEMENTS(bounds); b++) {
        guint64 bound = bounds[b];
        guint64 upper_half = 0;
        gboolean seen_zero = FALSE, seen_last = FALSE;
        FmRand r;
        int i;

        fm_rand_seed(&r, 1000 + b);
        for (i = 0; i < 20000; i++) {
            guint64 x = fm_rand_below(&r, bound);

            g_assert_cmpuint(x, <, bound);
            upper_half += x >= bound / 2;
            seen_zero |= x == 0;
            seen_last |= x == bound - 1;
        }
        if (bound == 1)
            g_assert_cmpuint(upper_half, ==, 20000);
        if (bound <= 1000) {
            g_assert_true(seen_zero);
            g_assert_true(seen_last);
        } else {
            /* Both halves of a huge range are reached evenly. */
            g_assert_cmpuint(upper_half, >, 9500);
            g_assert_cmpuint(upper_half, <, 10500);
        }
    }
}

/* Golden outputs of fm_rand_below (seed 12345), computed with the plain definition
 * "redraw x while (x * bound) mod 2^64 < 2^64 mod bound, return (x * bound) >> 64";
 * they hold whether or not the host has 128-bit integers. */
static void
test_rand_below_golden(void)
{
    static const struct {
        guint64 bound;
        guint64 out[8];
        gboolean rejects; /* whether these 8 draws needed redraws */
    } cases[] = {
        { 1000, { 743, 130, 963, 48, 555, 10, 159, 295 }, FALSE },
        { 3, { 2, 0, 2, 0, 1, 0, 0, 0 }, FALSE },
        { (G_GUINT64_CONSTANT(1) << 63) + 1,
          { G_GUINT64_CONSTANT(8885192424992434628), G_GUINT64_CONSTANT(445858863439900697),
            G_GUINT64_CONSTANT(5120658023159227172), G_GUINT64_CONSTANT(1473685501948099404),
            G_GUINT64_CONSTANT(7211239954003415529), G_GUINT64_CONSTANT(4954762057075603438),
            G_GUINT64_CONSTANT(1253947585956485584), G_GUINT64_CONSTANT(7918739093173155738) },
          TRUE },
    };
    gsize c;

    for (c = 0; c < G_N_ELEMENTS(cases); c++) {
        FmRand r, start;
        guint steps;
        int i;

        fm_rand_seed(&r, 12345);
        start = r;
        for (i = 0; i < 8; i++)
            g_assert_cmpuint(fm_rand_below(&r, cases[c].bound), ==, cases[c].out[i]);
        steps = steps_between(&start, &r, 100);
        if (cases[c].rejects)
            g_assert_cmpuint(steps, >, 8);
        else
            g_assert_cmpuint(steps, ==, 8);
    }
}

/* Rough uniformity: chi-square against the flat distribution with a loose bound
 * (about mean + 6 standard deviations). */
static void
test_rand_below_uniform(void)
{
    static const guint64 bounds[] = { 2, 3, 10, 1000 };
    gsize b;

    for (b = 0; b < G_N_ELEMENTS(bounds); b++) {
        guint64 bound = bounds[b];
        const int n = 1000000;
        g_autofree guint64 *observed = g_new0(guint64, bound);
        g_autofree double *expected = g_new(double, bound);
        double df = (double) bound - 1.0;
        FmRand r;
        guint64 i;

        fm_rand_seed(&r, 99 + b);
        for (i = 0; i < (guint64) n; i++)
            observed[fm_rand_below(&r, bound)]++;
        for (i = 0; i < bound; i++)
            expected[i] = (double) n / (double) bound;
        g_assert_cmpfloat(chi_square(observed, expected, bound), <, df + 6.0 * sqrt(2.0 * df) + 10.0);
    }
}

/* A bound of 3 * 2^62 makes both classic biases large: "x % bound" returns the
 * first third twice as often, and multiply-shift without redraws returns
 * multiples of 3 twice as often.  Neither may show. */
static void
test_rand_below_no_bias(void)
{
    const guint64 bound = G_GUINT64_CONSTANT(3) << 62;
    const guint64 third = G_GUINT64_CONSTANT(1) << 62;
    const int n = 300000;
    guint64 by_third[3] = { 0 }, by_residue[3] = { 0 };
    double expected[3] = { n / 3.0, n / 3.0, n / 3.0 };
    FmRand r;
    int i;

    fm_rand_seed(&r, 2024);
    for (i = 0; i < n; i++) {
        guint64 x = fm_rand_below(&r, bound);

        g_assert_cmpuint(x, <, bound);
        by_third[x / third]++;
        by_residue[x % 3]++;
    }
    /* 2 degrees of freedom: 30 is far out (p < 1e-6); a biased draw gives ~n/8. */
    g_assert_cmpfloat(chi_square(by_third, expected, 3), <, 30.0);
    g_assert_cmpfloat(chi_square(by_residue, expected, 3), <, 30.0);
}

/* Returns the exact Zipf pmf of rank @k over 1..@n with exponent @s. */
static double
zipf_pmf(guint64 n, double s, guint64 k)
{
    double norm = 0.0;
    guint64 i;

    /* Smallest terms first, for an accurate sum. */
    for (i = n; i >= 1; i--)
        norm += pow((double) i, -s);
    return pow((double) k, -s) / norm;
}

/* Samples stay in [1, n] for tiny and huge n, and reach the far end. */
static void
test_zipf_range(void)
{
    static const guint64 ns[] = { 1, 2, 3, 1000, G_GUINT64_CONSTANT(4) << 20, G_MAXUINT64 };
    static const double exponents[] = { 0.01, 0.5, 1.0 - 1e-12, 1.0, 1.2, 2.0, 5.0 };
    gsize i, j;

    for (i = 0; i < G_N_ELEMENTS(ns); i++) {
        for (j = 0; j < G_N_ELEMENTS(exponents); j++) {
            guint64 n = ns[i];
            double s = exponents[j];
            guint64 max_seen = 0, ones = 0;
            const int draws = 50000;
            FmZipf zipf;
            FmRand r;
            int k;

            fm_zipf_init(&zipf, n, s);
            fm_rand_seed(&r, 31 * i + j);
            for (k = 0; k < draws; k++) {
                guint64 x = fm_zipf_sample(&zipf, &r);

                g_assert_cmpuint(x, >=, 1);
                g_assert_cmpuint(x, <=, n);
                max_seen = MAX(max_seen, x);
                ones += x == 1;
            }
            if (n == 1)
                g_assert_cmpuint(ones, ==, draws);
            if (n == 2) {
                /* P(1) = 1 / (1 + 2^-s), within 3% absolute over 50000 draws. */
                g_assert_cmpfloat_with_epsilon((double) ones / draws,
                                               1.0 / (1.0 + pow(2.0, -s)), 0.03);
                g_assert_cmpuint(max_seen, ==, 2);
            }
            /* With a light tail most of the range is reached. */
            if (n >= 3 && n < G_MAXUINT64 && s <= 1.0)
                g_assert_cmpuint(max_seen, >, n / 2);
            if (n == G_MAXUINT64 && s <= 0.5)
                g_assert_cmpuint(max_seen, >, G_MAXUINT64 / 2);
        }
    }
}

/* Empirical frequencies of the top ranks over 10^6 draws are within 5% (relative)
 * of the exact pmf; and a chi-square over a small n checks every rank. */
static void
test_zipf_pmf(void)
{
    static const double exponents[] = { 1.0, 1.2, 0.5 };
    const guint64 n = 1000;
    const int draws = 1000000;
    gsize e;

    for (e = 0; e < G_N_ELEMENTS(exponents); e++) {
        double s = exponents[e];
        guint64 counts[6] = { 0 };
        FmZipf zipf;
        FmRand r;
        guint64 k;
        int i;

        fm_zipf_init(&zipf, n, s);
        fm_rand_seed(&r, 4242 + e);
        for (i = 0; i < draws; i++) {
            guint64 x = fm_zipf_sample(&zipf, &r);

            if (x <= 5)
                counts[x]++;
        }
        for (k = 1; k <= 5; k++) {
            double freq = (double) counts[k] / draws;
            double p = zipf_pmf(n, s, k);

            g_test_message("s=%g rank %" G_GUINT64_FORMAT ": %.5f vs %.5f", s, k, freq, p);
            g_assert_cmpfloat(fabs(freq - p) / p, <, 0.05);
        }
    }
}

/* Every rank of a small Zipf, for exponents from nearly uniform to steep. */
static void
test_zipf_chi_square(void)
{
    static const double exponents[] = { 0.1, 0.5, 1.0, 1.2, 2.0, 3.0 };
    const guint64 n = 10;
    const int draws = 500000;
    gsize e;

    for (e = 0; e < G_N_ELEMENTS(exponents); e++) {
        double s = exponents[e];
        guint64 observed[10] = { 0 };
        double expected[10];
        FmZipf zipf;
        FmRand r;
        guint64 k;
        int i;

        fm_zipf_init(&zipf, n, s);
        fm_rand_seed(&r, 77 + e);
        for (i = 0; i < draws; i++)
            observed[fm_zipf_sample(&zipf, &r) - 1]++;
        for (k = 1; k <= n; k++)
            expected[k - 1] = draws * zipf_pmf(n, s, k);
        /* 9 degrees of freedom: 40 has p < 1e-5. */
        g_assert_cmpfloat(chi_square(observed, expected, n), <, 40.0);
    }
}

/* Near s = 1 the formulas divide by 1 - s: the sampler must be continuous there.
 * The precomputed values must match those of s = 1, and over n = 1000 a sample
 * path with s = 1 +- 1e-9 or closer must match that of s = 1 (the boundaries in u
 * move by about delta * log(n)^2, far less than their spacing).  A naive
 * (x^(1-s) - 1) / (1 - s) loses all its digits to cancellation at such s.  Larger
 * deltas and n genuinely move boundaries, so only the parameters are compared. */
static void
test_zipf_near_one(void)
{
    static const double deltas[] = { 1e-15, -1e-15, 1e-12, -1e-12, 1e-9, -1e-9, 1e-7, -1e-7 };
    static const guint64 ns[] = { 1000, 4 << 20 };
    gsize d, j;

    for (j = 0; j < G_N_ELEMENTS(ns); j++) {
        guint64 n = ns[j];
        FmZipf one;

        fm_zipf_init(&one, n, 1.0);
        /* At s = 1, H(x) = log x exactly. */
        g_assert_cmpfloat_with_epsilon(one.h_x1, log(1.5) - 1.0, 1e-15);
        g_assert_cmpfloat_with_epsilon(one.h_n, log((double) n + 0.5), 1e-14);
        g_assert_true(isfinite(one.threshold));

        for (d = 0; d < G_N_ELEMENTS(deltas); d++) {
            FmZipf near;
            FmRand r1, r2;
            int i, same = 0;

            fm_zipf_init(&near, n, 1.0 + deltas[d]);
            g_assert_cmpfloat_with_epsilon(near.h_x1, one.h_x1, 1e-6);
            g_assert_cmpfloat_with_epsilon(near.h_n, one.h_n, 1e-4);
            g_assert_cmpfloat_with_epsilon(near.threshold, one.threshold, 1e-6);
            if (fabs(deltas[d]) <= 1e-12) {
                g_assert_cmpfloat_with_epsilon(near.h_x1, one.h_x1, 1e-12);
                g_assert_cmpfloat_with_epsilon(near.h_n, one.h_n, 1e-9);
                g_assert_cmpfloat_with_epsilon(near.threshold, one.threshold, 1e-12);
            }
            if (n > 1000 || fabs(deltas[d]) > 1e-9)
                continue;

            fm_rand_seed(&r1, 5);
            fm_rand_seed(&r2, 5);
            for (i = 0; i < 10000; i++)
                same += fm_zipf_sample(&one, &r1) == fm_zipf_sample(&near, &r2);
            g_test_message("n=%" G_GUINT64_FORMAT " delta %g: %d of 10000 equal",
                           n, deltas[d], same);
            g_assert_cmpint(same, >=, 9995);
        }
    }
}

/* The precomputed values for n = 1000 against references computed once at 60
 * digits with mpmath from the closed forms H(x) = (x^(1-s) - 1) / (1 - s) (log x at
 * s = 1) and H^-1; s = 1 +- 1e-9 goes through the series branches of the helpers,
 * s = 1 + 3e-6 through log1p/expm1. */
static void
test_zipf_parameters(void)
{
    static const struct {
        double s, h_x1, h_n, threshold;
    } cases[] = {
        { 1.0, -0.59453489189183562, 6.9082551540237881, 0.48367335071841644 },
        { 1.000000001, -0.5945348919740366, 6.9082551301617915, 0.48367335069805486 },
        { 0.999999999, -0.59453489180963464, 6.9082551778857821, 0.48367335073877801 },
        { 1.000003, -0.59453513849466647, 6.9081835685344107, 0.48367328963366914 },
        { 0.5, -0.5505102572168219, 61.261362615738842, 0.49303398874989485 },
        { 2.0, -0.66666666666666667, 0.99900049975012494, 0.46153846153846154 },
        { 0.01, -0.50108046780102593, 942.1376368900785, 0.49989304888764697 },
    };
    gsize c;

    for (c = 0; c < G_N_ELEMENTS(cases); c++) {
        FmZipf zipf;

        fm_zipf_init(&zipf, 1000, cases[c].s);
        g_assert_cmpuint(zipf.n, ==, 1000);
        g_assert_cmpfloat(zipf.s, ==, cases[c].s);
        g_assert_cmpfloat_with_epsilon(zipf.h_x1, cases[c].h_x1, 1e-14);
        g_assert_cmpfloat_with_epsilon(zipf.h_n, cases[c].h_n, 1e-14 * fabs(cases[c].h_n));
        g_assert_cmpfloat_with_epsilon(zipf.threshold, cases[c].threshold, 1e-14);
    }
}

/* Same seed, same ranks; and FmZipf, being plain data, can be copied. */
static void
test_zipf_deterministic(void)
{
    FmZipf zipf, copy;
    FmRand a, b;
    int i;

    fm_zipf_init(&zipf, 12345, 0.9);
    copy = zipf;
    fm_rand_seed(&a, 8);
    fm_rand_seed(&b, 8);
    for (i = 0; i < 10000; i++)
        g_assert_cmpuint(fm_zipf_sample(&zipf, &a), ==, fm_zipf_sample(&copy, &b));
}

/* Few draws per sample (the method is O(1)): at most 1.5 attempts on average. */
static void
test_zipf_attempts(void)
{
    static const double exponents[] = { 0.01, 0.5, 0.9, 1.0, 1.1, 2.0, 5.0 };
    static const guint64 ns[] = { 2, 10, 1000, G_GUINT64_CONSTANT(4) << 20 };
    gsize e, j;

    for (e = 0; e < G_N_ELEMENTS(exponents); e++) {
        for (j = 0; j < G_N_ELEMENTS(ns); j++) {
            const int draws = 1000;
            FmZipf zipf;
            FmRand r, start;
            guint steps;
            int i;

            fm_zipf_init(&zipf, ns[j], exponents[e]);
            fm_rand_seed(&r, 3);
            start = r;
            for (i = 0; i < draws; i++)
                fm_zipf_sample(&zipf, &r);
            steps = steps_between(&start, &r, 3 * draws);
            g_assert_cmpuint(steps, >=, draws);
            g_assert_cmpuint(steps, <=, draws * 3 / 2);
        }
    }
}

/* Programmer errors are reported as criticals. */
static void
test_rand_programmer_errors(void)
{
    FmRand r;
    FmZipf zipf = { 0 };

    fm_rand_seed(&r, 1);

#define EXPECT_CRITICAL(stmt) \
    do { \
        g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*assertion*failed*"); \
        stmt; \
        g_test_assert_expected_messages(); \
    } while (0)

    EXPECT_CRITICAL(g_assert_cmpuint(fm_rand_below(&r, 0), ==, 0));
    EXPECT_CRITICAL(fm_zipf_init(&zipf, 0, 1.0));
    EXPECT_CRITICAL(fm_zipf_init(&zipf, 10, 0.0));
    EXPECT_CRITICAL(fm_zipf_init(&zipf, 10, -1.0));
    EXPECT_CRITICAL(fm_zipf_init(&zipf, 10, NAN));
    EXPECT_CRITICAL(fm_zipf_init(&zipf, 10, INFINITY));
    /* A sampler never initialised (n == 0) is refused, not looped on. */
    EXPECT_CRITICAL(g_assert_cmpuint(fm_zipf_sample(&zipf, &r), ==, 1));
#undef EXPECT_CRITICAL
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/rand/golden", test_rand_golden);
    g_test_add_func("/rand/same-seed", test_rand_same_seed);
    g_test_add_func("/rand/different-seeds", test_rand_different_seeds);
    g_test_add_func("/rand/double", test_rand_double);
    g_test_add_func("/rand/below-bounds", test_rand_below_bounds);
    g_test_add_func("/rand/below-golden", test_rand_below_golden);
    g_test_add_func("/rand/below-uniform", test_rand_below_uniform);
    g_test_add_func("/rand/below-no-bias", test_rand_below_no_bias);
    g_test_add_func("/zipf/range", test_zipf_range);
    g_test_add_func("/zipf/pmf", test_zipf_pmf);
    g_test_add_func("/zipf/chi-square", test_zipf_chi_square);
    g_test_add_func("/zipf/parameters", test_zipf_parameters);
    g_test_add_func("/zipf/near-one", test_zipf_near_one);
    g_test_add_func("/zipf/deterministic", test_zipf_deterministic);
    g_test_add_func("/zipf/attempts", test_zipf_attempts);
    g_test_add_func("/rand/programmer-errors", test_rand_programmer_errors);

    return g_test_run();
}
