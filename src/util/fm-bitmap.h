/*
 * fm-bitmap.h: fixed-size page bitmaps (one bit per guest page frame).
 *
 * Invariants, re-checked by the unit tests after every operation:
 *  - the bitmap holds exactly fm_bitmap_size() bits, numbered from 0;
 *  - the bits of the last word beyond the size are always zero, so that word-wise
 *    operations (count, or, equal) never see garbage;
 *  - no operation allocates except fm_bitmap_new() and fm_bitmap_copy().
 * Binary operations require both bitmaps to have the same size (programmer error
 * otherwise).  Not thread-safe: one owner at a time.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _FmBitmap FmBitmap;

#define FM_BITMAP_WORD_BITS 64

/* Returns a new bitmap of @nbits bits, all clear; aborts on OOM. Free with fm_bitmap_free(). */
FmBitmap *fm_bitmap_new(guint64 nbits);
/* Frees @bitmap; NULL is accepted. */
void fm_bitmap_free(FmBitmap *bitmap);
/* Returns a new bitmap equal to @bitmap (caller owns it). */
FmBitmap *fm_bitmap_copy(const FmBitmap *bitmap);
/* Copies the bits of @src into @dst (same size). */
void fm_bitmap_copy_from(FmBitmap *dst, const FmBitmap *src);

/* Returns the number of bits. */
guint64 fm_bitmap_size(const FmBitmap *bitmap);

void fm_bitmap_set(FmBitmap *bitmap, guint64 bit);
void fm_bitmap_clear(FmBitmap *bitmap, guint64 bit);
/* Returns TRUE if @bit is set. */
gboolean fm_bitmap_test(const FmBitmap *bitmap, guint64 bit);
/* Sets @bit; returns its previous value. */
gboolean fm_bitmap_test_and_set(FmBitmap *bitmap, guint64 bit);
/* Clears @bit; returns its previous value. */
gboolean fm_bitmap_test_and_clear(FmBitmap *bitmap, guint64 bit);

/* Range operations on [@start, @start + @count); the range must lie inside the bitmap. */
void fm_bitmap_set_range(FmBitmap *bitmap, guint64 start, guint64 count);
void fm_bitmap_clear_range(FmBitmap *bitmap, guint64 start, guint64 count);
/* Returns the number of set bits in [@start, @start + @count). */
guint64 fm_bitmap_count_range(const FmBitmap *bitmap, guint64 start, guint64 count);

void fm_bitmap_set_all(FmBitmap *bitmap);
void fm_bitmap_clear_all(FmBitmap *bitmap);
/* Returns the number of set bits (population count). */
guint64 fm_bitmap_count(const FmBitmap *bitmap);
/* Returns TRUE if no bit is set. */
gboolean fm_bitmap_is_empty(const FmBitmap *bitmap);

/* Returns the first set bit at or after @from, or -1 if there is none (also when
 * @from >= size). */
gint64 fm_bitmap_next_set(const FmBitmap *bitmap, guint64 from);
/* Returns the first set bit in [@from, @end), or -1 if there is none: the cost is
 * bounded by the range, however far the next set bit beyond it lies. */
gint64 fm_bitmap_next_set_before(const FmBitmap *bitmap, guint64 from, guint64 end);
/* Returns the first clear bit at or after @from, or -1 if there is none. */
gint64 fm_bitmap_next_clear(const FmBitmap *bitmap, guint64 from);

/* @dst |= @src */
void fm_bitmap_or(FmBitmap *dst, const FmBitmap *src);
/* @dst &= @src */
void fm_bitmap_and(FmBitmap *dst, const FmBitmap *src);
/* @dst &= ~@src */
void fm_bitmap_and_not(FmBitmap *dst, const FmBitmap *src);
/* Returns TRUE if both bitmaps have the same size and bits. */
gboolean fm_bitmap_equal(const FmBitmap *a, const FmBitmap *b);

/* Word access for producers that fill bitmaps in bulk (dirty-log harvesters).
 * Bit i lives in word i / 64 at position i % 64.  A writer through fm_bitmap_words()
 * must keep the tail invariant (bits beyond the size stay zero). */
guint64 *fm_bitmap_words(FmBitmap *bitmap);
const guint64 *fm_bitmap_const_words(const FmBitmap *bitmap);
/* Returns the number of 64-bit words. */
gsize fm_bitmap_nwords(const FmBitmap *bitmap);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmBitmap, fm_bitmap_free)

G_END_DECLS
