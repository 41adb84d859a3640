/*
 * fm-sink.c: dispatch of the FmSink vtable.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "engine/fm-sink.h"

/* Starts the stream. */
gboolean
fm_sink_begin(FmSink *sink, guint64 page_count, gsize page_size, GError **error)
{
    g_return_val_if_fail(sink != NULL, FALSE);
    return sink->ops->begin(sink, page_count, page_size, error);
}

/* Sends @n pages; the caller keeps @pfns and @data. */
gboolean
fm_sink_send_pages(FmSink *sink, const guint64 *pfns, gsize n, const guint8 *data,
                   GError **error)
{
    g_return_val_if_fail(sink != NULL, FALSE);
    g_return_val_if_fail(n == 0 || (pfns != NULL && data != NULL), FALSE);
    if (n == 0)
        return TRUE;
    return sink->ops->send_pages(sink, pfns, n, data, error);
}

/* Sends one non-page record. */
gboolean
fm_sink_send_record(FmSink *sink, guint32 type, const void *data, gsize len,
                    GError **error)
{
    g_return_val_if_fail(sink != NULL, FALSE);
    g_return_val_if_fail(len == 0 || data != NULL, FALSE);
    return sink->ops->send_record(sink, type, data, len, error);
}

/* Waits until everything sent has left. */
gboolean
fm_sink_flush(FmSink *sink, GError **error)
{
    g_return_val_if_fail(sink != NULL, FALSE);
    return sink->ops->flush(sink, error);
}

/* Ends the stream and waits for the destination's verdict. */
gboolean
fm_sink_finish(FmSink *sink, GError **error)
{
    g_return_val_if_fail(sink != NULL, FALSE);
    return sink->ops->finish(sink, error);
}

/* Tells the destination the migration is abandoned; best effort. */
void
fm_sink_abort(FmSink *sink, const char *reason)
{
    g_return_if_fail(sink != NULL);
    sink->ops->abort(sink, reason);
}

/* Returns the wire bytes sent so far. */
guint64
fm_sink_bytes_sent(const FmSink *sink)
{
    g_return_val_if_fail(sink != NULL, 0);
    return sink->bytes_sent;
}

/* Returns the record vocabulary of send_record. */
FmSinkRecords
fm_sink_get_records(const FmSink *sink)
{
    g_return_val_if_fail(sink != NULL, FM_SINK_RECORDS_NATIVE);
    return sink->ops->records;
}

/* Returns the sink's name (static). */
const char *
fm_sink_get_name(const FmSink *sink)
{
    g_return_val_if_fail(sink != NULL, NULL);
    return sink->ops->name;
}

/* Frees the sink, not its channel; NULL ok. */
void
fm_sink_free(FmSink *sink)
{
    if (sink != NULL)
        sink->ops->free(sink);
}
