/*
 * fm-cmd-policies.c: `fragmig policies`: the policies and every knob with its
 * default, bounds and meaning.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <stdio.h>

#include "fm-cmd.h"
#include "engine/fm-job.h"
#include "engine/fm-policy.h"
#include "util/fm-i18n.h"

/* Prints one knob table under @title. */
static void
fm_cmd_policies_print_specs(const char *title, const char *summary,
                            const FmParamSpec *specs)
{
    printf("%s", title);
    if (summary)
        printf(" - %s", _(summary));
    putchar('\n');
    for (const FmParamSpec *s = specs; s && s->name; s++) {
        /* durations with their unit: a bare value may count ms (max_downtime) */
        const char *u = s->type == FM_PARAM_DURATION || s->type == FM_PARAM_DOWNTIME ? "s" : "";
        g_autofree char *def = g_strdup_printf("%g%s", s->def, u);

        printf("    %-20s %-8s %-10s [%g%s, %g%s]  %s\n", s->name,
               fm_param_type_to_string(s->type), def, s->min, u, s->max, u, _(s->blurb));
    }
}

/* Lists policies and knobs; returns an exit status. */
int
fm_cmd_policies(int argc, char **argv)
{
    const FmPolicyOps *const *list = fm_policy_list();

    if (!fm_cmd_parse_options(&argc, &argv, NULL,
                              _("List the policies and the parameters (--param NAME=VALUE) of the engine and of each policy."),
                              NULL))
        return FM_EXIT_USAGE;
    if (argc > 1)
        return fm_cmd_fail_unexpected(argv[1]);

    fm_cmd_policies_print_specs(_("engine"), NULL, fm_job_param_specs());
    for (guint i = 0; list[i]; i++)
        fm_cmd_policies_print_specs(list[i]->name, list[i]->summary, list[i]->params);
    return FM_EXIT_OK;
}
