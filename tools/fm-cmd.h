/*
 * fm-cmd.h: the subcommands of the `fragmig` command line, one file each
 * (tools/fm-cmd-NAME.c), listed in the table of tools/fragmig.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "migrate/fm-migration.h"

G_BEGIN_DECLS

/* Exit statuses shared by every subcommand. */
enum {
    FM_EXIT_OK = 0,
    FM_EXIT_FAILURE = 1,   /* the work failed: bad scenario, failed migration */
    FM_EXIT_USAGE = 2,     /* bad command line */
    FM_EXIT_UNKNOWN = 3,   /* a migration's outcome is unknown: the source copy of the
                            * guest stays paused; the message says where and what to do */
};

typedef struct {
    const char *name;
    const char *summary;   /* N_()-marked */
    /* Runs the command with its own argv (argv[0] is "fragmig NAME"); returns an
     * exit status. */
    int (*run)(int argc, char **argv);
} FmCommand;

int fm_cmd_simulate(int argc, char **argv);
int fm_cmd_policies(int argc, char **argv);
int fm_cmd_resume(int argc, char **argv);
int fm_cmd_guest(int argc, char **argv);
int fm_cmd_receive(int argc, char **argv);
int fm_cmd_migrate(int argc, char **argv);
int fm_cmd_demo(int argc, char **argv);
int fm_cmd_inspect(int argc, char **argv);
int fm_cmd_plot(int argc, char **argv);
int fm_cmd_record(int argc, char **argv);
int fm_cmd_advise(int argc, char **argv);
int fm_cmd_save(int argc, char **argv);

/* ---- what every command shares (tools/fm-cmd.c) ---- */

/* Prints "fragmig: MESSAGE" on stderr (translated prefix); returns @status.  Input
 * in MESSAGE goes through fm_quote() or fm_utf8_safe(); should bytes that are not
 * UTF-8 reach it anyway (another library's message), they are escaped there. */
int fm_cmd_fail(int status, const char *format, ...) G_GNUC_PRINTF(2, 3);
/* Returns TRUE when @fd is the stream systemd connected to the journal
 * ($JOURNAL_STREAM), where errors carry a priority prefix. */
gboolean fm_cmd_fd_is_journal(int fd);

/* Prints that @arg (a command line argument) was not expected; returns
 * FM_EXIT_USAGE. */
int fm_cmd_fail_unexpected(const char *arg);

/* Parses the options of a command from *@argc / *@argv (which keep the positional
 * arguments): @parameter_string ("ADDRESS", or NULL) and @summary (translated) for
 * --help, @entries (NULL-terminated, N_()-marked; NULL: none).  Returns TRUE, or
 * FALSE after printing the error: the command exits with FM_EXIT_USAGE.  --help
 * prints the help and exits, as GOption does. */
gboolean fm_cmd_parse_options(int *argc, char ***argv, const char *parameter_string,
                              const char *summary, const GOptionEntry *entries);

/* SIGINT and SIGTERM, the same for every long command.  fm_cmd_interrupt_begin()
 * blocks them (in the calling thread and the threads it starts after, so call it
 * before starting any) and starts a thread that waits for them.  The first one sets
 * the flag of fm_cmd_interrupt_flag() and cancels the migration given to
 * fm_cmd_interrupt_set_migration(): at once, or when one is given, so that a signal
 * that comes while a domain is looked up or a peer connected is not lost.
 * fm_cmd_interrupt_end() stops the thread and unblocks them.  Not nested. */
void fm_cmd_interrupt_begin(void);
/* Sets the migration a signal cancels (borrowed; NULL: none) until the next call. */
void fm_cmd_interrupt_set_migration(FmMigration *mig);
/* Returns TRUE once SIGINT or SIGTERM came since fm_cmd_interrupt_begin(). */
gboolean fm_cmd_interrupted(void);
/* Returns the flag (an atomic int, 1 once interrupted), for loops that poll one. */
const gint *fm_cmd_interrupt_flag(void);
void fm_cmd_interrupt_end(void);
/* A GSpawnChildSetupFunc: in a child process started between begin and end, before
 * exec, gives it the signals back (the mask is inherited across exec). */
void fm_cmd_interrupt_child_setup(gpointer data);

G_END_DECLS
