/*
 * fm-workload-trace.c: replays a recorded dirty-page trace (trace/fm-trace.h), as
 * specified in docs/trace-format.md section 5.
 *
 * During each interval (s, e] of the trace, the n pages of the interval are written
 * in pfn order, the k-th (k = 1 .. n) at s + ceil(k (e - s) / n): evenly spread, the
 * last one at e, the moment of the recorded harvest.  Times are integer nanoseconds
 * of trace time, so where writes fall does not depend on how the clock is advanced.
 * After the last interval the trace starts again (it loops: a replay keeps its load
 * however long a migration takes).  Lane l of m writes the pages k - 1 = l, l + m,
 * ..., so that m lanes write each page of an interval exactly once.
 *
 * The state (see fm-workload.h): cursor = the current interval, trace_time = the
 * trace time reached within the current loop (in [start, end) of that interval),
 * trace_page = the index in the interval of the lane's next page.  A state carried
 * over from elsewhere (a migrated guest) is checked by fm_guest_adopt(), but the
 * model repairs an inconsistent one rather than misbehave: it is data.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <string.h>

#include "workload/fm-workload-priv.h"
#include "trace/fm-trace.h"

/* Returns the lane of @state and stores the lane count in *@lanes (>= 1). */
static guint64
fm_workload_trace_lane(const FmWorkloadState *state, guint64 *lanes)
{
    *lanes = MAX(state->lanes, 1u);
    return MIN((guint64)state->lane, *lanes - 1);
}

/* Returns the start time of interval @i (the end of the one before, 0 for the
 * first). */
static guint64
fm_workload_trace_start(const FmTrace *trace, guint64 i)
{
    return i > 0 ? fm_trace_interval(trace, i - 1)->time_ns : 0;
}

/* Returns when the page of index @j (0-based, < @n) of an interval of @n pages from
 * @start lasting @d ns is written: start + ceil((j + 1) d / n).  Exact: with n <=
 * FM_TRACE_MAX_PAGES = 2^32, (d mod n)(j + 1) + n - 1 < 2^64, and (d / n)(j + 1) <= d. */
static guint64
fm_workload_trace_when(guint64 start, guint64 d, guint64 n, guint64 j)
{
    guint64 a = j + 1;

    return start + (d / n) * a + ((d % n) * a + n - 1) / n;
}

/* Makes @state a consistent position of its lane in @trace (n_intervals > 0). */
static void
fm_workload_trace_repair(const FmTrace *trace, FmWorkloadState *state)
{
    guint64 lanes, lane = fm_workload_trace_lane(state, &lanes);
    guint64 start, end, n;

    if (state->cursor >= fm_trace_n_intervals(trace)) {
        state->cursor = 0;
        state->trace_time = 0;
        state->trace_page = lane;
    }
    start = fm_workload_trace_start(trace, state->cursor);
    end = fm_trace_interval(trace, state->cursor)->time_ns;
    if (state->trace_time < start || state->trace_time >= end) {
        state->trace_time = start;
        state->trace_page = lane;
    }
    n = fm_trace_interval(trace, state->cursor)->n_pages;
    if (state->trace_page < n && (state->trace_page < lane ||
                                  (state->trace_page - lane) % lanes != 0)) {
        guint64 p = state->trace_page < lane ? 0 : state->trace_page - lane;

        state->trace_page = lane + (p + lanes - 1) / lanes * lanes;
    }
}

/* Moves @state to the start of the interval after the current one, looping. */
static void
fm_workload_trace_next_interval(const FmTrace *trace, FmWorkloadState *state)
{
    guint64 lanes, lane = fm_workload_trace_lane(state, &lanes);

    state->trace_time = fm_trace_interval(trace, state->cursor)->time_ns;
    state->cursor++;
    state->trace_page = lane;
    if (state->cursor == fm_trace_n_intervals(trace)) {
        state->cursor = 0;
        state->trace_time = 0;
    }
}

/* Returns the pfn of page @j of interval @i (j < its n_pages). */
static guint64
fm_workload_trace_pfn(const FmTrace *trace, guint64 i, guint64 j)
{
    guint64 base;
    guint64 k = fm_trace_interval_find_page(trace, i, j, &base);

    return fm_trace_interval_runs(trace, i)[k].start + (j - base);
}

/* Starts at the beginning of the trace, on the lane's first page. */
static void
fm_workload_trace_init(const FmWorkloadSpec *spec G_GNUC_UNUSED,
                       const FmWorkloadRegion *region G_GNUC_UNUSED, FmWorkloadState *state)
{
    guint64 lanes;

    state->cursor = 0;
    state->trace_time = 0;
    state->trace_page = fm_workload_trace_lane(state, &lanes);
    memset(&state->zipf, 0, sizeof(state->zipf));
}

/* Makes the writes of the next @ns ns of trace time; returns how many. */
static guint64
fm_workload_trace_advance(const FmWorkloadSpec *spec, FmWorkloadState *state,
                          guint64 page_count, guint64 ns, FmWorkloadWriteFunc write,
                          gpointer user_data)
{
    const FmTrace *trace = spec->trace;
    guint64 lanes, made = 0;

    if (trace == NULL || fm_trace_n_intervals(trace) == 0)
        return 0;
    (void)fm_workload_trace_lane(state, &lanes);
    fm_workload_trace_repair(trace, state);

    while (ns > 0) {
        const FmTraceInterval *iv = fm_trace_interval(trace, state->cursor);
        guint64 start = fm_workload_trace_start(trace, state->cursor);
        guint64 end = iv->time_ns;
        guint64 step, target, j;

        /* Whole loops of a trace that writes nothing are only time passing. */
        if (state->cursor == 0 && state->trace_time == 0 &&
            fm_trace_total_pages(trace) == 0) {
            ns %= fm_trace_duration_ns(trace);
            if (ns == 0)
                break;
        }
        step = MIN(ns, end - state->trace_time);
        target = state->trace_time + step;
        j = state->trace_page;

        if (j < iv->n_pages &&
            fm_workload_trace_when(start, end - start, iv->n_pages, j) <= target) {
            const FmTraceRun *runs = fm_trace_interval_runs(trace, state->cursor);
            guint64 base;
            guint64 k = fm_trace_interval_find_page(trace, state->cursor, j, &base);

            do {
                guint64 pfn;

                while (j - base >= runs[k].length) {
                    base += runs[k].length;
                    k++;
                }
                pfn = runs[k].start + (j - base);
                /* a scenario may not give the guest all of the trace's pages */
                if (pfn < page_count) {
                    write(pfn, user_data);
                    made++;
                }
                j += lanes;
            } while (j < iv->n_pages &&
                     fm_workload_trace_when(start, end - start, iv->n_pages, j) <= target);
            state->trace_page = j;
        }

        ns -= step;
        if (target < end) {
            state->trace_time = target;
            break;
        }
        fm_workload_trace_next_interval(trace, state);
    }
    return made;
}

/* Returns the lane's next write in trace order and moves the position to it,
 * whenever it falls (the clock uses advance; this is the model's plain sequence). */
static guint64
fm_workload_trace_next_write(const FmWorkloadSpec *spec, const FmWorkloadRegion *region,
                             FmWorkloadState *state)
{
    const FmTrace *trace = spec->trace;
    guint64 n_intervals;

    if (trace == NULL || (n_intervals = fm_trace_n_intervals(trace)) == 0)
        return region->first;
    fm_workload_trace_repair(trace, state);
    /* at most one full loop: a lane may have no page in the whole trace */
    for (guint64 tries = 0; tries <= n_intervals; tries++) {
        const FmTraceInterval *iv = fm_trace_interval(trace, state->cursor);
        guint64 start = fm_workload_trace_start(trace, state->cursor);
        guint64 lanes, j = state->trace_page;

        if (j < iv->n_pages) {
            guint64 pfn = fm_workload_trace_pfn(trace, state->cursor, j);
            guint64 when = fm_workload_trace_when(start, iv->time_ns - start, iv->n_pages, j);

            (void)fm_workload_trace_lane(state, &lanes);
            state->trace_page = j + lanes;
            /* Several writes may fall at the interval's end: the interval is over
             * only with the lane's last page. */
            if (state->trace_page < iv->n_pages)
                state->trace_time = MAX(state->trace_time, MIN(when, iv->time_ns - 1));
            else
                fm_workload_trace_next_interval(trace, state);
            return MIN(pfn, region->first + region->count - 1);
        }
        fm_workload_trace_next_interval(trace, state);
    }
    return region->first;
}

const FmWorkloadModel fm_workload_model_trace = {
    .type = FM_WORKLOAD_TRACE,
    .init = fm_workload_trace_init,
    .next = fm_workload_trace_next_write,
    .advance = fm_workload_trace_advance,
};
