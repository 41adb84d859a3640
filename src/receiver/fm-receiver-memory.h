/*
 * fm-receiver-memory.h: the memory a receiver fills with an incoming guest.
 *
 * Where the pages land decides what receiving costs: the kernel takes a fault and
 * zeroes a page on the first write to each page of fresh anonymous memory, one per
 * 4 KiB with small pages, one per 2 MiB with transparent huge pages.  The receiver
 * asks for huge pages (MADV_HUGEPAGE on a 2 MiB aligned region) and falls back to
 * small ones where the kernel has none or refuses; bench/sockperf measures each kind
 * against a raw socket that fills the same kind of memory.
 *
 * The pages are read from the stream straight into place (fm_stream_reader_set_
 * page_memory()), and each page's XXH3-64 hash is kept as it lands, so that the
 * digest at the end costs in proportion to the pages, not to the bytes
 * (fm_receiver_memory_page_digest(); docs/stream-format.md, DIGEST algorithm 4).
 *
 * An FmReceiverMemory owns its mapping until fm_receiver_memory_steal() hands it on
 * (to fm_guest_adopt()).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "stream/fm-stream.h"
#include "util/fm-digest.h"

G_BEGIN_DECLS

typedef enum {
    FM_RECEIVER_PLACEMENT_HUGE,     /* transparent huge pages where the kernel gives them */
    FM_RECEIVER_PLACEMENT_SMALL,    /* small pages, each faulted in on its first write */
    FM_RECEIVER_PLACEMENT_POPULATED,/* small pages faulted in before the first byte
                                     * arrives, as a region used before (bench/) */
} FmReceiverPlacement;

typedef struct _FmReceiverMemory FmReceiverMemory;

/* Maps @page_count pages of @page_size bytes placed as @placement (a huge-page
 * request that the kernel refuses falls back to small pages).  Returns the memory
 * (caller frees), or NULL with an FM_ERROR_LIMIT error if it cannot be mapped. */
FmReceiverMemory *fm_receiver_memory_new(guint64 page_count, gsize page_size,
                                         FmReceiverPlacement placement, GError **error);
/* Unmaps the memory unless it was stolen, and frees @mem; NULL ok. */
void fm_receiver_memory_free(FmReceiverMemory *mem);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmReceiverMemory, fm_receiver_memory_free)

/* Returns the start of the memory (owned by @mem), page i at i * page_size. */
guint8 *fm_receiver_memory_get_region(const FmReceiverMemory *mem);
/* Returns the bytes of memory. */
gsize fm_receiver_memory_get_len(const FmReceiverMemory *mem);
/* Returns TRUE if the kernel was asked for huge pages and did not refuse. */
gboolean fm_receiver_memory_is_huge(const FmReceiverMemory *mem);

/* Stores the pages of @pd (pfns checked by the stream reader): copies them into
 * place unless the reader already read them there (pd->data NULL), then hashes
 * each as it now stands in memory. */
void fm_receiver_memory_store(FmReceiverMemory *mem, const FmPageData *pd);

/* Makes the pages of a ZERO_PAGES record (@pd, pfns checked) zeros: only those
 * that were stored with other content are written; fresh memory stays untouched. */
void fm_receiver_memory_store_zeros(FmReceiverMemory *mem, const FmPageData *pd);

/* Writes into @out the digest of the page hashes: XXH3-128 over every page's
 * XXH3-64, little-endian, in pfn order, a page never stored counting as a page of
 * zeros (which fresh memory is).  Costs 8 bytes of hashing per page. */
void fm_receiver_memory_page_digest(const FmReceiverMemory *mem,
                                    guint8 out[FM_DIGEST_SIZE]);

/* Returns the region and its length in *@len and gives up ownership: the caller
 * unmaps it (or hands it to fm_guest_adopt()).  @mem still has to be freed. */
guint8 *fm_receiver_memory_steal(FmReceiverMemory *mem, gsize *len);

G_END_DECLS
