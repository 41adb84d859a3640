/*
 * fm-native-sink.c: the FmSink that sends the native fragmig stream on an FmChannel.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "stream/fm-stream.h"

#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"

/* How long, after a failed write, to look for the destination's reason. */
#define FM_NATIVE_SINK_REPLY_GRACE 1.0
/* Longest wait for the peer while sending ABORT: it is best effort. */
#define FM_NATIVE_SINK_ABORT_TIMEOUT 2.0

typedef struct {
    FmSink parent;
    FmChannel *channel;        /* borrowed (fm-sink.h) */
    FmStreamWriter *writer;    /* on channel */
    guint32 round;             /* number of the next ROUND_END */
    gboolean done;             /* END or ABORT sent, or the destination answered */
    FmHandoverFunc handover;   /* commits (and releases) the source's copy; NULL: no
                                * handover, END straight away */
    gpointer handover_data;
    double handover_seconds;   /* READY received to RESULT read */
} FmNativeSink;

static const FmSinkOps fm_native_sink_ops;

/* Returns @sink as a native sink; NULL (and a critical) if it is another kind. */
static FmNativeSink *
fm_native_sink_cast(FmSink *sink)
{
    g_return_val_if_fail(sink != NULL && sink->ops == &fm_native_sink_ops, NULL);
    return (FmNativeSink *)sink;
}

/* Brings bytes_sent up to date: every byte the writer put on the channel. */
static void
fm_native_sink_count(FmNativeSink *self)
{
    self->parent.bytes_sent = fm_stream_writer_get_offset(self->writer);
}

/* Sets @error for a destination that refused with @status and @message. */
static void
fm_native_sink_set_refusal(GError **error, guint32 status, const char *message)
{
    int code = fm_stream_result_status_to_error_code(status);

    if (message[0] != '\0') {
        g_autofree char *why = fm_utf8_safe(message, -1);

        g_set_error(error, FM_ERROR, code, _("the destination refused the migration: %s"),
                    why);
    } else {
        g_set_error(error, FM_ERROR, code,
                    _("the destination refused the migration (status %u)"), status);
    }
}

/* Reads the destination's RESULT and turns it into the sink's verdict: TRUE only
 * for an acceptance when @at_end (after END). */
static gboolean
fm_native_sink_take_reply(FmNativeSink *self, gboolean at_end, GError **error)
{
    g_autofree char *message = NULL;
    guint32 status;

    self->done = TRUE;
    /* Before END an answer means the destination gave up and is draining what we
     * send: end that at once. */
    if (!at_end)
        fm_channel_shutdown_write(self->channel, NULL);
    if (!fm_stream_read_result(self->channel, &status, &message, error))
        return FALSE;
    if (status != FM_RESULT_OK) {
        fm_native_sink_set_refusal(error, status, message);
        return FALSE;
    }
    if (!at_end) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("the destination accepted the migration before the end of the stream"));
        return FALSE;
    }
    return TRUE;
}

/* Fails if the destination has already answered: before END it only does so when
 * it gave up, and every further byte would be wasted. */
static gboolean
fm_native_sink_check_reply(FmNativeSink *self, GError **error)
{
    if (!fm_channel_poll_readable(self->channel))
        return TRUE;
    return fm_native_sink_take_reply(self, FALSE, error);
}

/* After a failed write: a destination that gave up sends its reason before it
 * closes, and that reason says more than "connection reset by peer". */
static void
fm_native_sink_explain_failure(FmNativeSink *self, GError **error)
{
    g_autofree char *message = NULL;
    double timeout;
    guint32 status;
    gboolean got;

    if (error == NULL || *error == NULL || !g_error_matches(*error, FM_ERROR, FM_ERROR_IO))
        return;
    timeout = fm_channel_get_timeout(self->channel);
    fm_channel_set_timeout(self->channel, FM_NATIVE_SINK_REPLY_GRACE);
    got = fm_stream_read_result(self->channel, &status, &message, NULL);
    fm_channel_set_timeout(self->channel, timeout);
    if (got && status != FM_RESULT_OK) {
        g_clear_error(error);
        fm_native_sink_set_refusal(error, status, message);
    }
    fm_channel_shutdown_write(self->channel, NULL);
    self->done = TRUE;
}

/* Writes the stream header. */
static gboolean
fm_native_sink_begin(FmSink *sink, guint64 page_count, gsize page_size, GError **error)
{
    FmNativeSink *self = fm_native_sink_cast(sink);
    gboolean ok = fm_stream_writer_write_header(self->writer, page_count, page_size,
                                                error);

    if (!ok)
        fm_native_sink_explain_failure(self, error);
    fm_native_sink_count(self);
    return ok;
}

/* Sends pages as PAGE_DATA records, unless the destination has given up. */
static gboolean
fm_native_sink_send_pages(FmSink *sink, const guint64 *pfns, gsize n,
                          const guint8 *data, GError **error)
{
    FmNativeSink *self = fm_native_sink_cast(sink);
    gboolean ok;

    if (!fm_native_sink_check_reply(self, error))
        return FALSE;
    ok = fm_stream_writer_write_pages(self->writer, pfns, n, data, error);
    if (!ok)
        fm_native_sink_explain_failure(self, error);
    fm_native_sink_count(self);
    return ok;
}

/* Sends one non-page record, unless the destination has given up. */
static gboolean
fm_native_sink_send_record(FmSink *sink, guint32 type, const void *data, gsize len,
                           GError **error)
{
    FmNativeSink *self = fm_native_sink_cast(sink);
    gboolean ok;

    /* END and ABORT belong to finish and abort, which also handle the reply. */
    if (type == FM_RECORD_END || type == FM_RECORD_ABORT) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("cannot send an %s record with fm_sink_send_record()"),
                    fm_record_type_name(type));
        return FALSE;
    }
    if (!fm_native_sink_check_reply(self, error))
        return FALSE;
    ok = fm_stream_writer_write_record(self->writer, type, data, len, error);
    if (!ok)
        fm_native_sink_explain_failure(self, error);
    fm_native_sink_count(self);
    return ok;
}

/* Marks the end of a round with ROUND_END; the data is then in the kernel. */
static gboolean
fm_native_sink_flush(FmSink *sink, GError **error)
{
    FmNativeSink *self = fm_native_sink_cast(sink);
    guint8 body[8] = { 0 };
    guint32 round = GUINT32_TO_LE(self->round);
    gboolean ok;

    if (!fm_native_sink_check_reply(self, error))
        return FALSE;
    memcpy(body, &round, sizeof(round));
    ok = fm_stream_writer_write_record(self->writer, FM_RECORD_ROUND_END, body,
                                       sizeof(body), error);
    if (ok)
        self->round++;
    else
        fm_native_sink_explain_failure(self, error);
    fm_native_sink_count(self);
    return ok;
}

/* The handover (docs/stream-format.md §5): PREPARE, wait for READY, commit, END,
 * wait for RESULT.  Before the commit every failure is an ordinary one (the caller
 * resumes the guest); after it, only the destination's explicit refusal is, and
 * anything else is FM_ERROR_IN_DOUBT: the guest must stay paused. */
static gboolean
fm_native_sink_handover(FmNativeSink *self, GError **error)
{
    g_autofree char *message = NULL;
    g_autoptr(GError) local = NULL;
    gboolean ready = FALSE;
    guint32 status;
    gint64 t_ready;

    if (!fm_stream_writer_write_record(self->writer, FM_RECORD_PREPARE, NULL, 0, error)) {
        fm_native_sink_explain_failure(self, error);
        fm_native_sink_count(self);
        return FALSE;
    }
    fm_native_sink_count(self);
    if (!fm_stream_read_answer(self->channel, &ready, &status, &message, error))
        return FALSE;
    if (!ready) {
        self->done = TRUE;
        fm_channel_shutdown_write(self->channel, NULL);
        if (status == FM_RESULT_OK) {
            g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                        _("the destination accepted the migration before the source committed"));
            return FALSE;
        }
        fm_native_sink_set_refusal(error, status, message);
        return FALSE;
    }
    g_clear_pointer(&message, g_free);

    t_ready = g_get_monotonic_time();
    if (!self->handover(self->handover_data, TRUE, error))
        return FALSE;
    /* Committed: from here on the source's copy never runs unless the destination
     * says it does not run its own. */
    self->done = TRUE;
    if (!fm_stream_writer_write_end(self->writer, &local) ||
        !fm_channel_shutdown_write(self->channel, &local)) {
        fm_native_sink_count(self);
        g_set_error(error, FM_ERROR, FM_ERROR_IN_DOUBT,
                    _("the commit may not have reached the destination: %s"), local->message);
        return FALSE;
    }
    fm_native_sink_count(self);
    if (!fm_stream_read_result(self->channel, &status, &message, &local)) {
        g_set_error(error, FM_ERROR, FM_ERROR_IN_DOUBT,
                    _("no answer from the destination after the commit: %s"), local->message);
        return FALSE;
    }
    self->handover_seconds = (g_get_monotonic_time() - t_ready) / 1e6;
    if (status == FM_RESULT_OK)
        return TRUE;
    /* An explicit refusal: the destination discarded its copy, ours may run again. */
    if (!self->handover(self->handover_data, FALSE, &local)) {
        g_set_error(error, FM_ERROR, FM_ERROR_IN_DOUBT,
                    _("the destination refused the migration after the commit, and the source copy cannot be released: %s"),
                    local->message);
        return FALSE;
    }
    fm_native_sink_set_refusal(error, status, message);
    return FALSE;
}

/* Writes END, half-closes, and returns the destination's verdict; with a handover
 * function, the handover first. */
static gboolean
fm_native_sink_finish(FmSink *sink, GError **error)
{
    FmNativeSink *self = fm_native_sink_cast(sink);

    if (!fm_native_sink_check_reply(self, error))
        return FALSE;
    if (self->handover != NULL)
        return fm_native_sink_handover(self, error);
    if (!fm_stream_writer_write_end(self->writer, error)) {
        fm_native_sink_explain_failure(self, error);
        fm_native_sink_count(self);
        return FALSE;
    }
    fm_native_sink_count(self);
    /* The half-close lets the destination check that nothing follows END. */
    if (!fm_channel_shutdown_write(self->channel, error)) {
        fm_native_sink_explain_failure(self, error);
        return FALSE;
    }
    return fm_native_sink_take_reply(self, TRUE, error);
}

/* Sends ABORT (best effort, bounded wait) and half-closes; no reply is awaited. */
static void
fm_native_sink_abort(FmSink *sink, const char *reason)
{
    FmNativeSink *self = fm_native_sink_cast(sink);
    double timeout;

    if (self->done)
        return;
    self->done = TRUE;
    timeout = fm_channel_get_timeout(self->channel);
    if (timeout <= 0 || timeout > FM_NATIVE_SINK_ABORT_TIMEOUT)
        fm_channel_set_timeout(self->channel, FM_NATIVE_SINK_ABORT_TIMEOUT);
    /* Fails harmlessly when the header was never sent or a write already failed:
     * the writer knows a record cannot go out there. */
    fm_stream_writer_write_abort(self->writer, reason, NULL);
    fm_channel_shutdown_write(self->channel, NULL);
    fm_channel_set_timeout(self->channel, timeout);
    fm_native_sink_count(self);
}

/* Frees the sink, not its channel. */
static void
fm_native_sink_free(FmSink *sink)
{
    FmNativeSink *self = fm_native_sink_cast(sink);

    fm_stream_writer_free(self->writer);
    g_free(self);
}

static const FmSinkOps fm_native_sink_ops = {
    .name = "native",
    .records = FM_SINK_RECORDS_NATIVE,
    .begin = fm_native_sink_begin,
    .send_pages = fm_native_sink_send_pages,
    .send_record = fm_native_sink_send_record,
    .flush = fm_native_sink_flush,
    .finish = fm_native_sink_finish,
    .abort = fm_native_sink_abort,
    .free = fm_native_sink_free,
};

/* Returns a new native sink on the borrowed @channel. */
FmSink *
fm_native_sink_new(FmChannel *channel)
{
    FmNativeSink *self;

    g_return_val_if_fail(channel != NULL, NULL);

    self = g_new0(FmNativeSink, 1);
    self->parent.ops = &fm_native_sink_ops;
    self->channel = channel;
    self->writer = fm_stream_writer_new(channel);
    /* pages of zeros go as their pfns alone: a ZERO_PAGES record */
    fm_stream_writer_set_zero_pages(self->writer, TRUE);
    return &self->parent;
}

/* Makes @sink's finish a handover committed through @func; see fm-stream.h. */
void
fm_native_sink_set_handover(FmSink *sink, FmHandoverFunc func, gpointer data)
{
    FmNativeSink *self = fm_native_sink_cast(sink);

    g_return_if_fail(self != NULL);
    self->handover = func;
    self->handover_data = data;
}

/* Returns the seconds from READY to the RESULT of the last handover; 0 if none. */
double
fm_native_sink_get_handover_seconds(FmSink *sink)
{
    FmNativeSink *self = fm_native_sink_cast(sink);

    g_return_val_if_fail(self != NULL, 0);
    return self->handover_seconds;
}
