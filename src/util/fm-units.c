/*
 * fm-units.c: parsing and printing of sizes, bandwidths, durations and ratios.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>
#include "util/fm-units.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"

/*
 * Accepted syntax, the same for every kind:
 *
 *   NUMBER [SPACES] [UNIT]
 *
 * NUMBER is decimal digits with an optional fraction and an optional exponent
 * ("4", "1.5", ".5", "2e3"); no sign, no hexadecimal, no "nan"/"inf".  Spaces
 * between the number and the unit are allowed ("10 GiB"), so that what the format
 * functions print parses back; leading and trailing whitespace is not.  Units are
 * matched without regard to case, as virsh does ("1g", "1G", "1GiB", "1gib"):
 * where case alone would tell bits from bytes, the table spells the difference
 * out ("Mbit"/"Mbps" are bits, "MB/s" bytes), and "MBps", which people write for
 * both, is refused as ambiguous.  A bare number is in the base unit (bytes, bytes
 * per second, seconds, a plain fraction) unless the caller names another, as the
 * command line does for virsh's: bandwidths in MiB/s, downtimes in ms.
 */

typedef struct {
    const char *name;
    double factor;         /* base units per unit */
} FmUnit;

typedef enum {
    FM_UNITS_SIZE,
    FM_UNITS_BANDWIDTH,
    FM_UNITS_DURATION,
    FM_UNITS_RATIO,
} FmUnitsKind;

/* Sizes: binary multiples unless the unit says "kB"/"MB"/... (SI).  Factors up to
 * 2^50 are exact in a double. */
static const FmUnit size_units[] = {
    { "", 1.0 }, { "B", 1.0 },
    { "K", 1024.0 }, { "KiB", 1024.0 },
    { "M", 1048576.0 }, { "MiB", 1048576.0 },
    { "G", 1073741824.0 }, { "GiB", 1073741824.0 },
    { "T", 1099511627776.0 }, { "TiB", 1099511627776.0 },
    { "P", 1125899906842624.0 }, { "PiB", 1125899906842624.0 },
    { "kB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { "TB", 1e12 }, { "PB", 1e15 },
    { NULL, 0 }
};

/* Bandwidths in bytes per second.  Network rates in bits are SI ("1Gbit" =
 * 10^9 bit/s = 125 MB/s); "K" is accepted as a common spelling of "k". */
static const FmUnit bandwidth_units[] = {
    { "", 1.0 }, { "B/s", 1.0 },
    { "kB/s", 1e3 }, { "KB/s", 1e3 }, { "MB/s", 1e6 }, { "GB/s", 1e9 },
    { "TB/s", 1e12 },
    { "KiB/s", 1024.0 }, { "MiB/s", 1048576.0 }, { "GiB/s", 1073741824.0 },
    { "TiB/s", 1099511627776.0 },
    /* virsh's sizes per second: "1g" is 1 GiB/s */
    { "K", 1024.0 }, { "M", 1048576.0 }, { "G", 1073741824.0 }, { "T", 1099511627776.0 },
    { "KiB", 1024.0 }, { "MiB", 1048576.0 }, { "GiB", 1073741824.0 },
    { "bit", 0.125 }, { "bit/s", 0.125 }, { "bps", 0.125 },
    { "kbit", 125.0 }, { "kbit/s", 125.0 }, { "kbps", 125.0 },
    { "Kbit", 125.0 }, { "Kbit/s", 125.0 }, { "Kbps", 125.0 },
    { "Mbit", 125e3 }, { "Mbit/s", 125e3 }, { "Mbps", 125e3 },
    { "Gbit", 125e6 }, { "Gbit/s", 125e6 }, { "Gbps", 125e6 },
    { "Tbit", 125e9 }, { "Tbit/s", 125e9 }, { "Tbps", 125e9 },
    { NULL, 0 }
};

static const FmUnit duration_units[] = {
    { "", 1.0 }, { "s", 1.0 },
    { "ms", 1e-3 }, { "us", 1e-6 }, { "\xc2\xb5s", 1e-6 }, { "ns", 1e-9 },
    { "min", 60.0 }, { "h", 3600.0 },
    { NULL, 0 }
};

static const FmUnit ratio_units[] = {
    { "", 1.0 }, { "%", 0.01 },
    { NULL, 0 }
};

/* Returns the unit table of @kind (static). */
static const FmUnit *
fm_units_table(FmUnitsKind kind)
{
    switch (kind) {
    case FM_UNITS_SIZE:
        return size_units;
    case FM_UNITS_BANDWIDTH:
        return bandwidth_units;
    case FM_UNITS_DURATION:
        return duration_units;
    case FM_UNITS_RATIO:
        break;
    }
    return ratio_units;
}

/* Returns the list of units shown when a unit is unknown (static, not translated:
 * unit symbols are the same in every language). */
static const char *
fm_units_hint(FmUnitsKind kind)
{
    switch (kind) {
    case FM_UNITS_SIZE:
        return "B, KiB, MiB, GiB, TiB, kB, MB, GB, TB";
    case FM_UNITS_BANDWIDTH:
        return "bit/s, kbit, Mbit, Gbit, Mbps, Gbps, B/s, MB/s, GB/s, K, M, G, MiB/s, GiB/s";
    case FM_UNITS_DURATION:
        return "ns, us, ms, s, min, h";
    case FM_UNITS_RATIO:
        break;
    }
    return "%";
}

/* Sets @error to "invalid KIND 'TEXT'" followed, when @reason is not NULL, by
 * ": REASON".  Always returns FALSE, for tail calls. */
static gboolean
fm_units_fail(GError **error, FmUnitsKind kind, const char *text, const char *reason)
{
    g_autofree char *head = NULL;
    g_autofree char *quoted = fm_quote(text, -1);

    switch (kind) {
    case FM_UNITS_SIZE:
        head = g_strdup_printf(_("invalid size %s"), quoted);
        break;
    case FM_UNITS_BANDWIDTH:
        head = g_strdup_printf(_("invalid bandwidth %s"), quoted);
        break;
    case FM_UNITS_DURATION:
        head = g_strdup_printf(_("invalid duration %s"), quoted);
        break;
    case FM_UNITS_RATIO:
        head = g_strdup_printf(_("invalid ratio %s"), quoted);
        break;
    }

    if (reason)
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG, "%s: %s", head, reason);
    else
        g_set_error_literal(error, FM_ERROR, FM_ERROR_INVALID_ARG, head);
    return FALSE;
}

/*
 * Splits @text into a number and a unit of @kind.  On success returns TRUE with
 * *@value the number times the unit's factor, *@factor the factor, and, when the
 * number is a plain digit string, *@integer set and *@ivalue its exact value (so
 * that byte counts beyond 2^53 stay exact).  On failure sets @error and returns
 * FALSE.
 */
static gboolean
fm_units_scan(const char *text, FmUnitsKind kind, double bare, double *value, double *factor,
              gboolean *integer, guint64 *ivalue, GError **error)
{
    const char *p = text;
    const char *num_start;
    const char *unit;
    const FmUnit *u;
    g_autofree char *num = NULL;
    gboolean negative = FALSE;
    gboolean digits = FALSE;
    double number;

    if (*text == '\0')
        return fm_units_fail(error, kind, text, _("empty"));
    if (g_ascii_isspace(text[0]) || g_ascii_isspace(text[strlen(text) - 1]))
        return fm_units_fail(error, kind, text, _("unexpected whitespace"));

    if (*p == '-') {
        negative = TRUE;
        p++;
    }
    num_start = p;
    *integer = TRUE;
    while (g_ascii_isdigit(*p)) {
        p++;
        digits = TRUE;
    }
    if (*p == '.') {
        *integer = FALSE;
        p++;
        while (g_ascii_isdigit(*p)) {
            p++;
            digits = TRUE;
        }
    }
    if (!digits)
        return fm_units_fail(error, kind, text, NULL);
    /* An exponent only when digits follow: "1e" is the number 1 and the unit "e". */
    if ((*p == 'e' || *p == 'E') &&
        (g_ascii_isdigit(p[1]) ||
         ((p[1] == '+' || p[1] == '-') && g_ascii_isdigit(p[2])))) {
        *integer = FALSE;
        p += 2;
        while (g_ascii_isdigit(*p))
            p++;
    }
    num = g_strndup(num_start, p - num_start);

    unit = p;
    while (*unit == ' ')
        unit++;
    if (kind == FM_UNITS_BANDWIDTH && g_str_has_suffix(unit, "Bps")) {
        g_autofree char *quoted = fm_quote(unit, -1);
        g_autofree char *reason =
            g_strdup_printf(_("ambiguous unit %s: write MB/s for bytes or Mbit/s for bits"), quoted);
        return fm_units_fail(error, kind, text, reason);
    }
    for (u = fm_units_table(kind); u->name; u++) {
        if (g_ascii_strcasecmp(u->name, unit) == 0)
            break;
    }
    if (!u->name) {
        g_autofree char *quoted = fm_quote(unit, -1);
        g_autofree char *reason = NULL;
        const FmUnit *b = fm_units_table(kind) + 1;

        /* name what a bare number means where it is not the base unit */
        while (b->name && (bare == 1.0 || b->factor != bare))
            b++;
        if (b->name)
            reason = g_strdup_printf(_("unknown unit %s (expected %s, or a bare number of %s)"),
                                     quoted, fm_units_hint(kind), b->name);
        else
            reason = g_strdup_printf(_("unknown unit %s (expected %s)"), quoted,
                                     fm_units_hint(kind));
        return fm_units_fail(error, kind, text, reason);
    }
    if (negative)
        return fm_units_fail(error, kind, text, _("must not be negative"));

    errno = 0;
    number = g_ascii_strtod(num, NULL);
    if (errno == ERANGE && isinf(number))
        return fm_units_fail(error, kind, text, _("out of range"));
    if (*integer) {
        errno = 0;
        *ivalue = g_ascii_strtoull(num, NULL, 10);
        if (errno == ERANGE)
            return fm_units_fail(error, kind, text, _("out of range"));
    }

    *factor = *unit ? u->factor : bare;
    *value = number * *factor;
    if (!isfinite(*value))
        return fm_units_fail(error, kind, text, _("out of range"));
    return TRUE;
}

/* Returns TRUE with *@bytes set, or FALSE with @error set (see the header). */
gboolean
fm_units_parse_size(const char *text, guint64 *bytes, GError **error)
{
    double value;
    double factor;
    gboolean integer;
    guint64 ivalue = 0;

    g_return_val_if_fail(text != NULL, FALSE);
    g_return_val_if_fail(bytes != NULL, FALSE);

    if (!fm_units_scan(text, FM_UNITS_SIZE, 1.0, &value, &factor, &integer, &ivalue, error))
        return FALSE;

    if (integer) {
        /* Every size factor is a whole number that a double holds exactly. */
        guint64 mult = (guint64) factor;

        if (ivalue > G_MAXUINT64 / mult)
            return fm_units_fail(error, FM_UNITS_SIZE, text, _("out of range"));
        *bytes = ivalue * mult;
        return TRUE;
    }

    /* 2^64 is exact in a double; anything at or above it does not fit. */
    if (value >= 18446744073709551616.0)
        return fm_units_fail(error, FM_UNITS_SIZE, text, _("out of range"));
    if (value != floor(value))
        return fm_units_fail(error, FM_UNITS_SIZE, text, _("not a whole number of bytes"));
    *bytes = (guint64) value;
    return TRUE;
}

/* Returns TRUE with *@bytes_per_sec set (> 0), a bare number counting @bare bytes
 * per second, or FALSE with @error set. */
gboolean
fm_units_parse_bandwidth_bare(const char *text, double bare, double *bytes_per_sec,
                              GError **error)
{
    double value;
    double factor;
    gboolean integer;
    guint64 ivalue;

    g_return_val_if_fail(text != NULL, FALSE);
    g_return_val_if_fail(bytes_per_sec != NULL, FALSE);
    g_return_val_if_fail(bare > 0, FALSE);

    if (!fm_units_scan(text, FM_UNITS_BANDWIDTH, bare, &value, &factor, &integer, &ivalue,
                       error))
        return FALSE;
    /* A link that moves nothing makes every migration time infinite. */
    if (value <= 0)
        return fm_units_fail(error, FM_UNITS_BANDWIDTH, text, _("must be positive"));
    *bytes_per_sec = value;
    return TRUE;
}

/* Returns TRUE with *@bytes_per_sec set (> 0), or FALSE with @error set. */
gboolean
fm_units_parse_bandwidth(const char *text, double *bytes_per_sec, GError **error)
{
    return fm_units_parse_bandwidth_bare(text, 1.0, bytes_per_sec, error);
}

/* Returns TRUE with *@seconds set (>= 0), a bare number counting @bare seconds, or
 * FALSE with @error set. */
gboolean
fm_units_parse_duration_bare(const char *text, double bare, double *seconds, GError **error)
{
    double value;
    double factor;
    gboolean integer;
    guint64 ivalue;

    g_return_val_if_fail(text != NULL, FALSE);
    g_return_val_if_fail(seconds != NULL, FALSE);
    g_return_val_if_fail(bare > 0, FALSE);

    if (!fm_units_scan(text, FM_UNITS_DURATION, bare, &value, &factor, &integer, &ivalue,
                       error))
        return FALSE;
    *seconds = value;
    return TRUE;
}

/* Returns TRUE with *@seconds set (>= 0), or FALSE with @error set. */
gboolean
fm_units_parse_duration(const char *text, double *seconds, GError **error)
{
    return fm_units_parse_duration_bare(text, 1.0, seconds, error);
}

/* Returns TRUE with *@ratio set (>= 0), or FALSE with @error set. */
gboolean
fm_units_parse_ratio(const char *text, double *ratio, GError **error)
{
    double value;
    double factor;
    gboolean integer;
    guint64 ivalue;

    g_return_val_if_fail(text != NULL, FALSE);
    g_return_val_if_fail(ratio != NULL, FALSE);

    if (!fm_units_scan(text, FM_UNITS_RATIO, 1.0, &value, &factor, &integer, &ivalue, error))
        return FALSE;
    *ratio = value;
    return TRUE;
}

/*
 * Returns "VALUE UNIT" (newly allocated) for @value in base units, using the largest
 * of @units (ascending factors, @n entries) that keeps the printed number >= 1.
 * The first unit (bytes, bits) is printed without decimals, the others with two.
 * Locale-independent, so that the output parses back.
 */
/* Parses a plain decimal number; see fm-units.h. */
gboolean
fm_units_parse_number(const char *text, double *value, gboolean *negative)
{
    const char *p = text[0] == '-' ? text + 1 : text;
    char *end = NULL;
    double v;

    if (negative)
        *negative = FALSE;
    /* strtod alone would also take " 5", "+5", "0x10", "nan" and "inf". */
    if (!g_ascii_isdigit(*p) && !(*p == '.' && g_ascii_isdigit(p[1])))
        return FALSE;
    for (const char *q = p; *q; q++) {
        if (!g_ascii_isdigit(*q) && !strchr(".eE+-", *q))
            return FALSE;
    }
    v = g_ascii_strtod(p, &end);
    if (!end || *end != '\0' || !isfinite(v))
        return FALSE;
    if (p != text) {
        if (negative)
            *negative = TRUE;
        return FALSE;
    }
    *value = v;
    return TRUE;
}

/* Parses a workload rate; see fm-units.h. */
gboolean
fm_units_parse_rate(const char *text, double page_rate, double *rate, GError **error)
{
    gsize len = strlen(text);
    g_autofree char *number = NULL;
    g_autofree char *quoted = fm_quote(text, -1);
    gboolean negative;
    double scale;
    double value;

    if (g_str_has_suffix(text, "%")) {
        number = g_strndup(text, len - 1);
        scale = page_rate / 100.0;
    } else if (g_str_has_suffix(text, "/s")) {
        number = g_strndup(text, len - 2);
        scale = 1.0;
    } else {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid rate %s (expected a share of the link's page rate such as '25%%', or page writes per second such as '7600/s')"),
                    quoted);
        return FALSE;
    }
    if (!fm_units_parse_number(number, &value, &negative)) {
        if (negative)
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("invalid rate %s: must not be negative"), quoted);
        else
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG, _("invalid rate %s"), quoted);
        return FALSE;
    }
    *rate = value * scale;
    if (!isfinite(*rate)) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid rate %s: out of range"), quoted);
        return FALSE;
    }
    return TRUE;
}

static char *
fm_units_format(double value, const FmUnit *units, guint n)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    double mag = fabs(value);
    guint i = 0;

    if (isnan(value))
        return g_strdup_printf("nan %s", units[0].name);
    if (isinf(value))
        return g_strdup_printf("%s %s", value < 0 ? "-inf" : "inf", units[0].name);

    /* Move up while what would be printed reaches the next unit, so that
     * 1048575.9 bytes print as "1.00 MiB" and not "1024.00 KiB". */
    while (i + 1 < n) {
        double scale = i == 0 ? 1.0 : 100.0;
        double shown = round(mag / units[i].factor * scale) / scale;

        if (shown * units[i].factor < units[i + 1].factor)
            break;
        i++;
    }

    g_ascii_formatd(buf, sizeof(buf), i == 0 ? "%.0f" : "%.2f", value / units[i].factor);
    return g_strdup_printf("%s %s", buf, units[i].name);
}

/* Returns e.g. "1.50 GiB" (caller frees). */
char *
fm_units_format_size(double bytes)
{
    static const FmUnit units[] = {
        { "B", 1.0 }, { "KiB", 1024.0 }, { "MiB", 1048576.0 },
        { "GiB", 1073741824.0 }, { "TiB", 1099511627776.0 },
        { "PiB", 1125899906842624.0 },
    };

    return fm_units_format(bytes, units, G_N_ELEMENTS(units));
}

/* Returns e.g. "1.00 Gbit/s" (caller frees). */
char *
fm_units_format_bandwidth(double bytes_per_sec)
{
    static const FmUnit units[] = {
        { "bit/s", 0.125 }, { "kbit/s", 125.0 }, { "Mbit/s", 125e3 },
        { "Gbit/s", 125e6 }, { "Tbit/s", 125e9 },
    };

    return fm_units_format(bytes_per_sec, units, G_N_ELEMENTS(units));
}

/* Returns e.g. "1.234 s", "12.3 ms", "250.0 us" (caller frees). */
char *
fm_units_format_duration(double seconds)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    double mag = fabs(seconds);

    if (seconds == 0)
        return g_strdup("0 s");
    if (isnan(seconds))
        return g_strdup("nan s");
    if (isinf(seconds))
        return g_strdup(seconds < 0 ? "-inf s" : "inf s");
    /* Seconds get three decimals and the smaller units one, so the cut-offs are
     * where those roundings reach the next unit. */
    if (mag >= 0.9995) {
        g_ascii_formatd(buf, sizeof(buf), "%.3f", seconds);
        return g_strdup_printf("%s s", buf);
    }
    if (mag >= 0.00099995) {
        g_ascii_formatd(buf, sizeof(buf), "%.1f", seconds * 1e3);
        return g_strdup_printf("%s ms", buf);
    }
    g_ascii_formatd(buf, sizeof(buf), "%.1f", seconds * 1e6);
    return g_strdup_printf("%s us", buf);
}
