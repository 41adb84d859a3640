/*
 * fuzz-result.c: fuzz target "result": the source's reader of the destination's
 * verdict, the RESULT record of the back channel (fm_stream_read_result(),
 * docs/stream-format.md section 5).  A destination is a peer like any other: its
 * reply must not crash the source nor hand it an invalid message.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "tests/fuzz/fm-fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/fm-stream.h"
#include "tests/fm-test-util.h"
#include "util/fm-error.h"

static const int fm_fuzz_result_codes[] = { FM_ERROR_PROTOCOL, FM_ERROR_IO };

/* One input: what the destination sends back. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(FmChannel) channel = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *message = NULL;
    guint32 status = G_MAXUINT32;
    int code;

    fm_fuzz_init();
    channel = fm_test_channel_from_bytes(data, size);
    if (!fm_stream_read_result(channel, &status, &message, &error)) {
        fm_fuzz_check_error(error, "result", fm_fuzz_result_codes,
                            G_N_ELEMENTS(fm_fuzz_result_codes));
        return 0;
    }
    if (message == NULL || !g_utf8_validate(message, -1, NULL) ||
        strlen(message) > FM_STREAM_MAX_TEXT) {
        fprintf(stderr, "result: accepted a bad message\n");
        abort();
    }
    fm_fuzz_accepted("result");
    code = fm_stream_result_status_to_error_code(status);
    if (status != FM_RESULT_OK && (code < 0 || code > FM_ERROR_LIMIT)) {
        fprintf(stderr, "result: status %u maps to no error code\n", status);
        abort();
    }
    return 0;
}
