/*
 * fm-cmd-record.c: `fragmig record --pid PID --duration S [--interval T] -o FILE
 * [--quiet]`: records the dirty log of a local guest process as a trace
 * (docs/trace-format.md), for the trace workload to replay.
 *
 * It attaches to the guest as the migration source does (the guest keeps running),
 * harvests its dirty log every interval (default 100 ms) for the duration, and
 * writes one interval per harvest.  SIGINT or SIGTERM ends the recording early with
 * a complete trace.  "-o -" writes the trace to standard output.  Then it prints one
 * summary line (not with --quiet; on standard error when the trace goes to standard
 * output).  A bad command line exits with status 2, a failure with status 1 (and no
 * partial file is left).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fm-cmd.h"
#include "backend/local/fm-local.h"
#include "trace/fm-trace.h"
#include "backend/fm-trace-record.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-units.h"

#define FM_CMD_RECORD_DEFAULT_INTERVAL "100ms"
/* Shorter harvests than this measure the harvest more than the guest. */
#define FM_CMD_RECORD_MIN_INTERVAL 0.001

/* Records the guest of @pid for @duration seconds every @interval into @out
 * (@path names it).  Returns an exit status, the error printed. */
static int
fm_cmd_record_run(pid_t pid, double duration, double interval, FILE *out, const char *path,
              gboolean quiet)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmBackend) backend = NULL;
    g_autoptr(FmTraceWriter) writer = NULL;
    FILE *summary = out == stdout ? stderr : stdout;
    gint64 t0 = g_get_monotonic_time();
    gboolean ok;

    backend = fm_local_backend_new(pid, &error);
    if (backend == NULL)
        return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
    writer = fm_trace_writer_new(out, (guint32)fm_backend_page_size(backend),
                                 fm_backend_page_count(backend), &error);
    if (writer == NULL)
        return fm_cmd_fail(FM_EXIT_FAILURE, "%s: %s", path, error->message);

    /* SIGINT / SIGTERM end the recording at its next look */
    fm_cmd_interrupt_begin();
    ok = fm_trace_record(backend, writer, duration, interval, fm_cmd_interrupt_flag(), &error);
    fm_cmd_interrupt_end();
    if (!ok || !fm_trace_writer_finish(writer, &error))
        return fm_cmd_fail(FM_EXIT_FAILURE, _("recording pid %d into %s failed: %s"),
                           (int)pid, path, error->message);

    if (!quiet) {
        g_autofree char *size = fm_units_format_size((double)fm_trace_writer_offset(writer));
        g_autofree char *span = fm_units_format_duration((g_get_monotonic_time() - t0) / 1e6);

        fprintf(summary, _("fragmig record: pid %d: %llu intervals in %s, %s written to %s\n"),
                (int)pid, (unsigned long long)fm_trace_writer_n_intervals(writer), span,
                size, path);
        fflush(summary);
    }
    return FM_EXIT_OK;
}

/* The record command; returns an exit status. */
int
fm_cmd_record(int argc, char **argv)
{
    gint pid = 0;
    g_autofree char *duration_arg = NULL;
    g_autofree char *interval_arg = NULL;
    g_autofree char *output = NULL;
    gboolean quiet = FALSE;
    g_autoptr(GError) error = NULL;
    double duration, interval;
    gboolean to_stdout;
    FILE *out;
    int status;
    GOptionEntry entries[] = {
        { "pid", 0, 0, G_OPTION_ARG_INT, &pid,
          N_("the guest process (started by 'fragmig guest')"), "PID" },
        { "duration", 'd', 0, G_OPTION_ARG_STRING, &duration_arg,
          N_("how long to record, e.g. 10s"), "S" },
        { "interval", 'i', 0, G_OPTION_ARG_STRING, &interval_arg,
          N_("time between two harvests of the dirty log (default 100ms)"), "T" },
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
          N_("the trace file to write ('-': standard output)"), "FILE" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
          N_("no summary line"), NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL }
    };

    if (!fm_cmd_parse_options(&argc, &argv, NULL,
                              _("Record the dirty log of the guest process PID over time as a trace file (docs/trace-format.md), which a 'trace' workload replays. The guest keeps running."), entries))
        return FM_EXIT_USAGE;
    if (argc > 1)
        return fm_cmd_fail_unexpected(argv[1]);
    if (pid <= 0)
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", _("--pid PID is required and must be positive"));
    if (!duration_arg)
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", _("--duration is required (e.g. --duration 10s)"));
    if (!fm_units_parse_duration(duration_arg, &duration, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "--duration: %s", error->message);
    if (!(duration > 0 && duration <= 1e6))
        return fm_cmd_fail(FM_EXIT_USAGE, _("--duration: '%s' is not more than 0 and at most 1000000 s"),
                           duration_arg);
    if (!fm_units_parse_duration(interval_arg ? interval_arg : FM_CMD_RECORD_DEFAULT_INTERVAL,
                                 &interval, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "--interval: %s", error->message);
    if (!(interval >= FM_CMD_RECORD_MIN_INTERVAL))
        return fm_cmd_fail(FM_EXIT_USAGE, _("--interval: '%s' is shorter than 1 ms"),
                           interval_arg);
    if (!output)
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", _("-o FILE is required: where to write the trace"));

    to_stdout = strcmp(output, "-") == 0;
    if (to_stdout && isatty(STDOUT_FILENO))
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", _("-o -: standard output is a terminal; redirect it to a file"));
    out = to_stdout ? stdout : fopen(output, "wb");
    if (out == NULL)
        return fm_cmd_fail(FM_EXIT_FAILURE, _("cannot create %s: %s"), output, g_strerror(errno));

    status = fm_cmd_record_run((pid_t)pid, duration, interval, out,
                           to_stdout ? _("standard output") : output, quiet);
    if (!to_stdout && fclose(out) != 0 && status == FM_EXIT_OK)
        status = fm_cmd_fail(FM_EXIT_FAILURE, _("cannot write %s: %s"), output, g_strerror(errno));
    if (!to_stdout && status != FM_EXIT_OK)
        (void)unlink(output);
    return status;
}
