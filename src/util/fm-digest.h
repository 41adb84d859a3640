/*
 * fm-digest.h: the 128-bit digest of a guest's memory: XXH3-128 (xxHash, Debian's
 * libxxhash-dev), the seedless 128-bit variant, written as its canonical
 * big-endian 16 bytes (XXH128_canonicalFromHash).
 *
 * The local backend's source takes it over the whole guest memory while the guest is
 * paused and sends it in the stream's DIGEST record (algorithm 3, docs/stream-format.md
 * section 4.4); the receiver takes it over its copy and refuses the migration if the
 * two differ (docs/design.md section 4).  It catches lost, stale and corrupted pages; it
 * does not resist an adversary (TLS protects the stream in transit).  It is chosen
 * for speed: tens of GB/s per core against well under 1 GB/s for SHA-256 in GLib or
 * GnuTLS (bench/digest), and digesting a paused guest adds to the downtime.
 * Feeding the input in any number of pieces gives the same digest as one piece.
 *
 * FmDigest is a plain struct so that it can live on the stack and needs no freeing
 * on an error path; its bytes are xxHash's streaming state, private.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Bytes of a digest. */
#define FM_DIGEST_SIZE 16
/* The DIGEST record's algorithm id for XXH3-128 (fm-stream-format.h). */
#define FM_DIGEST_ALGORITHM_ID 3u
/* Characters of the hex form, without the terminating NUL. */
#define FM_DIGEST_HEX_LEN (2 * FM_DIGEST_SIZE)

typedef struct {
    /* xxHash's XXH3_state_t, which wants 64-byte alignment (fm-digest.c checks
     * that it fits) */
    guint8 state[640] __attribute__((aligned(64)));
} FmDigest;

/* Starts a digest in @digest (no allocation; nothing to free). */
void fm_digest_init(FmDigest *digest);
/* Feeds @len bytes at @data (NULL allowed when @len is 0). */
void fm_digest_update(FmDigest *digest, const void *data, gsize len);
/* Writes the digest of everything fed into @out; @digest must be initialised again
 * before it is reused. */
void fm_digest_final(FmDigest *digest, guint8 out[FM_DIGEST_SIZE]);

/* Writes the digest of @len bytes at @data into @out (init, update, final). */
void fm_digest_compute(const void *data, gsize len, guint8 out[FM_DIGEST_SIZE]);

/* The DIGEST record's algorithm id for the page-table digest (fm_digest_page_table). */
#define FM_DIGEST_PAGES_ALGORITHM_ID 4u

/* Returns the XXH3-64 hash of one page of @len bytes at @page: the unit of the
 * page-table digest, which both sides keep per page as pages are sent and stored,
 * so that the digest at the pause costs 8 bytes per page instead of the page. */
guint64 fm_digest_page(const void *page, gsize len);
/* Writes into @out the page-table digest of @n page hashes: XXH3-128 over the
 * hashes as little-endian 64-bit words, in pfn order. */
void fm_digest_page_table(const guint64 *hashes, guint64 n, guint8 out[FM_DIGEST_SIZE]);

/* Returns @digest as 32 lowercase hex digits (caller frees). */
char *fm_digest_to_hex(const guint8 digest[FM_DIGEST_SIZE]);

G_END_DECLS
