/*
 * fm-cmd-demo.c: `fragmig demo [--memory 1G] [--workload db] [--compare]
 * [--plot-dir DIR]`: the whole live migration on one host: starts a guest (`fragmig
 * guest`) and a receiver (`fragmig receive`), migrates the guest over loopback TCP at
 * a link-like bandwidth with live progress, checks that the workload goes on writing
 * on the receiver, and prints a summary; --compare repeats it with xen and qemu, side
 * by side; --plot-dir writes the summary as CSV and as a figure (fm-plot.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "fm-cmd.h"
#include "fm-live.h"
#include "plot/fm-plot.h"
#include "backend/local/fm-local.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"
#include "util/fm-units.h"

/* The workloads of the scenario suite, as `fragmig guest` options. */
static const struct {
    const char *name;
    const char *const args[5];
} fm_demo_workloads[] = {
    { "idle", { NULL } },
    { "web", { "--rate", "25%", NULL } },
    { "db", { "--rate", "60%", "--region-size", "10%", NULL } },
    { "sweep", { "--rate", "120%", "--region-size", "50%", NULL } },
};

/* A child process of the demo and its first line of output. */
typedef struct {
    GSubprocess *proc;
    GDataInputStream *out;
} FmDemoChild;

/* Ends and reaps @child: our own guest and receiver both exit on SIGTERM. */
static void
fm_demo_child_clear(FmDemoChild *child)
{
    if (child->proc) {
        g_subprocess_send_signal(child->proc, SIGTERM);
        g_subprocess_wait(child->proc, NULL, NULL);
    }
    g_clear_object(&child->out);
    g_clear_object(&child->proc);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FmDemoChild, fm_demo_child_clear)

/* Starts @argv with its stdout piped; returns FALSE with @error. */
static gboolean
fm_demo_child_spawn(FmDemoChild *child, const char *const *argv, GError **error)
{
    child->proc = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, error);
    if (child->proc == NULL)
        return FALSE;
    child->out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(child->proc));
    return TRUE;
}

/* Returns the next line @child prints (caller frees), or NULL with @error if it
 * ended first. */
static char *
fm_demo_child_line(FmDemoChild *child, const char *what, GError **error)
{
    g_autoptr(GError) local = NULL;
    char *line = g_data_input_stream_read_line_utf8(child->out, NULL, NULL, &local);

    if (line == NULL)
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED, _("the %s ended unexpectedly%s%s"),
                    what, local ? ": " : "", local ? local->message : "");
    return line;
}

/* Returns the guest's write counter as read from @pid's memory, or 0 with @error. */
static guint64
fm_demo_guest_writes(pid_t pid, GError **error)
{
    g_autoptr(FmBackend) backend = fm_local_backend_new_observer(pid, error);
    g_autofree FmGuestHeader *header = g_new0(FmGuestHeader, 1);

    if (backend == NULL || !fm_local_backend_read_header(backend, header, error))
        return 0;
    return fm_guest_header_writes(header);
}

/* Runs one demo migration under @req->policy; fills @row. */
static gboolean
fm_demo_run(const char *self, const char *memory, const char *workload_args[],
            const char *link, FmLiveRequest *req, FmReportRow *row, GError **error)
{
    g_auto(FmDemoChild) guest = { NULL, NULL };
    g_auto(FmDemoChild) receiver = { NULL, NULL };
    g_autoptr(GPtrArray) gargv = g_ptr_array_new();
    g_autofree char *guest_line = NULL;
    g_autofree char *listen_line = NULL;
    g_autofree char *resumed_line = NULL;
    const char *rargv[] = { self, "receive", "--listen", "tcp://127.0.0.1:0", NULL };
    const char *address;
    guint64 w0, w1;

    g_ptr_array_add(gargv, (gpointer)self);
    g_ptr_array_add(gargv, "guest");
    g_ptr_array_add(gargv, "--memory");
    g_ptr_array_add(gargv, (gpointer)memory);
    g_ptr_array_add(gargv, "--link");
    g_ptr_array_add(gargv, (gpointer)link);
    for (guint i = 0; workload_args[i]; i++)
        g_ptr_array_add(gargv, (gpointer)workload_args[i]);
    g_ptr_array_add(gargv, NULL);

    if (!fm_demo_child_spawn(&guest, (const char *const *)gargv->pdata, error) ||
        !(guest_line = fm_demo_child_line(&guest, _("guest"), error)) ||
        !fm_demo_child_spawn(&receiver, rargv, error) ||
        !(listen_line = fm_demo_child_line(&receiver, _("receiver"), error)))
        return FALSE;
    address = strstr(listen_line, "tcp://");
    if (address == NULL) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("unexpected output from the receiver: %s"), listen_line);
        return FALSE;
    }
    /* the story goes to stderr: stdout carries only the summary */
    fprintf(stderr, "%s\n%s\n", guest_line, listen_line);
    req->pid = atoi(g_subprocess_get_identifier(guest.proc));
    req->address = address;

    /* let the workload run, so that the migration starts against a busy guest */
    g_usleep(G_USEC_PER_SEC);
    fprintf(stderr, _("fragmig demo: migrating pid %d with policy %s\n"), (int)req->pid,
           req->policy->name);
    fflush(stderr);
    if (!fm_live_migrate(req, row, error))
        return FALSE;
    row->scenario = NULL;

    resumed_line = fm_demo_child_line(&receiver, _("receiver"), error);
    if (resumed_line == NULL)
        return FALSE;
    fprintf(stderr, "%s\n", resumed_line);

    /* the workload must go on, on the receiver, from where it stopped */
    w0 = fm_demo_guest_writes(atoi(g_subprocess_get_identifier(receiver.proc)), error);
    if (w0 == 0)
        return FALSE;
    g_usleep(G_USEC_PER_SEC / 2);
    w1 = fm_demo_guest_writes(atoi(g_subprocess_get_identifier(receiver.proc)), error);
    if (w1 == 0)
        return FALSE;
    /* workload_args is "--workload NAME ...": an idle guest may well not write in
     * half a second */
    if (w1 <= w0 && !g_str_equal(workload_args[1], "idle")) {
        g_set_error(error, FM_ERROR, FM_ERROR_VERIFY,
                    _("the workload did not resume on the receiver (write counter stuck at %llu)"),
                    (unsigned long long)w0);
        return FALSE;
    }
    fprintf(stderr, _("fragmig demo: the workload runs on the receiver: write counter %llu -> %llu in 0.5 s\n\n"),
           (unsigned long long)w0, (unsigned long long)w1);
    return TRUE;
}

/* Writes @report as DIR/demo-LABEL.csv and its figure (time, downtime and data per
 * policy) as DIR/demo-LABEL.svg, and prints both paths.  FALSE with @error. */
static gboolean
fm_demo_plot(const FmReport *report, const char *dir, const char *label, GError **error)
{
    g_autofree char *name = g_strdup_printf("demo-%s", label);
    g_autofree char *stem = fm_run_record_file_stem(name, NULL);
    g_autofree char *csv_name = g_strconcat(stem, ".csv", NULL);
    g_autofree char *svg_name = g_strconcat(stem, ".svg", NULL);
    g_autofree char *csv_path = g_build_filename(dir, csv_name, NULL);
    g_autofree char *svg_path = g_build_filename(dir, svg_name, NULL);
    g_autofree char *svg = NULL;
    g_autoptr(GArray) rows = g_array_new(FALSE, TRUE, sizeof(FmSuiteRow));
    g_autoptr(GError) local = NULL;
    FmSuite suite = { name, rows };
    FILE *out;
    int failed;

    out = fopen(csv_path, "w");
    if (out == NULL) {
        int saved = errno;
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot write '%s': %s"), csv_path,
                    g_strerror(saved));
        return FALSE;
    }
    fm_report_print(report, FM_REPORT_CSV, out);
    failed = ferror(out);
    if (fclose(out) != 0 || failed) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot write '%s': %s"), csv_path,
                    g_strerror(errno));
        return FALSE;
    }
    for (guint i = 0; i < fm_report_length(report); i++) {
        const FmReportRow *r = fm_report_get(report, i);
        FmSuiteRow row = { r->scenario, r->policy, r->stats.time_elapsed, r->stats.downtime,
                           (double)r->stats.data_processed };
        g_array_append_val(rows, row);
    }
    svg = fm_plot_suite(&suite);
    if (!g_file_set_contents(svg_path, svg, -1, &local)) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO, "%s", local->message);
        return FALSE;
    }
    fprintf(stderr, _("fragmig demo: wrote %s and %s\n"), csv_path, svg_path);
    return TRUE;
}

/* Writes the run records of @runs under DIR/records and, as DIR/demo-LABEL-*.svg,
 * data remaining over time (the policies overlaid), data sent per round, and each
 * policy's heat map of fragments x rounds.  FALSE with @error. */
static gboolean
fm_demo_plot_runs(GPtrArray *runs, const char *dir, const char *label, GError **error)
{
    g_autofree char *records = g_build_filename(dir, "records", NULL);
    FmRunRecord *const *all = (FmRunRecord *const *)runs->pdata;
    struct {
        const char *what;
        char *svg;
    } figures[] = {
        { "remaining", fm_plot_remaining(all, runs->len) },
        { "sent", fm_plot_sent(all, runs->len) },
    };
    gboolean ok = TRUE;

    if (g_mkdir_with_parents(records, 0777) < 0) {
        int saved = errno;
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot create directory '%s': %s"),
                    records, g_strerror(saved));
        ok = FALSE;
    }
    for (guint i = 0; ok && i < runs->len; i++) {
        g_autofree char *name = g_strdup_printf("demo-%s-heat-%s.svg", label, all[i]->policy);
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_autofree char *svg = fm_plot_heat(all[i]);

        ok = fm_run_record_write(all[i], records, error) &&
             g_file_set_contents(path, svg, -1, error);
    }
    for (guint i = 0; i < G_N_ELEMENTS(figures); i++) {
        g_autofree char *name = g_strdup_printf("demo-%s-%s.svg", label, figures[i].what);
        g_autofree char *path = g_build_filename(dir, name, NULL);

        if (ok)
            ok = g_file_set_contents(path, figures[i].svg, -1, error);
        g_free(figures[i].svg);
    }
    if (ok)
        fprintf(stderr, _("fragmig demo: wrote the run records under %s and their figures in %s\n"),
               records, dir);
    return ok;
}

/* The demo command; returns an exit status. */
int
fm_cmd_demo(int argc, char **argv)
{
    /* defaults set after parsing: GOption replaces a string without freeing it */
    g_autofree char *memory = NULL;
    g_autofree char *workload = NULL;
    g_autofree char *bandwidth_arg = NULL;
    g_autofree char *policy_arg = NULL;
    g_autofree char *downtime_arg = NULL;
    g_autofree char *plot_dir = NULL;
    g_autofree char *label = NULL;
    g_autofree char *self = NULL;
    g_auto(GStrv) param_args = NULL;
    gboolean compare = FALSE, quiet = FALSE, progress = FALSE;
    g_autofree char *format_arg = NULL;
    FmReportFormat format = FM_REPORT_TABLE;
    g_autoptr(GError) error = NULL;
    g_autoptr(FmReport) report = fm_report_new();
    g_autoptr(GPtrArray) runs = g_ptr_array_new_with_free_func((GDestroyNotify)fm_run_record_free);
    const char *const *wargs = NULL;
    const char *policies[3];
    guint n_policies;
    GOptionEntry entries[] = {
        { "memory", 'm', 0, G_OPTION_ARG_STRING, &memory,
          N_("guest memory (default 1G)"), "SIZE" },
        { "workload", 'w', 0, G_OPTION_ARG_STRING, &workload,
          N_("idle, web, db (default) or sweep, as in the scenario suite"), "NAME" },
        { "bandwidth", 'b', 0, G_OPTION_ARG_STRING, &bandwidth_arg,
          N_("link bandwidth, e.g. 1Gbit; a bare number is MiB/s, as in virsh (default 1Gbit)"), "B" },
        { "policy", 'p', 0, G_OPTION_ARG_STRING, &policy_arg,
          N_("policy (default fragment)"), "P" },
        { "max-downtime", 'd', 0, G_OPTION_ARG_STRING, &downtime_arg,
          N_("downtime target, e.g. 300ms, 1.5s; a bare number is ms, as in virsh (default 300ms)"), "T" },
        { "param", 'P', 0, G_OPTION_ARG_STRING_ARRAY, &param_args,
          N_("set an engine or policy parameter"), "NAME=VALUE" },
        { "compare", 'c', 0, G_OPTION_ARG_NONE, &compare,
          N_("run fragment, xen and qemu one after the other and compare"), NULL },
        FM_LIVE_OUTPUT_OPTIONS(format_arg, quiet, progress),
        { "plot-dir", 0, 0, G_OPTION_ARG_FILENAME, &plot_dir,
          N_("write the summary there as CSV and as an SVG figure"), "DIR" },
        { NULL, 0, 0, 0, NULL, NULL, NULL }
    };

    if (!fm_cmd_parse_options(&argc, &argv, NULL,
                              _("Start a guest and a receiver on this host, live-migrate the guest over loopback TCP at a limited bandwidth with live progress, check the workload resumes on the receiver, and summarise."), entries))
        return FM_EXIT_USAGE;
    if (argc > 1)
        return fm_cmd_fail_unexpected(argv[1]);
    if (memory == NULL)
        memory = g_strdup("1G");
    if (workload == NULL)
        workload = g_strdup("db");
    if (bandwidth_arg == NULL)
        bandwidth_arg = g_strdup("1Gbit");
    for (guint i = 0; i < G_N_ELEMENTS(fm_demo_workloads); i++) {
        if (g_str_equal(workload, fm_demo_workloads[i].name))
            wargs = fm_demo_workloads[i].args;
    }
    if (wargs == NULL) {
        g_autofree char *quoted = fm_quote(workload, -1);

        return fm_cmd_fail(FM_EXIT_USAGE, _("unknown demo workload %s (known: idle, web, db, sweep)"),
                           quoted);
    }
    if (format_arg && !fm_report_format_parse(format_arg, &format, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", error->message);
    if (quiet && progress)
        return fm_cmd_fail(FM_EXIT_USAGE, _("--quiet and --progress cannot be used together"));
    if (compare && policy_arg)
        return fm_cmd_fail(FM_EXIT_USAGE, _("--compare runs fragment, xen and qemu: give no --policy"));
    policies[0] = policy_arg ? policy_arg : "fragment";
    policies[1] = "xen";
    policies[2] = "qemu";
    n_policies = compare ? 3 : 1;

    /* an unusable directory must fail now, not after minutes of migrations */
    if (plot_dir && g_mkdir_with_parents(plot_dir, 0777) < 0) {
        int saved = errno;
        return fm_cmd_fail(FM_EXIT_FAILURE, _("cannot create directory '%s': %s"), plot_dir,
                           g_strerror(saved));
    }
    label = g_strdup_printf("%s-%s", workload, memory);

    self = g_file_read_link("/proc/self/exe", &error);
    if (self == NULL)
        return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);

    for (guint i = 0; i < n_policies; i++) {
        g_autoptr(FmParamSet) params = fm_param_set_new();
        const char *wl_args[8] = { "--workload", workload, NULL };
        FmLiveRequest req = { 0 };
        FmReportRow row;
        FmRunRecord *run;

        for (guint j = 0; wargs[j]; j++)
            wl_args[2 + j] = wargs[j];
        if (!fm_cmd_parse_live_options(policies[i], bandwidth_arg, downtime_arg, param_args,
                                       &req, params, &error))
            return fm_cmd_fail(FM_EXIT_USAGE, "%s", error->message);
        req.timeout = 30;
        req.progress = fm_live_progress_stream(quiet, progress);
        run = fm_run_record_new(label, policies[i]);
        g_ptr_array_add(runs, run);
        req.on_event = fm_run_record_on_event;
        req.on_event_mask = FM_RUN_RECORD_EVENTS;
        req.on_event_data = run;
        if (!fm_demo_run(self, memory, wl_args, bandwidth_arg, &req, &row, &error))
            return fm_cmd_fail(FM_EXIT_FAILURE, _("demo with policy %s failed: %s"),
                               policies[i], error->message);
        row.scenario = label;
        fm_report_add(report, &row);
    }
    fm_report_set_command(report, "demo");
    fm_report_print(report, format, stdout);
    fflush(stdout);
    if (plot_dir && (!fm_demo_plot(report, plot_dir, label, &error) ||
                     !fm_demo_plot_runs(runs, plot_dir, label, &error)))
        return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
    return FM_EXIT_OK;
}
