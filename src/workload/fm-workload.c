/*
 * fm-workload.c: the workload clock and the table of models.
 *
 * The clock is exact integer arithmetic, so that the writes made over an interval do
 * not depend on how the caller cuts it into steps (the simulator evaluates the
 * workload lazily, at arbitrary points).  Workload time is counted in nanosecond
 * ticks, rounded from the caller's seconds; a write is 2^48 "units" of work, and each
 * tick earns round(rate x speed x 2^48 / 1e9) units.  A step earns ticks x units, the
 * whole part is the writes it makes and the rest stays in state->carry: since the
 * tick counts of consecutive steps add up to that of the whole interval, and integer
 * sums do not round, one step or many give the same writes.  carry is stored as a
 * double, which holds any multiple of 2^-48 below 1 exactly.
 *
 * A model with its own timing (trace) is paid in nanoseconds of model time instead
 * of writes: a nanosecond is one unit of work at rate 1e9, so the same exact
 * arithmetic makes its clock run at the speed asked, step-independently too.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <math.h>
#include <string.h>

#include "workload/fm-workload-priv.h"
#include "trace/fm-trace.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

#define FM_WORKLOAD_UNIT_BITS 48
#define FM_WORKLOAD_UNIT (G_GUINT64_CONSTANT(1) << FM_WORKLOAD_UNIT_BITS)
#define FM_WORKLOAD_TICKS_PER_SEC 1e9
/* Beyond ~285 years the tick count would overflow; nothing simulates that long. */
#define FM_WORKLOAD_MAX_TIME 9e9
/* Keeps a tick's work below 2^62 units; also bounds what a spec may ask for. */
#define FM_WORKLOAD_MAX_RATE 1e12

static const FmWorkloadModel *const fm_workload_models[] = {
    [FM_WORKLOAD_IDLE] = &fm_workload_model_idle,
    [FM_WORKLOAD_WEB] = &fm_workload_model_web,
    [FM_WORKLOAD_DB] = &fm_workload_model_db,
    [FM_WORKLOAD_SWEEP] = &fm_workload_model_sweep,
    [FM_WORKLOAD_PHASES] = &fm_workload_model_phases,
    [FM_WORKLOAD_TRACE] = &fm_workload_model_trace,
    [FM_WORKLOAD_MIX] = &fm_workload_model_mix,
};

G_STATIC_ASSERT(G_N_ELEMENTS(fm_workload_models) == FM_WORKLOAD_LAST);

/* Returns the model of @type (static). */
const FmWorkloadModel *
fm_workload_model_get(FmWorkloadType type)
{
    g_return_val_if_fail((guint)type < FM_WORKLOAD_LAST, NULL);
    return fm_workload_models[type];
}

/* Returns the greatest common divisor of @a and @b. */
static guint64
fm_workload_gcd(guint64 a, guint64 b)
{
    while (b != 0) {
        guint64 t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Fills @region for a simple spec; see fm-workload-priv.h. */
void
fm_workload_region_init(FmWorkloadRegion *region, const FmWorkloadSpec *spec,
                        guint64 page_count)
{
    double pages = (double)page_count;
    guint64 first = 0;
    guint64 count = page_count;

    if (spec->region_start > 0) {
        double f = floor(spec->region_start * pages);
        first = f >= pages ? page_count - 1 : (guint64)f;
    }
    if (spec->region_size > 0) {
        double c = floor(spec->region_size * pages);
        count = c < 1 ? 1 : c >= pages ? page_count : (guint64)c;
    }
    if (count > page_count - first)
        count = page_count - first;

    region->first = first;
    region->count = count;
    region->scatter_a = 1;
    region->scatter_b = 0;
    if (spec->type == FM_WORKLOAD_WEB && count > 1) {
        /* Multiplying by ~count/phi sends neighbouring ranks far apart, so the hot
         * pages are spread over all fragments instead of forming one hot fragment. */
        guint64 a = (guint64)((double)count * 0.6180339887498949);

        if (a == 0)
            a = 1;
        while (fm_workload_gcd(a, count) != 1)
            a++;    /* ends at count - 1 at the latest */
        region->scatter_a = a;
        region->scatter_b = (guint64)((double)count * 0.3819660112501051) % count;
    }
}

/* Returns the simple spec being run, NULL once a sequence is over. */
const FmWorkloadSpec *
fm_workload_current(const FmWorkloadSpec *spec, const FmWorkloadState *state)
{
    if (spec->type == FM_WORKLOAD_PHASES)
        return fm_workload_phases_current(spec, state);
    return spec;
}

/* Checks the fields of one spec (not its phases); @what names it in messages. */
static gboolean
fm_workload_spec_check_one(const FmWorkloadSpec *spec, const char *what, GError **error)
{
    if ((guint)spec->type >= FM_WORKLOAD_LAST) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s: unknown workload type %d"), what, (int)spec->type);
        return FALSE;
    }
    if (!(spec->rate >= 0 && spec->rate <= FM_WORKLOAD_MAX_RATE)) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s: rate %g is not between 0 and %g page writes per second"),
                    what, spec->rate, FM_WORKLOAD_MAX_RATE);
        return FALSE;
    }
    if (!(spec->zipf_s >= 0 && spec->zipf_s <= 100)) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s: Zipf exponent %g is not between 0 and 100"), what, spec->zipf_s);
        return FALSE;
    }
    if (!(spec->region_start >= 0 && spec->region_start < 1) ||
        !(spec->region_size >= 0 && spec->region_size <= 1)) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s: region start %g and size %g are not fractions of memory"),
                    what, spec->region_start, spec->region_size);
        return FALSE;
    }
    if (!(spec->duration >= 0 && spec->duration < FM_WORKLOAD_MAX_TIME)) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s: duration %g is not a number of seconds >= 0"), what,
                    spec->duration);
        return FALSE;
    }
    return TRUE;
}

/* Checks the parts of the mix @spec: 1 to FM_WORKLOAD_MAX_PHASES simple models, at
 * most one web and one sweep (they keep the Zipf sampler and the cursor in the
 * shared state), no durations, and no rate or region on the mix itself. */
static gboolean
fm_workload_mix_check(const FmWorkloadSpec *spec, GError **error)
{
    guint web = 0, sweep = 0;

    if (spec->n_phases == 0 || spec->phases == NULL ||
        spec->n_phases > FM_WORKLOAD_MAX_PHASES) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("workload: a mix needs 1 to %d parts, not %u"),
                    FM_WORKLOAD_MAX_PHASES, spec->phases ? spec->n_phases : 0);
        return FALSE;
    }
    if (spec->region_start != 0 || spec->region_size != 0 || spec->duration != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG, "%s",
                    _("workload: a mix has no region or duration of its own: its parts have"));
        return FALSE;
    }
    for (guint i = 0; i < spec->n_phases; i++) {
        const FmWorkloadSpec *part = &spec->phases[i];
        g_autofree char *what = g_strdup_printf(_("workload part %u"), i + 1);

        if (!fm_workload_spec_check_one(part, what, error))
            return FALSE;
        if (part->type != FM_WORKLOAD_IDLE && part->type != FM_WORKLOAD_WEB &&
            part->type != FM_WORKLOAD_DB && part->type != FM_WORKLOAD_SWEEP) {
            g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                        _("%s: a part of a mix is idle, web, db or sweep, not %s"), what,
                        fm_workload_type_to_string(part->type));
            return FALSE;
        }
        if (part->duration != 0) {
            g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                        _("%s: the parts of a mix run together, without a duration"), what);
            return FALSE;
        }
        web += part->type == FM_WORKLOAD_WEB;
        sweep += part->type == FM_WORKLOAD_SWEEP;
    }
    if (web > 1 || sweep > 1) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG, "%s",
                    _("workload: a mix has at most one web part and one sweep"));
        return FALSE;
    }
    return TRUE;
}

/* Checks that @spec can be run; see fm-workload.h. */
gboolean
fm_workload_spec_check(const FmWorkloadSpec *spec, GError **error)
{
    g_return_val_if_fail(spec != NULL, FALSE);

    if (!fm_workload_spec_check_one(spec, _("workload"), error))
        return FALSE;
    if (spec->type == FM_WORKLOAD_TRACE) {
        if (spec->trace == NULL || fm_trace_n_intervals(spec->trace) == 0) {
            g_set_error(error, FM_ERROR, FM_ERROR_CONFIG, "%s",
                        _("workload: a trace workload needs a trace of at least one interval"));
            return FALSE;
        }
        return TRUE;
    }
    if (spec->type == FM_WORKLOAD_MIX)
        return fm_workload_mix_check(spec, error);
    if (spec->type != FM_WORKLOAD_PHASES)
        return TRUE;
    if (spec->n_phases == 0 || spec->phases == NULL ||
        spec->n_phases > FM_WORKLOAD_MAX_PHASES) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("workload: a phases workload needs 1 to %d phases, not %u"),
                    FM_WORKLOAD_MAX_PHASES, spec->phases ? spec->n_phases : 0);
        return FALSE;
    }
    for (guint i = 0; i < spec->n_phases; i++) {
        g_autofree char *what = g_strdup_printf(_("workload phase %u"), i + 1);

        if (!fm_workload_spec_check_one(&spec->phases[i], what, error))
            return FALSE;
        if (spec->phases[i].type == FM_WORKLOAD_PHASES) {
            g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                        _("%s: phases cannot be nested"), what);
            return FALSE;
        }
        if (spec->phases[i].type == FM_WORKLOAD_TRACE) {
            g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                        _("%s: a trace cannot be a phase"), what);
            return FALSE;
        }
        if (spec->phases[i].type == FM_WORKLOAD_MIX) {
            g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                        _("%s: a mix cannot be a phase"), what);
            return FALSE;
        }
    }
    return TRUE;
}

/* Initialises @state as the only lane; see fm-workload.h. */
void
fm_workload_state_init(FmWorkloadState *state, const FmWorkloadSpec *spec,
                       guint64 page_count, guint64 seed)
{
    fm_workload_state_init_lane(state, spec, page_count, seed, 0, 1);
}

/* Initialises @state as lane @lane of @lanes; see fm-workload.h. */
void
fm_workload_state_init_lane(FmWorkloadState *state, const FmWorkloadSpec *spec,
                            guint64 page_count, guint64 seed, guint lane, guint lanes)
{
    const FmWorkloadSpec *current;

    g_return_if_fail(state != NULL && spec != NULL && page_count > 0);
    g_return_if_fail(lanes > 0 && lane < lanes);
    g_return_if_fail((guint)spec->type < FM_WORKLOAD_LAST);
    g_return_if_fail(spec->type != FM_WORKLOAD_PHASES ||
                     (spec->n_phases > 0 && spec->phases != NULL));

    memset(state, 0, sizeof(*state));
    state->magic = FM_WORKLOAD_STATE_MAGIC;
    state->lane = lane;
    state->lanes = lanes;
    fm_rand_seed(&state->rand, seed);
    current = fm_workload_current(spec, state);
    if (current != NULL) {
        FmWorkloadRegion region;

        fm_workload_region_init(&region, current, page_count);
        fm_workload_models[spec->type]->init(spec, &region, state);
    }
}

/* Returns @t seconds in ticks, clamped to [0, FM_WORKLOAD_MAX_TIME]. */
static gint64
fm_workload_ticks(double t)
{
    if (!(t > 0))
        return 0;
    if (t > FM_WORKLOAD_MAX_TIME)
        t = FM_WORKLOAD_MAX_TIME;
    return (gint64)llround(t * FM_WORKLOAD_TICKS_PER_SEC);
}

/* Returns the writes earned by @ticks ticks at @per_tick units each, keeping the
 * remainder in state->carry.  Cut into chunks so that no product overflows; integer
 * floors of chunk sums add up exactly to the floor of the whole. */
static guint64
fm_workload_earn(FmWorkloadState *state, guint64 ticks, guint64 per_tick)
{
    guint64 carry = 0;
    guint64 writes = 0;
    guint64 max_chunk;

    if (state->carry > 0 && state->carry < 1)
        carry = (guint64)ldexp(state->carry, FM_WORKLOAD_UNIT_BITS);
    max_chunk = (G_MAXUINT64 - FM_WORKLOAD_UNIT) / per_tick;
    while (ticks > 0) {
        guint64 chunk = MIN(ticks, max_chunk);
        guint64 owed = carry + chunk * per_tick;

        writes += owed >> FM_WORKLOAD_UNIT_BITS;
        carry = owed & (FM_WORKLOAD_UNIT - 1);
        ticks -= chunk;
    }
    state->carry = ldexp((double)carry, -FM_WORKLOAD_UNIT_BITS);
    return writes;
}

/* Moves to the phases whose end has been reached, re-initialising the model state
 * of each new phase. */
static void
fm_workload_switch_phases(const FmWorkloadSpec *spec, FmWorkloadState *state,
                          guint64 page_count)
{
    double end;

    while ((end = fm_workload_phases_end(spec, state)) <= state->now) {
        const FmWorkloadSpec *current;

        state->phase++;
        state->phase_start = end;
        current = fm_workload_phases_current(spec, state);
        if (current != NULL) {
            FmWorkloadRegion region;

            fm_workload_region_init(&region, current, page_count);
            fm_workload_model_phases.init(spec, &region, state);
        }
    }
}

/* Makes the writes of [state->now, @until); see fm-workload.h. */
guint64
fm_workload_run_until(const FmWorkloadSpec *spec, FmWorkloadState *state,
                      guint64 page_count, double until, double speed,
                      FmWorkloadWriteFunc write, gpointer user_data)
{
    const FmWorkloadModel *model;
    guint64 made = 0;

    g_return_val_if_fail(spec != NULL && state != NULL && write != NULL, 0);
    g_return_val_if_fail(state->magic == FM_WORKLOAD_STATE_MAGIC, 0);
    g_return_val_if_fail((guint)spec->type < FM_WORKLOAD_LAST && page_count > 0, 0);

    model = fm_workload_models[spec->type];
    if (!(speed > 0))
        speed = 0;
    if (until > FM_WORKLOAD_MAX_TIME)
        until = FM_WORKLOAD_MAX_TIME;

    for (;;) {
        const FmWorkloadSpec *current;
        double end = INFINITY;
        double step_end;
        gint64 ticks;

        if (spec->type == FM_WORKLOAD_PHASES) {
            fm_workload_switch_phases(spec, state, page_count);
            end = fm_workload_phases_end(spec, state);
        }
        if (!(until > state->now))
            break;
        step_end = MIN(until, end);
        current = fm_workload_current(spec, state);
        ticks = fm_workload_ticks(step_end) - fm_workload_ticks(state->now);
        if (current != NULL && model->advance != NULL && speed > 0 && ticks > 0) {
            /* Model time runs at @speed, capped as the rates are. */
            double units = MIN(speed, FM_WORKLOAD_MAX_RATE * 2 / FM_WORKLOAD_TICKS_PER_SEC) *
                           (double)FM_WORKLOAD_UNIT;
            guint64 per_tick = (guint64)llround(units);
            guint64 ns = per_tick ? fm_workload_earn(state, (guint64)ticks, per_tick) : 0;
            guint64 n = ns ? model->advance(spec, state, page_count, ns, write, user_data) : 0;

            state->writes += n;
            made += n;
        } else if (current != NULL && fm_workload_rate(current) > 0 && speed > 0 &&
                   ticks > 0) {
            double units = fm_workload_rate(current) * speed * (double)FM_WORKLOAD_UNIT /
                           FM_WORKLOAD_TICKS_PER_SEC;
            guint64 per_tick;
            guint64 n;
            FmWorkloadRegion region;

            units = MIN(units, (double)FM_WORKLOAD_MAX_RATE * 2 *
                               (double)FM_WORKLOAD_UNIT / FM_WORKLOAD_TICKS_PER_SEC);
            per_tick = (guint64)llround(units);
            n = per_tick ? fm_workload_earn(state, (guint64)ticks, per_tick) : 0;
            fm_workload_region_init(&region, current, page_count);
            for (guint64 i = 0; i < n; i++)
                write(model->next(spec, &region, state), user_data);
            state->writes += n;
            made += n;
        }
        state->now = step_end;
    }
    return made;
}

/* Returns the full-speed writes of [state->now, @until); see fm-workload.h. */
double
fm_workload_nominal_writes(const FmWorkloadSpec *spec, const FmWorkloadState *state,
                           double until)
{
    double t = state->now;
    double start = state->phase_start;
    double sum = 0;

    g_return_val_if_fail(spec != NULL && state != NULL, 0);

    if (!(until > t))
        return 0;
    if (spec->type != FM_WORKLOAD_PHASES)
        return fm_workload_rate(spec) * (until - t);

    for (guint phase = state->phase; phase < spec->n_phases; phase++) {
        const FmWorkloadSpec *p = &spec->phases[phase];
        double end = p->duration > 0 ? start + p->duration : INFINITY;

        if (MIN(until, end) > t)
            sum += p->rate * (MIN(until, end) - t);
        if (end > until)
            break;
        t = MAX(t, end);
        start = end;
    }
    return sum;
}

/* Rebuilds the derived parts of @state; see fm-workload.h. */
void
fm_workload_state_rederive(FmWorkloadState *state, const FmWorkloadSpec *spec,
                           guint64 page_count)
{
    const FmWorkloadSpec *current = fm_workload_current(spec, state);

    if (current != NULL && current->type == FM_WORKLOAD_MIX) {
        /* the web part's sampler, over the part's region */
        for (guint i = 0; i < current->n_phases; i++) {
            if (current->phases[i].type == FM_WORKLOAD_WEB)
                current = &current->phases[i];
        }
    }
    if (current != NULL && current->type == FM_WORKLOAD_WEB) {
        FmWorkloadRegion region;

        fm_workload_region_init(&region, current, page_count);
        fm_zipf_init(&state->zipf, region.count, current->zipf_s > 0 ? current->zipf_s : 1.0);
    }
}
