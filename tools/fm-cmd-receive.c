/*
 * fm-cmd-receive.c: `fragmig receive --listen ADDR | --stdin`: the destination of a
 * local live migration.  Receives one guest, verifies its memory against the source's
 * digest, resumes its workload in this process and runs it until SIGINT/SIGTERM.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "fm-cmd.h"
#include "receiver/fm-receiver.h"
#include "transport/fm-channel.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-units.h"

/* Blocks SIGINT and SIGTERM in this thread and the threads it starts, so that the
 * main thread can sigwait() for them; fills @set. */
static void
fm_receive_block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* The receive command; returns an exit status. */
int
fm_cmd_receive(int argc, char **argv)
{
    g_autofree char *listen_arg = NULL;
    g_autofree char *max_memory_arg = NULL;
    gboolean use_stdin = FALSE, no_resume = FALSE;
    double timeout = FM_CHANNEL_DEFAULT_TIMEOUT;
    g_autoptr(GOptionContext) ctx = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(FmListener) listener = NULL;
    g_autoptr(FmChannel) channel = NULL;
    g_autoptr(FmGuest) guest = NULL;
    g_autofree char *size = NULL;
    g_autofree char *digest = NULL;
    FmReceiverOptions opts = { 0, TRUE, FALSE };
    FmReceiverStats stats;
    sigset_t signals;
    int signo = 0;
    GOptionEntry entries[] = {
        { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen_arg,
          N_("address to listen on: tcp://HOST:PORT (port 0: any), unix:/PATH"), "ADDR" },
        { "stdin", 0, 0, G_OPTION_ARG_NONE, &use_stdin,
          N_("read the stream from standard input (a saved stream)"), NULL },
        { "max-memory", 'm', 0, G_OPTION_ARG_STRING, &max_memory_arg,
          N_("refuse guests larger than this (default: the available memory)"), "SIZE" },
        { "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &timeout,
          N_("seconds to wait for the source before giving up (default 120)"), "S" },
        { "no-resume", 0, 0, G_OPTION_ARG_NONE, &no_resume,
          N_("verify the guest but do not run it; exit once verified"), NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL }
    };

    ctx = g_option_context_new(NULL);
    g_option_context_set_summary(ctx, _("Receive one migrating guest, verify its memory against the source's digest, then run it here until interrupted."));
    g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
    if (!g_option_context_parse(ctx, &argc, &argv, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", error->message);
    if (argc > 1)
        return fm_cmd_fail(FM_EXIT_USAGE, _("unexpected argument '%s'"), argv[1]);
    if ((listen_arg == NULL) == !use_stdin)
        return fm_cmd_fail(FM_EXIT_USAGE, _("give exactly one of --listen ADDR and --stdin"));
    if (max_memory_arg && !fm_units_parse_size(max_memory_arg, &opts.max_memory, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "--max-memory: %s", error->message);
    if (!(timeout > 0))
        return fm_cmd_fail(FM_EXIT_USAGE, _("--timeout must be positive"));
    opts.resume = !no_resume;
    opts.no_reply = use_stdin;

    fm_receive_block_signals(&signals);
    if (use_stdin) {
        channel = fm_channel_new_from_fd(dup(STDIN_FILENO), &error);
    } else {
        listener = fm_channel_listen(listen_arg, &error);
        if (listener) {
            printf(_("fragmig receive: listening on %s\n"), fm_listener_get_address(listener));
            fflush(stdout);
            fm_listener_set_timeout(listener, timeout);
            channel = fm_listener_accept(listener, &error);
        }
    }
    if (channel == NULL)
        return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
    fm_channel_set_timeout(channel, timeout);

    guest = fm_receiver_run(channel, &opts, &stats, &error);
    if (guest == NULL)
        return fm_cmd_fail(FM_EXIT_FAILURE, _("migration failed, nothing kept: %s"),
                           error->message);
    g_clear_pointer(&channel, fm_channel_free);
    g_clear_pointer(&listener, fm_listener_free);

    size = fm_units_format_size((double)stats.page_count * stats.page_size);
    digest = fm_digest_to_hex(stats.digest);
    printf(_("fragmig receive: guest verified (%s, digest %s, checked in %.3f s)%s, pid %d\n"),
           size, digest, stats.verify_seconds,
           opts.resume ? _(" and resumed") : "", (int)getpid());
    fflush(stdout);
    if (!opts.resume)
        return FM_EXIT_OK;

    sigwait(&signals, &signo);
    fm_guest_stop(guest);
    return FM_EXIT_OK;
}
