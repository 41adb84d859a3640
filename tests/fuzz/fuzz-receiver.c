/*
 * fuzz-receiver.c: fuzz target "receiver": the destination of a local migration
 * (src/receiver/fm-receiver.c) reading a whole stream into memory, as
 * `fragmig receive --stdin` does: the stream reader, the page stores into the
 * incoming memory, the DIGEST check, and, for a stream whose memory verifies, the
 * guest header carried in that memory (fm_guest_adopt()).  Its limit is small, so
 * that no accepted header needs more memory than a fuzzer has.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "tests/fuzz/fm-fuzz.h"

#include "receiver/fm-receiver.h"
#include "tests/fm-test-util.h"
#include "util/fm-error.h"

/* Protocol, limit, digest, the source's ABORT; IO for an mmap that fails. */
static const int fm_fuzz_receiver_codes[] = {
    FM_ERROR_PROTOCOL, FM_ERROR_LIMIT, FM_ERROR_VERIFY, FM_ERROR_CANCELLED, FM_ERROR_IO,
    FM_ERROR_UNSUPPORTED,
};

/* One input: a saved stream. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(FmChannel) channel = NULL;
    g_autoptr(FmGuest) guest = NULL;
    g_autoptr(GError) error = NULL;
    FmReceiverOptions opts = { FM_FUZZ_MAX_MEMORY, FALSE, TRUE, FALSE, NULL, NULL, NULL };
    FmReceiverStats stats;

    fm_fuzz_init();
    channel = fm_test_channel_from_bytes(data, size);
    guest = fm_receiver_run(channel, &opts, &stats, &error);
    if (guest == NULL)
        fm_fuzz_check_error(error, "receiver", fm_fuzz_receiver_codes,
                            G_N_ELEMENTS(fm_fuzz_receiver_codes));
    else
        fm_fuzz_accepted("receiver");
    return 0;
}
