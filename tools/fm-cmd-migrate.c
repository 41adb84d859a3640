/*
 * fm-cmd-migrate.c: `fragmig migrate --pid PID [--policy P] [--bandwidth B]
 * [--max-downtime MS] [--param NAME=VALUE]... [--record FILE] ADDRESS`: live-migrates
 * a local guest process to a `fragmig receive` listening at ADDRESS; --record writes
 * the pages each harvest found dirty as a trace (docs/trace-format.md).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <stdio.h>

#include "fm-cmd.h"
#include "fm-live.h"
#include "engine/fm-job.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"
#include "util/fm-units.h"

/* The migrate command; returns an exit status. */
int
fm_cmd_migrate(int argc, char **argv)
{
    gint pid = 0;
    g_autofree char *policy_arg = NULL;
    g_autofree char *bandwidth_arg = NULL;
    g_autofree char *downtime_arg = NULL;
    g_autofree char *format_arg = NULL;
    g_autofree char *record_arg = NULL;
    gboolean tls = FALSE;
    g_autofree char *tls_dir = NULL;
    g_autofree char *tls_hostname = NULL;
    g_autoptr(FmTlsCreds) tls_creds = NULL;
    g_autofree char *xen_arg = NULL;
    g_autofree char *ssh_arg = NULL;
    g_auto(GStrv) param_args = NULL;
    gboolean keep_source = FALSE, quiet = FALSE, progress = FALSE, abort_if_busy = FALSE;
    g_autofree char *verify_arg = NULL;
    double timeout = 30;
    g_autoptr(GError) error = NULL;
    g_autoptr(FmParamSet) params = fm_param_set_new();
    g_autoptr(FmReport) report = fm_report_new();
    FmReportFormat format = FM_REPORT_TABLE;
    FmLiveRequest req = { 0 };
    FmReportRow row;
    gboolean ok;
    GOptionEntry entries[] = {
        { "pid", 0, 0, G_OPTION_ARG_INT, &pid,
          N_("the guest process (started by 'fragmig guest')"), "PID" },
        { "xen", 'x', 0, G_OPTION_ARG_STRING, &xen_arg,
          N_("migrate the Xen domain DOMAIN (name or id) to HOST's 'xl migrate-receive'"),
          "DOMAIN" },
        { "ssh-command", 's', 0, G_OPTION_ARG_STRING, &ssh_arg,
          N_("with --xen: run 'COMMAND HOST xl migrate-receive' (default: ssh; empty: HOST is the whole command), as 'xl migrate -s'"),
          "COMMAND" },
        { "policy", 'p', 0, G_OPTION_ARG_STRING, &policy_arg,
          N_("pre-copy policy: xen, xen-classic, qemu or fragment (default)"), "P" },
        { "bandwidth", 'b', 0, G_OPTION_ARG_STRING, &bandwidth_arg,
          N_("limit the link, e.g. 1Gbit, 125MB/s, 1g; a bare number is MiB/s, as in virsh (default: unlimited)"), "B" },
        { "max-downtime", 'd', 0, G_OPTION_ARG_STRING, &downtime_arg,
          N_("downtime target, e.g. 300ms, 1.5s; a bare number is ms, as in virsh (default 300ms)"), "T" },
        { "param", 'P', 0, G_OPTION_ARG_STRING_ARRAY, &param_args,
          N_("set an engine or policy parameter (see 'fragmig policies')"), "NAME=VALUE" },
        { "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &timeout,
          N_("seconds without progress from the destination before giving up (default 30)"), "S" },
        { "abort-if-busy", 0, 0, G_OPTION_ARG_NONE, &abort_if_busy,
          N_("abort before pausing the guest if the predicted downtime exceeds the limit (the guest keeps running here)"), NULL },
        { "verify", 0, 0, G_OPTION_ARG_STRING, &verify_arg,
          N_("what the destination checks: 'pages', the hashes of the pages as sent, costing the pause 8 bytes per page (default); 'full', a digest of the whole paused memory, which also catches a write the dirty log missed"), "pages|full" },
        { "keep-source", 0, 0, G_OPTION_ARG_NONE, &keep_source,
          N_("leave the paused source copy after success instead of ending it"), NULL },
        FM_LIVE_OUTPUT_OPTIONS(format_arg, quiet, progress),
        { "record", 0, 0, G_OPTION_ARG_FILENAME, &record_arg,
          N_("write the pages each harvest of the dirty log found as a trace file"), "FILE" },
        { "tls", 0, 0, G_OPTION_ARG_NONE, &tls,
          N_("encrypt the connection with TLS; both ends prove who they are with x509 certificates (the receiver needs --tls)"), NULL },
        { "tls-dir", 0, 0, G_OPTION_ARG_FILENAME, &tls_dir,
          N_("the TLS credentials: DIR/ca-cert.pem (else /etc/pki/CA/cacert.pem), DIR/client-cert.pem, DIR/client-key.pem, optional DIR/ca-crl.pem (default DIR: /etc/pki/libvirt-migrate)"), "DIR" },
        { "tls-hostname", 0, 0, G_OPTION_ARG_STRING, &tls_hostname,
          N_("the name the destination's certificate must carry (default: the host of ADDRESS)"), "NAME" },
        { NULL, 0, 0, 0, NULL, NULL, NULL }
    };

    if (!fm_cmd_parse_options(&argc, &argv, _("ADDRESS"),
                              _("Live-migrate the guest process PID to the 'fragmig receive' listening at ADDRESS (tcp://HOST:PORT, tcp://[IPv6]:PORT, unix:/PATH). On failure or Ctrl-C the guest keeps running here."), entries))
        return FM_EXIT_USAGE;
    if (quiet && progress)
        return fm_cmd_fail(FM_EXIT_USAGE, _("--quiet and --progress cannot be used together"));
    if (argc != 2)
        return fm_cmd_fail(FM_EXIT_USAGE, _("expected one destination ADDRESS (try 'fragmig migrate --help')"));
    if (xen_arg != NULL && pid != 0)
        return fm_cmd_fail(FM_EXIT_USAGE, _("--pid and --xen cannot be used together"));
    if (xen_arg == NULL && ssh_arg != NULL)
        return fm_cmd_fail(FM_EXIT_USAGE, _("--ssh-command needs --xen"));
    if (xen_arg == NULL && pid <= 0)
        return fm_cmd_fail(FM_EXIT_USAGE, _("--pid PID is required and must be positive"));
    if (!(timeout > 0))
        return fm_cmd_fail(FM_EXIT_USAGE, _("--timeout must be positive"));
    if (!tls && (tls_dir != NULL || tls_hostname != NULL))
        return fm_cmd_fail(FM_EXIT_USAGE, _("--tls-dir and --tls-hostname need --tls"));
    if (tls && xen_arg != NULL)
        return fm_cmd_fail(FM_EXIT_USAGE, _("--tls is for guest processes (--pid); a Xen migration's channel is --ssh-command"));
    if (format_arg && !fm_report_format_parse(format_arg, &format, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", error->message);
    if (verify_arg != NULL && !g_str_equal(verify_arg, "pages") &&
        !g_str_equal(verify_arg, "full")) {
        g_autofree char *quoted = fm_quote(verify_arg, -1);

        return fm_cmd_fail(FM_EXIT_USAGE, _("--verify: %s is neither 'pages' nor 'full'"), quoted);
    }
    if (abort_if_busy)
        fm_param_set_set(params, "abort_if_busy", "1");
    if (!fm_cmd_parse_live_options(policy_arg, bandwidth_arg, downtime_arg, param_args,
                                   &req, params, &error))
        return fm_cmd_fail(FM_EXIT_USAGE, "%s", error->message);

    req.timeout = timeout;
    if (xen_arg != NULL)
        return fm_cmd_migrate_xen(&req, xen_arg, ssh_arg ? ssh_arg : "ssh", argv[1], format);

    if (tls) {
        tls_creds = fm_tls_creds_new(FM_TLS_CLIENT, tls_dir, &error);
        if (tls_creds == NULL)
            return fm_cmd_fail(FM_EXIT_FAILURE, "%s", error->message);
        req.tls = tls_creds;
        req.tls_hostname = tls_hostname;
    }
    req.pid = pid;
    req.address = argv[1];
    req.timeout = timeout;
    req.keep_source = keep_source;
    req.verify_full = verify_arg != NULL && g_str_equal(verify_arg, "full");
    req.progress = fm_live_progress_stream(quiet, progress);
    req.record = record_arg;
    ok = fm_live_migrate(&req, &row, &error);
    fm_report_add(report, &row);
    if (!ok && g_error_matches(error, FM_ERROR, FM_ERROR_IN_DOUBT)) {
        /* committed, then no word from the destination: never two copies */
        return fm_cmd_fail(FM_EXIT_UNKNOWN,
                           _("migration of pid %d: outcome unknown: %s. The destination %s may run the guest; the copy here (pid %d) stays paused and marked handed over. If the guest runs nowhere else, resume it here with: fragmig resume --force --pid %d"),
                           pid, error->message, req.address, pid, pid);
    }
    if (!ok) {
        fm_cmd_fail(FM_EXIT_FAILURE, _("migration of pid %d failed, the guest keeps running here: %s"),
                    pid, error->message);
        return FM_EXIT_FAILURE;
    }
    fm_report_set_command(report, "migrate");
    fm_report_print(report, format, stdout);
    return FM_EXIT_OK;
}
