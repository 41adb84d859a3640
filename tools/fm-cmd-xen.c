/*
 * fm-cmd-xen.c: the commands on Xen domains, each the counterpart of an `xl`
 * command whose stock peer takes its output unchanged:
 *   fragmig migrate --xen DOMAIN [-s COMMAND] [knobs] HOST   (xl migrate; the
 *     destination runs a stock `xl migrate-receive`)
 *   fragmig save --xen DOMAIN [--checkpoint] [knobs] FILE    (xl save; a stock
 *     `xl restore FILE` restores it)
 * The handshake and the order of events after the stream follow xl's
 * migrate_domain(): the source is renamed NAME--migratedaway before the
 * destination may unpause, and destroyed only once the destination reports that
 * its copy runs; until "go" is sent, any failure resumes the guest here.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "fm-cmd.h"
#include "fm-live.h"
#include "report/fm-report.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

#ifdef WITH_XEN
#include "backend/xen/fm-xen.h"
#include "migrate/fm-xen-save.h"
#include "stream/fm-xl-format.h"
#include "transport/fm-channel.h"

/* What a command on a Xen domain was asked to do. */
typedef struct {
    const FmLiveRequest *req;    /* policy, knobs, bandwidth, timeout */
    const char *domain;          /* name or id */
    const char *ssh_command;     /* migrate: the transport ("" : target is the command) */
    const char *target;          /* migrate: the host; save: the file */
    gboolean checkpoint;         /* save: resume the domain afterwards */
    FmReportFormat format;
} FmXenCmdArgs;

/* Returns a save of @domain with the knobs of @req, or NULL with @error. */
static FmXenSave *
fm_xen_cmd_new_save(const char *domain, const FmLiveRequest *req, GError **error)
{
    g_autoptr(FmXenSave) save = NULL;
    guint32 domid = 0;

    if (!fm_xen_lookup_domain(domain, &domid, error))
        return NULL;
    save = fm_xen_save_new(domid, NULL, error);
    if (save == NULL || !fm_xen_save_set_policy(save, req->policy->name, error))
        return NULL;
    for (guint i = 0; i < fm_param_set_length(req->params); i++) {
        const char *name, *value;

        fm_param_set_nth(req->params, i, &name, &value);
        if (!fm_xen_save_set_param(save, name, value, error))
            return NULL;
    }
    fm_xen_save_set_bandwidth(save, (guint64)req->bandwidth);
    return g_steal_pointer(&save);
}

/* Prints the summary of a finished save as the local commands do. */
static void
fm_xen_cmd_report(FmXenSave *save, const char *command, const char *where,
                  const FmLiveRequest *req, gint64 t0, FmReportFormat format)
{
    g_autoptr(FmReport) report = fm_report_new();
    FmReportRow row = { 0 };

    fm_report_row_set_migration(&row, fm_xen_save_get_migration(save));
    /* the save's own view of the stats (the Xen backend's rounds and downtime) */
    fm_xen_save_get_stats(save, &row.stats);
    row.scenario = (char *)where;
    row.policy = (char *)req->policy->name;
    row.bandwidth = req->bandwidth > 0 ? req->bandwidth : row.stats.memory_bps;
    row.completed = TRUE;
    row.wall_seconds = (g_get_monotonic_time() - t0) / 1e6;
    fm_report_add(report, &row);
    fm_report_set_command(report, command);
    fm_report_print(report, format, stdout);
}

/* Writes xl's header for the domain of @save on @fd (borrowed). */
static gboolean
fm_xen_cmd_write_header(FmXenSave *save, int fd, GError **error)
{
    g_autofree char *json = fm_xen_backend_get_config_json(fm_xen_save_get_backend(save),
                                                           error);
    g_autoptr(FmChannel) channel = NULL;
    int copy;

    if (json == NULL)
        return FALSE;
    copy = dup(fd);
    if (copy < 0 || (channel = fm_channel_new_from_fd(copy, error)) == NULL) {
        if (copy < 0)
            g_set_error(error, FM_ERROR, FM_ERROR_IO, "%s", g_strerror(errno));
        else
            close(copy);
        return FALSE;
    }
    return fm_xl_write_header(channel, json, error);
}

/* Resumes the guest here after a failure past the stream; logs if it cannot. */
static void
fm_xen_cmd_resume(FmXenSave *save)
{
    g_autoptr(GError) error = NULL;

    if (fm_backend_resume(fm_xen_save_get_backend(save), &error))
        fprintf(stderr, _("fragmig: the guest was resumed here\n"));
    else
        fprintf(stderr, _("fragmig: %s\n"), error->message);
}

/* Starts `sh -c @rune` with its stdin and stdout as pipes to us, as xl does. */
static gboolean
fm_xen_cmd_spawn(const char *rune, GPid *pid, int *send_fd, int *recv_fd, GError **error)
{
    const char *argv[] = { "/bin/sh", "-c", rune, NULL };

    if (!g_spawn_async_with_pipes(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                  fm_cmd_interrupt_child_setup, NULL, pid, send_fd, recv_fd,
                                  NULL, error)) {
        g_prefix_error(error, _("cannot run '%s': "), rune);
        return FALSE;
    }
    /* Fewer, larger writes into the pipe (best effort): every system call of a
     * PV dom0 goes through the hypervisor. */
    if (fcntl(*send_fd, F_SETPIPE_SZ, 1 << 20) < 0)
        g_debug("F_SETPIPE_SZ: %s", g_strerror(errno));
    return TRUE;
}

/* Waits for the transport command and says how it ended if it failed. */
static void
fm_xen_cmd_reap(GPid pid, const char *rune)
{
    int status = 0;

    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        fprintf(stderr, _("fragmig: '%s' exited with status %d\n"), rune, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        fprintf(stderr, _("fragmig: '%s' was killed by signal %d\n"), rune, WTERMSIG(status));
    g_spawn_close_pid(pid);
}

/* After the stream: xl's handshake up to the destination's report.  Returns
 * TRUE once the destination runs the guest; FALSE with @error otherwise, with
 * the guest resumed here where that is still safe (*@undefined FALSE), or in an
 * unknown state at both ends (*@undefined TRUE: "go" was sent, no report came). */
static gboolean
fm_xen_cmd_handover(FmXenSave *save, FmChannel *to, FmChannel *from, gboolean *undefined,
                    GError **error)
{
    FmBackend *backend = fm_xen_save_get_backend(save);
    g_autofree char *name = fm_xen_backend_get_name(backend);
    g_autofree char *away = name ? g_strdup_printf("%s--migratedaway", name) : NULL;
    guint8 status = 0;

    *undefined = FALSE;
    if (!fm_xl_read_message(from, FM_XL_MSG_READY, error))
        goto resume;
    if (name != NULL && !fm_xen_backend_rename(backend, name, away, error))
        goto resume;
    /* The point of no return, as in xl: once "go" may have reached the
     * destination, resuming here could run the guest twice. */
    if (!fm_xl_write_message(to, FM_XL_MSG_GO, error) ||
        !fm_xl_read_message(from, FM_XL_MSG_REPORT, error) ||
        !fm_channel_read_exact(from, &status, 1, error)) {
        *undefined = TRUE;
        return FALSE;
    }
    if (status == 0)
        return TRUE;
    g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                _("the destination could not start the guest (status %u)"), status);
    if (!fm_xl_read_message(from, FM_XL_MSG_GO, NULL)) {
        *undefined = TRUE;
        return FALSE;
    }
    if (name != NULL)
        fm_xen_backend_rename(backend, away, name, NULL);

 resume:
    fm_xen_cmd_resume(save);
    return FALSE;
}

/* Migrates the domain of @save to args->target's `xl migrate-receive`; returns an
 * exit status. */
static int
fm_xen_cmd_migrate(FmXenSave *save, const FmXenCmdArgs *args)
{
    const FmLiveRequest *req = args->req;
    const char *domain = args->domain, *ssh_command = args->ssh_command;
    const char *host = args->target;
    g_autoptr(GError) error = NULL;
    g_autoptr(FmChannel) to = NULL;
    g_autoptr(FmChannel) from = NULL;
    g_autofree char *rune = NULL;
    gint64 t0 = g_get_monotonic_time();
    GPid child = 0;
    int send_fd = -1, recv_fd = -1;
    gboolean undefined = FALSE;
    gboolean ok;

    rune = ssh_command[0] != '\0' ?
        g_strdup_printf("exec %s %s xl migrate-receive", ssh_command, host) :
        g_strdup(host);
    signal(SIGPIPE, SIG_IGN);
    if (!fm_xen_cmd_spawn(rune, &child, &send_fd, &recv_fd, &error))
        return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
    from = fm_channel_new_from_fd(recv_fd, &error);
    if (from != NULL)
        fm_channel_set_timeout(from, req->timeout);

    ok = from != NULL && fm_xl_read_message(from, FM_XL_MSG_BANNER, &error) &&
        fm_xen_cmd_write_header(save, send_fd, &error);
    if (ok && !fm_xen_save_run(save, send_fd, &error)) {
        ok = FALSE;   /* the engine resumed the guest */
    } else if (ok) {
        to = fm_channel_new_from_fd(send_fd, &error);
        if (to != NULL)
            send_fd = -1;   /* the channel's now */
        if (to == NULL) {
            fm_xen_cmd_resume(save);
            ok = FALSE;
        } else {
            ok = fm_xen_cmd_handover(save, to, from, &undefined, &error);
        }
    }
    if (send_fd >= 0)
        close(send_fd);
    g_clear_pointer(&to, fm_channel_free);
    g_clear_pointer(&from, fm_channel_free);
    fm_xen_cmd_reap(child, rune);

    if (undefined) {
        /* "go" may have reached the destination: the copy here stays paused, renamed
         * as xl does, and only the operator may resume it */
        g_autofree char *name = fm_xen_backend_get_name(fm_xen_save_get_backend(save));
        g_autofree char *away = name ? g_strdup_printf("%s--migratedaway", name)
                                     : g_strdup(domain);

        return fm_cmd_fail(FM_EXIT_UNKNOWN,
                           _("migration of domain %s: outcome unknown, during the final handshake: %s. %s may run the domain; the copy here stays paused (domain %s). If it runs nowhere else, resume it here with: xl unpause %s"),
                           domain, error->message, host, away, away);
    }
    if (!ok)
        return fm_cmd_fail(FM_EXIT_FAILURE,
                           _("migration of domain %s failed, the guest keeps running here: %s"),
                           domain, error->message);
    if (!fm_xen_backend_destroy_domain(fm_xen_save_get_backend(save), &error))
        fprintf(stderr, _("fragmig: the guest runs on %s, but its copy here: %s\n"), host,
                error->message);
    fm_xen_cmd_report(save, "migrate", host, req, t0, args->format);
    return FM_EXIT_OK;
}

/* Saves the domain of @save into the file args->target; returns an exit status. */
static int
fm_xen_cmd_save(FmXenSave *save, const FmXenCmdArgs *args)
{
    const FmLiveRequest *req = args->req;
    const char *domain = args->domain, *path = args->target;
    gboolean checkpoint = args->checkpoint;
    g_autoptr(GError) error = NULL;
    gint64 t0 = g_get_monotonic_time();
    FmBackend *backend;
    gboolean ok;
    int fd;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fm_cmd_fail(FM_EXIT_FAILURE, _("cannot create %s: %s"), path,
                           g_strerror(errno));
    ok = fm_xen_cmd_write_header(save, fd, &error) && fm_xen_save_run(save, fd, &error);
    if (ok && fsync(fd) < 0) {
        g_set_error(&error, FM_ERROR, FM_ERROR_IO, _("cannot write %s: %s"), path,
                    g_strerror(errno));
        fm_xen_cmd_resume(save);
        ok = FALSE;
    }
    if (close(fd) < 0 && ok) {
        g_set_error(&error, FM_ERROR, FM_ERROR_IO, _("cannot write %s: %s"), path,
                    g_strerror(errno));
        fm_xen_cmd_resume(save);
        ok = FALSE;
    }
    if (!ok) {
        unlink(path);
        return fm_cmd_fail(FM_EXIT_FAILURE,
                           _("save of domain %s failed, the guest keeps running: %s"),
                           domain, error->message);
    }
    backend = fm_xen_save_get_backend(save);
    if (checkpoint ? !fm_backend_resume(backend, &error)
                   : !fm_xen_backend_destroy_domain(backend, &error))
        fprintf(stderr, _("fragmig: %s was saved, but: %s\n"), path, error->message);
    fm_xen_cmd_report(save, "save", path, req, t0, args->format);
    return FM_EXIT_OK;
}

/* Runs @command on a save of args->domain, with SIGINT and SIGTERM cancelling it
 * from the start; returns an exit status. */
static int
fm_xen_cmd_with_save(const FmXenCmdArgs *args,
                     int (*command)(FmXenSave *save, const FmXenCmdArgs *args))
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmXenSave) save = NULL;
    int status;

    fm_cmd_interrupt_begin();
    save = fm_xen_cmd_new_save(args->domain, args->req, &error);
    if (save == NULL) {
        fm_cmd_interrupt_end();
        return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
    }
    fm_cmd_interrupt_set_migration(fm_xen_save_get_migration(save));
    status = command(save, args);
    fm_cmd_interrupt_end();
    return status;
}

/* Migrates @domain to @host's `xl migrate-receive`; see fm-live.h. */
int
fm_cmd_migrate_xen(const FmLiveRequest *req, const char *domain, const char *ssh_command,
                   const char *host, FmReportFormat format)
{
    FmXenCmdArgs args = { req, domain, ssh_command, host, FALSE, format };

    return fm_xen_cmd_with_save(&args, fm_xen_cmd_migrate);
}

/* Saves @domain into @path; returns an exit status. */
static int
fm_cmd_save_xen(const FmLiveRequest *req, const char *domain, gboolean checkpoint,
                const char *path, FmReportFormat format)
{
    FmXenCmdArgs args = { req, domain, NULL, path, checkpoint, format };

    return fm_xen_cmd_with_save(&args, fm_xen_cmd_save);
}

#else /* !WITH_XEN */

/* Without Xen's libraries the commands only say so. */
int
fm_cmd_migrate_xen(const FmLiveRequest *req G_GNUC_UNUSED,
                   const char *domain G_GNUC_UNUSED, const char *ssh_command G_GNUC_UNUSED,
                   const char *host G_GNUC_UNUSED, FmReportFormat format G_GNUC_UNUSED)
{
    return fm_cmd_fail(FM_EXIT_FAILURE, _("this fragmig was built without Xen support"));
}

static int
fm_cmd_save_xen(const FmLiveRequest *req G_GNUC_UNUSED, const char *domain G_GNUC_UNUSED,
                gboolean checkpoint G_GNUC_UNUSED, const char *path G_GNUC_UNUSED,
                FmReportFormat format G_GNUC_UNUSED)
{
    return fm_cmd_fail(FM_EXIT_FAILURE, _("this fragmig was built without Xen support"));
}

#endif /* WITH_XEN */

/* The save command; returns an exit status. */
int
fm_cmd_save(int argc, char **argv)
{
    g_autofree char *xen_arg = NULL;
    g_autofree char *policy_arg = NULL;
    g_autofree char *bandwidth_arg = NULL;
    g_autofree char *downtime_arg = NULL;
    g_autofree char *format_arg = NULL;
    g_auto(GStrv) param_args = NULL;
    gboolean checkpoint = FALSE;
    g_autoptr(GError) error = NULL;
    g_autoptr(FmParamSet) params = fm_param_set_new();
    FmReportFormat format = FM_REPORT_TABLE;
    FmLiveRequest req = { 0 };
    GOptionEntry entries[] = {
        { "xen", 'x', 0, G_OPTION_ARG_STRING, &xen_arg,
          N_("the Xen domain to save (name or id)"), "DOMAIN" },
        { "checkpoint", 'c', 0, G_OPTION_ARG_NONE, &checkpoint,
          N_("leave the domain running after the save (default: destroy it, as 'xl save')"),
          NULL },
        { "policy", 'p', 0, G_OPTION_ARG_STRING, &policy_arg,
          N_("pre-copy policy: xen, xen-classic, qemu or fragment (default)"), "P" },
        { "bandwidth", 'b', 0, G_OPTION_ARG_STRING, &bandwidth_arg,
          N_("limit the writes, e.g. 1Gbit (default: unlimited)"), "B" },
        { "max-downtime", 'd', 0, G_OPTION_ARG_STRING, &downtime_arg,
          N_("downtime target, e.g. 300ms, 1.5s; a bare number is ms, as in virsh (default 300ms)"), "T" },
        { "param", 'P', 0, G_OPTION_ARG_STRING_ARRAY, &param_args,
          N_("set an engine or policy parameter (see 'fragmig policies')"), "NAME=VALUE" },
        { "format", 'f', 0, G_OPTION_ARG_STRING, &format_arg,
          N_("summary format: table, csv or json (default: table)"), "FORMAT" },
        { NULL, 0, 0, 0, NULL, NULL, NULL }
    };

    if (!fm_cmd_parse_options(&argc, &argv, _("FILE"),
                              _("Save the Xen domain DOMAIN live into FILE, which a stock 'xl restore FILE' restores. On failure or Ctrl-C the guest keeps running."), entries))
        return FM_EXIT_USAGE;
    if (argc != 2)
        return fm_cmd_fail(FM_EXIT_USAGE, _("expected one FILE (try 'fragmig save --help')"));
    if (xen_arg == NULL || xen_arg[0] == '\0')
        return fm_cmd_fail(FM_EXIT_USAGE, _("--xen DOMAIN is required"));
    if (format_arg && !fm_report_format_parse(format_arg, &format, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", error->message);
    if (!fm_cmd_parse_live_options(policy_arg, bandwidth_arg, downtime_arg, param_args,
                                   &req, params, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", error->message);
    return fm_cmd_save_xen(&req, xen_arg, checkpoint, argv[1], format);
}
