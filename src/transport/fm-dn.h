/*
 * fm-dn.h: the receiver's allow-list of client certificate names (--tls-allowed-dn),
 * matched on parsed distinguished names, never on their escaped text.
 *
 * A pattern is written as RFC 4514 writes a DN, the most specific RDN first:
 * "CN=client?,O=Example,C=GB".  It is parsed into a sequence of RDNs, each a set of
 * ATTRIBUTE=VALUE pairs joined by '+'; a backslash makes the next character literal
 * (',', '+', '=', '\').  ATTRIBUTE is a short name (CN, O, OU, C, L, ST, DC, UID,
 * EMAIL..., any case) or a dotted OID; VALUE is a glob ('*' and '?',
 * g_pattern_match_simple()) over one attribute value, so that it never reaches into
 * another RDN.  An RDN that is only "*" stands for one or more whole RDNs:
 * "*,C=GB" is any DN whose last RDN is C=GB.
 *
 * The certificate side is the DN as GnuTLS parses it (fm-tls.c), one FmDnAva per
 * attribute: a CN whose value is "evil,CN=admin" is one value, and does not match
 * "*,CN=admin".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One attribute of a certificate's DN, as parsed. */
typedef struct {
    const char *oid;    /* dotted OID, "2.5.4.3" */
    const char *name;   /* short name, "CN", or the OID when it has none */
    const char *value;  /* UTF-8, no NUL inside */
} FmDnAva;

/* One RDN of a certificate's DN: @n_avas attributes. */
typedef struct {
    const FmDnAva *avas;
    guint n_avas;
} FmDnRdn;

typedef struct _FmDnPattern FmDnPattern;

/* Parses @text.  Returns the pattern (free with fm_dn_pattern_free()), or NULL with
 * @error (FM_ERROR_INVALID_ARG, quoting @text and saying what is wrong). */
FmDnPattern *fm_dn_pattern_parse(const char *text, GError **error);
void fm_dn_pattern_free(FmDnPattern *pattern);
/* Returns the text the pattern was parsed from (borrowed). */
const char *fm_dn_pattern_text(const FmDnPattern *pattern);

/* Returns TRUE if the DN @rdns (@n_rdns RDNs, the most specific first, as in RFC
 * 4514) matches @pattern. */
gboolean fm_dn_pattern_match(const FmDnPattern *pattern, const FmDnRdn *rdns, guint n_rdns);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmDnPattern, fm_dn_pattern_free)

G_END_DECLS
