/*
 * fm-guest.c: the local backend's guest: a memory region and its mutator threads.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "backend/local/fm-guest.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "backend/local/fm-pagemap.h"
#include "backend/local/fm-uffd.h"
#include "trace/fm-trace.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* Linux 5.17 names anonymous memory in /proc/PID/maps; Debian 12's headers have it,
 * older ones may not.  Naming is cosmetic (and keeps neighbours from merging). */
#ifndef PR_SET_VMA
# define PR_SET_VMA 0x53564d41
#endif
#ifndef PR_SET_VMA_ANON_NAME
# define PR_SET_VMA_ANON_NAME 0
#endif

/* Linux 5.14; older kernels say EINVAL and the pages fault in one by one instead. */
#ifndef MADV_POPULATE_WRITE
# define MADV_POPULATE_WRITE 23
#endif

/* How long a mutator sleeps between steps: short enough that its writes are spread
 * evenly, long enough that an idle guest costs nothing. */
#define FM_GUEST_SLEEP_NS 1000000
#define FM_GUEST_THREAD_SEED_STEP G_GUINT64_CONSTANT(0x9e3779b97f4a7c15)
/* Beyond this the workload clock saturates (FM_WORKLOAD_MAX_TIME in fm-workload.c). */
#define FM_GUEST_MAX_TIME 9e9

/* The header must fit in the smallest page size fragmig accepts. */
G_STATIC_ASSERT(sizeof(FmGuestHeader) <= 4096);
G_STATIC_ASSERT(sizeof(FmGuestSpec) == 48);
G_STATIC_ASSERT(G_ALIGNOF(FmGuestHeader) <= 8);

typedef struct _FmGuestMutator FmGuestMutator;

struct _FmGuestMutator {
    FmGuest *guest;
    guint index;
    GThread *thread;
    FmGuestThread *slot;            /* in the header */
    /* The thread's share of the workload: the guest's spec at rate / n_threads. */
    FmWorkloadSpec spec;
    FmWorkloadSpec phases[FM_WORKLOAD_MAX_PHASES];
    guint64 writes;                 /* the thread's counter; mirrors slot->writes */
};

struct _FmGuest {
    guint8 *map;                    /* what to munmap: region and guard pages */
    gsize map_len;
    guint8 *region;
    gsize len;
    gsize page_size;
    guint64 page_count;
    FmGuestHeader *header;          /* == region */
    FmUffd *uffd;                   /* NULL when untracked */
    FmTrace *trace;                 /* a trace workload's trace (owned), else NULL */
    FmWorkloadSpec spec;            /* the header's spec, phases in @phases, trace
                                     * borrowed from @trace */
    FmWorkloadSpec phases[FM_WORKLOAD_MAX_PHASES];
    FmGuestMutator mutators[FM_GUEST_MAX_THREADS];
    gint running;                   /* atomic: mutators keep going while set */
    gboolean started;               /* threads exist (to be joined) */
};

/* Returns CLOCK_MONOTONIC in nanoseconds. */
static gint64
fm_guest_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (gint64) ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec;
}

/* ---- the header ---- */

/* Copies @spec into the plain-data @out (no phases). */
static void
fm_guest_spec_store(FmGuestSpec *out, const FmWorkloadSpec *spec)
{
    memset(out, 0, sizeof(*out));
    out->type = (guint32) spec->type;
    out->n_phases = spec->type == FM_WORKLOAD_PHASES || spec->type == FM_WORKLOAD_MIX
                    ? spec->n_phases : 0;
    out->rate = spec->rate;
    out->zipf_s = spec->zipf_s;
    out->region_start = spec->region_start;
    out->region_size = spec->region_size;
    out->duration = spec->duration;
}

/* Fills @spec from the plain-data @in; phases are left to the caller. */
static void
fm_guest_spec_load(FmWorkloadSpec *spec, const FmGuestSpec *in)
{
    memset(spec, 0, sizeof(*spec));
    spec->type = (FmWorkloadType) in->type;
    spec->rate = in->rate;
    spec->zipf_s = in->zipf_s;
    spec->region_start = in->region_start;
    spec->region_size = in->region_size;
    spec->duration = in->duration;
}

/* Fills @spec from @header, phases into @phases; see fm-guest.h. */
void
fm_guest_header_get_spec(const FmGuestHeader *header, FmWorkloadSpec *spec,
                         FmWorkloadSpec *phases)
{
    guint n;

    g_return_if_fail(header != NULL && spec != NULL && phases != NULL);

    fm_guest_spec_load(spec, &header->spec);
    n = MIN(header->spec.n_phases, (guint32) FM_WORKLOAD_MAX_PHASES);
    if ((spec->type == FM_WORKLOAD_PHASES || spec->type == FM_WORKLOAD_MIX) && n > 0) {
        for (guint i = 0; i < n; i++)
            fm_guest_spec_load(&phases[i], &header->phases[i]);
        spec->n_phases = n;
        spec->phases = phases;
    }
}

/* Returns TRUE if the @len bytes at @p are all zero. */
static gboolean
fm_guest_all_zero(const void *p, gsize len)
{
    const guint8 *b = p;

    for (gsize i = 0; i < len; i++) {
        if (b[i] != 0)
            return FALSE;
    }
    return TRUE;
}

/* Sets a PROTOCOL error about the guest header; returns FALSE. */
static gboolean G_GNUC_PRINTF(2, 3)
fm_guest_bad_header(GError **error, const char *format, ...)
{
    g_autofree char *what = NULL;
    va_list ap;

    va_start(ap, format);
    what = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL, _("invalid guest header: %s"), what);
    return FALSE;
}

/* Checks the place of a trace's encoding in the region of @header, whose page
 * size and count are checked; returns FALSE with @error set. */
static gboolean
fm_guest_header_check_trace(const FmGuestHeader *header, GError **error)
{
    guint64 pages;

    if (header->spec.type != FM_WORKLOAD_TRACE) {
        if (header->trace_page != 0 || header->trace_bytes != 0)
            return fm_guest_bad_header(error, _("trace fields are set for a workload of type %s"),
                                       fm_workload_type_to_string(header->spec.type));
        return TRUE;
    }
    /* The encoding fills the last pages, after page 0 at least. */
    if (header->trace_bytes < FM_TRACE_HEADER_SIZE)
        return fm_guest_bad_header(error, _("trace of %llu bytes is shorter than a trace header (%d bytes)"),
                                   (unsigned long long) header->trace_bytes,
                                   FM_TRACE_HEADER_SIZE);
    if (header->trace_bytes > (header->page_count - 1) * header->page_size)
        return fm_guest_bad_header(error, _("trace of %llu bytes does not fit between the header and the end of %llu pages"),
                                   (unsigned long long) header->trace_bytes,
                                   (unsigned long long) header->page_count);
    pages = (header->trace_bytes + header->page_size - 1) / header->page_size;
    if (header->trace_page != header->page_count - pages)
        return fm_guest_bad_header(error, _("trace at page %llu is not in the last %llu pages of %llu"),
                                   (unsigned long long) header->trace_page,
                                   (unsigned long long) pages,
                                   (unsigned long long) header->page_count);
    return TRUE;
}

/* Checks the fixed fields of @header; see fm-guest.h. */
gboolean
fm_guest_header_check(const FmGuestHeader *header, guint64 region_len, GError **error)
{
    gsize system_page = (gsize) sysconf(_SC_PAGESIZE);
    FmWorkloadSpec spec;
    FmWorkloadSpec phases[FM_WORKLOAD_MAX_PHASES];
    g_autoptr(GError) local = NULL;
    guint n_phases;

    g_return_val_if_fail(header != NULL, FALSE);

    if (header->magic != FM_GUEST_MAGIC)
        return fm_guest_bad_header(error, _("magic 0x%016llx is not \"FMGUEST1\""),
                                   (unsigned long long) header->magic);
    if (header->version != FM_GUEST_VERSION)
        return fm_guest_bad_header(error, _("version %u is not supported (expected %u)"),
                                   header->version, (guint) FM_GUEST_VERSION);
    if (header->header_size != sizeof(FmGuestHeader))
        return fm_guest_bad_header(error, _("header size %u is not %zu (a different build of fragmig?)"),
                                   header->header_size, sizeof(FmGuestHeader));
    if (header->page_size != system_page)
        return fm_guest_bad_header(error, _("page size %llu is not the system page size %zu"),
                                   (unsigned long long) header->page_size, system_page);
    if (region_len % system_page != 0 || header->page_count != region_len / system_page)
        return fm_guest_bad_header(error, _("page count %llu does not match the memory size of %llu bytes"),
                                   (unsigned long long) header->page_count,
                                   (unsigned long long) region_len);
    if (header->page_count < 2)
        return fm_guest_bad_header(error, _("page count %llu is less than 2"),
                                   (unsigned long long) header->page_count);
    if (header->n_threads < 1 || header->n_threads > FM_GUEST_MAX_THREADS)
        return fm_guest_bad_header(error, _("thread count %u is not between 1 and %d"),
                                   header->n_threads, FM_GUEST_MAX_THREADS);
    if (header->throttle > 100)
        return fm_guest_bad_header(error, _("throttle %u is more than 100 %%"),
                                   header->throttle);
    if (header->handover != 0 && header->handover != FM_GUEST_HANDED_OVER)
        return fm_guest_bad_header(error, _("handover mark 0x%016llx is neither 0 nor the mark"),
                                   (unsigned long long) header->handover);
    if (!fm_guest_all_zero(header->reserved, sizeof(header->reserved)))
        return fm_guest_bad_header(error, "%s", _("reserved fields are not zero"));

    if (header->spec.type >= FM_WORKLOAD_LAST)
        return fm_guest_bad_header(error, _("unknown workload type %u"), header->spec.type);
    n_phases = header->spec.n_phases;
    if (header->spec.type == FM_WORKLOAD_PHASES || header->spec.type == FM_WORKLOAD_MIX) {
        if (n_phases < 1 || n_phases > FM_WORKLOAD_MAX_PHASES)
            return fm_guest_bad_header(error, _("%u phases (a phases workload has 1 to %d)"),
                                       n_phases, FM_WORKLOAD_MAX_PHASES);
    } else if (n_phases != 0) {
        return fm_guest_bad_header(error, _("%u phases for a workload of type %s"),
                                   n_phases, fm_workload_type_to_string(header->spec.type));
    }
    for (guint i = 0; i < n_phases; i++) {
        if (header->phases[i].type >= FM_WORKLOAD_LAST)
            return fm_guest_bad_header(error, _("phase %u: unknown workload type %u"),
                                       i + 1, header->phases[i].type);
        if (header->phases[i].n_phases != 0)
            return fm_guest_bad_header(error, _("phase %u: phases cannot be nested"), i + 1);
    }
    if (!fm_guest_all_zero(&header->phases[n_phases],
                           (FM_WORKLOAD_MAX_PHASES - n_phases) * sizeof(FmGuestSpec)))
        return fm_guest_bad_header(error, "%s", _("unused phase entries are not zero"));

    if (!fm_guest_header_check_trace(header, error))
        return FALSE;

    fm_guest_header_get_spec(header, &spec, phases);
    /* A trace spec's trace is in guest memory, which fm_guest_adopt() decodes; here
     * its plain fields obey the rules of every model. */
    if (spec.type == FM_WORKLOAD_TRACE)
        spec.type = FM_WORKLOAD_IDLE;
    if (!fm_workload_spec_check(&spec, &local))
        return fm_guest_bad_header(error, "%s", local->message);

    for (guint i = 0; i < FM_GUEST_MAX_THREADS; i++) {
        const FmGuestThread *t = &header->threads[i];

        if (i >= header->n_threads) {
            if (!fm_guest_all_zero(t, sizeof(*t)))
                return fm_guest_bad_header(error, _("unused thread slot %u is not zero"), i);
            continue;
        }
        if (t->reserved != 0)
            return fm_guest_bad_header(error, _("thread %u: reserved field is not zero"), i);
    }
    return TRUE;
}

/* Checks (and where derived, rebuilds) the thread states of @header, whose fixed
 * fields fm_guest_header_check() accepted.  Returns FALSE with @error set. */
static gboolean
fm_guest_header_check_states(FmGuestHeader *header, const FmWorkloadSpec *spec,
                             GError **error)
{
    for (guint i = 0; i < header->n_threads; i++) {
        FmGuestThread *t = &header->threads[i];
        FmWorkloadState *st;
        guint32 max_phase = spec->type == FM_WORKLOAD_PHASES ? spec->n_phases : 0;

        if (t->current > 1)
            return fm_guest_bad_header(error, _("thread %u: state index %u is not 0 or 1"),
                                       i, t->current);
        st = &t->state[t->current];
        if (st->magic != FM_WORKLOAD_STATE_MAGIC)
            return fm_guest_bad_header(error, _("thread %u: workload state has a bad magic 0x%08x"),
                                       i, st->magic);
        if (st->phase > max_phase)
            return fm_guest_bad_header(error, _("thread %u: phase %u is beyond the last phase"),
                                       i, st->phase);
        if (!(st->now >= 0 && st->now < FM_GUEST_MAX_TIME) ||
            !(st->phase_start >= 0 && st->phase_start <= st->now))
            return fm_guest_bad_header(error, _("thread %u: workload time %g (phase start %g) is out of range"),
                                       i, st->now, st->phase_start);
        if (!(st->carry >= 0 && st->carry < 1))
            return fm_guest_bad_header(error, _("thread %u: carried work %g is not in [0, 1)"),
                                       i, st->carry);
        if (st->lanes != header->n_threads || st->lane != i)
            return fm_guest_bad_header(error, _("thread %u: workload lane %u of %u does not match the thread"),
                                       i, st->lane, st->lanes);
        if (!(t->nominal >= 0 && isfinite(t->nominal)))
            return fm_guest_bad_header(error, _("thread %u: nominal work %g is out of range"),
                                       i, t->nominal);
        /* xoshiro never leaves the all-zero state, and bounded draws from it loop
         * for ever. */
        if (fm_guest_all_zero(&st->rand, sizeof(st->rand)))
            return fm_guest_bad_header(error, _("thread %u: random generator state is zero"), i);

        if (spec->type == FM_WORKLOAD_TRACE) {
            const FmTrace *trace = spec->trace;
            const FmTraceInterval *iv;
            guint64 start;

            if (st->cursor >= fm_trace_n_intervals(trace))
                return fm_guest_bad_header(error, _("thread %u: trace interval %llu is beyond the trace's %llu"),
                                           i, (unsigned long long) st->cursor,
                                           (unsigned long long) fm_trace_n_intervals(trace));
            iv = fm_trace_interval(trace, st->cursor);
            start = st->cursor > 0 ? fm_trace_interval(trace, st->cursor - 1)->time_ns : 0;
            if (st->trace_time < start || st->trace_time >= iv->time_ns)
                return fm_guest_bad_header(error, _("thread %u: trace time %llu ns is outside interval %llu (%llu to %llu ns)"),
                                           i, (unsigned long long) st->trace_time,
                                           (unsigned long long) st->cursor,
                                           (unsigned long long) start,
                                           (unsigned long long) iv->time_ns);
            if (st->trace_page < iv->n_pages &&
                (st->trace_page < i || (st->trace_page - i) % header->n_threads != 0))
                return fm_guest_bad_header(error, _("thread %u: trace page %llu is not one of its lane's"),
                                           i, (unsigned long long) st->trace_page);
        }

        fm_workload_state_rederive(st, spec, header->page_count);
    }
    return TRUE;
}

/* Returns the sum of the threads' write counters. */
guint64
fm_guest_header_writes(const FmGuestHeader *header)
{
    guint64 sum = 0;

    g_return_val_if_fail(header != NULL, 0);
    for (guint i = 0; i < MIN(header->n_threads, (guint32) FM_GUEST_MAX_THREADS); i++)
        sum += __atomic_load_n(&header->threads[i].writes, __ATOMIC_RELAXED);
    return sum;
}

/* Returns the sum of the threads' nominal writes. */
double
fm_guest_header_nominal(const FmGuestHeader *header)
{
    double sum = 0;

    g_return_val_if_fail(header != NULL, 0);
    for (guint i = 0; i < MIN(header->n_threads, (guint32) FM_GUEST_MAX_THREADS); i++) {
        double v;

        __atomic_load(&header->threads[i].nominal, &v, __ATOMIC_RELAXED);
        sum += v;
    }
    return sum;
}

/* ---- the mutators ---- */

/* Makes one page write for the mutator @data: bumps its counter and stores it into
 * a word of page @pfn that moves with the counter. */
static void
fm_guest_write(guint64 pfn, gpointer data)
{
    FmGuestMutator *m = data;
    FmGuest *guest = m->guest;
    guint64 n = ++m->writes;
    guint64 *page;
    gsize word;

    __atomic_store_n(&m->slot->writes, n, __ATOMIC_RELAXED);
    if (pfn == 0 || pfn >= guest->page_count)
        return;     /* page 0 is the header: the counter just changed it */
    page = (guint64 *) (guest->region + pfn * guest->page_size);
    word = (gsize) ((n * 7 + m->index * 61) % (guest->page_size / sizeof(guint64)));
    __atomic_store_n(&page[word], n ^ ((guint64) m->index << 56), __ATOMIC_RELAXED);
}

/* The body of a mutator thread; returns NULL. */
static gpointer
fm_guest_mutator_main(gpointer data)
{
    FmGuestMutator *m = data;
    FmGuest *guest = m->guest;
    FmGuestThread *slot = m->slot;
    guint32 current = slot->current;
    FmWorkloadState state = slot->state[current];
    double nominal = slot->nominal;
    const gint64 max_step = (gint64) (FM_GUEST_MAX_STEP * 1e9);
    const struct timespec nap = { 0, FM_GUEST_SLEEP_NS };
    gint64 last = fm_guest_now_ns();

    m->writes = slot->writes;
    while (g_atomic_int_get(&guest->running)) {
        gint64 now;
        gint64 dt;
        guint32 throttle;
        double speed;
        double until;

        nanosleep(&nap, NULL);
        now = fm_guest_now_ns();
        /* A longer gap means the process was stopped or starved: no catching up. */
        dt = MIN(now - last, max_step);
        last = now;
        if (dt <= 0)
            continue;
        /* Handed over: another copy may run; this one must not change, even if
         * someone continues the stopped process. */
        if (__atomic_load_n(&guest->header->handover, __ATOMIC_ACQUIRE) != 0)
            continue;

        /* The source writes the throttle from outside: never trust it blindly. */
        throttle = MIN(__atomic_load_n(&guest->header->throttle, __ATOMIC_RELAXED), 100u);
        speed = 1.0 - throttle / 100.0;
        until = state.now + (double) dt / 1e9;
        nominal += fm_workload_nominal_writes(&m->spec, &state, until);
        fm_workload_run_until(&m->spec, &state, guest->page_count, until, speed,
                              fm_guest_write, m);

        /* Publish: fill the spare copy, then flip the index with one store, so that
         * a stop at any instruction leaves a complete state behind the index. */
        slot->state[current ^ 1] = state;
        __atomic_store(&slot->nominal, &nominal, __ATOMIC_RELAXED);
        current ^= 1;
        __atomic_store_n(&slot->current, current, __ATOMIC_RELEASE);
    }
    return NULL;
}

/* Prepares mutator @i of @guest: its slot and its share of the workload. */
static void
fm_guest_mutator_init(FmGuest *guest, guint i)
{
    FmGuestMutator *m = &guest->mutators[i];
    double share = 1.0 / guest->header->n_threads;

    memset(m, 0, sizeof(*m));
    m->guest = guest;
    m->index = i;
    m->slot = &guest->header->threads[i];
    m->spec = guest->spec;
    m->spec.rate *= share;
    if (guest->spec.type == FM_WORKLOAD_PHASES || guest->spec.type == FM_WORKLOAD_MIX) {
        /* a mix's parts share the thread's rate alike */
        for (guint p = 0; p < guest->spec.n_phases; p++) {
            m->phases[p] = guest->phases[p];
            m->phases[p].rate *= share;
        }
        m->spec.phases = m->phases;
    }
}

/* ---- the guest ---- */

/* Registers @guest's region for tracking, write-protected if @arm (else every page
 * reads as written until a clearing harvest); soft-dirty stands in where the kernel
 * has no async write-protect.  Returns FALSE with @error set. */
static gboolean
fm_guest_track(FmGuest *guest, gboolean arm, GError **error)
{
    g_autoptr(GError) local = NULL;

    guest->uffd = arm ? fm_uffd_register(guest->region, guest->len, &local)
                      : fm_uffd_register_unarmed(guest->region, guest->len, &local);
    if (guest->uffd)
        return TRUE;
    if (g_error_matches(local, FM_ERROR, FM_ERROR_UNSUPPORTED) &&
        fm_pagemap_soft_dirty_available()) {
        g_debug("guest runs without userfaultfd tracking (%s); the source will use soft-dirty",
                local->message);
        return TRUE;
    }
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
}

/* Keeps the region in small pages: soft-dirty marks a whole huge page dirty on any
 * write to it, and write-protect splits huge pages on their first write, mid-
 * migration; a hypervisor's log-dirty tracks small pages too.  Best effort. */
static void
fm_guest_madvise(FmGuest *guest)
{
    (void) madvise(guest->region, guest->len, MADV_NOHUGEPAGE);
}

/* Fills in what @guest derives from its (checked) header. */
static void
fm_guest_setup(FmGuest *guest)
{
    guest->header = (FmGuestHeader *) guest->region;
    guest->page_size = (gsize) guest->header->page_size;
    guest->page_count = guest->header->page_count;
    fm_guest_header_get_spec(guest->header, &guest->spec, guest->phases);
    guest->spec.trace = guest->trace;
    for (guint i = 0; i < guest->header->n_threads; i++)
        fm_guest_mutator_init(guest, i);
}

/* Returns a new guest; see fm-guest.h. */
FmGuest *
fm_guest_new(guint64 memory, gsize page_size, const FmWorkloadSpec *spec, guint threads,
             guint64 seed, GError **error)
{
    gsize system_page = (gsize) sysconf(_SC_PAGESIZE);
    g_autoptr(FmGuest) guest = NULL;
    g_autoptr(GBytes) encoded = NULL;
    guint64 trace_pages = 0;
    FmGuestHeader *h;
    guint64 count;

    g_return_val_if_fail(spec != NULL, NULL);

    if (page_size != system_page) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("page size %zu is not the system page size %zu"), page_size, system_page);
        return NULL;
    }
    if (memory == 0 || memory % page_size != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("guest memory of %llu bytes is not a positive multiple of the page size (%zu bytes)"),
                    (unsigned long long) memory, page_size);
        return NULL;
    }
    count = memory / page_size;
    if (count < 2) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("guest memory of %llu bytes is less than 2 pages"),
                    (unsigned long long) memory);
        return NULL;
    }
    if (memory > G_MAXSIZE / 2) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("guest memory of %llu bytes is too large"), (unsigned long long) memory);
        return NULL;
    }
    if (threads < 1 || threads > FM_GUEST_MAX_THREADS) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("thread count %u is not between 1 and %d"), threads, FM_GUEST_MAX_THREADS);
        return NULL;
    }
    if (!fm_workload_spec_check(spec, error))
        return NULL;
    if (spec->type == FM_WORKLOAD_TRACE) {
        encoded = fm_trace_encode(spec->trace);
        trace_pages = (g_bytes_get_size(encoded) + page_size - 1) / page_size;
        if (fm_trace_page_size(spec->trace) != page_size) {
            g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                        _("the trace's pages are %u bytes, the guest's %zu"),
                        fm_trace_page_size(spec->trace), page_size);
            return NULL;
        }
        if (count - 1 < trace_pages ||
            count - trace_pages < MAX(fm_trace_page_count(spec->trace), 1)) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("guest memory of %llu bytes cannot hold the trace's %llu pages and the %zu bytes of its encoding: it needs at least %llu bytes"),
                        (unsigned long long) memory,
                        (unsigned long long) fm_trace_page_count(spec->trace),
                        g_bytes_get_size(encoded),
                        (unsigned long long) fm_guest_memory_for_trace(spec->trace));
            return NULL;
        }
    }

    guest = g_new0(FmGuest, 1);
    guest->map_len = (gsize) memory + 2 * page_size;
    guest->map = mmap(NULL, guest->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guest->map == MAP_FAILED) {
        guest->map = NULL;
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("cannot map %llu bytes of guest memory: %s"),
                    (unsigned long long) memory, g_strerror(errno));
        return NULL;
    }
    guest->region = guest->map + page_size;
    guest->len = (gsize) memory;
    if (mprotect(guest->region, guest->len, PROT_READ | PROT_WRITE) < 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("cannot map %llu bytes of guest memory: %s"),
                    (unsigned long long) memory, g_strerror(errno));
        return NULL;
    }
    (void) prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long) guest->region,
                 (unsigned long) guest->len, (unsigned long) "fragmig-guest");
    fm_guest_madvise(guest);
    /* Faulting everything in at once is 2.5 times faster than page by page (1 GiB:
     * 0.4 s against 1 s, measured). */
    (void) madvise(guest->region, guest->len, MADV_POPULATE_WRITE);

    for (guint64 p = 0; p < count; p++) {
        guint64 *words = (guint64 *) (guest->region + p * page_size);

        for (gsize w = 0; w < page_size / sizeof(guint64); w++)
            words[w] = FM_GUEST_FILL | p << 16 | w;
    }

    h = (FmGuestHeader *) guest->region;
    memset(h, 0, sizeof(*h));
    h->magic = FM_GUEST_MAGIC;
    h->version = FM_GUEST_VERSION;
    h->header_size = sizeof(FmGuestHeader);
    h->page_size = page_size;
    h->page_count = count;
    h->seed = seed;
    h->n_threads = threads;
    fm_guest_spec_store(&h->spec, spec);
    for (guint i = 0; i < h->spec.n_phases; i++)
        fm_guest_spec_store(&h->phases[i], &spec->phases[i]);
    if (encoded) {
        guint8 *at = guest->region + (count - trace_pages) * page_size;

        h->trace_page = count - trace_pages;
        h->trace_bytes = g_bytes_get_size(encoded);
        memset(at, 0, trace_pages * page_size);
        memcpy(at, g_bytes_get_data(encoded, NULL), g_bytes_get_size(encoded));
        guest->trace = fm_trace_ref(spec->trace);
    }
    fm_guest_setup(guest);
    for (guint i = 0; i < threads; i++) {
        FmGuestMutator *m = &guest->mutators[i];

        m->slot->seed = seed + i * FM_GUEST_THREAD_SEED_STEP;
        fm_workload_state_init_lane(&m->slot->state[0], &m->spec, count, m->slot->seed,
                                    i, threads);
    }

    if (!fm_guest_track(guest, TRUE, error))
        return NULL;
    return g_steal_pointer(&guest);
}

/* Returns the memory a guest needs to replay @trace; see fm-guest.h. */
guint64
fm_guest_memory_for_trace(const FmTrace *trace)
{
    g_autoptr(GBytes) encoded = NULL;
    guint64 page;

    g_return_val_if_fail(trace != NULL, 0);
    encoded = fm_trace_encode(trace);
    page = fm_trace_page_size(trace);
    /* page 0 is the header, which the trace's pfns may include: it is never the
     * encoding's */
    return (MAX(fm_trace_page_count(trace), 1) +
            (g_bytes_get_size(encoded) + page - 1) / page) * page;
}

/* Decodes the trace in the region of @header (whose fixed fields are checked) and
 * checks that it fits there; returns it, or NULL with @error set. */
static FmTrace *
fm_guest_load_trace(const FmGuestHeader *header, const guint8 *region, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(FmTrace) trace = NULL;

    trace = fm_trace_load_bytes(region + header->trace_page * header->page_size,
                                header->trace_bytes, &local);
    if (trace == NULL) {
        fm_guest_bad_header(error, _("trace: %s"), local->message);
        return NULL;
    }
    if (fm_trace_page_size(trace) != header->page_size ||
        fm_trace_page_count(trace) > header->trace_page) {
        fm_guest_bad_header(error, _("trace of %llu pages of %u bytes does not fit below its encoding at page %llu"),
                            (unsigned long long) fm_trace_page_count(trace),
                            fm_trace_page_size(trace),
                            (unsigned long long) header->trace_page);
        return NULL;
    }
    if (fm_trace_n_intervals(trace) == 0) {
        fm_guest_bad_header(error, "%s", _("trace: the trace has no interval to replay"));
        return NULL;
    }
    return g_steal_pointer(&trace);
}

/* Takes over a migrated region; see fm-guest.h. */
FmGuest *
fm_guest_adopt(void *region, gsize len, GError **error)
{
    gsize system_page = (gsize) sysconf(_SC_PAGESIZE);
    FmGuestHeader *header = region;
    FmWorkloadSpec spec;
    FmWorkloadSpec phases[FM_WORKLOAD_MAX_PHASES];
    g_autoptr(FmGuest) guest = NULL;
    g_autoptr(FmTrace) trace = NULL;

    g_return_val_if_fail(region != NULL, NULL);
    g_return_val_if_fail((guintptr) region % system_page == 0, NULL);

    if (len < system_page || len % system_page != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("invalid guest header: guest memory of %zu bytes is not a whole number of pages"),
                    len);
        return NULL;
    }
    if (!fm_guest_header_check(header, len, error))
        return NULL;
    fm_guest_header_get_spec(header, &spec, phases);
    if (spec.type == FM_WORKLOAD_TRACE) {
        trace = fm_guest_load_trace(header, region, error);
        if (trace == NULL)
            return NULL;
        spec.trace = trace;
    }
    if (!fm_guest_header_check_states(header, &spec, error))
        return NULL;

    guest = g_new0(FmGuest, 1);
    guest->region = region;
    guest->len = len;
    guest->trace = g_steal_pointer(&trace);
    fm_guest_setup(guest);
    fm_guest_madvise(guest);
    /* unarmed: the guest resumes sooner (this is in the downtime), and what it
     * brought counts as written, which is the truth for the next migration too */
    if (!fm_guest_track(guest, FALSE, error)) {
        guest->region = NULL;   /* the caller keeps it */
        return NULL;
    }
    guest->map = region;
    guest->map_len = len;
    return g_steal_pointer(&guest);
}

/* Starts the mutators; see fm-guest.h. */
gboolean
fm_guest_start(FmGuest *guest, GError **error)
{
    g_return_val_if_fail(guest != NULL, FALSE);

    if (guest->started)
        return TRUE;
    g_atomic_int_set(&guest->running, 1);
    for (guint i = 0; i < guest->header->n_threads; i++) {
        FmGuestMutator *m = &guest->mutators[i];
        g_autofree char *name = g_strdup_printf("fm-mutator-%u", i);
        g_autoptr(GError) local = NULL;

        m->thread = g_thread_try_new(name, fm_guest_mutator_main, m, &local);
        if (m->thread == NULL) {
            g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                        _("cannot start guest mutator thread %u: %s"), i, local->message);
            guest->started = TRUE;
            fm_guest_stop(guest);
            return FALSE;
        }
    }
    guest->started = TRUE;
    return TRUE;
}

/* Stops and joins the mutators. */
void
fm_guest_stop(FmGuest *guest)
{
    g_return_if_fail(guest != NULL);

    if (!guest->started)
        return;
    g_atomic_int_set(&guest->running, 0);
    for (guint i = 0; i < FM_GUEST_MAX_THREADS; i++) {
        if (guest->mutators[i].thread)
            g_thread_join(g_steal_pointer(&guest->mutators[i].thread));
    }
    guest->started = FALSE;
}

/* Returns the sum of the write counters. */
guint64
fm_guest_writes(const FmGuest *guest)
{
    g_return_val_if_fail(guest != NULL, 0);
    return fm_guest_header_writes(guest->header);
}

/* Returns the region (borrowed). */
void *
fm_guest_region(const FmGuest *guest)
{
    g_return_val_if_fail(guest != NULL, NULL);
    return guest->region;
}

/* Returns the region's length in bytes. */
gsize
fm_guest_region_len(const FmGuest *guest)
{
    g_return_val_if_fail(guest != NULL, 0);
    return guest->len;
}

/* Returns the live header (borrowed). */
const FmGuestHeader *
fm_guest_header(const FmGuest *guest)
{
    g_return_val_if_fail(guest != NULL, NULL);
    return guest->header;
}

/* Returns TRUE if userfaultfd tracks the region. */
gboolean
fm_guest_is_tracked(const FmGuest *guest)
{
    g_return_val_if_fail(guest != NULL, FALSE);
    return guest->uffd != NULL;
}

/* Drops userfaultfd tracking. */
void
fm_guest_untrack(FmGuest *guest)
{
    g_return_if_fail(guest != NULL);
    g_clear_pointer(&guest->uffd, fm_uffd_free);
}

/* Stops the mutators and unmaps the region; NULL is accepted. */
void
fm_guest_free(FmGuest *guest)
{
    if (guest == NULL)
        return;
    fm_guest_stop(guest);
    fm_uffd_free(guest->uffd);
    if (guest->map)
        munmap(guest->map, guest->map_len);
    fm_trace_unref(guest->trace);
    g_free(guest);
}
