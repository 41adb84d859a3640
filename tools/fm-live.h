/*
 * fm-live.h: one live migration of a local guest, as the command line runs it
 * (`fragmig migrate`, `fragmig demo`): connect, run the engine with a progress display,
 * cancel cleanly on SIGINT/SIGTERM, and, once the destination took over, end the
 * source's copy of the guest (as Xen destroys the source domain).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdio.h>
#include <sys/types.h>
#include <glib.h>
#include "report/fm-report.h"
#include "engine/fm-job.h"
#include "engine/fm-params.h"
#include "engine/fm-policy.h"
#include "transport/fm-tls.h"

G_BEGIN_DECLS

typedef struct {
    pid_t pid;                   /* the guest process */
    const char *address;         /* destination: tcp://HOST:PORT, unix:/PATH, fd:N */
    const FmPolicyOps *policy;
    const FmParamSet *params;    /* engine and policy knobs (checked) */
    double bandwidth;            /* bytes per second; 0 = unlimited */
    double timeout;              /* seconds without progress before giving up */
    gboolean keep_source;        /* leave the source's (paused) copy instead of killing it */
    gboolean verify_full;        /* digest the paused memory whole, not the page hashes
                                  * (fm_local_backend_set_verify()) */
    FILE *progress;              /* where progress goes; NULL = none */
    FmJobEventFunc on_event;     /* also subscribed to the job's events in on_event_mask
                                  * (run records); may be NULL */
    guint on_event_mask;
    gpointer on_event_data;
    const char *record;          /* write the dirty pages of each harvest to this trace
                                  * file (docs/trace-format.md); NULL = none */
    FmTlsCreds *tls;             /* client credentials: the connection is TLS (src/transport/
                                  * fm-tls.h); NULL = plain */
    const char *tls_hostname;    /* the name the destination's certificate must carry;
                                  * NULL = the host of a tcp:// address (none for unix:) */
} FmLiveRequest;

/* Migrates the guest of @req and fills @row (its strings are static or borrowed from
 * @req).  Returns FALSE with @error if the migration failed or was cancelled: the guest
 * then runs on the source as before.  With req->record, the trace is written whatever
 * the outcome of a migration that started (FALSE with @error, before anything else,
 * if the file cannot be created; no file is left if the migration cannot start; a
 * failure to write it later is a warning: the migration's outcome stands, and the
 * incomplete file is removed). */
gboolean fm_live_migrate(const FmLiveRequest *req, FmReportRow *row, GError **error);

/* The GOptionEntry lines of the options that say where a live migration's result
 * and progress go (--format, --quiet, --progress), for the variables @format (char
 * *), @quiet and @progress (gboolean); see fm_live_progress_stream(). */
#define FM_LIVE_OUTPUT_OPTIONS(format, quiet, progress) \
    { "format", 'f', 0, G_OPTION_ARG_STRING, &(format), \
      N_("summary format: table, csv or json (default: table)"), "FORMAT" }, \
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &(quiet), \
      N_("no progress at all"), NULL }, \
    { "progress", 0, 0, G_OPTION_ARG_NONE, &(progress), \
      N_("progress on stderr even when it is not a terminal, one line per round"), NULL }

/* Returns where the progress of a live migration goes: stderr when it is a
 * terminal or when @asked (--progress), else nothing (NULL); nothing with @quiet. */
FILE *fm_live_progress_stream(gboolean quiet, gboolean asked);

/* Parses the options every live-migrating command shares (--policy, default
 * fragment; --bandwidth; --max-downtime; --param) into @req and @params (which @req
 * then borrows).  Returns FALSE with @error on a bad value. */
gboolean fm_cmd_parse_live_options(const char *policy_arg, const char *bandwidth_arg,
                                   const char *downtime_arg, char **param_args,
                                   FmLiveRequest *req, FmParamSet *params, GError **error);

/* Migrates the Xen domain @domain (name or id) to `xl migrate-receive` on @host,
 * run through `@ssh_command HOST` ("" : @host is the whole command), with the
 * policy, knobs, bandwidth and timeout of @req; prints the summary in @format.
 * Returns an exit status (tools/fm-cmd-xen.c). */
int fm_cmd_migrate_xen(const FmLiveRequest *req, const char *domain,
                       const char *ssh_command, const char *host, FmReportFormat format);

G_END_DECLS
