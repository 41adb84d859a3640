/*
 * fm-receiver.c: the destination side of a local live migration.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "receiver/fm-receiver.h"
#include "receiver/fm-receiver-memory.h"
#include "stream/fm-stream.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"

/* Returns MemAvailable in bytes, or G_MAXUINT64. */
guint64
fm_receiver_default_max_memory(void)
{
    g_autofree char *meminfo = NULL;
    const char *line;
    guint64 kib;

    if (!g_file_get_contents("/proc/meminfo", &meminfo, NULL, NULL))
        return G_MAXUINT64;
    line = strstr(meminfo, "MemAvailable:");
    if (line == NULL || sscanf(line, "MemAvailable: %" G_GUINT64_FORMAT " kB", &kib) != 1)
        return G_MAXUINT64;
    return kib * 1024;
}

/* The source's digest of its memory, as the DIGEST record carried it. */
typedef struct {
    guint32 algorithm;              /* FmDigestAlgorithm */
    guint32 len;
    guint8 bytes[FM_STREAM_MAX_DIGEST];
} FmReceiverDigest;

/* Copies a DIGEST body (checked by the reader: known algorithm, consistent lengths)
 * into @digest. */
static void
fm_receiver_parse_digest(const FmStreamRecord *rec, FmReceiverDigest *digest)
{
    guint32 field;

    memcpy(&field, rec->body, 4);
    digest->algorithm = GUINT32_FROM_LE(field);
    memcpy(&field, rec->body + 4, 4);
    digest->len = MIN(GUINT32_FROM_LE(field), FM_STREAM_MAX_DIGEST);
    memcpy(digest->bytes, rec->body + 8, digest->len);
}

/* Returns @len bytes as lowercase hex (caller frees). */
static char *
fm_receiver_hex(const guint8 *bytes, gsize len)
{
    GString *hex = g_string_sized_new(2 * len);

    for (gsize i = 0; i < len; i++)
        g_string_append_printf(hex, "%02x", bytes[i]);
    return g_string_free(hex, FALSE);
}

/* Computes the digest of @mem with the source's algorithm and compares; FALSE with
 * an FM_ERROR_VERIFY error naming both digests if they differ.  Our digest goes to
 * @out (XXH3-128, of the memory or of its page hashes) for the statistics.  The
 * page-table digest costs 8 bytes per page (the pages were hashed as they arrived);
 * the others read the whole memory. */
static gboolean
fm_receiver_verify(const FmReceiverMemory *mem, const FmReceiverDigest *theirs,
                   guint8 out[FM_DIGEST_SIZE], GError **error)
{
    guint8 ours[FM_STREAM_MAX_DIGEST];
    gsize ours_len = sizeof(ours);
    g_autofree char *ours_hex = NULL;
    g_autofree char *theirs_hex = NULL;
    const guint8 *region = fm_receiver_memory_get_region(mem);
    gsize len = fm_receiver_memory_get_len(mem);

    if (theirs->algorithm == FM_DIGEST_SHA256) {
        g_autoptr(GChecksum) sha = g_checksum_new(G_CHECKSUM_SHA256);
        g_checksum_update(sha, region, len);
        g_checksum_get_digest(sha, ours, &ours_len);
    } else {
        if (theirs->algorithm == FM_DIGEST_XXH3_128_PAGES)
            fm_receiver_memory_page_digest(mem, ours);
        else
            fm_digest_compute(region, len, ours);
        ours_len = FM_DIGEST_SIZE;
        memcpy(out, ours, FM_DIGEST_SIZE);
    }
    if (ours_len == theirs->len && memcmp(ours, theirs->bytes, ours_len) == 0)
        return TRUE;
    ours_hex = fm_receiver_hex(ours, ours_len);
    theirs_hex = fm_receiver_hex(theirs->bytes, theirs->len);
    g_set_error(error, FM_ERROR, FM_ERROR_VERIFY,
                _("memory digest mismatch: the source's memory has digest %s, the received memory %s"),
                theirs_hex, ours_hex);
    return FALSE;
}

/* Fails with FM_ERROR_CANCELLED if @opts says the receiver was interrupted. */
static gboolean
fm_receiver_check_interrupted(const FmReceiverOptions *opts, GError **error)
{
    if (opts->interrupted == NULL || !opts->interrupted())
        return TRUE;
    g_set_error(error, FM_ERROR, FM_ERROR_CANCELLED,
                _("the receiver was interrupted: nothing kept, the guest keeps running on the source"));
    return FALSE;
}

/* Sets @error for the source's ABORT record @rec. */
static void
fm_receiver_set_abandoned(const FmStreamRecord *rec, GError **error)
{
    /* the reader checked the text; it may still be empty or span lines */
    g_autofree char *why = fm_utf8_safe((const char *)rec->body,
                                        MIN(rec->len, (gsize)FM_STREAM_MAX_TEXT));

    g_set_error(error, FM_ERROR, FM_ERROR_CANCELLED,
                _("the source abandoned the migration: %s"), why);
}

/* Reads the stream into @mem up to PREPARE (*@prepared TRUE) or END; the source's
 * digest goes to @digest. */
static gboolean
fm_receiver_read_stream(FmStreamReader *reader, FmReceiverMemory *mem,
                        const FmReceiverOptions *opts, FmReceiverStats *stats,
                        FmReceiverDigest *digest, gboolean *prepared, GError **error)
{
    gboolean have_digest = FALSE;
    FmStreamRecord rec;

    for (;;) {
        if (!fm_receiver_check_interrupted(opts, error) ||
            !fm_stream_reader_next(reader, &rec, error))
            return FALSE;
        switch (rec.type) {
        case FM_RECORD_PAGE_DATA:
            fm_receiver_memory_store(mem, &rec.pages);
            stats->pages_received += rec.pages.count;
            break;
        case FM_RECORD_ZERO_PAGES:
            fm_receiver_memory_store_zeros(mem, &rec.pages);
            stats->pages_received += rec.pages.count;
            break;
        case FM_RECORD_DIGEST:
            fm_receiver_parse_digest(&rec, digest);
            have_digest = TRUE;
            break;
        case FM_RECORD_ROUND_END:
            stats->rounds++;
            break;
        case FM_RECORD_ABORT:
            fm_receiver_set_abandoned(&rec, error);
            return FALSE;
        case FM_RECORD_PREPARE:
            /* the reader saw the DIGEST before it */
            *prepared = TRUE;
            return TRUE;
        case FM_RECORD_END:
            if (!have_digest) {
                g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                            _("the stream ended at offset %llu without a DIGEST record: the memory cannot be verified"),
                            (unsigned long long)rec.offset);
                return FALSE;
            }
            return TRUE;
        default:
            /* CPU/DEVICE state and STATS carry nothing a local guest needs */
            break;
        }
    }
}

/* The second half of the handover (docs/stream-format.md §5), once the guest is
 * verified and adopted but not started: READY to the source (unless there is no
 * source to answer), then its commit, END.  Returns TRUE once the source committed:
 * only then may the guest run here.  Anything else (ABORT, end of file, a timeout)
 * fails: the source did not commit, so it keeps or resumes its copy. */
static gboolean
fm_receiver_await_commit(FmChannel *channel, FmStreamReader *reader,
                         const FmReceiverOptions *opts, FmReceiverStats *stats,
                         GError **error)
{
    g_autoptr(GError) local = NULL;
    FmStreamRecord rec;
    gint64 t_ready;

    /* the last moment a signal may still cancel: after READY the source commits */
    if (!fm_receiver_check_interrupted(opts, error) ||
        (!opts->no_reply && !fm_stream_write_ready(channel, error)))
        return FALSE;
    t_ready = g_get_monotonic_time();
    if (!fm_stream_reader_next(reader, &rec, &local)) {
        g_set_error(error, FM_ERROR, local->code,
                    _("the source did not commit to the handover: %s"), local->message);
        return FALSE;
    }
    if (rec.type == FM_RECORD_ABORT) {
        fm_receiver_set_abandoned(&rec, error);
        return FALSE;
    }
    /* the reader allows nothing but END and ABORT after PREPARE */
    stats->commit_wait_seconds = (g_get_monotonic_time() - t_ready) / 1e6;
    return TRUE;
}

/* Receives, verifies and adopts one migration; see fm-receiver.h. */
static FmGuest *
fm_receiver_receive(FmChannel *channel, const FmReceiverOptions *opts,
                    FmReceiverStats *stats, GError **error)
{
    g_autoptr(FmReceiverMemory) mem = NULL;
    guint8 *region;
    gsize len;
    g_autoptr(FmStreamReader) reader = NULL;
    g_autoptr(FmGuest) guest = NULL;
    FmReceiverDigest source_digest = { 0, 0, { 0 } };
    gboolean prepared = FALSE;
    guint64 max_memory = opts->max_memory ? opts->max_memory
                                          : fm_receiver_default_max_memory();
    gint64 t0 = g_get_monotonic_time(), t_verify;

    reader = fm_stream_reader_new(channel, max_memory);
    if (!fm_stream_reader_read_header(reader, error))
        return NULL;
    /* the setup is over: from here on --timeout and the minimum rate bound it */
    fm_channel_set_deadline(channel, 0);
    stats->page_count = fm_stream_reader_get_page_count(reader);
    stats->page_size = fm_stream_reader_get_page_size(reader);
    if (opts->reserve != NULL &&
        !opts->reserve(opts->reserve_data, stats->page_count * stats->page_size, error))
        return NULL;
    /* the reader bounded both */
    mem = fm_receiver_memory_new(stats->page_count, stats->page_size,
                                 opts->huge_pages ? FM_RECEIVER_PLACEMENT_HUGE
                                                  : FM_RECEIVER_PLACEMENT_SMALL,
                                 error);
    if (mem == NULL)
        return NULL;
    fm_stream_reader_set_page_memory(reader, fm_receiver_memory_get_region(mem));

    if (!fm_receiver_read_stream(reader, mem, opts, stats, &source_digest, &prepared, error))
        return NULL;
    if (!prepared && !opts->no_reply) {
        /* END without the handover: a source that never waited for our READY may
         * still run its copy, so ours must not */
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("the stream ended at offset %llu without a PREPARE record: the source did not wait for the handover"),
                    (unsigned long long)fm_stream_reader_get_offset(reader));
        return NULL;
    }

    t_verify = g_get_monotonic_time();
    if (!fm_receiver_verify(mem, &source_digest, stats->digest, error))
        return NULL;
    stats->verify_seconds = (g_get_monotonic_time() - t_verify) / 1e6;

    region = fm_receiver_memory_steal(mem, &len);
    guest = fm_guest_adopt(region, len, error);
    if (guest == NULL) {
        munmap(region, len);
        return NULL;
    }
    /* the guest owns the region now */

    if (prepared && !fm_receiver_await_commit(channel, reader, opts, stats, error))
        return NULL;
    if (opts->resume && !fm_guest_start(guest, error))
        return NULL;
    stats->seconds = (g_get_monotonic_time() - t0) / 1e6;
    return g_steal_pointer(&guest);
}

/* Receives one migration and reports the verdict to the source. */
FmGuest *
fm_receiver_run(FmChannel *channel, const FmReceiverOptions *opts,
                FmReceiverStats *stats, GError **error)
{
    FmReceiverStats local_stats;
    g_autoptr(FmGuest) guest = NULL;
    g_autoptr(GError) local = NULL;
    g_autoptr(GError) reply_error = NULL;

    g_return_val_if_fail(channel != NULL && opts != NULL, NULL);
    if (stats == NULL)
        stats = &local_stats;
    memset(stats, 0, sizeof(*stats));

    guest = fm_receiver_receive(channel, opts, stats, &local);
    if (opts->no_reply) {
        if (guest == NULL)
            g_propagate_error(error, g_steal_pointer(&local));
        return g_steal_pointer(&guest);
    }
    if (guest == NULL) {
        /* Best effort: the source may be gone, which is often why we failed.  Then
         * let the source read the reply before the connection closes: a close with
         * unread input would reset it and lose the reason. */
        if (!fm_stream_write_result(channel, fm_stream_result_status_from_error(local),
                                    local->message, &reply_error) ||
            !fm_channel_shutdown_write(channel, &reply_error) ||
            !fm_channel_drain(channel, &reply_error))
            g_debug("could not tell the source: %s", reply_error->message);
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    if (!fm_stream_write_result(channel, FM_RESULT_OK, "", &local)) {
        /* The source committed before it sent END: it keeps its copy paused whether
         * or not it hears from us, so ours is the one that runs. */
        g_warning(_("the guest runs here but the source could not be told (it keeps its copy paused): %s"),
                  local->message);
    }
    return g_steal_pointer(&guest);
}
