/*
 * fuzz-stream.c: fuzz target "stream": the native stream reader
 * (src/stream/fm-stream.c, docs/stream-format.md), fed through a channel as a
 * source would feed it.  Checks that every record handed out keeps the reader's
 * promises (type known, body within the limits, pfns inside the announced guest)
 * and that every refusal is a protocol or limit error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "tests/fuzz/fm-fuzz.h"

#include <stdio.h>
#include <stdlib.h>

#include "stream/fm-stream.h"
#include "tests/fm-test-util.h"
#include "util/fm-error.h"

static const int fm_fuzz_stream_codes[] = { FM_ERROR_PROTOCOL, FM_ERROR_LIMIT };

/* Aborts with @what unless @cond. */
#define FUZZ_ASSERT(cond, what) \
    do { if (!(cond)) { fprintf(stderr, "stream: %s\n", what); abort(); } } while (0)

/* Reads every page of @rec (so that the sanitizers see an out-of-bounds body)
 * and checks its pfns; returns a checksum that keeps the reads alive. */
static guint64
fm_fuzz_stream_pages(const FmStreamRecord *rec, guint64 page_count, gsize page_size)
{
    guint64 sum = 0;

    FUZZ_ASSERT(rec->pages.count >= 1 &&
                rec->pages.count <= fm_stream_max_pages_per_record(page_size),
                "PAGE_DATA count outside the limits");
    FUZZ_ASSERT(rec->len == 8 + (gsize)rec->pages.count * (8 + page_size),
                "PAGE_DATA length inconsistent with its count");
    for (guint32 i = 0; i < rec->pages.count; i++) {
        guint64 pfn = fm_page_data_get_pfn(&rec->pages, i);
        const guint8 *page = rec->pages.data + (gsize)i * page_size;

        FUZZ_ASSERT(pfn < page_count, "pfn outside the guest");
        sum += pfn + page[0] + page[page_size - 1];
    }
    return sum;
}

/* One input: a whole stream, header first. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(FmChannel) channel = NULL;
    g_autoptr(FmStreamReader) reader = NULL;
    g_autoptr(GError) error = NULL;
    volatile guint64 sum = 0;
    guint64 page_count;
    gsize page_size;

    fm_fuzz_init();
    channel = fm_test_channel_from_bytes(data, size);
    reader = fm_stream_reader_new(channel, FM_FUZZ_MAX_MEMORY);
    if (!fm_stream_reader_read_header(reader, &error)) {
        fm_fuzz_check_error(error, "stream header", fm_fuzz_stream_codes,
                            G_N_ELEMENTS(fm_fuzz_stream_codes));
        return 0;
    }
    page_count = fm_stream_reader_get_page_count(reader);
    page_size = fm_stream_reader_get_page_size(reader);
    FUZZ_ASSERT(page_count >= 1 && page_count * page_size <= FM_FUZZ_MAX_MEMORY,
                "accepted a guest beyond the limit");

    while (!fm_stream_reader_is_done(reader)) {
        FmStreamRecord rec;
        guint64 before = fm_stream_reader_get_offset(reader);

        if (!fm_stream_reader_next(reader, &rec, &error)) {
            fm_fuzz_check_error(error, "stream record", fm_fuzz_stream_codes,
                                G_N_ELEMENTS(fm_fuzz_stream_codes));
            return 0;
        }
        FUZZ_ASSERT(rec.type < FM_RECORD_TYPE_LAST && rec.type != FM_RECORD_RESULT,
                    "handed out a record of a bad type");
        FUZZ_ASSERT(rec.len <= FM_STREAM_MAX_BODY, "body beyond the limit");
        FUZZ_ASSERT(rec.offset == before && rec.offset % FM_STREAM_ALIGN == 0,
                    "record offset wrong");
        FUZZ_ASSERT(fm_stream_reader_get_offset(reader) >= before + fm_stream_record_size(rec.len),
                    "offset did not advance over the record");
        if (rec.type == FM_RECORD_PAGE_DATA)
            sum += fm_fuzz_stream_pages(&rec, page_count, page_size);
        else if (rec.len > 0)
            sum += rec.body[0] + rec.body[rec.len - 1];
    }
    FUZZ_ASSERT(fm_stream_reader_get_offset(reader) == size,
                "stream accepted with bytes left over");
    fm_fuzz_accepted("stream");
    (void)sum;
    return 0;
}
