/*
 * fm-i18n.h: gettext glue; every user-facing string goes through _() or N_().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <config.h>
#include <glib/gi18n-lib.h>

/* Binds the text domain once; safe to call more than once. */
void fm_i18n_init(void);
