/*
 * fm-params.c: knob tables and the user's NAME=VALUE settings.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "engine/fm-params.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"
#include "util/fm-units.h"

/* Settings in the order given; names and values are owned by the set. */
struct _FmParamSet {
    GPtrArray *names;
    GPtrArray *values;
};

FM_ENUM_IMPL(fm_param_type, FmParamType, FM_PARAM_LAST,
             "uint", "double", "bool", "duration", "ratio", "downtime");

/* Returns a new empty set. */
FmParamSet *
fm_param_set_new(void)
{
    FmParamSet *set = g_new0(FmParamSet, 1);

    set->names = g_ptr_array_new_with_free_func(g_free);
    set->values = g_ptr_array_new_with_free_func(g_free);
    return set;
}

/* Returns a deep copy of @set (caller frees). */
FmParamSet *
fm_param_set_copy(const FmParamSet *set)
{
    FmParamSet *copy = fm_param_set_new();

    for (guint i = 0; set && i < set->names->len; i++)
        fm_param_set_set(copy, set->names->pdata[i], set->values->pdata[i]);
    return copy;
}

/* Frees @set; NULL ok. */
void
fm_param_set_free(FmParamSet *set)
{
    if (set == NULL)
        return;
    g_ptr_array_unref(set->names);
    g_ptr_array_unref(set->values);
    g_free(set);
}

/* Returns the index of @name in @set, or -1. */
static int
fm_param_set_find(const FmParamSet *set, const char *name)
{
    for (guint i = 0; i < set->names->len; i++) {
        if (g_str_equal(set->names->pdata[i], name))
            return i;
    }
    return -1;
}

/* Records @name = @value, replacing an earlier setting of @name. */
void
fm_param_set_set(FmParamSet *set, const char *name, const char *value)
{
    int i;

    g_return_if_fail(set != NULL && name != NULL && value != NULL);
    i = fm_param_set_find(set, name);
    if (i >= 0) {
        g_free(set->values->pdata[i]);
        set->values->pdata[i] = g_strdup(value);
        return;
    }
    g_ptr_array_add(set->names, g_strdup(name));
    g_ptr_array_add(set->values, g_strdup(value));
}

/* Records "NAME=VALUE"; FALSE with @error if it is not of that form. */
gboolean
fm_param_set_parse(FmParamSet *set, const char *assignment, GError **error)
{
    const char *eq;
    g_autofree char *name = NULL;

    g_return_val_if_fail(set != NULL && assignment != NULL, FALSE);
    eq = strchr(assignment, '=');
    if (eq == NULL || eq == assignment || eq[1] == '\0') {
        g_autofree char *quoted = fm_quote(assignment, -1);

        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid parameter %s: expected NAME=VALUE"), quoted);
        return FALSE;
    }
    name = g_strndup(assignment, eq - assignment);
    fm_param_set_set(set, name, eq + 1);
    return TRUE;
}

/* Parses @text as a value of @spec into *@out; FALSE with @error naming the
 * parameter if it is malformed or out of bounds. */
static gboolean
fm_param_parse_value(const FmParamSpec *spec, const char *text, double *out,
                     GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autofree char *quoted = fm_quote(text, -1);
    double value = 0;
    char *end = NULL;

    switch (spec->type) {
    case FM_PARAM_UINT: {
        guint64 v;
        if (!g_ascii_isdigit(text[0]) ||
            !g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT32, &v, NULL)) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("parameter %s: %s is not a non-negative integer"),
                        spec->name, quoted);
            return FALSE;
        }
        value = v;
        break;
    }
    case FM_PARAM_DOUBLE:
        value = g_ascii_strtod(text, &end);
        if (end == text || *end != '\0' || !isfinite(value)) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("parameter %s: %s is not a number"), spec->name, quoted);
            return FALSE;
        }
        break;
    case FM_PARAM_BOOL:
        if (g_ascii_strcasecmp(text, "1") == 0 || g_ascii_strcasecmp(text, "true") == 0 ||
            g_ascii_strcasecmp(text, "yes") == 0 || g_ascii_strcasecmp(text, "on") == 0) {
            value = 1;
        } else if (g_ascii_strcasecmp(text, "0") == 0 ||
                   g_ascii_strcasecmp(text, "false") == 0 ||
                   g_ascii_strcasecmp(text, "no") == 0 ||
                   g_ascii_strcasecmp(text, "off") == 0) {
            value = 0;
        } else {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("parameter %s: %s is not a boolean (use 1/0, true/false, yes/no, on/off)"),
                        spec->name, quoted);
            return FALSE;
        }
        break;
    case FM_PARAM_DURATION:
    case FM_PARAM_DOWNTIME:
        if (!fm_units_parse_duration_bare(text,
                                          spec->type == FM_PARAM_DOWNTIME ? FM_UNITS_CLI_DOWNTIME : 1.0,
                                          &value, &local)) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("parameter %s: %s"), spec->name, local->message);
            return FALSE;
        }
        break;
    case FM_PARAM_RATIO:
        if (!fm_units_parse_ratio(text, &value, &local)) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("parameter %s: %s"), spec->name, local->message);
            return FALSE;
        }
        break;
    case FM_PARAM_LAST:
    default:
        g_return_val_if_reached(FALSE);
    }

    if (value < spec->min || value > spec->max) {
        g_autofree char *shown = fm_utf8_safe(text, -1);

        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("parameter %s: %s is out of range [%.15g, %.15g]"),
                    spec->name, shown, spec->min, spec->max);
        return FALSE;
    }
    *out = value;
    return TRUE;
}

/* Looks @name up in @specs; returns it or NULL. */
const FmParamSpec *
fm_param_spec_lookup(const FmParamSpec *specs, const char *name)
{
    for (const FmParamSpec *s = specs; s && s->name; s++) {
        if (g_str_equal(s->name, name))
            return s;
    }
    return NULL;
}

/* Returns the spec of @name in any of @tables, or NULL. */
static const FmParamSpec *
fm_param_tables_lookup(const FmParamSpec *const *tables, const char *name)
{
    for (guint t = 0; tables[t]; t++) {
        const FmParamSpec *spec = fm_param_spec_lookup(tables[t], name);
        if (spec)
            return spec;
    }
    return NULL;
}

/* Checks every setting against @tables; see fm-params.h. */
gboolean
fm_param_set_check(const FmParamSet *set, const FmParamSpec *const *tables,
                   GError **error)
{
    g_return_val_if_fail(set != NULL && tables != NULL, FALSE);

    for (guint i = 0; i < set->names->len; i++) {
        const char *name = set->names->pdata[i];
        const FmParamSpec *spec = fm_param_tables_lookup(tables, name);
        double value;

        if (spec == NULL) {
            g_autoptr(GString) known = g_string_new(NULL);
            for (guint t = 0; tables[t]; t++) {
                for (const FmParamSpec *s = tables[t]; s->name; s++) {
                    /* a knob shared by several modules is listed once */
                    if (fm_param_tables_lookup(tables, s->name) == s)
                        g_string_append_printf(known, "%s%s", known->len ? ", " : "",
                                               s->name);
                }
            }
            g_autofree char *quoted = fm_quote(name, -1);

            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("unknown parameter %s (known: %s)"), quoted, known->str);
            return FALSE;
        }
        if (!fm_param_parse_value(spec, set->values->pdata[i], &value, error))
            return FALSE;
    }
    return TRUE;
}

/* Checks the values of the settings @specs defines; see fm-params.h. */
gboolean
fm_param_set_check_own(const FmParamSet *set, const FmParamSpec *specs, GError **error)
{
    double value;

    g_return_val_if_fail(specs != NULL, FALSE);
    for (guint i = 0; set && i < set->names->len; i++) {
        const FmParamSpec *spec = fm_param_spec_lookup(specs, set->names->pdata[i]);

        if (spec && !fm_param_parse_value(spec, set->values->pdata[i], &value, error))
            return FALSE;
    }
    return TRUE;
}

/* Returns the value of @spec in @set, or its default. */
double
fm_param_set_get(const FmParamSet *set, const FmParamSpec *spec)
{
    double value;
    int i;

    g_return_val_if_fail(spec != NULL, 0);
    if (set == NULL || (i = fm_param_set_find(set, spec->name)) < 0)
        return spec->def;
    if (!fm_param_parse_value(spec, set->values->pdata[i], &value, NULL)) {
        /* fm_param_set_check() was skipped: a programmer error */
        g_critical("parameter %s used without fm_param_set_check()", spec->name);
        return spec->def;
    }
    return value;
}

/* Returns the value of the spec called @name in @specs. */
double
fm_param_set_get_named(const FmParamSet *set, const FmParamSpec *specs, const char *name)
{
    const FmParamSpec *spec = fm_param_spec_lookup(specs, name);

    g_return_val_if_fail(spec != NULL, 0);
    return fm_param_set_get(set, spec);
}

/* Returns the number of settings. */
guint
fm_param_set_length(const FmParamSet *set)
{
    g_return_val_if_fail(set != NULL, 0);
    return set->names->len;
}

/* Returns the @i-th setting (borrowed strings). */
void
fm_param_set_nth(const FmParamSet *set, guint i, const char **name, const char **value)
{
    g_return_if_fail(set != NULL && i < set->names->len);
    *name = set->names->pdata[i];
    *value = set->values->pdata[i];
}
