/*
 * fm-bitmap.c: fixed-size page bitmaps with word-wise operations.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "util/fm-bitmap.h"

#include <string.h>

#include "util/fm-i18n.h"

struct _FmBitmap {
    guint64 nbits;
    gsize nwords;
    /* One allocation for header and words: a 4M-bit scan then touches one block. */
    guint64 words[];
};

#define ALL_ONES G_GUINT64_CONSTANT(0xffffffffffffffff)

/* Returns the number of words needed for @nbits bits. */
static inline guint64
fm_bitmap_words_for(guint64 nbits)
{
    return nbits / FM_BITMAP_WORD_BITS + (nbits % FM_BITMAP_WORD_BITS != 0);
}

/* Returns the mask of the valid bits of the last word (all ones when the size is a
 * multiple of 64, including the empty bitmap, where it is never applied). */
static inline guint64
fm_bitmap_tail_mask(const FmBitmap *bitmap)
{
    guint shift = bitmap->nbits % FM_BITMAP_WORD_BITS;

    return shift ? (G_GUINT64_CONSTANT(1) << shift) - 1 : ALL_ONES;
}

/* Returns the mask of bits at or above @bit % 64 within its word. */
static inline guint64
fm_bitmap_mask_from(guint64 bit)
{
    return ALL_ONES << (bit % FM_BITMAP_WORD_BITS);
}

/* Returns the mask of bits at or below @bit % 64 within its word. */
static inline guint64
fm_bitmap_mask_upto(guint64 bit)
{
    return ALL_ONES >> (FM_BITMAP_WORD_BITS - 1 - bit % FM_BITMAP_WORD_BITS);
}

/* Returns TRUE if [@start, @start + @count) lies inside @bitmap; written so that it
 * cannot overflow for any pair of values. */
static inline gboolean
fm_bitmap_range_ok(const FmBitmap *bitmap, guint64 start, guint64 count)
{
    return start <= bitmap->nbits && count <= bitmap->nbits - start;
}

/* Returns a new bitmap of @nbits bits, all clear; aborts on OOM. */
FmBitmap *
fm_bitmap_new(guint64 nbits)
{
    guint64 nwords = fm_bitmap_words_for(nbits);
    FmBitmap *bitmap;

    /* Only reachable on 32-bit hosts: such a bitmap could never be allocated. */
    if (nwords > (G_MAXSIZE - sizeof(FmBitmap)) / sizeof(guint64))
        g_error(_("A bitmap of %llu bits does not fit in memory"), (unsigned long long) nbits);

    bitmap = g_malloc0(sizeof(FmBitmap) + nwords * sizeof(guint64));
    bitmap->nbits = nbits;
    bitmap->nwords = nwords;
    return bitmap;
}

/* Frees @bitmap; NULL is accepted. */
void
fm_bitmap_free(FmBitmap *bitmap)
{
    g_free(bitmap);
}

/* Returns a new bitmap equal to @bitmap; the caller owns it. */
FmBitmap *
fm_bitmap_copy(const FmBitmap *bitmap)
{
    gsize size;
    FmBitmap *copy;

    g_return_val_if_fail(bitmap != NULL, NULL);

    size = sizeof(FmBitmap) + bitmap->nwords * sizeof(guint64);
    copy = g_malloc(size);
    memcpy(copy, bitmap, size);
    return copy;
}

/* Copies the bits of @src into @dst; both must have the same size. */
void
fm_bitmap_copy_from(FmBitmap *dst, const FmBitmap *src)
{
    g_return_if_fail(dst != NULL && src != NULL);
    g_return_if_fail(dst->nbits == src->nbits);

    if (dst != src && dst->nwords > 0)
        memcpy(dst->words, src->words, dst->nwords * sizeof(guint64));
}

/* Returns the number of bits of @bitmap. */
guint64
fm_bitmap_size(const FmBitmap *bitmap)
{
    g_return_val_if_fail(bitmap != NULL, 0);

    return bitmap->nbits;
}

/* Sets @bit. */
void
fm_bitmap_set(FmBitmap *bitmap, guint64 bit)
{
    g_return_if_fail(bitmap != NULL);
    g_return_if_fail(bit < bitmap->nbits);

    bitmap->words[bit / FM_BITMAP_WORD_BITS] |=
        G_GUINT64_CONSTANT(1) << (bit % FM_BITMAP_WORD_BITS);
}

/* Clears @bit. */
void
fm_bitmap_clear(FmBitmap *bitmap, guint64 bit)
{
    g_return_if_fail(bitmap != NULL);
    g_return_if_fail(bit < bitmap->nbits);

    bitmap->words[bit / FM_BITMAP_WORD_BITS] &=
        ~(G_GUINT64_CONSTANT(1) << (bit % FM_BITMAP_WORD_BITS));
}

/* Returns TRUE if @bit is set. */
gboolean
fm_bitmap_test(const FmBitmap *bitmap, guint64 bit)
{
    g_return_val_if_fail(bitmap != NULL, FALSE);
    g_return_val_if_fail(bit < bitmap->nbits, FALSE);

    return (bitmap->words[bit / FM_BITMAP_WORD_BITS] >> (bit % FM_BITMAP_WORD_BITS)) & 1;
}

/* Sets @bit; returns its previous value. */
gboolean
fm_bitmap_test_and_set(FmBitmap *bitmap, guint64 bit)
{
    guint64 mask;
    guint64 *word;
    gboolean old;

    g_return_val_if_fail(bitmap != NULL, FALSE);
    g_return_val_if_fail(bit < bitmap->nbits, FALSE);

    mask = G_GUINT64_CONSTANT(1) << (bit % FM_BITMAP_WORD_BITS);
    word = &bitmap->words[bit / FM_BITMAP_WORD_BITS];
    old = (*word & mask) != 0;
    *word |= mask;
    return old;
}

/* Clears @bit; returns its previous value. */
gboolean
fm_bitmap_test_and_clear(FmBitmap *bitmap, guint64 bit)
{
    guint64 mask;
    guint64 *word;
    gboolean old;

    g_return_val_if_fail(bitmap != NULL, FALSE);
    g_return_val_if_fail(bit < bitmap->nbits, FALSE);

    mask = G_GUINT64_CONSTANT(1) << (bit % FM_BITMAP_WORD_BITS);
    word = &bitmap->words[bit / FM_BITMAP_WORD_BITS];
    old = (*word & mask) != 0;
    *word &= ~mask;
    return old;
}

/* Sets every bit of [@start, @start + @count): partial first and last words are
 * masked, the whole words in between are filled at once. */
void
fm_bitmap_set_range(FmBitmap *bitmap, guint64 start, guint64 count)
{
    guint64 first, last, end;

    g_return_if_fail(bitmap != NULL);
    g_return_if_fail(fm_bitmap_range_ok(bitmap, start, count));

    if (count == 0)
        return;

    end = start + count - 1;
    first = start / FM_BITMAP_WORD_BITS;
    last = end / FM_BITMAP_WORD_BITS;
    if (first == last) {
        bitmap->words[first] |= fm_bitmap_mask_from(start) & fm_bitmap_mask_upto(end);
        return;
    }
    bitmap->words[first] |= fm_bitmap_mask_from(start);
    if (last - first > 1)
        memset(&bitmap->words[first + 1], 0xff, (last - first - 1) * sizeof(guint64));
    bitmap->words[last] |= fm_bitmap_mask_upto(end);
}

/* Clears every bit of [@start, @start + @count), word-wise like set_range. */
void
fm_bitmap_clear_range(FmBitmap *bitmap, guint64 start, guint64 count)
{
    guint64 first, last, end;

    g_return_if_fail(bitmap != NULL);
    g_return_if_fail(fm_bitmap_range_ok(bitmap, start, count));

    if (count == 0)
        return;

    end = start + count - 1;
    first = start / FM_BITMAP_WORD_BITS;
    last = end / FM_BITMAP_WORD_BITS;
    if (first == last) {
        bitmap->words[first] &= ~(fm_bitmap_mask_from(start) & fm_bitmap_mask_upto(end));
        return;
    }
    bitmap->words[first] &= ~fm_bitmap_mask_from(start);
    if (last - first > 1)
        memset(&bitmap->words[first + 1], 0, (last - first - 1) * sizeof(guint64));
    bitmap->words[last] &= ~fm_bitmap_mask_upto(end);
}

/* Returns the number of set bits in [@start, @start + @count). */
guint64
fm_bitmap_count_range(const FmBitmap *bitmap, guint64 start, guint64 count)
{
    guint64 first, last, end, i, total;

    g_return_val_if_fail(bitmap != NULL, 0);
    g_return_val_if_fail(fm_bitmap_range_ok(bitmap, start, count), 0);

    if (count == 0)
        return 0;

    end = start + count - 1;
    first = start / FM_BITMAP_WORD_BITS;
    last = end / FM_BITMAP_WORD_BITS;
    if (first == last)
        return __builtin_popcountll(bitmap->words[first] &
                                    fm_bitmap_mask_from(start) & fm_bitmap_mask_upto(end));

    total = __builtin_popcountll(bitmap->words[first] & fm_bitmap_mask_from(start));
    for (i = first + 1; i < last; i++)
        total += __builtin_popcountll(bitmap->words[i]);
    total += __builtin_popcountll(bitmap->words[last] & fm_bitmap_mask_upto(end));
    return total;
}

/* Sets every bit, leaving the tail beyond the size clear. */
void
fm_bitmap_set_all(FmBitmap *bitmap)
{
    g_return_if_fail(bitmap != NULL);

    if (bitmap->nwords == 0)
        return;
    memset(bitmap->words, 0xff, bitmap->nwords * sizeof(guint64));
    bitmap->words[bitmap->nwords - 1] &= fm_bitmap_tail_mask(bitmap);
}

/* Clears every bit. */
void
fm_bitmap_clear_all(FmBitmap *bitmap)
{
    g_return_if_fail(bitmap != NULL);

    memset(bitmap->words, 0, bitmap->nwords * sizeof(guint64));
}

/* Returns the number of set bits; relies on the tail bits being zero. */
guint64
fm_bitmap_count(const FmBitmap *bitmap)
{
    guint64 total = 0;
    gsize i;

    g_return_val_if_fail(bitmap != NULL, 0);

    for (i = 0; i < bitmap->nwords; i++)
        total += __builtin_popcountll(bitmap->words[i]);
    return total;
}

/* Returns TRUE if no bit is set. */
gboolean
fm_bitmap_is_empty(const FmBitmap *bitmap)
{
    gsize i;

    g_return_val_if_fail(bitmap != NULL, TRUE);

    for (i = 0; i < bitmap->nwords; i++) {
        if (bitmap->words[i])
            return FALSE;
    }
    return TRUE;
}

/* Returns the first set bit at or after @from, or -1.  Zero words are skipped whole;
 * the clear tail guarantees that a found bit lies below the size. */
gint64
fm_bitmap_next_set(const FmBitmap *bitmap, guint64 from)
{
    gsize i;
    guint64 word;

    g_return_val_if_fail(bitmap != NULL, -1);

    if (from >= bitmap->nbits)
        return -1;

    i = from / FM_BITMAP_WORD_BITS;
    word = bitmap->words[i] & fm_bitmap_mask_from(from);
    while (word == 0) {
        if (++i >= bitmap->nwords)
            return -1;
        word = bitmap->words[i];
    }
    return (gint64) ((guint64) i * FM_BITMAP_WORD_BITS + __builtin_ctzll(word));
}

/* Returns the first set bit in [@from, @end), or -1; reads only the words of the range. */
gint64
fm_bitmap_next_set_before(const FmBitmap *bitmap, guint64 from, guint64 end)
{
    gsize i, last;
    guint64 word;
    gint64 bit;

    g_return_val_if_fail(bitmap != NULL, -1);

    end = MIN(end, bitmap->nbits);
    if (from >= end)
        return -1;
    i = from / FM_BITMAP_WORD_BITS;
    last = (end - 1) / FM_BITMAP_WORD_BITS;
    word = bitmap->words[i] & fm_bitmap_mask_from(from);
    while (word == 0) {
        if (++i > last)
            return -1;
        word = bitmap->words[i];
    }
    bit = (gint64)((guint64)i * FM_BITMAP_WORD_BITS + __builtin_ctzll(word));
    return (guint64)bit < end ? bit : -1;
}

/* Returns the first clear bit at or after @from, or -1.  Full words are skipped
 * whole; the (inverted) tail reads as clear, hence the final size check. */
gint64
fm_bitmap_next_clear(const FmBitmap *bitmap, guint64 from)
{
    gsize i;
    guint64 word, bit;

    g_return_val_if_fail(bitmap != NULL, -1);

    if (from >= bitmap->nbits)
        return -1;

    i = from / FM_BITMAP_WORD_BITS;
    word = ~bitmap->words[i] & fm_bitmap_mask_from(from);
    while (word == 0) {
        if (++i >= bitmap->nwords)
            return -1;
        word = ~bitmap->words[i];
    }
    bit = (guint64) i * FM_BITMAP_WORD_BITS + __builtin_ctzll(word);
    return bit < bitmap->nbits ? (gint64) bit : -1;
}

/* @dst |= @src; both tails are clear, so the result's is too. */
void
fm_bitmap_or(FmBitmap *dst, const FmBitmap *src)
{
    gsize i;

    g_return_if_fail(dst != NULL && src != NULL);
    g_return_if_fail(dst->nbits == src->nbits);

    for (i = 0; i < dst->nwords; i++)
        dst->words[i] |= src->words[i];
}

/* @dst &= @src */
void
fm_bitmap_and(FmBitmap *dst, const FmBitmap *src)
{
    gsize i;

    g_return_if_fail(dst != NULL && src != NULL);
    g_return_if_fail(dst->nbits == src->nbits);

    for (i = 0; i < dst->nwords; i++)
        dst->words[i] &= src->words[i];
}

/* @dst &= ~@src; dst's clear tail stays clear whatever src holds. */
void
fm_bitmap_and_not(FmBitmap *dst, const FmBitmap *src)
{
    gsize i;

    g_return_if_fail(dst != NULL && src != NULL);
    g_return_if_fail(dst->nbits == src->nbits);

    for (i = 0; i < dst->nwords; i++)
        dst->words[i] &= ~src->words[i];
}

/* Returns TRUE if both bitmaps have the same size and bits; different sizes are
 * simply unequal, not an error. */
gboolean
fm_bitmap_equal(const FmBitmap *a, const FmBitmap *b)
{
    g_return_val_if_fail(a != NULL && b != NULL, FALSE);

    if (a->nbits != b->nbits)
        return FALSE;
    return a->nwords == 0 || memcmp(a->words, b->words, a->nwords * sizeof(guint64)) == 0;
}

/* Returns the word array (owned by @bitmap); writers keep the tail clear. */
guint64 *
fm_bitmap_words(FmBitmap *bitmap)
{
    g_return_val_if_fail(bitmap != NULL, NULL);

    return bitmap->words;
}

/* Returns the word array (owned by @bitmap), read-only. */
const guint64 *
fm_bitmap_const_words(const FmBitmap *bitmap)
{
    g_return_val_if_fail(bitmap != NULL, NULL);

    return bitmap->words;
}

/* Returns the number of 64-bit words. */
gsize
fm_bitmap_nwords(const FmBitmap *bitmap)
{
    g_return_val_if_fail(bitmap != NULL, 0);

    return bitmap->nwords;
}
