/*
 * fm-units.h: parsing and printing of sizes, bandwidths, durations and ratios, as
 * written on the command line and in scenario XML.
 *
 * Sizes: "4096", "512K", "512KiB", "4G", "4GiB" (binary multiples; "kB"/"MB"/"GB" are
 * decimal).  Bandwidths: "1Gbit", "100Mbit", "10Gbps", "125MB/s", "1GiB/s", "1g" ->
 * bytes per second.  Durations: "300ms", "20s", "1.5s", "2min", "250us" -> seconds.
 * Units are case-insensitive ("1g" = "1G" = "1GiB"); "MBps" is refused as ambiguous.
 * On the command line bare numbers mean what virsh means: FM_UNITS_CLI_BANDWIDTH
 * (MiB/s) and FM_UNITS_CLI_DOWNTIME (ms), with the _bare() parsers.
 * Ratios: "25%" or "0.25".  All parsers reject trailing garbage, negative numbers,
 * NaN/inf and overflow with a translated FM_ERROR_INVALID_ARG message that quotes the
 * input.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Parses a size into *@bytes; returns FALSE and sets @error on bad input. */
gboolean fm_units_parse_size(const char *text, guint64 *bytes, GError **error);
/* Parses a bandwidth into *@bytes_per_sec (> 0); a bare number is bytes/s. */
gboolean fm_units_parse_bandwidth(const char *text, double *bytes_per_sec, GError **error);
/* Parses a duration into *@seconds (>= 0); a bare number is seconds. */
gboolean fm_units_parse_duration(const char *text, double *seconds, GError **error);

/* virsh's units for bare numbers: migrate --bandwidth (MiB/s) and
 * migrate-setmaxdowntime (ms) */
#define FM_UNITS_CLI_BANDWIDTH 1048576.0
#define FM_UNITS_CLI_DOWNTIME 1e-3
/* As fm_units_parse_bandwidth(), a bare number counting @bare bytes/s. */
gboolean fm_units_parse_bandwidth_bare(const char *text, double bare, double *bytes_per_sec,
                                       GError **error);
/* As fm_units_parse_duration(), a bare number counting @bare seconds. */
gboolean fm_units_parse_duration_bare(const char *text, double bare, double *seconds,
                                      GError **error);
/* Parses "25%" or "0.25" into *@ratio (>= 0, no upper bound here). */
gboolean fm_units_parse_ratio(const char *text, double *ratio, GError **error);

/* Parses a plain decimal number ("12", "0.5", "1e3"; no sign, no blanks, no hex,
 * no nan/inf) into *@value.  Returns FALSE if @text is anything else; *@negative
 * (may be NULL) tells whether it was a well-formed number with a minus sign. */
gboolean fm_units_parse_number(const char *text, double *value, gboolean *negative);

/* Parses a workload rate: a share of the link's page rate ("25%" of @page_rate) or
 * page writes per second ("7600/s"), into *@rate (page writes per second, >= 0).
 * Messages: "invalid rate 'X' (expected ...)", "invalid rate 'X': must not be
 * negative", "invalid rate 'X'", "invalid rate 'X': out of range". */
gboolean fm_units_parse_rate(const char *text, double page_rate, double *rate,
                             GError **error);

/* Each returns a newly allocated human-readable string (caller frees):
 * "1.50 GiB", "1.00 Gbit/s", "1.234 s" / "12.3 ms". */
char *fm_units_format_size(double bytes);
char *fm_units_format_bandwidth(double bytes_per_sec);
char *fm_units_format_duration(double seconds);

G_END_DECLS
