/*
 * fuzz-xen-stream.c: fuzz target "xen-stream": the reader of Xen's migration
 * stream (libxl v2 carrying libxc v2/v3, src/stream/fm-xen-reader.c), fed through
 * a channel.  Checks that every PAGE_DATA record handed out is consistent (pfns
 * within the reader's limit, data for exactly the pages whose type has data) and
 * that every refusal is a protocol or limit error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "tests/fuzz/fm-fuzz.h"

#include <stdio.h>
#include <stdlib.h>

#include "stream/fm-xen-reader.h"
#include "tests/fm-test-util.h"
#include "util/fm-error.h"

/* The pfn limit given to the reader, as a destination of a 64 MiB guest would. */
#define FM_FUZZ_XEN_MAX_PFNS (FM_FUZZ_MAX_MEMORY * 4 / FM_XEN_PAGE_SIZE)

static const int fm_fuzz_xen_codes[] = { FM_ERROR_PROTOCOL, FM_ERROR_LIMIT };

/* Aborts with @what unless @cond. */
#define FUZZ_ASSERT(cond, what) \
    do { if (!(cond)) { fprintf(stderr, "xen-stream: %s\n", what); abort(); } } while (0)

/* Reads the pfns and page data of a PAGE_DATA record; returns a checksum. */
static guint64
fm_fuzz_xen_pages(const FmXenRecord *rec)
{
    guint64 sum = 0;
    guint32 with_data = 0;

    FUZZ_ASSERT(rec->count >= 1 && 8 + 8 * (gsize)rec->count <= rec->len,
                "PAGE_DATA count inconsistent with its length");
    for (guint32 i = 0; i < rec->count; i++) {
        guint32 type;
        guint64 pfn = fm_xen_record_get_pfn(rec, i, &type);

        FUZZ_ASSERT(pfn < FM_FUZZ_XEN_MAX_PFNS, "pfn beyond the reader's limit");
        FUZZ_ASSERT(fm_xen_page_type_name(type) != NULL, "reserved page type accepted");
        if (fm_xen_page_type_has_data(type))
            with_data++;
        sum += pfn;
    }
    FUZZ_ASSERT(with_data == rec->data_pages, "data page count wrong");
    if (rec->data_pages > 0) {
        gsize bytes = (gsize)rec->data_pages * FM_XEN_PAGE_SIZE;

        FUZZ_ASSERT(rec->data + bytes <= rec->body + rec->len, "page data beyond the body");
        sum += rec->data[0] + rec->data[bytes - 1];
    }
    return sum;
}

/* One input: a whole libxl stream. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(FmChannel) channel = NULL;
    g_autoptr(FmXenStreamReader) reader = NULL;
    g_autoptr(GError) error = NULL;
    volatile guint64 sum = 0;

    fm_fuzz_init();
    channel = fm_test_channel_from_bytes(data, size);
    reader = fm_xen_stream_reader_new(channel, FM_FUZZ_XEN_MAX_PFNS);
    if (!fm_xen_stream_reader_read_header(reader, &error)) {
        fm_fuzz_check_error(error, "xen header", fm_fuzz_xen_codes,
                            G_N_ELEMENTS(fm_fuzz_xen_codes));
        return 0;
    }
    while (!fm_xen_stream_reader_is_done(reader)) {
        FmXenRecord rec;

        if (!fm_xen_stream_reader_next(reader, &rec, &error)) {
            fm_fuzz_check_error(error, "xen record", fm_fuzz_xen_codes,
                                G_N_ELEMENTS(fm_fuzz_xen_codes));
            return 0;
        }
        FUZZ_ASSERT(rec.len <= FM_XEN_REC_LENGTH_MAX, "body beyond the limit");
        if (rec.layer == FM_XEN_LAYER_LIBXC && rec.type == FM_XEN_LIBXC_REC_PAGE_DATA)
            sum += fm_fuzz_xen_pages(&rec);
        else if (rec.len > 0)
            sum += rec.body[0] + rec.body[rec.len - 1];
    }
    if (!fm_xen_stream_reader_check_eof(reader, &error))
        fm_fuzz_check_error(error, "xen end", fm_fuzz_xen_codes,
                            G_N_ELEMENTS(fm_fuzz_xen_codes));
    else
        fm_fuzz_accepted("xen-stream");
    (void)sum;
    return 0;
}
