/*
 * test-migration.c: FmMigration, the driver every way of running a migration uses:
 * its controls from other threads and from a signal handler reach the job, and a
 * new bandwidth reaches the channel on the job's thread.
 *
 * Each control is exercised at a fixed point of a simulated run: the job's thread
 * stops in a subscriber to the job's events until another thread has made the
 * change, so that the outcome does not depend on timing.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fm-test-util.h"
#include "backend/sim/fm-sim.h"
#include "conf/fm-scenario.h"
#include "migrate/fm-migration.h"
#include "transport/fm-channel.h"
#include "util/fm-error.h"

/* A guest of @memory on a 1 Gbit/s link running @workload. */
static FmSim *
make_sim(const char *memory, const char *workload)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = g_strdup_printf(
        "<scenario name='t'><guest memory='%s'/><link bandwidth='1Gbit' latency='0.5ms'/>"
        "%s<seed>5</seed></scenario>", memory, workload);
    g_autoptr(FmScenario) sc = fm_scenario_load_string(xml, "test.xml", &error);
    FmSim *sim;

    g_assert_no_error(error);
    sim = fm_sim_new(sc, &error);
    g_assert_no_error(error);
    return sim;
}

/* A load no downtime target of a few ms is ever met under. */
#define BUSY "<workload type='sweep' rate='120%' region-size='50%'/>"

/* The other thread's turn at the end of one round: the job's thread waits in its
 * subscriber until @control ran in the control thread. */
typedef struct {
    FmMigration *mig;
    guint at_round;
    void (*control)(FmMigration *mig, gpointer data);
    gpointer control_data;
    FmTestPause pause;
    gboolean done;        /* the control ran */
    GThread *job_thread;
    GThread *control_thread;
} Handshake;

/* FmJobEventFunc on rounds: at the chosen round, hands over and waits. */
static void
handshake_on_round(FmJob *job G_GNUC_UNUSED, const FmJobEvent *event, gpointer data)
{
    Handshake *hs = data;

    g_assert_true(g_thread_self() == hs->job_thread);
    if (event->round.record->round == hs->at_round)
        fm_test_pause_here(&hs->pause);
}

/* The control thread: waits for the round, runs the control, lets the job go on. */
static gpointer
handshake_control_thread(gpointer data)
{
    Handshake *hs = data;

    fm_test_pause_wait(&hs->pause);
    hs->control(hs->mig, hs->control_data);
    hs->done = TRUE;
    fm_test_pause_release(&hs->pause);
    return NULL;
}

/* Sets up @hs to run @control in another thread at the end of round @at_round. */
static void
handshake_init(Handshake *hs, FmMigration *mig, guint at_round,
               void (*control)(FmMigration *mig, gpointer data), gpointer control_data)
{
    memset(hs, 0, sizeof(*hs));
    hs->mig = mig;
    hs->at_round = at_round;
    hs->control = control;
    hs->control_data = control_data;
    fm_test_pause_init(&hs->pause);
    hs->job_thread = g_thread_self();
    fm_migration_subscribe(mig, FM_JOB_EVENT_MASK(FM_JOB_EVENT_ROUND), handshake_on_round, hs);
    hs->control_thread = g_thread_new("control", handshake_control_thread, hs);
}

/* Joins the control thread; checks the control ran. */
static void
handshake_clear(Handshake *hs)
{
    g_thread_join(hs->control_thread);
    g_assert_true(hs->done);
    fm_test_pause_clear(&hs->pause);
}

/* Checks that @mig ended cancelled after @rounds rounds, the guest running on. */
static void
assert_cancelled(FmMigration *mig, FmSim *sim, gboolean ok, const GError *error,
                 guint rounds)
{
    FmJobStats st;

    g_assert_false(ok);
    g_assert_error(error, FM_ERROR, FM_ERROR_CANCELLED);
    g_assert_true(fm_migration_is_cancelled(mig));
    g_assert_cmpint(fm_migration_get_state(mig), ==, FM_JOB_CANCELLED);
    g_assert_true(fm_migration_copy_stats(mig, &st));
    g_assert_cmpint(st.stop_reason, ==, FM_STOP_CANCELLED);
    g_assert_cmpuint(fm_job_get_rounds(fm_migration_get_job(mig))->len, ==, rounds);
    g_assert_false(fm_sim_guest_paused(sim));
    g_assert_false(fm_sim_log_dirty_enabled(sim));
}

/* A control: cancels. */
static void
control_cancel(FmMigration *mig, gpointer data G_GNUC_UNUSED)
{
    fm_migration_cancel(mig);
}

/* Cancel from another thread after round 1: the job stops before sending round 2. */
static void
test_cancel_from_thread(void)
{
    g_autoptr(FmSim) sim = make_sim("32MiB", BUSY);
    g_autoptr(FmMigration) mig = fm_migration_new();
    g_autoptr(GError) error = NULL;
    Handshake hs;
    gboolean ok;

    g_assert_true(fm_migration_set_policy(mig, "qemu", NULL));
    g_assert_true(fm_migration_set_param(mig, "max_downtime", "1ms", NULL));
    handshake_init(&hs, mig, 1, control_cancel, NULL);
    ok = fm_migration_run(mig, fm_sim_get_backend(sim), fm_sim_get_sink(sim), NULL, &error);
    handshake_clear(&hs);
    assert_cancelled(mig, sim, ok, error, 2);
}

static FmMigration *signal_target;

/* SIGUSR1 handler: cancels (fm_migration_cancel() is async-signal-safe). */
static void
on_sigusr1(int signo G_GNUC_UNUSED)
{
    fm_migration_cancel(signal_target);
}

/* FmJobEventFunc on rounds: raises SIGUSR1 after round 1; the handler runs in this
 * thread, interrupting the job between two of its steps. */
static void
raise_at_round_1(FmJob *job G_GNUC_UNUSED, const FmJobEvent *event, gpointer data G_GNUC_UNUSED)
{
    if (event->round.record->round == 1)
        raise(SIGUSR1);
}

/* Cancel from a signal handler. */
static void
test_cancel_from_signal(void)
{
    g_autoptr(FmSim) sim = make_sim("32MiB", BUSY);
    g_autoptr(FmMigration) mig = fm_migration_new();
    g_autoptr(GError) error = NULL;
    struct sigaction sa = { 0 }, old;
    gboolean ok;

    signal_target = mig;
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    g_assert_cmpint(sigaction(SIGUSR1, &sa, &old), ==, 0);
    g_assert_true(fm_migration_set_policy(mig, "qemu", NULL));
    g_assert_true(fm_migration_set_param(mig, "max_downtime", "1ms", NULL));
    fm_migration_subscribe(mig, FM_JOB_EVENT_MASK(FM_JOB_EVENT_ROUND), raise_at_round_1, NULL);
    ok = fm_migration_run(mig, fm_sim_get_backend(sim), fm_sim_get_sink(sim), NULL, &error);
    sigaction(SIGUSR1, &old, NULL);
    signal_target = NULL;
    assert_cancelled(mig, sim, ok, error, 2);
}

/* FmJobEventFunc: counts the events of each type into @data (guint[LAST]). */
static void
count_events(FmJob *job G_GNUC_UNUSED, const FmJobEvent *event, gpointer data)
{
    ((guint *)data)[event->type]++;
}

/* Cancel before the run: it fails at once, before the guest or the sink is touched. */
static void
test_cancel_before_run(void)
{
    g_autoptr(FmSim) sim = make_sim("32MiB", BUSY);
    g_autoptr(FmMigration) mig = fm_migration_new();
    g_autoptr(GError) error = NULL;
    guint events[FM_JOB_EVENT_LAST] = { 0 };
    FmJobStats st;

    g_assert_false(fm_migration_copy_stats(mig, &st));
    g_assert_cmpint(fm_migration_get_state(mig), ==, FM_JOB_SETUP);
    fm_migration_cancel(mig);
    fm_migration_subscribe(mig, FM_JOB_EVENTS_ALL, count_events, events);
    g_assert_false(fm_migration_run(mig, fm_sim_get_backend(sim), fm_sim_get_sink(sim),
                                    NULL, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_CANCELLED);
    g_assert_cmpint(fm_migration_get_state(mig), ==, FM_JOB_CANCELLED);
    g_assert_true(fm_migration_copy_stats(mig, &st));
    g_assert_cmpuint(st.pages_sent, ==, 0);
    g_assert_cmpuint(fm_sink_bytes_sent(fm_sim_get_sink(sim)), ==, 0);
    g_assert_cmpuint(events[FM_JOB_EVENT_STATE], ==, 1);
    g_assert_cmpuint(events[FM_JOB_EVENT_BATCH], ==, 0);
    g_assert_cmpuint(events[FM_JOB_EVENT_HARVEST], ==, 0);
    g_assert_false(fm_sim_log_dirty_enabled(sim));
    g_assert_false(fm_sim_guest_paused(sim));

    /* once per migration */
    g_clear_error(&error);
    g_assert_false(fm_migration_run(mig, fm_sim_get_backend(sim), fm_sim_get_sink(sim),
                                    NULL, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
}

/* A control: a downtime target of 10 s. */
static void
control_max_downtime(FmMigration *mig, gpointer data G_GNUC_UNUSED)
{
    fm_migration_set_max_downtime(mig, 10);
}

/* Runs qemu with a 1 ms target under a load it never meets, raising the target to
 * 10 s from another thread after round 1 when @change; returns the stats. */
static void
run_max_downtime(gboolean change, FmJobStats *st, guint *rounds)
{
    g_autoptr(FmSim) sim = make_sim("32MiB", BUSY);
    g_autoptr(FmMigration) mig = fm_migration_new();
    g_autoptr(GError) error = NULL;
    Handshake hs;

    g_assert_true(fm_migration_set_policy(mig, "qemu", NULL));
    g_assert_true(fm_migration_set_param(mig, "max_downtime", "1ms", NULL));
    if (change)
        handshake_init(&hs, mig, 1, control_max_downtime, NULL);
    g_assert_true(fm_migration_run(mig, fm_sim_get_backend(sim), fm_sim_get_sink(sim),
                                   NULL, &error));
    g_assert_no_error(error);
    if (change) {
        handshake_clear(&hs);
        g_assert_cmpfloat(fm_job_get_max_downtime(fm_migration_get_job(mig)), ==, 10);
    }
    g_assert_true(fm_sim_verify(sim, &error));
    g_assert_no_error(error);
    g_assert_true(fm_migration_copy_stats(mig, st));
    *rounds = fm_job_get_rounds(fm_migration_get_job(mig))->len;
}

/* A new downtime target from another thread counts from the next decision: the
 * policy stops after round 2, where without it the run goes on to its time cap. */
static void
test_max_downtime_from_thread(void)
{
    FmJobStats plain, changed;
    guint plain_rounds, changed_rounds;

    run_max_downtime(FALSE, &plain, &plain_rounds);
    run_max_downtime(TRUE, &changed, &changed_rounds);
    g_assert_cmpint(plain.stop_reason, !=, FM_STOP_DOWNTIME_TARGET);
    g_assert_cmpuint(plain_rounds, >, 3);
    g_assert_cmpint(changed.stop_reason, ==, FM_STOP_DOWNTIME_TARGET);
    g_assert_cmpuint(changed_rounds, ==, 3);
}

/* ---- the bandwidth: a sink that sends what the simulator's sends, also over a
 * real channel, so that the channel's rate limit applies ---- */

typedef struct {
    FmSink parent;
    FmSink *inner;         /* the simulator's (borrowed) */
    FmChannel *channel;    /* borrowed */
    gsize page_size;
} MirrorSink;

/* Copies the inner sink's byte count: the engine's statistics stay the sim's. */
static void
mirror_sync(MirrorSink *self)
{
    self->parent.bytes_sent = fm_sink_bytes_sent(self->inner);
}

static gboolean
mirror_begin(FmSink *sink, guint64 page_count, gsize page_size, GError **error)
{
    MirrorSink *self = (MirrorSink *)sink;
    gboolean ok = fm_sink_begin(self->inner, page_count, page_size, error);

    self->page_size = page_size;
    mirror_sync(self);
    return ok;
}

static gboolean
mirror_send_pages(FmSink *sink, const guint64 *pfns, gsize n, const guint8 *data,
                  GError **error)
{
    MirrorSink *self = (MirrorSink *)sink;
    gboolean ok = fm_channel_write_all(self->channel, data, n * self->page_size, error) &&
                  fm_sink_send_pages(self->inner, pfns, n, data, error);

    mirror_sync(self);
    return ok;
}

static gboolean
mirror_send_record(FmSink *sink, guint32 type, const void *data, gsize len, GError **error)
{
    MirrorSink *self = (MirrorSink *)sink;
    gboolean ok = fm_sink_send_record(self->inner, type, data, len, error);

    mirror_sync(self);
    return ok;
}

static gboolean
mirror_flush(FmSink *sink, GError **error)
{
    MirrorSink *self = (MirrorSink *)sink;

    return fm_sink_flush(self->inner, error);
}

static gboolean
mirror_finish(FmSink *sink, GError **error)
{
    MirrorSink *self = (MirrorSink *)sink;
    gboolean ok = fm_sink_finish(self->inner, error);

    mirror_sync(self);
    return ok;
}

static void
mirror_abort(FmSink *sink, const char *reason)
{
    fm_sink_abort(((MirrorSink *)sink)->inner, reason);
}

static void
mirror_free(FmSink *sink)
{
    g_free(sink);
}

static const FmSinkOps mirror_ops = {
    .name = "mirror",
    .begin = mirror_begin,
    .send_pages = mirror_send_pages,
    .send_record = mirror_send_record,
    .flush = mirror_flush,
    .finish = mirror_finish,
    .abort = mirror_abort,
    .free = mirror_free,
};

/* Reads the other end of the channel until end of file. */
static gpointer
drain_thread(gpointer data)
{
    FmChannel *peer = data;
    g_autoptr(GError) error = NULL;

    g_assert_true(fm_channel_drain(peer, &error));
    g_assert_no_error(error);
    return NULL;
}

#define NEW_RATE (16u << 20)   /* 16 MiB/s */
#define CHANGE_ROUND 0

/* What the job's thread saw, batch by batch. */
typedef struct {
    FmChannel *channel;
    GThread *job_thread;
    guint64 rate_seen[2];      /* the channel's rate before / after the change */
    guint batches[2];
    gboolean after;            /* past the round of the change */
    gint64 t_after;            /* monotonic time of the first batch after */
    guint64 bytes_after;       /* channel bytes at that point */
    gboolean mixed;            /* a batch saw a rate other than its phase's first */
} RateLog;

/* FmJobEventFunc on batches and rounds: notes the channel's rate, in the job's thread. */
static void
note_rate(FmJob *job G_GNUC_UNUSED, const FmJobEvent *event, gpointer data)
{
    RateLog *log = data;
    guint64 rate;

    g_assert_true(g_thread_self() == log->job_thread);
    if (event->type == FM_JOB_EVENT_ROUND) {
        if (event->round.record->round == CHANGE_ROUND)
            log->after = TRUE;
        return;
    }
    rate = fm_channel_get_bandwidth(log->channel);
    if (log->after && log->batches[1] == 0) {
        /* the first batch after the change has just been sent at the new rate */
        log->t_after = g_get_monotonic_time();
        log->bytes_after = fm_channel_get_bytes_written(log->channel);
    }
    if (log->batches[log->after]++ == 0)
        log->rate_seen[log->after] = rate;
    else if (rate != log->rate_seen[log->after])
        log->mixed = TRUE;
}


/* A control: the new rate. */
static void
control_bandwidth(FmMigration *mig, gpointer data G_GNUC_UNUSED)
{
    fm_migration_set_bandwidth(mig, NEW_RATE);
    g_assert_cmpuint(fm_migration_get_bandwidth(mig), ==, NEW_RATE);
}

/* A new bandwidth from another thread reaches the channel on the job's thread before
 * the next batch; every batch after it goes out at that rate, and takes at least the
 * time the rate allows (a lower bound: a loaded host only makes it slower). */
static void
test_bandwidth_from_thread(void)
{
    g_autoptr(FmSim) sim = make_sim("4MiB", BUSY);
    g_autoptr(FmMigration) mig = fm_migration_new();
    g_autoptr(GError) error = NULL;
    MirrorSink *sink = g_new0(MirrorSink, 1);
    FmChannel *channel, *peer;
    RateLog log = { 0 };
    Handshake hs;
    GThread *drain;
    double seconds, min_seconds;
    guint64 bytes;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    channel = fm_channel_new_from_fd(sv[0], &error);
    g_assert_no_error(error);
    peer = fm_channel_new_from_fd(sv[1], &error);
    g_assert_no_error(error);
    drain = g_thread_new("drain", drain_thread, peer);
    sink->parent.ops = &mirror_ops;
    sink->inner = fm_sim_get_sink(sim);
    sink->channel = channel;

    /* qemu never meets 1 ms under this load: three rounds, then the cap */
    g_assert_true(fm_migration_set_policy(mig, "qemu", NULL));
    g_assert_true(fm_migration_set_param(mig, "max_downtime", "1ms", NULL));
    g_assert_true(fm_migration_set_param(mig, "max_rounds", "3", NULL));
    g_assert_true(fm_migration_set_param(mig, "batch_pages", "64", NULL));
    log.channel = channel;
    log.job_thread = g_thread_self();
    fm_migration_subscribe(mig, FM_JOB_EVENT_MASK(FM_JOB_EVENT_BATCH) |
                           FM_JOB_EVENT_MASK(FM_JOB_EVENT_ROUND), note_rate, &log);
    handshake_init(&hs, mig, CHANGE_ROUND, control_bandwidth, NULL);
    g_assert_true(fm_migration_run(mig, fm_sim_get_backend(sim), &sink->parent, channel,
                                   &error));
    g_assert_no_error(error);
    seconds = (g_get_monotonic_time() - log.t_after) / 1e6;
    bytes = fm_channel_get_bytes_written(channel) - log.bytes_after;
    handshake_clear(&hs);
    fm_channel_shutdown_write(channel, NULL);
    g_thread_join(drain);

    g_test_message("%u batches before, %u after; %" G_GUINT64_FORMAT " bytes in %.3f s after",
                   log.batches[0], log.batches[1], bytes, seconds);
    g_assert_cmpuint(log.batches[0], >, 0);
    g_assert_cmpuint(log.batches[1], >, 1);
    g_assert_false(log.mixed);
    g_assert_cmpuint(log.rate_seen[0], ==, 0);
    g_assert_cmpuint(log.rate_seen[1], ==, NEW_RATE);
    g_assert_cmpuint(fm_channel_get_bandwidth(channel), ==, NEW_RATE);
    /* the bucket holds ~10 ms of data at the start */
    min_seconds = (double)bytes / NEW_RATE - 0.02;
    g_assert_cmpuint(bytes, >=, 64 * 4096);
    g_assert_cmpfloat(seconds, >=, min_seconds * 0.9);

    fm_sink_free(&sink->parent);
    fm_channel_free(channel);
    fm_channel_free(peer);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/cancel-from-thread", test_cancel_from_thread);
    g_test_add_func("/migration/cancel-from-signal", test_cancel_from_signal);
    g_test_add_func("/migration/cancel-before-run", test_cancel_before_run);
    g_test_add_func("/migration/max-downtime-from-thread", test_max_downtime_from_thread);
    g_test_add_func("/migration/bandwidth-from-thread", test_bandwidth_from_thread);
    return g_test_run();
}
