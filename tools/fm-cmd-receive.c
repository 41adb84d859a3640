/*
 * fm-cmd-receive.c: `fragmig receive --listen ADDR | --stdin`: the destination of a
 * local live migration.  Receives one guest, verifies its memory against the source's
 * digest, resumes its workload in this process and runs it until SIGINT/SIGTERM.
 * With --parallel N it keeps listening and serves up to N migrations at once, each
 * in a process of its own that then runs its guest.  With --tls every connection
 * is TLS and the source must show a certificate the CA signed (and, with
 * --tls-allowed-dn, one of the allowed names).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fm-cmd.h"
#include "receiver/fm-receiver.h"
#include "stream/fm-stream.h"
#include "transport/fm-channel.h"
#include "transport/fm-tls.h"
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

/* How long a refused plain-TCP client may take to read why, in seconds. */
#define FM_RECEIVE_REFUSAL_GRACE 5.0

/* Runs the TLS handshake on @channel as the server.  A client that does not speak
 * TLS is a plain fragmig source: it is told why in the clear (a RESULT record it
 * understands), so that it fails with the reason rather than a reset.  Returns
 * FALSE with @error. */
static gboolean
fm_receive_start_tls(FmChannel *channel, FmTlsCreds *creds, GError **error)
{
    g_autofree char *dn = NULL;

    if (!fm_tls_channel_start(channel, creds, NULL, &dn, error)) {
        if (g_error_matches(*error, FM_ERROR, FM_ERROR_PROTOCOL) &&
            !fm_channel_has_layer(channel)) {
            fm_channel_set_timeout(channel, FM_RECEIVE_REFUSAL_GRACE);
            if (fm_stream_write_result(channel, FM_RESULT_PROTOCOL, (*error)->message, NULL) &&
                fm_channel_shutdown_write(channel, NULL))
                (void)fm_channel_drain(channel, NULL);
        }
        return FALSE;
    }
    printf(_("fragmig receive: TLS connection from %s, certificate %s\n"),
           fm_channel_get_address(channel), dn);
    fflush(stdout);
    return TRUE;
}

/* Tells the listener, through the pipe @done_fd (if >= 0), that this child's
 * migration has its verdict, and closes the pipe. */
static void
fm_receive_notify_done(int done_fd)
{
    pid_t self = getpid();

    if (done_fd < 0)
        return;
    /* one write of a few bytes to a pipe is atomic: no lock between children */
    if (write(done_fd, &self, sizeof(self)) != (ssize_t)sizeof(self))
        g_debug("could not tell the listener we are done: %s", g_strerror(errno));
    close(done_fd);
}

/* Receives one migration on @channel (taken over), through TLS with @creds if
 * not NULL, prints the verdict, and runs the guest until SIGINT/SIGTERM (in
 * @signals, blocked) unless @opts says not to.  @from names the source in
 * messages when several migrations share the output (NULL: only one).  Once the
 * verdict is printed, writes our pid to @done_fd if >= 0.  Returns an exit
 * status. */
static int
fm_receive_one(FmChannel *channel, FmTlsCreds *creds, const FmReceiverOptions *opts,
               const char *from, int done_fd, const sigset_t *signals)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmGuest) guest = NULL;
    g_autofree char *size = NULL;
    g_autofree char *digest = NULL;
    FmReceiverStats stats;
    int signo = 0;

    if (creds == NULL || fm_receive_start_tls(channel, creds, &error))
        guest = fm_receiver_run(channel, opts, &stats, &error);
    fm_channel_free(channel);
    if (guest == NULL) {
        int status;

        if (from != NULL)
            status = fm_cmd_fail(FM_EXIT_FAILURE, _("migration from %s failed, nothing kept: %s"),
                                 from, error->message);
        else
            status = fm_cmd_fail(FM_EXIT_FAILURE, _("migration failed, nothing kept: %s"),
                                 error->message);
        fm_receive_notify_done(done_fd);
        return status;
    }

    size = fm_units_format_size((double)stats.page_count * stats.page_size);
    digest = fm_digest_to_hex(stats.digest);
    printf(_("fragmig receive: guest verified (%s, digest %s, checked in %.3f s)%s, pid %d\n"),
           size, digest, stats.verify_seconds,
           opts->resume ? _(" and resumed") : "", (int)getpid());
    fflush(stdout);
    fm_receive_notify_done(done_fd);
    if (!opts->resume)
        return FM_EXIT_OK;

    sigwait(signals, &signo);
    fm_guest_stop(guest);
    return FM_EXIT_OK;
}

/* Ends every child in @children (pid -> pid) with SIGTERM and reaps them. */
static void
fm_receive_stop_children(GHashTable *children)
{
    GHashTableIter iter;
    gpointer key;

    g_hash_table_iter_init(&iter, children);
    while (g_hash_table_iter_next(&iter, &key, NULL))
        kill((pid_t)GPOINTER_TO_INT(key), SIGTERM);
    g_hash_table_iter_init(&iter, children);
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        while (waitpid((pid_t)GPOINTER_TO_INT(key), NULL, 0) < 0 && errno == EINTR)
            ;
    }
    g_hash_table_remove_all(children);
}

/* Serves migrations on @listener until SIGINT/SIGTERM (in @signals, blocked): up
 * to @parallel at once, each in a child process that receives, verifies and runs
 * its guest (fm_receive_one()).  A child counts until its verdict, not while it
 * runs its guest.  On the signal the children are ended too.  Returns an exit
 * status; children never return from it. */
static int
fm_receive_serve(FmListener *listener, FmTlsCreds *creds, const FmReceiverOptions *opts,
                 guint parallel, double timeout, const sigset_t *signals)
{
    g_autoptr(GHashTable) children = g_hash_table_new(NULL, NULL);  /* every child */
    g_autoptr(GHashTable) busy = g_hash_table_new(NULL, NULL);      /* before verdict */
    sigset_t watched = *signals;
    int done[2];
    int sfd;

    sigaddset(&watched, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &watched, NULL);
    sfd = signalfd(-1, &watched, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0 || pipe2(done, O_CLOEXEC | O_NONBLOCK) < 0) {
        int err = errno;

        if (sfd >= 0)
            close(sfd);
        return fm_cmd_fail(FM_EXIT_FAILURE, _("cannot serve migrations: %s"), g_strerror(err));
    }
    /* a client that is gone by the time we accept must not stall the loop */
    fm_listener_set_timeout(listener, 0.1);

    for (;;) {
        struct pollfd pfd[3] = {
            { .fd = sfd, .events = POLLIN },
            { .fd = done[0], .events = POLLIN },
            { .fd = fm_listener_get_fd(listener),
              .events = g_hash_table_size(busy) < parallel ? POLLIN : 0 },
        };
        struct signalfd_siginfo si;
        gboolean stop = FALSE;
        pid_t pid;

        if (poll(pfd, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            fm_cmd_fail(FM_EXIT_FAILURE, _("cannot serve migrations: %s"), g_strerror(errno));
            break;
        }
        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            if (si.ssi_signo != SIGCHLD)
                stop = TRUE;
        }
        while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
            g_hash_table_remove(children, GINT_TO_POINTER(pid));
            g_hash_table_remove(busy, GINT_TO_POINTER(pid));
        }
        while (read(done[0], &pid, sizeof(pid)) == (ssize_t)sizeof(pid))
            g_hash_table_remove(busy, GINT_TO_POINTER(pid));
        if (stop)
            break;
        if (pfd[2].revents != 0) {
            g_autoptr(GError) error = NULL;
            FmChannel *channel = fm_listener_accept(listener, &error);
            g_autofree char *from = NULL;

            if (channel == NULL) {
                g_debug("no connection after all: %s", error->message);
                continue;
            }
            fm_channel_set_timeout(channel, timeout);
            from = g_strdup(fm_channel_get_address(channel));
            fflush(stdout);
            fflush(stderr);
            pid = fork();
            if (pid == 0) {
                sigset_t chld;

                close(sfd);
                close(done[0]);
                /* not fm_listener_free(): that would remove a unix socket the
                 * listener still serves */
                close(fm_listener_get_fd(listener));
                sigemptyset(&chld);
                sigaddset(&chld, SIGCHLD);
                pthread_sigmask(SIG_UNBLOCK, &chld, NULL);
                exit(fm_receive_one(channel, creds, opts, from, done[1], signals));
            }
            fm_channel_free(channel);
            if (pid < 0) {
                g_warning(_("cannot start a process for the migration from %s: %s"), from,
                          g_strerror(errno));
                continue;
            }
            g_hash_table_add(children, GINT_TO_POINTER(pid));
            g_hash_table_add(busy, GINT_TO_POINTER(pid));
            printf(_("fragmig receive: receiving from %s in pid %d\n"), from, (int)pid);
            fflush(stdout);
        }
    }
    fm_receive_stop_children(children);
    close(sfd);
    close(done[0]);
    close(done[1]);
    return FM_EXIT_OK;
}

/* The receive command; returns an exit status. */
int
fm_cmd_receive(int argc, char **argv)
{
    g_autofree char *listen_arg = NULL;
    g_autofree char *max_memory_arg = NULL;
    gboolean use_stdin = FALSE, no_resume = FALSE;
    double timeout = FM_CHANNEL_DEFAULT_TIMEOUT;
    g_autoptr(GError) error = NULL;
    g_autoptr(FmListener) listener = NULL;
    g_autoptr(FmChannel) channel = NULL;
    gboolean tls = FALSE;
    g_autofree char *tls_dir = NULL;
    g_auto(GStrv) tls_allowed_dns = NULL;
    g_autoptr(FmTlsCreds) tls_creds = NULL;
    gint parallel = 0;
    FmReceiverOptions opts = { 0, TRUE, FALSE, FALSE };
    sigset_t signals;
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
        { "huge-pages", 0, 0, G_OPTION_ARG_NONE, &opts.huge_pages,
          N_("receive into transparent huge pages where the kernel gives them: fewer page faults, but slower in a virtual machine whose free memory the hypervisor reclaims"), NULL },
        { "parallel", 'j', 0, G_OPTION_ARG_INT, &parallel,
          N_("keep listening and serve up to N migrations at once, each guest in a process of its own, until interrupted (default: receive one guest)"), "N" },
        { "tls", 0, 0, G_OPTION_ARG_NONE, &tls,
          N_("accept only TLS connections from sources with a certificate our CA signed"), NULL },
        { "tls-dir", 0, 0, G_OPTION_ARG_FILENAME, &tls_dir,
          N_("the TLS credentials: DIR/ca-cert.pem (else /etc/pki/CA/cacert.pem), DIR/server-cert.pem, DIR/server-key.pem, optional DIR/ca-crl.pem (default DIR: /etc/pki/libvirt-migrate)"), "DIR" },
        { "tls-allowed-dn", 0, 0, G_OPTION_ARG_STRING_ARRAY, &tls_allowed_dns,
          N_("accept only client certificates whose distinguished name matches this glob, e.g. 'CN=*,O=Example,C=GB' (repeatable; default: any the CA signed)"), "PATTERN" },
        { NULL, 0, 0, 0, NULL, NULL, NULL }
    };

    if (!fm_cmd_parse_options(&argc, &argv, NULL,
                              _("Receive one migrating guest, verify its memory against the source's digest, then run it here until interrupted. With --parallel N, serve up to N migrations at once, each guest in a process of its own. With --tls, accept only TLS connections from sources whose certificate our CA signed: the credentials are DIR/ca-cert.pem (or /etc/pki/CA/cacert.pem), DIR/server-cert.pem and DIR/server-key.pem, DIR being /etc/pki/libvirt-migrate or --tls-dir."), entries))
        return FM_EXIT_USAGE;
    if (argc > 1)
        return fm_cmd_fail_unexpected(argv[1]);
    if ((listen_arg == NULL) == !use_stdin)
        return fm_cmd_fail(FM_EXIT_USAGE, _("give exactly one of --listen ADDR and --stdin"));
    if (max_memory_arg && !fm_units_parse_size(max_memory_arg, &opts.max_memory, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "--max-memory: %s", error->message);
    if (!(timeout > 0))
        return fm_cmd_fail(FM_EXIT_USAGE, _("--timeout must be positive"));
    if (parallel < 0 || (parallel > 0 && use_stdin))
        return fm_cmd_fail(FM_EXIT_USAGE, _("--parallel N needs --listen and N >= 1"));
    if (!tls && (tls_dir != NULL || tls_allowed_dns != NULL))
        return fm_cmd_fail(FM_EXIT_USAGE, _("--tls-dir and --tls-allowed-dn need --tls"));
    if (tls && use_stdin)
        return fm_cmd_fail(FM_EXIT_USAGE, _("--tls needs --listen: a saved stream has no peer"));
    opts.resume = !no_resume;
    opts.no_reply = use_stdin;
    if (tls) {
        tls_creds = fm_tls_creds_new(FM_TLS_SERVER, tls_dir, &error);
        if (tls_creds == NULL)
            return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
        fm_tls_creds_set_allowed_dns(tls_creds, (const char *const *)tls_allowed_dns);
        fm_tls_creds_set_handshake_timeout(tls_creds, MIN(timeout, FM_TLS_HANDSHAKE_TIMEOUT));
    }

    fm_receive_block_signals(&signals);
    if (use_stdin) {
        channel = fm_channel_new_from_fd(dup(STDIN_FILENO), &error);
    } else {
        listener = fm_channel_listen(listen_arg, &error);
        if (listener) {
            printf(_("fragmig receive: listening on %s\n"), fm_listener_get_address(listener));
            fflush(stdout);
            if (parallel > 0)
                return fm_receive_serve(listener, tls_creds, &opts, (guint)parallel, timeout,
                                        &signals);
            fm_listener_set_timeout(listener, timeout);
            channel = fm_listener_accept(listener, &error);
        }
    }
    if (channel == NULL)
        return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
    fm_channel_set_timeout(channel, timeout);
    /* one guest only: nobody else may connect while it comes in */
    g_clear_pointer(&listener, fm_listener_free);

    return fm_receive_one(g_steal_pointer(&channel), tls_creds, &opts, NULL, -1, &signals);
}
