/*
 * fm-job.c: the migration engine: one job, its state machine and its rounds.
 *
 * The loop is libxenguest's send_memory_live() / suspend_and_send_dirty() with the
 * decisions taken out into an FmPolicy: round 0 sends everything, then each round
 * harvests the dirty log, lets the policy classify fragments and plan, asks it whether
 * to go on, and sends the plan in batches.  Stop-and-copy pauses the guest, harvests
 * one last time, sends what is pending and the guest's state, and waits for the
 * destination's verdict.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "engine/fm-job.h"
#include "engine/fm-frag-tracker.h"
#include "engine/fm-predict.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* Rounds shorter than this many bytes do not update the bandwidth estimate: their
 * duration is mostly latency. */
#define FM_JOB_MIN_BANDWIDTH_SAMPLE (256 * 1024)

/* The prediction's rule (b), as the fragment policy's default progress_min. */
#define FM_JOB_PREDICT_PROGRESS_MIN 0.10
/* A waiting policy's round ends on the stream at least this often, in seconds: far
 * below the receiver's timeout for a silent peer (FM_CHANNEL_DEFAULT_TIMEOUT). */
#define FM_JOB_KEEPALIVE 10.0
/* abort_if_busy before the policy stops: after this many predictions in a row that
 * the downtime cannot reach the target (one could be a burst). */
#define FM_JOB_BUSY_PREDICTIONS 2

static const FmParamSpec fm_job_params[] = {
    { "fragment_size", FM_PARAM_UINT, 512, 1, 1 << 20,
      N_("pages per fragment (512 = 2 MiB of 4 KiB pages)") },
    { "batch_pages", FM_PARAM_UINT, 1024, 1, 65536,
      N_("pages read and sent per batch (libxenguest: 1024)") },
    { "max_downtime", FM_PARAM_DOWNTIME, 0.3, 0, 3600,
      N_("downtime target; a bare number is ms, as in virsh migrate-setmaxdowntime (300ms)") },
    { "max_time", FM_PARAM_DURATION, 0, 0, 31536000,
      N_("total time cap; 0 = 10 x the duration of round 0") },
    { "ewma_alpha", FM_PARAM_RATIO, 0.5, 0.01, 1,
      N_("weight of the newest round in the fragments' dirty-rate averages") },
    { "abort_if_busy", FM_PARAM_BOOL, 0, 0, 1,
      N_("abort before pausing the guest when the predicted downtime exceeds max_downtime") },
    { NULL, 0, 0, 0, 0, NULL }
};

struct _FmJob {
    FmBackend *backend;            /* borrowed */
    FmSink *sink;                  /* borrowed */
    FmPolicy *policy;              /* owned */

    /* knobs */
    guint32 frag_pages;
    guint batch_pages;
    double max_downtime;           /* under lock: fm_job_set_max_downtime() */
    double max_time;
    double ewma_alpha;
    gboolean abort_if_busy;
    gboolean may_throttle;         /* fm_policy_may_throttle(): see fm_job_predict() */
    guint busy_predictions;        /* predictions in a row of a downtime over the target */
    gboolean busy_warned;          /* the warning that the target is out of reach was given */
    double predicted_end;          /* seconds since the start at which the last
                                    * prediction ends the job; < 0: none yet */

    gint state;                    /* FmJobState, atomic */
    gint cancel;                   /* atomic flag, set by fm_job_cancel() */
    FmJobStats stats;              /* written by the job's thread only */
    GArray *rounds;                /* FmRoundRecord */

    /* lock protects published and max_downtime: the two things other threads see */
    GMutex lock;
    FmJobStats published;          /* copy of stats for fm_job_copy_stats() */

    guint64 page_count;
    gsize page_size;
    FmBitmap *pending;             /* pages to send: dirty or never sent */
    guint64 pending_count;         /* its population, kept up to date per batch */
    FmBitmap *dirty;               /* scratch: the last harvest */
    FmBitmap *sent;                /* pages sent at least once (to count re-sends) */
    FmBitmap *peek;                /* scratch for peek and skip */
    FmFragTracker *tracker;
    guint64 *pfns;                 /* batch_pages entries */
    guint8 *buf;                   /* batch_pages * page_size bytes */
    gsize batch_len;

    gint64 t_start;                /* backend clock, ns */
    gint64 round_t0;               /* backend clock when the current round began, ns */
    gint64 last_flush;             /* backend clock of the last ROUND_END, ns */
    guint64 round_bytes0;          /* wire bytes sent before the current round */
    gboolean in_round;             /* a pre-copy round is sending (live bandwidth) */
    gint64 t_log_dirty;            /* backend clock when log-dirty was enabled, ns */
    gboolean started;              /* fm_job_run() was called */
    gboolean log_dirty_on;
    gboolean paused;
    gboolean ended;                /* completed or rolled back: nothing remains */
    guint throttle;

    GArray *subscribers;           /* FmJobSubscriber, in subscription order */
    guint next_subscriber_id;
};

typedef struct {
    guint id;
    guint mask;
    FmJobEventFunc func;
    gpointer data;
} FmJobSubscriber;

FM_ENUM_IMPL(fm_job_event_type, FmJobEventType, FM_JOB_EVENT_LAST,
             "state", "round", "harvest", "batch");

FM_ENUM_IMPL(fm_job_state, FmJobState, FM_JOB_STATE_LAST,
             "setup", "precopy", "stop-and-copy", "completed", "cancelled", "failed");

/* Returns the engine's own knob table (static). */
const FmParamSpec *
fm_job_param_specs(void)
{
    return fm_job_params;
}

/* Returns seconds elapsed since the job started, on the backend clock. */
static double
fm_job_elapsed(FmJob *job)
{
    return (fm_backend_now(job->backend) - job->t_start) / 1e9;
}

/* Publishes the job thread's statistics for fm_job_copy_stats(). */
static void
fm_job_publish_stats(FmJob *job)
{
    g_mutex_lock(&job->lock);
    job->published = job->stats;
    g_mutex_unlock(&job->lock);
}

/* The one place events go out: publishes the statistics (so that a monitor's copy
 * is as of this event), then calls the subscribers of @event's type.  A subscriber
 * may subscribe or unsubscribe meanwhile: the list is read by index, afresh. */
static void
fm_job_emit(FmJob *job, const FmJobEvent *event)
{
    guint bit = FM_JOB_EVENT_MASK(event->type);

    fm_job_publish_stats(job);
    for (guint i = 0; i < job->subscribers->len; i++) {
        FmJobSubscriber sub = g_array_index(job->subscribers, FmJobSubscriber, i);

        if (sub.mask & bit)
            sub.func(job, event, sub.data);
    }
}

/* The one place the state changes: checks the transition, logs it with @reason and
 * emits its event. */
static void
fm_job_set_state(FmJob *job, FmJobState state, const char *reason)
{
    FmJobEvent event = { .type = FM_JOB_EVENT_STATE };

    FmJobState old = g_atomic_int_get(&job->state);
    static const guint allowed[FM_JOB_STATE_LAST] = {
        [FM_JOB_SETUP] = 1u << FM_JOB_PRECOPY | 1u << FM_JOB_FAILED | 1u << FM_JOB_CANCELLED,
        [FM_JOB_PRECOPY] = 1u << FM_JOB_STOP_AND_COPY | 1u << FM_JOB_FAILED |
                           1u << FM_JOB_CANCELLED,
        [FM_JOB_STOP_AND_COPY] = 1u << FM_JOB_COMPLETED | 1u << FM_JOB_FAILED |
                                 1u << FM_JOB_CANCELLED,
    };

    g_return_if_fail((allowed[old] & (1u << state)) != 0);
    g_atomic_int_set(&job->state, state);
    g_debug("job %s: %s -> %s (%s) at %.3f s", fm_policy_name(job->policy),
            fm_job_state_to_string(old), fm_job_state_to_string(state),
            reason ? reason : "-", fm_job_elapsed(job));
    event.state.from = old;
    event.state.to = state;
    event.state.reason = reason ? reason : "";
    fm_job_emit(job, &event);
}

/* Returns a new job (caller frees); takes @policy.  NULL with @error on bad knobs. */
FmJob *
fm_job_new(FmBackend *backend, FmSink *sink, FmPolicy *policy, const FmParamSet *params,
           GError **error)
{
    g_autoptr(FmPolicy) owned_policy = policy;
    g_autoptr(FmJob) job = NULL;

    g_return_val_if_fail(backend != NULL && sink != NULL && policy != NULL, NULL);

    job = g_new0(FmJob, 1);
    job->backend = backend;
    job->sink = sink;
    job->policy = g_steal_pointer(&owned_policy);
    job->rounds = g_array_new(FALSE, TRUE, sizeof(FmRoundRecord));
    job->state = FM_JOB_SETUP;
    job->stats.stop_reason = FM_STOP_NONE;
    job->published = job->stats;
    job->subscribers = g_array_new(FALSE, FALSE, sizeof(FmJobSubscriber));
    g_mutex_init(&job->lock);

    if (!fm_param_set_check_own(params, fm_job_params, error))
        return NULL;
    job->frag_pages = fm_param_set_get_named(params, fm_job_params, "fragment_size");
    job->batch_pages = fm_param_set_get_named(params, fm_job_params, "batch_pages");
    job->max_downtime = fm_param_set_get_named(params, fm_job_params, "max_downtime");
    job->max_time = fm_param_set_get_named(params, fm_job_params, "max_time");
    job->ewma_alpha = fm_param_set_get_named(params, fm_job_params, "ewma_alpha");
    job->abort_if_busy = fm_param_set_get_named(params, fm_job_params, "abort_if_busy") != 0;
    job->predicted_end = -1;
    /* a policy that throttles changes the rates the model predicts from */
    job->may_throttle = fm_policy_may_throttle(job->policy);
    return g_steal_pointer(&job);
}

/* Frees @job and its policy; NULL ok. */
void
fm_job_free(FmJob *job)
{
    if (job == NULL)
        return;
    fm_policy_free(job->policy);
    g_array_unref(job->rounds);
    g_array_unref(job->subscribers);
    fm_bitmap_free(job->pending);
    fm_bitmap_free(job->dirty);
    fm_bitmap_free(job->sent);
    fm_bitmap_free(job->peek);
    fm_frag_tracker_free(job->tracker);
    g_free(job->pfns);
    g_free(job->buf);
    g_mutex_clear(&job->lock);
    g_free(job);
}

/* Subscribes @func to the events of @mask; returns its id. */
guint
fm_job_subscribe(FmJob *job, guint mask, FmJobEventFunc func, gpointer data)
{
    FmJobSubscriber sub = { ++job->next_subscriber_id, mask, func, data };

    g_return_val_if_fail(func != NULL, 0);
    g_array_append_val(job->subscribers, sub);
    return sub.id;
}

/* Removes subscription @id (unknown ids are ignored). */
void
fm_job_unsubscribe(FmJob *job, guint id)
{
    for (guint i = 0; i < job->subscribers->len; i++) {
        if (g_array_index(job->subscribers, FmJobSubscriber, i).id == id) {
            g_array_remove_index(job->subscribers, i);
            return;
        }
    }
}

/* Asks the job to stop; async-signal-safe. */
void
fm_job_cancel(FmJob *job)
{
    g_atomic_int_set(&job->cancel, 1);
}

/* Sets the downtime target; any thread. */
void
fm_job_set_max_downtime(FmJob *job, double seconds)
{
    g_return_if_fail(job != NULL && seconds >= 0 && seconds <= 3600);
    g_mutex_lock(&job->lock);
    job->max_downtime = seconds;
    g_mutex_unlock(&job->lock);
}

/* Returns the downtime target in seconds; any thread. */
double
fm_job_get_max_downtime(FmJob *job)
{
    double seconds;

    g_mutex_lock(&job->lock);
    seconds = job->max_downtime;
    g_mutex_unlock(&job->lock);
    return seconds;
}

/* Copies the last published statistics into @out; any thread. */
void
fm_job_copy_stats(FmJob *job, FmJobStats *out)
{
    g_return_if_fail(job != NULL && out != NULL);
    g_mutex_lock(&job->lock);
    *out = job->published;
    g_mutex_unlock(&job->lock);
}

/* Returns the current state. */
FmJobState
fm_job_get_state(const FmJob *job)
{
    return g_atomic_int_get(&job->state);
}

/* Returns the statistics (borrowed). */
const FmJobStats *
fm_job_get_stats(const FmJob *job)
{
    return &job->stats;
}

/* Returns the round records (borrowed). */
const GArray *
fm_job_get_rounds(const FmJob *job)
{
    return job->rounds;
}

/* Returns the policy (borrowed). */
FmPolicy *
fm_job_get_policy(FmJob *job)
{
    return job->policy;
}

/* Returns the fragment tracker (borrowed). */
const FmFragTracker *
fm_job_get_tracker(const FmJob *job)
{
    return job->tracker;
}

/* Returns FALSE with a CANCELLED error if fm_job_cancel() was called. */
static gboolean
fm_job_check_cancel(FmJob *job, GError **error)
{
    if (g_atomic_int_get(&job->cancel)) {
        g_set_error(error, FM_ERROR, FM_ERROR_CANCELLED, _("migration cancelled"));
        return FALSE;
    }
    return TRUE;
}

/* Refreshes the statistics that derive from the pending set and the sink (cheap:
 * called after every batch, so that progress displays are live); the next event
 * publishes them. */
static void
fm_job_update_stats(FmJob *job)
{
    FmJobStats *st = &job->stats;
    guint64 pending = job->pending_count;

    st->data_processed = fm_sink_bytes_sent(job->sink);
    st->memory_processed = st->pages_sent * job->page_size;
    st->memory_remaining = pending * job->page_size;
    st->data_remaining = st->memory_remaining;
    st->data_total = st->data_processed + st->data_remaining;
    st->time_elapsed = fm_job_elapsed(job);
    /* Time remaining: the last round's prediction, counted down within the next
     * round; before any (round 0) and once paused, what is pending at the current
     * rate.  fm_job_run() sets 0 at the end. */
    if (job->ended)
        st->time_remaining = 0;
    else if (fm_job_get_state(job) == FM_JOB_STOP_AND_COPY || job->predicted_end < 0)
        st->time_remaining = st->memory_bps > 0 ? st->memory_remaining / st->memory_bps : 0;
    else
        st->time_remaining = MAX(job->predicted_end - st->time_elapsed, 0);
}

/* Sends the batch collected in job->pfns: peeks and drops re-dirtied pages when
 * @skip_redirtied, reads the rest and hands them to the sink.  Adds the pages sent to
 * *@sent and those skipped to *@skipped. */
static gboolean
fm_job_send_batch(FmJob *job, gboolean skip_redirtied, guint64 *sent, guint64 *skipped,
                  GError **error)
{
    gsize n = job->batch_len;
    guint64 batch_skipped = 0;
    FmJobEvent event = { .type = FM_JOB_EVENT_BATCH };

    job->batch_len = 0;
    if (n == 0)
        return TRUE;
    if (!fm_job_check_cancel(job, error))
        return FALSE;

    if (skip_redirtied) {
        gsize kept = 0;

        /* A plan may send fragments in any order: peek each ascending run of the
         * batch on its own, so that the cost is that of the pages, not of the
         * address span between the first and the last. */
        for (gsize run = 0; run < n;) {
            gsize end = run + 1;
            guint64 first = job->pfns[run];

            while (end < n && job->pfns[end] > job->pfns[end - 1])
                end++;
            fm_bitmap_clear_range(job->peek, first, job->pfns[end - 1] - first + 1);
            if (!fm_backend_harvest(job->backend, job->peek, first,
                                    job->pfns[end - 1] - first + 1, FALSE, error))
                return FALSE;
            for (gsize i = run; i < end; i++) {
                if (fm_bitmap_test(job->peek, job->pfns[i]))
                    continue; /* stays pending: the next round sends its newer content */
                job->pfns[kept++] = job->pfns[i];
            }
            run = end;
        }
        batch_skipped = n - kept;
        *skipped += batch_skipped;
        job->stats.pages_skipped += batch_skipped;
        n = kept;
        if (n == 0)
            return TRUE;
    }

    if (!fm_backend_read_pages(job->backend, job->pfns, n, job->buf, error) ||
        !fm_sink_send_pages(job->sink, job->pfns, n, job->buf, error))
        return FALSE;

    /* Word by word: this loop runs once per page sent (a 1 TiB guest's round 0 is
     * 2^28 pages), so the bits of consecutive pages are gathered into one mask and
     * each word is updated once, not once per page (a chain of stores and loads of
     * the same word).  The pfns are the engine's own, all in range. */
    {
        guint64 *pending = fm_bitmap_words(job->pending);
        guint64 *sent_words = fm_bitmap_words(job->sent);
        guint64 resent = 0, mask = 0;
        gsize cur = 0;

        for (gsize i = 0; i <= n; i++) {
            gsize w = i < n ? job->pfns[i] / FM_BITMAP_WORD_BITS : G_MAXSIZE;
            guint64 bit;

            if (w != cur) {
                if (mask != 0) {
                    resent += (guint64)__builtin_popcountll(sent_words[cur] & mask);
                    sent_words[cur] |= mask;
                    pending[cur] &= ~mask;
                }
                if (i == n)
                    break;
                cur = w;
                mask = 0;
            }
            bit = G_GUINT64_CONSTANT(1) << (job->pfns[i] % FM_BITMAP_WORD_BITS);
            resent += (mask & bit) != 0;    /* the same page twice in a batch */
            mask |= bit;
        }
        job->stats.pages_resent += resent;
    }
    job->pending_count -= n;
    job->stats.pages_sent += n;
    *sent += n;
    if (job->in_round) {
        /* a live estimate within long rounds; the round's end sets the final one */
        guint64 bytes = fm_sink_bytes_sent(job->sink) - job->round_bytes0;
        double seconds = (fm_backend_now(job->backend) - job->round_t0) / 1e9;

        if (bytes >= FM_JOB_MIN_BANDWIDTH_SAMPLE && seconds > 0)
            job->stats.memory_bps = bytes / seconds;
    }
    fm_job_update_stats(job);
    event.batch.pages = n;
    event.batch.skipped = batch_skipped;
    fm_job_emit(job, &event);
    return TRUE;
}

/* Appends @pfn to the batch, sending the batch when it is full. */
static gboolean
fm_job_queue_page(FmJob *job, guint64 pfn, gboolean skip_redirtied, guint64 *sent,
                  guint64 *skipped, GError **error)
{
    job->pfns[job->batch_len++] = pfn;
    if (job->batch_len < job->batch_pages)
        return TRUE;
    return fm_job_send_batch(job, skip_redirtied, sent, skipped, error);
}

/* Sends the pending pages of the fragments in @frags (NULL: all, in address order),
 * each fragment's pages in address order, in batches.  Adds to *@sent / *@skipped.
 * The cost is proportional to the fragments listed and the pages pending: a search
 * never runs past the end of its fragment, and "all" is one pass over the bitmap. */
static gboolean
fm_job_send_fragments(FmJob *job, const GArray *frags, gboolean skip_redirtied,
                      guint64 *sent, guint64 *skipped, GError **error)
{
    if (frags == NULL) {
        const guint64 *pending = fm_bitmap_const_words(job->pending);
        gsize nwords = fm_bitmap_nwords(job->pending);

        /* word by word, one read of each word: the batches sent meanwhile only
         * clear bits of pages already queued, and nothing sets one during the pass */
        for (gsize w = 0; w < nwords; w++) {
            for (guint64 bits = pending[w]; bits != 0; bits &= bits - 1) {
                guint64 pfn = w * FM_BITMAP_WORD_BITS + (guint64)__builtin_ctzll(bits);

                if (!fm_job_queue_page(job, pfn, skip_redirtied, sent, skipped, error))
                    return FALSE;
            }
        }
        return fm_job_send_batch(job, skip_redirtied, sent, skipped, error);
    }

    for (guint k = 0; k < frags->len; k++) {
        guint frag = g_array_index(frags, guint32, k);
        guint64 first = fm_frag_tracker_first_page(job->tracker, frag);
        guint64 end = first + fm_frag_tracker_get(job->tracker, frag)->pages;

        for (gint64 pfn = fm_bitmap_next_set_before(job->pending, first, end); pfn >= 0;
             pfn = fm_bitmap_next_set_before(job->pending, pfn + 1, end)) {
            if (!fm_job_queue_page(job, pfn, skip_redirtied, sent, skipped, error))
                return FALSE;
        }
    }
    return fm_job_send_batch(job, skip_redirtied, sent, skipped, error);
}

/* Harvests the whole dirty log (get and clear) into job->dirty, shows it to the
 * harvest callback and merges it into the pending set; returns the number of dirty
 * pages in *@dirty_count. */
static gboolean
fm_job_harvest(FmJob *job, guint64 *dirty_count, GError **error)
{
    FmJobEvent event = { .type = FM_JOB_EVENT_HARVEST };

    fm_bitmap_clear_all(job->dirty);
    if (!fm_backend_harvest(job->backend, job->dirty, 0, job->page_count, TRUE, error))
        return FALSE;
    event.harvest.dirty = job->dirty;
    event.harvest.time_ns = fm_backend_now(job->backend) - job->t_log_dirty;
    fm_bitmap_or(job->pending, job->dirty);
    job->pending_count = fm_bitmap_count(job->pending);
    *dirty_count = fm_bitmap_count(job->dirty);
    fm_job_emit(job, &event);
    return TRUE;
}

/* Allocates the per-run state and starts the stream and the dirty log (SETUP). */
static gboolean
fm_job_setup(FmJob *job, GError **error)
{
    job->page_count = fm_backend_page_count(job->backend);
    job->page_size = fm_backend_page_size(job->backend);
    if (job->page_count == 0 || job->page_size == 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("the guest has no memory to migrate"));
        return FALSE;
    }
    job->pending = fm_bitmap_new(job->page_count);
    job->dirty = fm_bitmap_new(job->page_count);
    job->sent = fm_bitmap_new(job->page_count);
    job->peek = fm_bitmap_new(job->page_count);
    job->tracker = fm_frag_tracker_new(job->page_count, job->frag_pages);
    job->pfns = g_new(guint64, job->batch_pages);
    job->buf = g_malloc((gsize)job->batch_pages * job->page_size);

    job->stats.memory_total = job->page_count * job->page_size;
    job->stats.memory_page_size = job->page_size;

    if (!fm_sink_begin(job->sink, job->page_count, job->page_size, error))
        return FALSE;
    if (!fm_backend_log_dirty_enable(job->backend, error))
        return FALSE;
    job->t_log_dirty = fm_backend_now(job->backend);
    job->last_flush = job->t_log_dirty;
    job->log_dirty_on = TRUE;
    fm_bitmap_set_all(job->pending);
    job->pending_count = job->page_count;
    job->stats.setup_time = fm_job_elapsed(job);
    return TRUE;
}

/* Ends a round on the stream (ROUND_END, a round trip) and notes when. */
static gboolean
fm_job_flush(FmJob *job, GError **error)
{
    job->last_flush = fm_backend_now(job->backend);
    return fm_sink_flush(job->sink, error);
}

/* Returns TRUE if the destination has heard nothing for FM_JOB_KEEPALIVE seconds:
 * a policy that waits must not look like a dead peer to the receiver's timeout. */
static gboolean
fm_job_keepalive_due(FmJob *job)
{
    return (fm_backend_now(job->backend) - job->last_flush) / 1e9 >= FM_JOB_KEEPALIVE;
}

/* Lets the guest run until @until seconds since the start (a policy's wait), in
 * steps of at most FM_JOB_KEEPALIVE, ending an empty round on the stream between
 * steps.  Returns FALSE with @error if cancelled or the stream fails. */
static gboolean
fm_job_wait(FmJob *job, double until, GError **error)
{
    for (double now = fm_job_elapsed(job); now < until; now = fm_job_elapsed(job)) {
        if (!fm_job_check_cancel(job, error))
            return FALSE;
        fm_backend_wait(job->backend, MIN(until - now, FM_JOB_KEEPALIVE));
        if (fm_job_elapsed(job) < until && fm_job_keepalive_due(job) &&
            !fm_job_flush(job, error))
            return FALSE;
    }
    return TRUE;
}

/* Runs one pre-copy round of @plan (NULL: round 0, everything) and records it. */
static gboolean
fm_job_round(FmJob *job, const FmPlan *plan, FmRoundRecord *rec, GError **error)
{
    guint64 bytes0 = fm_sink_bytes_sent(job->sink);
    gint64 t0 = fm_backend_now(job->backend);
    guint64 bytes;
    double sending;

    rec->round = job->rounds->len;
    rec->start = (t0 - job->t_start) / 1e9;
    rec->throttle = job->throttle;
    job->round_t0 = t0;
    job->round_bytes0 = bytes0;
    job->in_round = TRUE;
    if (!fm_job_send_fragments(job, plan ? plan->fragments : NULL,
                               plan ? plan->skip_redirtied : FALSE,
                               &rec->pages_sent, &rec->pages_skipped, error) ||
        /* a round that sent nothing has nothing to flush: no round trip, unless
         * the destination has heard nothing for a while (fm_job_keepalive()) */
        ((fm_sink_bytes_sent(job->sink) != bytes0 || fm_job_keepalive_due(job)) &&
         !fm_job_flush(job, error))) {
        job->in_round = FALSE;
        return FALSE;
    }
    job->in_round = FALSE;

    sending = (fm_backend_now(job->backend) - t0) / 1e9;
    bytes = fm_sink_bytes_sent(job->sink) - bytes0;
    if (bytes >= FM_JOB_MIN_BANDWIDTH_SAMPLE && sending > 0)
        job->stats.memory_bps = bytes / sending;
    if (plan && plan->wait_until > 0 && !fm_job_wait(job, plan->wait_until, error))
        return FALSE;
    rec->duration = (fm_backend_now(job->backend) - t0) / 1e9;
    job->stats.memory_iteration++;
    return TRUE;
}

/* Updates stats.time_remaining after the decision of a round (fm-predict.h) and, with
 * abort_if_busy, decides whether the guest is too busy for the downtime target:
 * at the policy's stop, when what is pending will not fit the target; before it,
 * when the model predicts, FM_JOB_BUSY_PREDICTIONS times in a row, a stop above the
 * target; but not for a policy that may throttle the guest (auto_converge): the
 * throttle changes the rates the model uses, and may yet make it converge.  Returns FALSE with @error set
 * (FM_ERROR_LIMIT) when the job must abort; the guest has not been paused. */
static gboolean
fm_job_predict(FmJob *job, const FmRoundStats *rs, FmDecision decision,
               const FmPlan *plan, GError **error)
{
    FmPredictInput in = {
        .page_size = job->page_size,
        .pending = rs->pending,
        .bandwidth = rs->bandwidth,
        .max_downtime = rs->max_downtime,
        .time_left = rs->max_time > 0 ? MAX(rs->max_time - rs->elapsed, 1e-9) : 0,
        .progress_min = FM_JOB_PREDICT_PROGRESS_MIN,
        /* rs->round harvests have been folded into the tracker's averages */
        .rate_scale = 1.0 / -expm1(rs->round * log1p(-job->ewma_alpha)),
    };
    FmPrediction pred;
    double downtime;
    gboolean busy = FALSE;

    if (!fm_predict_precopy(&in, job->tracker, &pred))
        return TRUE;  /* no bandwidth yet: nothing to say */

    if (decision == FM_DECISION_STOP_AND_COPY) {
        downtime = (double)rs->pending * job->page_size / rs->bandwidth;
        job->predicted_end = rs->elapsed + downtime;
        busy = downtime > rs->max_downtime;
    } else {
        downtime = pred.downtime;
        job->predicted_end = rs->elapsed + pred.total_seconds;
        if (pred.stop != FM_PREDICT_DOWNTIME_TARGET && downtime > rs->max_downtime &&
            !job->may_throttle && plan->throttle == 0)
            job->busy_predictions++;
        else
            job->busy_predictions = 0;
        busy = job->busy_predictions >= FM_JOB_BUSY_PREDICTIONS;
    }
    g_debug("job %s: round %u: predicted %.3f s remaining, downtime %.1f ms (%s, %u rounds)",
            fm_policy_name(job->policy), rs->round, job->predicted_end - rs->elapsed,
            downtime * 1000, fm_predict_stop_to_string(pred.stop), pred.rounds);
    /* Without abort_if_busy the migration goes on and ends with a downtime over
     * the target (a bandwidth limit the guest cannot converge under, typically):
     * say so once, where the user can see it, rather than only afterwards */
    if (busy && !job->abort_if_busy && !job->busy_warned) {
        job->busy_warned = TRUE;
        g_message(_("the downtime limit is out of reach: predicted downtime %.0f ms at %.1f MiB/s, limit %.0f ms; the migration goes on (abort_if_busy would refuse it)"),
                  downtime * 1000, rs->bandwidth / (1024.0 * 1024.0), rs->max_downtime * 1000);
    }
    if (!job->abort_if_busy || !busy)
        return TRUE;
    job->stats.stop_reason = FM_STOP_BUSY;
    g_set_error(error, FM_ERROR, FM_ERROR_LIMIT,
                _("the guest is too busy for the downtime limit: predicted downtime %.0f ms, limit %.0f ms (abort_if_busy)"),
                downtime * 1000, rs->max_downtime * 1000);
    return FALSE;
}

/* The pre-copy phase: round 0, then harvest / plan / decide / send until the policy
 * says stop.  Sets stats.stop_reason. */
static gboolean
fm_job_precopy(FmJob *job, GError **error)
{
    FmPlan plan = { g_array_new(FALSE, FALSE, sizeof(guint32)), FALSE, 0, 0 };
    FmRoundStats rs = { 0 };
    FmRoundRecord rec = { 0 };
    gboolean ok = FALSE;

    rs.page_count = job->page_count;
    rs.page_size = job->page_size;
    rs.pending = job->page_count;

    if (!fm_job_round(job, NULL, &rec, error))
        goto cleanup;
    rs.max_time = job->max_time > 0 ? job->max_time : 10 * MAX(rec.duration, 1e-3);

    for (;;) {
        guint64 dirty_count;
        FmDecision decision;
        FmStopReason reason;
        gboolean too_busy;
        FmJobEvent event = { .type = FM_JOB_EVENT_ROUND };

        if (!fm_job_check_cancel(job, error) || !fm_job_harvest(job, &dirty_count, error))
            goto cleanup;
        fm_frag_tracker_update(job->tracker, job->dirty, job->pending, rec.duration,
                               job->ewma_alpha);

        rs.max_downtime = fm_job_get_max_downtime(job);
        rs.round = job->stats.memory_iteration;
        rs.pending_prev = rs.pending;
        rs.pending = job->pending_count;
        rs.dirty_last = dirty_count;
        rs.sent_last = rec.pages_sent;
        rs.pages_sent = job->stats.pages_sent;
        rs.bytes_sent = fm_sink_bytes_sent(job->sink);
        rs.bandwidth = job->stats.memory_bps;
        rs.round_seconds = rec.duration;
        rs.elapsed = fm_job_elapsed(job);
        rs.dirty_bytes_rate = rec.duration > 0 ? dirty_count * job->page_size / rec.duration : 0;
        rs.dirty = job->dirty;
        job->stats.memory_dirty_rate = rec.duration > 0 ? dirty_count / rec.duration : 0;

        fm_policy_plan_round(job->policy, &rs, job->tracker, &plan);
        decision = fm_policy_should_stop(job->policy, &rs, job->tracker, &reason);

        too_busy = decision != FM_DECISION_ABORT &&
                   !fm_job_predict(job, &rs, decision, &plan, error);

        rec.dirty_after = dirty_count;
        rec.pending_after = rs.pending;
        rec.fragments_hot = fm_frag_tracker_hot_count(job->tracker);
        g_array_append_val(job->rounds, rec);
        fm_job_update_stats(job);
        event.round.record = &rec;
        event.round.decision = decision;
        event.round.reason = reason;
        fm_job_emit(job, &event);

        if (too_busy)
            goto cleanup;   /* before any pause: the guest runs on */

        if (decision == FM_DECISION_ABORT) {
            job->stats.stop_reason = reason;
            g_set_error(error, FM_ERROR, FM_ERROR_LIMIT,
                        _("the %s policy aborted the migration: %s"),
                        fm_policy_name(job->policy), fm_stop_reason_to_string(reason));
            goto cleanup;
        }
        if (decision == FM_DECISION_STOP_AND_COPY) {
            job->stats.stop_reason = reason;
            break;
        }
        if (plan.throttle != job->throttle) {
            if (!fm_backend_set_throttle(job->backend, plan.throttle, error))
                goto cleanup;
            job->throttle = plan.throttle;
        }
        memset(&rec, 0, sizeof(rec));
        if (!fm_job_round(job, &plan, &rec, error))
            goto cleanup;
    }
    ok = TRUE;

 cleanup:
    g_array_unref(plan.fragments);
    return ok;
}

/* The stop-and-copy phase: pause, last harvest, send everything pending and the
 * guest's state, and wait for the destination. */
static gboolean
fm_job_stop_and_copy(FmJob *job, GError **error)
{
    guint64 dirty_count, sent = 0, skipped = 0;
    gint64 t_pause;

    job->stats.fragments_hot = fm_frag_tracker_hot_count(job->tracker);
    job->stats.guest_slowdown = fm_backend_guest_slowdown(job->backend);
    if (!fm_backend_pause(job->backend, error))
        return FALSE;
    job->paused = TRUE;
    t_pause = fm_backend_now(job->backend);

    if (!fm_job_harvest(job, &dirty_count, error) ||
        !fm_job_send_fragments(job, NULL, FALSE, &sent, &skipped, error) ||
        !fm_backend_save_state(job->backend, job->sink, error) ||
        !fm_sink_finish(job->sink, error))
        return FALSE;

    job->stats.pages_downtime = sent;
    job->stats.downtime = (fm_backend_now(job->backend) - t_pause) / 1e9;
    g_debug("job %s: stop-and-copy: %llu pages dirty, %llu sent, %.3f s paused",
            fm_policy_name(job->policy), (unsigned long long)dirty_count,
            (unsigned long long)sent, job->stats.downtime);
    return TRUE;
}

/* Undoes what a failed or cancelled run changed on the source: the guest runs again
 * at full speed, log-dirty is off, the destination is told.  Errors here are logged,
 * not returned: the original error is what the caller needs. */
static void
fm_job_rollback(FmJob *job, const GError *cause)
{
    g_autoptr(GError) local = NULL;
    /* The source committed to the handover and never heard back: the destination may
     * run the guest, so ours stays paused (docs/stream-format.md §5). */
    gboolean in_doubt = g_error_matches(cause, FM_ERROR, FM_ERROR_IN_DOUBT);

    if (!in_doubt)
        fm_sink_abort(job->sink, cause ? cause->message : "");
    if (job->throttle && !fm_backend_set_throttle(job->backend, 0, &local)) {
        g_warning("%s", local->message);
        g_clear_error(&local);
    }
    job->throttle = 0;
    if (job->paused && !in_doubt && !fm_backend_resume(job->backend, &local)) {
        g_warning(_("could not resume the guest on the source: %s"), local->message);
        g_clear_error(&local);
    }
    job->paused = FALSE;
    if (job->log_dirty_on && !fm_backend_log_dirty_disable(job->backend, &local)) {
        g_warning("%s", local->message);
        g_clear_error(&local);
    }
    job->log_dirty_on = FALSE;
}

/* Runs the migration; see fm-job.h. */
gboolean
fm_job_run(FmJob *job, GError **error)
{
    g_autoptr(GError) local = NULL;

    g_return_val_if_fail(fm_job_get_state(job) == FM_JOB_SETUP && !job->started, FALSE);

    job->started = TRUE;
    job->t_start = fm_backend_now(job->backend);
    if (g_atomic_int_get(&job->cancel)) {
        /* cancelled before it started: nothing to undo, not even the stream begun */
        g_set_error(&local, FM_ERROR, FM_ERROR_CANCELLED, _("migration cancelled"));
        job->ended = TRUE;
        job->stats.stop_reason = FM_STOP_CANCELLED;
        fm_job_set_state(job, FM_JOB_CANCELLED, local->message);
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }

    if (!fm_job_setup(job, &local))
        goto error;
    fm_job_set_state(job, FM_JOB_PRECOPY, "log-dirty enabled");
    if (!fm_job_precopy(job, &local))
        goto error;
    fm_job_set_state(job, FM_JOB_STOP_AND_COPY,
                     fm_stop_reason_to_string(job->stats.stop_reason));
    if (!fm_job_stop_and_copy(job, &local))
        goto error;

    if (job->throttle && !fm_backend_set_throttle(job->backend, 0, &local))
        goto error;
    job->throttle = 0;
    job->log_dirty_on = FALSE;
    if (!fm_backend_log_dirty_disable(job->backend, &local))
        g_debug("log-dirty disable after completion: %s", local->message);
    g_clear_error(&local);
    job->ended = TRUE;
    fm_job_update_stats(job);
    fm_job_set_state(job, FM_JOB_COMPLETED, "destination accepted");
    return TRUE;

 error:
    fm_job_rollback(job, local);
    job->ended = TRUE;
    fm_job_update_stats(job);
    if (g_error_matches(local, FM_ERROR, FM_ERROR_CANCELLED)) {
        job->stats.stop_reason = FM_STOP_CANCELLED;
        fm_job_set_state(job, FM_JOB_CANCELLED, local->message);
    } else {
        if (job->stats.stop_reason == FM_STOP_NONE)
            job->stats.stop_reason = FM_STOP_ERROR;
        fm_job_set_state(job, FM_JOB_FAILED, local->message);
    }
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
}
