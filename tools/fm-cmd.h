/*
 * fm-cmd.h: the subcommands of the `fragmig` command line, one file each
 * (tools/fm-cmd-NAME.c), listed in the table of tools/fragmig.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Exit statuses shared by every subcommand. */
enum {
    FM_EXIT_OK = 0,
    FM_EXIT_FAILURE = 1,   /* the work failed: bad scenario, failed migration */
    FM_EXIT_USAGE = 2,     /* bad command line */
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
int fm_cmd_guest(int argc, char **argv);
int fm_cmd_receive(int argc, char **argv);
int fm_cmd_migrate(int argc, char **argv);
int fm_cmd_demo(int argc, char **argv);
int fm_cmd_inspect(int argc, char **argv);
int fm_cmd_plot(int argc, char **argv);
int fm_cmd_record(int argc, char **argv);
int fm_cmd_advise(int argc, char **argv);
int fm_cmd_save(int argc, char **argv);

/* Prints "fragmig: MESSAGE" on stderr (translated prefix); returns @status. */
int fm_cmd_fail(int status, const char *format, ...) G_GNUC_PRINTF(2, 3);

G_END_DECLS
