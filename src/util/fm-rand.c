/*
 * fm-rand.c: xoshiro256** generator, unbiased bounded integers, Zipf sampler.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "util/fm-rand.h"

#include <math.h>

/* splitmix64 (Steele, Lea & Flood): one step of the seeding generator.  It spreads any
 * seed, 0 included, over the whole state, which xoshiro needs to be non-zero. */
static guint64
fm_rand_splitmix64(guint64 *x)
{
    guint64 z = (*x += G_GUINT64_CONSTANT(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Returns @x rotated left by @k bits (0 < k < 64). */
static inline guint64
fm_rand_rotl(guint64 x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Seeds @rand from @seed: four successive splitmix64 outputs, as the xoshiro authors
 * recommend, so that the same seed gives the same sequence everywhere. */
void
fm_rand_seed(FmRand *rand, guint64 seed)
{
    int i;

    g_return_if_fail(rand != NULL);

    for (i = 0; i < 4; i++)
        rand->s[i] = fm_rand_splitmix64(&seed);
}

/* Returns the next 64 random bits (xoshiro256**, Blackman & Vigna). */
guint64
fm_rand_next(FmRand *rand)
{
    guint64 *s, result, t;

    g_return_val_if_fail(rand != NULL, 0);

    s = rand->s;
    result = fm_rand_rotl(s[1] * 5, 7) * 9;
    t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = fm_rand_rotl(s[3], 45);
    return result;
}

/* Returns a uniform double in [0, 1): the top 53 bits, so that every value is an
 * exact multiple of 2^-53 and 1.0 is never returned. */
double
fm_rand_double(FmRand *rand)
{
    return (double) (fm_rand_next(rand) >> 11) * 0x1.0p-53;
}

/* Stores the full 128-bit product @a * @b in @hi:@lo.  The portable branch gives the
 * same result, so that sequences do not depend on the host's compiler. */
static inline void
fm_rand_mul128(guint64 a, guint64 b, guint64 *hi, guint64 *lo)
{
#if defined(__SIZEOF_INT128__) && !defined(FM_RAND_NO_INT128)
    __extension__ unsigned __int128 p = (unsigned __int128) a * b;

    *hi = (guint64) (p >> 64);
    *lo = (guint64) p;
#else
    guint64 a_lo = a & 0xffffffffu, a_hi = a >> 32;
    guint64 b_lo = b & 0xffffffffu, b_hi = b >> 32;
    guint64 p0 = a_lo * b_lo;
    guint64 p1 = a_lo * b_hi;
    guint64 p2 = a_hi * b_lo;
    guint64 p3 = a_hi * b_hi;
    /* At most 3 * (2^32 - 1): cannot overflow. */
    guint64 mid = (p0 >> 32) + (p1 & 0xffffffffu) + (p2 & 0xffffffffu);

    *lo = (p0 & 0xffffffffu) | (mid << 32);
    *hi = p3 + (p1 >> 32) + (p2 >> 32) + (mid >> 32);
#endif
}

/* Returns a uniform integer in [0, @bound).  Lemire's multiply-shift: the high half
 * of x * bound is the result; products whose low half falls below 2^64 mod bound
 * are redrawn, which removes the bias exactly, and the division computing that
 * threshold is only needed in the rare case where the low half is below @bound. */
guint64
fm_rand_below(FmRand *rand, guint64 bound)
{
    guint64 hi, lo;

    g_return_val_if_fail(rand != NULL, 0);
    g_return_val_if_fail(bound > 0, 0);

    fm_rand_mul128(fm_rand_next(rand), bound, &hi, &lo);
    if (lo < bound) {
        guint64 threshold = (0 - bound) % bound;

        while (lo < threshold)
            fm_rand_mul128(fm_rand_next(rand), bound, &hi, &lo);
    }
    return hi;
}

/*
 * Zipf by rejection-inversion (Hörmann & Derflinger, "Rejection-inversion to generate
 * variates from monotone discrete distributions", ACM TOMACS 6(3), 1996).
 *
 * With h(x) = x^-s and H(x) = integral of h from 1 to x = (x^(1-s) - 1) / (1 - s)
 * (log x when s = 1), a uniform u in (H(1.5) - 1, H(n + 0.5)] is inverted to
 * x = H^-1(u) and rounded to k.  Rank 1 owns an interval of length exactly h(1) = 1;
 * rank k >= 2 owns [H(k - 0.5), H(k + 0.5)], at least h(k) long because h is convex,
 * and only its top h(k) is accepted.  Every rank is thus accepted with probability
 * proportional to k^-s, which is the exact pmf.  Most draws are accepted by the cheap
 * squeeze k - x <= threshold before H is evaluated.
 *
 * Both H and H^-1 divide by 1 - s; they are written with log1p(t)/t and expm1(t)/t,
 * which tend to 1 as t -> 0, so that s = 1 and s close to 1 are handled exactly
 * instead of as 0/0.
 */

/* Returns log1p(x) / x, continuous at 0. */
static double
fm_zipf_log1p_x(double x)
{
    if (fabs(x) > 1e-8)
        return log1p(x) / x;
    /* Taylor series; the first dropped term (x^4 / 5) is below 1e-32. */
    return 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

/* Returns expm1(x) / x, continuous at 0. */
static double
fm_zipf_expm1_x(double x)
{
    if (fabs(x) > 1e-8)
        return expm1(x) / x;
    return 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x));
}

/* Returns h(x) = x^-s. */
static double
fm_zipf_h(double s, double x)
{
    return exp(-s * log(x));
}

/* Returns H(x) = (x^(1-s) - 1) / (1 - s). */
static double
fm_zipf_big_h(double s, double x)
{
    double log_x = log(x);

    return fm_zipf_expm1_x((1.0 - s) * log_x) * log_x;
}

/* Returns H^-1(y) = (1 + (1-s) y)^(1 / (1-s)). */
static double
fm_zipf_big_h_inv(double s, double y)
{
    double t = y * (1.0 - s);

    /* Outside H's range only through rounding: clamp to the x = 0 end. */
    if (t < -1.0)
        t = -1.0;
    return exp(fm_zipf_log1p_x(t) * y);
}

/* Prepares @zipf to sample ranks 1..@n with exponent @s. */
void
fm_zipf_init(FmZipf *zipf, guint64 n, double s)
{
    g_return_if_fail(zipf != NULL);
    g_return_if_fail(n >= 1);
    g_return_if_fail(s > 0.0 && isfinite(s));

    zipf->n = n;
    zipf->s = s;
    zipf->h_x1 = fm_zipf_big_h(s, 1.5) - 1.0;
    zipf->h_n = fm_zipf_big_h(s, (double) n + 0.5);
    zipf->threshold = 2.0 - fm_zipf_big_h_inv(s, fm_zipf_big_h(s, 2.5) - fm_zipf_h(s, 2.0));
}

/* Returns a rank in [1, n]; consumes one draw of @rand per attempt, and few
 * attempts on average for any s and n (the rejected area is small). */
guint64
fm_zipf_sample(const FmZipf *zipf, FmRand *rand)
{
    g_return_val_if_fail(zipf != NULL && rand != NULL, 1);
    g_return_val_if_fail(zipf->n >= 1, 1);

    for (;;) {
        double u = zipf->h_n + fm_rand_double(rand) * (zipf->h_x1 - zipf->h_n);
        double x = fm_zipf_big_h_inv(zipf->s, u);
        double rounded = floor(x + 0.5);
        guint64 k;

        /* Clamp in floating point: converting an out-of-range double is undefined. */
        if (!(rounded >= 1.0))
            k = 1;
        else if (rounded >= (double) zipf->n)
            k = zipf->n;
        else
            k = (guint64) rounded;

        if ((double) k - x <= zipf->threshold ||
            u >= fm_zipf_big_h(zipf->s, (double) k + 0.5) - fm_zipf_h(zipf->s, (double) k))
            return k;
    }
}
