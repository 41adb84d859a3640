/*
 * fm-workload.h: memory-writing workload models shared by the simulator and the local
 * guest (docs/design.md section 4).
 *
 * A workload is a spec (what to do: model, rate, shape; immutable, owned by whoever
 * parsed it) plus a state (where it is: PRNG, cursor, phase, counters).  The state is
 * plain data with no pointers, so that a local guest can keep it inside its own migrated
 * memory and carry on where it stopped on the destination.
 *
 * Models (one file each under src/workload/, one entry in the table in
 * fm-workload.c):
 *  idle   uniform writes over all memory at a low rate (timer ticks, daemons);
 *  web    Zipf(s)-distributed writes over a region, ranks scattered over its pages;
 *  db     uniform random writes over a working set;
 *  sweep  sequential writes over a region, wrapping around (Clark's "MMuncher");
 *  phases a sequence of the others, each for a duration (the last may be open-ended);
 *  trace  replays a recorded dirty-page trace (trace/fm-trace.h, docs/trace-format.md
 *         section 5), looping it: each interval's pages spread evenly over it;
 *  mix    several of idle, web, db and sweep at once (a small hot region and a large
 *         cold one, a log writer and a cache): each write goes to one part, drawn
 *         in proportion to the parts' rates.  The parts share the state, so a mix
 *         holds at most one web part (the Zipf sampler) and one sweep (the cursor).
 *
 * A trace is too large for the state, so the spec holds it (a reference, shared by
 * copies); the state holds only where the replay is.  A trace spec's rate is the
 * trace's mean write rate: it only serves as the nominal rate (slowdown measure,
 * reports); the replay's timing is the trace's.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "util/fm-enum.h"
#include "util/fm-rand.h"

G_BEGIN_DECLS

typedef enum {
    FM_WORKLOAD_IDLE,
    FM_WORKLOAD_WEB,
    FM_WORKLOAD_DB,
    FM_WORKLOAD_SWEEP,
    FM_WORKLOAD_PHASES,
    FM_WORKLOAD_TRACE,
    FM_WORKLOAD_MIX,
    FM_WORKLOAD_LAST
} FmWorkloadType;

#define FM_WORKLOAD_MAX_PHASES 8

typedef struct _FmWorkloadSpec FmWorkloadSpec;
typedef struct _FmTrace FmTrace;

struct _FmWorkloadSpec {
    FmWorkloadType type;
    double rate;          /* page writes per second (absolute, already resolved) */
    double zipf_s;        /* web: Zipf exponent (default 1.0) */
    double region_start;  /* fraction of memory where the region starts, [0, 1) */
    double region_size;   /* fraction of memory the model writes to, (0, 1] */
    double duration;      /* phase length in seconds; 0 = open-ended (last phase) */
    guint n_phases;       /* phases, mix: number of entries in @phases */
    FmWorkloadSpec *phases; /* phases: array of n_phases specs run one after the other
                             * (none of type PHASES, TRACE or MIX); mix: the parts,
                             * run at once (idle, web, db or sweep; rate, region and
                             * zipf of their own, no duration); the mix's own rate
                             * is ignored (the sum of the parts') and its region
                             * fields are 0 */
    FmTrace *trace;       /* trace: the trace to replay, a reference owned by the
                           * spec (NULL in other models) */
};

/* Everything a workload remembers; plain data (see above). */
typedef struct {
    guint32 magic;        /* FM_WORKLOAD_STATE_MAGIC once initialised */
    guint32 phase;        /* index of the current phase (phases only) */
    guint32 lane;         /* this state is lane @lane of @lanes sharing one workload: */
    guint32 lanes;        /* a sweep starts at lane / lanes of its region (see below) */
    double now;           /* workload time reached, seconds since start */
    double phase_start;   /* workload time at which the current phase began */
    double carry;         /* fractional write owed from the previous step */
    guint64 cursor;       /* sweep: next page offset within the region;
                           * trace: index of the current interval */
    guint64 writes;       /* page writes made so far (the guest's "work counter") */
    FmRand rand;
    FmZipf zipf;          /* web: sampler of the current (phase's) spec */
    guint64 trace_time;   /* trace: ns of trace time replayed in the current loop,
                           * within the current interval: [its start, its end) */
    guint64 trace_page;   /* trace: index in the current interval of this lane's next
                           * page (lane, lane + lanes, ...; >= its page count: done) */
} FmWorkloadState;

#define FM_WORKLOAD_STATE_MAGIC 0x464d574cu  /* "FMWL" */

/* Called once per page write; @pfn < the page count given to fm_workload_state_init(). */
typedef void (*FmWorkloadWriteFunc)(guint64 pfn, gpointer user_data);

/* Names of the models ("db"), as in scenario files and reports. */
FM_ENUM_DECL(fm_workload_type, FmWorkloadType);

/* Initialises @state for @spec on a guest of @page_count pages, seeded by @seed. */
void fm_workload_state_init(FmWorkloadState *state, const FmWorkloadSpec *spec,
                            guint64 page_count, guint64 seed);

/* Same as fm_workload_state_init(), for lane @lane of @lanes states that share one
 * workload at rate / lanes each (the threads of a local guest): random models only
 * differ by seed, but the sweeps of the lanes start evenly spaced over the region, so
 * that together they re-dirty the region as fast as one sweep at the full rate
 * (sweeps started at the same page would write the same pages). */
void fm_workload_state_init_lane(FmWorkloadState *state, const FmWorkloadSpec *spec,
                                 guint64 page_count, guint64 seed, guint lane,
                                 guint lanes);

/* Advances the workload from state->now to @until (seconds), making the writes that
 * fall in that interval at @speed times the nominal rate (1.0 = unthrottled, 0.8 = a
 * 20 % throttle) and calling @write for each.  Returns the number of writes made.
 * Deterministic: the same spec, seed and sequence of @until/@speed values give the
 * same writes. */
guint64 fm_workload_run_until(const FmWorkloadSpec *spec, FmWorkloadState *state,
                              guint64 page_count, double until, double speed,
                              FmWorkloadWriteFunc write, gpointer user_data);

/* Makes @spec (zeroed by the caller) a trace workload replaying @trace: takes a
 * reference to it; the rate is the trace's mean.  Free with fm_workload_spec_free(),
 * or for a spec on the stack, fm_workload_spec_clear(). */
void fm_workload_spec_set_trace(FmWorkloadSpec *spec, FmTrace *trace);

/* Deep-copies @spec (caller frees with fm_workload_spec_free()); the copy shares the
 * trace (one more reference). */
FmWorkloadSpec *fm_workload_spec_copy(const FmWorkloadSpec *spec);
/* Frees a spec made by fm_workload_spec_copy() or the scenario parser; NULL ok. */
void fm_workload_spec_free(FmWorkloadSpec *spec);
/* Frees what @spec owns (phases, trace reference), not @spec itself, and leaves
 * it without them. */
void fm_workload_spec_clear(FmWorkloadSpec *spec);

/* Returns TRUE if @spec can be run (type in range, finite rate >= 0, fractions in
 * range, phases non-empty and neither nested nor traces, a trace with at least one
 * interval); otherwise FALSE with @error set (FM_ERROR_CONFIG). */
gboolean fm_workload_spec_check(const FmWorkloadSpec *spec, GError **error);

/* Returns the writes @spec would make at full speed between state->now and @until
 * (not rounded; the state is not changed): the guest's nominal work, against which
 * a throttled guest's slowdown is measured. */
double fm_workload_nominal_writes(const FmWorkloadSpec *spec, const FmWorkloadState *state,
                                  double until);

/* Rebuilds what @state derives from @spec and @page_count rather than stores (the web
 * model's Zipf sampler), for a state that was copied in from elsewhere (a migrated
 * guest): doubles from the network are not trusted, a NaN there would hang the
 * sampler. */
void fm_workload_state_rederive(FmWorkloadState *state, const FmWorkloadSpec *spec,
                                guint64 page_count);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmWorkloadSpec, fm_workload_spec_free)

G_END_DECLS
