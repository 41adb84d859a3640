/*
 * fm-fuzz.c: what the fuzz harnesses share (see fm-fuzz.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "tests/fuzz/fm-fuzz.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/fm-error.h"

/* Prints that @what accepted its input, when $FM_FUZZ_VERBOSE is set (to triage a
 * fuzzer's input with a replay program: FM_FUZZ_VERBOSE=1 replay-x FILE). */
void
fm_fuzz_accepted(const char *what)
{
    if (g_getenv("FM_FUZZ_VERBOSE"))
        fprintf(stderr, "%s: accepted\n", what);
}

/* Drops debug and info messages: a fuzzer runs millions of inputs. */
static GLogWriterOutput
fm_fuzz_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                   gpointer user_data G_GNUC_UNUSED)
{
    if (level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO | G_LOG_LEVEL_MESSAGE))
        return G_LOG_WRITER_HANDLED;
    return g_log_writer_standard_streams(level, fields, n_fields, NULL);
}

/* Sets up logging once; see fm-fuzz.h. */
void
fm_fuzz_init(void)
{
    static gsize done = 0;

    if (g_once_init_enter(&done)) {
        g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING |
                               G_LOG_LEVEL_ERROR);
        g_log_set_writer_func(fm_fuzz_log_writer, NULL, NULL);
        g_once_init_leave(&done, 1);
    }
}

/* Checks a decoder's failure; see fm-fuzz.h. */
void
fm_fuzz_check_error(const GError *error, const char *what, const int *codes,
                    gsize n_codes)
{
    if (error == NULL) {
        fprintf(stderr, "%s failed without an error\n", what);
        abort();
    }
    if (error->domain != FM_ERROR) {
        fprintf(stderr, "%s: error in domain %s: %s\n", what,
                g_quark_to_string(error->domain), error->message);
        abort();
    }
    if (g_getenv("FM_FUZZ_VERBOSE"))
        fprintf(stderr, "%s: refused: %s\n", what, error->message);
    for (gsize i = 0; i < n_codes; i++) {
        if (error->code == codes[i]) {
            if (error->message == NULL || error->message[0] == '\0' ||
                !g_utf8_validate(error->message, -1, NULL)) {
                fprintf(stderr, "%s: empty or invalid UTF-8 message\n", what);
                abort();
            }
            return;
        }
    }
    fprintf(stderr, "%s: unexpected error code %d: %s\n", what, error->code,
            error->message);
    abort();
}
