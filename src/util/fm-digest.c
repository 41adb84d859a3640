/*
 * fm-digest.c: the memory digest, XXH3-128 from xxHash (fm-digest.h).
 *
 * xxHash is compiled into this file from Debian's header (XXH_INLINE_ALL) rather
 * than linked from libxxhash.so: its streaming state then has the layout this
 * file was compiled with, so that FmDigest can hold it by value, and the hot loop
 * is inlined.  The algorithm and its output are xxHash's own, fixed since 0.8.0.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "util/fm-digest.h"

#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

G_STATIC_ASSERT(sizeof(XXH3_state_t) <= sizeof(((FmDigest *)NULL)->state));
G_STATIC_ASSERT(G_ALIGNOF(XXH3_state_t) <= 64);
G_STATIC_ASSERT(sizeof(XXH128_canonical_t) == FM_DIGEST_SIZE);

/* Returns the xxHash state inside @digest. */
static inline XXH3_state_t *
fm_digest_state(FmDigest *digest)
{
    return (XXH3_state_t *)(void *)digest->state;
}

/* Starts an empty digest. */
void
fm_digest_init(FmDigest *digest)
{
    g_return_if_fail(digest != NULL);
    /* XXH3_128bits_reset() fails only for a NULL state */
    (void) XXH3_128bits_reset(fm_digest_state(digest));
}

/* Feeds @len bytes. */
void
fm_digest_update(FmDigest *digest, const void *data, gsize len)
{
    g_return_if_fail(digest != NULL);
    g_return_if_fail(data != NULL || len == 0);
    if (len > 0)
        (void) XXH3_128bits_update(fm_digest_state(digest), data, len);
}

/* Writes the digest into @out, canonical (big-endian) form. */
void
fm_digest_final(FmDigest *digest, guint8 out[FM_DIGEST_SIZE])
{
    XXH128_canonical_t canonical;

    g_return_if_fail(digest != NULL && out != NULL);
    XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(fm_digest_state(digest)));
    memcpy(out, canonical.digest, FM_DIGEST_SIZE);
}

/* One-shot digest of @len bytes. */
void
fm_digest_compute(const void *data, gsize len, guint8 out[FM_DIGEST_SIZE])
{
    XXH128_canonical_t canonical;

    g_return_if_fail(out != NULL);
    g_return_if_fail(data != NULL || len == 0);
    XXH128_canonicalFromHash(&canonical, XXH3_128bits(data, len));
    memcpy(out, canonical.digest, FM_DIGEST_SIZE);
}

/* Hashes one page; see fm-digest.h. */
guint64
fm_digest_page(const void *page, gsize len)
{
    g_return_val_if_fail(page != NULL || len == 0, 0);
    return XXH3_64bits(page, len);
}

/* The digest of a table of page hashes; see fm-digest.h. */
void
fm_digest_page_table(const guint64 *hashes, guint64 n, guint8 out[FM_DIGEST_SIZE])
{
    FmDigest digest;

    g_return_if_fail(hashes != NULL || n == 0);
    fm_digest_init(&digest);
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
    fm_digest_update(&digest, hashes, (gsize)n * sizeof(guint64));
#else
    for (guint64 i = 0; i < n; i++) {
        guint64 le = GUINT64_TO_LE(hashes[i]);

        fm_digest_update(&digest, &le, sizeof(le));
    }
#endif
    fm_digest_final(&digest, out);
}

/* Returns the lowercase hex form (caller frees). */
char *
fm_digest_to_hex(const guint8 digest[FM_DIGEST_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    char *s = g_malloc(FM_DIGEST_HEX_LEN + 1);

    for (guint i = 0; i < FM_DIGEST_SIZE; i++) {
        s[2 * i] = hex[digest[i] >> 4];
        s[2 * i + 1] = hex[digest[i] & 0xf];
    }
    s[FM_DIGEST_HEX_LEN] = '\0';
    return s;
}
