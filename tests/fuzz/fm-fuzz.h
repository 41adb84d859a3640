/*
 * fm-fuzz.h: what the fuzz harnesses of tests/fuzz/ share.
 *
 * Each harness fuzz-<target>.c defines LLVMFuzzerTestOneInput() for one decoder
 * and is linked either with libFuzzer (clang -fsanitize=fuzzer, `make fuzz`) or
 * with fuzz-replay.c, which runs it over the checked-in corpus and regression
 * files in `make check`.  A harness feeds the decoder its input as a real peer
 * would (a channel, a file in memory), reads everything the decoder hands out, and
 * checks the decoder's promises: no crash, no out-of-bounds access, every failure a
 * GError of the documented domain and codes with a valid UTF-8 message.  A broken
 * promise aborts, which libFuzzer reports as a crash.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

/* The memory limit the stream harnesses give their readers: small enough that
 * every accepted header can be allocated at once. */
#define FM_FUZZ_MAX_MEMORY (G_GUINT64_CONSTANT(16) << 20)

/* Makes GLib's criticals and warnings fatal (a g_return_if_fail() reached from
 * input is a bug) and silences debug output.  Idempotent; every harness calls it
 * first. */
void fm_fuzz_init(void);

/* Aborts unless @error is set, in FM_ERROR, with a code among the @n_codes of
 * @codes, and with a non-empty valid UTF-8 message.  @what names the decoder.
 * With $FM_FUZZ_VERBOSE set, prints the message first. */
void fm_fuzz_check_error(const GError *error, const char *what, const int *codes,
                         gsize n_codes);

/* Prints that @what accepted its input when $FM_FUZZ_VERBOSE is set, as
 * fm_fuzz_check_error() prints refusals then: to triage an input with a replay
 * program (FM_FUZZ_VERBOSE=1 tests/fuzz/replay-TARGET FILE). */
void fm_fuzz_accepted(const char *what);

/* The libFuzzer entry point each harness defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

G_END_DECLS
