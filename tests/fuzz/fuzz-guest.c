/*
 * fuzz-guest.c: fuzz target "guest": the guest header that a receiver adopts from
 * the memory it received (fm_guest_adopt(): the header in page 0, each thread's
 * workload state, and for a trace workload the trace encoded in the region's last
 * pages).  The digest only proves that the memory is the source's: a hostile
 * source sends a hostile header with a matching digest, so the header is a decoder
 * of network input like the stream.  The input is the start of a small region
 * (FM_FUZZ_GUEST_PAGES pages, zero beyond the input).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "tests/fuzz/fm-fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/local/fm-guest.h"
#include "util/fm-error.h"

/* The region's size in system pages; gen-corpus writes seeds of this size. */
#define FM_FUZZ_GUEST_PAGES 16

/* Protocol for a bad header; the others when the host cannot track the region. */
static const int fm_fuzz_guest_codes[] = {
    FM_ERROR_PROTOCOL, FM_ERROR_UNSUPPORTED, FM_ERROR_IO,
};

/* One input: the first bytes of a migrated guest's memory. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gsize len = FM_FUZZ_GUEST_PAGES * (gsize)sysconf(_SC_PAGESIZE);
    g_autoptr(GError) error = NULL;
    FmGuest *guest;
    void *region;

    fm_fuzz_init();
    region = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) {
        perror("guest: mmap");
        abort();
    }
    memcpy(region, data, MIN(size, len));
    guest = fm_guest_adopt(region, len, &error);
    if (guest == NULL) {
        fm_fuzz_check_error(error, "guest", fm_fuzz_guest_codes,
                            G_N_ELEMENTS(fm_fuzz_guest_codes));
        munmap(region, len);
        return 0;
    }
    if (fm_guest_header(guest)->n_threads < 1 ||
        fm_guest_header(guest)->n_threads > FM_GUEST_MAX_THREADS ||
        fm_guest_region_len(guest) != len) {
        fprintf(stderr, "guest: adopted an inconsistent header\n");
        abort();
    }
    fm_fuzz_accepted("guest");
    fm_guest_free(guest);     /* unmaps the region */
    return 0;
}
