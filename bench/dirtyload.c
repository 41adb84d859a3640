/*
 * dirtyload.c: benchmark of the mutators' slowdown under dirty tracking, on a running
 * `fragmig guest` (bench/local step 3).
 *
 * The guest registers its region for async userfaultfd write-protect always; what
 * costs is re-arming: after a clearing harvest, the first write to each harvested
 * page takes a write-protect fault.  So "tracking off" is the guest left alone (every
 * page stays writable once written), and "tracking on" is what a migration source
 * does: a clearing harvest of the whole region every INTERVAL, as in pre-copy rounds.
 * The write rate is the guest's own counter (its header, read through the local
 * backend, fm-local.h), so nothing in the guest changes between the two.
 *
 * Phases alternate off, on, off, on (machine noise hits both alike), each SECONDS
 * long after a settling time that is not counted (off: 0.5 s, for the pages the last
 * harvest re-armed to fault once; on: one clearing harvest first).
 *
 * Usage: dirtyload PID [SECONDS [INTERVAL_MS]]   (defaults: 3 s per phase, 100 ms)
 * The last three lines ("tracking off:", "tracking on:", "ratio on/off:") carry the
 * results, for scripts.  Run it with a guest rate above what a mutator can do (e.g.
 * --rate 100000000/s --workload db --region-size 100% --threads 1; 2000000/s is not
 * enough on a 2-CPU VM, where one mutator does ~20 million writes/s untracked), so
 * that it is CPU-bound and a slowdown shows in its rate.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/fm-backend.h"
#include "backend/local/fm-local.h"
#include "util/fm-bitmap.h"
#include "util/fm-error.h"

#define DIRTYLOAD_CYCLES 2
#define DIRTYLOAD_WARMUP_US (1 * G_USEC_PER_SEC)
#define DIRTYLOAD_SETTLE_US (G_USEC_PER_SEC / 2)

/* What one phase measured. */
typedef struct {
    double writes_per_s;
    guint harvests;
    double dirty_pages;     /* mean per harvest */
    double harvest_ms;      /* mean time of one harvest */
} Phase;

/* Returns the guest's write counter; exits the program if the guest is gone. */
static guint64
guest_writes(FmBackend *backend)
{
    g_autoptr(GError) error = NULL;
    g_autofree FmGuestHeader *header = g_new0(FmGuestHeader, 1);

    if (!fm_local_backend_read_header(backend, header, &error)) {
        fprintf(stderr, "dirtyload: %s\n", error->message);
        exit(1);
    }
    return fm_guest_header_writes(header);
}

/* One clearing harvest of the whole region into @dirty (cleared first); returns the
 * pages found and adds its time in ms to *@ms.  Exits the program on failure. */
static guint64
harvest_all(FmBackend *backend, FmBitmap *dirty, double *ms)
{
    g_autoptr(GError) error = NULL;
    gint64 t0 = g_get_monotonic_time();

    fm_bitmap_clear_all(dirty);
    if (!fm_backend_harvest(backend, dirty, 0, fm_backend_page_count(backend), TRUE,
                            &error)) {
        fprintf(stderr, "dirtyload: %s\n", error->message);
        exit(1);
    }
    *ms += (g_get_monotonic_time() - t0) / 1e3;
    return fm_bitmap_count(dirty);
}

/* Runs one phase of @seconds, harvesting every @interval_us when @tracking; fills
 * @out. */
static void
run_phase(FmBackend *backend, FmBitmap *dirty, gboolean tracking, double seconds,
          gint64 interval_us, Phase *out)
{
    double ms = 0, dirty_sum = 0;
    guint64 w0, w1;
    gint64 t0, t1, end, next;

    if (tracking) {
        harvest_all(backend, dirty, &ms);
        ms = 0;
    } else {
        g_usleep(DIRTYLOAD_SETTLE_US);
    }
    out->harvests = 0;
    w0 = guest_writes(backend);
    t0 = g_get_monotonic_time();
    end = t0 + (gint64) (seconds * G_USEC_PER_SEC);
    next = t0 + interval_us;
    while ((t1 = g_get_monotonic_time()) < end) {
        if (!tracking || next > t1) {
            g_usleep(MIN(tracking ? next : end, end) - t1);
            continue;
        }
        dirty_sum += harvest_all(backend, dirty, &ms);
        out->harvests++;
        /* a late harvest does not make the next one come sooner */
        next = MAX(next + interval_us, g_get_monotonic_time() + interval_us / 2);
    }
    w1 = guest_writes(backend);
    t1 = g_get_monotonic_time();
    out->writes_per_s = (double) (w1 - w0) * G_USEC_PER_SEC / MAX(t1 - t0, 1);
    out->dirty_pages = out->harvests ? dirty_sum / out->harvests : 0;
    out->harvest_ms = out->harvests ? ms / out->harvests : 0;
}

/* Reads a positive number of seconds (at most an hour) from @text into *@seconds;
 * returns FALSE on anything else. */
static gboolean
parse_seconds(const char *text, double *seconds)
{
    char *end = NULL;
    double v = g_ascii_strtod(text, &end);

    if (end == text || *end != '\0' || !(v > 0 && v <= 3600))
        return FALSE;
    *seconds = v;
    return TRUE;
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmBackend) backend = NULL;
    g_autoptr(FmBitmap) dirty = NULL;
    guint64 pid = 0, interval_ms = 100;
    double seconds = 3;
    Phase phases[2 * DIRTYLOAD_CYCLES];
    double sum[2] = { 0, 0 };
    double dirty_sum = 0, ms_sum = 0;

    if (argc < 2 || argc > 4 ||
        !g_ascii_string_to_unsigned(argv[1], 10, 1, G_MAXINT, &pid, NULL) ||
        (argc > 2 && !parse_seconds(argv[2], &seconds)) ||
        (argc > 3 && !g_ascii_string_to_unsigned(argv[3], 10, 1, 60000, &interval_ms, NULL))) {
        fprintf(stderr, "usage: dirtyload PID [SECONDS [INTERVAL_MS]]   (defaults: 3 100)\n");
        return 2;
    }
    backend = fm_local_backend_new((pid_t) pid, &error);
    if (backend == NULL) {
        fprintf(stderr, "dirtyload: %s\n", error->message);
        return 1;
    }
    dirty = fm_bitmap_new(fm_backend_page_count(backend));

    printf("guest pid %d: %" G_GUINT64_FORMAT " pages of %zu bytes, tracking by %s; "
           "clearing harvest of everything every %" G_GUINT64_FORMAT " ms when on; "
           "%d x (off, on), %.3g s each\n\n",
           (int) pid, fm_backend_page_count(backend), fm_backend_page_size(backend),
           fm_pagemap_mode_to_string(fm_local_backend_mode(backend)), interval_ms,
           DIRTYLOAD_CYCLES, seconds);
    /* the pages write-protected at registration (or by a previous run) fault once */
    g_usleep(DIRTYLOAD_WARMUP_US);

    printf("%-6s %-9s %14s %9s %16s %11s\n", "phase", "tracking", "writes/s", "harvests",
           "dirty/harvest", "harvest ms");
    for (guint i = 0; i < G_N_ELEMENTS(phases); i++) {
        gboolean on = i % 2 == 1;

        run_phase(backend, dirty, on, seconds, (gint64) interval_ms * 1000, &phases[i]);
        printf("%-6u %-9s %14.0f %9u %16.0f %11.3f\n", i / 2 + 1, on ? "on" : "off",
               phases[i].writes_per_s, phases[i].harvests, phases[i].dirty_pages,
               phases[i].harvest_ms);
        fflush(stdout);
        sum[on] += phases[i].writes_per_s;
        if (on) {
            dirty_sum += phases[i].dirty_pages;
            ms_sum += phases[i].harvest_ms;
        }
    }
    if (sum[0] <= 0) {
        fprintf(stderr, "dirtyload: the guest made no writes with tracking off\n");
        return 1;
    }
    printf("\ntracking off: %.0f writes/s\n", sum[0] / DIRTYLOAD_CYCLES);
    printf("tracking on: %.0f writes/s (%.0f dirty pages and %.3f ms per harvest)\n",
           sum[1] / DIRTYLOAD_CYCLES, dirty_sum / DIRTYLOAD_CYCLES, ms_sum / DIRTYLOAD_CYCLES);
    printf("ratio on/off: %.3f\n", sum[1] / sum[0]);
    return 0;
}
