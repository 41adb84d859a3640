/*
 * fm-params.h: the knobs of the engine and of each policy.
 *
 * Each module declares its knobs in a table of FmParamSpec (name, type, default,
 * bounds, translated blurb), terminated by an entry with name == NULL.  The user's
 * "NAME=VALUE" settings (command line --param, scenario <param>, libvirt
 * fragmented.NAME) are collected in an FmParamSet, checked against the tables of the
 * modules that will run, and read back through a spec so that the default lives in
 * one place only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "util/fm-enum.h"

G_BEGIN_DECLS

typedef enum {
    FM_PARAM_UINT,      /* non-negative integer */
    FM_PARAM_DOUBLE,    /* real number */
    FM_PARAM_BOOL,      /* 0/1, true/false, yes/no, on/off */
    FM_PARAM_DURATION,  /* seconds; accepts units: "300ms", "2min" */
    FM_PARAM_RATIO,     /* "50%" or "0.5" */
    FM_PARAM_DOWNTIME,  /* seconds, as FM_PARAM_DURATION, but a bare number is ms,
                         * as virsh's migrate-setmaxdowntime takes it */
    FM_PARAM_LAST
} FmParamType;

typedef struct {
    const char *name;
    FmParamType type;
    double def;
    double min;
    double max;
    const char *blurb;  /* N_()-marked; translated when printed */
} FmParamSpec;

typedef struct _FmParamSet FmParamSet;

/* Returns a new, empty set (every knob at its default). */
FmParamSet *fm_param_set_new(void);
/* Returns a deep copy of @set. */
FmParamSet *fm_param_set_copy(const FmParamSet *set);
/* Frees @set; NULL ok. */
void fm_param_set_free(FmParamSet *set);

/* Records NAME=VALUE (a later setting of the same name wins).  Only the syntax
 * "NAME=VALUE" is checked here; see fm_param_set_check(). */
gboolean fm_param_set_parse(FmParamSet *set, const char *assignment, GError **error);
/* Records @name = @value. */
void fm_param_set_set(FmParamSet *set, const char *name, const char *value);

/* Checks every recorded name against @tables (a NULL-terminated array of spec tables)
 * and every value against its spec's type and bounds.  Returns FALSE with a message
 * naming the parameter on the first problem. */
gboolean fm_param_set_check(const FmParamSet *set, const FmParamSpec *const *tables,
                            GError **error);

/* Checks the values of the settings in @set whose names @specs defines, ignoring
 * the others (they belong to other modules, which check them).  Returns FALSE with a
 * message naming the parameter on the first bad value. */
gboolean fm_param_set_check_own(const FmParamSet *set, const FmParamSpec *specs,
                                GError **error);

/* Returns the value of @spec in @set, or spec->def when it was not set.  The set
 * must have passed fm_param_set_check() for a table holding @spec. */
double fm_param_set_get(const FmParamSet *set, const FmParamSpec *spec);
/* Looks @name up in @specs; returns the spec or NULL. */
const FmParamSpec *fm_param_spec_lookup(const FmParamSpec *specs, const char *name);
/* Shorthand: fm_param_set_get() of the spec called @name in @specs (which must exist). */
double fm_param_set_get_named(const FmParamSet *set, const FmParamSpec *specs,
                              const char *name);

/* Returns the number of recorded settings, and the i-th name/value (borrowed). */
guint fm_param_set_length(const FmParamSet *set);
void fm_param_set_nth(const FmParamSet *set, guint i, const char **name, const char **value);

/* Returns the name of @type ("uint", "duration", ...). */
FM_ENUM_DECL(fm_param_type, FmParamType);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmParamSet, fm_param_set_free)

G_END_DECLS
