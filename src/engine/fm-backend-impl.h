/*
 * fm-backend-impl.h: the backend vtable, for backend implementations only.
 *
 * An implementation embeds FmBackend as its first member and fills an FmBackendOps.
 * Every hook is required except those marked optional (NULL means "not supported").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "engine/fm-backend.h"

G_BEGIN_DECLS

typedef struct {
    const char *name;
    guint64 (*page_count)(FmBackend *self);
    gsize (*page_size)(FmBackend *self);
    gboolean (*log_dirty_enable)(FmBackend *self, GError **error);
    gboolean (*log_dirty_disable)(FmBackend *self, GError **error);
    gboolean (*harvest)(FmBackend *self, FmBitmap *dirty, guint64 first, guint64 count,
                        gboolean clear, GError **error);
    gboolean can_harvest_range;
    gboolean (*read_pages)(FmBackend *self, const guint64 *pfns, gsize n, guint8 *buf,
                           GError **error);
    gboolean (*pause)(FmBackend *self, GError **error);
    gboolean (*resume)(FmBackend *self, GError **error);
    gboolean (*save_state)(FmBackend *self, FmSink *sink, GError **error);
    gboolean (*set_throttle)(FmBackend *self, guint percent, GError **error); /* optional */
    double (*guest_slowdown)(FmBackend *self);                                /* optional */
    gint64 (*now)(FmBackend *self);
    /* Lets @seconds pass with the guest running (optional: a real sleep if NULL). */
    void (*wait)(FmBackend *self, double seconds);
    void (*free)(FmBackend *self);
} FmBackendOps;

struct _FmBackend {
    const FmBackendOps *ops;
};

G_END_DECLS
