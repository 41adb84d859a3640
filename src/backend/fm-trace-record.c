/*
 * fm-trace-record.c: recording a backend's dirty log as a trace.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "backend/fm-trace-record.h"

#include <math.h>

/* Returns TRUE if *@stop is set (NULL: never). */
static gboolean
fm_trace_record_stopped(const gint *stop)
{
    return stop != NULL && g_atomic_int_get(stop) != 0;
}

/* Harvests everything into @dirty (cleared first) and writes it at the backend's
 * time since @t0, one nanosecond after the previous interval at least (a clock
 * that did not move, such as a simulation's, still gives a valid trace). */
static gboolean
fm_trace_record_harvest(FmBackend *backend, FmTraceWriter *writer, FmBitmap *dirty,
                        gint64 t0, GError **error)
{
    gint64 now;
    guint64 t;

    fm_bitmap_clear_all(dirty);
    if (!fm_backend_harvest(backend, dirty, 0, fm_bitmap_size(dirty), TRUE, error))
        return FALSE;
    now = fm_backend_now(backend) - t0;
    t = now > 0 ? (guint64)now : 0;
    t = MAX(t, fm_trace_writer_last_time(writer) + 1);
    return fm_trace_writer_add_bitmap(writer, t, dirty, error);
}

/* Records the dirty log into @writer; see fm-trace-record.h. */
gboolean
fm_trace_record(FmBackend *backend, FmTraceWriter *writer, double duration,
                double interval, const gint *stop, GError **error)
{
    g_autoptr(FmBitmap) dirty = NULL;
    g_autoptr(GError) local = NULL;
    gint64 start_us, end_us, t0;
    gboolean ok = TRUE;

    g_return_val_if_fail(backend != NULL && writer != NULL, FALSE);
    g_return_val_if_fail(interval > 0 && duration >= 0 && isfinite(duration), FALSE);

    dirty = fm_bitmap_new(fm_backend_page_count(backend));
    if (!fm_backend_log_dirty_enable(backend, error))
        return FALSE;
    t0 = fm_backend_now(backend);
    start_us = g_get_monotonic_time();
    end_us = start_us + (gint64)llround(duration * 1e6);

    for (guint64 k = 1; ok; k++) {
        gint64 due = MIN(start_us + (gint64)llround(k * interval * 1e6), end_us);
        gint64 now;

        /* Sleep until the harvest is due, in slices, so that a stop is seen soon;
         * harvest times are absolute, so the intervals do not drift. */
        while ((now = g_get_monotonic_time()) < due && !fm_trace_record_stopped(stop))
            g_usleep((gulong)MIN(due - now, (gint64)(FM_TRACE_RECORD_POLL * 1e6)));
        ok = fm_trace_record_harvest(backend, writer, dirty, t0, error);
        if (now >= end_us || fm_trace_record_stopped(stop))
            break;
    }

    /* The guest's tracking stays usable for whoever comes next. */
    if (!fm_backend_log_dirty_disable(backend, ok ? error : &local))
        ok = FALSE;
    return ok;
}
