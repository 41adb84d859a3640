/*
 * fm-cmd-advise.c: `fragmig advise --pid PID | --xen DOMAIN [--observe 10s]
 * [--interval 50ms] [--bandwidth B] [--max-downtime MS] [--verify-rate R]
 * [--pause-cost T] [--param NAME=VALUE]... [--format table|json] [--save-trace FILE]`, or `fragmig advise --trace FILE ...`:
 * observes the guest's dirty log for a short window without migrating, then
 * simulates every policy on the observed load (src/advise/fm-advise.h) and prints,
 * per policy, the predicted total time, downtime, data sent, whether it converges,
 * and the recommendation.  --trace advises on a recorded trace instead.
 *
 * The link: --bandwidth if given; otherwise, for a process guest, the rate at which
 * pages can be read from it (what an unlimited local migration is bound by).  Give
 * the throughput the link really achieves (a loaded host's loopback can be slower
 * than the nominal rate).  A process guest's migration also digests the whole memory
 * on each side while it is paused (the source reads the guest in 1 MiB chunks, the
 * receiver digests its own mapping), and the receiver registers the memory for
 * dirty tracking before it answers: advise measures these on a sample of the guest's
 * pages, the way the local backend and the receiver do them, and counts them as
 * fixed downtime (--verify-rate, --pause-cost override them).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fm-cmd.h"
#include "report/fm-report-json.h"
#include "advise/fm-advise.h"
#include "backend/local/fm-local.h"
#include "backend/local/fm-uffd.h"
#ifdef WITH_XEN
#include "backend/xen/fm-xen.h"
#endif
#include "util/fm-bitmap.h"
#include "util/fm-digest.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"
#include "util/fm-units.h"

#define FM_ADVISE_DEFAULT_OBSERVE "10s"
#define FM_ADVISE_DEFAULT_INTERVAL "50ms"
#define FM_ADVISE_DEFAULT_DOWNTIME "300ms"
/* Bytes of guest memory read to measure the read and digest rates. */
#define FM_ADVISE_SAMPLE_BYTES (64u << 20)
/* The source's digest reads the guest in chunks of this size (fm-local.c). */
#define FM_ADVISE_DIGEST_CHUNK (1u << 20)
/* Passes of each digest measured (their mean is taken). */
#define FM_ADVISE_REPEAT 3

/* What a local migration of a process guest costs besides sending its pages,
 * measured on the guest (fm_cmd_advise_measure()). */
typedef struct {
    double read_rate;      /* bytes per second read from the guest in large batches */
    double source_digest;  /* seconds: the source's digest of the paused guest (1 MiB
                            * reads from the guest, each digested) */
    double dest_digest;    /* seconds: the destination's digest of the received memory
                            * (one pass over its own mapping) */
    double takeover;       /* seconds: the destination registering the memory for
                            * dirty tracking before it runs the guest */
    double harvest;        /* seconds: one harvest of the whole dirty log (the last
                            * one, while paused) */
} FmAdviseCosts;

/* Measures @backend's costs into @costs: on a sample of up to
 * FM_ADVISE_SAMPLE_BYTES of the guest (scaled to its whole memory), the way the local
 * backend and the receiver run them: the pages are read into a fresh anonymous
 * mapping as the receiver's, which is digested in one pass (the receiver) and
 * registered for tracking (the receiver's takeover), and the guest is digested through
 * FM_ADVISE_DIGEST_CHUNK reads (the source, fm_local_backend_digest()).  Each digest
 * is the mean of FM_ADVISE_REPEAT passes: on a host busy with other work a pass is
 * slowed by whatever else runs meanwhile, and a real digest, one long pass, sums
 * those delays, which a median of short passes would leave out.
 * FALSE with @error if the pages cannot be read. */
static gboolean
fm_cmd_advise_measure(FmBackend *backend, FmAdviseCosts *costs, GError **error)
{
    gsize page_size = fm_backend_page_size(backend);
    guint64 page_count = fm_backend_page_count(backend);
    guint64 pages = MIN(page_count, FM_ADVISE_SAMPLE_BYTES / page_size);
    gsize len = pages * page_size;
    double scale = (double)page_count / pages;
    const gsize batch = 1024, chunk_pages = MAX(FM_ADVISE_DIGEST_CHUNK / page_size, 1);
    g_autofree guint64 *pfns = g_new(guint64, MAX(batch, chunk_pages));
    g_autofree guint8 *chunk = g_malloc(chunk_pages * page_size);
    g_autoptr(FmBitmap) dirty = fm_bitmap_new(page_count);
    double src = 0, dst = 0;
    guint8 out[FM_DIGEST_SIZE];
    guint8 *region;
    gint64 t0;
    gboolean ok = FALSE;

    memset(costs, 0, sizeof(*costs));
    region = mmap(NULL, len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED) {
        int saved = errno;

        g_set_error(error, FM_ERROR, FM_ERROR_LIMIT,
                    _("cannot allocate %zu bytes to measure the guest's costs: %s"),
                    len, g_strerror(saved));
        return FALSE;
    }

    t0 = g_get_monotonic_time();
    for (guint64 first = 0; first < pages; first += batch) {
        gsize n = MIN(batch, pages - first);

        for (gsize i = 0; i < n; i++)
            pfns[i] = first + i;
        if (!fm_backend_read_pages(backend, pfns, n, region + first * page_size, error))
            goto out;
    }
    costs->read_rate = len / MAX((g_get_monotonic_time() - t0) / 1e6, 1e-6);

    for (guint r = 0; r < FM_ADVISE_REPEAT; r++) {
        FmDigest digest;

        t0 = g_get_monotonic_time();
        fm_digest_init(&digest);
        for (guint64 first = 0; first < pages; first += chunk_pages) {
            gsize n = MIN(chunk_pages, pages - first);

            for (gsize i = 0; i < n; i++)
                pfns[i] = first + i;
            if (!fm_backend_read_pages(backend, pfns, n, chunk, error))
                goto out;
            fm_digest_update(&digest, chunk, n * page_size);
        }
        fm_digest_final(&digest, out);
        src += (g_get_monotonic_time() - t0) / 1e6;

        t0 = g_get_monotonic_time();
        fm_digest_compute(region, len, out);
        dst += (g_get_monotonic_time() - t0) / 1e6;
    }
    costs->source_digest = src / FM_ADVISE_REPEAT * scale;
    costs->dest_digest = dst / FM_ADVISE_REPEAT * scale;

    {
        g_autoptr(GError) local = NULL;
        FmUffd *uffd;

        t0 = g_get_monotonic_time();
        uffd = fm_uffd_register(region, len, &local);
        costs->takeover = (g_get_monotonic_time() - t0) / 1e6 * scale;
        /* without userfaultfd the destination's guest tracks nothing: no cost */
        if (uffd == NULL)
            costs->takeover = 0;
        fm_uffd_free(uffd);
    }

    t0 = g_get_monotonic_time();
    if (!fm_backend_harvest(backend, dirty, 0, page_count, FALSE, error))
        goto out;
    costs->harvest = (g_get_monotonic_time() - t0) / 1e6;
    ok = TRUE;

 out:
    munmap(region, len);
    return ok;
}

/* The advise command; returns an exit status. */
int
fm_cmd_advise(int argc, char **argv)
{
    gint pid = 0;
    g_autofree char *xen_arg = NULL;
    g_autofree char *trace_arg = NULL;
    g_autofree char *observe_arg = NULL;
    g_autofree char *interval_arg = NULL;
    g_autofree char *bandwidth_arg = NULL;
    g_autofree char *downtime_arg = NULL;
    g_autofree char *latency_arg = NULL;
    g_autofree char *verify_arg = NULL;
    g_autofree char *pause_arg = NULL;
    g_autofree char *format_arg = NULL;
    g_autofree char *save_arg = NULL;
    g_auto(GStrv) param_args = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(FmParamSet) params = fm_param_set_new();
    g_autoptr(FmBackend) backend = NULL;
    g_autoptr(FmTrace) trace = NULL;
    g_autoptr(FmAdvice) advice = NULL;
    FmAdviseOptions opts = { 0 };
    FmAdviseCosts costs = { 0 };
    double observe, interval;
    gboolean json = FALSE, local = FALSE;
    int sources;
    GOptionEntry entries[] = {
        { "pid", 0, 0, G_OPTION_ARG_INT, &pid,
          N_("observe the guest process PID (started by 'fragmig guest')"), "PID" },
        { "xen", 0, 0, G_OPTION_ARG_STRING, &xen_arg,
          N_("observe the Xen domain DOMAIN (name or id)"), "DOMAIN" },
        { "trace", 0, 0, G_OPTION_ARG_FILENAME, &trace_arg,
          N_("advise on a recorded trace file instead of observing a guest"), "FILE" },
        { "observe", 'o', 0, G_OPTION_ARG_STRING, &observe_arg,
          N_("how long to observe the dirty log (default 10s)"), "T" },
        { "interval", 'i', 0, G_OPTION_ARG_STRING, &interval_arg,
          N_("time between two harvests of the dirty log (default 50ms)"), "T" },
        { "bandwidth", 'b', 0, G_OPTION_ARG_STRING, &bandwidth_arg,
          N_("the link, e.g. 1Gbit, 125MB/s; a bare number is MiB/s, as in virsh (default: measured from the guest's page reads)"), "B" },
        { "max-downtime", 'd', 0, G_OPTION_ARG_STRING, &downtime_arg,
          N_("downtime limit, e.g. 300ms (default); a bare number is ms, as in virsh"), "T" },
        { "latency", 0, 0, G_OPTION_ARG_STRING, &latency_arg,
          N_("one-way link latency (default 0.1ms)"), "T" },
        { "verify-rate", 0, 0, G_OPTION_ARG_STRING, &verify_arg,
          N_("rate of the end-of-migration digest on each side, e.g. 5GB/s (default: measured for a process guest, none otherwise)"), "R" },
        { "pause-cost", 0, 0, G_OPTION_ARG_STRING, &pause_arg,
          N_("downtime the pause costs besides sending and digesting, e.g. 5ms (default: measured for a process guest, none otherwise)"), "T" },
        { "param", 'P', 0, G_OPTION_ARG_STRING_ARRAY, &param_args,
          N_("set an engine or policy parameter for every policy (see 'fragmig policies')"), "NAME=VALUE" },
        { "format", 'f', 0, G_OPTION_ARG_STRING, &format_arg,
          N_("output format: table or json (default: table)"), "FORMAT" },
        { "save-trace", 0, 0, G_OPTION_ARG_FILENAME, &save_arg,
          N_("also write the observed dirty log as a trace file"), "FILE" },
        { NULL, 0, 0, 0, NULL, NULL, NULL }
    };

    if (!fm_cmd_parse_options(&argc, &argv, NULL,
                              _("Observe the guest's dirty log for a short window, without migrating it, then simulate every policy on the observed load and print, per policy, the predicted total time, downtime, data sent and whether it converges, and the recommended policy and parameters: among those whose downtime (less the fixed verification time) is within the limit and whose total time is within 5 % of the least of theirs, the one with the least downtime; if none is, the one with the least downtime."), entries))
        return FM_EXIT_USAGE;
    if (argc > 1)
        return fm_cmd_fail_unexpected(argv[1]);
    sources = (pid != 0) + (xen_arg != NULL) + (trace_arg != NULL);
    if (sources != 1)
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", _("give one of --pid PID, --xen DOMAIN or --trace FILE"));
    if (pid < 0)
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", _("--pid PID must be positive"));
    if (format_arg) {
        if (g_str_equal(format_arg, "json"))
            json = TRUE;
        else if (!g_str_equal(format_arg, "table")) {
            g_autofree char *quoted = fm_quote(format_arg, -1);

            return fm_cmd_fail(FM_EXIT_USAGE, _("unknown output format %s (use table or json)"),
                               quoted);
        }
    }
    if (!fm_units_parse_duration(observe_arg ? observe_arg : FM_ADVISE_DEFAULT_OBSERVE,
                                 &observe, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "--observe: %s", error->message);
    if (!(observe > 0 && observe <= 3600))
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", _("--observe must be more than 0 and at most 1 hour"));
    if (!fm_units_parse_duration(interval_arg ? interval_arg : FM_ADVISE_DEFAULT_INTERVAL,
                                 &interval, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "--interval: %s", error->message);
    if (!(interval >= 0.001))
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", _("--interval must be at least 1 ms"));
    if (bandwidth_arg && !fm_units_parse_bandwidth_bare(bandwidth_arg, FM_UNITS_CLI_BANDWIDTH,
                                                         &opts.bandwidth, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "--bandwidth: %s", error->message);
    if (bandwidth_arg && !(opts.bandwidth > 0))
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", _("--bandwidth must be positive"));
    if (!fm_units_parse_duration_bare(downtime_arg ? downtime_arg : FM_ADVISE_DEFAULT_DOWNTIME,
                                      FM_UNITS_CLI_DOWNTIME, &opts.max_downtime, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "--max-downtime: %s", error->message);
    opts.latency = FM_ADVISE_DEFAULT_LATENCY;
    if (latency_arg && !fm_units_parse_duration(latency_arg, &opts.latency, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "--latency: %s", error->message);
    if (verify_arg && !fm_units_parse_bandwidth_bare(verify_arg, FM_UNITS_CLI_BANDWIDTH,
                                                      &opts.verify_rate, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "--verify-rate: %s", error->message);
    if (pause_arg && !fm_units_parse_duration(pause_arg, &opts.pause_cost, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "--pause-cost: %s", error->message);
    for (guint i = 0; param_args && param_args[i]; i++) {
        if (!fm_param_set_parse(params, param_args[i], &error))
            return fm_cmd_fail(FM_EXIT_USAGE, "%s", error->message);
    }
    opts.params = params;
    if (trace_arg && !bandwidth_arg)
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", _("--trace needs --bandwidth: there is no guest to measure"));

    if (trace_arg) {
        trace = fm_trace_load_file(trace_arg, &error);
        if (trace == NULL)
            return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
    } else {
        if (pid > 0) {
            backend = fm_local_backend_new(pid, &error);
            local = TRUE;
        } else {
#ifdef WITH_XEN
            guint32 domid = 0;

            if (fm_xen_lookup_domain(xen_arg, &domid, &error))
                backend = fm_xen_backend_new(domid, NULL, &error);
#else
            return fm_cmd_fail(FM_EXIT_FAILURE, "%s", _("--xen: this fragmig was built without Xen support"));
#endif
        }
        if (backend == NULL)
            return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);

        /* SIGINT / SIGTERM end the observation early (the advice still comes) */
        fm_cmd_interrupt_begin();
        trace = fm_advise_observe(backend, observe, interval, fm_cmd_interrupt_flag(), &error);
        fm_cmd_interrupt_end();
        if (trace == NULL)
            return fm_cmd_fail(FM_EXIT_FAILURE, _("observing the dirty log failed: %s"),
                               error->message);
        if (local && (!bandwidth_arg || !verify_arg || !pause_arg)) {
            double memory = (double)fm_backend_page_count(backend) * fm_backend_page_size(backend);

            if (!fm_cmd_advise_measure(backend, &costs, &error))
                return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
            g_debug("advise: read %.0f B/s; digests %.1f ms (source) + %.1f ms (destination); takeover %.2f ms; harvest %.2f ms",
                    costs.read_rate, costs.source_digest * 1000, costs.dest_digest * 1000,
                    costs.takeover * 1000, costs.harvest * 1000);
            if (!bandwidth_arg)
                opts.bandwidth = costs.read_rate;
            /* the simulator charges memory / verify_rate on each side: the rate that
             * gives the two measured digests in all */
            if (!verify_arg && costs.source_digest + costs.dest_digest > 0)
                opts.verify_rate = 2.0 * memory / (costs.source_digest + costs.dest_digest);
            if (!pause_arg)
                opts.pause_cost = costs.takeover + costs.harvest;
        } else if (!bandwidth_arg) {
            return fm_cmd_fail(FM_EXIT_USAGE, "%s", _("--xen needs --bandwidth: the link to the destination"));
        }
    }
    if (save_arg && !fm_trace_save_file(trace, save_arg, &error))
        return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);

    advice = fm_advise_simulate(trace, &opts, &error);
    if (advice == NULL)
        return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
    if (json) {
        fm_report_print_advice_json(advice, stdout);
    } else {
        if (!bandwidth_arg && local) {
            g_autofree char *rate = fm_units_format_bandwidth(costs.read_rate);
            printf(_("(no --bandwidth: the link is taken as the guest's page read rate, %s)\n"), rate);
        }
        fm_advice_print_table(advice, stdout);
    }
    return fm_advice_recommended(advice) ? FM_EXIT_OK : FM_EXIT_FAILURE;
}
