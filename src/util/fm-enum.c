/*
 * fm-enum.c: the lookups behind FM_ENUM_IMPL.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "util/fm-enum.h"

#include <string.h>

/* Returns the static name of @value, or NULL if out of range. */
const char *
fm_enum_to_string(const char *const *names, guint n, int value)
{
    if (value < 0 || (guint)value >= n)
        return NULL;
    return names[value];
}

/* Returns the value called @name, or -1. */
int
fm_enum_from_string(const char *const *names, guint n, const char *name)
{
    if (name == NULL)
        return -1;
    for (guint i = 0; i < n; i++) {
        if (names[i] != NULL && strcmp(names[i], name) == 0)
            return (int)i;
    }
    return -1;
}

/* Returns the names joined with ", " (caller frees). */
char *
fm_enum_join(const char *const *names, guint n)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < n; i++) {
        if (names[i] == NULL || names[i][0] == '\0')
            continue;
        g_string_append_printf(out, "%s%s", out->len ? ", " : "", names[i]);
    }
    return g_string_free(out, FALSE);
}
