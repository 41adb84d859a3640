/*
 * fm-cmd-inspect.c: `fragmig inspect --pid PID`: what a guest process holds, read
 * from its memory header without disturbing it (no dirty-log harvest, no pause):
 * size, workload, threads, throttle and the work counter, as NAME=VALUE lines.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <stdio.h>

#include "fm-cmd.h"
#include "backend/local/fm-local.h"
#include "util/fm-i18n.h"

/* The inspect command; returns an exit status. */
int
fm_cmd_inspect(int argc, char **argv)
{
    gint pid = 0;
    g_autoptr(GError) error = NULL;
    g_autoptr(FmBackend) backend = NULL;
    guint8 digest[FM_DIGEST_SIZE];
    g_autofree FmGuestHeader *header = g_new0(FmGuestHeader, 1);
    FmWorkloadSpec spec, phases[FM_WORKLOAD_MAX_PHASES];
    GOptionEntry entries[] = {
        { "pid", 0, 0, G_OPTION_ARG_INT, &pid,
          N_("the guest process (a 'fragmig guest' or a receiver running a guest)"), "PID" },
        { NULL, 0, 0, 0, NULL, NULL, NULL }
    };

    if (!fm_cmd_parse_options(&argc, &argv, NULL,
                              _("Print what the guest process PID holds, read from its memory without disturbing it, as NAME=VALUE lines."), entries))
        return FM_EXIT_USAGE;
    if (argc > 1)
        return fm_cmd_fail_unexpected(argv[1]);
    if (pid <= 0)
        return fm_cmd_fail(FM_EXIT_USAGE, _("--pid PID is required and must be positive"));

    backend = fm_local_backend_new_observer(pid, &error);
    if (backend == NULL || !fm_local_backend_read_header(backend, header, &error))
        return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
    fm_guest_header_get_spec(header, &spec, phases);

    printf("pid=%d\n", pid);
    printf("memory=%llu\n", (unsigned long long)(header->page_count * header->page_size));
    printf("page_size=%llu\n", (unsigned long long)header->page_size);
    printf("workload=%s\n", fm_workload_type_to_string(spec.type));
    printf("rate=%.1f\n", spec.rate);
    printf("threads=%u\n", header->n_threads);
    printf("throttle=%u\n", header->throttle);
    printf("writes=%llu\n", (unsigned long long)fm_guest_header_writes(header));
    printf("tracking=%s\n", fm_pagemap_mode_to_string(fm_local_backend_mode(backend)));
    printf("handed_over=%s\n", header->handover != 0 ? "yes" : "no");
    /* consistent only while the guest is stopped (a paused or handed-over copy) */
    if (fm_local_backend_digest(backend, digest, &error)) {
        g_autofree char *hex = fm_digest_to_hex(digest);

        printf("digest=%s\n", hex);
    }
    return FM_EXIT_OK;
}
