/*
 * fm-rand.h: deterministic pseudo-random numbers for workloads and the simulator.
 *
 * FmRand is plain data (no pointers), so that a guest can keep it inside its own
 * memory and resume exactly where it stopped after a migration.  xoshiro256** seeded
 * through splitmix64: the same seed gives the same sequence on every host.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    guint64 s[4];
} FmRand;

/* Zipf(s) sampler over ranks 1..n (rejection-inversion: O(1) per draw, no tables).
 * Plain data, like FmRand. */
typedef struct {
    guint64 n;
    double s;
    double h_x1;       /* precomputed H(1.5) - 1 */
    double h_n;        /* precomputed H(n + 0.5) */
    double threshold;  /* 2 - H^-1(H(2.5) - 2^-s) */
} FmZipf;

/* Seeds @rand from @seed (any value, 0 included). */
void fm_rand_seed(FmRand *rand, guint64 seed);
/* Returns the next 64 random bits. */
guint64 fm_rand_next(FmRand *rand);
/* Returns a uniform double in [0, 1). */
double fm_rand_double(FmRand *rand);
/* Returns a uniform integer in [0, @bound) (@bound > 0), without modulo bias. */
guint64 fm_rand_below(FmRand *rand, guint64 bound);

/* Prepares a sampler over 1..@n with exponent @s (> 0, s == 1 included). */
void fm_zipf_init(FmZipf *zipf, guint64 n, double s);
/* Returns a rank in [1, n]; rank 1 is the most frequent. */
guint64 fm_zipf_sample(const FmZipf *zipf, FmRand *rand);

G_END_DECLS
