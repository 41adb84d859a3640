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
#include <pthread.h>
#include <sys/mman.h>
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
/* Default bound of a connection's setup (TLS handshake and stream header), seconds. */
#define FM_RECEIVE_SETUP_TIMEOUT 10.0
/* Default minimum rate of a source, bytes per second, averaged over the window. */
#define FM_RECEIVE_MIN_RATE "16K"
#define FM_RECEIVE_RATE_WINDOW 10.0
/* --parallel: connections still in their setup, beyond the N migrations (each for
 * its setup bound at most; more wait in the listen queue). */
#define FM_RECEIVE_SPARE_SETUPS 16

/* How every accepted connection is guarded (independent of --timeout). */
typedef struct {
    double setup_timeout;     /* seconds for TLS and the stream header */
    guint64 min_rate;         /* bytes per second; 0: none */
} FmReceiveGuards;

/* Returns TRUE if SIGINT or SIGTERM is pending (they are blocked in every thread of
 * a receiver): the receiver is being stopped.  FmReceiverOptions.interrupted. */
static gboolean
fm_receive_interrupted(void)
{
    sigset_t pending;

    return sigpending(&pending) == 0 &&
           (sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1);
}

/* Puts the guards on a freshly accepted @channel. */
static void
fm_receive_guard(FmChannel *channel, const FmReceiveGuards *guards, double timeout)
{
    fm_channel_set_timeout(channel, timeout);
    fm_channel_set_deadline(channel, guards->setup_timeout);
    fm_channel_set_min_rate(channel, (double)guards->min_rate, FM_RECEIVE_RATE_WINDOW);
}

/* ---- --parallel: the migrations' slots and memory, shared by the children ---- */

typedef struct {
    pid_t pid;                /* 0: free */
    guint64 bytes;            /* the guest's memory, reserved until the verdict */
} FmReceiveSlot;

/* In memory shared with the children (MAP_SHARED): a child claims a slot and its
 * guest's memory once it read a valid header, and gives them back at its verdict; the
 * listener frees the slot of a child that died. */
typedef struct {
    pthread_mutex_t lock;     /* process-shared, robust: a child may die holding it */
    guint parallel;
    guint64 max_memory;       /* 0: the available memory at each claim */
    FmReceiveSlot slots[];    /* parallel */
} FmReceiveTable;

/* Returns a new table for @parallel migrations, or NULL with @error. */
static FmReceiveTable *
fm_receive_table_new(guint parallel, guint64 max_memory, GError **error)
{
    gsize size = sizeof(FmReceiveTable) + parallel * sizeof(FmReceiveSlot);
    pthread_mutexattr_t attr;
    FmReceiveTable *table;

    table = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (table == MAP_FAILED) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot serve migrations: %s"),
                    g_strerror(errno));
        return NULL;
    }
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&table->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    table->parallel = parallel;
    table->max_memory = max_memory;
    return table;
}

/* Locks @table, taking over from a holder that died. */
static void
fm_receive_table_lock(FmReceiveTable *table)
{
    if (pthread_mutex_lock(&table->lock) == EOWNERDEAD)
        pthread_mutex_consistent(&table->lock);
}

/* Frees the slot of @pid, if it holds one. */
static void
fm_receive_table_release(FmReceiveTable *table, pid_t pid)
{
    if (table == NULL)
        return;
    fm_receive_table_lock(table);
    for (guint i = 0; i < table->parallel; i++) {
        if (table->slots[i].pid == pid)
            table->slots[i] = (FmReceiveSlot){ 0, 0 };
    }
    pthread_mutex_unlock(&table->lock);
}

/* FmReceiverOptions.reserve of a --parallel child: claims a slot and @bytes for this
 * process.  While every slot is taken it waits for one (the source waits as it
 * would in the listen queue; SIGINT/SIGTERM end the wait); if the memory of the
 * migrations in flight leaves no room, FALSE with FM_ERROR_LIMIT. */
static gboolean
fm_receive_table_reserve(gpointer data, guint64 bytes, GError **error)
{
    FmReceiveTable *table = data;
    guint64 limit = table->max_memory ? table->max_memory : fm_receiver_default_max_memory();
    guint64 reserved = 0;
    guint used = 0;
    gint free_slot = -1;
    g_autofree char *want = NULL;
    g_autofree char *have = NULL;
    g_autofree char *max = NULL;

 again:
    reserved = 0;
    used = 0;
    free_slot = -1;
    fm_receive_table_lock(table);
    for (guint i = 0; i < table->parallel; i++) {
        if (table->slots[i].pid != 0) {
            used++;
            reserved += table->slots[i].bytes;
        } else if (free_slot < 0) {
            free_slot = (gint)i;
        }
    }
    if (free_slot >= 0 && bytes <= limit && reserved <= limit - bytes) {
        table->slots[free_slot] = (FmReceiveSlot){ getpid(), bytes };
        pthread_mutex_unlock(&table->lock);
        printf(_("fragmig receive: pid %d takes a slot for its guest (%llu bytes)\n"),
               (int)getpid(), (unsigned long long)bytes);
        fflush(stdout);
        return TRUE;
    }
    pthread_mutex_unlock(&table->lock);
    if (free_slot < 0) {
        if (fm_receive_interrupted()) {
            g_set_error(error, FM_ERROR, FM_ERROR_CANCELLED,
                        _("the receiver was interrupted: nothing kept, the guest keeps running on the source"));
            return FALSE;
        }
        g_usleep(50 * 1000);
        goto again;
    }
    want = fm_units_format_size((double)bytes);
    have = fm_units_format_size((double)reserved);
    max = fm_units_format_size((double)limit);
    g_set_error(error, FM_ERROR, FM_ERROR_LIMIT,
                _("the guest (%s) and the %u migrations being received (%s) need more than the destination's memory limit (%s)"),
                want, used, have, max);
    return FALSE;
}

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
 * verdict is printed, writes our pid to @done_fd if >= 0.  With @valid, a
 * connection that never brought a valid stream header is logged as refused and
 * *@valid is FALSE (NULL: a saved stream, whose failures are all the migration's).
 * Returns an exit status. */
static int
fm_receive_one(FmChannel *channel, FmTlsCreds *creds, const FmReceiverOptions *opts,
               const char *from, int done_fd, const sigset_t *signals, gboolean *valid)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmGuest) guest = NULL;
    g_autofree char *size = NULL;
    g_autofree char *digest = NULL;
    g_autofree char *peer = g_strdup(fm_channel_get_address(channel));
    FmReceiverStats stats = { 0 };
    int signo = 0;

    if (creds == NULL || fm_receive_start_tls(channel, creds, &error))
        guest = fm_receiver_run(channel, opts, &stats, &error);
    fm_channel_free(channel);
    /* a connection that never brought a valid stream header is no migration: a
     * probe, a plain client of a TLS receiver, an idle or a trickling peer */
    if (valid != NULL)
        *valid = guest != NULL || stats.page_count > 0 ||
                 g_error_matches(error, FM_ERROR, FM_ERROR_LIMIT);   /* a header, too large */
    if (valid != NULL && !*valid) {
        fprintf(stderr, _("fragmig receive: refused a connection from %s: %s\n"), peer,
                error->message);
        fflush(stderr);
        fm_receive_notify_done(done_fd);
        return FM_EXIT_FAILURE;
    }
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
fm_receive_serve(FmListener *listener, FmTlsCreds *creds, const FmReceiverOptions *opts_in,
                 guint parallel, double timeout, const FmReceiveGuards *guards,
                 const sigset_t *signals)
{
    g_autoptr(GError) table_error = NULL;
    FmReceiveTable *table = fm_receive_table_new(parallel, opts_in->max_memory, &table_error);
    FmReceiverOptions child_opts = *opts_in;
    const FmReceiverOptions *opts = &child_opts;
    g_autoptr(GHashTable) children = g_hash_table_new(NULL, NULL);  /* every child */
    g_autoptr(GHashTable) busy = g_hash_table_new(NULL, NULL);      /* before verdict */
    sigset_t watched = *signals;
    int done[2];
    int sfd;

    if (table == NULL)
        return fm_cmd_fail(FM_EXIT_FAILURE, "%s", table_error->message);
    child_opts.reserve = fm_receive_table_reserve;
    child_opts.reserve_data = table;
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
            /* slots are the table's, claimed by valid migrations only: what is
             * counted here are the connections still before their verdict */
            { .fd = fm_listener_get_fd(listener),
              .events = g_hash_table_size(busy) < parallel + FM_RECEIVE_SPARE_SETUPS ? POLLIN : 0 },
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
            fm_receive_table_release(table, pid);
        }
        while (read(done[0], &pid, sizeof(pid)) == (ssize_t)sizeof(pid)) {
            g_hash_table_remove(busy, GINT_TO_POINTER(pid));
            fm_receive_table_release(table, pid);
        }
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
            fm_receive_guard(channel, guards, timeout);
            from = g_strdup(fm_channel_get_address(channel));
            fflush(stdout);
            fflush(stderr);
            pid = fork();
            if (pid == 0) {
                sigset_t chld;
                gboolean valid;

                close(sfd);
                close(done[0]);
                /* not fm_listener_free(): that would remove a unix socket the
                 * listener still serves */
                close(fm_listener_get_fd(listener));
                sigemptyset(&chld);
                sigaddset(&chld, SIGCHLD);
                pthread_sigmask(SIG_UNBLOCK, &chld, NULL);
                exit(fm_receive_one(channel, creds, opts, from, done[1], signals, &valid));
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
    munmap(table, sizeof(FmReceiveTable) + parallel * sizeof(FmReceiveSlot));
    printf(_("fragmig receive: stopped\n"));
    return FM_EXIT_OK;
}

/* Serves one guest on @listener: accepts connections, one at a time, until one
 * brings a valid migration (its stream header read), which it then receives and
 * runs (fm_receive_one()).  Connections that bring none are logged and refused,
 * and the listener goes on.  Gives up after @timeout seconds without a valid
 * migration, or at SIGINT/SIGTERM (in @signals, blocked).  Returns an exit status. */
static int
fm_receive_single(FmListener *listener, FmTlsCreds *creds, const FmReceiverOptions *opts,
                  double timeout, const FmReceiveGuards *guards, const sigset_t *signals)
{
    gint64 give_up = g_get_monotonic_time() + (gint64)(timeout * 1e6);
    int sfd = signalfd(-1, signals, SFD_CLOEXEC | SFD_NONBLOCK);

    if (sfd < 0)
        return fm_cmd_fail(FM_EXIT_FAILURE, _("cannot wait for a migration: %s"),
                           g_strerror(errno));
    /* a client that is gone by the time we accept must not stall the loop */
    fm_listener_set_timeout(listener, 0.1);
    for (;;) {
        struct pollfd pfd[2] = {
            { .fd = sfd, .events = POLLIN },
            { .fd = fm_listener_get_fd(listener), .events = POLLIN },
        };
        gint64 left = give_up - g_get_monotonic_time();
        g_autoptr(GError) error = NULL;
        FmChannel *channel;
        gboolean valid = FALSE;
        int status;

        if (left <= 0) {
            close(sfd);
            return fm_cmd_fail(FM_EXIT_FAILURE, _("no migration came within %g s (--timeout): nothing received"),
                               timeout);
        }
        if (poll(pfd, 2, (int)MIN((left + 999) / 1000, (gint64)G_MAXINT)) < 0 && errno != EINTR) {
            int err = errno;

            close(sfd);
            return fm_cmd_fail(FM_EXIT_FAILURE, _("cannot wait for a migration: %s"),
                               g_strerror(err));
        }
        if (pfd[0].revents != 0) {
            struct signalfd_siginfo si;

            close(sfd);
            if (read(sfd, &si, sizeof(si)) < 0)
                si.ssi_signo = SIGTERM;
            return fm_cmd_fail(FM_EXIT_FAILURE, _("interrupted (%s) before a migration came: nothing received"),
                               si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        }
        if (pfd[1].revents == 0)
            continue;
        channel = fm_listener_accept(listener, &error);
        if (channel == NULL) {
            g_debug("no connection after all: %s", error->message);
            continue;
        }
        fm_receive_guard(channel, guards, timeout);
        status = fm_receive_one(channel, creds, opts, NULL, -1, signals, &valid);
        if (valid) {
            close(sfd);
            return status;
        }
    }
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
    FmReceiverOptions opts = { 0, TRUE, FALSE, FALSE, fm_receive_interrupted, NULL, NULL };
    FmReceiveGuards guards = { FM_RECEIVE_SETUP_TIMEOUT, 0 };
    g_autofree char *min_rate_arg = NULL;
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
        { "setup-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &guards.setup_timeout,
          N_("seconds a connection has for its TLS handshake and stream header, whatever --timeout says (default 10)"), "S" },
        { "min-rate", 0, 0, G_OPTION_ARG_STRING, &min_rate_arg,
          N_("drop a source that sends less than RATE bytes per second over 10 s, e.g. 16K (default; 0: never)"), "RATE" },
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
    if (!(guards.setup_timeout > 0))
        return fm_cmd_fail(FM_EXIT_USAGE, _("--setup-timeout must be positive"));
    if (!fm_units_parse_size(min_rate_arg ? min_rate_arg : FM_RECEIVE_MIN_RATE,
                             &guards.min_rate, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "--min-rate: %s", error->message);
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
        if (!fm_tls_creds_set_allowed_dns(tls_creds, (const char *const *)tls_allowed_dns,
                                          &error))
            return fm_cmd_fail(FM_EXIT_USAGE, "--tls-allowed-dn: %s", error->message);
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
                                        &guards, &signals);
            return fm_receive_single(listener, tls_creds, &opts, timeout, &guards, &signals);
        }
    }
    if (channel == NULL)
        return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
    fm_channel_set_timeout(channel, timeout);

    return fm_receive_one(g_steal_pointer(&channel), tls_creds, &opts, NULL, -1, &signals,
                          NULL);
}
