/*
 * fm-digest.h: a fast 128-bit non-cryptographic digest of memory ("fm128").
 *
 * The local backend's source takes it over the whole guest memory while the guest is
 * paused and sends it in the stream's DIGEST record; the receiver takes it over its
 * copy and refuses the migration if the two differ (docs/design.md section 4).  It catches
 * lost, stale and corrupted pages; it does not resist an adversary (use SHA-256 for
 * that): it is built for speed, several GB/s per core, so that digesting a paused
 * guest adds little to the downtime.
 *
 * Construction (the value is part of the stream format: changing any step changes
 * every digest, so it needs a new algorithm id):
 *  - the input is read as little-endian 64-bit words in stripes of 4 words; word i
 *    of a stripe goes to lane i, and each lane does
 *        v = rotl64(v ^ (w * K1), 29) * K2
 *    which, for a fixed lane value, maps distinct words to distinct lane values, so
 *    that changing one word always changes that lane;
 *  - the 0 to 31 bytes after the last full stripe: each full word into the next lane
 *    in turn, then the last 1 to 7 bytes, zero-padded, into the lane after that;
 *  - the four lanes and the byte length are folded into two 64-bit halves by two
 *    chains of bijective mixers that take the lanes in opposite orders;
 *  - the 16 digest bytes are the low half then the high half, each little-endian.
 * Feeding the input in any number of pieces gives the same digest as one piece.
 *
 * FmDigest is a plain struct so that it can live on the stack; its fields are private.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Bytes of a digest. */
#define FM_DIGEST_SIZE 16
/* The DIGEST record's algorithm id for fm128 (fm-stream-format.h lists SHA-256 = 1). */
#define FM_DIGEST_ALGORITHM_ID 2u
/* Characters of the hex form, without the terminating NUL. */
#define FM_DIGEST_HEX_LEN (2 * FM_DIGEST_SIZE)

typedef struct {
    guint64 lane[4];
    guint64 total;        /* bytes fed so far */
    guint8 buf[32];       /* start of an incomplete stripe */
    guint32 buf_len;      /* bytes in @buf, < 32 */
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

/* Returns @digest as 32 lowercase hex digits (caller frees). */
char *fm_digest_to_hex(const guint8 digest[FM_DIGEST_SIZE]);

G_END_DECLS
