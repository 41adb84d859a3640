/*
 * fm-digest.c: the fm128 memory digest (construction in fm-digest.h).
 *
 * The four lanes are independent dependency chains, so the processor overlaps them:
 * per 32-byte stripe the critical path is one xor, one rotate and one multiply per
 * lane, and the multiplications of the words run beside it.  The constants are the
 * fractional parts of the cube roots of the primes 31 to 79 (forced odd where they
 * multiply): nothing up the sleeve.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "util/fm-digest.h"

#include <string.h>

#define FM_DIGEST_STRIPE 32

#define FM_DIGEST_K1  G_GUINT64_CONSTANT(0x9bdc06a725c71235)  /* word multiplier */
#define FM_DIGEST_K2  G_GUINT64_CONSTANT(0xc19bf174cf692695)  /* lane multiplier */
#define FM_DIGEST_MA1 G_GUINT64_CONSTANT(0xe49b69c19ef14ad3)  /* low-half mixer */
#define FM_DIGEST_MA2 G_GUINT64_CONSTANT(0xefbe4786384f25e3)
#define FM_DIGEST_MB1 G_GUINT64_CONSTANT(0x2de92c6f592b0275)  /* high-half mixer */
#define FM_DIGEST_MB2 G_GUINT64_CONSTANT(0x4a7484aa6ea6e483)
#define FM_DIGEST_LO0 G_GUINT64_CONSTANT(0x240ca1cc77ac9c65)
#define FM_DIGEST_HI0 G_GUINT64_CONSTANT(0x0fc19dc68b8cd5b5)

static const guint64 fm_digest_iv[4] = {
    G_GUINT64_CONSTANT(0x243185be4ee4b28d),
    G_GUINT64_CONSTANT(0x550c7dc3d5ffb4e3),
    G_GUINT64_CONSTANT(0x72be5d74f27b896f),
    G_GUINT64_CONSTANT(0x80deb1fe3b1696b1),
};

/* Returns @x rotated left by @r (0 < r < 64). */
static inline guint64
fm_digest_rotl(guint64 x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

/* Returns the little-endian word at @p (any alignment). */
static inline guint64
fm_digest_load(const guint8 *p)
{
    guint64 w;

    memcpy(&w, p, sizeof(w));
    return GUINT64_FROM_LE(w);
}

/* Returns lane @v after absorbing word @w. */
static inline guint64
fm_digest_round(guint64 v, guint64 w)
{
    return fm_digest_rotl(v ^ (w * FM_DIGEST_K1), 29) * FM_DIGEST_K2;
}

/* Absorbs @n stripes at @p into @lane. */
static void
fm_digest_stripes(guint64 lane[4], const guint8 *p, gsize n)
{
    guint64 v0 = lane[0], v1 = lane[1], v2 = lane[2], v3 = lane[3];

    for (gsize i = 0; i < n; i++, p += FM_DIGEST_STRIPE) {
        v0 = fm_digest_round(v0, fm_digest_load(p));
        v1 = fm_digest_round(v1, fm_digest_load(p + 8));
        v2 = fm_digest_round(v2, fm_digest_load(p + 16));
        v3 = fm_digest_round(v3, fm_digest_load(p + 24));
    }
    lane[0] = v0;
    lane[1] = v1;
    lane[2] = v2;
    lane[3] = v3;
}

/* Returns @x mixed: a bijection of 64-bit words (xor-shifts and odd
 * multiplications are each invertible).  The first of two finalisation mixers. */
static inline guint64
fm_digest_mix_a(guint64 x)
{
    x ^= x >> 32;
    x *= FM_DIGEST_MA1;
    x ^= x >> 29;
    x *= FM_DIGEST_MA2;
    x ^= x >> 32;
    return x;
}

/* The second mixer: other shifts and constants, so that the halves differ. */
static inline guint64
fm_digest_mix_b(guint64 x)
{
    x ^= x >> 31;
    x *= FM_DIGEST_MB1;
    x ^= x >> 27;
    x *= FM_DIGEST_MB2;
    x ^= x >> 33;
    return x;
}

/* Starts a digest. */
void
fm_digest_init(FmDigest *digest)
{
    g_return_if_fail(digest != NULL);

    memcpy(digest->lane, fm_digest_iv, sizeof(digest->lane));
    digest->total = 0;
    digest->buf_len = 0;
}

/* Feeds @len bytes. */
void
fm_digest_update(FmDigest *digest, const void *data, gsize len)
{
    const guint8 *p = data;
    gsize n;

    g_return_if_fail(digest != NULL);
    g_return_if_fail(len == 0 || data != NULL);
    g_return_if_fail(digest->buf_len < FM_DIGEST_STRIPE);

    if (len == 0)
        return;
    digest->total += len;
    if (digest->buf_len > 0) {
        gsize take = MIN(len, FM_DIGEST_STRIPE - (gsize) digest->buf_len);

        memcpy(digest->buf + digest->buf_len, p, take);
        digest->buf_len += (guint32) take;
        p += take;
        len -= take;
        if (digest->buf_len < FM_DIGEST_STRIPE)
            return;
        fm_digest_stripes(digest->lane, digest->buf, 1);
        digest->buf_len = 0;
    }
    n = len / FM_DIGEST_STRIPE;
    fm_digest_stripes(digest->lane, p, n);
    p += n * FM_DIGEST_STRIPE;
    len -= n * FM_DIGEST_STRIPE;
    if (len > 0) {
        memcpy(digest->buf, p, len);
        digest->buf_len = (guint32) len;
    }
}

/* Writes the digest into @out. */
void
fm_digest_final(FmDigest *digest, guint8 out[FM_DIGEST_SIZE])
{
    guint64 lo, hi;
    guint i = 0;
    gsize off = 0;

    g_return_if_fail(digest != NULL && out != NULL);
    g_return_if_fail(digest->buf_len < FM_DIGEST_STRIPE);

    /* The tail's words go to the lanes in turn; a final part word is zero-padded,
     * which is unambiguous because the length is folded in below. */
    for (; off + 8 <= digest->buf_len; off += 8, i++)
        digest->lane[i] = fm_digest_round(digest->lane[i], fm_digest_load(digest->buf + off));
    if (off < digest->buf_len) {
        guint8 last[8] = { 0 };

        memcpy(last, digest->buf + off, digest->buf_len - off);
        digest->lane[i] = fm_digest_round(digest->lane[i], fm_digest_load(last));
    }

    /* Each step of either chain is a bijection of the running value for fixed
     * input and of the input for a fixed running value: a change confined to one
     * lane changes both halves. */
    lo = FM_DIGEST_LO0 ^ (digest->total * FM_DIGEST_K2);
    for (i = 0; i < 4; i++)
        lo = fm_digest_mix_a(lo ^ digest->lane[i]);
    hi = FM_DIGEST_HI0 + digest->total * FM_DIGEST_K1;
    for (i = 4; i-- > 0; )
        hi = fm_digest_mix_b(hi + digest->lane[i]);

    lo = GUINT64_TO_LE(lo);
    hi = GUINT64_TO_LE(hi);
    memcpy(out, &lo, 8);
    memcpy(out + 8, &hi, 8);
    /* A reuse without init must not silently extend the old input. */
    digest->buf_len = FM_DIGEST_STRIPE;
}

/* One-shot digest of @len bytes. */
void
fm_digest_compute(const void *data, gsize len, guint8 out[FM_DIGEST_SIZE])
{
    FmDigest digest;

    fm_digest_init(&digest);
    fm_digest_update(&digest, data, len);
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
