/*
 * fm-error.h: the GError domain of fragmig.
 *
 * Errors are reported once, where they happen, with a translated message, and the
 * function returns FALSE/-1/NULL.  Callers only add context with g_prefix_error().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FM_ERROR (fm_error_quark())

typedef enum {
    FM_ERROR_FAILED,        /* anything without a better code */
    FM_ERROR_INVALID_ARG,   /* bad command line argument or parameter value */
    FM_ERROR_CONFIG,        /* bad scenario / workload XML */
    FM_ERROR_IO,            /* a system call failed */
    FM_ERROR_PROTOCOL,      /* malformed, truncated or hostile stream */
    FM_ERROR_UNSUPPORTED,   /* the kernel / hypervisor lacks a feature */
    FM_ERROR_CANCELLED,     /* the job was cancelled */
    FM_ERROR_VERIFY,        /* destination memory does not match the source */
    FM_ERROR_LIMIT,         /* a configured limit was exceeded */
    FM_ERROR_IN_DOUBT,      /* after the source committed to a handover, the peer's
                             * answer never came: the outcome is unknown, the source
                             * copy stays paused (docs/stream-format.md §5) */
    FM_ERROR_BUSY,          /* the guest is already being watched or migrated */
} FmErrorCode;

GQuark fm_error_quark(void);

G_END_DECLS
