/*
 * test-digest.c: the XXH3-128 memory digest (util/fm-digest).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "util/fm-digest.h"

#include <string.h>

/* Fills @buf with the test pattern: byte i is (31 i + 7) mod 256. */
static void
fill_pattern(guint8 *buf, gsize len)
{
    for (gsize i = 0; i < len; i++)
        buf[i] = (guint8) (i * 31 + 7);
}

/* Returns the hex digest of @len bytes at @data (caller frees). */
static char *
digest_hex(const void *data, gsize len)
{
    guint8 out[FM_DIGEST_SIZE];

    fm_digest_compute(data, len, out);
    return fm_digest_to_hex(out);
}

typedef struct {
    const char *text;     /* the input, or NULL for the pattern */
    gsize len;            /* pattern length, or zero bytes when @zero */
    gboolean zero;
    const char *hex;      /* the pinned digest */
} KnownAnswer;

/* XXH3-128 as xxHash defines it (seed 0, canonical big-endian bytes): the empty
 * input's and "abc"'s are xxHash's published values, the others were computed
 * once and pinned.  The digest is part of the stream format: a change here is a
 * format change. */
static const KnownAnswer known_answers[] = {
    { "", 0, FALSE, "99aa06d3014798d86001c324468d497f" },
    { "a", 0, FALSE, "a96faf705af16834e6c632b61e964e1f" },
    { "abc", 0, FALSE, "06b05ab6733a618578af5f94892f3950" },
    { "fragmig", 0, FALSE, "17e7f17c35f7d8ab341be0a96c738db0" },
    { "fragment-iterative live migration", 0, FALSE, "d718c9d2df11e7587e28b43ba71c22c8" },
    { NULL, 8, FALSE, "803c675a846cc6c256bb836ceb6d4baa" },
    { NULL, 31, FALSE, "a7591e70669b73f845e862e1ac921624" },
    { NULL, 32, FALSE, "3220ff5fe507b3c05726e079716c6a62" },
    { NULL, 33, FALSE, "91a4c56ad1b91d883b25275300c8b44e" },
    { NULL, 240, FALSE, "de57aab31e77a2ff93e173833f75ab66" },
    { NULL, 241, FALSE, "92b991a7192f3f080b3b630948ce4a00" },
    { NULL, 1025, FALSE, "70a4eb1b9691d77fc09fdfbc398c7d82" },
    { NULL, 4096, FALSE, "49d3842b33d51e8aa3c19f8174cde0bb" },
    { NULL, 1000, TRUE, "3fb94aea6d09b97224c1ea6074dd588c" },
};

/* Pinned values for fixed inputs. */
static void
test_known_answers(void)
{
    for (guint i = 0; i < G_N_ELEMENTS(known_answers); i++) {
        const KnownAnswer *ka = &known_answers[i];
        g_autofree guint8 *buf = NULL;
        g_autofree char *hex = NULL;

        if (ka->text) {
            hex = digest_hex(ka->text, strlen(ka->text));
        } else {
            buf = g_malloc0(ka->len);
            if (!ka->zero)
                fill_pattern(buf, ka->len);
            hex = digest_hex(buf, ka->len);
        }
        g_test_message("known answer %u: %s", i, hex);
        g_assert_cmpstr(hex, ==, ka->hex);
    }
}

/* Feeding the input in random pieces (empty ones included) gives the one-shot
 * digest; the context can be reused after init. */
static void
test_incremental(void)
{
    const gsize len = 10007;
    g_autofree guint8 *buf = g_malloc(len);
    guint8 want[FM_DIGEST_SIZE];
    FmDigest digest;

    for (gsize i = 0; i < len; i++)
        buf[i] = (guint8) g_test_rand_int();
    fm_digest_compute(buf, len, want);

    for (guint round = 0; round < 300; round++) {
        guint8 got[FM_DIGEST_SIZE];
        gsize off = 0;

        fm_digest_init(&digest);
        while (off < len) {
            gsize piece;

            /* Mostly small pieces around the stripe size, sometimes big ones. */
            if (g_test_rand_int_range(0, 8) == 0)
                piece = (gsize) g_test_rand_int_range(0, 4000);
            else
                piece = (gsize) g_test_rand_int_range(0, 70);
            piece = MIN(piece, len - off);
            fm_digest_update(&digest, buf + off, piece);
            off += piece;
        }
        fm_digest_update(&digest, NULL, 0);
        fm_digest_final(&digest, got);
        g_assert_cmpmem(got, sizeof(got), want, sizeof(want));
    }

    /* Byte by byte. */
    {
        guint8 got[FM_DIGEST_SIZE];

        fm_digest_init(&digest);
        for (gsize i = 0; i < len; i++)
            fm_digest_update(&digest, buf + i, 1);
        fm_digest_final(&digest, got);
        g_assert_cmpmem(got, sizeof(got), want, sizeof(want));
    }
}

/* Every single bit flip of a page changes the digest, and no two flips collide. */
static void
test_bit_flips(void)
{
    const gsize len = 4096;
    g_autofree guint8 *buf = g_malloc(len);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autofree char *base = NULL;

    fill_pattern(buf, len);
    base = digest_hex(buf, len);
    g_hash_table_add(seen, g_strdup(base));

    for (gsize bit = 0; bit < len * 8; bit++) {
        char *hex;

        buf[bit / 8] ^= (guint8) (1u << (bit % 8));
        hex = digest_hex(buf, len);
        buf[bit / 8] ^= (guint8) (1u << (bit % 8));
        if (g_hash_table_contains(seen, hex))
            g_error("flipping bit %zu gives a digest already seen: %s", bit, hex);
        g_hash_table_add(seen, hex);
    }
    g_assert_cmpuint(g_hash_table_size(seen), ==, len * 8 + 1);

    /* Back to the original. */
    {
        g_autofree char *again = digest_hex(buf, len);

        g_assert_cmpstr(again, ==, base);
    }
}

/* The length counts: runs of zeros of every length from 0 to 200 all differ, and so
 * do inputs that differ only by trailing zeros. */
static void
test_lengths(void)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    guint8 zeros[200] = { 0 };

    for (gsize n = 0; n <= sizeof(zeros); n++) {
        char *hex = digest_hex(zeros, n);

        g_assert_false(g_hash_table_contains(seen, hex));
        g_hash_table_add(seen, hex);
    }
    {
        g_autofree char *a = digest_hex("abc", 3);
        g_autofree char *b = digest_hex("abc\0", 4);

        g_assert_cmpstr(a, !=, b);
    }
}

/* Order matters: swapping two pages, two stripes of a page, or two words of a
 * stripe changes the digest. */
static void
test_order(void)
{
    const gsize len = 2 * 4096;
    g_autofree guint8 *buf = g_malloc(len);
    g_autofree guint8 *swapped = g_malloc(len);
    g_autofree char *base = NULL;
    struct {
        gsize a, b, n;
    } swaps[] = {
        { 0, 4096, 4096 },      /* pages */
        { 64, 96, 32 },         /* stripes */
        { 128, 136, 8 },        /* words within a stripe (lanes) */
        { 160, 192, 8 },        /* the same lane in consecutive stripes */
    };

    /* Random bytes: the pattern repeats every 256 bytes. */
    for (gsize i = 0; i < len; i++)
        buf[i] = (guint8) g_test_rand_int();
    base = digest_hex(buf, len);
    for (guint i = 0; i < G_N_ELEMENTS(swaps); i++) {
        g_autofree char *hex = NULL;

        memcpy(swapped, buf, len);
        memcpy(swapped + swaps[i].a, buf + swaps[i].b, swaps[i].n);
        memcpy(swapped + swaps[i].b, buf + swaps[i].a, swaps[i].n);
        g_assert_true(memcmp(swapped, buf, len) != 0);
        hex = digest_hex(swapped, len);
        g_assert_cmpstr(hex, !=, base);
    }
}

/* Unaligned input gives the same digest as aligned input. */
static void
test_alignment(void)
{
    const gsize len = 1000;
    g_autofree guint8 *buf = g_malloc(len + 8);
    guint8 want[FM_DIGEST_SIZE];

    fill_pattern(buf, len);
    fm_digest_compute(buf, len, want);
    for (gsize shift = 1; shift < 8; shift++) {
        guint8 got[FM_DIGEST_SIZE];

        memmove(buf + shift, buf + shift - 1, len);
        fm_digest_compute(buf + shift, len, got);
        g_assert_cmpmem(got, sizeof(got), want, sizeof(want));
    }
}

/* Hex form. */
static void
test_hex(void)
{
    guint8 d[FM_DIGEST_SIZE];
    g_autofree char *hex = NULL;

    for (guint i = 0; i < FM_DIGEST_SIZE; i++)
        d[i] = (guint8) (i * 17);
    hex = fm_digest_to_hex(d);
    g_assert_cmpstr(hex, ==, "00112233445566778899aabbccddeeff");
    g_assert_cmpuint(strlen(hex), ==, FM_DIGEST_HEX_LEN);
}

/* Speed, with -m perf: digests 64 MiB (memory-bound) and 256 KiB (in cache). */
static void
test_perf(void)
{
    gsize sizes[] = { 256 * 1024, 64u << 20 };

    if (!g_test_perf()) {
        g_test_skip("run with -m perf to measure speed");
        return;
    }
    for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autofree guint8 *buf = g_malloc(sizes[i]);
        guint reps = (guint) MAX(2, (G_GUINT64_CONSTANT(2) << 30) / sizes[i]);
        guint8 out[FM_DIGEST_SIZE];
        double seconds;

        fill_pattern(buf, sizes[i]);
        fm_digest_compute(buf, sizes[i], out);
        g_test_timer_start();
        for (guint r = 0; r < reps; r++)
            fm_digest_compute(buf, sizes[i], out);
        seconds = g_test_timer_elapsed();
        g_test_maximized_result((double) sizes[i] * reps / seconds / 1e9,
                                "XXH3-128 over %zu bytes: %.2f GB/s", sizes[i],
                                (double) sizes[i] * reps / seconds / 1e9);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/digest/known-answers", test_known_answers);
    g_test_add_func("/digest/incremental", test_incremental);
    g_test_add_func("/digest/bit-flips", test_bit_flips);
    g_test_add_func("/digest/lengths", test_lengths);
    g_test_add_func("/digest/order", test_order);
    g_test_add_func("/digest/alignment", test_alignment);
    g_test_add_func("/digest/hex", test_hex);
    g_test_add_func("/digest/perf", test_perf);

    return g_test_run();
}
