/*
 * bench/policy.c: does the fragment policy dominate the baselines?  (make bench-policy)
 *
 * Runs the real engine in the simulator on the public scenarios (the files given on
 * the command line) and on COUNT scenarios drawn from a seeded generator: memory
 * 1-256 GiB, links 1-100 Gbit/s, round-trip times 0.1-50 ms (all log-uniform),
 * every workload (idle, web, db, sweep, and two-phase loads in both orders),
 * rates 5-150 % of the link, working sets 1-60 %.  Then prints, per baseline, the
 * pairs where fragment is worse by the rule of issue 14 (time or data over 1.02 x
 * the baseline's, downtime over max(1.1 x, +10 ms)), and the worst pairs.
 *
 * The seed is the SEED environment variable, or the clock; it is printed first, so
 * that "SEED=n make bench-policy" reproduces a run.  The simulator is
 * deterministic: a seed always gives the same table.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/sim/fm-sim.h"
#include "conf/fm-scenario.h"
#include "engine/fm-job.h"
#include "engine/fm-policy.h"

#define BENCH_POLICIES 4
static const char *const bench_policies[BENCH_POLICIES] = {
    "fragment", "xen", "xen-classic", "qemu",
};

typedef struct {
    FmScenario *scenario;
    char *what;                 /* a one-line description */
    gboolean generated;
    gboolean ok[BENCH_POLICIES];
    FmJobStats stats[BENCH_POLICIES];
    double bound[BENCH_POLICIES];   /* fm_sim_data_bound() of the run, bytes */
} BenchCase;

typedef struct {
    BenchCase *c;
    guint policy;
} BenchTask;

/* Returns a number drawn log-uniformly from [@lo, @hi]. */
static double
bench_log_uniform(GRand *rand, double lo, double hi)
{
    return exp(g_rand_double_range(rand, log(lo), log(hi)));
}

/* Appends the attributes of a random load of @type ("web", "db", "sweep", "idle"). */
static void
bench_load_attrs(GString *xml, GRand *rand, const char *type)
{
    if (g_str_equal(type, "idle"))
        return;
    g_string_append_printf(xml, " rate='%.1f%%'", g_rand_double_range(rand, 5, 150));
    if (g_str_equal(type, "web"))
        g_string_append_printf(xml, " zipf='%.2f'", g_rand_double_range(rand, 0.6, 1.4));
    else
        g_string_append_printf(xml, " region-size='%.1f%%'",
                               g_rand_double_range(rand, 1, 60));
}

/* Returns generated scenario @i (caller frees) and its description in *@what. */
static FmScenario *
bench_generate(GRand *rand, guint i, char **what)
{
    static const char *const loads[] = { "idle", "web", "db", "sweep" };
    g_autoptr(GString) xml = g_string_new(NULL);
    g_autoptr(GError) error = NULL;
    guint64 mib = (guint64)llround(bench_log_uniform(rand, 1024, 256 * 1024));
    double gbit = bench_log_uniform(rand, 1, 100);
    double rtt_ms = bench_log_uniform(rand, 0.1, 50);
    double round0 = mib * 1048576.0 * 8 / (gbit * 1e9);
    guint kind = g_rand_int_range(rand, 0, 5);
    FmScenario *sc;

    g_string_append_printf(xml, "<scenario name='gen-%03u'><guest memory='%" G_GUINT64_FORMAT
                           "MiB'/><link bandwidth='%.3fGbit' latency='%.4fms'/>",
                           i, mib, gbit, rtt_ms / 2);
    if (kind < 4) {
        g_string_append_printf(xml, "<workload type='%s'", loads[kind]);
        bench_load_attrs(xml, rand, loads[kind]);
        g_string_append(xml, "/>");
    } else {
        /* a heavy and a light phase, either order, then idle; lengths relative to
         * round 0, so that the change falls anywhere in the migration */
        const char *heavy = g_rand_boolean(rand) ? "sweep" : "db";
        const char *light = g_rand_boolean(rand) ? "web" : "idle";
        gboolean heavy_first = g_rand_boolean(rand);
        const char *order[2] = { heavy_first ? heavy : light, heavy_first ? light : heavy };

        g_string_append(xml, "<workload type='phases'>");
        for (guint p = 0; p < 2; p++) {
            g_string_append_printf(xml, "<phase type='%s'", order[p]);
            bench_load_attrs(xml, rand, order[p]);
            g_string_append_printf(xml, " duration='%.3fs'/>",
                                   round0 * g_rand_double_range(rand, 0.1, 4));
        }
        g_string_append(xml, "<phase type='idle'/></workload>");
    }
    g_string_append_printf(xml, "<seed>%u</seed></scenario>", g_rand_int(rand));
    sc = fm_scenario_load_string(xml->str, "generated", &error);
    if (sc == NULL)
        g_error("generated scenario %u: %s\n%s", i, error->message, xml->str);
    *what = g_strdup(xml->str);
    return sc;
}

/* Returns TRUE if policy @p is to be run: fragment always, the baselines listed in
 * the BASELINES environment variable (comma-separated; all if unset). */
static gboolean
bench_wanted(guint p)
{
    const char *list = g_getenv("BASELINES");
    g_auto(GStrv) names = NULL;

    if (p == 0 || list == NULL)
        return TRUE;
    names = g_strsplit(list, ",", -1);
    return g_strv_contains((const char *const *)names, bench_policies[p]);
}

/* Runs one scenario under one policy (a thread pool task). */
static void
bench_run(gpointer data, gpointer user_data G_GNUC_UNUSED)
{
    BenchTask *task = data;
    BenchCase *c = task->c;
    g_autoptr(GError) error = NULL;
    g_autoptr(FmParamSet) params = fm_param_set_new();
    g_autoptr(FmSim) sim = fm_sim_new(c->scenario, &error);
    g_autoptr(FmJob) job = NULL;
    FmPolicy *policy;

    for (guint j = 0; j < c->scenario->params->len; j++) {
        const FmScenarioParam *p = &g_array_index(c->scenario->params, FmScenarioParam, j);
        fm_param_set_set(params, p->name, p->value);
    }
    policy = sim ? fm_policy_new(fm_policy_lookup(bench_policies[task->policy]), params,
                                 &error) : NULL;
    job = policy ? fm_job_new(fm_sim_get_backend(sim), fm_sim_get_sink(sim), policy,
                              params, &error) : NULL;
    if (job && fm_job_run(job, &error) && fm_sim_verify(sim, &error))
        c->ok[task->policy] = TRUE;
    if (job) {
        c->stats[task->policy] = *fm_job_get_stats(job);
        c->bound[task->policy] = fm_sim_data_bound(sim);
    }
    if (error)
        g_printerr("%s under %s: %s\n", c->scenario->name, bench_policies[task->policy],
                   error->message);
    g_free(task);
}

/* How much worse than the rule allows fragment (f) is than baseline (b): > 0 when
 * worse; sets the flags of the measures that break it. */
static double
bench_excess(const BenchCase *c, guint b, gboolean *time, gboolean *data, gboolean *down)
{
    const FmJobStats *f = &c->stats[0], *x = &c->stats[b];
    double et, ed, edown, limit;

    if (!c->ok[0] || !c->ok[b]) {
        *time = *data = *down = !c->ok[0];
        return c->ok[0] ? 0 : 1e9;
    }
    et = f->time_elapsed / x->time_elapsed - 1.02;
    ed = (double)f->data_processed / x->data_processed - 1.02;
    limit = MAX(1.1 * x->downtime, x->downtime + 0.010);
    edown = (f->downtime - limit) / MAX(x->downtime, 0.010);
    *time = et > 0;
    *data = ed > 0;
    *down = edown > 0;
    return MAX(MAX(et, ed), edown);
}

/* Prints the dominance table of the cases of one set. */
static void
bench_table(const char *set, BenchCase *cases, guint n, gboolean generated)
{
    for (guint b = 1; b < BENCH_POLICIES; b++) {
        guint pairs = 0, wt = 0, wd = 0, wdown = 0, any = 0;

        if (!bench_wanted(b))
            continue;
        for (guint i = 0; i < n; i++) {
            gboolean t, d, dn;

            if (cases[i].generated != generated)
                continue;
            pairs++;
            bench_excess(&cases[i], b, &t, &d, &dn);
            wt += t;
            wd += d;
            wdown += dn;
            any += t || d || dn;
        }
        printf("%-10s %-12s %6u %11u %11u %15u %10u\n", set, bench_policies[b], pairs, wt,
               wd, wdown, any);
    }
}

typedef struct {
    double excess;
    guint i, b;
} BenchWorst;

/* Orders worst first, then by case and baseline (deterministic). */
static int
bench_worst_compare(gconstpointer pa, gconstpointer pb)
{
    const BenchWorst *a = pa, *b = pb;

    if (a->excess != b->excess)
        return a->excess > b->excess ? -1 : 1;
    if (a->i != b->i)
        return a->i < b->i ? -1 : 1;
    return a->b < b->b ? -1 : a->b > b->b;
}

/* Orders doubles ascending. */
static int
bench_double_compare(gconstpointer pa, gconstpointer pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;

    return a < b ? -1 : a > b;
}

/* Returns the ratio of the run's total time to memory / bandwidth. */
static double
bench_time_bound(const BenchCase *c, guint p)
{
    return c->stats[p].time_elapsed /
           (c->scenario->memory / c->scenario->bandwidth);
}

int
main(int argc, char **argv)
{
    const char *seed_env = g_getenv("SEED");
    const char *count_env = g_getenv("COUNT");
    guint32 seed = seed_env ? (guint32)g_ascii_strtoull(seed_env, NULL, 10)
                            : (guint32)(g_get_real_time() / 1000000);
    guint count = count_env ? (guint)g_ascii_strtoull(count_env, NULL, 10) : 200;
    guint threads = g_getenv("JOBS") ? (guint)atoi(g_getenv("JOBS")) : 2;
    g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
    g_autoptr(GArray) worst = g_array_new(FALSE, FALSE, sizeof(BenchWorst));
    GThreadPool *pool;
    BenchCase *cases;
    guint n = 0;
    gint64 t0 = g_get_monotonic_time();

    printf("seed %u (SEED=%u make bench-policy reproduces this run), %u generated scenarios, %u public\n",
           seed, seed, count, argc - 1);
    fflush(stdout);
    cases = g_new0(BenchCase, argc - 1 + count);
    for (int a = 1; a < argc; a++) {
        g_autoptr(GError) error = NULL;

        cases[n].scenario = fm_scenario_load_file(argv[a], &error);
        if (cases[n].scenario == NULL) {
            g_printerr("%s\n", error->message);
            return 1;
        }
        cases[n].what = g_strdup(argv[a]);
        n++;
    }
    for (guint i = 0; i < count; i++, n++) {
        cases[n].scenario = bench_generate(rand, i, &cases[n].what);
        cases[n].generated = TRUE;
    }

    pool = g_thread_pool_new(bench_run, NULL, MAX(threads, 1), TRUE, NULL);
    for (guint i = 0; i < n; i++) {
        for (guint p = 0; p < BENCH_POLICIES; p++) {
            BenchTask *task;

            if (!bench_wanted(p))
                continue;
            task = g_new(BenchTask, 1);

            task->c = &cases[i];
            task->policy = p;
            g_thread_pool_push(pool, task, NULL);
        }
    }
    g_thread_pool_free(pool, FALSE, TRUE);

    printf("\nfragment worse than the baseline (time or data > 1.02 x, downtime > max(1.1 x, +10 ms)):\n");
    printf("%-10s %-12s %6s %11s %11s %15s %10s\n", "set", "baseline", "pairs", "worse-time",
           "worse-data", "worse-downtime", "worse-any");
    bench_table("public", cases, n, FALSE);
    bench_table("generated", cases, n, TRUE);

    for (guint i = 0; i < n; i++) {
        for (guint b = 1; b < BENCH_POLICIES; b++) {
            gboolean t, d, dn;
            BenchWorst w;

            if (!bench_wanted(b))
                continue;
            w = (BenchWorst){ bench_excess(&cases[i], b, &t, &d, &dn), i, b };

            g_array_append_val(worst, w);
        }
    }
    g_array_sort(worst, bench_worst_compare);
    printf("\nworst 10 pairs (fragment / baseline: time, data, downtime):\n");
    for (guint k = 0; k < MIN(10, worst->len); k++) {
        const BenchWorst *w = &g_array_index(worst, BenchWorst, k);
        const BenchCase *c = &cases[w->i];
        const FmJobStats *f = &c->stats[0], *x = &c->stats[w->b];

        printf("%-24s %-11s %7.3f s / %7.3f s  %8.3f / %8.3f GiB  %9.1f / %9.1f ms  %s\n",
               c->scenario->name, bench_policies[w->b], f->time_elapsed, x->time_elapsed,
               f->data_processed / 1073741824.0, x->data_processed / 1073741824.0,
               f->downtime * 1e3, x->downtime * 1e3, c->generated ? c->what : "");
    }

    printf("\nevery pair where fragment is worse than xen:\n");
    for (guint k = 0; k < worst->len; k++) {
        const BenchWorst *w = &g_array_index(worst, BenchWorst, k);
        const BenchCase *c = &cases[w->i];

        if (w->b == 1 && w->excess > 0)
            printf("%-24s %7.3f / %7.3f s  %8.3f / %8.3f GiB  %9.1f / %9.1f ms  %s %s\n",
                   c->scenario->name, c->stats[0].time_elapsed, c->stats[1].time_elapsed,
                   c->stats[0].data_processed / 1073741824.0,
                   c->stats[1].data_processed / 1073741824.0, c->stats[0].downtime * 1e3,
                   c->stats[1].downtime * 1e3, fm_stop_reason_to_string(c->stats[0].stop_reason),
                   c->generated ? c->what : "");
    }

    printf("\nlower bounds (time / (memory / bandwidth), data / memory, data / the online bound\n"
           "of fm_sim_data_bound()), median and maximum over each set:\n");
    for (guint p = 0; p < BENCH_POLICIES; p++) {
        for (guint g = 0; g < 2; g++) {
            g_autoptr(GArray) tr = g_array_new(FALSE, FALSE, sizeof(double));
            g_autoptr(GArray) dr = g_array_new(FALSE, FALSE, sizeof(double));
            g_autoptr(GArray) br = g_array_new(FALSE, FALSE, sizeof(double));

            for (guint i = 0; i < n; i++) {
                double t, d, b;

                if ((guint)cases[i].generated != g || !cases[i].ok[p] || !bench_wanted(p))
                    continue;
                t = bench_time_bound(&cases[i], p);
                d = (double)cases[i].stats[p].data_processed / cases[i].scenario->memory;
                b = (double)cases[i].stats[p].data_processed / cases[i].bound[p];
                g_array_append_val(tr, t);
                g_array_append_val(dr, d);
                g_array_append_val(br, b);
            }
            if (tr->len == 0)
                continue;
            g_array_sort(tr, bench_double_compare);
            g_array_sort(dr, bench_double_compare);
            g_array_sort(br, bench_double_compare);
            printf("%-10s %-12s time %.2f (max %.2f)  data/mem %.2f (max %.2f)  data/bound %.2f (max %.2f)\n",
                   g ? "generated" : "public", bench_policies[p],
                   g_array_index(tr, double, tr->len / 2),
                   g_array_index(tr, double, tr->len - 1),
                   g_array_index(dr, double, dr->len / 2),
                   g_array_index(dr, double, dr->len - 1),
                   g_array_index(br, double, br->len / 2),
                   g_array_index(br, double, br->len - 1));
        }
    }
    printf("\n%.0f s wall\n", (g_get_monotonic_time() - t0) / 1e6);
    for (guint i = 0; i < n; i++) {
        fm_scenario_free(cases[i].scenario);
        g_free(cases[i].what);
    }
    g_free(cases);
    return 0;
}
