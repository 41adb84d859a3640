/*
 * fragmig.c: the `fragmig` command line: dispatches to a subcommand.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "fm-cmd.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"

static const FmCommand fm_commands[] = {
    { "simulate", N_("run scenarios in the simulator under each policy"), fm_cmd_simulate },
    { "policies", N_("list the policies and their parameters"), fm_cmd_policies },
    { "guest", N_("run a guest: a process whose memory a workload writes"), fm_cmd_guest },
    { "receive", N_("receive a migrating guest, verify it and run it here"), fm_cmd_receive },
    { "migrate", N_("live-migrate a guest process to a receiver"), fm_cmd_migrate },
    { "resume", N_("resume a guest process that a migration left paused"), fm_cmd_resume },
    { "demo", N_("guest, receiver and migration on this host, with live progress"), fm_cmd_demo },
    { "inspect", N_("show what a guest process holds, without disturbing it"), fm_cmd_inspect },
    { "save", N_("save a Xen domain live into a file that 'xl restore' restores"), fm_cmd_save },
    { "record", N_("record the dirty log of a guest process as a trace"), fm_cmd_record },
    { "advise", N_("observe a guest, predict every policy, recommend one (no migration)"), fm_cmd_advise },
    { "plot", N_("draw SVG figures of recorded runs and scenario suites"), fm_cmd_plot },
};

/* Under systemd (fragmig-receive.service) stdout is a stream to the journal:
 * line-buffered, each message reaches the journal when it is printed rather
 * than when a buffer fills. */
static void
fm_journal_setup(void)
{
    if (fm_cmd_fd_is_journal(fileno(stdout)))
        setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Prints the top-level usage on @out. */
static void
fm_usage(FILE *out)
{
    fprintf(out, _("Usage: fragmig COMMAND [OPTION...]\n"
                   "       fragmig --help | --version\n\n"
                   "fragment-iterative live migration\n\n"
                   "Commands:\n"));
    for (guint i = 0; i < G_N_ELEMENTS(fm_commands); i++)
        fprintf(out, "  %-10s %s\n", fm_commands[i].name, _(fm_commands[i].summary));
    fprintf(out, _("\nRun 'fragmig COMMAND --help' for the options of a command.\n"));
}

int
main(int argc, char **argv)
{
    g_autofree char *quoted = NULL;

    setlocale(LC_ALL, "");
    fm_i18n_init();
    textdomain(GETTEXT_PACKAGE);
    fm_journal_setup();

    if (argc < 2) {
        fm_usage(stderr);
        return FM_EXIT_USAGE;
    }
    if (g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h") ||
        g_str_equal(argv[1], "help")) {
        fm_usage(stdout);
        return FM_EXIT_OK;
    }
    if (g_str_equal(argv[1], "--version") || g_str_equal(argv[1], "-V")) {
        printf("fragmig %s\n", PACKAGE_VERSION);
        return FM_EXIT_OK;
    }
    for (guint i = 0; i < G_N_ELEMENTS(fm_commands); i++) {
        if (g_str_equal(argv[1], fm_commands[i].name)) {
            g_autofree char *prog = g_strdup_printf("fragmig %s", fm_commands[i].name);
            argv[1] = prog;
            return fm_commands[i].run(argc - 1, argv + 1);
        }
    }
    quoted = fm_quote(argv[1], -1);
    fm_cmd_fail(FM_EXIT_USAGE, _("unknown command %s"), quoted);
    fm_usage(stderr);
    return FM_EXIT_USAGE;
}
