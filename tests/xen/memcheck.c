/*
 * memcheck.c: the Xen test bed's guest workload: dirties memory and proves, pass after
 * pass, that none of it changed behind its back (for example across a live migration).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: memcheck MIB [PAUSE_MS [SLICES]]
 *
 * The buffer is MIB MiB of anonymous memory.  Every word of every page starts with a
 * value derived from its address (the "body"); the first and the last word of each page
 * (its "stamps") additionally record the number of the pass that wrote them.  Each pass
 * walks all pages: it checks both stamps against the previous pass, rewrites them for
 * this pass (so every page is dirtied every pass, which is what stresses pre-copy), and
 * checks the full body of one page in SLICES (a different slice each pass, so all of
 * memory is read back every SLICES passes without slowing every pass down).  A page
 * whose first stamp is right but whose last is stale was copied half-way: the two
 * stamps catch torn pages, the body catches pages sent from the wrong frame.
 *
 * Once a second, and after any pass that found damage, it prints one line:
 *   memcheck pass=P bad=B badpages=N maxgap_ms=G hb_gap_ms=H mib=M
 * bad is the number of damaged pages found so far (0 means memory is intact), badpages
 * those of the last pass, maxgap_ms the longest stall seen between two checkpoints on
 * the monotonic clock (a stopped process sees its stop; a migrated Xen guest does not
 * see its pause there: Linux suspends for a migration as for a system sleep, and
 * CLOCK_MONOTONIC leaves sleeps out).  hb_gap_ms is the longest gap since the
 * previous line between two of the same checkpoints on CLOCK_BOOTTIME, which counts
 * sleeps (its own pauses between passes are left out): the downtime of a migration,
 * as the guest lived it, shows there in the first line after it resumed.  (A
 * separate heartbeat thread would do, but its wake-ups slowed an emulated guest and
 * its migrations several times over.)  It is a freestanding
 * test program: it uses only libc and is linked statically, because the guest has no
 * libraries.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE_WORDS (4096 / sizeof(uint64_t))
/* How many pages are walked between two clock readings. */
#define CLOCK_EVERY 64

/* The body value of word @w (global word index): any fixed, address-dependent mix will
 * do; this one (splitmix64's finaliser) makes neighbouring words and pages differ. */
static uint64_t
body_word(uint64_t w)
{
    uint64_t z = w + 0x9e3779b97f4a7c15ULL;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The stamp of page @page written in pass @pass; the two stamps of a page differ so
 * that a page copied over another page's stamp does not match either. */
static uint64_t
stamp_word(uint64_t page, uint64_t pass, int last)
{
    return body_word(page * 2 + (uint64_t) last) ^ (pass * 0x100000001b3ULL);
}

/* Milliseconds on the monotonic clock. */
static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Milliseconds on CLOCK_BOOTTIME, which, unlike CLOCK_MONOTONIC, counts the time the
 * guest spent suspended for a migration. */
static uint64_t
boot_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Parses a non-negative decimal argument no larger than @max; exits on anything else. */
static unsigned long
parse_arg(const char *s, const char *what, unsigned long max)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max) {
        fprintf(stderr, "memcheck: invalid %s '%s' (0..%lu)\n", what, s, max);
        exit(2);
    }
    return v;
}

int
main(int argc, char **argv)
{
    unsigned long mib, pause_ms = 0, slices = 8;
    size_t pages, p, i;
    uint64_t *buf;
    uint64_t pass, bad = 0, maxgap = 0, last_print = 0, prev;
    uint64_t beat, gap = 0;   /* CLOCK_BOOTTIME: the last reading, the longest gap */

    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: memcheck MIB [PAUSE_MS [SLICES]]\n");
        return 2;
    }
    mib = parse_arg(argv[1], "MIB", 1UL << 20);
    if (argc > 2)
        pause_ms = parse_arg(argv[2], "PAUSE_MS", 60000);
    if (argc > 3)
        slices = parse_arg(argv[3], "SLICES", 1UL << 20);
    if (slices == 0)
        slices = 1;
    pages = (size_t) mib * 256;
    if (pages == 0) {
        /* Nothing to dirty: an idle guest that still reports it is alive. */
        beat = boot_ms();
        for (pass = 1;; pass++) {
            uint64_t now = boot_ms();

            /* One beat a second: a gap above 1000 ms is a stall. */
            printf("memcheck pass=%" PRIu64 " bad=0 badpages=0 maxgap_ms=0 hb_gap_ms=%" PRIu64
                   " mib=0\n", pass, now - beat > 1000 ? now - beat - 1000 : 0);
            fflush(stdout);
            beat = now;
            sleep(1);
        }
    }

    /* MAP_POPULATE: fault everything in now, so that the first pass measures memory,
     * not page faults, and a guest short of memory fails here, visibly. */
    buf = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (buf == MAP_FAILED) {
        fprintf(stderr, "memcheck: cannot map %lu MiB: %s\n", mib, strerror(errno));
        return 1;
    }
    for (p = 0; p < pages; p++) {
        uint64_t *pg = buf + p * PAGE_WORDS;

        for (i = 0; i < PAGE_WORDS; i++)
            pg[i] = body_word(p * PAGE_WORDS + i);
        pg[0] = stamp_word(p, 0, 0);
        pg[PAGE_WORDS - 1] = stamp_word(p, 0, 1);
    }
    printf("memcheck start mib=%lu pages=%zu pause_ms=%lu slices=%lu\n",
           mib, pages, pause_ms, slices);
    fflush(stdout);

    prev = now_ms();
    beat = boot_ms();
    for (pass = 1;; pass++) {
        uint64_t badpages = 0, now;
        size_t slice = pass % slices;

        for (p = 0; p < pages; p++) {
            /* volatile: every pass must really read and write memory. */
            volatile uint64_t *pg = buf + p * PAGE_WORDS;
            int damaged = 0;

            if (pg[0] != stamp_word(p, pass - 1, 0) ||
                pg[PAGE_WORDS - 1] != stamp_word(p, pass - 1, 1))
                damaged = 1;
            if (p % slices == slice) {
                for (i = 1; i < PAGE_WORDS - 1; i++) {
                    if (pg[i] != body_word(p * PAGE_WORDS + i)) {
                        damaged = 1;
                        break;
                    }
                }
            }
            if (damaged) {
                badpages++;
                /* Repair, so that one damaged page is counted once, not every pass. */
                for (i = 1; i < PAGE_WORDS - 1; i++)
                    pg[i] = body_word(p * PAGE_WORDS + i);
            }
            pg[0] = stamp_word(p, pass, 0);
            pg[PAGE_WORDS - 1] = stamp_word(p, pass, 1);

            if (p % CLOCK_EVERY == 0) {
                now = now_ms();
                if (now - prev > maxgap)
                    maxgap = now - prev;
                prev = now;
                now = boot_ms();
                if (now - beat > gap)
                    gap = now - beat;
                beat = now;
            }
        }
        bad += badpages;

        now = now_ms();
        if (badpages || now - last_print >= 1000) {
            printf("memcheck pass=%" PRIu64 " bad=%" PRIu64 " badpages=%" PRIu64
                   " maxgap_ms=%" PRIu64 " hb_gap_ms=%" PRIu64 " mib=%lu\n", pass, bad,
                   badpages, maxgap, gap, mib);
            fflush(stdout);
            last_print = now;
            gap = 0;
        }
        if (pause_ms) {
            uint64_t slept = boot_ms();

            usleep(pause_ms * 1000);
            /* The pause is ours, not a stall: not counted, only what exceeds it. */
            prev = now_ms();
            beat = boot_ms();
            if (beat - slept > pause_ms && beat - slept - pause_ms > gap)
                gap = beat - slept - pause_ms;
        }
    }
}
