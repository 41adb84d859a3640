/*
 * test-sim.c: unit tests of the simulator backend (src/backend/sim/), driven by hand
 * through the FmBackend / FmSink API.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "backend/sim/fm-sim.h"
#include "stream/fm-stream-format.h"
#include "util/fm-error.h"

#define PAGE 4096
#define BATCH 256
#define HEADER FM_STREAM_HEADER_SIZE   /* the native stream header */

/* A scenario built by hand: @memory bytes, 100 MB/s, 1 ms; the workload is borrowed
 * into it (the sim copies it), pass NULL for a guest that never writes. */
static FmScenario *
scenario_new(guint64 memory, const FmWorkloadSpec *workload)
{
    FmScenario *sc = g_new0(FmScenario, 1);

    sc->name = g_strdup("test");
    sc->memory = memory;
    sc->page_size = PAGE;
    sc->bandwidth = 100e6;
    sc->latency = 0.001;
    sc->seed = 42;
    sc->workload = (FmWorkloadSpec *)workload;
    return sc;
}

static void
scenario_free(FmScenario *sc)
{
    g_free(sc->name);
    g_free(sc);
}

static FmSim *
sim_new(guint64 memory, const FmWorkloadSpec *workload)
{
    FmScenario *sc = scenario_new(memory, workload);
    g_autoptr(GError) error = NULL;
    FmSim *sim = fm_sim_new(sc, &error);

    g_assert_no_error(error);
    g_assert_nonnull(sim);
    /* the sim keeps its own copy */
    scenario_free(sc);
    return sim;
}

/* Reads @pfns and sends them, in batches. */
static void
send_pfns(FmSim *sim, const guint64 *pfns, gsize n)
{
    FmBackend *be = fm_sim_get_backend(sim);
    FmSink *sink = fm_sim_get_sink(sim);
    g_autofree guint8 *buf = g_malloc(BATCH * PAGE);

    for (gsize i = 0; i < n; i += BATCH) {
        gsize k = MIN(BATCH, n - i);
        g_autoptr(GError) error = NULL;

        g_assert_true(fm_backend_read_pages(be, pfns + i, k, buf, &error));
        g_assert_no_error(error);
        g_assert_true(fm_sink_send_pages(sink, pfns + i, k, buf, &error));
        g_assert_no_error(error);
    }
}

/* Sends every page of @sim. */
static void
send_all(FmSim *sim)
{
    guint64 n = fm_backend_page_count(fm_sim_get_backend(sim));
    g_autofree guint64 *pfns = g_new(guint64, n);

    for (guint64 i = 0; i < n; i++)
        pfns[i] = i;
    send_pfns(sim, pfns, n);
}

/* Sends the pages set in @bitmap; returns how many. */
static guint64
send_bitmap(FmSim *sim, const FmBitmap *bitmap)
{
    g_autoptr(GArray) pfns = g_array_new(FALSE, FALSE, sizeof(guint64));

    for (gint64 p = fm_bitmap_next_set(bitmap, 0); p >= 0;
         p = fm_bitmap_next_set(bitmap, p + 1)) {
        guint64 pfn = p;

        g_array_append_val(pfns, pfn);
    }
    send_pfns(sim, (guint64 *)pfns->data, pfns->len);
    return pfns->len;
}

static FmBitmap *
harvest(FmSim *sim, gboolean clear)
{
    FmBackend *be = fm_sim_get_backend(sim);
    FmBitmap *dirty = fm_bitmap_new(fm_backend_page_count(be));
    g_autoptr(GError) error = NULL;

    g_assert_true(fm_backend_harvest(be, dirty, 0, fm_bitmap_size(dirty), clear, &error));
    g_assert_no_error(error);
    return dirty;
}

static void
begin(FmSim *sim)
{
    FmBackend *be = fm_sim_get_backend(sim);
    g_autoptr(GError) error = NULL;

    g_assert_true(fm_sink_begin(fm_sim_get_sink(sim), fm_backend_page_count(be),
                                fm_backend_page_size(be), &error));
    g_assert_no_error(error);
}

static void
test_new_errors(void)
{
    static const struct {
        guint64 memory;
        guint32 page_size;
        double bandwidth;
        double latency;
        double rate;
    } cases[] = {
        { 1 << 20, 4000, 1e6, 0, 0 },            /* page size not a power of two */
        { 1 << 20, 8, 1e6, 0, 0 },               /* page too small for the stamp */
        { (1 << 20) + 1, 4096, 1e6, 0, 0 },      /* memory not a multiple */
        { 0, 4096, 1e6, 0, 0 },                  /* no memory */
        { 1 << 20, 4096, 0, 0, 0 },              /* no bandwidth */
        { 1 << 20, 4096, INFINITY, 0, 0 },
        { 1 << 20, 4096, 1e6, -1, 0 },           /* negative latency */
        { 1 << 20, 4096, 1e6, 0, -5 },           /* negative workload rate */
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        FmWorkloadSpec wl = { .type = FM_WORKLOAD_DB, .rate = cases[i].rate };
        FmScenario *sc = scenario_new(cases[i].memory, &wl);
        g_autoptr(GError) error = NULL;

        sc->page_size = cases[i].page_size;
        sc->bandwidth = cases[i].bandwidth;
        sc->latency = cases[i].latency;
        g_assert_null(fm_sim_new(sc, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_CONFIG);
        g_assert_true(g_str_has_prefix(error->message, "test: "));
        scenario_free(sc);
    }
}

/* The backend describes the guest; page reads stamp 16 bytes and nothing else. */
static void
test_read_pages(void)
{
    g_autoptr(FmSim) sim = sim_new(64 * PAGE, NULL);
    FmBackend *be = fm_sim_get_backend(sim);
    guint64 pfns[3] = { 5, 0, 63 };
    g_autofree guint8 *buf = g_malloc(3 * PAGE);
    g_autoptr(GError) error = NULL;

    g_assert_cmpstr(fm_backend_name(be), ==, "sim");
    g_assert_cmpuint(fm_backend_page_count(be), ==, 64);
    g_assert_cmpuint(fm_backend_page_size(be), ==, PAGE);
    g_assert_true(fm_backend_can_harvest_range(be));

    memset(buf, 0xa5, 3 * PAGE);
    fm_sim_write_page(sim, 5);
    fm_sim_write_page(sim, 5);
    g_assert_true(fm_backend_read_pages(be, pfns, 3, buf, &error));
    g_assert_no_error(error);
    for (int i = 0; i < 3; i++) {
        /* a cache line further for each pfn, wrapping within the page */
        gsize at = (gsize)(pfns[i] * 64) % PAGE;
        guint64 pfn;
        guint32 version;

        memcpy(&pfn, buf + i * PAGE + at, 8);
        memcpy(&version, buf + i * PAGE + at + 8, 4);
        g_assert_cmpuint(pfn, ==, pfns[i]);
        /* two writes between reads: one new content */
        g_assert_cmpuint(version, ==, pfns[i] == 5 ? 2 : 1);
        for (int b = 0; b < PAGE; b++) {
            if (b < (int)at || b >= (int)at + 16)
                g_assert_cmpuint(buf[i * PAGE + b], ==, 0xa5);
        }
    }

    /* a write after the read is a new content again */
    fm_sim_write_page(sim, 5);
    g_assert_cmpuint(fm_sim_source_version(sim, 5), ==, 3);
    g_assert_true(fm_backend_read_pages(be, pfns, 1, buf, NULL));
    {
        guint32 version;

        memcpy(&version, buf + 5 * 64 + 8, 4);
        g_assert_cmpuint(version, ==, 3);
    }

    /* out of range */
    pfns[1] = 64;
    g_assert_false(fm_backend_read_pages(be, pfns, 3, buf, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
}

/* The destination decodes stamps, and refuses a page that is not what it claims. */
static void
test_sink_checks(void)
{
    g_autoptr(FmSim) sim = sim_new(64 * PAGE, NULL);
    FmBackend *be = fm_sim_get_backend(sim);
    FmSink *sink = fm_sim_get_sink(sim);
    guint64 pfns[2] = { 7, 9 };
    g_autofree guint8 *buf = g_malloc(2 * PAGE);
    guint8 payload[4] = { 0 };

    g_assert_true(fm_backend_read_pages(be, pfns, 2, buf, NULL));
    {
        g_autoptr(GError) error = NULL;

        g_assert_false(fm_sink_send_pages(sink, pfns, 2, buf, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_PROTOCOL);   /* not begun */
    }
    {
        g_autoptr(GError) error = NULL;

        g_assert_false(fm_sink_begin(sink, 65, PAGE, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_PROTOCOL);
    }
    g_assert_cmpuint(fm_sink_bytes_sent(sink), ==, 0);
    begin(sim);
    {
        g_autoptr(GError) error = NULL;

        g_assert_false(fm_sink_begin(sink, 64, PAGE, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_PROTOCOL);
    }
    /* sent under the wrong pfns */
    {
        guint64 swapped[2] = { 9, 7 };
        g_autoptr(GError) error = NULL;

        g_assert_false(fm_sink_send_pages(sink, swapped, 2, buf, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_PROTOCOL);
        g_assert_cmpuint(fm_sim_dest_version(sim, 7), ==, 0);
    }
    /* a page that was never read */
    {
        g_autofree guint8 *junk = g_malloc0(PAGE);
        g_autoptr(GError) error = NULL;

        g_assert_false(fm_sink_send_pages(sink, pfns, 1, junk, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_PROTOCOL);
    }
    g_assert_true(fm_sink_send_pages(sink, pfns, 2, buf, NULL));
    g_assert_cmpuint(fm_sim_dest_version(sim, 7), ==, 1);
    g_assert_cmpuint(fm_sim_dest_version(sim, 9), ==, 1);
    g_assert_cmpuint(fm_sim_dest_version(sim, 8), ==, 0);
    {
        g_autoptr(GError) error = NULL;

        g_assert_false(fm_sink_send_record(sink, FM_RECORD_TYPE_LAST, payload, 4, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_PROTOCOL);
    }
    g_assert_true(fm_sink_finish(sink, NULL));
    {
        g_autoptr(GError) error = NULL;

        g_assert_false(fm_sink_send_pages(sink, pfns, 2, buf, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_PROTOCOL);     /* ended */
    }
    {
        g_autoptr(GError) error = NULL;

        g_assert_false(fm_sink_finish(sink, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_PROTOCOL);
    }
}

/* Virtual time is exactly bytes / bandwidth + round trips x 2 x latency. */
static void
test_clock(void)
{
    g_autoptr(FmSim) sim = sim_new(1024 * PAGE, NULL);
    FmBackend *be = fm_sim_get_backend(sim);
    FmSink *sink = fm_sim_get_sink(sim);
    guint64 bytes = 0;
    guint64 rtts = 0;
    guint64 pfns[100];
    g_autofree guint8 *buf = g_malloc(100 * PAGE);
    char note[13] = "round 1 done";

#define CHECK_CLOCK() G_STMT_START { \
        double expect = (double)bytes / 100e6 + (double)rtts * 2 * 0.001; \
        g_assert_cmpuint(fm_sink_bytes_sent(sink), ==, bytes); \
        g_assert_cmpfloat(fm_sim_now(sim), ==, expect); \
        g_assert_cmpint(fm_backend_now(be), ==, llround(expect * 1e9)); \
    } G_STMT_END

    CHECK_CLOCK();
    begin(sim);
    bytes += HEADER;
    CHECK_CLOCK();
    for (int i = 0; i < 100; i++)
        pfns[i] = 3 * i;
    for (gsize n = 1; n <= 100; n += 33) {
        g_assert_true(fm_backend_read_pages(be, pfns, n, buf, NULL));
        CHECK_CLOCK();      /* reading costs no time */
        g_assert_true(fm_sink_send_pages(sink, pfns, n, buf, NULL));
        bytes += 8 + 8 + 8 * n + n * PAGE;
        CHECK_CLOCK();
    }
    g_assert_true(fm_sink_send_record(sink, FM_RECORD_STATS, note, 13, NULL));
    bytes += 8 + 16;
    CHECK_CLOCK();
    g_assert_true(fm_sink_flush(sink, NULL));
    rtts++;
    CHECK_CLOCK();
    g_assert_true(fm_backend_pause(be, NULL));
    g_assert_true(fm_backend_resume(be, NULL));
    g_assert_true(fm_backend_log_dirty_enable(be, NULL));
    CHECK_CLOCK();      /* none of these cost time */
    {
        g_autoptr(GError) error = NULL;

        g_assert_false(fm_backend_save_state(be, sink, &error));   /* running */
        g_assert_error(error, FM_ERROR, FM_ERROR_FAILED);
    }
    g_assert_true(fm_backend_pause(be, NULL));
    g_assert_true(fm_backend_save_state(be, sink, NULL));
    bytes += fm_stream_record_size(16384);
    CHECK_CLOCK();
    g_assert_true(fm_sink_finish(sink, NULL));
    bytes += 8;
    rtts++;
    CHECK_CLOCK();
#undef CHECK_CLOCK
}

/* <guest verify-rate>: each side digests the memory while the guest is paused, the
 * source in save_state, the destination in finish; the link carries nothing more. */
static void
test_verify_time(void)
{
    FmScenario *sc = scenario_new(1024 * PAGE, NULL);
    g_autoptr(FmSim) sim = NULL;
    g_autoptr(GError) error = NULL;
    FmBackend *be;
    FmSink *sink;
    double t;

    sc->verify_rate = -1;
    g_assert_null(fm_sim_new(sc, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_CONFIG);
    g_clear_error(&error);

    sc->verify_rate = 1024.0 * PAGE / 0.25;    /* 0.25 s a side */
    sim = fm_sim_new(sc, &error);
    g_assert_no_error(error);
    scenario_free(sc);
    be = fm_sim_get_backend(sim);
    sink = fm_sim_get_sink(sim);

    begin(sim);
    send_all(sim);
    g_assert_true(fm_backend_pause(be, NULL));
    t = fm_sim_now(sim);
    g_assert_true(fm_backend_save_state(be, sink, NULL));
    g_assert_cmpfloat_with_epsilon(fm_sim_now(sim), t + 0.25 + fm_stream_record_size(16384) / 100e6,
                                   1e-12);
    t = fm_sim_now(sim);
    g_assert_true(fm_sink_finish(sink, NULL));
    g_assert_cmpfloat_with_epsilon(fm_sim_now(sim), t + 0.25 + 8 / 100e6 + 2 * 0.001, 1e-12);
    g_assert_true(fm_sim_verify(sim, &error));
    g_assert_no_error(error);
}

/* Harvest shows exactly the pages written since the last clearing harvest. */
static void
test_harvest(void)
{
    g_autoptr(FmSim) sim = sim_new(1000 * PAGE, NULL);
    FmBackend *be = fm_sim_get_backend(sim);
    static const guint64 written[] = { 0, 1, 63, 64, 65, 127, 500, 998, 999 };
    g_autoptr(FmBitmap) expect = fm_bitmap_new(1000);
    g_autoptr(FmBitmap) dirty = NULL;

    {
        g_autoptr(FmBitmap) b = fm_bitmap_new(1000);
        g_autoptr(GError) error = NULL;

        g_assert_false(fm_backend_harvest(be, b, 0, 1000, TRUE, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_FAILED);
    }
    /* writes before log-dirty mode are not logged */
    fm_sim_write_page(sim, 10);
    g_assert_true(fm_backend_log_dirty_enable(be, NULL));
    {
        g_autoptr(GError) error = NULL;

        g_assert_false(fm_backend_log_dirty_enable(be, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_FAILED);
    }
    dirty = harvest(sim, TRUE);
    g_assert_true(fm_bitmap_is_empty(dirty));
    g_clear_pointer(&dirty, fm_bitmap_free);

    for (gsize i = 0; i < G_N_ELEMENTS(written); i++) {
        fm_sim_write_page(sim, written[i]);
        fm_bitmap_set(expect, written[i]);
    }
    fm_sim_write_page(sim, 500);   /* twice: still one dirty page */

    /* peek: twice the same, nothing cleared */
    dirty = harvest(sim, FALSE);
    g_assert_true(fm_bitmap_equal(dirty, expect));
    g_clear_pointer(&dirty, fm_bitmap_free);

    /* a range: only its bits are ORed in, and only they are cleared */
    {
        g_autoptr(FmBitmap) part = fm_bitmap_new(1000);
        g_autoptr(GError) error = NULL;

        fm_bitmap_set(part, 2);     /* the caller's bits stay */
        g_assert_true(fm_backend_harvest(be, part, 63, 2, TRUE, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(fm_bitmap_count(part), ==, 3);
        g_assert_true(fm_bitmap_test(part, 2));
        g_assert_true(fm_bitmap_test(part, 63));
        g_assert_true(fm_bitmap_test(part, 64));
        fm_bitmap_clear(expect, 63);
        fm_bitmap_clear(expect, 64);
        /* word-aligned and tail ranges */
        fm_bitmap_clear_all(part);
        g_assert_true(fm_backend_harvest(be, part, 64, 64, FALSE, NULL));
        g_assert_cmpuint(fm_bitmap_count(part), ==, 2);     /* 65, 127 */
        fm_bitmap_clear_all(part);
        g_assert_true(fm_backend_harvest(be, part, 990, 10, FALSE, NULL));
        g_assert_cmpuint(fm_bitmap_count(part), ==, 2);     /* 998, 999 */
    }

    dirty = harvest(sim, TRUE);
    g_assert_true(fm_bitmap_equal(dirty, expect));
    g_clear_pointer(&dirty, fm_bitmap_free);
    dirty = harvest(sim, TRUE);
    g_assert_true(fm_bitmap_is_empty(dirty));
    g_clear_pointer(&dirty, fm_bitmap_free);

    /* disabling forgets the log; harvesting then fails */
    fm_sim_write_page(sim, 7);
    g_assert_true(fm_backend_log_dirty_disable(be, NULL));
    g_assert_true(fm_backend_log_dirty_disable(be, NULL));
    g_assert_true(fm_backend_log_dirty_enable(be, NULL));
    dirty = harvest(sim, TRUE);
    g_assert_true(fm_bitmap_is_empty(dirty));
}

/* Runs a hand-driven migration with exactly known dirty pages; with @resend the
 * dirty pages are sent again before the end. */
static void
run_session(gboolean resend)
{
    g_autoptr(FmSim) sim = sim_new(4096 * PAGE, NULL);
    FmBackend *be = fm_sim_get_backend(sim);
    FmSink *sink = fm_sim_get_sink(sim);
    g_autoptr(FmBitmap) dirty = NULL;
    g_autoptr(GError) error = NULL;

    begin(sim);
    g_assert_true(fm_backend_log_dirty_enable(be, NULL));
    send_all(sim);
    g_assert_true(fm_sink_flush(sink, NULL));
    for (guint64 p = 0; p < 4096; p++)
        g_assert_cmpuint(fm_sim_dest_version(sim, p), ==, 1);

    g_assert_cmpfloat(fm_sim_data_bound(sim), ==, 4096.0 * PAGE);
    fm_sim_write_page(sim, 3000);
    fm_sim_write_page(sim, 17);
    fm_sim_write_page(sim, 17);
    g_assert_false(fm_sim_verify(sim, &error));     /* not finished yet */
    g_assert_error(error, FM_ERROR, FM_ERROR_VERIFY);
    g_clear_error(&error);

    g_assert_true(fm_backend_pause(be, NULL));
    dirty = harvest(sim, TRUE);
    g_assert_cmpuint(fm_bitmap_count(dirty), ==, 2);
    /* the two pages written after the first pass sent them are owed again */
    g_assert_cmpfloat(fm_sim_data_bound(sim), ==, 4098.0 * PAGE);
    if (resend)
        g_assert_cmpuint(send_bitmap(sim, dirty), ==, 2);
    g_assert_true(fm_backend_save_state(be, sink, NULL));
    g_assert_true(fm_sink_finish(sink, NULL));

    if (resend) {
        g_assert_true(fm_sim_verify(sim, &error));
        g_assert_no_error(error);
        /* written twice without a read between: one new content */
        g_assert_cmpuint(fm_sim_dest_version(sim, 17), ==, 2);
    } else {
        g_assert_false(fm_sim_verify(sim, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_VERIFY);
        /* the first wrong page, with both versions */
        g_assert_nonnull(strstr(error->message, "page 17 "));
        g_assert_nonnull(strstr(error->message, " 1 on the destination"));
        g_assert_nonnull(strstr(error->message, " 2 on the source"));
    }
}

static void
test_session(void)
{
    run_session(FALSE);
    run_session(TRUE);
}

static void
test_abort(void)
{
    g_autoptr(FmSim) sim = sim_new(16 * PAGE, NULL);
    FmSink *sink = fm_sim_get_sink(sim);
    g_autoptr(GError) error = NULL;

    begin(sim);
    send_all(sim);
    fm_sink_abort(sink, "cancelled by the user");
    fm_sink_abort(sink, "twice is harmless");
    g_assert_false(fm_sink_finish(sink, NULL));
    g_assert_false(fm_sim_verify(sim, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_VERIFY);
    g_assert_nonnull(strstr(error->message, "cancelled by the user"));
}

/* With a workload, what harvest reports is exactly what changed. */
static void
test_workload_harvest(void)
{
    FmWorkloadSpec wl = { .type = FM_WORKLOAD_DB, .rate = 20000, .region_size = 0.25 };
    g_autoptr(FmSim) sim = sim_new(8192 * PAGE, &wl);
    FmBackend *be = fm_sim_get_backend(sim);
    g_autofree guint32 *before = g_new(guint32, 8192);
    guint64 writes = 0;

    begin(sim);
    g_assert_true(fm_backend_log_dirty_enable(be, NULL));
    for (guint64 p = 0; p < 8192; p++)
        before[p] = fm_sim_source_version(sim, p);
    for (int round = 0; round < 4; round++) {
        g_autoptr(FmBitmap) dirty = NULL;
        guint64 changed = 0;

        send_all(sim);              /* ~0.34 s of link time: ~6700 writes */
        dirty = harvest(sim, TRUE);
        for (guint64 p = 0; p < 8192; p++) {
            guint32 v = fm_sim_source_version(sim, p);

            g_assert_cmpint(fm_bitmap_test(dirty, p), ==, v != before[p]);
            g_assert_true(p < 2048 || v == 1);  /* the working set is the first quarter */
            /* a page is looked at twice a round (send_all and here): its writes
             * in between are one new content each time */
            g_assert_cmpuint(v - before[p], <=, 2);
            changed += v - before[p];
            before[p] = v;
        }
        g_assert_cmpuint(changed, >=, fm_bitmap_count(dirty));
        g_assert_cmpuint(fm_sim_writes(sim) - writes, >, 5000);
        /* ~6700 uniform writes over 2048 pages leave few of them untouched */
        g_assert_cmpuint(changed, >, 1800);
        g_assert_cmpuint(changed, <=, fm_sim_writes(sim) - writes);
        writes = fm_sim_writes(sim);
    }
}

/* No writes while paused; they resume with the guest. */
static void
test_pause(void)
{
    FmWorkloadSpec wl = { .type = FM_WORKLOAD_SWEEP, .rate = 50000, .region_size = 1 };
    g_autoptr(FmSim) sim = sim_new(2048 * PAGE, &wl);
    FmBackend *be = fm_sim_get_backend(sim);
    guint64 w0, w1;
    double t0;

    begin(sim);
    g_assert_true(fm_backend_log_dirty_enable(be, NULL));
    send_all(sim);
    w0 = fm_sim_writes(sim);
    g_assert_cmpuint(w0, >, 0);
    g_assert_true(fm_backend_pause(be, NULL));
    g_assert_true(fm_backend_pause(be, NULL));
    t0 = fm_sim_now(sim);
    {
        g_autoptr(FmBitmap) dirty = harvest(sim, TRUE);
    }
    send_all(sim);
    send_all(sim);
    g_assert_cmpfloat(fm_sim_now(sim), >, t0 + 0.1);
    g_assert_cmpuint(fm_sim_writes(sim), ==, w0);
    {
        g_autoptr(FmBitmap) dirty = harvest(sim, TRUE);

        g_assert_true(fm_bitmap_is_empty(dirty));
    }
    /* a pause is not a throttle: no slowdown */
    g_assert_cmpfloat(fm_backend_guest_slowdown(be), ==, 0);
    g_assert_true(fm_backend_resume(be, NULL));
    w1 = fm_sim_writes(sim);
    g_assert_cmpuint(w1, ==, w0);       /* the paused time is not made up for */
    send_all(sim);
    g_assert_cmpuint(fm_sim_writes(sim), >, w1);
}

/* A 50 % throttle halves the writes, and reports a slowdown of one half. */
static void
test_throttle(void)
{
    FmWorkloadSpec wl = { .type = FM_WORKLOAD_DB, .rate = 30000 };
    g_autoptr(FmSim) full = sim_new(4096 * PAGE, &wl);
    g_autoptr(FmSim) half = sim_new(4096 * PAGE, &wl);
    guint64 wf, wh;
    FmBackend *hb = fm_sim_get_backend(half);

    begin(full);
    begin(half);
    g_assert_true(fm_backend_log_dirty_enable(fm_sim_get_backend(full), NULL));
    g_assert_true(fm_backend_log_dirty_enable(hb, NULL));
    g_assert_true(fm_backend_set_throttle(hb, 50, NULL));
    for (int i = 0; i < 3; i++) {
        send_all(full);
        send_all(half);
    }
    wf = fm_sim_writes(full);
    wh = fm_sim_writes(half);
    g_assert_cmpfloat(fm_sim_now(full), ==, fm_sim_now(half));
    g_assert_cmpuint(wf, >, 10000);
    g_assert_cmpuint(wh * 2, >=, wf - 2);
    g_assert_cmpuint(wh * 2, <=, wf + 2);
    g_assert_cmpfloat_with_epsilon(fm_backend_guest_slowdown(hb), 0.5, 1e-9);
    g_assert_cmpfloat(fm_backend_guest_slowdown(fm_sim_get_backend(full)), ==, 0);

    /* half the time at 50 %, half at full speed: a quarter lost */
    g_assert_true(fm_backend_set_throttle(hb, 0, NULL));
    for (int i = 0; i < 3; i++)
        send_all(half);
    g_assert_cmpfloat_with_epsilon(fm_backend_guest_slowdown(hb), 0.25, 1e-3);
}

/* Same scenario, same calls: the same guest, bit for bit. */
static void
test_determinism(void)
{
    FmWorkloadSpec phases[2] = {
        { .type = FM_WORKLOAD_WEB, .rate = 40000, .zipf_s = 1.1, .region_size = 0.5,
          .duration = 0.3 },
        { .type = FM_WORKLOAD_DB, .rate = 10000, .region_start = 0.5, .region_size = 0.5 },
    };
    FmWorkloadSpec wl = { .type = FM_WORKLOAD_PHASES, .n_phases = 2, .phases = phases };
    FmSim *sims[3];
    FmScenario *sc = scenario_new(8192 * PAGE, &wl);

    for (int i = 0; i < 3; i++) {
        sc->seed = i < 2 ? 7 : 8;
        sims[i] = fm_sim_new(sc, NULL);
        g_assert_nonnull(sims[i]);
        begin(sims[i]);
        g_assert_true(fm_backend_log_dirty_enable(fm_sim_get_backend(sims[i]), NULL));
        send_all(sims[i]);
        for (int r = 0; r < 3; r++) {
            g_autoptr(FmBitmap) dirty = harvest(sims[i], TRUE);

            send_bitmap(sims[i], dirty);
            g_assert_true(fm_sink_flush(fm_sim_get_sink(sims[i]), NULL));
        }
    }
    scenario_free(sc);

    g_assert_cmpuint(fm_sim_writes(sims[0]), ==, fm_sim_writes(sims[1]));
    g_assert_cmpuint(fm_sink_bytes_sent(fm_sim_get_sink(sims[0])), ==,
                     fm_sink_bytes_sent(fm_sim_get_sink(sims[1])));
    g_assert_cmpfloat(fm_sim_now(sims[0]), ==, fm_sim_now(sims[1]));
    {
        gboolean differs = FALSE;

        for (guint64 p = 0; p < 8192; p++) {
            g_assert_cmpuint(fm_sim_source_version(sims[0], p), ==,
                             fm_sim_source_version(sims[1], p));
            g_assert_cmpuint(fm_sim_dest_version(sims[0], p), ==,
                             fm_sim_dest_version(sims[1], p));
            differs |= fm_sim_source_version(sims[0], p) !=
                       fm_sim_source_version(sims[2], p);
        }
        g_assert_true(differs);    /* another seed, another guest */
    }
    for (int i = 0; i < 3; i++)
        fm_sim_free(sims[i]);
}

/* A plain pre-copy loop on @memory bytes, as the xen-classic baseline would run it
 * (up to 30 rounds, stop under 50 dirty pages); the destination must end up right. */
static void
run_precopy(guint64 memory, double rate)
{
    FmWorkloadSpec wl = { .type = FM_WORKLOAD_WEB, .rate = rate, .zipf_s = 1.0,
                          .region_size = 0.5 };
    FmScenario *sc = scenario_new(memory, &wl);
    g_autoptr(FmSim) sim = NULL;
    FmBackend *be;
    FmSink *sink;
    gint64 t0 = g_get_monotonic_time();
    guint64 sent;
    int round;
    g_autoptr(GError) error = NULL;

    sc->bandwidth = 125e6;      /* 1 Gbit/s */
    sim = fm_sim_new(sc, &error);
    g_assert_no_error(error);
    scenario_free(sc);
    be = fm_sim_get_backend(sim);
    sink = fm_sim_get_sink(sim);

    begin(sim);
    g_assert_true(fm_backend_log_dirty_enable(be, NULL));
    send_all(sim);
    g_assert_true(fm_sink_flush(sink, NULL));
    for (round = 1; round < 30; round++) {
        g_autoptr(FmBitmap) dirty = harvest(sim, TRUE);

        sent = send_bitmap(sim, dirty);
        g_assert_true(fm_sink_flush(sink, NULL));
        if (sent < 50)
            break;
    }
    g_assert_true(fm_backend_pause(be, NULL));
    {
        g_autoptr(FmBitmap) dirty = harvest(sim, TRUE);

        send_bitmap(sim, dirty);
    }
    g_assert_true(fm_backend_save_state(be, sink, NULL));
    g_assert_true(fm_sink_finish(sink, NULL));
    g_assert_true(fm_sim_verify(sim, &error));
    g_assert_no_error(error);
    g_test_message("%" G_GUINT64_FORMAT " MiB: %d rounds, %.2f s virtual, "
                   "%" G_GUINT64_FORMAT " writes, %.3f s real", memory >> 20, round, fm_sim_now(sim), fm_sim_writes(sim),
                   (g_get_monotonic_time() - t0) / 1e6);
}

static void
test_precopy(void)
{
    run_precopy(G_GUINT64_CONSTANT(256) << 20, 20000);
    /* docs/design.md's "16 GiB guest in seconds": a fraction of a second optimised */
    run_precopy(G_GUINT64_CONSTANT(16) << 30, 20000);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/sim/new-errors", test_new_errors);
    g_test_add_func("/sim/read-pages", test_read_pages);
    g_test_add_func("/sim/sink-checks", test_sink_checks);
    g_test_add_func("/sim/clock", test_clock);
    g_test_add_func("/sim/verify-time", test_verify_time);
    g_test_add_func("/sim/harvest", test_harvest);
    g_test_add_func("/sim/session", test_session);
    g_test_add_func("/sim/abort", test_abort);
    g_test_add_func("/sim/workload-harvest", test_workload_harvest);
    g_test_add_func("/sim/pause", test_pause);
    g_test_add_func("/sim/throttle", test_throttle);
    g_test_add_func("/sim/determinism", test_determinism);
    g_test_add_func("/sim/precopy", test_precopy);
    return g_test_run();
}
