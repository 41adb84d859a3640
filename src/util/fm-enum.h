/*
 * fm-enum.h: names as data: one table per enum of the names it has on the wire, in
 * JSON, in scenario files and in libvirt's statistics.
 *
 *   FM_ENUM_DECL(fm_job_state, FmJobState);                  (in the header)
 *   FM_ENUM_IMPL(fm_job_state, FmJobState, FM_JOB_STATE_LAST,
 *                "setup", "precopy", ...);                   (in the .c file)
 *
 * declare and define, for an enum whose values run from 0 to LAST - 1:
 *   const char *fm_job_state_to_string(FmJobState value);  static name, NULL if out
 *                                                           of range
 *   int fm_job_state_from_string(const char *name);        the value, -1 if unknown
 *                                                           (or @name is NULL)
 *   char *fm_job_state_names(void);                         "setup, precopy, ..."
 *                                                           (caller frees), for
 *                                                           "known: ..." messages
 * The names are given in the order of the values; the build fails when their
 * number is not LAST.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Returns @names[@value] (static), or NULL when @value is not below @n. */
const char *fm_enum_to_string(const char *const *names, guint n, int value);
/* Returns the index of @name in the @n @names, or -1 (also for a NULL @name). */
int fm_enum_from_string(const char *const *names, guint n, const char *name);
/* Returns the @n @names joined with ", " (caller frees). */
char *fm_enum_join(const char *const *names, guint n);

#define FM_ENUM_DECL(prefix, Type) \
    const char *prefix##_to_string(Type value); \
    int prefix##_from_string(const char *name); \
    char *prefix##_names(void)

#define FM_ENUM_IMPL(prefix, Type, last, ...) \
    static const char *const prefix##_name_table[] = { __VA_ARGS__ }; \
    G_STATIC_ASSERT(G_N_ELEMENTS(prefix##_name_table) == (last)); \
    const char *prefix##_to_string(Type value) \
    { \
        return fm_enum_to_string(prefix##_name_table, (last), (int)value); \
    } \
    int prefix##_from_string(const char *name) \
    { \
        return fm_enum_from_string(prefix##_name_table, (last), name); \
    } \
    char *prefix##_names(void) \
    { \
        return fm_enum_join(prefix##_name_table, (last)); \
    } \
    G_STATIC_ASSERT(sizeof(Type) <= sizeof(int))

G_END_DECLS
