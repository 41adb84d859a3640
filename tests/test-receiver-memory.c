/*
 * test-receiver-memory.c: FmReceiverMemory, the memory a receiver fills: placement,
 * pages stored by copy or in place, and the page-table digest.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <string.h>
#include <sys/mman.h>

#include "receiver/fm-receiver-memory.h"
#include "util/fm-bytes.h"
#include "util/fm-error.h"
#include "tests/fm-test-util.h"

#define PAGE 4096u
#define PAGES 1024u

/* Fills @page with a pattern of @pfn and @version. */
static void
fill(guint8 *page, guint64 pfn, guint version)
{
    for (guint i = 0; i < PAGE; i++)
        page[i] = (guint8)(pfn * 31 + version * 7 + i / 8);
}

/* The digest the memory must give when pages @pfns[0..n) hold fill(pfn, versions[i])
 * (the last one wins) and all others are zero. */
static void
expected_digest(const guint64 *pfns, const guint *versions, guint n, guint8 out[FM_DIGEST_SIZE])
{
    g_autofree guint64 *hashes = g_new(guint64, PAGES);
    g_autofree guint8 *page = g_malloc0(PAGE);
    guint64 zero = fm_digest_page(page, PAGE);

    for (guint i = 0; i < PAGES; i++)
        hashes[i] = zero;
    for (guint i = 0; i < n; i++) {
        fill(page, pfns[i], versions[i]);
        hashes[pfns[i]] = fm_digest_page(page, PAGE);
    }
    fm_digest_page_table(hashes, PAGES, out);
}

/* Stores pages by copy, then one in place, in each placement; the memory and the
 * page digest follow the last version of every page. */
static void
test_store_and_digest(void)
{
    static const FmReceiverPlacement placements[] = {
        FM_RECEIVER_PLACEMENT_SMALL, FM_RECEIVER_PLACEMENT_HUGE,
        FM_RECEIVER_PLACEMENT_POPULATED,
    };
    const guint64 pfns[] = { 0, 5, 1023, 5, 512 };
    const guint versions[] = { 1, 1, 1, 2, 3 };

    for (guint p = 0; p < G_N_ELEMENTS(placements); p++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(FmReceiverMemory) mem =
            fm_receiver_memory_new(PAGES, PAGE, placements[p], &error);
        g_autofree guint8 *data = g_malloc(3 * PAGE);
        guint8 pfn_bytes[3 * 8];
        guint8 ours[FM_DIGEST_SIZE], theirs[FM_DIGEST_SIZE];
        guint8 *region;
        FmPageData pd;
        gsize len;

        g_assert_no_error(error);
        g_assert_nonnull(mem);
        g_assert_cmpuint(fm_receiver_memory_get_len(mem), ==, (gsize)PAGES * PAGE);
        region = fm_receiver_memory_get_region(mem);
        g_assert_cmpuint((guintptr)region % PAGE, ==, 0);
        if (placements[p] == FM_RECEIVER_PLACEMENT_HUGE && fm_receiver_memory_is_huge(mem))
            g_assert_cmpuint((guintptr)region % (2u << 20), ==, 0);

        /* nothing stored: the digest of zeros */
        fm_receiver_memory_page_digest(mem, ours);
        expected_digest(pfns, versions, 0, theirs);
        g_assert_cmpmem(ours, sizeof(ours), theirs, sizeof(theirs));

        /* three pages by copy */
        for (guint i = 0; i < 3; i++) {
            fm_put_le64(pfn_bytes + 8 * i, pfns[i]);
            fill(data + i * PAGE, pfns[i], versions[i]);
        }
        pd = (FmPageData){ 3, pfn_bytes, data };
        fm_receiver_memory_store(mem, &pd);
        /* pfn 5 again, then 512, written in place as the reader does */
        for (guint i = 3; i < 5; i++) {
            fm_put_le64(pfn_bytes, pfns[i]);
            fill(region + pfns[i] * PAGE, pfns[i], versions[i]);
            pd = (FmPageData){ 1, pfn_bytes, NULL };
            fm_receiver_memory_store(mem, &pd);
        }
        fm_receiver_memory_page_digest(mem, ours);
        expected_digest(pfns, versions, 5, theirs);
        g_assert_cmpmem(ours, sizeof(ours), theirs, sizeof(theirs));
        fill(data, 5, 2);
        g_assert_cmpmem(region + 5 * PAGE, PAGE, data, PAGE);

        /* a page that differs from what was stored changes the digest */
        fm_put_le64(pfn_bytes, 7);
        memset(data, 0xa5, PAGE);
        pd = (FmPageData){ 1, pfn_bytes, data };
        fm_receiver_memory_store(mem, &pd);
        fm_receiver_memory_page_digest(mem, ours);
        g_assert_cmpint(memcmp(ours, theirs, sizeof(ours)), !=, 0);

        region = fm_receiver_memory_steal(mem, &len);
        g_assert_nonnull(region);
        g_assert_null(fm_receiver_memory_get_region(mem));
        g_assert_cmpuint(len, ==, (gsize)PAGES * PAGE);
        g_assert_cmpuint(region[5 * PAGE], ==, (guint8)(5 * 31 + 2 * 7));
        g_assert_cmpint(munmap(region, len), ==, 0);
    }
}

/* A writer that sends zero pages as ZERO_PAGES: the reader hands them over in
 * order, interleaved with PAGE_DATA, and the memory ends as the last version of
 * each page, a page of zeros written over a stored one included. */
static void
test_zero_pages(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmChannel) out = fm_test_channel_from_bytes(NULL, 0);
    g_autoptr(FmChannel) in = NULL;
    g_autoptr(GBytes) bytes = NULL;
    g_autoptr(FmReceiverMemory) mem = NULL;
    FmStreamWriter *writer = fm_stream_writer_new(out);
    FmStreamReader *reader;
    const guint64 pfns[] = { 3, 4, 5, 3, 6, 3 };
    const guint versions[] = { 1, 0, 0, 0, 2, 0 };   /* 0: zeros */
    const guint32 types[] = { FM_RECORD_PAGE_DATA, FM_RECORD_ZERO_PAGES,
                              FM_RECORD_PAGE_DATA, FM_RECORD_ZERO_PAGES, FM_RECORD_END };
    g_autofree guint8 *data = g_malloc0(G_N_ELEMENTS(pfns) * PAGE);
    guint64 expect_pfns[] = { 3, 6 };
    guint expect_versions[] = { 0, 2 };
    guint8 ours[FM_DIGEST_SIZE], theirs[FM_DIGEST_SIZE];
    FmStreamRecord rec;
    guint n = 0;

    for (guint i = 0; i < G_N_ELEMENTS(pfns); i++) {
        if (versions[i])
            fill(data + i * PAGE, pfns[i], versions[i]);
    }
    fm_stream_writer_set_zero_pages(writer, TRUE);
    g_assert_true(fm_stream_writer_write_header(writer, PAGES, PAGE, &error));
    g_assert_true(fm_stream_writer_write_pages(writer, pfns, G_N_ELEMENTS(pfns), data, &error));
    g_assert_true(fm_stream_writer_write_end(writer, &error));
    g_assert_no_error(error);
    fm_stream_writer_free(writer);

    bytes = fm_test_channel_contents(out);
    in = fm_test_channel_from_bytes(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
    reader = fm_stream_reader_new(in, G_MAXUINT64);
    mem = fm_receiver_memory_new(PAGES, PAGE, FM_RECEIVER_PLACEMENT_SMALL, &error);
    g_assert_no_error(error);
    g_assert_true(fm_stream_reader_read_header(reader, &error));
    fm_stream_reader_set_page_memory(reader, fm_receiver_memory_get_region(mem));
    do {
        g_assert_true(fm_stream_reader_next(reader, &rec, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(n, <, G_N_ELEMENTS(types));
        g_assert_cmpuint(rec.type, ==, types[n]);
        n++;
        if (rec.type == FM_RECORD_PAGE_DATA)
            fm_receiver_memory_store(mem, &rec.pages);
        else if (rec.type == FM_RECORD_ZERO_PAGES)
            fm_receiver_memory_store_zeros(mem, &rec.pages);
    } while (rec.type != FM_RECORD_END);
    fm_stream_reader_free(reader);
    g_assert_cmpuint(n, ==, G_N_ELEMENTS(types));

    /* page 3 ends as zeros after holding data; 6 holds its data; 4, 5 zeros */
    for (guint64 pfn = 3; pfn <= 6; pfn++) {
        g_autofree guint8 *want = g_malloc0(PAGE);

        if (pfn == 6)
            fill(want, 6, 2);
        g_assert_cmpmem(fm_receiver_memory_get_region(mem) + pfn * PAGE, PAGE, want, PAGE);
    }
    fm_receiver_memory_page_digest(mem, ours);
    expected_digest(expect_pfns + 1, expect_versions + 1, 1, theirs);
    g_assert_cmpmem(ours, sizeof(ours), theirs, sizeof(theirs));
}

/* A guest larger than the address space is refused with FM_ERROR_LIMIT. */
static void
test_too_large(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmReceiverMemory) mem =
        fm_receiver_memory_new(G_MAXUINT64 / 2, PAGE, FM_RECEIVER_PLACEMENT_SMALL, &error);

    g_assert_null(mem);
    g_assert_error(error, FM_ERROR, FM_ERROR_LIMIT);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/receiver-memory/store-and-digest", test_store_and_digest);
    g_test_add_func("/receiver-memory/zero-pages", test_zero_pages);
    g_test_add_func("/receiver-memory/too-large", test_too_large);
    return g_test_run();
}
