/*
 * fuzz-xl.c: fuzz target "xl": what `xl migrate` puts around a Xen stream
 * (src/stream/fm-xl-format.c): the save-file header with the domain's JSON
 * configuration, then the handshake messages in the order a sender reads them
 * from a receiver (ready, report) and a receiver from a sender (go).  Every
 * refusal must be a protocol or I/O error; an accepted configuration is a C
 * string without NUL inside.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "tests/fuzz/fm-fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/fm-xl-format.h"
#include "tests/fm-test-util.h"
#include "util/fm-error.h"

static const int fm_fuzz_xl_codes[] = { FM_ERROR_PROTOCOL, FM_ERROR_IO };

/* One input: a header and what follows it. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const FmXlMessage after[] = { FM_XL_MSG_READY, FM_XL_MSG_GO, FM_XL_MSG_REPORT };
    g_autoptr(FmChannel) channel = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *config = NULL;

    fm_fuzz_init();
    channel = fm_test_channel_from_bytes(data, size);
    config = fm_xl_read_header(channel, &error);
    if (config == NULL) {
        fm_fuzz_check_error(error, "xl header", fm_fuzz_xl_codes,
                            G_N_ELEMENTS(fm_fuzz_xl_codes));
        return 0;
    }
    if (config[0] == '\0' || strlen(config) + 1 > FM_XL_MAX_OPTIONAL) {
        fprintf(stderr, "xl: accepted an empty or oversized configuration\n");
        abort();
    }
    for (gsize i = 0; i < G_N_ELEMENTS(after); i++) {
        if (!fm_xl_read_message(channel, after[i], &error)) {
            fm_fuzz_check_error(error, "xl message", fm_fuzz_xl_codes,
                                G_N_ELEMENTS(fm_fuzz_xl_codes));
            return 0;
        }
    }
    fm_fuzz_accepted("xl");
    return 0;
}
