/*
 * fm-sink.h: where the engine puts what it sends.
 *
 * A sink is the sending half of a stream codec: the native fragmig stream over an
 * FmChannel (src/stream/fm-native-sink.c), the Xen libxc/libxl v2 stream, or the
 * simulator's virtual link and destination (src/backend/sim/).  The engine calls, in
 * this order: begin, then any number of send_pages / send_record, with flush at the
 * end of every pre-copy round, then finish (after the guest's state), which returns
 * only once the destination has accepted the migration (or failed with its reason).
 *
 * The sink counts bytes_sent (wire bytes, framing included) so that the engine's
 * statistics do not depend on the codec.
 *
 * Channel ownership, the same for every sink: a sink borrows the FmChannel it
 * writes to.  The caller opens the channel, keeps it alive until after
 * fm_sink_free(), and closes it.  The caller needs it anyway: the Xen stream is
 * framed by the `xl migrate` protocol on the same channel, and a running
 * migration's speed limit is the channel's.  A sink may shut the channel's
 * sending side down (the native sink does, after END or ABORT), never close it.
 *
 * What send_record's @type means depends on the sink: each sink declares the
 * record vocabulary it takes (FmSinkRecords), and a backend that writes its
 * guest's state as records checks it (fm_sink_get_records()) instead of
 * recognising sinks by name.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _FmSink FmSink;

/* The record types a sink's send_record takes. */
typedef enum {
    FM_SINK_RECORDS_NATIVE,    /* FmRecordType (stream/fm-stream-format.h) */
    FM_SINK_RECORDS_XEN_LIBXC, /* FmXenLibxcRecordType (stream/fm-xen-format.h) */
} FmSinkRecords;

/* Starts the stream for a guest of @page_count pages of @page_size bytes. */
gboolean fm_sink_begin(FmSink *sink, guint64 page_count, gsize page_size, GError **error);
/* Sends @n pages: @pfns[i] with contents @data + i * page_size.  The sink copies or
 * writes the data before returning; the caller keeps ownership of both arrays. */
gboolean fm_sink_send_pages(FmSink *sink, const guint64 *pfns, gsize n,
                            const guint8 *data, GError **error);
/* Sends one non-page record (@type from fm-stream-format.h) with @len bytes. */
gboolean fm_sink_send_record(FmSink *sink, guint32 type, const void *data, gsize len,
                             GError **error);
/* Returns once everything sent so far has left the sender (end of a round). */
gboolean fm_sink_flush(FmSink *sink, GError **error);
/* Ends the stream and waits for the destination's verdict; FALSE if it refused. */
gboolean fm_sink_finish(FmSink *sink, GError **error);
/* Tells the destination the migration is abandoned (best effort, never fails). */
void fm_sink_abort(FmSink *sink, const char *reason);
/* Returns the bytes put on the wire so far. */
guint64 fm_sink_bytes_sent(const FmSink *sink);
/* Returns the record vocabulary of fm_sink_send_record() on @sink. */
FmSinkRecords fm_sink_get_records(const FmSink *sink);
/* Returns the sink's name for messages ("native", "xen"). */
const char *fm_sink_get_name(const FmSink *sink);
/* Frees the sink (not its channel, which stays the caller's); NULL ok. */
void fm_sink_free(FmSink *sink);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmSink, fm_sink_free)

/* ---- for implementations ---- */

typedef struct {
    const char *name;
    FmSinkRecords records;     /* what send_record's type means; 0: native */
    gboolean (*begin)(FmSink *self, guint64 page_count, gsize page_size, GError **error);
    gboolean (*send_pages)(FmSink *self, const guint64 *pfns, gsize n,
                           const guint8 *data, GError **error);
    gboolean (*send_record)(FmSink *self, guint32 type, const void *data, gsize len,
                            GError **error);
    gboolean (*flush)(FmSink *self, GError **error);
    gboolean (*finish)(FmSink *self, GError **error);
    void (*abort)(FmSink *self, const char *reason);
    void (*free)(FmSink *self);
} FmSinkOps;

/* Embedded first in every implementation; implementations add to bytes_sent. */
struct _FmSink {
    const FmSinkOps *ops;
    guint64 bytes_sent;
};

G_END_DECLS
