/*
 * test-workload.c: unit tests of the workload models (src/workload/).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "workload/fm-workload-priv.h"
#include "trace/fm-trace.h"
#include "util/fm-error.h"

#define PAGES 4096

/* Collects every write, and checks the invariant that it lies in [lo, hi). */
typedef struct {
    GArray *pfns;
    guint64 lo;
    guint64 hi;
} Writes;

static void
writes_record(guint64 pfn, gpointer data)
{
    Writes *w = data;

    g_assert_cmpuint(pfn, >=, w->lo);
    g_assert_cmpuint(pfn, <, w->hi);
    g_array_append_val(w->pfns, pfn);
}

static void
writes_init(Writes *w, guint64 lo, guint64 hi)
{
    w->pfns = g_array_new(FALSE, FALSE, sizeof(guint64));
    w->lo = lo;
    w->hi = hi;
}

static void
writes_clear(Writes *w)
{
    g_array_unref(w->pfns);
}

static void
assert_same_writes(const Writes *a, const Writes *b)
{
    g_assert_cmpuint(a->pfns->len, ==, b->pfns->len);
    g_assert_cmpmem(a->pfns->data, a->pfns->len * sizeof(guint64),
                    b->pfns->data, b->pfns->len * sizeof(guint64));
}

static FmWorkloadSpec
spec_simple(FmWorkloadType type, double rate, double start, double size)
{
    FmWorkloadSpec spec = {
        .type = type, .rate = rate, .zipf_s = 1.0,
        .region_start = start, .region_size = size,
    };
    return spec;
}

/* A three-phase spec: sweep, db, web (open-ended); @phases must hold 3 entries. */
static FmWorkloadSpec
spec_phases(FmWorkloadSpec *phases)
{
    FmWorkloadSpec spec = { .type = FM_WORKLOAD_PHASES, .n_phases = 3, .phases = phases };

    phases[0] = spec_simple(FM_WORKLOAD_SWEEP, 1000, 0.0, 0.1);
    phases[0].duration = 1.0;
    phases[1] = spec_simple(FM_WORKLOAD_DB, 2000, 0.5, 0.1);
    phases[1].duration = 2.0;
    phases[2] = spec_simple(FM_WORKLOAD_WEB, 500, 0.8, 0.2);
    return spec;
}

/* A trace spec (tests/test-trace.c tests the model in depth): 2 pages per ms for
 * 100 ms, at moving places, looping; 2000 writes per second.  The trace lives for
 * the whole program. */
static FmWorkloadSpec
spec_trace(void)
{
    static FmTrace *trace;
    FmWorkloadSpec spec = { 0 };

    if (trace == NULL) {
        trace = fm_trace_new(4096, PAGES, NULL);
        for (guint64 i = 1; i <= 100; i++) {
            FmTraceRun run = { (i * 37) % (PAGES - 2), 2 };

            g_assert_true(fm_trace_append_runs(trace, i * 1000000, &run, 1, NULL));
        }
    }
    spec.type = FM_WORKLOAD_TRACE;
    spec.trace = trace;      /* borrowed: never freed through this spec */
    spec.rate = fm_trace_mean_rate(trace);
    return spec;
}

/* A mix (lives for the whole program): a hot db region of 5 % at 6000 writes/s, a
 * cold db of 50 % at 1000, a sweep of 10 % at 3000 and web over 20 % at 2000. */
static FmWorkloadSpec
spec_mix(void)
{
    static FmWorkloadSpec parts[4];
    FmWorkloadSpec spec = { .type = FM_WORKLOAD_MIX, .n_phases = 4, .phases = parts };

    parts[0] = spec_simple(FM_WORKLOAD_DB, 6000, 0.0, 0.05);
    parts[1] = spec_simple(FM_WORKLOAD_DB, 1000, 0.5, 0.5);
    parts[2] = spec_simple(FM_WORKLOAD_SWEEP, 3000, 0.1, 0.1);
    parts[3] = spec_simple(FM_WORKLOAD_WEB, 2000, 0.25, 0.2);
    return spec;
}

/* Every model, for the table-driven tests below. */
static void
all_specs(FmWorkloadSpec *specs, FmWorkloadSpec *phases)
{
    specs[FM_WORKLOAD_IDLE] = spec_simple(FM_WORKLOAD_IDLE, 300, 0, 1);
    specs[FM_WORKLOAD_WEB] = spec_simple(FM_WORKLOAD_WEB, 7777, 0.3, 0.4);
    specs[FM_WORKLOAD_DB] = spec_simple(FM_WORKLOAD_DB, 5000, 0.1, 0.1);
    specs[FM_WORKLOAD_SWEEP] = spec_simple(FM_WORKLOAD_SWEEP, 12345.6, 0.5, 0.25);
    specs[FM_WORKLOAD_PHASES] = spec_phases(phases);
    specs[FM_WORKLOAD_TRACE] = spec_trace();
    specs[FM_WORKLOAD_MIX] = spec_mix();
}

static void
test_table(void)
{
    for (int t = 0; t < FM_WORKLOAD_LAST; t++) {
        const FmWorkloadModel *model = fm_workload_model_get(t);

        g_assert_nonnull(model);
        g_assert_cmpint(model->type, ==, t);
        g_assert_nonnull(model->init);
        g_assert_nonnull(model->next);
    }
}

static void
test_region(void)
{
    FmWorkloadRegion r;
    FmWorkloadSpec spec = spec_simple(FM_WORKLOAD_DB, 1, 0.25, 0.5);

    fm_workload_region_init(&r, &spec, 1000);
    g_assert_cmpuint(r.first, ==, 250);
    g_assert_cmpuint(r.count, ==, 500);

    /* tiny regions hold at least one page */
    spec = spec_simple(FM_WORKLOAD_DB, 1, 0.1, 1e-9);
    fm_workload_region_init(&r, &spec, 1000);
    g_assert_cmpuint(r.first, ==, 100);
    g_assert_cmpuint(r.count, ==, 1);

    /* clipped to memory */
    spec = spec_simple(FM_WORKLOAD_DB, 1, 0.9, 0.5);
    fm_workload_region_init(&r, &spec, 1000);
    g_assert_cmpuint(r.first, ==, 900);
    g_assert_cmpuint(r.count, ==, 100);

    /* a zeroed size means all memory */
    spec = spec_simple(FM_WORKLOAD_IDLE, 1, 0, 0);
    fm_workload_region_init(&r, &spec, 1000);
    g_assert_cmpuint(r.first, ==, 0);
    g_assert_cmpuint(r.count, ==, 1000);

    /* web's scatter is a permutation of the region */
    for (guint64 n = 1; n < 300; n++) {
        g_autofree guint8 *seen = g_new0(guint8, n);

        spec = spec_simple(FM_WORKLOAD_WEB, 1, 0, 1);
        fm_workload_region_init(&r, &spec, n);
        g_assert_cmpuint(r.count, ==, n);
        for (guint64 x = 0; x < n; x++) {
            guint64 p = (r.scatter_a * x + r.scatter_b) % n;

            g_assert_cmpuint(seen[p], ==, 0);
            seen[p] = 1;
        }
    }
}

static void
test_spec_check(void)
{
    FmWorkloadSpec phases[3];
    FmWorkloadSpec specs[FM_WORKLOAD_LAST];
    FmWorkloadSpec bad;

    all_specs(specs, phases);
    for (int t = 0; t < FM_WORKLOAD_LAST; t++)
        g_assert_true(fm_workload_spec_check(&specs[t], NULL));

    bad = spec_simple(FM_WORKLOAD_DB, -1, 0, 1);
    {
        g_autoptr(GError) error = NULL;

        g_assert_false(fm_workload_spec_check(&bad, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_CONFIG);
    }
    bad = spec_simple(FM_WORKLOAD_DB, NAN, 0, 1);
    g_assert_false(fm_workload_spec_check(&bad, NULL));
    bad = spec_simple(FM_WORKLOAD_DB, 1, 1.0, 1);
    g_assert_false(fm_workload_spec_check(&bad, NULL));
    bad = spec_simple(FM_WORKLOAD_DB, 1, 0, 1.5);
    g_assert_false(fm_workload_spec_check(&bad, NULL));
    bad = spec_simple(FM_WORKLOAD_LAST, 1, 0, 1);
    g_assert_false(fm_workload_spec_check(&bad, NULL));

    bad = specs[FM_WORKLOAD_PHASES];
    bad.n_phases = 0;
    g_assert_false(fm_workload_spec_check(&bad, NULL));
    bad = specs[FM_WORKLOAD_PHASES];
    phases[1].type = FM_WORKLOAD_PHASES;
    g_assert_false(fm_workload_spec_check(&bad, NULL));

    /* a mix: parts of the simple models, at most one web and one sweep, no
     * durations, no region of its own; nor is a mix a phase */
    {
        FmWorkloadSpec parts[2] = { spec_simple(FM_WORKLOAD_SWEEP, 1, 0, 0.5),
                                    spec_simple(FM_WORKLOAD_SWEEP, 1, 0.5, 0.5) };
        FmWorkloadSpec mix = { .type = FM_WORKLOAD_MIX, .n_phases = 2, .phases = parts };
        g_autoptr(GError) error = NULL;

        g_assert_false(fm_workload_spec_check(&mix, &error));   /* two sweeps */
        g_assert_error(error, FM_ERROR, FM_ERROR_CONFIG);
        parts[1].type = FM_WORKLOAD_DB;
        g_assert_true(fm_workload_spec_check(&mix, NULL));
        parts[1].duration = 1;
        g_assert_false(fm_workload_spec_check(&mix, NULL));
        parts[1].duration = 0;
        parts[1].type = FM_WORKLOAD_PHASES;
        g_assert_false(fm_workload_spec_check(&mix, NULL));
        parts[1].type = FM_WORKLOAD_DB;
        mix.region_size = 0.5;
        g_assert_false(fm_workload_spec_check(&mix, NULL));
        mix.region_size = 0;
        mix.n_phases = 0;
        g_assert_false(fm_workload_spec_check(&mix, NULL));
        mix.n_phases = 2;
        bad = specs[FM_WORKLOAD_PHASES];
        phases[1] = mix;
        g_assert_false(fm_workload_spec_check(&bad, NULL));
    }
}

/* A mix makes each part's writes in its region, at its rate. */
static void
test_mix(void)
{
    FmWorkloadSpec mix = spec_mix();
    FmWorkloadState state;
    guint64 in[4] = { 0 }, sweep_prev = G_MAXUINT64;
    gboolean sweep_in_order = TRUE;
    Writes w;
    guint64 n;

    writes_init(&w, 0, PAGES);
    fm_workload_state_init(&state, &mix, PAGES, 5);
    n = fm_workload_run_until(&mix, &state, PAGES, 10.0, 1.0, writes_record, &w);
    g_assert_cmpuint(n, ==, w.pfns->len);
    /* 12000 writes a second in all */
    g_assert_cmpuint(n, >=, 119999);
    g_assert_cmpuint(n, <=, 120001);
    g_assert_cmpfloat(fm_workload_nominal_writes(&mix, &state, 11.0), ==, 12000.0);
    for (guint i = 0; i < w.pfns->len; i++) {
        guint64 pfn = g_array_index(w.pfns, guint64, i);
        gboolean placed = FALSE;

        for (guint p = 0; p < 4 && !placed; p++) {
            FmWorkloadRegion r;

            fm_workload_region_init(&r, &mix.phases[p], PAGES);
            if (pfn >= r.first && pfn < r.first + r.count) {
                in[p]++;
                placed = TRUE;
                if (p == 2) {
                    /* the sweep's writes go on in address order, wrapping */
                    if (sweep_prev != G_MAXUINT64 && pfn != sweep_prev + 1 && pfn != r.first)
                        sweep_in_order = FALSE;
                    sweep_prev = pfn;
                }
            }
        }
        g_assert_true(placed);
    }
    g_assert_true(sweep_in_order);
    /* each part its share (6 : 1 : 3 : 2), within 3 % of its count */
    g_assert_cmpfloat(fabs(in[0] - n * 6.0 / 12), <, n * 6.0 / 12 * 0.03);
    g_assert_cmpfloat(fabs(in[1] - n * 1.0 / 12), <, n * 1.0 / 12 * 0.03);
    g_assert_cmpfloat(fabs(in[2] - n * 3.0 / 12), <, n * 3.0 / 12 * 0.03);
    g_assert_cmpfloat(fabs(in[3] - n * 2.0 / 12), <, n * 2.0 / 12 * 0.03);
    writes_clear(&w);
}

/* Same seed, same writes; another seed, other writes. */
static void
test_determinism(void)
{
    FmWorkloadSpec phases[3];
    FmWorkloadSpec specs[FM_WORKLOAD_LAST];

    all_specs(specs, phases);
    for (int t = 0; t < FM_WORKLOAD_LAST; t++) {
        Writes a, b, c;
        FmWorkloadState sa, sb, sc;

        writes_init(&a, 0, PAGES);
        writes_init(&b, 0, PAGES);
        writes_init(&c, 0, PAGES);
        fm_workload_state_init(&sa, &specs[t], PAGES, 42);
        fm_workload_state_init(&sb, &specs[t], PAGES, 42);
        fm_workload_state_init(&sc, &specs[t], PAGES, 43);
        g_assert_cmpuint(sa.magic, ==, FM_WORKLOAD_STATE_MAGIC);
        for (int i = 1; i <= 40; i++) {
            double until = i * 0.1;

            fm_workload_run_until(&specs[t], &sa, PAGES, until, 1.0, writes_record, &a);
            fm_workload_run_until(&specs[t], &sb, PAGES, until, 1.0, writes_record, &b);
            fm_workload_run_until(&specs[t], &sc, PAGES, until, 1.0, writes_record, &c);
        }
        g_assert_cmpuint(a.pfns->len, >, 100);
        assert_same_writes(&a, &b);
        g_assert_cmpmem(&sa, sizeof(sa), &sb, sizeof(sb));
        g_assert_cmpuint(sa.writes, ==, a.pfns->len);
        if (t != FM_WORKLOAD_SWEEP && t != FM_WORKLOAD_TRACE) {
            /* the sweep and a trace draw nothing at random; everyone else must differ */
            g_assert_cmpuint(a.pfns->len, ==, c.pfns->len);
            g_assert_true(memcmp(a.pfns->data, c.pfns->data,
                                 a.pfns->len * sizeof(guint64)) != 0);
        } else {
            assert_same_writes(&a, &c);
        }
        writes_clear(&a);
        writes_clear(&b);
        writes_clear(&c);
    }
}

/* One big step or thousands of small, irregular ones: exactly the same writes. */
static void
test_split_interval(void)
{
    FmWorkloadSpec phases[3];
    FmWorkloadSpec specs[FM_WORKLOAD_LAST];

    all_specs(specs, phases);
    for (int t = 0; t < FM_WORKLOAD_LAST; t++) {
        for (int speed_i = 0; speed_i < 3; speed_i++) {
            double speed = (double[]){ 1.0, 0.37, 2.5 }[speed_i];
            Writes whole, split, regular;
            FmWorkloadState s1, s2, s3;
            FmRand cuts;
            double t_end = 5.0;
            double now = 0;
            guint64 n1, n2 = 0, n3 = 0;

            writes_init(&whole, 0, PAGES);
            writes_init(&split, 0, PAGES);
            writes_init(&regular, 0, PAGES);
            fm_workload_state_init(&s1, &specs[t], PAGES, 7);
            fm_workload_state_init(&s2, &specs[t], PAGES, 7);
            fm_workload_state_init(&s3, &specs[t], PAGES, 7);

            n1 = fm_workload_run_until(&specs[t], &s1, PAGES, t_end, speed,
                                       writes_record, &whole);
            fm_rand_seed(&cuts, 1000 + t);
            while (now < t_end) {
                double step = fm_rand_double(&cuts) * 0.003;

                now = MIN(t_end, now + step);
                n2 += fm_workload_run_until(&specs[t], &s2, PAGES, now, speed,
                                            writes_record, &split);
            }
            /* steps of 0.001 s that do not add up exactly in binary */
            for (int i = 1; i <= 5000; i++)
                n3 += fm_workload_run_until(&specs[t], &s3, PAGES, i * 0.001, speed,
                                            writes_record, &regular);

            g_assert_cmpuint(n1, ==, whole.pfns->len);
            g_assert_cmpuint(n2, ==, split.pfns->len);
            g_assert_cmpuint(n1, ==, n2);
            g_assert_cmpuint(n1, ==, n3);
            assert_same_writes(&whole, &split);
            assert_same_writes(&whole, &regular);
            g_assert_cmpmem(&s1, sizeof(s1), &s2, sizeof(s2));
            g_assert_cmpmem(&s1, sizeof(s1), &s3, sizeof(s3));
            writes_clear(&whole);
            writes_clear(&split);
            writes_clear(&regular);
        }
    }
}

/* Writes are spaced at 1 / (rate x speed): the count over an interval is exact. */
static void
test_rate(void)
{
    FmWorkloadSpec spec = spec_simple(FM_WORKLOAD_DB, 10000, 0, 1);
    FmWorkloadState state;
    Writes w;
    guint64 n;

    writes_init(&w, 0, PAGES);
    fm_workload_state_init(&state, &spec, PAGES, 1);
    /* the first write falls at 1 / rate, not at 0 */
    g_assert_cmpuint(fm_workload_run_until(&spec, &state, PAGES, 0.99e-4, 1.0,
                                           writes_record, &w), ==, 0);
    g_assert_cmpuint(fm_workload_run_until(&spec, &state, PAGES, 1.01e-4, 1.0,
                                           writes_record, &w), ==, 1);
    n = fm_workload_run_until(&spec, &state, PAGES, 10.0, 1.0, writes_record, &w);
    g_assert_cmpuint(n + 1, >=, 99999);
    g_assert_cmpuint(n + 1, <=, 100001);
    g_assert_cmpuint(state.writes, ==, n + 1);
    g_assert_cmpfloat(state.now, ==, 10.0);
    g_assert_cmpfloat(state.carry, >=, 0);
    g_assert_cmpfloat(state.carry, <, 1);

    /* going back in time or standing still writes nothing */
    g_assert_cmpuint(fm_workload_run_until(&spec, &state, PAGES, 5.0, 1.0,
                                           writes_record, &w), ==, 0);
    g_assert_cmpuint(fm_workload_run_until(&spec, &state, PAGES, 10.0, 1.0,
                                           writes_record, &w), ==, 0);
    g_assert_cmpfloat(state.now, ==, 10.0);

    /* speed 0 (a paused guest): time passes, nothing is written, the carry stays */
    {
        double carry = state.carry;

        g_assert_cmpuint(fm_workload_run_until(&spec, &state, PAGES, 20.0, 0.0,
                                               writes_record, &w), ==, 0);
        g_assert_cmpfloat(state.now, ==, 20.0);
        g_assert_cmpfloat(state.carry, ==, carry);
    }
    writes_clear(&w);
}

/* Speed 0.5 halves the writes of every model. */
static void
test_speed(void)
{
    FmWorkloadSpec phases[3];
    FmWorkloadSpec specs[FM_WORKLOAD_LAST];

    all_specs(specs, phases);
    for (int t = 0; t < FM_WORKLOAD_LAST; t++) {
        FmWorkloadState full, half;
        Writes w;
        guint64 nf, nh;

        writes_init(&w, 0, PAGES);
        fm_workload_state_init(&full, &specs[t], PAGES, 3);
        fm_workload_state_init(&half, &specs[t], PAGES, 3);
        nf = fm_workload_run_until(&specs[t], &full, PAGES, 10, 1.0, writes_record, &w);
        nh = fm_workload_run_until(&specs[t], &half, PAGES, 10, 0.5, writes_record, &w);
        g_assert_cmpuint(nf, >, 1000);
        g_assert_cmpuint(nh * 2, >=, nf - 2);
        g_assert_cmpuint(nh * 2, <=, nf + 2);
        writes_clear(&w);
    }
}

/* Each model writes inside its region only (writes_record checks every write). */
static void
test_regions(void)
{
    for (int t = 0; t < FM_WORKLOAD_PHASES; t++) {
        FmWorkloadSpec spec = spec_simple(t, 20000, 0.25, 0.125);
        FmWorkloadState state;
        Writes w;
        guint64 lo = PAGES / 4, hi = PAGES / 4 + PAGES / 8;
        g_autofree guint8 *seen = g_new0(guint8, PAGES);
        guint64 distinct = 0;

        writes_init(&w, lo, hi);
        fm_workload_state_init(&state, &spec, PAGES, 5);
        fm_workload_run_until(&spec, &state, PAGES, 2.0, 1.0, writes_record, &w);
        g_assert_cmpuint(w.pfns->len, >=, 39999);
        for (guint i = 0; i < w.pfns->len; i++) {
            guint64 pfn = g_array_index(w.pfns, guint64, i);

            distinct += !seen[pfn];
            seen[pfn] = 1;
        }
        /* 40000 writes over 512 pages reach (nearly) all of them */
        g_assert_cmpuint(distinct, >=, t == FM_WORKLOAD_WEB ? 400 : 512);
        writes_clear(&w);
    }
}

static void
test_sweep(void)
{
    FmWorkloadSpec spec = spec_simple(FM_WORKLOAD_SWEEP, 1000, 0.5, 100.0 / PAGES);
    FmWorkloadState state;
    Writes w;

    writes_init(&w, PAGES / 2, PAGES / 2 + 100);
    fm_workload_state_init(&state, &spec, PAGES, 1);
    fm_workload_run_until(&spec, &state, PAGES, 0.3505, 1.0, writes_record, &w);
    g_assert_cmpuint(w.pfns->len, ==, 350);
    for (guint i = 0; i < w.pfns->len; i++)
        g_assert_cmpuint(g_array_index(w.pfns, guint64, i), ==, PAGES / 2 + i % 100);
    g_assert_cmpuint(state.cursor, ==, 50);
    writes_clear(&w);
}

/* db: every page of the working set about equally often. */
static void
test_db_uniform(void)
{
    FmWorkloadSpec spec = spec_simple(FM_WORKLOAD_DB, 100000, 0.75, 200.0 / PAGES);
    FmWorkloadState state;
    Writes w;
    guint64 counts[200] = { 0 };
    guint64 lo = PAGES * 3 / 4;
    double chi2 = 0;

    writes_init(&w, lo, lo + 200);
    fm_workload_state_init(&state, &spec, PAGES, 11);
    fm_workload_run_until(&spec, &state, PAGES, 2.0, 1.0, writes_record, &w);
    g_assert_cmpuint(w.pfns->len, >=, 199999);
    for (guint i = 0; i < w.pfns->len; i++)
        counts[g_array_index(w.pfns, guint64, i) - lo]++;
    for (guint i = 0; i < 200; i++) {
        double d = counts[i] - 1000.0;

        /* 1000 expected, sd ~31.6 */
        g_assert_cmpuint(counts[i], >, 800);
        g_assert_cmpuint(counts[i], <, 1200);
        chi2 += d * d / 1000.0;
    }
    /* 199 degrees of freedom: mean 199, sd ~20 */
    g_assert_cmpfloat(chi2, <, 300);
    writes_clear(&w);
}

static double
harmonic(guint64 n, double s)
{
    double h = 0;

    for (guint64 k = n; k >= 1; k--)
        h += pow((double)k, -s);
    return h;
}

/* web: the most written page gets about the Zipf share of rank 1, and the hottest
 * pages are scattered over the region. */
static void
test_web_zipf(void)
{
    for (int i = 0; i < 2; i++) {
        double s = i == 0 ? 1.0 : 1.3;
        FmWorkloadSpec spec = spec_simple(FM_WORKLOAD_WEB, 100000, 0.5, 0.25);
        FmWorkloadState state;
        Writes w;
        guint64 n = PAGES / 4;
        g_autofree guint64 *counts = g_new0(guint64, PAGES);
        guint64 top[4] = { 0 };
        guint64 top_pfn[4] = { 0 };
        double expect, share;

        spec.zipf_s = s;
        writes_init(&w, PAGES / 2, PAGES / 2 + n);
        fm_workload_state_init(&state, &spec, PAGES, 99);
        fm_workload_run_until(&spec, &state, PAGES, 4.0, 1.0, writes_record, &w);
        for (guint k = 0; k < w.pfns->len; k++)
            counts[g_array_index(w.pfns, guint64, k)]++;
        /* the four most written pages, in order */
        for (guint64 p = 0; p < PAGES; p++) {
            for (int j = 0; j < 4; j++) {
                if (counts[p] > top[j]) {
                    memmove(&top[j + 1], &top[j], (3 - j) * sizeof(top[0]));
                    memmove(&top_pfn[j + 1], &top_pfn[j], (3 - j) * sizeof(top_pfn[0]));
                    top[j] = counts[p];
                    top_pfn[j] = p;
                    break;
                }
            }
        }
        expect = 1.0 / harmonic(n, s);
        share = (double)top[0] / w.pfns->len;
        g_test_message("s=%g: top share %.4f, Zipf %.4f", s, share, expect);
        g_assert_cmpfloat(fabs(share - expect) / expect, <, 0.05);
        /* rank 2 gets 2^-s of rank 1 */
        g_assert_cmpfloat(fabs((double)top[1] / top[0] - pow(2, -s)), <, 0.05);
        /* neighbouring ranks are not neighbouring pages */
        for (int j = 0; j < 3; j++) {
            guint64 d = top_pfn[j] > top_pfn[j + 1] ? top_pfn[j] - top_pfn[j + 1]
                                                    : top_pfn[j + 1] - top_pfn[j];
            g_assert_cmpuint(d, >, 16);
        }
        writes_clear(&w);
    }
}

/* Phases switch at their times, each in its own region at its own rate. */
static void
test_phases(void)
{
    FmWorkloadSpec phases[3];
    FmWorkloadSpec spec = spec_phases(phases);
    FmWorkloadState state;
    Writes w;
    guint64 before;

    writes_init(&w, 0, PAGES);
    fm_workload_state_init(&state, &spec, PAGES, 1);
    g_assert_cmpuint(state.phase, ==, 0);

    /* phase 0: sweep of [0, 409) at 1000/s for 1 s */
    fm_workload_run_until(&spec, &state, PAGES, 0.999, 1.0, writes_record, &w);
    g_assert_cmpuint(state.phase, ==, 0);
    fm_workload_run_until(&spec, &state, PAGES, 1.0, 1.0, writes_record, &w);
    g_assert_cmpuint(state.phase, ==, 1);
    g_assert_cmpfloat(state.phase_start, ==, 1.0);
    g_assert_cmpuint(w.pfns->len, >=, 999);
    g_assert_cmpuint(w.pfns->len, <=, 1000);
    for (guint i = 0; i < w.pfns->len; i++)
        g_assert_cmpuint(g_array_index(w.pfns, guint64, i), ==, i % 409);

    /* phase 1: db over [2048, 2457) at 2000/s for 2 s */
    before = w.pfns->len;
    fm_workload_run_until(&spec, &state, PAGES, 2.9999, 1.0, writes_record, &w);
    g_assert_cmpuint(state.phase, ==, 1);
    fm_workload_run_until(&spec, &state, PAGES, 3.0, 1.0, writes_record, &w);
    g_assert_cmpuint(state.phase, ==, 2);
    g_assert_cmpfloat(state.phase_start, ==, 3.0);
    g_assert_cmpuint(w.pfns->len - before, >=, 3999);
    g_assert_cmpuint(w.pfns->len - before, <=, 4001);
    for (guint i = before; i < w.pfns->len; i++) {
        g_assert_cmpuint(g_array_index(w.pfns, guint64, i), >=, 2048);
        g_assert_cmpuint(g_array_index(w.pfns, guint64, i), <, 2457);
    }

    /* phase 2: web over [3276, 4096) at 500/s, forever */
    before = w.pfns->len;
    fm_workload_run_until(&spec, &state, PAGES, 103.0, 1.0, writes_record, &w);
    g_assert_cmpuint(state.phase, ==, 2);
    g_assert_cmpuint(w.pfns->len - before, >=, 49999);
    g_assert_cmpuint(w.pfns->len - before, <=, 50001);
    for (guint i = before; i < w.pfns->len; i++)
        g_assert_cmpuint(g_array_index(w.pfns, guint64, i), >=, 3276);
    writes_clear(&w);

    /* one step across all phase changes gives the same as stepping to each */
    {
        FmWorkloadState one;
        Writes w1;

        writes_init(&w1, 0, PAGES);
        fm_workload_state_init(&one, &spec, PAGES, 1);
        fm_workload_run_until(&spec, &one, PAGES, 103.0, 1.0, writes_record, &w1);
        g_assert_cmpmem(&one, sizeof(one), &state, sizeof(state));
        writes_clear(&w1);
    }
}

/* A sequence whose last phase has a duration ends: no writes afterwards; a sweep
 * phase after a sweep phase starts from its own region's beginning. */
static void
test_phases_finite(void)
{
    FmWorkloadSpec phases[2] = {
        spec_simple(FM_WORKLOAD_SWEEP, 100, 0, 0.5),
        spec_simple(FM_WORKLOAD_SWEEP, 100, 0.5, 0.5),
    };
    FmWorkloadSpec spec = { .type = FM_WORKLOAD_PHASES, .n_phases = 2, .phases = phases };
    FmWorkloadState state;
    Writes w;

    phases[0].duration = 0.5;
    phases[1].duration = 0.5;
    writes_init(&w, 0, PAGES);
    fm_workload_state_init(&state, &spec, PAGES, 1);
    fm_workload_run_until(&spec, &state, PAGES, 10.0, 1.0, writes_record, &w);
    g_assert_cmpuint(state.phase, ==, 2);
    g_assert_cmpuint(w.pfns->len, >=, 99);
    g_assert_cmpuint(w.pfns->len, <=, 100);
    g_assert_cmpuint(g_array_index(w.pfns, guint64, 0), ==, 0);
    g_assert_cmpuint(g_array_index(w.pfns, guint64, 49), ==, 49);
    g_assert_cmpuint(g_array_index(w.pfns, guint64, 50), ==, PAGES / 2);
    g_assert_cmpuint(fm_workload_run_until(&spec, &state, PAGES, 20.0, 1.0,
                                           writes_record, &w), ==, 0);
    g_assert_cmpfloat(fm_workload_nominal_writes(&spec, &state, 30.0), ==, 0);
    writes_clear(&w);
}

/* The state is plain data: a copy taken mid-run carries on exactly like the original. */
static void
test_state_copy(void)
{
    FmWorkloadSpec phases[3];
    FmWorkloadSpec specs[FM_WORKLOAD_LAST];

    all_specs(specs, phases);
    for (int t = 0; t < FM_WORKLOAD_LAST; t++) {
        FmWorkloadState state, copy;
        Writes a, b;
        guint8 *raw = g_malloc(sizeof(state));

        writes_init(&a, 0, PAGES);
        writes_init(&b, 0, PAGES);
        fm_workload_state_init(&state, &specs[t], PAGES, 17);
        fm_workload_run_until(&specs[t], &state, PAGES, 1.2345, 1.0, writes_record, &a);
        /* through a byte buffer, as a guest keeps it in its memory */
        memcpy(raw, &state, sizeof(state));
        memcpy(&copy, raw, sizeof(copy));
        g_free(raw);
        g_array_set_size(a.pfns, 0);
        fm_workload_run_until(&specs[t], &state, PAGES, 4.5, 0.8, writes_record, &a);
        fm_workload_run_until(&specs[t], &copy, PAGES, 4.5, 0.8, writes_record, &b);
        g_assert_cmpuint(a.pfns->len, >, 0);
        assert_same_writes(&a, &b);
        writes_clear(&a);
        writes_clear(&b);
    }
}

static void
test_nominal(void)
{
    FmWorkloadSpec phases[3];
    FmWorkloadSpec spec = spec_phases(phases);
    FmWorkloadSpec db = spec_simple(FM_WORKLOAD_DB, 250, 0, 1);
    FmWorkloadState state;
    Writes w;

    fm_workload_state_init(&state, &db, PAGES, 1);
    g_assert_cmpfloat_with_epsilon(fm_workload_nominal_writes(&db, &state, 2.0), 500, 1e-9);

    /* 1 s x 1000 + 2 s x 2000 + 1 s x 500 */
    fm_workload_state_init(&state, &spec, PAGES, 1);
    g_assert_cmpfloat_with_epsilon(fm_workload_nominal_writes(&spec, &state, 4.0),
                                   5500, 1e-6);
    writes_init(&w, 0, PAGES);
    fm_workload_run_until(&spec, &state, PAGES, 2.0, 1.0, writes_record, &w);
    /* from t = 2 (phase 1): 1 s x 2000 + 1 s x 500 */
    g_assert_cmpfloat_with_epsilon(fm_workload_nominal_writes(&spec, &state, 4.0),
                                   2500, 1e-6);
    g_assert_cmpfloat(fm_workload_nominal_writes(&spec, &state, 1.0), ==, 0);
    writes_clear(&w);
}

static void
count_write(guint64 pfn, gpointer data)
{
    guint64 *sum = data;

    *sum += pfn;
}

/* Not a pass/fail on time (noisy machines), but shows the cost per write. */
static void
test_speed_per_write(void)
{
    FmWorkloadSpec phases[3];
    FmWorkloadSpec specs[FM_WORKLOAD_LAST];

    all_specs(specs, phases);
    for (int t = 0; t < FM_WORKLOAD_LAST; t++) {
        FmWorkloadState state;
        guint64 sum = 0;
        gint64 t0;
        guint64 n;
        double rate = t == FM_WORKLOAD_PHASES ? specs[t].phases[2].rate
                                              : fm_workload_rate(&specs[t]);

        fm_workload_state_init(&state, &specs[t], 1 << 20, 1);
        t0 = g_get_monotonic_time();
        n = fm_workload_run_until(&specs[t], &state, 1 << 20, 2e6 / rate, 1.0,
                                  count_write, &sum);
        g_test_message("model %d: %" G_GUINT64_FORMAT " writes, %.1f ns/write", t, n,
                       (g_get_monotonic_time() - t0) * 1e3 / MAX(n, 1));
        g_assert_cmpuint(n, >=, 1999000);
        g_assert_cmpuint(sum, >, 0);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/workload/table", test_table);
    g_test_add_func("/workload/region", test_region);
    g_test_add_func("/workload/spec-check", test_spec_check);
    g_test_add_func("/workload/determinism", test_determinism);
    g_test_add_func("/workload/split-interval", test_split_interval);
    g_test_add_func("/workload/rate", test_rate);
    g_test_add_func("/workload/speed", test_speed);
    g_test_add_func("/workload/regions", test_regions);
    g_test_add_func("/workload/sweep", test_sweep);
    g_test_add_func("/workload/db-uniform", test_db_uniform);
    g_test_add_func("/workload/web-zipf", test_web_zipf);
    g_test_add_func("/workload/phases", test_phases);
    g_test_add_func("/workload/mix", test_mix);
    g_test_add_func("/workload/phases-finite", test_phases_finite);
    g_test_add_func("/workload/state-copy", test_state_copy);
    g_test_add_func("/workload/nominal", test_nominal);
    g_test_add_func("/workload/cost", test_speed_per_write);
    return g_test_run();
}
