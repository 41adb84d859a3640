/*
 * fm-receiver.h: the destination side of a local live migration.
 *
 * Reads one native stream (docs/stream-format.md) from a channel into fresh anonymous
 * memory (pages read in place, fm-receiver-memory.h), checks the source's digest of
 * the whole memory (taken while the guest was paused) against its own when the
 * source asks (PREPARE), adopts the memory as a guest, answers READY, and starts the
 * guest only once the source committed to never running its own copy again (END):
 * the handover of §5.  Any failure (protocol error, truncation, digest
 * mismatch, a guest too large, the source aborting) discards the memory and is
 * reported to the source in the RESULT record, so that it resumes its guest.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "backend/local/fm-guest.h"
#include "transport/fm-channel.h"
#include "util/fm-digest.h"

G_BEGIN_DECLS

typedef struct {
    guint64 max_memory;     /* refuse streams announcing more bytes; 0 = the host's
                             * available memory */
    gboolean resume;        /* start the guest's workload once verified */
    gboolean no_reply;      /* the stream is a saved file: there is no source to answer */
    gboolean huge_pages;    /* receive into transparent huge pages (fm-receiver-memory.h):
                             * fewer faults, but slower where the hypervisor backs
                             * the host's free 2 MiB blocks lazily (docs/evaluation.md) */
    gboolean (*interrupted)(void); /* asked between records and before READY: TRUE
                             * cancels a migration the source has not committed
                             * (FM_ERROR_CANCELLED, the source resumes); NULL: never */
    gboolean (*reserve)(gpointer data, guint64 bytes, GError **error);
                            /* once the header is read: claims the guest's @bytes
                             * among the migrations being received at once; FALSE
                             * with @error refuses it (FM_ERROR_LIMIT).  NULL: none */
    gpointer reserve_data;
} FmReceiverOptions;

typedef struct {
    guint64 page_count;
    gsize page_size;
    guint64 pages_received; /* page records' pages, re-sends included */
    guint64 rounds;         /* ROUND_END markers seen */
    double seconds;         /* header to verdict */
    double verify_seconds;  /* computing and comparing the digest */
    double commit_wait_seconds; /* READY sent to the source's commit (END) read */
    guint8 digest[FM_DIGEST_SIZE];
} FmReceiverStats;

/* Receives one migration from @channel (borrowed).  Once the stream header is read
 * the setup is over: a deadline on @channel (fm_channel_set_deadline()) is lifted.
 * stats->page_count is non-zero once a valid header was read: a connection that
 * failed before (not a fragmig source, a stray probe) has it 0.  Returns the adopted guest
 * (caller owns it; running when @opts->resume), or NULL with @error set after the
 * source was told why.  @stats may be NULL. */
FmGuest *fm_receiver_run(FmChannel *channel, const FmReceiverOptions *opts,
                         FmReceiverStats *stats, GError **error);

/* Returns the memory a receiver accepts by default: MemAvailable of /proc/meminfo, or
 * G_MAXUINT64 if it cannot be read. */
guint64 fm_receiver_default_max_memory(void);

G_END_DECLS
