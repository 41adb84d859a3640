/*
 * fm-cmd-guest.c: `fragmig guest --memory SIZE --workload NAME [--rate R] [--link BW]
 * [--region-start F] [--region-size F] [--zipf S] [--threads N] [--seed N]
 * [--scenario FILE] [--trace FILE] [--quiet] [--progress]`: runs a local guest
 * (fm-guest.h) in this process until SIGTERM or SIGINT, for the local backend to
 * migrate.
 *
 * --trace replays a recorded trace (docs/trace-format.md section 5.1); the guest's
 * memory is then by default the smallest that holds the trace's pages and its
 * encoding (fm_guest_memory_for_trace()), and so is a scenario's memory that is too
 * small for the encoding; an explicit --memory must be large enough.
 *
 * It prints one line, "fragmig guest: pid PID, MEMORY, workload W" (not with --quiet),
 * and nothing else unless asked (--progress: the write rate every second).
 * A bad command line exits with status 2, a bad scenario or a guest that cannot be
 * created with status 1, a signal with status 0.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fm-cmd.h"
#include "backend/local/fm-guest.h"
#include "conf/fm-scenario.h"
#include "trace/fm-trace.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"
#include "util/fm-units.h"

/* The scenario parser's defaults (fm-scenario.c), so that a guest started from the
 * command line behaves as the same scenario would in the simulator. */
#define FM_GUEST_CMD_IDLE_RATE 4.0          /* page writes per second */
#define FM_GUEST_CMD_DEFAULT_SHARE 0.25     /* of the link's page rate, web/db/sweep */
#define FM_GUEST_CMD_DB_REGION 0.10
#define FM_GUEST_CMD_SWEEP_REGION 0.50
#define FM_GUEST_CMD_MAX_MEMORY (G_GUINT64_CONSTANT(1) << 40)
#define FM_GUEST_CMD_DEFAULT_LINK "1Gbit"
#define FM_GUEST_CMD_DEFAULT_SEED 1
#define FM_GUEST_CMD_FRACTION_SLACK 1e-9
/* What a workload accepts (fm-workload.c). */
#define FM_GUEST_CMD_MAX_RATE 1e12

/* The command line, as given (every field may be NULL). */
typedef struct {
    char *memory;
    char *workload;
    char *rate;
    char *link;
    char *region_start;
    char *region_size;
    char *zipf;
    char *threads;
    char *seed;
    char *scenario;
    char *trace;
    gboolean quiet;
    gboolean progress;
} FmGuestCmdArgs;

/* Frees the strings of @args. */
static void
fm_guest_cmd_args_clear(FmGuestCmdArgs *args)
{
    g_free(args->memory);
    g_free(args->workload);
    g_free(args->rate);
    g_free(args->link);
    g_free(args->region_start);
    g_free(args->region_size);
    g_free(args->zipf);
    g_free(args->threads);
    g_free(args->seed);
    g_free(args->scenario);
    g_free(args->trace);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FmGuestCmdArgs, fm_guest_cmd_args_clear)

/* What the command line resolves to. */
typedef struct {
    guint64 memory;
    guint threads;
    guint64 seed;
    FmWorkloadSpec *spec;       /* owned */
} FmGuestCmdConfig;

/* Parses --rate @text ("25%" of @page_rate, or "7600/s") into *@rate (page writes
 * per second).  Returns FALSE with @error set. */
static gboolean
fm_guest_cmd_parse_rate(const char *text, double page_rate, double *rate, GError **error)
{
    if (!fm_units_parse_rate(text, page_rate, rate, error)) {
        g_prefix_error(error, "--rate: ");
        return FALSE;
    }
    if (*rate > FM_GUEST_CMD_MAX_RATE) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("--rate: '%s' is more than %g page writes per second"),
                    text, FM_GUEST_CMD_MAX_RATE);
        return FALSE;
    }
    return TRUE;
}

/* Parses a fraction option --@name @text into *@value, which must lie in [@min, @max]
 * (@min excluded when @open_min).  Returns FALSE with @error set. */
static gboolean
fm_guest_cmd_parse_fraction(const char *name, const char *text, double min, gboolean open_min,
                            double max, double *value, GError **error)
{
    g_autoptr(GError) local = NULL;

    if (!fm_units_parse_ratio(text, value, &local)) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG, "--%s: %s", name, local->message);
        return FALSE;
    }
    if (*value < min || (open_min && *value <= min) || *value > max) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    open_min ? _("--%s: '%s' is not more than %g%% and at most %g%% of memory")
                             : _("--%s: '%s' is not at least %g%% and below %g%% of memory"),
                    name, text, min * 100, max * 100);
        return FALSE;
    }
    return TRUE;
}

/* Resolves the memory size --memory @text for pages of @page_size into *@memory.
 * Returns FALSE with @error set. */
static gboolean
fm_guest_cmd_parse_memory(const char *text, gsize page_size, guint64 *memory, GError **error)
{
    g_autoptr(GError) local = NULL;

    if (!fm_units_parse_size(text, memory, &local)) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG, "--memory: %s", local->message);
        return FALSE;
    }
    if (*memory < 2 * page_size) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("--memory: '%s' is less than 2 pages (%zu bytes)"), text, 2 * page_size);
        return FALSE;
    }
    if (*memory % page_size != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("--memory: '%s' is not a multiple of the page size (%zu bytes)"),
                    text, page_size);
        return FALSE;
    }
    if (*memory > FM_GUEST_CMD_MAX_MEMORY) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("--memory: '%s' is more than the supported maximum of 1 TiB"), text);
        return FALSE;
    }
    return TRUE;
}

static FmWorkloadSpec *fm_guest_cmd_mix(const FmGuestCmdArgs *args, gsize page_size,
                                        GError **error);

/* Builds the workload from the options.  Returns a new spec, or NULL with @error. */
static FmWorkloadSpec *
fm_guest_cmd_spec(const FmGuestCmdArgs *args, gsize page_size, GError **error)
{
    g_autoptr(FmWorkloadSpec) spec = g_new0(FmWorkloadSpec, 1);
    g_autoptr(GError) local = NULL;
    double bandwidth;
    double def_size;
    int type;

    if (!args->workload) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG, "%s",
                    _("missing --workload (idle, web, db or sweep), --scenario FILE or --trace FILE"));
        return NULL;
    }
    if (strpbrk(args->workload, ",:") != NULL)
        return fm_guest_cmd_mix(args, page_size, error);
    type = fm_workload_type_from_string(args->workload);
    if (type == FM_WORKLOAD_MIX) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG, "%s",
                    _("a mix is given by its parts: --workload MODEL:OPTION=VALUE:...,MODEL:... (e.g. db:rate=40%:region-size=2%,sweep:rate=20%:region-start=50%)"));
        return NULL;
    }
    if (type == FM_WORKLOAD_PHASES) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG, "%s",
                    _("a phases workload is described in a scenario file: use --scenario FILE"));
        return NULL;
    }
    if (type < 0) {
        g_autofree char *quoted = fm_quote(args->workload, -1);

        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("unknown workload type %s (expected idle, web, db or sweep)"), quoted);
        return NULL;
    }
    spec->type = type;
    spec->zipf_s = 1.0;

    if (!fm_units_parse_bandwidth_bare(args->link ? args->link : FM_GUEST_CMD_DEFAULT_LINK,
                                       FM_UNITS_CLI_BANDWIDTH, &bandwidth, &local)) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG, "--link: %s", local->message);
        return NULL;
    }
    if (args->rate) {
        if (!fm_guest_cmd_parse_rate(args->rate, bandwidth / page_size, &spec->rate, error))
            return NULL;
    } else if (type == FM_WORKLOAD_IDLE) {
        spec->rate = FM_GUEST_CMD_IDLE_RATE;
    } else {
        spec->rate = FM_GUEST_CMD_DEFAULT_SHARE * bandwidth / page_size;
    }

    if (args->zipf) {
        if (type != FM_WORKLOAD_WEB) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("--zipf applies to the web workload only, not to '%s'"),
                        args->workload);
            return NULL;
        }
        if (!fm_units_parse_number(args->zipf, &spec->zipf_s, NULL) ||
            spec->zipf_s <= 0 || spec->zipf_s > 100) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("--zipf: '%s' is not a number greater than 0 and at most 100"),
                        args->zipf);
            return NULL;
        }
    }

    if (args->region_start &&
        !fm_guest_cmd_parse_fraction("region-start", args->region_start, 0, FALSE,
                                     1 - FM_GUEST_CMD_FRACTION_SLACK, &spec->region_start,
                                     error))
        return NULL;
    def_size = type == FM_WORKLOAD_DB ? FM_GUEST_CMD_DB_REGION :
               type == FM_WORKLOAD_SWEEP ? FM_GUEST_CMD_SWEEP_REGION : 1.0;
    if (args->region_size) {
        if (!fm_guest_cmd_parse_fraction("region-size", args->region_size, 0, TRUE, 1,
                                         &spec->region_size, error))
            return NULL;
        if (spec->region_start + spec->region_size > 1 + FM_GUEST_CMD_FRACTION_SLACK) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("--region-size: the region ends beyond memory (region start '%s' + size '%s' > 100%%)"),
                        args->region_start ? args->region_start : "0", args->region_size);
            return NULL;
        }
        spec->region_size = MIN(spec->region_size, 1 - spec->region_start);
    } else {
        spec->region_size = MIN(def_size, 1 - spec->region_start);
    }
    return g_steal_pointer(&spec);
}

/* Builds a mix from --workload MODEL[:KEY=VALUE...],... (@args->workload): each part
 * as the single-model options would build it, its keys standing for --rate, --zipf,
 * --region-start and --region-size.  Returns a new spec, or NULL with @error. */
static FmWorkloadSpec *
fm_guest_cmd_mix(const FmGuestCmdArgs *args, gsize page_size, GError **error)
{
    g_autoptr(FmWorkloadSpec) spec = g_new0(FmWorkloadSpec, 1);
    g_auto(GStrv) items = g_strsplit(args->workload, ",", -1);
    guint n = g_strv_length(items);
    g_autoptr(GError) local = NULL;

    if (args->rate || args->zipf || args->region_start || args->region_size) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG, "%s",
                    _("--rate, --zipf and --region-* apply to a single model: give each part of a mix its own (db:rate=40%:region-size=2%,...)"));
        return NULL;
    }
    if (n == 0 || n > FM_WORKLOAD_MAX_PHASES) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("--workload: a mix has 1 to %d parts, not %u"), FM_WORKLOAD_MAX_PHASES, n);
        return NULL;
    }
    spec->type = FM_WORKLOAD_MIX;
    spec->n_phases = n;
    spec->phases = g_new0(FmWorkloadSpec, n);
    for (guint i = 0; i < n; i++) {
        g_auto(GStrv) fields = g_strsplit(items[i], ":", -1);
        FmGuestCmdArgs part = { .workload = fields[0], .link = args->link };
        g_autoptr(FmWorkloadSpec) one = NULL;

        for (guint f = 1; fields[f] != NULL; f++) {
            char *eq = strchr(fields[f], '=');
            char **slot = NULL;

            if (eq != NULL) {
                *eq = '\0';
                slot = g_str_equal(fields[f], "rate") ? &part.rate :
                       g_str_equal(fields[f], "zipf") ? &part.zipf :
                       g_str_equal(fields[f], "region-start") ? &part.region_start :
                       g_str_equal(fields[f], "region-size") ? &part.region_size : NULL;
            }
            if (slot == NULL || *slot != NULL) {
                g_autofree char *quoted = fm_quote(fields[f], -1);

                g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                            _("--workload: part %u: %s is not one of rate=, zipf=, region-start=, region-size= (each once)"),
                            i + 1, quoted);
                return NULL;
            }
            *slot = eq + 1;
        }
        one = fm_guest_cmd_spec(&part, page_size, error);
        if (one == NULL) {
            g_prefix_error(error, _("--workload: part %u: "), i + 1);
            return NULL;
        }
        spec->phases[i] = *one;     /* a simple model: nothing of its own to free */
    }
    if (!fm_workload_spec_check(spec, &local)) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG, "--workload: %s", local->message);
        return NULL;
    }
    return g_steal_pointer(&spec);
}

/* Resolves @args into @config.  Returns FM_EXIT_OK, or an exit status after
 * printing the error. */
static int
fm_guest_cmd_resolve(const FmGuestCmdArgs *args, FmGuestCmdConfig *config)
{
    gsize page_size = (gsize) sysconf(_SC_PAGESIZE);
    g_autoptr(GError) error = NULL;
    guint64 n;

    if (args->threads) {
        if (!g_ascii_string_to_unsigned(args->threads, 10, 1, FM_GUEST_MAX_THREADS, &n, NULL))
            return fm_cmd_fail(FM_EXIT_USAGE, _("--threads: '%s' is not a number from 1 to %d"),
                               args->threads, FM_GUEST_MAX_THREADS);
        config->threads = (guint) n;
    } else {
        config->threads = FM_GUEST_DEFAULT_THREADS;
    }
    config->seed = FM_GUEST_CMD_DEFAULT_SEED;
    if (args->seed &&
        !g_ascii_string_to_unsigned(args->seed, 10, 0, G_MAXUINT64, &config->seed, NULL))
        return fm_cmd_fail(FM_EXIT_USAGE, _("--seed: '%s' is not an integer from 0 to %s"),
                           args->seed, "18446744073709551615");

    if (args->trace) {
        g_autoptr(FmTrace) trace = NULL;
        const char *conflict = args->scenario ? "scenario" : args->workload ? "workload" :
                               args->rate ? "rate" : args->link ? "link" :
                               args->region_start ? "region-start" :
                               args->region_size ? "region-size" : args->zipf ? "zipf" : NULL;

        if (conflict)
            return fm_cmd_fail(FM_EXIT_USAGE, _("--%s cannot be combined with --trace: the trace defines the workload"),
                               conflict);
        trace = fm_trace_load_file(args->trace, &error);
        if (!trace)
            return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
        if (fm_trace_page_size(trace) != page_size)
            return fm_cmd_fail(FM_EXIT_FAILURE, _("%s: the trace's pages are %u bytes, not the system page size %zu, which a local guest uses"),
                               args->trace, fm_trace_page_size(trace), page_size);
        if (fm_trace_n_intervals(trace) == 0)
            return fm_cmd_fail(FM_EXIT_FAILURE, _("%s: the trace has no interval to replay"),
                               args->trace);
        config->spec = g_new0(FmWorkloadSpec, 1);
        fm_workload_spec_set_trace(config->spec, trace);
        config->memory = fm_guest_memory_for_trace(trace);
    } else if (args->scenario) {
        g_autoptr(FmScenario) scenario = NULL;
        const char *conflict = args->workload ? "workload" : args->rate ? "rate" :
                               args->link ? "link" : args->region_start ? "region-start" :
                               args->region_size ? "region-size" : args->zipf ? "zipf" : NULL;

        if (conflict)
            return fm_cmd_fail(FM_EXIT_USAGE, _("--%s cannot be combined with --scenario: the scenario defines the workload"),
                               conflict);
        scenario = fm_scenario_load_file(args->scenario, &error);
        if (!scenario)
            return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
        if (scenario->page_size != page_size)
            return fm_cmd_fail(FM_EXIT_FAILURE, _("%s: page size %u is not the system page size %zu, which a local guest uses"),
                               args->scenario, scenario->page_size, page_size);
        config->memory = scenario->memory;
        if (!args->seed)
            config->seed = scenario->seed;
        config->spec = g_steal_pointer(&scenario->workload);
        /* The guest keeps the trace's encoding in its last pages (fm-guest.h). */
        if (config->spec->type == FM_WORKLOAD_TRACE)
            config->memory = MAX(config->memory,
                                 fm_guest_memory_for_trace(config->spec->trace));
    } else {
        if (!args->memory)
            return fm_cmd_fail(FM_EXIT_USAGE, "%s",
                               _("missing --memory (the guest's memory size, e.g. --memory 1G), or --scenario FILE"));
        config->spec = fm_guest_cmd_spec(args, page_size, &error);
        if (!config->spec)
            return fm_cmd_fail(FM_EXIT_USAGE, "%s", error->message);
    }
    if (args->memory &&
        !fm_guest_cmd_parse_memory(args->memory, page_size, &config->memory, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", error->message);
    return FM_EXIT_OK;
}

/* Runs @guest until SIGINT or SIGTERM (blocked in @signals by the caller), printing
 * the write rate every second with @progress. */
static void
fm_guest_cmd_wait(FmGuest *guest, const sigset_t *signals, gboolean progress)
{
    struct timespec second = { 1, 0 };
    guint64 last_writes = fm_guest_writes(guest);
    gint64 last_time = g_get_monotonic_time();

    for (;;) {
        int sig = sigtimedwait(signals, NULL, &second);

        if (sig == SIGINT || sig == SIGTERM)
            return;
        /* EAGAIN: a second passed; EINTR: a stop and continue (migration source). */
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            return;
        if (progress && sig < 0 && errno == EAGAIN) {
            guint64 writes = fm_guest_writes(guest);
            gint64 now = g_get_monotonic_time();
            double rate = (double) (writes - last_writes) * 1e6 / MAX(now - last_time, 1);

            printf(_("fragmig guest: %.0f writes/s (%llu writes)\n"),
                   rate, (unsigned long long) writes);
            fflush(stdout);
            last_writes = writes;
            last_time = now;
        }
    }
}

/* The guest command; returns an exit status. */
int
fm_cmd_guest(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmGuest) guest = NULL;
    g_autoptr(FmWorkloadSpec) spec = NULL;
    g_autofree char *memory_text = NULL;
    g_auto(FmGuestCmdArgs) args = { 0 };
    FmGuestCmdConfig config = { 0 };
    sigset_t signals;
    int status;
    GOptionEntry entries[] = {
        { "memory", 'm', 0, G_OPTION_ARG_STRING, &args.memory,
          N_("guest memory size, a multiple of the page size (e.g. 1G)"), "SIZE" },
        { "workload", 'w', 0, G_OPTION_ARG_STRING, &args.workload,
          N_("workload model: idle, web, db or sweep; or a mix of them, MODEL:KEY=VALUE:...,MODEL:... with keys rate, zipf, region-start, region-size (e.g. db:rate=40%:region-size=2%,sweep:rate=20%:region-start=50%)"), "NAME" },
        { "rate", 'r', 0, G_OPTION_ARG_STRING, &args.rate,
          N_("page writes: a share of the link's page rate (60%) or per second (7600/s); default 25%, idle 4/s"), "RATE" },
        { "link", 'l', 0, G_OPTION_ARG_STRING, &args.link,
          N_("the link bandwidth that relative rates refer to; a bare number is MiB/s (default 1Gbit)"), "BANDWIDTH" },
        { "region-start", 0, 0, G_OPTION_ARG_STRING, &args.region_start,
          N_("where the written region starts, a share of memory (default 0%)"), "FRACTION" },
        { "region-size", 0, 0, G_OPTION_ARG_STRING, &args.region_size,
          N_("the share of memory written (default: db 10%, sweep 50%, others 100%)"), "FRACTION" },
        { "zipf", 0, 0, G_OPTION_ARG_STRING, &args.zipf,
          N_("web: the Zipf exponent (default 1.0)"), "S" },
        { "threads", 't', 0, G_OPTION_ARG_STRING, &args.threads,
          N_("mutator threads sharing the workload (default 2)"), "N" },
        { "seed", 's', 0, G_OPTION_ARG_STRING, &args.seed,
          N_("seed of the workload's random numbers (default 1)"), "N" },
        { "scenario", 'S', 0, G_OPTION_ARG_FILENAME, &args.scenario,
          N_("take the memory size, workload and seed from a scenario file"), "FILE" },
        { "trace", 'T', 0, G_OPTION_ARG_FILENAME, &args.trace,
          N_("replay a dirty-page trace (from 'fragmig record'); memory: by default the trace's and its encoding's"), "FILE" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &args.quiet,
          N_("do not print the line with the guest's pid"), NULL },
        { "progress", 'p', 0, G_OPTION_ARG_NONE, &args.progress,
          N_("print the write rate every second"), NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL }
    };

    if (!fm_cmd_parse_options(&argc, &argv, NULL,
                              _("Run a local guest: a memory region written by mutator threads that run a workload model, for the local backend to migrate.  It runs until SIGTERM or SIGINT."), entries))
        return FM_EXIT_USAGE;
    if (argc > 1)
        return fm_cmd_fail_unexpected(argv[1]);
    status = fm_guest_cmd_resolve(&args, &config);
    spec = config.spec;
    if (status != FM_EXIT_OK)
        return status;

    /* Only this thread takes the signals: the mutators inherit the mask. */
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    guest = fm_guest_new(config.memory, (gsize) sysconf(_SC_PAGESIZE), spec,
                         config.threads, config.seed, &error);
    if (!guest || !fm_guest_start(guest, &error))
        return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
    if (!args.quiet) {
        memory_text = fm_units_format_size((double) config.memory);
        printf(_("fragmig guest: pid %d, %s, workload %s\n"), (int) getpid(), memory_text,
               fm_workload_type_to_string(spec->type));
        fflush(stdout);
    }
    fm_guest_cmd_wait(guest, &signals, args.progress);
    return FM_EXIT_OK;
}
