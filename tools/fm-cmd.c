/*
 * fm-cmd.c: what every subcommand shares: error messages, option parsing, and the
 * wiring of SIGINT and SIGTERM to the cancel of a migration.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "fm-cmd.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "util/fm-i18n.h"
#include "util/fm-quote.h"

/* Returns TRUE when @fd is the stream that systemd connected to the journal:
 * systemd names it in $JOURNAL_STREAM as "DEVICE:INODE" (systemd.exec(5)). */
gboolean
fm_cmd_fd_is_journal(int fd)
{
    const char *env = g_getenv("JOURNAL_STREAM");
    guint64 dev, ino;
    struct stat st;

    if (!env || sscanf(env, "%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT, &dev, &ino) != 2)
        return FALSE;
    return fstat(fd, &st) == 0 && (guint64)st.st_dev == dev && (guint64)st.st_ino == ino;
}

/* Prints "fragmig: MESSAGE" on stderr; returns @status. */
int
fm_cmd_fail(int status, const char *format, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, format);
    msg = g_strdup_vprintf(format, ap);
    va_end(ap);
    if (!g_utf8_validate(msg, -1, NULL)) {
        char *safe = fm_utf8_safe(msg, -1);

        g_free(msg);
        msg = safe;
    }
    /* The journal stamps each line itself, and reads a leading "<3>" as the
     * line's priority (error), so that `journalctl -p err` finds it. */
    if (fm_cmd_fd_is_journal(fileno(stderr)))
        fputs("<3>", stderr);
    /* TRANSLATORS: the prefix of every error message of the command line */
    fprintf(stderr, _("fragmig: error: %s\n"), msg);
    return status;
}

/* Prints that @arg was not expected; returns FM_EXIT_USAGE. */
int
fm_cmd_fail_unexpected(const char *arg)
{
    g_autofree char *quoted = fm_quote(arg, -1);

    return fm_cmd_fail(FM_EXIT_USAGE, _("unexpected argument %s"), quoted);
}

/* Parses a command's options; FALSE after printing the error. */
gboolean
fm_cmd_parse_options(int *argc, char ***argv, const char *parameter_string,
                     const char *summary, const GOptionEntry *entries)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new(parameter_string);
    g_autoptr(GError) error = NULL;

    g_option_context_set_summary(ctx, summary);
    if (entries != NULL)
        g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
    if (!g_option_context_parse(ctx, argc, argv, &error)) {
        fm_cmd_fail(FM_EXIT_USAGE, "%s", error->message);
        return FALSE;
    }
    return TRUE;
}

/* The signal watch: one per process, between fm_cmd_interrupt_begin() and _end(). */
static struct {
    GMutex lock;               /* guards migration against the watch thread */
    FmMigration *migration;    /* borrowed */
    gint interrupted;          /* atomic */
    gint stop;                 /* atomic: the thread ends */
    sigset_t signals;          /* SIGINT, SIGTERM; SIGUSR1 wakes the thread up */
    sigset_t old_mask;
    pthread_t thread;
    gboolean running;
} fm_cmd_watch;

/* The watch thread: takes SIGINT and SIGTERM (a second one too, which would
 * otherwise kill the process once they are unblocked) and cancels, until told to
 * stop.  It wakes up every 100 ms as well, so that its end does not depend on the
 * SIGUSR1 that hurries it. */
static void *
fm_cmd_watch_thread(void *data G_GNUC_UNUSED)
{
    const struct timespec tick = { 0, 100 * 1000 * 1000 };

    while (!g_atomic_int_get(&fm_cmd_watch.stop)) {
        int signo = sigtimedwait(&fm_cmd_watch.signals, NULL, &tick);

        if (signo != SIGINT && signo != SIGTERM)
            continue;   /* SIGUSR1, the tick, EINTR */
        if (g_atomic_int_get(&fm_cmd_watch.interrupted))
            continue;
        g_atomic_int_set(&fm_cmd_watch.interrupted, 1);
        g_mutex_lock(&fm_cmd_watch.lock);
        if (fm_cmd_watch.migration != NULL) {
            fprintf(stderr, _("fragmig: interrupted, cancelling the migration\n"));
            fm_migration_cancel(fm_cmd_watch.migration);
        }
        g_mutex_unlock(&fm_cmd_watch.lock);
    }
    return NULL;
}

/* Blocks the signals and starts the watch thread. */
void
fm_cmd_interrupt_begin(void)
{
    g_return_if_fail(!fm_cmd_watch.running);
    sigemptyset(&fm_cmd_watch.signals);
    sigaddset(&fm_cmd_watch.signals, SIGINT);
    sigaddset(&fm_cmd_watch.signals, SIGTERM);
    sigaddset(&fm_cmd_watch.signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &fm_cmd_watch.signals, &fm_cmd_watch.old_mask);
    g_atomic_int_set(&fm_cmd_watch.interrupted, 0);
    g_atomic_int_set(&fm_cmd_watch.stop, 0);
    fm_cmd_watch.migration = NULL;
    fm_cmd_watch.running = pthread_create(&fm_cmd_watch.thread, NULL,
                                          fm_cmd_watch_thread, NULL) == 0;
    if (!fm_cmd_watch.running)
        g_warning("cannot start the signal thread: SIGINT will not cancel cleanly");
}

/* Sets the migration a signal cancels; cancels it now if one already came. */
void
fm_cmd_interrupt_set_migration(FmMigration *mig)
{
    g_mutex_lock(&fm_cmd_watch.lock);
    fm_cmd_watch.migration = mig;
    if (mig != NULL && g_atomic_int_get(&fm_cmd_watch.interrupted))
        fm_migration_cancel(mig);
    g_mutex_unlock(&fm_cmd_watch.lock);
}

/* Returns TRUE once interrupted. */
gboolean
fm_cmd_interrupted(void)
{
    return g_atomic_int_get(&fm_cmd_watch.interrupted) != 0;
}

/* Returns the interrupt flag (static). */
const gint *
fm_cmd_interrupt_flag(void)
{
    return &fm_cmd_watch.interrupted;
}

/* Ends the watch thread and gives the signals back.  A SIGINT that came meanwhile
 * was taken by the thread: unblocking delivers nothing stale.  The SIGUSR1 goes
 * to the thread alone (not joined yet, so it exists) and dies with it. */
void
fm_cmd_interrupt_end(void)
{
    if (fm_cmd_watch.running) {
        g_atomic_int_set(&fm_cmd_watch.stop, 1);
        pthread_kill(fm_cmd_watch.thread, SIGUSR1);
        pthread_join(fm_cmd_watch.thread, NULL);
        fm_cmd_watch.running = FALSE;
    }
    fm_cmd_interrupt_set_migration(NULL);
    pthread_sigmask(SIG_SETMASK, &fm_cmd_watch.old_mask, NULL);
}

/* GSpawnChildSetupFunc: the child's signals are its own again. */
void
fm_cmd_interrupt_child_setup(gpointer data G_GNUC_UNUSED)
{
    sigset_t none;

    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
}
