/*
 * test-bitmap.c: FmBitmap against a naive one-byte-per-bit model.
 *
 * Every operation is mirrored on the model and the invariants of fm-bitmap.h are
 * re-checked afterwards (tail bits zero, count and every bit equal to the model).
 * Random inputs come from a GRand with a fixed seed, so that a failure reproduces.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "util/fm-bitmap.h"

#include <string.h>

#define SEED 0x5eedf00d

/* Word boundaries and their neighbours, plus a size that is not near one. */
static const guint64 sizes[] = { 0, 1, 63, 64, 65, 127, 128, 129, 1000, 4096 + 3 };

/* Sizes small enough for every (start, count) range to be tried. */
static const guint64 small_sizes[] = { 0, 1, 2, 31, 63, 64, 65, 127, 128, 129, 191, 192, 193 };

typedef enum {
    PATTERN_ZEROS,
    PATTERN_ONES,
    PATTERN_RANDOM,
    PATTERN_SPARSE,
    PATTERN_LAST
} Pattern;

/* Re-checks the invariants of @bitmap against @model: size and word count, clear
 * tail, every bit (through the words and through fm_bitmap_test), count, emptiness. */
static void
check_bitmap(const FmBitmap *bitmap, const guint8 *model, guint64 n)
{
    const guint64 *words = fm_bitmap_const_words(bitmap);
    gsize nwords = fm_bitmap_nwords(bitmap);
    guint64 expected_count = 0;
    guint64 i;

    g_assert_cmpuint(fm_bitmap_size(bitmap), ==, n);
    g_assert_cmpuint(nwords, ==, (n + 63) / 64);
    g_assert_nonnull(words);
    if (n % 64 != 0)
        g_assert_cmphex(words[nwords - 1] >> (n % 64), ==, 0);

    for (i = 0; i < n; i++) {
        gboolean in_word = (words[i / 64] >> (i % 64)) & 1;
        gboolean expected = model[i] != 0;

        if (G_UNLIKELY(in_word != expected || fm_bitmap_test(bitmap, i) != expected)) {
            g_test_message("bit %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " differs",
                           i, n);
            g_assert_cmpint(in_word, ==, expected);
            g_assert_cmpint(fm_bitmap_test(bitmap, i), ==, expected);
        }
        expected_count += expected;
    }
    g_assert_cmpuint(fm_bitmap_count(bitmap), ==, expected_count);
    g_assert_cmpint(fm_bitmap_is_empty(bitmap), ==, expected_count == 0);
}

/* Returns a bitmap of @n bits filled with @pattern, mirrored into @model. */
static FmBitmap *
make_pattern(guint64 n, Pattern pattern, GRand *rand, guint8 *model)
{
    FmBitmap *bitmap = fm_bitmap_new(n);
    guint64 i;

    for (i = 0; i < n; i++) {
        switch (pattern) {
        case PATTERN_ZEROS:
            model[i] = 0;
            break;
        case PATTERN_ONES:
            model[i] = 1;
            break;
        case PATTERN_RANDOM:
            model[i] = g_rand_boolean(rand);
            break;
        case PATTERN_SPARSE:
            /* Mostly empty words, so that next_set must skip whole words. */
            model[i] = g_rand_int_range(rand, 0, 300) == 0;
            break;
        case PATTERN_LAST:
        default:
            g_assert_not_reached();
        }
        if (model[i])
            fm_bitmap_set(bitmap, i);
    }
    check_bitmap(bitmap, model, n);
    return bitmap;
}

/* Returns a random range inside [0, @n): half of them short, to hit single-word and
 * two-word cases often. */
static void
random_range(GRand *rand, guint64 n, guint64 *start, guint64 *count)
{
    guint64 room;

    *start = g_rand_int_range(rand, 0, (gint32) n + 1);
    room = n - *start;
    if (g_rand_boolean(rand) && room > 130)
        room = 130;
    *count = g_rand_int_range(rand, 0, (gint32) room + 1);
}

static guint64
model_count(const guint8 *model, guint64 start, guint64 count)
{
    guint64 total = 0;
    guint64 i;

    for (i = start; i < start + count; i++)
        total += model[i] != 0;
    return total;
}

/* Returns the naive answer of next_set (@want = 1) or next_clear (@want = 0). */
static gint64
model_next(const guint8 *model, guint64 n, guint64 from, guint8 want)
{
    guint64 i;

    for (i = from; i < n; i++) {
        if ((model[i] != 0) == want)
            return (gint64) i;
    }
    return -1;
}

static void
test_bitmap_new(void)
{
    gsize s;

    for (s = 0; s < G_N_ELEMENTS(sizes); s++) {
        guint64 n = sizes[s];
        g_autofree guint8 *model = g_new0(guint8, n + 1);
        g_autoptr(FmBitmap) bitmap = fm_bitmap_new(n);
        g_autoptr(FmBitmap) copy = NULL;

        check_bitmap(bitmap, model, n);
        g_assert_cmpint(fm_bitmap_next_set(bitmap, 0), ==, -1);
        g_assert_cmpint(fm_bitmap_next_clear(bitmap, 0), ==, n == 0 ? -1 : 0);

        copy = fm_bitmap_copy(bitmap);
        check_bitmap(copy, model, n);
        g_assert_true(fm_bitmap_equal(bitmap, copy));
    }
}

/* The empty bitmap: every operation is valid and does nothing. */
static void
test_bitmap_empty(void)
{
    g_autoptr(FmBitmap) bitmap = fm_bitmap_new(0);
    g_autoptr(FmBitmap) other = fm_bitmap_new(0);
    g_autoptr(FmBitmap) copy = NULL;

    fm_bitmap_set_all(bitmap);
    g_assert_cmpuint(fm_bitmap_count(bitmap), ==, 0);
    g_assert_true(fm_bitmap_is_empty(bitmap));
    fm_bitmap_set_range(bitmap, 0, 0);
    fm_bitmap_clear_range(bitmap, 0, 0);
    g_assert_cmpuint(fm_bitmap_count_range(bitmap, 0, 0), ==, 0);
    g_assert_cmpint(fm_bitmap_next_set(bitmap, 0), ==, -1);
    g_assert_cmpint(fm_bitmap_next_clear(bitmap, 0), ==, -1);
    g_assert_cmpint(fm_bitmap_next_clear(bitmap, G_MAXUINT64), ==, -1);
    fm_bitmap_or(bitmap, other);
    fm_bitmap_and(bitmap, other);
    fm_bitmap_and_not(bitmap, other);
    fm_bitmap_copy_from(bitmap, other);
    fm_bitmap_clear_all(bitmap);
    g_assert_true(fm_bitmap_equal(bitmap, other));
    copy = fm_bitmap_copy(bitmap);
    g_assert_true(fm_bitmap_equal(copy, bitmap));
    g_assert_cmpuint(fm_bitmap_size(copy), ==, 0);
    g_assert_cmpuint(fm_bitmap_nwords(copy), ==, 0);
    fm_bitmap_free(NULL);
}

/* Single-bit operations on every bit, from an empty and from a full bitmap, so that
 * a wrong mask that touches a neighbour shows up either way. */
static void
test_bitmap_single_bits(void)
{
    gsize s;

    for (s = 0; s < G_N_ELEMENTS(sizes); s++) {
        guint64 n = sizes[s];
        g_autofree guint8 *model = g_new0(guint8, n + 1);
        g_autoptr(FmBitmap) bitmap = fm_bitmap_new(n);
        guint64 i;

        for (i = 0; i < n; i++) {
            fm_bitmap_set(bitmap, i);
            model[i] = 1;
            check_bitmap(bitmap, model, n);
            g_assert_true(fm_bitmap_test_and_set(bitmap, i));
            g_assert_true(fm_bitmap_test_and_clear(bitmap, i));
            model[i] = 0;
            check_bitmap(bitmap, model, n);
            g_assert_false(fm_bitmap_test_and_clear(bitmap, i));
            g_assert_false(fm_bitmap_test_and_set(bitmap, i));
            model[i] = 1;
            g_assert_cmpint(fm_bitmap_next_set(bitmap, 0), ==, (gint64) i);
            fm_bitmap_clear(bitmap, i);
            model[i] = 0;
            check_bitmap(bitmap, model, n);
        }

        fm_bitmap_set_all(bitmap);
        memset(model, 1, n);
        check_bitmap(bitmap, model, n);
        for (i = 0; i < n; i++) {
            fm_bitmap_clear(bitmap, i);
            model[i] = 0;
            check_bitmap(bitmap, model, n);
            g_assert_cmpint(fm_bitmap_next_clear(bitmap, 0), ==, (gint64) i);
            fm_bitmap_set(bitmap, i);
            fm_bitmap_set(bitmap, i); /* idempotent */
            model[i] = 1;
            check_bitmap(bitmap, model, n);
        }
        fm_bitmap_clear_all(bitmap);
        memset(model, 0, n);
        check_bitmap(bitmap, model, n);
    }
}

/* Runs set_range, clear_range and count_range for one range from @pattern_bitmap. */
static void
check_one_range(FmBitmap *work, const FmBitmap *pattern_bitmap, const guint8 *pattern,
                guint8 *model, guint64 n, guint64 start, guint64 count)
{
    g_assert_cmpuint(fm_bitmap_count_range(pattern_bitmap, start, count), ==,
                     model_count(pattern, start, count));

    fm_bitmap_copy_from(work, pattern_bitmap);
    memcpy(model, pattern, n);
    fm_bitmap_set_range(work, start, count);
    memset(model + start, 1, count);
    check_bitmap(work, model, n);
    g_assert_cmpuint(fm_bitmap_count_range(work, start, count), ==, count);

    fm_bitmap_copy_from(work, pattern_bitmap);
    memcpy(model, pattern, n);
    fm_bitmap_clear_range(work, start, count);
    memset(model + start, 0, count);
    check_bitmap(work, model, n);
    g_assert_cmpuint(fm_bitmap_count_range(work, start, count), ==, 0);
}

/* Every (start, count) range of the small sizes, from every pattern. */
static void
test_bitmap_ranges_exhaustive(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(SEED);
    gsize s;

    for (s = 0; s < G_N_ELEMENTS(small_sizes); s++) {
        guint64 n = small_sizes[s];
        g_autofree guint8 *pattern = g_new0(guint8, n + 1);
        g_autofree guint8 *model = g_new0(guint8, n + 1);
        g_autoptr(FmBitmap) work = fm_bitmap_new(n);
        Pattern p;

        for (p = 0; p < PATTERN_LAST; p++) {
            g_autoptr(FmBitmap) pattern_bitmap = make_pattern(n, p, rand, pattern);
            guint64 start, count;

            for (start = 0; start <= n; start++) {
                for (count = 0; count <= n - start; count++)
                    check_one_range(work, pattern_bitmap, pattern, model, n, start, count);
            }
        }
    }
}

/* Random and boundary ranges on the larger sizes. */
static void
test_bitmap_ranges_large(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(SEED + 1);
    gsize s;

    for (s = 0; s < G_N_ELEMENTS(sizes); s++) {
        guint64 n = sizes[s];
        g_autofree guint8 *pattern = g_new0(guint8, n + 1);
        g_autofree guint8 *model = g_new0(guint8, n + 1);
        g_autoptr(FmBitmap) work = fm_bitmap_new(n);
        Pattern p;

        for (p = 0; p < PATTERN_LAST; p++) {
            g_autoptr(FmBitmap) pattern_bitmap = make_pattern(n, p, rand, pattern);
            guint64 start, count;
            int i;

            check_one_range(work, pattern_bitmap, pattern, model, n, 0, n);
            check_one_range(work, pattern_bitmap, pattern, model, n, n, 0);
            if (n > 2)
                check_one_range(work, pattern_bitmap, pattern, model, n, 1, n - 2);
            for (i = 0; i < 300; i++) {
                random_range(rand, n, &start, &count);
                check_one_range(work, pattern_bitmap, pattern, model, n, start, count);
            }
        }
    }
}

/* next_set / next_clear from every position, and past the end. */
static void
test_bitmap_next(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(SEED + 2);
    gsize s;

    for (s = 0; s < G_N_ELEMENTS(sizes); s++) {
        guint64 n = sizes[s];
        g_autofree guint8 *model = g_new0(guint8, n + 1);
        g_autofree gint64 *next_set = g_new(gint64, n + 1);
        g_autofree gint64 *next_clear = g_new(gint64, n + 1);
        int p;

        for (p = 0; p < PATTERN_LAST + 2; p++) {
            g_autoptr(FmBitmap) bitmap = NULL;
            guint64 from;
            gint64 i;

            if (p < PATTERN_LAST) {
                bitmap = make_pattern(n, (Pattern) p, rand, model);
            } else {
                /* A lone set bit (then a lone clear bit) in the last position:
                 * the longest skip, and the tail must not be mistaken for it. */
                bitmap = make_pattern(n, p == PATTERN_LAST ? PATTERN_ZEROS : PATTERN_ONES,
                                      rand, model);
                if (n > 0) {
                    if (p == PATTERN_LAST)
                        fm_bitmap_set(bitmap, n - 1);
                    else
                        fm_bitmap_clear(bitmap, n - 1);
                    model[n - 1] = p == PATTERN_LAST;
                    check_bitmap(bitmap, model, n);
                }
            }

            /* The naive answers for every position, computed backwards in O(n). */
            next_set[n] = next_clear[n] = -1;
            for (i = (gint64) n - 1; i >= 0; i--) {
                next_set[i] = model[i] ? i : next_set[i + 1];
                next_clear[i] = model[i] ? next_clear[i + 1] : i;
            }
            for (from = 0; from < n; from += 1 + (n > 1000 ? from % 3 : 0)) {
                g_assert_cmpint(next_set[from], ==, model_next(model, n, from, 1));
                g_assert_cmpint(next_clear[from], ==, model_next(model, n, from, 0));
            }

            for (from = 0; from < n + 130; from++) {
                gint64 want_set = from < n ? next_set[from] : -1;
                gint64 want_clear = from < n ? next_clear[from] : -1;

                g_assert_cmpint(fm_bitmap_next_set(bitmap, from), ==, want_set);
                g_assert_cmpint(fm_bitmap_next_clear(bitmap, from), ==, want_clear);
            }
            g_assert_cmpint(fm_bitmap_next_set(bitmap, G_MAXUINT64), ==, -1);
            g_assert_cmpint(fm_bitmap_next_clear(bitmap, G_MAXUINT64), ==, -1);
            g_assert_cmpint(fm_bitmap_next_set(bitmap, (guint64) G_MAXINT64 + 1), ==, -1);
            g_assert_cmpint(fm_bitmap_next_clear(bitmap, (guint64) G_MAXINT64 + 1), ==, -1);
        }
    }
}

/* or / and / and_not / equal / copy / copy_from against the model. */
static void
test_bitmap_binary(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(SEED + 3);
    gsize s;

    for (s = 0; s < G_N_ELEMENTS(sizes); s++) {
        guint64 n = sizes[s];
        g_autofree guint8 *ma = g_new0(guint8, n + 1);
        g_autofree guint8 *mb = g_new0(guint8, n + 1);
        g_autofree guint8 *model = g_new0(guint8, n + 1);
        Pattern pa, pb;

        for (pa = 0; pa < PATTERN_LAST; pa++) {
            for (pb = 0; pb < PATTERN_LAST; pb++) {
                g_autoptr(FmBitmap) a = make_pattern(n, pa, rand, ma);
                g_autoptr(FmBitmap) b = make_pattern(n, pb, rand, mb);
                g_autoptr(FmBitmap) work = fm_bitmap_copy(a);
                gboolean same = memcmp(ma, mb, n) == 0;
                guint64 i;

                check_bitmap(work, ma, n);
                g_assert_true(fm_bitmap_equal(work, a));
                g_assert_cmpint(fm_bitmap_equal(a, b), ==, same);
                g_assert_cmpint(fm_bitmap_equal(b, a), ==, same);

                fm_bitmap_or(work, b);
                for (i = 0; i < n; i++)
                    model[i] = ma[i] | mb[i];
                check_bitmap(work, model, n);
                check_bitmap(b, mb, n); /* the source is left alone */

                fm_bitmap_copy_from(work, a);
                fm_bitmap_and(work, b);
                for (i = 0; i < n; i++)
                    model[i] = ma[i] & mb[i];
                check_bitmap(work, model, n);

                fm_bitmap_copy_from(work, a);
                fm_bitmap_and_not(work, b);
                for (i = 0; i < n; i++)
                    model[i] = ma[i] & !mb[i];
                check_bitmap(work, model, n);
                check_bitmap(b, mb, n);

                /* Aliasing: the engine may pass the same bitmap twice. */
                fm_bitmap_copy_from(work, a);
                fm_bitmap_or(work, work);
                check_bitmap(work, ma, n);
                fm_bitmap_and(work, work);
                check_bitmap(work, ma, n);
                fm_bitmap_copy_from(work, work);
                check_bitmap(work, ma, n);
                fm_bitmap_and_not(work, work);
                memset(model, 0, n);
                check_bitmap(work, model, n);
            }
        }

        /* equal notices any single differing bit. */
        if (n <= 1000) {
            g_autoptr(FmBitmap) a = make_pattern(n, PATTERN_RANDOM, rand, ma);
            g_autoptr(FmBitmap) b = fm_bitmap_copy(a);
            guint64 i;

            for (i = 0; i < n; i++) {
                if (ma[i])
                    fm_bitmap_clear(b, i);
                else
                    fm_bitmap_set(b, i);
                g_assert_false(fm_bitmap_equal(a, b));
                g_assert_false(fm_bitmap_equal(b, a));
                if (ma[i])
                    fm_bitmap_set(b, i);
                else
                    fm_bitmap_clear(b, i);
                g_assert_true(fm_bitmap_equal(a, b));
            }
        }
    }

    /* Bitmaps of different sizes are unequal even when both are empty. */
    {
        g_autoptr(FmBitmap) a = fm_bitmap_new(64);
        g_autoptr(FmBitmap) b = fm_bitmap_new(65);
        g_autoptr(FmBitmap) c = fm_bitmap_new(0);

        g_assert_false(fm_bitmap_equal(a, b));
        g_assert_false(fm_bitmap_equal(c, a));
        g_assert_true(fm_bitmap_equal(a, a));
    }
}

/* Bulk writes through fm_bitmap_words() are seen by every other operation. */
static void
test_bitmap_words(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(SEED + 4);
    gsize s;

    for (s = 0; s < G_N_ELEMENTS(sizes); s++) {
        guint64 n = sizes[s];
        g_autofree guint8 *model = g_new0(guint8, n + 1);
        g_autoptr(FmBitmap) bitmap = fm_bitmap_new(n);
        guint64 *words = fm_bitmap_words(bitmap);
        gsize nwords = fm_bitmap_nwords(bitmap);
        gsize w;
        guint64 i;

        g_assert_true(words == fm_bitmap_const_words(bitmap));
        for (w = 0; w < nwords; w++)
            words[w] = ((guint64) g_rand_int(rand) << 32) | g_rand_int(rand);
        if (n % 64 != 0)
            words[nwords - 1] &= (G_GUINT64_CONSTANT(1) << (n % 64)) - 1;
        for (i = 0; i < n; i++)
            model[i] = (words[i / 64] >> (i % 64)) & 1;
        check_bitmap(bitmap, model, n);

        /* set_all must leave the tail clear for the next word-wise reader. */
        fm_bitmap_set_all(bitmap);
        memset(model, 1, n);
        check_bitmap(bitmap, model, n);
        g_assert_cmpuint(fm_bitmap_count(bitmap), ==, n);
        g_assert_cmpint(fm_bitmap_next_clear(bitmap, 0), ==, -1);
    }
}

/* Long random operation sequences; the invariants are checked after each one. */
static void
test_bitmap_random_ops(void)
{
    static const guint64 op_sizes[] = { 65, 1000, 4096 + 3 };
    g_autoptr(GRand) rand = g_rand_new_with_seed(SEED + 5);
    gsize s;

    for (s = 0; s < G_N_ELEMENTS(op_sizes); s++) {
        guint64 n = op_sizes[s];
        g_autofree guint8 *model = g_new0(guint8, n + 1);
        g_autofree guint8 *other_model = g_new0(guint8, n + 1);
        g_autoptr(FmBitmap) bitmap = fm_bitmap_new(n);
        int step;

        for (step = 0; step < 6000; step++) {
            guint64 bit = g_rand_int_range(rand, 0, (gint32) n);
            guint64 start, count, from, i;
            int op = g_rand_int_range(rand, 0, 16);

            random_range(rand, n, &start, &count);
            from = g_rand_int_range(rand, 0, (gint32) n + 70);

            switch (op) {
            case 0:
                fm_bitmap_set(bitmap, bit);
                model[bit] = 1;
                break;
            case 1:
                fm_bitmap_clear(bitmap, bit);
                model[bit] = 0;
                break;
            case 2:
                g_assert_cmpint(fm_bitmap_test_and_set(bitmap, bit), ==, model[bit]);
                model[bit] = 1;
                break;
            case 3:
                g_assert_cmpint(fm_bitmap_test_and_clear(bitmap, bit), ==, model[bit]);
                model[bit] = 0;
                break;
            case 4:
                fm_bitmap_set_range(bitmap, start, count);
                memset(model + start, 1, count);
                break;
            case 5:
                fm_bitmap_clear_range(bitmap, start, count);
                memset(model + start, 0, count);
                break;
            case 6:
                g_assert_cmpuint(fm_bitmap_count_range(bitmap, start, count), ==,
                                 model_count(model, start, count));
                break;
            case 7:
                g_assert_cmpint(fm_bitmap_next_set(bitmap, from), ==,
                                model_next(model, n, from, 1));
                break;
            case 8:
                g_assert_cmpint(fm_bitmap_next_clear(bitmap, from), ==,
                                model_next(model, n, from, 0));
                break;
            case 9:
                /* Rare, or the state would keep collapsing to all-ones/all-zeros. */
                if (g_rand_int_range(rand, 0, 50) == 0) {
                    fm_bitmap_set_all(bitmap);
                    memset(model, 1, n);
                } else if (g_rand_int_range(rand, 0, 50) == 0) {
                    fm_bitmap_clear_all(bitmap);
                    memset(model, 0, n);
                }
                break;
            case 10:
            case 11:
            case 12: {
                /* Combine with a random range-shaped bitmap. */
                g_autoptr(FmBitmap) other = fm_bitmap_new(n);

                memset(other_model, 0, n);
                fm_bitmap_set_range(other, start, count);
                memset(other_model + start, 1, count);
                if (op == 10)
                    fm_bitmap_or(bitmap, other);
                else if (op == 11)
                    fm_bitmap_and(bitmap, other);
                else
                    fm_bitmap_and_not(bitmap, other);
                for (i = 0; i < n; i++) {
                    if (op == 10)
                        model[i] |= other_model[i];
                    else if (op == 11)
                        model[i] &= other_model[i];
                    else
                        model[i] &= !other_model[i];
                }
                check_bitmap(other, other_model, n);
                break;
            }
            case 13: {
                g_autoptr(FmBitmap) copy = fm_bitmap_copy(bitmap);

                g_assert_true(fm_bitmap_equal(copy, bitmap));
                check_bitmap(copy, model, n);
                fm_bitmap_set(copy, bit);
                g_assert_cmpint(fm_bitmap_equal(copy, bitmap), ==, model[bit]);
                break;
            }
            default:
                /* A word written in bulk, as a dirty-log harvester does. */
                {
                    guint64 *words = fm_bitmap_words(bitmap);
                    gsize w = bit / 64;

                    words[w] ^= ((guint64) g_rand_int(rand) << 32) | g_rand_int(rand);
                    if (w == fm_bitmap_nwords(bitmap) - 1 && n % 64 != 0)
                        words[w] &= (G_GUINT64_CONSTANT(1) << (n % 64)) - 1;
                    for (i = w * 64; i < MIN(n, w * 64 + 64); i++)
                        model[i] = (words[w] >> (i % 64)) & 1;
                }
                break;
            }
            check_bitmap(bitmap, model, n);
        }
    }
}

/* A 4M-bit bitmap, the size the engine scans: sparse bits are found across long
 * runs of empty words, and whole-range operations count right. */
static void
test_bitmap_large(void)
{
    const guint64 n = G_GUINT64_CONSTANT(4) << 20;
    const guint64 marks[] = { 0, 1, 4095, 4096, 1 << 20, (1 << 20) + 63, n - 65, n - 1 };
    g_autoptr(FmBitmap) bitmap = fm_bitmap_new(n);
    g_autoptr(FmBitmap) inverse = NULL;
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(marks); i++)
        fm_bitmap_set(bitmap, marks[i]);
    g_assert_cmpuint(fm_bitmap_count(bitmap), ==, G_N_ELEMENTS(marks));
    for (i = 0; i < G_N_ELEMENTS(marks); i++) {
        g_assert_cmpint(fm_bitmap_next_set(bitmap, marks[i]), ==, (gint64) marks[i]);
        if (i + 1 < G_N_ELEMENTS(marks))
            g_assert_cmpint(fm_bitmap_next_set(bitmap, marks[i] + 1), ==,
                            (gint64) marks[i + 1]);
    }
    g_assert_cmpint(fm_bitmap_next_set(bitmap, n), ==, -1);

    inverse = fm_bitmap_new(n);
    fm_bitmap_set_all(inverse);
    fm_bitmap_and_not(inverse, bitmap);
    g_assert_cmpuint(fm_bitmap_count(inverse), ==, n - G_N_ELEMENTS(marks));
    for (i = 0; i + 1 < G_N_ELEMENTS(marks); i++) {
        g_assert_cmpint(fm_bitmap_next_clear(inverse, marks[i]), ==, (gint64) marks[i]);
        g_assert_cmpuint(fm_bitmap_count_range(bitmap, marks[i], marks[i + 1] - marks[i]),
                         ==, 1);
    }
    g_assert_cmpint(fm_bitmap_next_clear(inverse, n - 64), ==, (gint64) (n - 1));

    fm_bitmap_set_range(bitmap, 100, n - 200);
    g_assert_cmpuint(fm_bitmap_count(bitmap), ==, n - 200 + 4); /* + marks 0, 1, n-65, n-1 */
    fm_bitmap_clear_range(bitmap, 0, n);
    g_assert_true(fm_bitmap_is_empty(bitmap));
}

/* Programmer errors are reported as criticals and change nothing. */
static void
test_bitmap_programmer_errors(void)
{
    const guint64 n = 100;
    g_autofree guint8 *model = g_new0(guint8, n);
    g_autoptr(GRand) rand = g_rand_new_with_seed(SEED + 6);
    g_autoptr(FmBitmap) bitmap = make_pattern(n, PATTERN_RANDOM, rand, model);
    g_autoptr(FmBitmap) other = fm_bitmap_new(n + 1);

#define EXPECT_CRITICAL(stmt) \
    do { \
        g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*assertion*failed*"); \
        stmt; \
        g_test_assert_expected_messages(); \
        check_bitmap(bitmap, model, n); \
    } while (0)

    EXPECT_CRITICAL(fm_bitmap_set(bitmap, n));
    EXPECT_CRITICAL(fm_bitmap_clear(bitmap, n));
    EXPECT_CRITICAL(g_assert_false(fm_bitmap_test(bitmap, n)));
    EXPECT_CRITICAL(g_assert_false(fm_bitmap_test_and_set(bitmap, G_MAXUINT64)));
    EXPECT_CRITICAL(g_assert_false(fm_bitmap_test_and_clear(bitmap, n)));
    EXPECT_CRITICAL(fm_bitmap_set_range(bitmap, n + 1, 0));
    EXPECT_CRITICAL(fm_bitmap_set_range(bitmap, 1, n));
    /* start + count wraps around: must still be refused. */
    EXPECT_CRITICAL(fm_bitmap_set_range(bitmap, 1, G_MAXUINT64));
    EXPECT_CRITICAL(fm_bitmap_clear_range(bitmap, 50, 51));
    EXPECT_CRITICAL(fm_bitmap_clear_range(bitmap, 2, G_MAXUINT64 - 1));
    EXPECT_CRITICAL(g_assert_cmpuint(fm_bitmap_count_range(bitmap, 99, 2), ==, 0));
    EXPECT_CRITICAL(fm_bitmap_or(bitmap, other));
    EXPECT_CRITICAL(fm_bitmap_and(bitmap, other));
    EXPECT_CRITICAL(fm_bitmap_and_not(bitmap, other));
    EXPECT_CRITICAL(fm_bitmap_copy_from(bitmap, other));
#undef EXPECT_CRITICAL

    /* The edge of the valid ranges is accepted. */
    g_assert_cmpuint(fm_bitmap_count_range(bitmap, n, 0), ==, 0);
    g_assert_cmpuint(fm_bitmap_count_range(bitmap, 0, n), ==, model_count(model, 0, n));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/bitmap/new", test_bitmap_new);
    g_test_add_func("/bitmap/empty", test_bitmap_empty);
    g_test_add_func("/bitmap/single-bits", test_bitmap_single_bits);
    g_test_add_func("/bitmap/ranges-exhaustive", test_bitmap_ranges_exhaustive);
    g_test_add_func("/bitmap/ranges-large", test_bitmap_ranges_large);
    g_test_add_func("/bitmap/next", test_bitmap_next);
    g_test_add_func("/bitmap/binary", test_bitmap_binary);
    g_test_add_func("/bitmap/words", test_bitmap_words);
    g_test_add_func("/bitmap/random-ops", test_bitmap_random_ops);
    g_test_add_func("/bitmap/large", test_bitmap_large);
    g_test_add_func("/bitmap/programmer-errors", test_bitmap_programmer_errors);

    return g_test_run();
}
