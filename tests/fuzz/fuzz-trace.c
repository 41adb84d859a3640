/*
 * fuzz-trace.c: fuzz target "trace": the dirty-page trace reader
 * (src/trace/fm-trace.c, docs/trace-format.md), through both ways a trace is
 * read: the incremental reader over memory, and the loader over a FILE.  An
 * accepted trace must be canonical: encoding it again gives back the input.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "tests/fuzz/fm-fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fm-test-util.h"
#include "trace/fm-trace.h"
#include "util/fm-error.h"

static const int fm_fuzz_trace_codes[] = { FM_ERROR_PROTOCOL };
static const int fm_fuzz_trace_file_codes[] = { FM_ERROR_PROTOCOL, FM_ERROR_IO };

/* Aborts with @what unless @cond. */
#define FUZZ_ASSERT(cond, what) \
    do { if (!(cond)) { fprintf(stderr, "trace: %s\n", what); abort(); } } while (0)

/* Reads the input record by record; returns TRUE if it is a valid trace. */
static gboolean
fm_fuzz_trace_reader(const uint8_t *data, size_t size)
{
    g_autoptr(FmTraceReader) reader = NULL;
    g_autoptr(GError) error = NULL;
    guint64 last_time = 0;
    int r;

    reader = fm_trace_reader_new(NULL, data, size, &error);
    if (reader == NULL) {
        fm_fuzz_check_error(error, "trace header", fm_fuzz_trace_codes,
                            G_N_ELEMENTS(fm_fuzz_trace_codes));
        return FALSE;
    }
    for (;;) {
        guint64 time_ns;
        const FmTraceRun *runs;
        gsize n_runs;
        guint64 end = 0;

        r = fm_trace_reader_next(reader, &time_ns, &runs, &n_runs, &error);
        if (r <= 0)
            break;
        FUZZ_ASSERT(time_ns > last_time && time_ns <= FM_TRACE_MAX_TIME_NS,
                    "interval times not increasing");
        last_time = time_ns;
        for (gsize i = 0; i < n_runs; i++) {
            FUZZ_ASSERT(runs[i].length > 0, "empty run");
            FUZZ_ASSERT(i == 0 || runs[i].start > end, "runs not sorted or touching");
            FUZZ_ASSERT(runs[i].start + runs[i].length <= fm_trace_reader_page_count(reader) &&
                        runs[i].start + runs[i].length > runs[i].start, "run outside the guest");
            end = runs[i].start + runs[i].length;
        }
    }
    if (r < 0) {
        fm_fuzz_check_error(error, "trace record", fm_fuzz_trace_codes,
                            G_N_ELEMENTS(fm_fuzz_trace_codes));
        return FALSE;
    }
    FUZZ_ASSERT(fm_trace_reader_offset(reader) == size, "trace accepted with bytes left over");
    return TRUE;
}

/* One input: a trace file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(FmTrace) trace = NULL;
    g_autoptr(GError) error = NULL;
    gboolean valid;
    FILE *f;

    fm_fuzz_init();
    valid = fm_fuzz_trace_reader(data, size);

    /* the loader reads a FILE: a different path through the reader */
    f = fmemopen((void *)(size > 0 ? data : (const uint8_t *)""), size > 0 ? size : 1, "rb");
    FUZZ_ASSERT(f != NULL, "fmemopen failed");
    if (size == 0)
        (void)fgetc(f);   /* fmemopen cannot open 0 bytes: consume the stand-in */
    trace = fm_trace_load_stream(f, &error);
    fclose(f);
    FUZZ_ASSERT((trace != NULL) == valid, "the reader and the loader disagree");
    if (trace == NULL) {
        fm_fuzz_check_error(error, "trace load", fm_fuzz_trace_file_codes,
                            G_N_ELEMENTS(fm_fuzz_trace_file_codes));
        return 0;
    }
    {
        g_autoptr(GBytes) again = fm_trace_encode(trace);
        gsize len;
        const void *bytes = g_bytes_get_data(again, &len);

        FUZZ_ASSERT(len == size && memcmp(bytes, data, size) == 0,
                    "an accepted trace is not canonical");
        fm_fuzz_accepted("trace");
    }
    return 0;
}
