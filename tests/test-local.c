/*
 * test-local.c: the local guest (fm-guest) and the local backend (fm-local).
 *
 * A forked child plays the guest process: it creates an FmGuest of 64 MiB running a
 * db workload and obeys commands from a socketpair (start / stop the mutators, report
 * the write counter, the digest of its memory or the bytes of some pages, exit).  The
 * parent attaches to it by pid with fm_local_backend_new(), as the migration source
 * does, and checks what the backend sees against what the child reports.  The guest
 * header and adoption tests run fm_guest in this process.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "backend/local/fm-guest.h"
#include "backend/local/fm-local.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "backend/local/fm-uffd.h"
#include "workload/fm-workload-priv.h"
#include "engine/fm-sink.h"
#include "stream/fm-stream-format.h"
#include "tests/fm-test-util.h"
#include "util/fm-bitmap.h"
#include "util/fm-digest.h"
#include "util/fm-error.h"

#define GUEST_BYTES (64u << 20)
#define GUEST_RATE 20000.0          /* page writes per second */
#define GUEST_REGION_START 0.5
#define GUEST_REGION_SIZE 0.1

typedef enum {
    CMD_START = 1,      /* fm_guest_start() */
    CMD_STOP,           /* fm_guest_stop() */
    CMD_WRITES,         /* reply: guint64 fm_guest_writes() */
    CMD_DIGEST,         /* reply: the digest of the region */
    CMD_PAGES,          /* n guint64 pfns follow; reply: their bytes */
    CMD_EXIT,
} Cmd;

typedef enum {
    CHILD_START = 1 << 0,       /* start the mutators at once */
    CHILD_UNTRACK = 1 << 1,     /* drop userfaultfd tracking (soft-dirty case) */
} ChildFlags;

typedef struct {
    guint64 addr;
    gint32 status;              /* 0, or the GError code of a failed fm_guest_new() */
    char message[400];
} Hello;

typedef struct {
    pid_t pid;
    int sock;
    guint64 addr;
    gsize page_size;
    guint64 n_pages;
    gboolean reaped;
} Child;

/* Returns the workload every child runs. */
static FmWorkloadSpec
child_spec(void)
{
    FmWorkloadSpec spec = {
        .type = FM_WORKLOAD_DB,
        .rate = GUEST_RATE,
        .region_start = GUEST_REGION_START,
        .region_size = GUEST_REGION_SIZE,
    };

    return spec;
}

/* The child's command loop; never returns. */
static void G_GNUC_NORETURN
child_main(int sock, ChildFlags flags)
{
    g_autoptr(GError) error = NULL;
    FmWorkloadSpec spec = child_spec();
    gsize page = (gsize) sysconf(_SC_PAGESIZE);
    Hello hello = { 0 };
    FmGuest *guest;

    guest = fm_guest_new(GUEST_BYTES, page, &spec, 2, 42, &error);
    if (!guest) {
        hello.status = error->code ? error->code : -1;
        g_strlcpy(hello.message, error->message, sizeof(hello.message));
        fm_test_io_full(sock, &hello, sizeof(hello), TRUE);
        _exit(0);
    }
    if (flags & CHILD_UNTRACK)
        fm_guest_untrack(guest);
    if ((flags & CHILD_START) && !fm_guest_start(guest, NULL))
        _exit(2);
    hello.addr = (guint64) (guintptr) fm_guest_region(guest);
    if (!fm_test_io_full(sock, &hello, sizeof(hello), TRUE))
        _exit(3);

    for (;;) {
        FmTestCmdHeader h;
        gint32 status = 0;

        if (!fm_test_child_next_cmd(sock, &h))
            _exit(0);   /* the parent is gone */
        switch (h.cmd) {
        case CMD_START:
            status = fm_guest_start(guest, NULL) ? 0 : 1;
            fm_test_io_full(sock, &status, sizeof(status), TRUE);
            break;
        case CMD_STOP:
            fm_guest_stop(guest);
            fm_test_io_full(sock, &status, sizeof(status), TRUE);
            break;
        case CMD_WRITES: {
            guint64 w = fm_guest_writes(guest);

            fm_test_io_full(sock, &status, sizeof(status), TRUE);
            fm_test_io_full(sock, &w, sizeof(w), TRUE);
            break;
        }
        case CMD_DIGEST: {
            guint8 d[FM_DIGEST_SIZE];

            fm_digest_compute(fm_guest_region(guest), fm_guest_region_len(guest), d);
            fm_test_io_full(sock, &status, sizeof(status), TRUE);
            fm_test_io_full(sock, d, sizeof(d), TRUE);
            break;
        }
        case CMD_PAGES: {
            g_autofree guint64 *pfns = g_new(guint64, h.n + 1);
            const guint8 *region = fm_guest_region(guest);

            if (!fm_test_io_full(sock, pfns, h.n * sizeof(guint64), FALSE))
                _exit(4);
            fm_test_io_full(sock, &status, sizeof(status), TRUE);
            for (guint32 i = 0; i < h.n; i++)
                fm_test_io_full(sock, (void *) (region + pfns[i] * page), page, TRUE);
            break;
        }
        case CMD_EXIT:
        default:
            fm_guest_free(guest);
            _exit(0);
        }
    }
}

/* fm_test_child_fork()'s entry point: the child with the flags in @data. */
static void
child_entry(int sock, gpointer data)
{
    child_main(sock, (ChildFlags) GPOINTER_TO_UINT(data));
}

/* Forks a guest child; returns it, or NULL (test skipped) when this kernel can track
 * its writes in no way. */
static Child *
child_start(ChildFlags flags)
{
    Child *c = g_new0(Child, 1);
    Hello hello;

    c->pid = fm_test_child_fork(child_entry, GUINT_TO_POINTER(flags), &c->sock, &hello,
                                sizeof(hello));
    c->addr = hello.addr;
    c->page_size = (gsize) sysconf(_SC_PAGESIZE);
    c->n_pages = GUEST_BYTES / c->page_size;
    if (hello.status != 0) {
        g_assert_cmpint(hello.status, ==, FM_ERROR_UNSUPPORTED);
        g_test_skip(hello.message);
        fm_test_child_kill(c->pid, c->sock);
        g_free(c);
        return NULL;
    }
    return c;
}

/* Sends @cmd (with @n pfns for CMD_PAGES) and reads the status; asserts it is 0. */
static void
child_cmd(Child *c, Cmd cmd, const guint64 *pfns, guint32 n)
{
    g_assert_cmpint(fm_test_child_cmd(c->sock, cmd, pfns, n, sizeof(guint64)), ==, 0);
}

/* Returns the child's own digest of its memory into @out. */
static void
child_digest(Child *c, guint8 out[FM_DIGEST_SIZE])
{
    child_cmd(c, CMD_DIGEST, NULL, 0);
    g_assert_true(fm_test_io_full(c->sock, out, FM_DIGEST_SIZE, FALSE));
}

/* Tells the child to exit and reaps it (unless already reaped). */
static void
child_stop(Child *c)
{
    if (!c->reaped)
        fm_test_child_exit(c->pid, c->sock, CMD_EXIT);
    else
        close(c->sock);
    g_free(c);
}

/* Attaches to @c; asserts success. */
static FmBackend *
attach(Child *c)
{
    g_autoptr(GError) error = NULL;
    FmBackend *b = fm_local_backend_new(c->pid, &error);

    g_assert_no_error(error);
    g_assert_nonnull(b);
    return b;
}

/* Returns the guest's write counter, read from its header by the backend. */
static guint64
backend_writes(FmBackend *b)
{
    g_autoptr(GError) error = NULL;
    FmGuestHeader h;

    g_assert_true(fm_local_backend_read_header(b, &h, &error));
    g_assert_no_error(error);
    return fm_guest_header_writes(&h);
}

/* Sleeps @ms milliseconds. */
static void
sleep_ms(guint ms)
{
    g_usleep((gulong) ms * 1000);
}

/* How long a test waits for the mutators to do something, in steps of 10 ms: only a
 * guard against a hang.  A loaded host may keep them off a CPU for a while, so a
 * test waits for what it expects rather than for a fixed time. */
#define WAIT_STEPS 3000

/* Waits until the guest's work counter, read by @b, passes @above; returns it. */
static guint64
wait_writes_above(FmBackend *b, guint64 above)
{
    guint64 w = backend_writes(b);

    for (guint i = 0; i < WAIT_STEPS && w <= above; i++) {
        sleep_ms(10);
        w = backend_writes(b);
    }
    g_assert_cmpuint(w, >, above);
    return w;
}

/* Waits until the in-process guest @g has made more than @above writes. */
static void
wait_guest_writes_above(FmGuest *g, guint64 above)
{
    for (guint i = 0; i < WAIT_STEPS && fm_guest_writes(g) <= above; i++)
        sleep_ms(10);
    g_assert_cmpuint(fm_guest_writes(g), >, above);
}

/* The throttle test waits in the guest's own books (its nominal work, i.e. its
 * workload time), polling through fm_test_wait_until(). */

typedef struct {
    FmBackend *b;
    double nominal;
    double thread_nominal[FM_GUEST_MAX_THREADS];
    guint n_threads;
} GuestMark;

/* Returns the header of the guest behind @b, read through the backend. */
static FmGuestHeader
backend_header(FmBackend *b)
{
    g_autoptr(GError) error = NULL;
    FmGuestHeader h;

    g_assert_true(fm_local_backend_read_header(b, &h, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(h.n_threads, <=, FM_GUEST_MAX_THREADS);
    return h;
}

static gboolean
nominal_reached(gpointer data)
{
    GuestMark *m = data;
    FmGuestHeader h = backend_header(m->b);

    return fm_guest_header_nominal(&h) >= m->nominal;
}

/* Returns once the guest behind @b has run for @writes page writes of workload time
 * (its nominal work, written or throttled away) beyond where it is now. */
static void
wait_nominal(FmBackend *b, double writes)
{
    FmGuestHeader h = backend_header(b);
    GuestMark m = { .b = b, .nominal = fm_guest_header_nominal(&h) + writes };
    g_autofree char *what = g_strdup_printf("the guest has run %.0f more page writes of workload time",
                                            writes);

    fm_test_wait_until(nominal_reached, &m, what);
}

static gboolean
every_thread_stepped(gpointer data)
{
    GuestMark *m = data;
    FmGuestHeader h = backend_header(m->b);

    for (guint i = 0; i < m->n_threads; i++) {
        if (!(h.threads[i].nominal > m->thread_nominal[i]))
            return FALSE;
    }
    return TRUE;
}

/* Returns once every mutator of the guest behind @b has begun a workload step after
 * this call: each has published two steps since (a step publishes its nominal work,
 * which always grows), so that whatever the source wrote into the header before (the
 * throttle) governs every write from here on. */
static void
wait_steps(FmBackend *b)
{
    for (guint round = 0; round < 2; round++) {
        FmGuestHeader h = backend_header(b);
        GuestMark m = { .b = b, .n_threads = h.n_threads };

        for (guint i = 0; i < h.n_threads; i++)
            m.thread_nominal[i] = h.threads[i].nominal;
        fm_test_wait_until(every_thread_stepped, &m, "every guest thread has made a workload step");
    }
}

/* Harvests the whole guest into a new bitmap. */
static FmBitmap *
harvest_all(FmBackend *b, gboolean clear)
{
    g_autoptr(GError) error = NULL;
    FmBitmap *dirty = fm_bitmap_new(fm_backend_page_count(b));

    g_assert_true(fm_backend_harvest(b, dirty, 0, fm_bitmap_size(dirty), clear, &error));
    g_assert_no_error(error);
    return dirty;
}

/* Peeks at the dirty log until more than @n pages are dirty, then returns a harvest
 * of the whole guest with @clear (caller frees): at least the pages peeked. */
static FmBitmap *
wait_dirty(FmBackend *b, guint64 n, gboolean clear)
{
    guint64 count = 0;

    for (guint i = 0; i < WAIT_STEPS && count <= n; i++) {
        g_autoptr(FmBitmap) peek = NULL;

        sleep_ms(10);
        peek = harvest_all(b, FALSE);
        count = fm_bitmap_count(peek);
    }
    g_assert_cmpuint(count, >, n);
    return harvest_all(b, clear);
}

/* Asserts that every page of @dirty is page 0 or inside the child workload's region
 * [first, first + count), as the workload model computes it. */
static void
assert_in_region(const FmBitmap *dirty)
{
    guint64 n = fm_bitmap_size(dirty);
    guint64 first = (guint64) floor(GUEST_REGION_START * n);
    guint64 count = (guint64) floor(GUEST_REGION_SIZE * n);
    gint64 outside = -1;

    for (gint64 b = fm_bitmap_next_set(dirty, 0); b >= 0;
         b = fm_bitmap_next_set(dirty, (guint64) b + 1)) {
        if (b != 0 && ((guint64) b < first || (guint64) b >= first + count)) {
            outside = b;
            break;
        }
    }
    if (outside >= 0)
        g_error("page %" G_GINT64_FORMAT " is dirty but outside the workload's pages %"
                G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT, outside, first, first + count - 1);
}

/* ---- a sink that keeps the records it gets ---- */

typedef struct {
    FmSink parent;
    guint32 type;           /* of the last record */
    GByteArray *body;       /* of the last record */
    guint records;
} TestSink;

static gboolean
test_sink_send_record(FmSink *sink, guint32 type, const void *data, gsize len,
                      GError **error G_GNUC_UNUSED)
{
    TestSink *s = (TestSink *) sink;

    s->type = type;
    g_byte_array_set_size(s->body, 0);
    g_byte_array_append(s->body, data, (guint) len);
    s->records++;
    return TRUE;
}

static void
test_sink_free(FmSink *sink)
{
    TestSink *s = (TestSink *) sink;

    g_byte_array_unref(s->body);
    g_free(s);
}

static const FmSinkOps test_sink_ops = {
    .name = "test",
    .send_record = test_sink_send_record,
    .free = test_sink_free,
};

static TestSink *
test_sink_new(void)
{
    TestSink *s = g_new0(TestSink, 1);

    s->parent.ops = &test_sink_ops;
    s->body = g_byte_array_new();
    return s;
}

/* ---- the backend against a guest process ---- */

/* Attaching finds the region the child mapped, its size and its header. */
static void
test_attach(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmBackend) b = NULL;
    FmGuestHeader h;
    Child *c = child_start(CHILD_START);

    if (!c)
        return;
    b = attach(c);
    g_assert_cmpstr(fm_backend_name(b), ==, "local");
    g_assert_cmpuint(fm_local_backend_pid(b), ==, c->pid);
    g_assert_cmpuint(fm_local_backend_region_start(b), ==, c->addr);
    g_assert_cmpuint(fm_backend_page_count(b), ==, c->n_pages);
    g_assert_cmpuint(fm_backend_page_size(b), ==, c->page_size);
    if (fm_local_backend_mode(b) == FM_PAGEMAP_MODE_SCAN)
        g_assert_true(fm_backend_can_harvest_range(b));
    else
        g_assert_false(fm_backend_can_harvest_range(b));

    g_assert_true(fm_local_backend_read_header(b, &h, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(h.magic, ==, FM_GUEST_MAGIC);
    g_assert_cmpmem(&h.magic, 8, "FMGUEST1", 8);
    g_assert_cmpuint(h.page_count, ==, c->n_pages);
    g_assert_cmpuint(h.n_threads, ==, 2);
    g_assert_cmpuint(h.spec.type, ==, FM_WORKLOAD_DB);
    g_assert_cmpfloat(h.spec.rate, ==, GUEST_RATE);
    g_assert_cmpuint(h.threads[0].seed, !=, h.threads[1].seed);

    /* A second source is refused at once (one migrator or observer of the dirty log
     * at a time: they would steal each other's dirty bits); a reader may attach. */
    {
        g_autoptr(FmBackend) again = fm_local_backend_new(c->pid, &error);
        g_autoptr(FmBackend) reader = NULL;

        g_assert_null(again);
        g_assert_error(error, FM_ERROR, FM_ERROR_BUSY);
        g_assert_nonnull(strstr(error->message, "is already being migrated, recorded or advised"));
        g_clear_error(&error);
        reader = fm_local_backend_new_observer(c->pid, &error);
        g_assert_no_error(error);
        g_assert_cmpuint(fm_local_backend_region_start(reader), ==, c->addr);
    }
    /* The lock goes with the backend that held it. */
    {
        g_autoptr(FmBackend) again = NULL;

        g_clear_pointer(&b, fm_backend_free);
        again = attach(c);
        b = g_steal_pointer(&again);
    }
    g_assert_cmpfloat(fm_local_backend_paused_seconds(b), ==, 0);
    child_stop(c);
}

/* read_pages returns exactly the child's bytes, in the caller's order, however the
 * pfns are scattered; the backend's digest is the child's. */
static void
test_read_pages(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmBackend) b = NULL;
    g_autofree guint64 *pfns = NULL;
    g_autofree guint8 *got = NULL;
    g_autofree guint8 *want = NULL;
    guint8 d_backend[FM_DIGEST_SIZE];
    guint8 d_child[FM_DIGEST_SIZE];
    guint32 n = 0;
    Child *c = child_start(CHILD_START);

    if (!c)
        return;
    b = attach(c);
    sleep_ms(30);
    child_cmd(c, CMD_STOP, NULL, 0);   /* the pages hold still from here */

    /* Page 0, the last page, a run, a run backwards, 3000 random pages (more
     * segments than one system call takes), duplicates. */
    pfns = g_new(guint64, 4000);
    pfns[n++] = 0;
    pfns[n++] = c->n_pages - 1;
    for (guint64 p = 100; p < 164; p++)
        pfns[n++] = p;
    for (guint64 p = 9000; p > 8990; p--)
        pfns[n++] = p;
    for (guint i = 0; i < 3000; i++)
        pfns[n++] = (guint64) g_test_rand_int_range(0, (gint32) c->n_pages);
    pfns[n++] = 0;
    pfns[n++] = 8195;

    got = g_malloc(n * c->page_size);
    want = g_malloc(n * c->page_size);
    g_assert_true(fm_backend_read_pages(b, pfns, n, got, &error));
    g_assert_no_error(error);
    child_cmd(c, CMD_PAGES, pfns, n);
    g_assert_true(fm_test_io_full(c->sock, want, n * c->page_size, FALSE));
    for (guint32 i = 0; i < n; i++) {
        if (memcmp(got + i * c->page_size, want + i * c->page_size, c->page_size) != 0)
            g_error("page %" G_GUINT64_FORMAT " (entry %u) differs", pfns[i], i);
    }

    /* A page the workload never touches holds the fill pattern. */
    {
        guint64 page = 100;
        const guint64 *words = (const guint64 *) (got + 2 * c->page_size);

        g_assert_cmpuint(pfns[2], ==, page);
        for (gsize w = 0; w < c->page_size / 8; w++)
            g_assert_cmpuint(words[w], ==, FM_GUEST_FILL | page << 16 | w);
    }

    /* The whole guest, one pfn list: one segment. */
    {
        g_autofree guint64 *all = g_new(guint64, c->n_pages);
        g_autofree guint8 *mem = g_malloc(GUEST_BYTES);

        for (guint64 p = 0; p < c->n_pages; p++)
            all[p] = p;
        g_assert_true(fm_backend_read_pages(b, all, c->n_pages, mem, &error));
        g_assert_no_error(error);
        fm_digest_compute(mem, GUEST_BYTES, d_backend);
        child_digest(c, d_child);
        g_assert_cmpmem(d_backend, FM_DIGEST_SIZE, d_child, FM_DIGEST_SIZE);
    }
    g_assert_true(fm_local_backend_digest(b, d_backend, &error));
    g_assert_no_error(error);
    g_assert_cmpmem(d_backend, FM_DIGEST_SIZE, d_child, FM_DIGEST_SIZE);

    /* A pfn beyond the guest. */
    pfns[0] = c->n_pages;
    g_assert_false(fm_backend_read_pages(b, pfns, 1, got, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_clear_error(&error);
    child_stop(c);
}

/* Quiet guest, nothing dirty; running guest, only its workload's pages and page 0;
 * stopped again, nothing. */
static void
test_harvest(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmBackend) b = NULL;
    g_autoptr(FmBitmap) dirty = NULL;
    guint64 peeked;
    Child *c = child_start(0);

    if (!c)
        return;
    b = attach(c);
    g_assert_true(fm_backend_log_dirty_enable(b, &error));
    g_assert_no_error(error);
    sleep_ms(100);
    dirty = harvest_all(b, TRUE);
    g_assert_cmpuint(fm_bitmap_count(dirty), ==, 0);
    g_clear_pointer(&dirty, fm_bitmap_free);

    child_cmd(c, CMD_START, NULL, 0);
    /* A peek, then the clearing harvest: the same pages at least. */
    dirty = wait_dirty(b, 100, FALSE);
    assert_in_region(dirty);
    g_assert_true(fm_bitmap_test(dirty, 0));
    peeked = fm_bitmap_count(dirty);
    g_clear_pointer(&dirty, fm_bitmap_free);
    dirty = harvest_all(b, TRUE);
    g_assert_cmpuint(fm_bitmap_count(dirty), >=, peeked);
    assert_in_region(dirty);
    g_test_message("%" G_GUINT64_FORMAT " pages dirty", fm_bitmap_count(dirty));
    g_clear_pointer(&dirty, fm_bitmap_free);

    /* A range harvest reports only its range. */
    if (fm_backend_can_harvest_range(b)) {
        guint64 first = (guint64) floor(GUEST_REGION_START * c->n_pages);

        dirty = fm_bitmap_new(c->n_pages);
        for (guint i = 0; i < WAIT_STEPS && fm_bitmap_count(dirty) == 0; i++) {
            sleep_ms(10);
            g_assert_true(fm_backend_harvest(b, dirty, first, 500, TRUE, &error));
            g_assert_no_error(error);
            g_assert_cmpuint(fm_bitmap_count_range(dirty, first, 500), ==,
                             fm_bitmap_count(dirty));
        }
        g_assert_cmpuint(fm_bitmap_count(dirty), >, 0);
        g_clear_pointer(&dirty, fm_bitmap_free);
    }

    child_cmd(c, CMD_STOP, NULL, 0);
    dirty = harvest_all(b, TRUE);
    g_clear_pointer(&dirty, fm_bitmap_free);
    sleep_ms(50);
    dirty = harvest_all(b, TRUE);
    g_assert_cmpuint(fm_bitmap_count(dirty), ==, 0);
    g_assert_true(fm_backend_log_dirty_disable(b, &error));
    g_assert_no_error(error);
    child_stop(c);
}

/* Pause stops the writes, resume restarts them without a burst; the stop is timed. */
static void
test_pause(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmBackend) b = NULL;
    guint64 w0, wa, wb, wc;
    gint64 t_pause, t_resume, t_resumed;
    double paused, after, latency, elapsed;
    Child *c = child_start(CHILD_START);

    if (!c)
        return;
    b = attach(c);
    w0 = backend_writes(b);
    wait_writes_above(b, w0);

    /* The backend's clocks of the pause lie within the test's own measure of it. */
    t_pause = g_get_monotonic_time();
    g_assert_true(fm_backend_pause(b, &error));
    g_assert_no_error(error);
    latency = fm_local_backend_pause_latency(b);
    g_test_message("pause latency %.1f us", latency * 1e6);
    g_assert_cmpfloat(latency, >, 0);
    g_assert_cmpfloat(latency, <=, (g_get_monotonic_time() - t_pause) / 1e6);
    /* Pausing again is harmless. */
    g_assert_true(fm_backend_pause(b, &error));
    g_assert_no_error(error);

    wa = backend_writes(b);
    sleep_ms(150);
    wb = backend_writes(b);
    g_assert_cmpuint(wb, ==, wa);
    g_assert_cmpfloat(fm_local_backend_paused_seconds(b), >=, 0.15);

    t_resume = g_get_monotonic_time();
    g_assert_true(fm_backend_resume(b, &error));
    g_assert_no_error(error);
    t_resumed = g_get_monotonic_time();
    paused = fm_local_backend_paused_seconds(b);
    g_assert_cmpfloat(paused, >=, 0.15);
    g_assert_cmpfloat(paused, <=, (t_resumed - t_pause) / 1e6);
    wc = wait_writes_above(b, wb);
    elapsed = (g_get_monotonic_time() - t_resume) / 1e6;
    /* No catching up on the 150 ms lost: at most the rate over the time since
     * resume, plus one capped step per thread. */
    g_test_message("%" G_GUINT64_FORMAT " writes in %.3f s after resume", wc - wb, elapsed);
    g_assert_cmpfloat((double) (wc - wb), <=, GUEST_RATE * (elapsed + 2 * FM_GUEST_MAX_STEP) + 10);

    /* The clock stopped with the resume; a resume without a pause is harmless. */
    after = fm_local_backend_paused_seconds(b);
    g_assert_cmpfloat(after, ==, paused);
    g_assert_true(fm_backend_resume(b, &error));
    g_assert_no_error(error);
    g_assert_cmpfloat(fm_local_backend_paused_seconds(b), ==, paused);
    g_assert_cmpint(fm_backend_now(b), >, 0);
    child_stop(c);
}

/* What the guest did between two readings of its header: writes made, writes due
 * unthrottled (its nominal work), and the wall-clock seconds between the readings. */
typedef struct {
    double writes;
    double nominal;
    double seconds;
} GuestSpan;

/* Runs the guest behind @b for @nominal page writes of workload time from now and
 * returns what it did meanwhile. */
static GuestSpan
run_span(FmBackend *b, double nominal)
{
    gint64 t0 = g_get_monotonic_time();
    FmGuestHeader h0 = backend_header(b);
    FmGuestHeader h1;

    wait_nominal(b, nominal);
    h1 = backend_header(b);
    return (GuestSpan) {
        .writes = (double) (fm_guest_header_writes(&h1) - fm_guest_header_writes(&h0)),
        .nominal = fm_guest_header_nominal(&h1) - fm_guest_header_nominal(&h0),
        .seconds = (g_get_monotonic_time() - t0) / 1e6,
    };
}

/* Throttling 50 % halves the work the guest makes of its workload time, 100 % stops
 * it; the slowdown says how much work was lost.  All in the guest's own books (its
 * writes against its nominal work): a loaded host slows the guest's clock, not the
 * share of the work a throttle withholds.  Wall-clock rates are only reported. */
static void
test_throttle(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmBackend) b = NULL;
    GuestSpan full, half, stopped;
    FmGuestHeader base, end;
    double slowdown, lost;
    guint64 w;
    Child *c = child_start(CHILD_START);

    if (!c)
        return;
    b = attach(c);
    /* The baseline of the slowdown, taken while the guest holds still, so that the
     * test knows it exactly. */
    g_assert_true(fm_backend_pause(b, &error));
    base = backend_header(b);
    g_assert_true(fm_backend_log_dirty_enable(b, &error));
    g_assert_no_error(error);
    g_assert_cmpfloat(fm_backend_guest_slowdown(b), ==, 0);   /* nothing due yet */
    g_assert_true(fm_backend_resume(b, &error));
    g_assert_no_error(error);

    /* 6000 writes of workload time: 300 ms on a quiet host. */
    full = run_span(b, 6000);
    g_assert_true(fm_backend_set_throttle(b, 50, &error));
    g_assert_no_error(error);
    end = backend_header(b);
    g_assert_cmpuint(end.throttle, ==, 50);
    wait_steps(b);
    half = run_span(b, 10000);
    g_test_message("write rate %.0f/s, throttled 50 %%: %.0f/s",
                   full.writes / full.seconds, half.writes / half.seconds);
    /* Unthrottled, every write due is made; at 50 %, half of them.  (A reading may
     * fall inside a step whose writes count but whose nominal work is not yet
     * published: at most FM_GUEST_MAX_STEP of the rate, 200 writes.) */
    g_assert_cmpfloat(full.writes / full.nominal, >, 0.95);
    g_assert_cmpfloat(full.writes / full.nominal, <, 1.05);
    g_assert_cmpfloat(half.writes / half.nominal, >, 0.45);
    g_assert_cmpfloat(half.writes / half.nominal, <, 0.55);

    /* The slowdown is the share of the work due since log_dirty_enable that was
     * lost: read on the paused guest, it is exactly what the header says, and at
     * least the half lost while throttled. */
    g_assert_true(fm_backend_pause(b, &error));
    end = backend_header(b);
    slowdown = fm_backend_guest_slowdown(b);
    g_assert_true(fm_backend_resume(b, &error));
    g_assert_no_error(error);
    lost = (fm_guest_header_nominal(&end) - fm_guest_header_nominal(&base)) -
           (double) (fm_guest_header_writes(&end) - fm_guest_header_writes(&base));
    g_test_message("slowdown %.3f: %.0f writes lost of %.0f due", slowdown, lost,
                   fm_guest_header_nominal(&end) - fm_guest_header_nominal(&base));
    g_assert_cmpfloat(fabs(slowdown - lost / (fm_guest_header_nominal(&end) -
                                              fm_guest_header_nominal(&base))), <, 1e-9);
    g_assert_cmpfloat(lost, >=, (half.nominal - half.writes) - 4 * GUEST_RATE * FM_GUEST_MAX_STEP);
    g_assert_cmpfloat(slowdown, >, 0);
    g_assert_cmpfloat(slowdown, <, 0.5);

    /* 100 %: not one write while 2000 are due. */
    g_assert_true(fm_backend_set_throttle(b, 100, &error));
    wait_steps(b);
    w = backend_writes(b);
    stopped = run_span(b, 2000);
    g_assert_cmpfloat(stopped.writes, ==, 0);
    g_assert_cmpuint(backend_writes(b), ==, w);
    /* Released: every write due is made again. */
    g_assert_true(fm_backend_set_throttle(b, 0, &error));
    g_assert_no_error(error);
    wait_steps(b);
    full = run_span(b, 2000);
    g_assert_cmpfloat(full.writes / full.nominal, >, 0.95);
    child_stop(c);
}

/* save_state sends the digest of the paused guest's memory: the child's own. */
static void
test_digest_record(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmBackend) b = NULL;
    TestSink *sink = test_sink_new();
    guint8 d_child[FM_DIGEST_SIZE];
    guint32 alg, len;
    Child *c = child_start(CHILD_START);

    if (!c) {
        fm_sink_free(&sink->parent);
        return;
    }
    b = attach(c);
    fm_local_backend_set_verify(b, FM_LOCAL_VERIFY_FULL);
    sleep_ms(50);

    /* Not paused: refused. */
    g_assert_false(fm_backend_save_state(b, &sink->parent, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "not paused"));
    g_clear_error(&error);
    g_assert_cmpuint(sink->records, ==, 0);

    child_cmd(c, CMD_STOP, NULL, 0);
    g_assert_true(fm_backend_pause(b, &error));
    g_assert_true(fm_backend_save_state(b, &sink->parent, &error));
    g_assert_no_error(error);
    g_assert_true(fm_backend_resume(b, &error));
    child_digest(c, d_child);

    g_assert_cmpuint(sink->records, ==, 1);
    g_assert_cmpuint(sink->type, ==, FM_RECORD_DIGEST);
    g_assert_cmpuint(sink->body->len, ==, 8 + FM_DIGEST_SIZE);
    memcpy(&alg, sink->body->data, 4);
    memcpy(&len, sink->body->data + 4, 4);
    g_assert_cmpuint(GUINT32_FROM_LE(alg), ==, FM_DIGEST_ALGORITHM_ID);
    g_assert_cmpuint(GUINT32_FROM_LE(len), ==, FM_DIGEST_SIZE);
    g_assert_cmpmem(sink->body->data + 8, FM_DIGEST_SIZE, d_child, FM_DIGEST_SIZE);

    /* The memory changes once the mutators run again: so does the digest. */
    child_cmd(c, CMD_START, NULL, 0);
    wait_writes_above(b, backend_writes(b));
    child_cmd(c, CMD_STOP, NULL, 0);
    {
        guint8 d_after[FM_DIGEST_SIZE];

        g_assert_true(fm_local_backend_digest(b, d_after, &error));
        g_assert_no_error(error);
        g_assert_true(memcmp(d_after, d_child, FM_DIGEST_SIZE) != 0);
        child_digest(c, d_child);
        g_assert_cmpmem(d_after, FM_DIGEST_SIZE, d_child, FM_DIGEST_SIZE);
    }
    fm_sink_free(&sink->parent);
    child_stop(c);
}

/* save_state by default sends the page-table digest: the hashes of the pages as
 * read_pages read them to be sent, the pages never read read at the pause; a page
 * read again counts in its last version. */
static void
test_page_digest_record(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmBackend) b = NULL;
    g_autoptr(FmBackend) other = NULL;
    TestSink *sink = test_sink_new();
    g_autofree guint64 *hashes = NULL;
    g_autofree guint8 *buf = NULL;
    guint8 expect[FM_DIGEST_SIZE];
    guint64 pfns[3] = { 0, 1, 2 };
    guint64 count;
    gsize page;
    guint32 alg;
    Child *c = child_start(CHILD_START);

    if (!c) {
        fm_sink_free(&sink->parent);
        return;
    }
    b = attach(c);
    /* a reader only: one source holds the guest at a time */
    other = fm_local_backend_new_observer(c->pid, &error);
    g_assert_no_error(error);
    fm_local_backend_set_verify(other, FM_LOCAL_VERIFY_FULL);
    count = fm_backend_page_count(b);
    page = fm_backend_page_size(b);
    buf = g_malloc(page * 3);
    hashes = g_new(guint64, count);

    /* pages read while the guest runs, then it stops: their content may change
     * after the read, and the record must carry the hashes of what was read */
    sleep_ms(50);
    pfns[2] = count - 1;
    g_assert_true(fm_backend_read_pages(b, pfns, 3, buf, &error));
    g_assert_no_error(error);
    for (guint i = 0; i < 3; i++)
        hashes[pfns[i]] = fm_digest_page(buf + i * page, page);
    child_cmd(c, CMD_STOP, NULL, 0);
    g_assert_true(fm_backend_pause(b, &error));
    /* page 1 again: its last version counts */
    g_assert_true(fm_backend_read_pages(b, pfns + 1, 1, buf, &error));
    hashes[1] = fm_digest_page(buf, page);
    /* the first half of the others through the backend; the second half it never
     * read: it reads them at the pause (here: through a second backend) */
    for (guint64 pfn = 2; pfn + 1 < count; pfn++) {
        FmBackend *reader = pfn < count / 2 ? b : other;

        g_assert_true(fm_backend_read_pages(reader, &pfn, 1, buf, &error));
        hashes[pfn] = fm_digest_page(buf, page);
    }
    g_assert_true(fm_backend_save_state(b, &sink->parent, &error));
    g_assert_no_error(error);
    g_assert_true(fm_backend_resume(b, &error));

    fm_digest_page_table(hashes, count, expect);
    g_assert_cmpuint(sink->records, ==, 1);
    g_assert_cmpuint(sink->type, ==, FM_RECORD_DIGEST);
    g_assert_cmpuint(sink->body->len, ==, 8 + FM_DIGEST_SIZE);
    memcpy(&alg, sink->body->data, 4);
    g_assert_cmpuint(GUINT32_FROM_LE(alg), ==, FM_DIGEST_PAGES_ALGORITHM_ID);
    g_assert_cmpmem(sink->body->data + 8, FM_DIGEST_SIZE, expect, FM_DIGEST_SIZE);
    fm_sink_free(&sink->parent);
    child_stop(c);
}

/* Asserts @error is the "guest has exited" error naming @pid, and clears it. */
static void
assert_gone(GError **error, pid_t pid)
{
    g_autofree char *want = g_strdup_printf("the guest process %d has exited", (int) pid);

    g_assert_error(*error, FM_ERROR, FM_ERROR_FAILED);
    g_assert_cmpstr((*error)->message, ==, want);
    g_clear_error(error);
}

/* A guest that dies: every call fails and names the pid, zombie or reaped. */
static void
test_guest_exit(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmBackend) b = NULL;
    g_autoptr(FmBitmap) dirty = NULL;
    guint64 pfn = 1;
    guint8 page[65536];
    FmGuestHeader h;
    guint8 d[FM_DIGEST_SIZE];
    int status;
    Child *c = child_start(CHILD_START);

    if (!c)
        return;
    b = attach(c);
    g_assert_true(fm_backend_log_dirty_enable(b, &error));
    dirty = fm_bitmap_new(c->n_pages);
    g_assert_cmpint(kill(c->pid, SIGKILL), ==, 0);
    /* Wait until it is a zombie, without reaping it. */
    {
        siginfo_t info;

        g_assert_cmpint(waitid(P_PID, (id_t) c->pid, &info, WEXITED | WNOWAIT), ==, 0);
    }

    g_assert_false(fm_backend_harvest(b, dirty, 0, c->n_pages, TRUE, &error));
    assert_gone(&error, c->pid);
    g_assert_false(fm_backend_read_pages(b, &pfn, 1, page, &error));
    assert_gone(&error, c->pid);
    g_assert_false(fm_backend_pause(b, &error));
    assert_gone(&error, c->pid);

    g_assert_cmpint(waitpid(c->pid, &status, 0), ==, c->pid);
    c->reaped = TRUE;
    g_assert_false(fm_backend_read_pages(b, &pfn, 1, page, &error));
    assert_gone(&error, c->pid);
    g_assert_false(fm_backend_harvest(b, dirty, 0, 10, FALSE, &error));
    assert_gone(&error, c->pid);
    g_assert_false(fm_backend_resume(b, &error));
    assert_gone(&error, c->pid);
    g_assert_false(fm_backend_set_throttle(b, 10, &error));
    assert_gone(&error, c->pid);
    g_assert_false(fm_backend_log_dirty_enable(b, &error));
    assert_gone(&error, c->pid);
    g_assert_false(fm_local_backend_read_header(b, &h, &error));
    assert_gone(&error, c->pid);
    g_assert_false(fm_local_backend_digest(b, d, &error));
    assert_gone(&error, c->pid);
    (void) fm_backend_guest_slowdown(b);
    child_stop(c);
}

/* Processes that are no guest, and no process at all. */
static void
test_not_a_guest(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *want = NULL;
    pid_t parent = getppid();
    pid_t dead;
    int status;

    g_assert_null(fm_local_backend_new(parent, &error));
    want = g_strdup_printf("process %d has no fragmig guest memory", (int) parent);
    g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_assert_cmpstr(error->message, ==, want);
    g_clear_error(&error);
    g_clear_pointer(&want, g_free);

    dead = fork();
    g_assert_cmpint(dead, >=, 0);
    if (dead == 0)
        _exit(0);
    g_assert_cmpint(waitpid(dead, &status, 0), ==, dead);
    g_assert_null(fm_local_backend_new(dead, &error));
    want = g_strdup_printf("there is no process %d", (int) dead);
    g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_assert_cmpstr(error->message, ==, want);
    g_clear_error(&error);

    g_assert_null(fm_local_backend_new(0, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_assert_cmpstr(error->message, ==, "invalid process id 0");
}

/* A guest without userfaultfd tracking: soft-dirty, whole-region harvests that
 * stop the guest around the clear, and the same answers. */
static void
test_soft_dirty(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmBackend) b = NULL;
    g_autoptr(FmBitmap) dirty = NULL;
    guint64 w0;
    Child *c;

    if (!fm_pagemap_soft_dirty_available()) {
        g_test_skip("the kernel lacks soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY)");
        return;
    }
    c = child_start(CHILD_UNTRACK);
    if (!c)
        return;
    b = attach(c);
    g_assert_cmpint(fm_local_backend_mode(b), ==, FM_PAGEMAP_MODE_SOFT_DIRTY);
    g_assert_false(fm_backend_can_harvest_range(b));
    g_assert_true(fm_backend_log_dirty_enable(b, &error));
    g_assert_no_error(error);
    sleep_ms(50);
    dirty = harvest_all(b, TRUE);
    g_assert_cmpuint(fm_bitmap_count(dirty), ==, 0);
    g_clear_pointer(&dirty, fm_bitmap_free);

    child_cmd(c, CMD_START, NULL, 0);
    dirty = wait_dirty(b, 100, TRUE);
    assert_in_region(dirty);
    g_clear_pointer(&dirty, fm_bitmap_free);

    /* The stop around the clear was undone: the guest still writes. */
    g_assert_cmpfloat(fm_local_backend_paused_seconds(b), ==, 0);
    w0 = backend_writes(b);
    wait_writes_above(b, w0);

    child_cmd(c, CMD_STOP, NULL, 0);
    dirty = harvest_all(b, TRUE);
    g_clear_pointer(&dirty, fm_bitmap_free);
    sleep_ms(50);
    dirty = harvest_all(b, TRUE);
    g_assert_cmpuint(fm_bitmap_count(dirty), ==, 0);
    child_stop(c);
}

/* Speed, with -m perf: read_pages of the whole guest, digest, pause latency. */
static void
test_perf(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmBackend) b = NULL;
    g_autofree guint64 *all = NULL;
    g_autofree guint8 *mem = NULL;
    g_autofree guint64 *scattered = NULL;
    guint8 d[FM_DIGEST_SIZE];
    double t, worst = 0, sum = 0;
    Child *c;

    if (!g_test_perf()) {
        g_test_skip("run with -m perf to measure speed");
        return;
    }
    c = child_start(CHILD_START);
    if (!c)
        return;
    b = attach(c);
    all = g_new(guint64, c->n_pages);
    scattered = g_new(guint64, c->n_pages / 2);
    for (guint64 p = 0; p < c->n_pages; p++)
        all[p] = p;
    for (guint64 p = 0; p < c->n_pages / 2; p++)
        scattered[p] = 2 * p;
    mem = g_malloc(GUEST_BYTES);
    g_assert_true(fm_backend_read_pages(b, all, c->n_pages, mem, &error));

    g_test_timer_start();
    for (guint r = 0; r < 10; r++)
        g_assert_true(fm_backend_read_pages(b, all, c->n_pages, mem, &error));
    t = g_test_timer_elapsed();
    g_test_maximized_result(10.0 * GUEST_BYTES / t / 1e9,
                            "read_pages, 64 MiB in one run: %.2f GB/s", 10.0 * GUEST_BYTES / t / 1e9);
    g_test_timer_start();
    for (guint r = 0; r < 10; r++)
        g_assert_true(fm_backend_read_pages(b, scattered, c->n_pages / 2, mem, &error));
    t = g_test_timer_elapsed();
    g_test_maximized_result(5.0 * GUEST_BYTES / t / 1e9,
                            "read_pages, every other page of 64 MiB: %.2f GB/s",
                            5.0 * GUEST_BYTES / t / 1e9);
    g_test_timer_start();
    for (guint r = 0; r < 10; r++)
        g_assert_true(fm_local_backend_digest(b, d, &error));
    t = g_test_timer_elapsed();
    g_test_maximized_result(10.0 * GUEST_BYTES / t / 1e9,
                            "digest of 64 MiB through process_vm_readv: %.2f GB/s",
                            10.0 * GUEST_BYTES / t / 1e9);

    for (guint r = 0; r < 50; r++) {
        g_assert_true(fm_backend_pause(b, &error));
        sum += fm_local_backend_pause_latency(b);
        worst = MAX(worst, fm_local_backend_pause_latency(b));
        g_assert_true(fm_backend_resume(b, &error));
        sleep_ms(2);
    }
    g_test_minimized_result(sum / 50, "pause latency: mean %.1f us, worst %.1f us",
                            sum / 50 * 1e6, worst * 1e6);
    g_assert_no_error(error);
    child_stop(c);
}

/* ---- the guest runtime, in this process ---- */

#define SMALL_BYTES (1u << 20)

static FmWorkloadSpec small_phases[2] = {
    { .type = FM_WORKLOAD_WEB, .rate = 20000, .zipf_s = 1.0, .region_size = 0.5,
      .duration = 0.02 },
    { .type = FM_WORKLOAD_SWEEP, .rate = 20000, .region_start = 0.5, .region_size = 0.5 },
};

/* Returns a new small guest running two phases (web, then sweep). */
static FmGuest *
small_guest(void)
{
    g_autoptr(GError) error = NULL;
    FmWorkloadSpec spec = {
        .type = FM_WORKLOAD_PHASES, .region_size = 1.0,
        .n_phases = 2, .phases = small_phases,
    };
    FmGuest *g = fm_guest_new(SMALL_BYTES, (gsize) sysconf(_SC_PAGESIZE), &spec, 3, 7, &error);

    if (!g && g_error_matches(error, FM_ERROR, FM_ERROR_UNSUPPORTED)) {
        g_test_skip(error->message);
        return NULL;
    }
    g_assert_no_error(error);
    g_assert_nonnull(g);
    return g;
}

/* Returns a fresh mapping holding a copy of @g's region (a migrated copy). */
static guint8 *
copy_region(FmGuest *g)
{
    guint8 *copy = mmap(NULL, fm_guest_region_len(g), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    g_assert_true(copy != MAP_FAILED);
    memcpy(copy, fm_guest_region(g), fm_guest_region_len(g));
    return copy;
}

/* The header, the fill pattern, and the pages the mutators change. */
/* Returns TRUE once each of the 3 threads of @h is past the 20 ms web phase of
 * small_guest()'s workload. */
static gboolean
threads_in_sweep(const FmGuestHeader *h)
{
    for (guint i = 0; i < 3; i++) {
        const FmGuestThread *t = &h->threads[i];
        guint32 tc = __atomic_load_n(&t->current, __ATOMIC_ACQUIRE);

        if (tc > 1 || t->state[tc].phase != 1 || !(t->state[tc].now > 0.02))
            return FALSE;
    }
    return TRUE;
}

static void
test_guest_new(void)
{
    gsize page = (gsize) sysconf(_SC_PAGESIZE);
    const FmGuestHeader *h;
    const guint64 *words;
    guint64 changed = 0;
    FmGuest *g = small_guest();

    if (!g)
        return;
    h = fm_guest_header(g);
    g_assert_true((const void *) h == fm_guest_region(g));
    g_assert_cmpuint(fm_guest_region_len(g), ==, SMALL_BYTES);
    g_assert_cmpuint((guintptr) fm_guest_region(g) % page, ==, 0);
    g_assert_cmpuint(h->magic, ==, FM_GUEST_MAGIC);
    g_assert_cmpuint(h->version, ==, FM_GUEST_VERSION);
    g_assert_cmpuint(h->header_size, ==, sizeof(FmGuestHeader));
    g_assert_cmpuint(h->page_size, ==, page);
    g_assert_cmpuint(h->page_count, ==, SMALL_BYTES / page);
    g_assert_cmpuint(h->seed, ==, 7);
    g_assert_cmpuint(h->n_threads, ==, 3);
    g_assert_cmpuint(h->throttle, ==, 0);
    g_assert_cmpuint(h->spec.type, ==, FM_WORKLOAD_PHASES);
    g_assert_cmpuint(h->spec.n_phases, ==, 2);
    g_assert_cmpuint(h->phases[0].type, ==, FM_WORKLOAD_WEB);
    g_assert_cmpfloat(h->phases[1].region_start, ==, 0.5);
    g_assert_cmpuint(h->phases[2].type, ==, 0);
    g_assert_cmpuint(h->threads[3].seed, ==, 0);
    for (guint i = 0; i < 3; i++) {
        g_assert_cmpuint(h->threads[i].state[0].magic, ==, FM_WORKLOAD_STATE_MAGIC);
        g_assert_cmpuint(h->threads[i].writes, ==, 0);
    }
    g_assert_true(fm_guest_header_check(h, SMALL_BYTES, NULL));

    /* The pattern: after the header in page 0, and everywhere else. */
    words = fm_guest_region(g);
    for (gsize w = (sizeof(FmGuestHeader) + 7) / 8; w < page / 8; w++)
        g_assert_cmpuint(words[w], ==, FM_GUEST_FILL | w);
    for (guint64 p = 1; p < h->page_count; p++) {
        for (gsize w = 0; w < page / 8; w += 61)
            g_assert_cmpuint(words[p * (page / 8) + w], ==, FM_GUEST_FILL | p << 16 | w);
    }

    g_assert_true(fm_guest_start(g, NULL));
    g_assert_true(fm_guest_start(g, NULL));
    wait_guest_writes_above(g, 200);
    for (guint n = 0; n < WAIT_STEPS && !threads_in_sweep(h); n++)
        sleep_ms(10);
    fm_guest_stop(g);
    fm_guest_stop(g);
    g_assert_cmpuint(fm_guest_writes(g), >, 200);
    g_assert_cmpuint(fm_guest_writes(g), ==, fm_guest_header_writes(h));
    g_assert_cmpfloat(fm_guest_header_nominal(h), >, 0);
    /* Past the 20 ms web phase, every thread is in the sweep. */
    for (guint i = 0; i < 3; i++) {
        const FmGuestThread *t = &h->threads[i];

        g_assert_cmpuint(t->state[t->current].phase, ==, 1);
        g_assert_cmpfloat(t->state[t->current].now, >, 0.02);
    }
    for (guint64 p = 1; p < h->page_count; p++) {
        for (gsize w = 0; w < page / 8; w++) {
            if (words[p * (page / 8) + w] != (FM_GUEST_FILL | p << 16 | w)) {
                changed++;
                break;
            }
        }
    }
    g_test_message("%" G_GUINT64_FORMAT " writes changed %" G_GUINT64_FORMAT " pages",
                   fm_guest_writes(g), changed);
    g_assert_cmpuint(changed, >, 50);
    fm_guest_free(g);
    fm_guest_free(NULL);
}

/* A copy of a stopped guest's region is adopted and carries on where it stopped. */
/* Returns TRUE if each of the 3 threads of @h has written since @before and its
 * workload time is 10 ms past @before's at least. */
static gboolean
threads_went_on(const FmGuestHeader *h, const FmGuestHeader *before)
{
    for (guint i = 0; i < 3; i++) {
        const FmGuestThread *t = &h->threads[i];
        const FmGuestThread *b = &before->threads[i];
        guint32 tc = __atomic_load_n(&t->current, __ATOMIC_ACQUIRE);

        if (tc > 1 || t->writes <= b->writes ||
            !(t->state[tc].now > b->state[b->current].now + 0.01))
            return FALSE;
    }
    return TRUE;
}

static void
test_guest_adopt(void)
{
    g_autoptr(GError) error = NULL;
    guint8 d0[FM_DIGEST_SIZE], d1[FM_DIGEST_SIZE];
    FmGuestHeader before;
    const FmGuestHeader *h;
    FmGuest *adopted;
    guint8 *copy;
    guint64 w0;
    FmGuest *g = small_guest();

    if (!g)
        return;
    g_assert_true(fm_guest_start(g, NULL));
    wait_guest_writes_above(g, 0);
    fm_guest_stop(g);
    w0 = fm_guest_writes(g);
    g_assert_cmpuint(w0, >, 0);
    memcpy(&before, fm_guest_header(g), sizeof(before));
    copy = copy_region(g);
    fm_digest_compute(fm_guest_region(g), SMALL_BYTES, d0);
    fm_guest_free(g);

    adopted = fm_guest_adopt(copy, SMALL_BYTES, &error);
    g_assert_no_error(error);
    g_assert_nonnull(adopted);
    g_assert_true(fm_guest_region(adopted) == copy);
    fm_digest_compute(copy, SMALL_BYTES, d1);
    g_assert_cmpmem(d0, FM_DIGEST_SIZE, d1, FM_DIGEST_SIZE);
    g_assert_cmpuint(fm_guest_writes(adopted), ==, w0);
    g_assert_cmpuint(fm_guest_is_tracked(adopted), ==, fm_uffd_probe(NULL));

    g_assert_true(fm_guest_start(adopted, NULL));
    /* until every thread has gone on, its workload time by 10 ms at least */
    for (guint n = 0; n < WAIT_STEPS && !threads_went_on(fm_guest_header(adopted), &before); n++)
        sleep_ms(10);
    fm_guest_stop(adopted);
    h = fm_guest_header(adopted);
    g_assert_cmpuint(fm_guest_writes(adopted), >, w0);
    /* Workload time went on from where it was: it was carried over, not restarted. */
    g_assert_true(threads_went_on(h, &before));
    for (guint i = 0; i < 3; i++)
        g_assert_cmpuint(h->threads[i].seed, ==, before.threads[i].seed);
    fm_guest_free(adopted);     /* unmaps @copy */
}

typedef struct {
    const char *name;
    void (*corrupt)(FmGuestHeader *h);
    const char *message;        /* NULL: computed by the test */
} Corruption;

static void corrupt_magic(FmGuestHeader *h) { h->magic ^= 0xff; }
static void corrupt_version(FmGuestHeader *h) { h->version = 2; }
static void corrupt_header_size(FmGuestHeader *h) { h->header_size = 64; }
static void corrupt_page_size(FmGuestHeader *h) { h->page_size = 65536; }
static void corrupt_page_count(FmGuestHeader *h) { h->page_count++; }
static void corrupt_threads_zero(FmGuestHeader *h) { h->n_threads = 0; }
static void corrupt_threads_huge(FmGuestHeader *h) { h->n_threads = 100000; }
static void corrupt_throttle(FmGuestHeader *h) { h->throttle = 101; }
static void corrupt_reserved(FmGuestHeader *h) { h->reserved[2] = 1; }
static void corrupt_type(FmGuestHeader *h) { h->spec.type = 7; }
static void corrupt_phases_many(FmGuestHeader *h) { h->spec.n_phases = FM_WORKLOAD_MAX_PHASES + 1; }
static void corrupt_phases_none(FmGuestHeader *h) { h->spec.n_phases = 0; }
static void corrupt_phase_type(FmGuestHeader *h) { h->phases[1].type = 99; }
static void corrupt_phase_nested(FmGuestHeader *h) { h->phases[0].type = FM_WORKLOAD_PHASES; }
static void corrupt_phase_unused(FmGuestHeader *h) { h->phases[5].rate = 3; }
static void corrupt_rate(FmGuestHeader *h) { h->phases[0].rate = NAN; }
static void corrupt_thread_unused(FmGuestHeader *h) { h->threads[6].writes = 1; }
static void corrupt_current(FmGuestHeader *h) { h->threads[1].current = 2; }
static void corrupt_state_magic(FmGuestHeader *h) { h->threads[0].state[h->threads[0].current].magic = 0; }
static void corrupt_state_phase(FmGuestHeader *h) { h->threads[2].state[h->threads[2].current].phase = 3; }
static void
corrupt_state_time(FmGuestHeader *h)
{
    h->threads[0].state[h->threads[0].current].now = INFINITY;
    h->threads[0].state[h->threads[0].current].phase_start = 0;
}
static void corrupt_carry(FmGuestHeader *h) { h->threads[0].state[h->threads[0].current].carry = NAN; }
static void corrupt_rand(FmGuestHeader *h) { memset(&h->threads[1].state[h->threads[1].current].rand, 0, sizeof(FmRand)); }
static void corrupt_nominal(FmGuestHeader *h) { h->threads[0].nominal = -1; }

static const Corruption corruptions[] = {
    { "magic", corrupt_magic, NULL },
    { "version", corrupt_version, "invalid guest header: version 2 is not supported (expected 1)" },
    { "header-size", corrupt_header_size, NULL },
    { "page-size", corrupt_page_size, NULL },
    { "page-count", corrupt_page_count, "invalid guest header: page count 257 does not match the memory size of 1048576 bytes" },
    { "threads-zero", corrupt_threads_zero, "invalid guest header: thread count 0 is not between 1 and 8" },
    { "threads-huge", corrupt_threads_huge, "invalid guest header: thread count 100000 is not between 1 and 8" },
    { "throttle", corrupt_throttle, "invalid guest header: throttle 101 is more than 100 %" },
    { "reserved", corrupt_reserved, "invalid guest header: reserved fields are not zero" },
    { "type", corrupt_type, "invalid guest header: unknown workload type 7" },
    { "phases-many", corrupt_phases_many, "invalid guest header: 9 phases (a phases workload has 1 to 8)" },
    { "phases-none", corrupt_phases_none, "invalid guest header: 0 phases (a phases workload has 1 to 8)" },
    { "phase-type", corrupt_phase_type, "invalid guest header: phase 2: unknown workload type 99" },
    { "phase-nested", corrupt_phase_nested, "invalid guest header: workload phase 1: phases cannot be nested" },
    { "phase-unused", corrupt_phase_unused, "invalid guest header: unused phase entries are not zero" },
    { "rate", corrupt_rate, "invalid guest header: workload phase 1: rate nan is not between 0 and 1e+12 page writes per second" },
    { "thread-unused", corrupt_thread_unused, "invalid guest header: unused thread slot 6 is not zero" },
    { "state-index", corrupt_current, "invalid guest header: thread 1: state index 2 is not 0 or 1" },
    { "state-magic", corrupt_state_magic, "invalid guest header: thread 0: workload state has a bad magic 0x00000000" },
    { "state-phase", corrupt_state_phase, "invalid guest header: thread 2: phase 3 is beyond the last phase" },
    { "state-time", corrupt_state_time, NULL },
    { "state-carry", corrupt_carry, "invalid guest header: thread 0: carried work nan is not in [0, 1)" },
    { "state-rand", corrupt_rand, "invalid guest header: thread 1: random generator state is zero" },
    { "nominal", corrupt_nominal, "invalid guest header: thread 0: nominal work -1 is out of range" },
};

/* fm_guest_adopt() refuses every corrupted header with its exact message, and the
 * caller keeps the region. */
static void
test_guest_adopt_corrupt(void)
{
    gsize page = (gsize) sysconf(_SC_PAGESIZE);
    FmGuest *g = small_guest();

    if (!g)
        return;
    g_assert_true(fm_guest_start(g, NULL));
    sleep_ms(30);
    fm_guest_stop(g);

    for (guint i = 0; i < G_N_ELEMENTS(corruptions); i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *want = NULL;
        guint8 *copy = copy_region(g);
        FmGuestHeader *h = (FmGuestHeader *) copy;
        FmGuest *adopted;

        corruptions[i].corrupt(h);
        if (corruptions[i].message)
            want = g_strdup(corruptions[i].message);
        else if (corruptions[i].corrupt == corrupt_magic)
            want = g_strdup_printf("invalid guest header: magic 0x%016llx is not \"FMGUEST1\"",
                                   (unsigned long long) h->magic);
        else if (corruptions[i].corrupt == corrupt_header_size)
            want = g_strdup_printf("invalid guest header: header size 64 is not %zu (a different build of fragmig?)",
                                   sizeof(FmGuestHeader));
        else if (corruptions[i].corrupt == corrupt_page_size)
            want = g_strdup_printf("invalid guest header: page size 65536 is not the system page size %zu",
                                   page);
        else
            want = g_strdup("invalid guest header: thread 0: workload time inf (phase start 0) is out of range");

        adopted = fm_guest_adopt(copy, SMALL_BYTES, &error);
        g_test_message("%s: %s", corruptions[i].name, error ? error->message : "accepted");
        g_assert_null(adopted);
        g_assert_error(error, FM_ERROR, FM_ERROR_PROTOCOL);
        g_assert_cmpstr(error->message, ==, want);
        /* Still ours: readable and unmappable. */
        g_assert_cmpuint(copy[SMALL_BYTES - 1], ==, ((guint8 *) fm_guest_region(g))[SMALL_BYTES - 1]);
        g_assert_cmpint(munmap(copy, SMALL_BYTES), ==, 0);
    }

    /* A region shorter than the header says, or not a whole number of pages. */
    {
        g_autoptr(GError) error = NULL;
        guint8 *copy = copy_region(g);

        g_assert_null(fm_guest_adopt(copy, SMALL_BYTES - page, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_PROTOCOL);
        g_assert_cmpstr(error->message, ==, "invalid guest header: page count 256 does not match the memory size of 1044480 bytes");
        g_clear_error(&error);
        g_assert_null(fm_guest_adopt(copy, 100, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_PROTOCOL);
        g_clear_error(&error);

        /* The intact copy is accepted: the corruptions alone were refused. */
        {
            FmGuest *ok = fm_guest_adopt(copy, SMALL_BYTES, &error);

            g_assert_no_error(error);
            fm_guest_free(ok);
        }
    }
    fm_guest_free(g);
}

/* fm_guest_new() argument errors. */
static void
test_guest_new_errors(void)
{
    gsize page = (gsize) sysconf(_SC_PAGESIZE);
    FmWorkloadSpec spec = { .type = FM_WORKLOAD_DB, .rate = 100, .region_size = 0.1 };
    FmWorkloadSpec bad = { .type = FM_WORKLOAD_DB, .rate = -1 };
    g_autofree char *want = NULL;
    struct {
        guint64 memory;
        gsize page_size;
        guint threads;
        const char *message;
    } cases[] = {
        { SMALL_BYTES, page * 2, 2, NULL },
        { 0, page, 2, "guest memory of 0 bytes is not a positive multiple of the page size (4096 bytes)" },
        { 4097, page, 2, "guest memory of 4097 bytes is not a positive multiple of the page size (4096 bytes)" },
        { 4096, page, 2, "guest memory of 4096 bytes is less than 2 pages" },
        { SMALL_BYTES, page, 0, "thread count 0 is not between 1 and 8" },
        { SMALL_BYTES, page, 9, "thread count 9 is not between 1 and 8" },
    };

    if (page != 4096) {
        g_test_skip("the messages below assume 4 KiB pages");
        return;
    }
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;

        g_assert_null(fm_guest_new(cases[i].memory, cases[i].page_size, &spec,
                                   cases[i].threads, 1, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
        if (cases[i].message)
            g_assert_cmpstr(error->message, ==, cases[i].message);
        else
            g_assert_cmpstr(error->message, ==, "page size 8192 is not the system page size 4096");
    }
    {
        g_autoptr(GError) error = NULL;

        g_assert_null(fm_guest_new(SMALL_BYTES, page, &bad, 2, 1, &error));
        g_assert_error(error, FM_ERROR, FM_ERROR_CONFIG);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/local/attach", test_attach);
    g_test_add_func("/local/read-pages", test_read_pages);
    g_test_add_func("/local/harvest", test_harvest);
    g_test_add_func("/local/pause", test_pause);
    g_test_add_func("/local/throttle", test_throttle);
    g_test_add_func("/local/digest-record", test_digest_record);
    g_test_add_func("/local/page-digest-record", test_page_digest_record);
    g_test_add_func("/local/guest-exit", test_guest_exit);
    g_test_add_func("/local/not-a-guest", test_not_a_guest);
    g_test_add_func("/local/soft-dirty", test_soft_dirty);
    g_test_add_func("/local/perf", test_perf);
    /* In this process, after every fork: these start threads here. */
    g_test_add_func("/guest/new", test_guest_new);
    g_test_add_func("/guest/new-errors", test_guest_new_errors);
    g_test_add_func("/guest/adopt", test_guest_adopt);
    g_test_add_func("/guest/adopt-corrupt", test_guest_adopt_corrupt);

    return g_test_run();
}
