/*
 * fm-sim.c: the simulated guest, link and destination (see fm-sim.h).
 *
 * One FmSim holds the backend and the sink, so that both see the same clock.  The
 * clock is not stored: it is a function of what went over the link,
 *     now = bytes_sent / bandwidth + round_trips x 2 x latency + compute_time
 *           + idle_time,
 * so it never drifts and every reading is exact for the bytes sent so far.
 * compute_time is what the two sides spend on the verification of a real migration
 * (a digest of the whole memory at <guest verify-rate>, on the source while the
 * guest is paused and on the destination before it answers): the link is idle then
 * and the guest paused, so it only lengthens the downtime.  idle_time is what a
 * policy chose to wait (fm_backend_wait()) with the link idle and the guest running.
 *
 * Guest memory is never allocated: a page is its version number (source and
 * destination arrays of guint32), and a page read writes only its 16-byte stamp
 * (pfn, version, magic) into the caller's buffer.  A version counts the contents a
 * reader could tell apart, not the writes: a write only sets the page's bit in
 * @written, and the next read (or look) of the page turns a set bit into one more
 * version.  A write is then two bit sets in bitmaps small enough to stay in the
 * cache, instead of a cache miss into the version array; the versions are touched
 * only for pages that are read, so that the cost of a run is that of what it sends.
 * Versions are stored minus one, so that the arrays start as zeroed memory that the
 * kernel hands out lazily (an idle 1 TiB guest never touches most of @source).  The workload runs lazily
 * (fm_sim_catch_up()) up to the current time before anything observes the guest;
 * because fm_workload_run_until() gives the same writes however an interval is cut,
 * when the sim catches up does not change what happens.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <math.h>
#include <string.h>
#include <sys/mman.h>

#include "backend/sim/fm-sim.h"
#include "engine/fm-backend-impl.h"
#include "workload/fm-workload.h"
#include "stream/fm-stream-format.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* What a page read puts in 16 bytes of each page buffer, at fm_sim_stamp_offset(). */
#define FM_SIM_STAMP_SIZE 16
#define FM_SIM_STAMP_MAGIC 0x504d5346u      /* "FSMP" */
/* The stamps of consecutive pages are this far apart within their pages: a cache
 * line, so that a batch's stamps, a page apart, do not all fall into one cache set. */
#define FM_SIM_STAMP_STRIDE 64
/* The native stream header: magic, version, page size, page count. */
/* Modelled size of the guest's CPU and device state (an HVM vCPU context with its
 * LAPIC, timers and a few emulated devices is of this order). */
#define FM_SIM_CPU_STATE_SIZE 16384
/* Versions and bitmaps take 8+ bytes a page: beyond this a scenario is a typo. */
#define FM_SIM_MAX_PAGES (G_GUINT64_CONSTANT(1) << 32)

typedef struct {
    FmBackend parent;
    FmSim *sim;
} FmSimBackend;

typedef struct {
    FmSink parent;
    FmSim *sim;
} FmSimSink;

struct _FmSim {
    FmSimBackend backend;
    FmSimSink sink;

    /* the scenario, as far as the sim needs it */
    guint64 page_count;
    gsize page_size;
    double bandwidth;           /* bytes per second, > 0 */
    double latency;             /* one way, seconds */
    double verify_time;         /* seconds one side takes to digest the memory; 0 = none */
    double compute_time;        /* seconds spent digesting so far, the link idle */
    double idle_time;           /* seconds a policy waited, the link idle */
    FmWorkloadSpec *workload;   /* owned; NULL for a guest that writes nothing */
    FmWorkloadState wl;

    /* the source guest */
    guint32 *source;            /* version of each page as last read, minus one */
    FmBitmap *written;          /* written since the page was last read */
    guint64 *written_words;     /* fm_bitmap_words(written), for the write hot path */
    FmBitmap *dirty;            /* written since the last clearing harvest */
    guint64 *dirty_words;       /* fm_bitmap_words(dirty), for the write hot path */
    gboolean log_dirty;
    gboolean paused;
    guint throttle;             /* percent */
    double nominal_work;        /* full-speed writes while logging and running */
    gboolean first_pass_done;   /* the first clearing harvest has been counted */
    guint64 first_pass_stale;   /* pages it found stale on the destination */
    double lost_work;           /* of which lost to the throttle */

    /* the link and the destination */
    guint64 round_trips;
    guint32 *dest;              /* version received for each page, 0 = none */
    gboolean begun;
    gboolean finished;
    gboolean aborted;
    char *abort_reason;

    /* faults to inject, for tests of the failure paths */
    guint64 fail_after;         /* the link breaks once this many bytes were sent; 0 = never */
    char *refusal;              /* the destination refuses at finish with this; NULL = accepts */
};

/* Returns where in the buffer of page @pfn its stamp lies: a cache line further for
 * each page, wrapping within the page (a page is a power of two >= the stamp). */
static inline gsize
fm_sim_stamp_offset(const FmSim *sim, guint64 pfn)
{
    return (gsize)(pfn * FM_SIM_STAMP_STRIDE) & (sim->page_size - 1) &
           ~(gsize)(FM_SIM_STAMP_SIZE - 1);
}

/* Returns @count zeroed guint32s (free with fm_sim_free_versions()): a mapping of
 * its own, in huge pages where the kernel offers them, so that a 1 TiB guest's 1 GiB
 * of versions costs 512 times fewer page faults than in 4 KiB pages. */
static guint32 *
fm_sim_alloc_versions(guint64 count)
{
    gsize size = count * sizeof(guint32);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);

    if (mem == MAP_FAILED)
        g_error(_("cannot allocate %llu bytes for the simulated guest's pages"),
                (unsigned long long)size);
    return mem;
}

/* Frees @versions of @count entries from fm_sim_alloc_versions(); NULL ok. */
static void
fm_sim_free_versions(guint32 *versions, guint64 count)
{
    if (versions != NULL)
        munmap(versions, count * sizeof(guint32));
}

/* ---- the clock and the workload ---- */

/* Returns the virtual time in seconds. */
double
fm_sim_now(const FmSim *sim)
{
    g_return_val_if_fail(sim != NULL, 0);
    return (double)sim->sink.parent.bytes_sent / sim->bandwidth +
           (double)sim->round_trips * 2.0 * sim->latency + sim->compute_time +
           sim->idle_time;
}

/* Returns the version of @pfn now: folds a write since the last read into it. */
static inline guint32
fm_sim_settle(FmSim *sim, guint64 pfn)
{
    guint64 *word = &sim->written_words[pfn / FM_BITMAP_WORD_BITS];
    guint64 bit = G_GUINT64_CONSTANT(1) << (pfn % FM_BITMAP_WORD_BITS);

    if (*word & bit) {
        *word &= ~bit;
        /* stored minus one; 0 means "never received" on the destination, so the
         * version runs 1 .. G_MAXUINT32 and wraps to 1 */
        sim->source[pfn] = sim->source[pfn] + 1 != G_MAXUINT32 ? sim->source[pfn] + 1 : 0;
    }
    return sim->source[pfn] + 1;
}

/* FmWorkloadWriteFunc while log-dirty is off. */
static void
fm_sim_on_write(guint64 pfn, gpointer data)
{
    FmSim *sim = data;

    sim->written_words[pfn / FM_BITMAP_WORD_BITS] |=
        G_GUINT64_CONSTANT(1) << (pfn % FM_BITMAP_WORD_BITS);
}

/* FmWorkloadWriteFunc while log-dirty is on: the write also marks the page dirty. */
static void
fm_sim_on_write_logged(guint64 pfn, gpointer data)
{
    FmSim *sim = data;
    gsize w = pfn / FM_BITMAP_WORD_BITS;
    guint64 bit = G_GUINT64_CONSTANT(1) << (pfn % FM_BITMAP_WORD_BITS);

    sim->written_words[w] |= bit;
    sim->dirty_words[w] |= bit;
}

/* Makes the guest's writes up to the current virtual time: none while paused, at
 * (100 - throttle) % of the rate while throttled.  Called before anything looks at
 * the guest and before anything changes how it runs. */
static void
fm_sim_catch_up(FmSim *sim)
{
    double now = fm_sim_now(sim);
    double speed;

    if (sim->workload == NULL || !(now > sim->wl.now))
        return;
    speed = sim->paused ? 0.0 : (100 - sim->throttle) / 100.0;
    if (sim->log_dirty && !sim->paused) {
        double nominal = fm_workload_nominal_writes(sim->workload, &sim->wl, now);

        sim->nominal_work += nominal;
        sim->lost_work += nominal * (1.0 - speed);
    }
    fm_workload_run_until(sim->workload, &sim->wl, sim->page_count, now, speed,
                          sim->log_dirty ? fm_sim_on_write_logged : fm_sim_on_write, sim);
}

/* ---- the backend ---- */

/* Returns the simulation that embeds backend @self. */
static FmSim *
fm_sim_of_backend(FmBackend *self)
{
    return ((FmSimBackend *)self)->sim;
}

/* Returns the guest's page count. */
static guint64
fm_sim_backend_page_count(FmBackend *self)
{
    return fm_sim_of_backend(self)->page_count;
}

/* Returns the guest's page size. */
static gsize
fm_sim_backend_page_size(FmBackend *self)
{
    return fm_sim_of_backend(self)->page_size;
}

/* Starts a fresh dirty log (and slowdown account); fails if one is running. */
static gboolean
fm_sim_backend_log_dirty_enable(FmBackend *self, GError **error)
{
    FmSim *sim = fm_sim_of_backend(self);

    fm_sim_catch_up(sim);
    if (sim->log_dirty) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("log-dirty mode is already enabled on the simulated guest"));
        return FALSE;
    }
    fm_bitmap_clear_all(sim->dirty);
    sim->log_dirty = TRUE;
    sim->first_pass_done = FALSE;
    sim->first_pass_stale = 0;
    sim->nominal_work = 0;
    sim->lost_work = 0;
    return TRUE;
}

/* Stops and forgets the dirty log; always succeeds. */
static gboolean
fm_sim_backend_log_dirty_disable(FmBackend *self, GError **error G_GNUC_UNUSED)
{
    FmSim *sim = fm_sim_of_backend(self);

    /* idempotent: the engine's cleanup disables whatever state it fails in */
    fm_sim_catch_up(sim);
    sim->log_dirty = FALSE;
    fm_bitmap_clear_all(sim->dirty);
    return TRUE;
}

/* @dst |= @src over the bits [@first, @first + @count), @count > 0. */
static void
fm_sim_or_range(guint64 *dst, const guint64 *src, guint64 first, guint64 count)
{
    guint64 last = first + count - 1;
    gsize w0 = first / FM_BITMAP_WORD_BITS;
    gsize w1 = last / FM_BITMAP_WORD_BITS;
    guint64 m0 = G_MAXUINT64 << (first % FM_BITMAP_WORD_BITS);
    guint64 m1 = G_MAXUINT64 >> (FM_BITMAP_WORD_BITS - 1 - last % FM_BITMAP_WORD_BITS);

    if (w0 == w1) {
        dst[w0] |= src[w0] & m0 & m1;
        return;
    }
    dst[w0] |= src[w0] & m0;
    for (gsize w = w0 + 1; w < w1; w++)
        dst[w] |= src[w];
    dst[w1] |= src[w1] & m1;
}

/* ORs the range's dirty bits into @dirty, clearing them in the log with @clear. */
static gboolean
fm_sim_backend_harvest(FmBackend *self, FmBitmap *dirty, guint64 first, guint64 count,
                       gboolean clear, GError **error)
{
    FmSim *sim = fm_sim_of_backend(self);

    fm_sim_catch_up(sim);
    if (!sim->log_dirty) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("cannot harvest the dirty log: log-dirty mode is not enabled"));
        return FALSE;
    }
    fm_sim_or_range(fm_bitmap_words(dirty), sim->dirty_words, first, count);
    if (clear && !sim->first_pass_done) {
        /* the end of round 0: what it left stale is owed again (fm_sim_data_bound()) */
        sim->first_pass_done = TRUE;
        for (gint64 pfn = fm_bitmap_next_set(sim->written, 0); pfn >= 0;
             pfn = fm_bitmap_next_set(sim->written, pfn + 1))
            sim->first_pass_stale += sim->dest[pfn] != 0;
    }
    if (clear)
        fm_bitmap_clear_range(sim->dirty, first, count);
    return TRUE;
}

/* Stamps each page's pfn and current version into its buffer, at the page's stamp
 * offset; leaves the rest of the buffer alone (nobody looks at it, and touching 4 KiB
 * a page would cost more than the whole simulation). */
static gboolean
fm_sim_backend_read_pages(FmBackend *self, const guint64 *pfns, gsize n, guint8 *buf,
                          GError **error)
{
    FmSim *sim = fm_sim_of_backend(self);
    guint32 magic = FM_SIM_STAMP_MAGIC;

    fm_sim_catch_up(sim);
    for (gsize i = 0; i < n; i++) {
        guint8 *page = buf + i * sim->page_size;
        guint64 pfn = pfns[i];
        guint32 version;

        if (pfn >= sim->page_count) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("cannot read page %llu: the simulated guest has %llu pages"),
                        (unsigned long long)pfn, (unsigned long long)sim->page_count);
            return FALSE;
        }
        version = fm_sim_settle(sim, pfn);
        page += fm_sim_stamp_offset(sim, pfn);
        memcpy(page, &pfn, 8);
        memcpy(page + 8, &version, 4);
        memcpy(page + 12, &magic, 4);
    }
    return TRUE;
}

/* Stops the workload; the time that passes while paused is lost to it. */
static gboolean
fm_sim_backend_pause(FmBackend *self, GError **error G_GNUC_UNUSED)
{
    FmSim *sim = fm_sim_of_backend(self);

    fm_sim_catch_up(sim);
    sim->paused = TRUE;
    return TRUE;
}

/* Restarts the workload. */
static gboolean
fm_sim_backend_resume(FmBackend *self, GError **error G_GNUC_UNUSED)
{
    FmSim *sim = fm_sim_of_backend(self);

    fm_sim_catch_up(sim);
    sim->paused = FALSE;
    return TRUE;
}

/* Digests the memory (the scenario's verify-rate) and sends a CPU_STATE record of
 * the modelled size; the guest must be paused. */
static gboolean
fm_sim_backend_save_state(FmBackend *self, FmSink *sink, GError **error)
{
    FmSim *sim = fm_sim_of_backend(self);
    g_autofree guint8 *state = NULL;
    guint64 header[3];

    fm_sim_catch_up(sim);
    if (!sim->paused) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("cannot save the CPU state of the simulated guest while it runs"));
        return FALSE;
    }
    sim->compute_time += sim->verify_time;
    /* opaque to the stream; enough to recognise it, the rest models its size */
    state = g_malloc0(FM_SIM_CPU_STATE_SIZE);
    header[0] = FM_SIM_STAMP_MAGIC;
    header[1] = sim->page_count;
    header[2] = sim->wl.writes;
    memcpy(state, header, sizeof(header));
    return fm_sink_send_record(sink, FM_RECORD_CPU_STATE, state, FM_SIM_CPU_STATE_SIZE,
                               error);
}

/* Runs the workload at (100 - @percent) % of its rate from now on. */
static gboolean
fm_sim_backend_set_throttle(FmBackend *self, guint percent, GError **error G_GNUC_UNUSED)
{
    FmSim *sim = fm_sim_of_backend(self);

    fm_sim_catch_up(sim);
    sim->throttle = MIN(percent, 100);
    return TRUE;
}

/* Returns the writes lost to the throttle / the writes due, both counted while
 * logging and running since log-dirty was enabled. */
static double
fm_sim_backend_guest_slowdown(FmBackend *self)
{
    FmSim *sim = fm_sim_of_backend(self);

    fm_sim_catch_up(sim);
    if (!(sim->nominal_work > 0))
        return 0;
    return CLAMP(sim->lost_work / sim->nominal_work, 0.0, 1.0);
}

/* Returns the virtual time in nanoseconds. */
static gint64
fm_sim_backend_now(FmBackend *self)
{
    return (gint64)llround(fm_sim_now(fm_sim_of_backend(self)) * 1e9);
}

/* Lets the guest run @seconds with the link idle: the writes of the interval happen
 * lazily, at the next catch-up, as for any other interval. */
static void
fm_sim_backend_wait(FmBackend *self, double seconds)
{
    FmSim *sim = fm_sim_of_backend(self);

    fm_sim_catch_up(sim);
    sim->idle_time += seconds;
}

/* Does nothing: the backend belongs to its FmSim. */
static void
fm_sim_backend_free(FmBackend *self G_GNUC_UNUSED)
{
    /* part of the FmSim, which fm_sim_free() releases */
}

static const FmBackendOps fm_sim_backend_ops = {
    .name = "sim",
    .page_count = fm_sim_backend_page_count,
    .page_size = fm_sim_backend_page_size,
    .log_dirty_enable = fm_sim_backend_log_dirty_enable,
    .log_dirty_disable = fm_sim_backend_log_dirty_disable,
    .harvest = fm_sim_backend_harvest,
    .can_harvest_range = TRUE,
    .read_pages = fm_sim_backend_read_pages,
    .pause = fm_sim_backend_pause,
    .resume = fm_sim_backend_resume,
    .save_state = fm_sim_backend_save_state,
    .set_throttle = fm_sim_backend_set_throttle,
    .guest_slowdown = fm_sim_backend_guest_slowdown,
    .now = fm_sim_backend_now,
    .wait = fm_sim_backend_wait,
    .free = fm_sim_backend_free,
};

/* ---- the link and the destination ---- */

/* Returns the simulation that embeds sink @self. */
static FmSim *
fm_sim_of_sink(FmSink *self)
{
    return ((FmSimSink *)self)->sim;
}

/* Returns TRUE if the stream accepts records (begun, not ended, link up). */
static gboolean
fm_sim_sink_check_open(FmSim *sim, GError **error)
{
    if (sim->fail_after && sim->sink.parent.bytes_sent >= sim->fail_after) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("simulated link failure after %llu bytes"),
                    (unsigned long long)sim->fail_after);
        return FALSE;
    }
    if (!sim->begun) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("the simulated migration stream has not been started"));
        return FALSE;
    }
    if (sim->finished || sim->aborted) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("the simulated migration stream has already ended"));
        return FALSE;
    }
    return TRUE;
}

/* Opens the stream: checks the geometry against the destination's, sends the header. */
static gboolean
fm_sim_sink_begin(FmSink *self, guint64 page_count, gsize page_size, GError **error)
{
    FmSim *sim = fm_sim_of_sink(self);

    if (sim->begun) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("the simulated migration stream was already started"));
        return FALSE;
    }
    if (page_count != sim->page_count || page_size != sim->page_size) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("the stream announces %llu pages of %zu bytes, the simulated destination has %llu pages of %zu bytes"),
                    (unsigned long long)page_count, page_size,
                    (unsigned long long)sim->page_count, sim->page_size);
        return FALSE;
    }
    sim->begun = TRUE;
    self->bytes_sent += FM_STREAM_HEADER_SIZE;
    return TRUE;
}

/* Decodes each page's stamp into the destination's versions. */
static gboolean
fm_sim_sink_send_pages(FmSink *self, const guint64 *pfns, gsize n, const guint8 *data,
                       GError **error)
{
    FmSim *sim = fm_sim_of_sink(self);

    if (!fm_sim_sink_check_open(sim, error))
        return FALSE;
    for (gsize i = 0; i < n; i++) {
        const guint8 *page = data + i * sim->page_size;
        guint64 pfn;
        guint32 version;
        guint32 magic;

        /* where the stamp of the page it claims to be lies */
        if (pfns[i] < sim->page_count)
            page += fm_sim_stamp_offset(sim, pfns[i]);
        memcpy(&pfn, page, 8);
        memcpy(&version, page + 8, 4);
        memcpy(&magic, page + 12, 4);
        if (magic != FM_SIM_STAMP_MAGIC || pfn != pfns[i] || pfn >= sim->page_count ||
            version == 0) {
            g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                        _("page %zu of a batch is sent as pfn %llu but does not hold that page as the simulated guest read it"),
                        i, (unsigned long long)pfns[i]);
            return FALSE;
        }
        sim->dest[pfn] = version;
    }
    /* framed as the native sink frames it: records of at most the per-record limit */
    {
        guint64 per_record = fm_stream_max_pages_per_record(sim->page_size);
        guint64 full = n / per_record, rest = n % per_record;

        self->bytes_sent += full * fm_stream_page_record_size(per_record, sim->page_size);
        if (rest)
            self->bytes_sent += fm_stream_page_record_size(rest, sim->page_size);
    }
    return TRUE;
}

/* Counts a non-page record; its contents are opaque to the destination. */
static gboolean
fm_sim_sink_send_record(FmSink *self, guint32 type, const void *data G_GNUC_UNUSED,
                        gsize len, GError **error)
{
    FmSim *sim = fm_sim_of_sink(self);

    if (!fm_sim_sink_check_open(sim, error))
        return FALSE;
    if (type >= FM_RECORD_TYPE_LAST || type == FM_RECORD_END ||
        type == FM_RECORD_PAGE_DATA) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("record type %u cannot be sent as a plain record"), type);
        return FALSE;
    }
    self->bytes_sent += fm_stream_record_size(len);
    return TRUE;
}

/* Ends a round: one round trip. */
static gboolean
fm_sim_sink_flush(FmSink *self, GError **error)
{
    FmSim *sim = fm_sim_of_sink(self);

    if (!fm_sim_sink_check_open(sim, error))
        return FALSE;
    sim->round_trips++;
    return TRUE;
}

/* Sends END and waits for the destination's verdict: its digest of the memory (the
 * scenario's verify-rate) and one round trip. */
static gboolean
fm_sim_sink_finish(FmSink *self, GError **error)
{
    FmSim *sim = fm_sim_of_sink(self);

    if (!fm_sim_sink_check_open(sim, error))
        return FALSE;
    /* END, then the destination's verdict comes back */
    self->bytes_sent += fm_stream_record_size(0);
    sim->compute_time += sim->verify_time;
    sim->round_trips++;
    if (sim->refusal) {
        g_set_error(error, FM_ERROR, FM_ERROR_VERIFY,
                    _("the destination refused the migration: %s"), sim->refusal);
        sim->aborted = TRUE;
        sim->abort_reason = g_strdup(sim->refusal);
        return FALSE;
    }
    sim->finished = TRUE;
    return TRUE;
}

/* Sends ABORT with @reason (if the stream was open) and remembers why. */
static void
fm_sim_sink_abort(FmSink *self, const char *reason)
{
    FmSim *sim = fm_sim_of_sink(self);

    if (sim->finished || sim->aborted)
        return;
    if (reason == NULL)
        reason = "";
    if (sim->begun)
        self->bytes_sent += fm_stream_record_size(strlen(reason));
    sim->aborted = TRUE;
    sim->abort_reason = g_strdup(reason);
}

/* Does nothing: the sink belongs to its FmSim. */
static void
fm_sim_sink_free(FmSink *self G_GNUC_UNUSED)
{
    /* part of the FmSim, which fm_sim_free() releases */
}

static const FmSinkOps fm_sim_sink_ops = {
    .name = "sim",
    .begin = fm_sim_sink_begin,
    .send_pages = fm_sim_sink_send_pages,
    .send_record = fm_sim_sink_send_record,
    .flush = fm_sim_sink_flush,
    .finish = fm_sim_sink_finish,
    .abort = fm_sim_sink_abort,
    .free = fm_sim_sink_free,
};

/* ---- the simulation ---- */

/* Returns a new simulation of @scenario, or NULL with @error set. */
FmSim *
fm_sim_new(const FmScenario *scenario, GError **error)
{
    g_autoptr(FmSim) sim = NULL;
    const char *name;
    guint64 pages;

    g_return_val_if_fail(scenario != NULL, NULL);

    name = scenario->name ? scenario->name : "scenario";
    if (scenario->page_size < FM_SIM_STAMP_SIZE ||
        (scenario->page_size & (scenario->page_size - 1)) != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s: page size %u is not a power of two of at least %d bytes"),
                    name, scenario->page_size, FM_SIM_STAMP_SIZE);
        return NULL;
    }
    if (scenario->memory == 0 || scenario->memory % scenario->page_size != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s: memory size %llu is not a positive multiple of the page size %u"),
                    name, (unsigned long long)scenario->memory, scenario->page_size);
        return NULL;
    }
    pages = scenario->memory / scenario->page_size;
    if (pages > FM_SIM_MAX_PAGES) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s: %llu pages are too many to simulate"),
                    name, (unsigned long long)pages);
        return NULL;
    }
    if (!(scenario->bandwidth > 0 && isfinite(scenario->bandwidth))) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s: link bandwidth %g is not a positive number of bytes per second"),
                    name, scenario->bandwidth);
        return NULL;
    }
    if (!(scenario->latency >= 0 && isfinite(scenario->latency))) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s: link latency %g is not a number of seconds >= 0"),
                    name, scenario->latency);
        return NULL;
    }
    if (!(scenario->verify_rate >= 0 && isfinite(scenario->verify_rate))) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s: verify rate %g is not a number of bytes per second >= 0"),
                    name, scenario->verify_rate);
        return NULL;
    }
    if (scenario->workload != NULL && !fm_workload_spec_check(scenario->workload, error)) {
        g_prefix_error(error, "%s: ", name);
        return NULL;
    }

    sim = g_new0(FmSim, 1);
    sim->backend.parent.ops = &fm_sim_backend_ops;
    sim->backend.sim = sim;
    sim->sink.parent.ops = &fm_sim_sink_ops;
    sim->sink.sim = sim;
    sim->page_count = pages;
    sim->page_size = scenario->page_size;
    sim->bandwidth = scenario->bandwidth;
    sim->latency = scenario->latency;
    if (scenario->verify_rate > 0)
        sim->verify_time = (double)pages * scenario->page_size / scenario->verify_rate;
    if (scenario->workload != NULL) {
        sim->workload = fm_workload_spec_copy(scenario->workload);
        fm_workload_state_init(&sim->wl, sim->workload, pages, scenario->seed);
    }
    /* zeroed: every page at version 1, and no memory touched until it is read */
    sim->source = fm_sim_alloc_versions(pages);
    sim->dest = fm_sim_alloc_versions(pages);
    sim->written = fm_bitmap_new(pages);
    sim->written_words = fm_bitmap_words(sim->written);
    sim->dirty = fm_bitmap_new(pages);
    sim->dirty_words = fm_bitmap_words(sim->dirty);
    return g_steal_pointer(&sim);
}

/* Frees @sim with its backend and sink; NULL ok. */
void
fm_sim_free(FmSim *sim)
{
    if (sim == NULL)
        return;
    fm_workload_spec_free(sim->workload);
    fm_sim_free_versions(sim->source, sim->page_count);
    fm_sim_free_versions(sim->dest, sim->page_count);
    fm_bitmap_free(sim->written);
    fm_bitmap_free(sim->dirty);
    g_free(sim->abort_reason);
    g_free(sim->refusal);
    g_free(sim);
}

/* Makes the link fail once @after_bytes have been sent (0: never). */
void
fm_sim_set_link_failure(FmSim *sim, guint64 after_bytes)
{
    g_return_if_fail(sim != NULL);
    sim->fail_after = after_bytes;
}

/* Makes the destination refuse the migration at the end with @reason (NULL: accept). */
void
fm_sim_set_refusal(FmSim *sim, const char *reason)
{
    g_return_if_fail(sim != NULL);
    g_free(sim->refusal);
    sim->refusal = g_strdup(reason);
}

/* Returns TRUE if the source guest is paused. */
gboolean
fm_sim_guest_paused(const FmSim *sim)
{
    g_return_val_if_fail(sim != NULL, FALSE);
    return sim->paused;
}

/* Returns TRUE if dirty logging is on. */
gboolean
fm_sim_log_dirty_enabled(const FmSim *sim)
{
    g_return_val_if_fail(sim != NULL, FALSE);
    return sim->log_dirty;
}

/* Returns the guest's throttle in percent. */
guint
fm_sim_throttle(const FmSim *sim)
{
    g_return_val_if_fail(sim != NULL, 0);
    return sim->throttle;
}

/* Returns the backend (borrowed). */
FmBackend *
fm_sim_get_backend(FmSim *sim)
{
    g_return_val_if_fail(sim != NULL, NULL);
    return &sim->backend.parent;
}

/* Returns the sink (borrowed). */
FmSink *
fm_sim_get_sink(FmSim *sim)
{
    g_return_val_if_fail(sim != NULL, NULL);
    return &sim->sink.parent;
}

/* Returns TRUE if the destination matches the source; see fm-sim.h. */
gboolean
fm_sim_verify(FmSim *sim, GError **error)
{
    g_return_val_if_fail(sim != NULL, FALSE);

    fm_sim_catch_up(sim);
    if (sim->aborted) {
        g_set_error(error, FM_ERROR, FM_ERROR_VERIFY,
                    _("the migration stream was aborted: %s"), sim->abort_reason);
        return FALSE;
    }
    if (!sim->finished) {
        g_set_error(error, FM_ERROR, FM_ERROR_VERIFY,
                    _("the migration stream was not finished"));
        return FALSE;
    }
    /* A page written since its last read is newer than anything sent: a mismatch.
     * Otherwise every stored version plus one must be the destination's; the loop
     * has no branch to mispredict, so that a 1 TiB guest checks in a fraction of a
     * second. */
    {
        gint64 pfn = fm_bitmap_next_set(sim->written, 0);
        guint32 bad = 0;

        if (pfn < 0) {
            for (guint64 i = 0; i < sim->page_count; i++)
                bad |= sim->dest[i] ^ (sim->source[i] + 1);
            if (bad == 0)
                return TRUE;
            for (pfn = 0; sim->dest[pfn] == sim->source[pfn] + 1; pfn++)
                ;
        }
        g_set_error(error, FM_ERROR, FM_ERROR_VERIFY,
                    _("page %llu is at version %u on the destination but %u on the source"),
                    (unsigned long long)pfn, sim->dest[pfn], fm_sim_settle(sim, pfn));
        return FALSE;
    }
}

/* Returns the online lower bound on a run's data; see fm-sim.h. */
double
fm_sim_data_bound(const FmSim *sim)
{
    g_return_val_if_fail(sim != NULL, 0);
    return ((double)sim->page_count + sim->first_pass_stale) * sim->page_size;
}

/* The getters below catch the workload up first, so that what they show is the
 * guest at the current time; that only materialises writes already determined by
 * the clock, hence the const in their signatures. */

/* Returns the page writes the workload has made. */
guint64
fm_sim_writes(const FmSim *sim)
{
    g_return_val_if_fail(sim != NULL, 0);
    fm_sim_catch_up((FmSim *)sim);
    return sim->wl.writes;
}

/* Returns the source version of @pfn. */
guint32
fm_sim_source_version(const FmSim *sim, guint64 pfn)
{
    g_return_val_if_fail(sim != NULL && pfn < sim->page_count, 0);
    fm_sim_catch_up((FmSim *)sim);
    return fm_sim_settle((FmSim *)sim, pfn);
}

/* Returns the destination version of @pfn (0 = never received). */
guint32
fm_sim_dest_version(const FmSim *sim, guint64 pfn)
{
    g_return_val_if_fail(sim != NULL && pfn < sim->page_count, 0);
    return sim->dest[pfn];
}

/* Test hook: writes @pfn now, as the guest would. */
void
fm_sim_write_page(FmSim *sim, guint64 pfn)
{
    g_return_if_fail(sim != NULL && pfn < sim->page_count);
    fm_sim_catch_up(sim);
    if (sim->log_dirty)
        fm_sim_on_write_logged(pfn, sim);
    else
        fm_sim_on_write(pfn, sim);
}
