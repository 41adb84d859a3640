/*
 * fm-live.c: one live migration of a local guest, as the command line runs it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "fm-live.h"
#include "fm-cmd.h"
#include "backend/local/fm-local.h"
#include "backend/local/fm-sentinel.h"
#include "engine/fm-job.h"
#include "stream/fm-stream.h"
#include "trace/fm-trace.h"
#include "transport/fm-channel.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"
#include "util/fm-units.h"

typedef struct {
    FILE *out;            /* progress lines go there */
    gboolean tty;         /* @out is a terminal: one status line, rewritten in place */
    FmMigration *migration;
    GMutex lock;          /* serialises output between the ticker and the job thread */
    gint stop;            /* atomic: the ticker ends */
    GThread *ticker;
} FmLiveProgress;

/* Returns the width of the terminal @fd, or 80 when it says none. */
static guint
fm_live_terminal_width(int fd)
{
    struct winsize ws;

    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* Returns the prefix of UTF-8 @text that takes at most @columns terminal columns
 * (wide characters take two, combining ones none), as a new string. */
static char *
fm_live_fit(const char *text, guint columns)
{
    guint used = 0;
    const char *p = text;

    for (; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        guint w = g_unichar_iszerowidth(c) ? 0 : g_unichar_iswide(c) ? 2 : 1;

        if (used + w > columns)
            break;
        used += w;
    }
    return g_strndup(text, p - text);
}

/* Writes the one-line status of @job to @p->out (caller holds the lock).  On a
 * terminal the line starts by clearing the previous one and is cut to the width
 * less one column: a line that filled the last column would wrap, and the next
 * rewrite would leave its first part behind. */
static void
fm_live_print_status(FmLiveProgress *p, const FmRoundRecord *round)
{
    FmJobStats snap;
    const FmJobStats *st = &snap;
    g_autofree char *sent = NULL;
    g_autofree char *left = NULL;
    g_autofree char *speed = NULL;
    g_autofree char *line = NULL;

    /* the ticker runs outside the job's thread: a consistent copy */
    fm_migration_copy_stats(p->migration, &snap);
    sent = fm_units_format_size(st->data_processed);
    left = fm_units_format_size(st->memory_remaining);
    speed = fm_units_format_bandwidth(st->memory_bps);
    /* the engine's prediction (time_remaining, as in virsh domjobinfo) */
    /* what matters most first: a narrow terminal cuts the end */
    line = g_strdup_printf(_("round %u: %s left, about %.1f s to go; sent %s at %s; %.0f dirty pages/s, %u hot"),
                           round ? round->round + 1 : (guint)st->memory_iteration + 1, left,
                           st->time_remaining, sent, speed, st->memory_dirty_rate,
                           round ? round->fragments_hot : 0);
    if (p->tty) {
        guint width = fm_live_terminal_width(fileno(p->out));
        g_autofree char *fit = fm_live_fit(line, width > 1 ? width - 1 : 1);

        fprintf(p->out, "\r\033[K%s", fit);
    } else {
        fputs(line, p->out);
    }
}

/* The ticker thread: on a terminal, rewrites the status line 4 times a second. */
static gpointer
fm_live_ticker(gpointer data)
{
    FmLiveProgress *p = data;

    while (!g_atomic_int_get(&p->stop)) {
        g_usleep(250 * 1000);
        g_mutex_lock(&p->lock);
        if (fm_migration_get_state(p->migration) == FM_JOB_PRECOPY) {
            fm_live_print_status(p, NULL);
            fflush(p->out);
        }
        g_mutex_unlock(&p->lock);
    }
    return NULL;
}

/* FmJobEventFunc on rounds: one line per round (over the ticker's line on a terminal). */
static void
fm_live_on_round(FmJob *job G_GNUC_UNUSED, const FmJobEvent *event, gpointer data)
{
    FmLiveProgress *p = data;

    g_mutex_lock(&p->lock);
    fm_live_print_status(p, event->round.record);
    fputc('\n', p->out);
    fflush(p->out);
    g_mutex_unlock(&p->lock);
}

/* `--record FILE`: the trace of a migration's harvests. */
typedef struct {
    const char *path;
    FILE *file;
    FmTraceWriter *writer;
    GError *error;        /* the first failure: nothing more is written */
} FmLiveRecorder;

/* Creates @rec's file for @backend's guest; FALSE with @error set. */
static gboolean
fm_live_recorder_open(FmLiveRecorder *rec, const char *path, FmBackend *backend,
                      GError **error)
{
    rec->path = path;
    rec->file = fopen(path, "wb");
    if (rec->file == NULL) {
        int saved = errno;

        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("--record: cannot create %s: %s"), path,
                    g_strerror(saved));
        return FALSE;
    }
    rec->writer = fm_trace_writer_new(rec->file, (guint32)fm_backend_page_size(backend),
                                      fm_backend_page_count(backend), error);
    if (rec->writer == NULL) {
        g_prefix_error(error, "--record: %s: ", path);
        fclose(g_steal_pointer(&rec->file));
        (void)unlink(path);
        return FALSE;
    }
    return TRUE;
}

/* FmJobEventFunc on harvests: one trace interval per harvest. */
static void
fm_live_on_harvest(FmJob *job G_GNUC_UNUSED, const FmJobEvent *event, gpointer data)
{
    FmLiveRecorder *rec = data;
    const FmBitmap *dirty = event->harvest.dirty;
    guint64 t = event->harvest.time_ns > 0 ? (guint64)event->harvest.time_ns : 0;

    if (rec->error)
        return;
    /* a clock that did not move still gives increasing times */
    t = MAX(t, fm_trace_writer_last_time(rec->writer) + 1);
    (void)fm_trace_writer_add_bitmap(rec->writer, t, dirty, &rec->error);
}

/* Ends the trace: finishes and closes the file, or removes it and warns if any of
 * it could not be written. */
static void
fm_live_recorder_close(FmLiveRecorder *rec)
{
    if (rec->file == NULL)
        return;
    if (rec->error == NULL)
        (void)fm_trace_writer_finish(rec->writer, &rec->error);
    if (fclose(rec->file) != 0 && rec->error == NULL)
        g_set_error(&rec->error, FM_ERROR, FM_ERROR_IO, _("cannot write the trace: %s"),
                    g_strerror(errno));
    rec->file = NULL;
    if (rec->error) {
        g_warning(_("--record: %s: %s (the file is removed)"), rec->path, rec->error->message);
        (void)unlink(rec->path);
    }
    g_clear_pointer(&rec->writer, fm_trace_writer_free);
    g_clear_error(&rec->error);
}

/* Drops the trace of a migration that never started: no file is left. */
static void
fm_live_recorder_abandon(FmLiveRecorder *rec)
{
    if (rec->file == NULL)
        return;
    fclose(g_steal_pointer(&rec->file));
    (void)unlink(rec->path);
    g_clear_pointer(&rec->writer, fm_trace_writer_free);
    g_clear_error(&rec->error);
}

/* Runs the TLS handshake on @channel with the request's credentials, checking the
 * destination's name; FALSE with @error. */
static gboolean
fm_live_start_tls(const FmLiveRequest *req, FmChannel *channel, GError **error)
{
    g_autofree char *host = req->tls_hostname ? g_strdup(req->tls_hostname)
                                              : fm_tls_hostname_from_address(req->address);

    return fm_tls_channel_start(channel, req->tls, host, NULL, error);
}

/* FmHandoverFunc of a local guest: the mark in its header (fm-local.h). */
static gboolean
fm_live_handover(gpointer data, gboolean commit, GError **error)
{
    return fm_local_backend_set_handover(data, commit, error);
}

/* Does the work of fm_live_migrate() with @mig, which SIGINT and SIGTERM cancel. */
static gboolean
fm_live_migrate_run(const FmLiveRequest *req, FmMigration *mig, FmReportRow *row,
                    GError **error)
{
    g_autoptr(FmBackend) backend = NULL;
    g_autoptr(FmChannel) channel = NULL;      /* freed after the sink that borrows it */
    g_autoptr(FmSink) sink = NULL;
    g_autoptr(FmSentinel) sentinel = NULL;     /* dismissed after every outcome */
    FmLiveProgress progress = { 0 };
    FmLiveRecorder recorder = { 0 };
    gint64 t0 = g_get_monotonic_time();
    gboolean ok;

    /* Filled before anything can fail: the caller reports failures too. */
    memset(row, 0, sizeof(*row));
    row->scenario = (char *)req->address;
    row->policy = (char *)req->policy->name;
    row->bandwidth = req->bandwidth;

    backend = fm_local_backend_new(req->pid, error);
    if (backend == NULL)
        return FALSE;
    fm_local_backend_set_verify(backend, req->verify_full ? FM_LOCAL_VERIFY_FULL
                                                          : FM_LOCAL_VERIFY_PAGES);
    /* before anything can pause the guest: whatever ends this process, the guest
     * runs again unless it was handed over */
    sentinel = fm_sentinel_new(req->pid, fm_local_backend_region_start(backend), error);
    if (sentinel == NULL)
        return FALSE;
    if (req->record && !fm_live_recorder_open(&recorder, req->record, backend, error))
        return FALSE;
    channel = fm_channel_connect(req->address, error);
    if (channel == NULL) {
        fm_live_recorder_abandon(&recorder);
        return FALSE;
    }
    fm_channel_set_timeout(channel, req->timeout);
    if (req->tls != NULL && !fm_live_start_tls(req, channel, error)) {
        fm_live_recorder_abandon(&recorder);
        return FALSE;
    }
    sink = fm_native_sink_new(channel);
    fm_native_sink_set_handover(sink, fm_live_handover, backend);

    fm_migration_set_policy_ops(mig, req->policy);
    fm_migration_set_params(mig, req->params);
    fm_migration_set_bandwidth(mig, (guint64)req->bandwidth);
    if (recorder.writer)
        fm_migration_subscribe(mig, FM_JOB_EVENT_MASK(FM_JOB_EVENT_HARVEST),
                               fm_live_on_harvest, &recorder);
    if (req->on_event)
        fm_migration_subscribe(mig, req->on_event_mask, req->on_event, req->on_event_data);
    g_mutex_init(&progress.lock);
    progress.migration = mig;
    if (req->progress) {
        fm_migration_subscribe(mig, FM_JOB_EVENT_MASK(FM_JOB_EVENT_ROUND), fm_live_on_round,
                               &progress);
        progress.out = req->progress;
        progress.tty = isatty(fileno(req->progress)) && g_strcmp0(g_getenv("TERM"), "dumb") != 0;
        if (progress.tty)
            progress.ticker = g_thread_new("fm-progress", fm_live_ticker, &progress);
    }

    ok = fm_migration_run(mig, backend, sink, channel, error);

    if (progress.ticker) {
        g_atomic_int_set(&progress.stop, 1);
        g_thread_join(progress.ticker);
        /* no half-written status line left above the summary or an error */
        fputs("\r\033[K", progress.out);
        fflush(progress.out);
    }
    g_mutex_clear(&progress.lock);
    if (fm_migration_get_job(mig) != NULL)
        fm_live_recorder_close(&recorder);
    else
        fm_live_recorder_abandon(&recorder);   /* bad knobs: it never started */

    memset(row, 0, sizeof(*row));
    row->scenario = (char *)req->address;
    row->policy = (char *)req->policy->name;
    fm_report_row_set_migration(row, mig);
    row->bandwidth = req->bandwidth > 0 ? req->bandwidth : row->stats.memory_bps;
    row->completed = ok;
    /* the destination checked the digest of the whole memory before accepting */
    row->verified = ok;
    row->wall_seconds = (g_get_monotonic_time() - t0) / 1e6;
    row->handover_seconds = fm_native_sink_get_handover_seconds(sink);
    if (!ok)
        return FALSE;

    /* The destination runs the guest now: the paused source copy must never run again. */
    if (!req->keep_source && kill(req->pid, SIGKILL) < 0)
        g_warning(_("could not end the source copy of the guest (pid %d): %s"),
                  (int)req->pid, g_strerror(errno));
    return TRUE;
}

/* Migrates the guest of @req; see fm-live.h.  SIGINT and SIGTERM cancel it from
 * the first step on: before the engine runs, they make it fail at once. */
gboolean
fm_live_migrate(const FmLiveRequest *req, FmReportRow *row, GError **error)
{
    g_autoptr(FmMigration) mig = fm_migration_new();
    g_autoptr(GError) local = NULL;
    gboolean ok;

    fm_cmd_interrupt_begin();
    fm_cmd_interrupt_set_migration(mig);
    ok = fm_live_migrate_run(req, mig, row, &local);
    fm_cmd_interrupt_end();
    if (!ok && fm_cmd_interrupted() && !g_error_matches(local, FM_ERROR, FM_ERROR_CANCELLED)) {
        /* a step before the engine failed meanwhile: the signal is the news */
        g_clear_error(&local);
        g_set_error(&local, FM_ERROR, FM_ERROR_CANCELLED, _("migration cancelled"));
    }
    if (!ok)
        g_propagate_error(error, g_steal_pointer(&local));
    return ok;
}

/* Returns the progress stream; see fm-live.h.  Never stdout: it carries only the
 * result, for `--format json > FILE`. */
FILE *
fm_live_progress_stream(gboolean quiet, gboolean asked)
{
    if (quiet)
        return NULL;
    return asked || isatty(fileno(stderr)) ? stderr : NULL;
}

/* Parses the shared live-migration options; see fm-live.h. */
gboolean
fm_cmd_parse_live_options(const char *policy_arg, const char *bandwidth_arg,
                          const char *downtime_arg, char **param_args,
                          FmLiveRequest *req, FmParamSet *params, GError **error)
{
    const FmPolicyOps *policies[] = { NULL, NULL };
    g_autofree const FmParamSpec **tables = NULL;

    req->policy = fm_policy_lookup(policy_arg ? policy_arg : "fragment");
    if (req->policy == NULL) {
        g_autofree char *known = fm_policy_names();
        g_autofree char *quoted = fm_quote(policy_arg, -1);

        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("unknown policy %s (known: %s)"), quoted, known);
        return FALSE;
    }
    if (bandwidth_arg && !g_str_equal(bandwidth_arg, "0") &&
        !fm_units_parse_bandwidth_bare(bandwidth_arg, FM_UNITS_CLI_BANDWIDTH, &req->bandwidth, error)) {
        g_prefix_error(error, "--bandwidth: ");
        return FALSE;
    }
    for (guint i = 0; param_args && param_args[i]; i++) {
        if (!fm_param_set_parse(params, param_args[i], error))
            return FALSE;
    }
    if (downtime_arg)
        fm_param_set_set(params, "max_downtime", downtime_arg);
    policies[0] = req->policy;
    tables = fm_migration_param_tables(policies);
    if (!fm_param_set_check(params, tables, error))
        return FALSE;
    req->params = params;
    return TRUE;
}
