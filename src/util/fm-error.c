/*
 * fm-error.c: the GError domain of fragmig.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "util/fm-error.h"
#include "util/fm-i18n.h"

G_DEFINE_QUARK(fragmig-error-quark, fm_error)

/* Binds the text domain once; safe to call more than once. */
void
fm_i18n_init(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        g_once_init_leave(&done, 1);
    }
}
