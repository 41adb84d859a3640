/*
 * fm-dn.c: the allow-list of certificate names, on parsed DNs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <string.h>

#include "transport/fm-dn.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"

/* Longest pattern, and most RDNs in one: a DN is short. */
#define FM_DN_MAX_TEXT 4096
#define FM_DN_MAX_RDNS 64

typedef struct {
    char *attr;          /* as written, unescaped */
    char *glob;          /* the value's glob, unescaped */
} FmDnPatternAva;

typedef struct {
    gboolean any;        /* "*": one or more whole RDNs */
    GArray *avas;        /* FmDnPatternAva */
} FmDnPatternRdn;

struct _FmDnPattern {
    char *text;
    GArray *rdns;        /* FmDnPatternRdn */
};

/* Frees the members of an FmDnPatternRdn (GArray clear function). */
static void
fm_dn_pattern_rdn_clear(gpointer data)
{
    FmDnPatternRdn *rdn = data;

    if (rdn->avas == NULL)
        return;
    for (guint i = 0; i < rdn->avas->len; i++) {
        FmDnPatternAva *ava = &g_array_index(rdn->avas, FmDnPatternAva, i);

        g_free(ava->attr);
        g_free(ava->glob);
    }
    g_array_unref(rdn->avas);
}

/* Frees @pattern; NULL ok. */
void
fm_dn_pattern_free(FmDnPattern *pattern)
{
    if (pattern == NULL)
        return;
    g_array_unref(pattern->rdns);
    g_free(pattern->text);
    g_free(pattern);
}

/* Returns the pattern's text (borrowed). */
const char *
fm_dn_pattern_text(const FmDnPattern *pattern)
{
    return pattern->text;
}

/* Sets @error for @text with the reason @why; FALSE. */
static gboolean
fm_dn_pattern_fail(GError **error, const char *text, const char *why)
{
    g_autofree char *quoted = fm_quote(text, -1);

    g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                _("invalid distinguished name pattern %s: %s"), quoted, why);
    return FALSE;
}

/* Splits @text at the separators @sep not escaped by a backslash; the parts keep
 * their escapes.  Returns them (caller frees) or NULL for a trailing backslash. */
static GPtrArray *
fm_dn_split(const char *text, char sep)
{
    GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
    const char *start = text;

    for (const char *p = text;; p++) {
        if (*p == '\\') {
            if (p[1] == '\0') {
                g_ptr_array_unref(parts);
                return NULL;
            }
            p++;
            continue;
        }
        if (*p == sep || *p == '\0') {
            g_ptr_array_add(parts, g_strndup(start, (gsize)(p - start)));
            if (*p == '\0')
                break;
            start = p + 1;
        }
    }
    return parts;
}

/* Returns @text with its escapes removed (caller frees). */
static char *
fm_dn_unescape(const char *text)
{
    GString *out = g_string_sized_new(strlen(text));

    for (const char *p = text; *p; p++) {
        if (*p == '\\' && p[1] != '\0')
            p++;
        g_string_append_c(out, *p);
    }
    return g_string_free(out, FALSE);
}

/* Parses one ATTRIBUTE=GLOB (escaped) into @ava; FALSE if there is no '='. */
static gboolean
fm_dn_parse_ava(const char *part, FmDnPatternAva *ava)
{
    const char *eq = NULL;
    g_autofree char *attr = NULL;

    for (const char *p = part; *p; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++;
            continue;
        }
        if (*p == '=') {
            eq = p;
            break;
        }
    }
    if (eq == NULL)
        return FALSE;
    attr = g_strstrip(g_strndup(part, (gsize)(eq - part)));
    if (attr[0] == '\0')
        return FALSE;
    ava->attr = fm_dn_unescape(attr);
    ava->glob = fm_dn_unescape(eq + 1);
    return TRUE;
}

/* Parses @text; see fm-dn.h. */
FmDnPattern *
fm_dn_pattern_parse(const char *text, GError **error)
{
    g_autoptr(FmDnPattern) pattern = g_new0(FmDnPattern, 1);
    g_autoptr(GPtrArray) rdns = NULL;

    g_return_val_if_fail(text != NULL, NULL);

    pattern->text = g_strdup(text);
    pattern->rdns = g_array_new(FALSE, TRUE, sizeof(FmDnPatternRdn));
    g_array_set_clear_func(pattern->rdns, fm_dn_pattern_rdn_clear);
    if (strlen(text) > FM_DN_MAX_TEXT || !g_utf8_validate(text, -1, NULL)) {
        fm_dn_pattern_fail(error, text, _("too long or not UTF-8"));
        return NULL;
    }
    rdns = fm_dn_split(text, ',');
    if (rdns == NULL || rdns->len > FM_DN_MAX_RDNS) {
        fm_dn_pattern_fail(error, text, rdns == NULL ? _("it ends with a backslash")
                                                     : _("too many RDNs"));
        return NULL;
    }
    for (guint i = 0; i < rdns->len; i++) {
        const char *part = g_ptr_array_index(rdns, i);
        FmDnPatternRdn rdn = { FALSE, NULL };
        g_autoptr(GPtrArray) avas = NULL;

        if (g_str_equal(part, "*")) {
            rdn.any = TRUE;
            g_array_append_val(pattern->rdns, rdn);
            continue;
        }
        avas = fm_dn_split(part, '+');
        rdn.avas = g_array_new(FALSE, TRUE, sizeof(FmDnPatternAva));
        g_array_append_val(pattern->rdns, rdn);
        for (guint j = 0; j < avas->len; j++) {
            FmDnPatternAva ava = { NULL, NULL };

            if (!fm_dn_parse_ava(g_ptr_array_index(avas, j), &ava)) {
                g_autofree char *why = g_strdup_printf(_("RDN %u is not ATTRIBUTE=VALUE (or *)"),
                                                       i + 1);

                fm_dn_pattern_fail(error, text, why);
                return NULL;
            }
            g_array_append_val(rdn.avas, ava);
        }
    }
    return g_steal_pointer(&pattern);
}

/* Returns TRUE if the pattern attribute @p matches the certificate's @ava. */
static gboolean
fm_dn_ava_match(const FmDnPatternAva *p, const FmDnAva *ava)
{
    if (ava->value == NULL)
        return FALSE;        /* not text: nothing to compare */
    if (g_ascii_strcasecmp(p->attr, ava->name) != 0 && g_strcmp0(p->attr, ava->oid) != 0)
        return FALSE;
    return g_pattern_match_simple(p->glob, ava->value);
}

/* Returns TRUE if the pattern RDN @p (not "*") matches the certificate's @rdn: the
 * same number of attributes, each pattern attribute matching a distinct one. */
static gboolean
fm_dn_rdn_match(const FmDnPatternRdn *p, const FmDnRdn *rdn)
{
    guint64 used = 0;

    if (p->avas->len != rdn->n_avas || rdn->n_avas > 64)
        return FALSE;
    for (guint i = 0; i < p->avas->len; i++) {
        gboolean found = FALSE;

        for (guint j = 0; j < rdn->n_avas && !found; j++) {
            if (!(used & (G_GUINT64_CONSTANT(1) << j)) &&
                fm_dn_ava_match(&g_array_index(p->avas, FmDnPatternAva, i), &rdn->avas[j])) {
                used |= G_GUINT64_CONSTANT(1) << j;
                found = TRUE;
            }
        }
        if (!found)
            return FALSE;
    }
    return TRUE;
}

/* Matches pattern RDNs from @pi on against DN RDNs from @di on.  @failed
 * remembers the (pi, di) pairs already known not to match, so that a pattern of
 * many "*" costs at most (pattern RDNs x DN RDNs) steps. */
static gboolean
fm_dn_match_from(const FmDnPattern *pattern, guint pi, const FmDnRdn *rdns, guint n,
                 guint di, guint8 *failed)
{
    const FmDnPatternRdn *p;
    gboolean ok = FALSE;

    if (pi == pattern->rdns->len)
        return di == n;
    if (failed[pi * (n + 1) + di])
        return FALSE;
    p = &g_array_index(pattern->rdns, FmDnPatternRdn, pi);
    if (p->any) {
        for (guint k = di + 1; k <= n && !ok; k++)
            ok = fm_dn_match_from(pattern, pi + 1, rdns, n, k, failed);
    } else {
        ok = di < n && fm_dn_rdn_match(p, &rdns[di]) &&
             fm_dn_match_from(pattern, pi + 1, rdns, n, di + 1, failed);
    }
    if (!ok)
        failed[pi * (n + 1) + di] = 1;
    return ok;
}

/* Matches a DN against @pattern; see fm-dn.h. */
gboolean
fm_dn_pattern_match(const FmDnPattern *pattern, const FmDnRdn *rdns, guint n_rdns)
{
    g_autofree guint8 *failed = NULL;

    g_return_val_if_fail(pattern != NULL, FALSE);
    if (n_rdns > FM_DN_MAX_RDNS)
        return FALSE;
    failed = g_new0(guint8, (pattern->rdns->len + 1) * (n_rdns + 1));
    return fm_dn_match_from(pattern, 0, rdns, n_rdns, 0, failed);
}
