/*
 * fm-trace-record.h: recording a backend's dirty log as a trace (`fragmig record`,
 * docs/trace-format.md section 6).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "engine/fm-backend.h"
#include "trace/fm-trace.h"

G_BEGIN_DECLS

/* Longest sleep between two looks at the stop flag, seconds. */
#define FM_TRACE_RECORD_POLL 0.05

/* Records the dirty log of @backend's guest into @writer (made for the backend's
 * page size and count; programmer error otherwise): enables log-dirty, then every
 * @interval seconds (> 0) of real time harvests the whole log (get and clear) and
 * writes it as one interval, timed on the backend's clock in nanoseconds since
 * log-dirty was enabled, until @duration seconds have passed or *@stop (may be NULL;
 * read atomically, e.g. set by a signal handler) becomes non-zero; then disables
 * log-dirty.  The last harvest is taken once @duration has passed, or at the stop.
 * Does not finish the writer.  Returns TRUE, or FALSE with @error set (from the backend or the
 * writer); the writer then holds the intervals recorded so far. */
gboolean fm_trace_record(FmBackend *backend, FmTraceWriter *writer, double duration,
                         double interval, const gint *stop, GError **error);

G_END_DECLS
