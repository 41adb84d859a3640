/*
 * fm-cmd-resume.c: `fragmig resume --pid PID [--force]`: continues a local guest that
 * a migration left paused.  A copy that a migration marked handed over (it committed
 * to the handover and never learnt the outcome, docs/stream-format.md §5) may run on
 * the destination: it is only resumed with --force, which the operator gives once
 * they know it runs nowhere else.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <stdio.h>

#include "fm-cmd.h"
#include "backend/local/fm-local.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* The resume command; returns an exit status. */
int
fm_cmd_resume(int argc, char **argv)
{
    gint pid = 0;
    gboolean force = FALSE, was_handed_over = FALSE;
    g_autoptr(GError) error = NULL;
    GOptionEntry entries[] = {
        { "pid", 0, 0, G_OPTION_ARG_INT, &pid,
          N_("the guest process a migration left paused"), "PID" },
        { "force", 0, 0, G_OPTION_ARG_NONE, &force,
          N_("resume it even if a migration handed it over (only when the guest runs nowhere else)"), NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL }
    };

    if (!fm_cmd_parse_options(&argc, &argv, NULL,
                              _("Resume the guest process PID that a migration left paused. A copy that a migration handed over may run on the destination: resume it only with --force, once you know it runs nowhere else."),
                              entries))
        return FM_EXIT_USAGE;
    if (argc > 1)
        return fm_cmd_fail_unexpected(argv[1]);
    if (pid <= 0)
        return fm_cmd_fail(FM_EXIT_USAGE, _("--pid PID is required and must be positive"));
    if (!fm_local_guest_resume(pid, force, &was_handed_over, &error))
        return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
    if (was_handed_over)
        printf(_("fragmig resume: pid %d was marked handed over; the mark is cleared and the guest runs here\n"),
               pid);
    else
        printf(_("fragmig resume: pid %d runs\n"), pid);
    return FM_EXIT_OK;
}
