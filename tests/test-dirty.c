/*
 * test-dirty.c: kernel dirty-page tracking of the local backend (fm-uffd, fm-pagemap).
 *
 * A forked child plays the guest: it maps an anonymous region, registers it with
 * fm_uffd_register() (or not, for the soft-dirty and error cases) and then obeys
 * commands from a socketpair: write / read / re-protect these pages, exit.  The parent
 * plays the migration source and harvests through fm_pagemap; every harvest is compared
 * with the exact set of pages the guest was told to write.  Each command is answered
 * only once the guest has done it, so no harvest races with a write.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "backend/local/fm-pagemap.h"
#include "backend/local/fm-uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "tests/fm-test-util.h"
#include "util/fm-bitmap.h"
#include "util/fm-error.h"

#define GUEST_BYTES (64u << 20)

typedef enum {
    CMD_WRITE = 1,      /* write one byte in each listed page */
    CMD_READ,           /* read one byte of each listed page */
    CMD_PROTECT,        /* fm_uffd_protect() pages [list[0], list[0] + list[1]) */
    CMD_KWRITE,         /* have the kernel write each listed page (read() into it) */
    CMD_EXIT,
} Cmd;

typedef enum {
    GUEST_REGISTER = 1 << 0,    /* register with fm_uffd_register() */
    GUEST_POPULATE = 1 << 1,    /* write the first half before registering */
    GUEST_HUGEPAGE = 1 << 2,    /* madvise(MADV_HUGEPAGE) the region */
} GuestFlags;

/* What the guest reports once set up. */
typedef struct {
    guint64 addr;
    guint64 len;
    gint32 status;      /* 0, or the GError code of a failed registration */
    char message[400];
} Hello;

typedef struct {
    pid_t pid;
    int sock;
    guint64 addr;
    guint64 len;
    gsize page_size;
    guint64 n_pages;
} Guest;

/* Per-mode parameters of the tests that run in both tracking modes. */
typedef struct {
    GuestFlags flags;
    FmPagemapMode mode;
} ModeCase;

static const ModeCase case_scan = { GUEST_REGISTER | GUEST_POPULATE, FM_PAGEMAP_MODE_SCAN };
static const ModeCase case_soft = { GUEST_POPULATE, FM_PAGEMAP_MODE_SOFT_DIRTY };

/* The guest's command loop; never returns. */
static void G_GNUC_NORETURN
guest_main(int sock, GuestFlags flags)
{
    gsize page = (gsize) sysconf(_SC_PAGESIZE);
    g_autoptr(GError) error = NULL;
    FmUffd *uffd = NULL;
    Hello hello = { 0 };
    guint8 *mem;

    /* One page more, unmapped again: a hole right after the region, for the test of
     * a region that is only partly mapped. */
    mem = mmap(NULL, GUEST_BYTES + page, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED || munmap(mem + GUEST_BYTES, page) < 0)
        _exit(2);
    if (flags & GUEST_HUGEPAGE)
        madvise(mem, GUEST_BYTES, MADV_HUGEPAGE);
    if (flags & GUEST_POPULATE)
        memset(mem, 0x5a, GUEST_BYTES / 2);
    if (flags & GUEST_REGISTER) {
        uffd = fm_uffd_register(mem, GUEST_BYTES, &error);
        if (!uffd) {
            hello.status = error->code ? error->code : -1;
            g_strlcpy(hello.message, error->message, sizeof(hello.message));
        }
    }
    hello.addr = (guint64) (guintptr) mem;
    hello.len = GUEST_BYTES;
    if (!fm_test_io_full(sock, &hello, sizeof(hello), TRUE))
        _exit(3);

    for (;;) {
        FmTestCmdHeader h;   /* n guint32 page numbers follow */
        g_autofree guint32 *list = NULL;
        gint32 reply = 0;

        if (!fm_test_child_next_cmd(sock, &h))
            _exit(0);   /* the parent is gone (a failed assertion): just leave */
        list = g_new(guint32, h.n + 1);
        if (!fm_test_io_full(sock, list, (gsize) h.n * sizeof(guint32), FALSE))
            _exit(4);

        switch (h.cmd) {
        case CMD_WRITE:
            for (guint32 i = 0; i < h.n; i++)
                ((volatile guint8 *) mem)[(gsize) list[i] * page + list[i] % 512] += 1;
            break;
        case CMD_READ: {
            /* Only the loads matter; the sink keeps them from being optimised out. */
            static volatile guint8 sink;

            for (guint32 i = 0; i < h.n; i++)
                sink += ((volatile guint8 *) mem)[(gsize) list[i] * page];
            break;
        }
        case CMD_KWRITE: {
            int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);

            for (guint32 i = 0; zero >= 0 && i < h.n; i++)
                if (read(zero, mem + (gsize) list[i] * page + 8, 8) != 8)
                    reply = 1;
            if (zero < 0)
                reply = 1;
            else
                close(zero);
            break;
        }
        case CMD_PROTECT:
            if (!uffd || h.n != 2 ||
                !fm_uffd_protect(uffd, mem + (gsize) list[0] * page,
                                 (gsize) list[1] * page, NULL))
                reply = 1;
            break;
        case CMD_EXIT:
        default:
            fm_uffd_free(uffd);
            _exit(0);
        }
        if (!fm_test_io_full(sock, &reply, sizeof(reply), TRUE))
            _exit(5);
    }
}

/* fm_test_child_fork()'s entry point: the guest with the flags in @data. */
static void
guest_child(int sock, gpointer data)
{
    guest_main(sock, (GuestFlags) GPOINTER_TO_UINT(data));
}

/* Forks a guest with @flags; returns it set up, or NULL with @message set to why its
 * registration failed (the guest is then gone). */
static Guest *
guest_start(GuestFlags flags, char **message)
{
    Guest *g = g_new0(Guest, 1);
    Hello hello;

    g->pid = fm_test_child_fork(guest_child, GUINT_TO_POINTER(flags), &g->sock,
                                &hello, sizeof(hello));
    g->addr = hello.addr;
    g->len = hello.len;
    g->page_size = (gsize) sysconf(_SC_PAGESIZE);
    g->n_pages = g->len / g->page_size;

    if (hello.status != 0) {
        *message = g_strdup(hello.message);
        fm_test_child_kill(g->pid, g->sock);
        g_free(g);
        return NULL;
    }
    return g;
}

/* Sends @cmd with @n page numbers and waits for the guest's answer; returns it. */
static gint32
guest_cmd(Guest *g, Cmd cmd, const guint32 *list, guint32 n)
{
    return fm_test_child_cmd(g->sock, cmd, list, n, sizeof(guint32));
}

/* Writes every page set in @pages. */
static void
guest_write(Guest *g, const FmBitmap *pages)
{
    g_autofree guint32 *list = g_new(guint32, fm_bitmap_count(pages) + 1);
    guint32 n = 0;

    for (gint64 b = fm_bitmap_next_set(pages, 0); b >= 0;
         b = fm_bitmap_next_set(pages, (guint64) b + 1))
        list[n++] = (guint32) b;
    g_assert_cmpint(guest_cmd(g, CMD_WRITE, list, n), ==, 0);
}

/* Tells the guest to exit and reaps it; checks it exited cleanly. */
static void
guest_stop(Guest *g)
{
    fm_test_child_exit(g->pid, g->sock, CMD_EXIT);
    g_free(g);
}

/* Skips the test unless @mode works on this kernel; returns TRUE if it does. */
static gboolean
require_mode(FmPagemapMode mode)
{
    g_autoptr(GError) error = NULL;

    if (mode == FM_PAGEMAP_MODE_SOFT_DIRTY) {
        if (!fm_pagemap_soft_dirty_available()) {
            g_test_skip("the kernel lacks soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY)");
            return FALSE;
        }
        return TRUE;
    }
    if (!fm_uffd_probe(&error)) {
        g_assert_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED);
        g_test_skip(error->message);
        return FALSE;
    }
    return TRUE;
}

/* Starts a guest for @mc and opens its pagemap; asserts the mode. */
static Guest *
guest_start_tracked(const ModeCase *mc, FmPagemap **pm)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *message = NULL;
    Guest *g = guest_start(mc->flags, &message);

    if (!g)
        g_error("guest registration failed although the kernel supports it: %s", message);
    *pm = fm_pagemap_open(g->pid, g->addr, g->len, g->page_size, &error);
    g_assert_no_error(error);
    g_assert_nonnull(*pm);
    g_assert_cmpint(fm_pagemap_mode(*pm), ==, mc->mode);
    g_assert_cmpuint(fm_pagemap_page_count(*pm), ==, g->n_pages);
    return g;
}

/* Asserts @got == @want, naming the first differing page. */
static void
assert_pages(const FmBitmap *got, const FmBitmap *want)
{
    if (!fm_bitmap_equal(got, want)) {
        for (guint64 i = 0; i < fm_bitmap_size(want); i++) {
            if (fm_bitmap_test(got, i) != fm_bitmap_test(want, i)) {
                g_test_message("page %" G_GUINT64_FORMAT ": got %d, want %d (%"
                               G_GUINT64_FORMAT " vs %" G_GUINT64_FORMAT " pages)",
                               i, fm_bitmap_test(got, i), fm_bitmap_test(want, i),
                               fm_bitmap_count(got), fm_bitmap_count(want));
                break;
            }
        }
    }
    g_assert_true(fm_bitmap_equal(got, want));
}

/* Harvests [@first, @first + @count) into a fresh bitmap and returns it. */
static FmBitmap *
harvest(FmPagemap *pm, guint64 first, guint64 count, gboolean clear)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmBitmap) got = fm_bitmap_new(fm_pagemap_page_count(pm));

    g_assert_true(fm_pagemap_harvest(pm, got, first, count, clear, &error));
    g_assert_no_error(error);
    return g_steal_pointer(&got);
}

/* Harvests everything and asserts it equals @want. */
static void
assert_harvest(FmPagemap *pm, gboolean clear, const FmBitmap *want)
{
    g_autoptr(FmBitmap) got = harvest(pm, 0, fm_pagemap_page_count(pm), clear);

    assert_pages(got, want);
}

/* Returns a random page set: @n_random scattered pages, a contiguous run, and every
 * other page of a stretch long enough that the kernel returns more regions than one
 * PAGEMAP_SCAN call can hold (so that the walk_end loop is exercised). */
static FmBitmap *
random_pages(guint64 n_pages, guint n_random, gboolean alternating)
{
    FmBitmap *set = fm_bitmap_new(n_pages);
    guint64 run = (guint64) g_test_rand_int_range(0, (gint32) (n_pages - 1000));

    for (guint i = 0; i < n_random; i++)
        fm_bitmap_set(set, (guint64) g_test_rand_int_range(0, (gint32) n_pages));
    fm_bitmap_set_range(set, run, 777);
    fm_bitmap_set(set, 0);
    fm_bitmap_set(set, n_pages - 1);
    if (alternating) {
        guint64 from = (guint64) g_test_rand_int_range(0, (gint32) (n_pages - 10001));

        for (guint64 i = 0; i < 10000; i += 2)
            fm_bitmap_set(set, from + i);
    }
    return set;
}

/* Written pages are reported exactly; a clearing harvest re-arms them. */
static void
test_exact(gconstpointer data)
{
    const ModeCase *mc = data;
    g_autoptr(FmPagemap) pm = NULL;
    g_autoptr(FmBitmap) none = NULL;
    g_autoptr(FmBitmap) a = NULL;
    g_autoptr(FmBitmap) b = NULL;
    Guest *g;

    if (!require_mode(mc->mode))
        return;
    g = guest_start_tracked(mc, &pm);
    none = fm_bitmap_new(g->n_pages);

    /* Pages written before registration (the populated half) do not count. */
    assert_harvest(pm, TRUE, none);

    a = random_pages(g->n_pages, 500, TRUE);
    guest_write(g, a);
    assert_harvest(pm, TRUE, a);
    assert_harvest(pm, TRUE, none);

    /* Writing twice in a round is one dirty page; other pages than before. */
    b = random_pages(g->n_pages, 300, FALSE);
    guest_write(g, b);
    guest_write(g, b);
    assert_harvest(pm, TRUE, b);
    assert_harvest(pm, TRUE, none);

    /* Harvesting ORs into what the caller already has. */
    guest_write(g, a);
    {
        g_autoptr(GError) error = NULL;
        g_autoptr(FmBitmap) got = fm_bitmap_copy(b);
        g_autoptr(FmBitmap) want = fm_bitmap_copy(b);

        fm_bitmap_or(want, a);
        g_assert_true(fm_pagemap_harvest(pm, got, 0, g->n_pages, TRUE, &error));
        g_assert_no_error(error);
        assert_pages(got, want);
    }
    guest_stop(g);
}

/* A harvest without clear only looks: twice the same answer, then the clear. */
static void
test_peek(gconstpointer data)
{
    const ModeCase *mc = data;
    g_autoptr(FmPagemap) pm = NULL;
    g_autoptr(FmBitmap) none = NULL;
    g_autoptr(FmBitmap) a = NULL;
    g_autoptr(FmBitmap) b = NULL;
    Guest *g;

    if (!require_mode(mc->mode))
        return;
    g = guest_start_tracked(mc, &pm);
    none = fm_bitmap_new(g->n_pages);
    assert_harvest(pm, TRUE, none);

    a = random_pages(g->n_pages, 400, TRUE);
    guest_write(g, a);
    assert_harvest(pm, FALSE, a);
    assert_harvest(pm, FALSE, a);

    /* A peek does not re-arm: more writes add to what is already written. */
    b = random_pages(g->n_pages, 50, FALSE);
    guest_write(g, b);
    fm_bitmap_or(b, a);
    assert_harvest(pm, FALSE, b);
    assert_harvest(pm, TRUE, b);
    assert_harvest(pm, FALSE, none);
    guest_stop(g);
}

/* A range harvest reports and re-arms only its range; the rest waits. */
static void
test_range(gconstpointer data)
{
    const ModeCase *mc = data;
    g_autoptr(FmPagemap) pm = NULL;
    g_autoptr(FmBitmap) none = NULL;
    g_autoptr(FmBitmap) a = NULL;
    g_autoptr(FmBitmap) inside = NULL;
    g_autoptr(FmBitmap) outside = NULL;
    g_autoptr(FmBitmap) got = NULL;
    guint64 first, count;
    Guest *g;

    if (!require_mode(mc->mode))
        return;
    g = guest_start_tracked(mc, &pm);
    none = fm_bitmap_new(g->n_pages);
    assert_harvest(pm, TRUE, none);

    /* Odd bounds (not word- or huge-page-aligned), with written pages on both sides
     * of each bound. */
    first = 3001;
    count = 5003;
    a = random_pages(g->n_pages, 600, TRUE);
    fm_bitmap_set_range(a, first - 2, 4);
    fm_bitmap_set_range(a, first + count - 2, 4);
    guest_write(g, a);

    inside = fm_bitmap_new(g->n_pages);
    fm_bitmap_set_range(inside, first, count);
    fm_bitmap_and(inside, a);
    outside = fm_bitmap_copy(a);
    fm_bitmap_and_not(outside, inside);
    g_assert_cmpuint(fm_bitmap_count(inside), >=, 4);

    /* A peek of the range, then its clearing harvest. */
    got = harvest(pm, first, count, FALSE);
    assert_pages(got, inside);
    g_clear_pointer(&got, fm_bitmap_free);
    got = harvest(pm, first, count, TRUE);
    assert_pages(got, inside);
    g_clear_pointer(&got, fm_bitmap_free);
    got = harvest(pm, first, count, TRUE);
    assert_pages(got, none);
    g_clear_pointer(&got, fm_bitmap_free);

    /* The pages outside were left for later, whole. */
    assert_harvest(pm, FALSE, outside);
    /* A one-page range at the very end, then the rest. */
    got = harvest(pm, g->n_pages - 1, 1, TRUE);
    g_assert_cmpuint(fm_bitmap_count(got), ==, 1);
    g_assert_true(fm_bitmap_test(got, g->n_pages - 1));
    g_clear_pointer(&got, fm_bitmap_free);
    fm_bitmap_clear(outside, g->n_pages - 1);
    assert_harvest(pm, TRUE, outside);
    assert_harvest(pm, TRUE, none);
    guest_stop(g);
}

/* Pages never touched are tracked from registration on: neither their absence nor a
 * read (which maps the zero page) reads as written, a first write does. */
static void
test_unpopulated(void)
{
    g_autoptr(FmPagemap) pm = NULL;
    g_autoptr(FmBitmap) none = NULL;
    g_autoptr(FmBitmap) a = NULL;
    g_autoptr(FmBitmap) b = NULL;
    ModeCase mc = { GUEST_REGISTER, FM_PAGEMAP_MODE_SCAN };
    g_autofree guint32 *list = NULL;
    guint32 n = 0;
    Guest *g;

    if (!require_mode(mc.mode))
        return;
    g = guest_start_tracked(&mc, &pm);
    none = fm_bitmap_new(g->n_pages);
    assert_harvest(pm, FALSE, none);
    assert_harvest(pm, TRUE, none);

    /* Read every other page of the first quarter. */
    list = g_new(guint32, g->n_pages / 8 + 1);
    for (guint64 i = 0; i < g->n_pages / 4; i += 2)
        list[n++] = (guint32) i;
    g_assert_cmpint(guest_cmd(g, CMD_READ, list, n), ==, 0);
    assert_harvest(pm, FALSE, none);

    /* Write some read pages and some never-touched ones. */
    a = fm_bitmap_new(g->n_pages);
    for (guint64 i = 0; i < g->n_pages / 4; i += 6)
        fm_bitmap_set(a, i);
    fm_bitmap_set_range(a, g->n_pages / 2 + 1, 513);
    fm_bitmap_set(a, g->n_pages - 1);
    guest_write(g, a);
    assert_harvest(pm, TRUE, a);
    assert_harvest(pm, TRUE, none);

    /* Once populated, they are re-armed like any page. */
    b = fm_bitmap_new(g->n_pages);
    fm_bitmap_set(b, 6);
    fm_bitmap_set(b, g->n_pages / 2 + 100);
    guest_write(g, b);
    assert_harvest(pm, TRUE, b);
    guest_stop(g);
}

/* Returns the KiB of the guest's memory backed by transparent huge pages. */
static guint64
guest_huge_kib(Guest *g)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/smaps_rollup", (int) g->pid);
    g_autofree char *text = NULL;
    const char *line;

    if (!g_file_get_contents(path, &text, NULL, NULL) ||
        !(line = strstr(text, "AnonHugePages:")))
        return 0;
    return g_ascii_strtoull(line + strlen("AnonHugePages:"), NULL, 10);
}

/* Writes by the kernel on the guest's behalf (a read() into its memory) count too:
 * the userfaultfd is user-mode-only where the kernel allows, but async write-protect
 * faults are resolved before that matters. */
static void
test_kernel_write(void)
{
    g_autoptr(FmPagemap) pm = NULL;
    g_autoptr(FmBitmap) none = NULL;
    g_autoptr(FmBitmap) a = NULL;
    ModeCase mc = { GUEST_REGISTER | GUEST_POPULATE, FM_PAGEMAP_MODE_SCAN };
    guint32 list[4];
    Guest *g;

    if (!require_mode(mc.mode))
        return;
    g = guest_start_tracked(&mc, &pm);
    none = fm_bitmap_new(g->n_pages);
    assert_harvest(pm, TRUE, none);

    /* Two populated pages, two never touched. */
    list[0] = 5;
    list[1] = (guint32) (g->n_pages / 2 - 1);
    list[2] = (guint32) (g->n_pages / 2 + 7);
    list[3] = (guint32) (g->n_pages - 2);
    g_assert_cmpint(guest_cmd(g, CMD_KWRITE, list, G_N_ELEMENTS(list)), ==, 0);
    a = fm_bitmap_new(g->n_pages);
    for (guint i = 0; i < G_N_ELEMENTS(list); i++)
        fm_bitmap_set(a, list[i]);
    assert_harvest(pm, TRUE, a);
    assert_harvest(pm, TRUE, none);
    guest_stop(g);
}

/* Transparent huge pages: a write to one small page of a huge page reports that page
 * only (the kernel splits a write-protected huge page on its first write). */
static void
test_hugepage(void)
{
    g_autoptr(FmPagemap) pm = NULL;
    g_autoptr(FmBitmap) none = NULL;
    g_autoptr(FmBitmap) a = NULL;
    g_autofree char *thp = NULL;
    ModeCase mc = { GUEST_REGISTER | GUEST_POPULATE | GUEST_HUGEPAGE, FM_PAGEMAP_MODE_SCAN };
    Guest *g;

    if (!require_mode(mc.mode))
        return;
    if (!g_file_get_contents("/sys/kernel/mm/transparent_hugepage/enabled", &thp, NULL, NULL) ||
        strstr(thp, "[never]")) {
        g_test_skip("transparent huge pages are disabled");
        return;
    }
    g = guest_start_tracked(&mc, &pm);
    if (guest_huge_kib(g) == 0) {
        /* madvise is a hint: with fragmented memory there may be none. */
        guest_stop(g);
        g_test_skip("the kernel gave the guest no transparent huge pages");
        return;
    }
    none = fm_bitmap_new(g->n_pages);
    assert_harvest(pm, TRUE, none);

    a = random_pages(g->n_pages, 200, FALSE);
    guest_write(g, a);
    assert_harvest(pm, TRUE, a);
    assert_harvest(pm, TRUE, none);
    guest_stop(g);
}

/* The guest can re-protect its own pages: they read as not written again. */
static void
test_guest_protect(void)
{
    g_autoptr(FmPagemap) pm = NULL;
    g_autoptr(FmBitmap) a = NULL;
    g_autoptr(FmBitmap) none = NULL;
    ModeCase mc = { GUEST_REGISTER | GUEST_POPULATE, FM_PAGEMAP_MODE_SCAN };
    guint32 range[2] = { 100, 1000 };
    Guest *g;

    if (!require_mode(mc.mode))
        return;
    g = guest_start_tracked(&mc, &pm);
    none = fm_bitmap_new(g->n_pages);
    assert_harvest(pm, TRUE, none);

    a = random_pages(g->n_pages, 300, FALSE);
    fm_bitmap_set_range(a, 90, 30);
    guest_write(g, a);
    g_assert_cmpint(guest_cmd(g, CMD_PROTECT, range, 2), ==, 0);
    fm_bitmap_clear_range(a, range[0], range[1]);
    assert_harvest(pm, TRUE, a);
    guest_stop(g);
}

/* fm_uffd_register() errors: memory that is not mapped, a range already registered;
 * and a region can be registered again once freed. */
static void
test_uffd_errors(void)
{
    g_autoptr(GError) error = NULL;
    gsize page = (gsize) sysconf(_SC_PAGESIZE);
    FmUffd *uffd;
    FmUffd *again;
    void *mem;

    if (!require_mode(FM_PAGEMAP_MODE_SCAN))
        return;

    mem = mmap(NULL, 16 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert_true(mem != MAP_FAILED);
    g_assert_cmpint(munmap((guint8 *) mem + 8 * page, 8 * page), ==, 0);

    /* Nothing is mapped there. */
    g_assert_null(fm_uffd_register((guint8 *) mem + 8 * page, 8 * page, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(error->message, "nothing is mapped"));
    g_clear_error(&error);

    uffd = fm_uffd_register(mem, 8 * page, &error);
    g_assert_no_error(error);
    g_assert_nonnull(uffd);
    g_assert_true(fm_uffd_addr(uffd) == mem);
    g_assert_cmpuint(fm_uffd_len(uffd), ==, 8 * page);

    again = fm_uffd_register(mem, 8 * page, &error);
    g_assert_null(again);
    g_assert_error(error, FM_ERROR, FM_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "already registered"));
    g_clear_error(&error);

    /* Tracked memory stays ordinary memory for its owner. */
    ((volatile guint8 *) mem)[3 * page] = 7;
    g_assert_cmpint(((volatile guint8 *) mem)[3 * page], ==, 7);
    g_assert_true(fm_uffd_protect(uffd, (guint8 *) mem + 2 * page, 2 * page, &error));
    g_assert_no_error(error);
    g_assert_true(fm_uffd_protect(uffd, mem, 0, &error));
    fm_uffd_free(uffd);

    again = fm_uffd_register(mem, 8 * page, &error);
    g_assert_no_error(error);
    g_assert_nonnull(again);
    fm_uffd_free(again);
    fm_uffd_free(NULL);
    munmap(mem, 8 * page);
}

/* fm_pagemap_open() errors: no such process, a region the process does not map, a
 * wrong page size or region; a guest that exits under a harvest. */
static void
test_open_errors(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmPagemap) pm = NULL;
    g_autoptr(FmBitmap) dirty = NULL;
    ModeCase mc = { GUEST_REGISTER, FM_PAGEMAP_MODE_SCAN };
    gsize page = (gsize) sysconf(_SC_PAGESIZE);
    pid_t dead;
    int status;
    Guest *g;

    /* A reaped child's pid names no process (until it is reused: not within this). */
    dead = fork();
    g_assert_cmpint(dead, >=, 0);
    if (dead == 0)
        _exit(0);
    g_assert_cmpint(waitpid(dead, &status, 0), ==, dead);
    g_assert_null(fm_pagemap_open(dead, 0x100000, 16 * page, page, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_assert_nonnull(strstr(error->message, "no process"));
    g_clear_error(&error);

    g_assert_null(fm_pagemap_open(-1, 0x100000, 16 * page, page, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_clear_error(&error);

    if (!require_mode(mc.mode))
        return;
    g = guest_start_tracked(&mc, &pm);

    /* Around the region: unaligned, wrong page size, not mapped, partly mapped. */
    g_assert_null(fm_pagemap_open(g->pid, g->addr + 1, g->len - page, page, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_clear_error(&error);
    g_assert_null(fm_pagemap_open(g->pid, g->addr, g->len, page * 2, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_clear_error(&error);
    g_assert_null(fm_pagemap_open(g->pid, page, 16 * page, page, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_assert_nonnull(strstr(error->message, "does not map"));
    g_clear_error(&error);
    g_assert_null(fm_pagemap_open(g->pid, g->addr + g->len - page, 2 * page, page,
                                  &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_assert_nonnull(strstr(error->message, "does not map"));
    g_clear_error(&error);

    /* A sub-range of the region is fine. */
    {
        g_autoptr(FmPagemap) sub = fm_pagemap_open(g->pid, g->addr + page, 8 * page, page,
                                                   &error);

        g_assert_no_error(error);
        g_assert_cmpuint(fm_pagemap_page_count(sub), ==, 8);
    }

    /* The guest exits: the next harvest fails instead of reporting "nothing". */
    dirty = fm_bitmap_new(g->n_pages);
    guest_stop(g);
    g_assert_false(fm_pagemap_harvest(pm, dirty, 0, fm_bitmap_size(dirty), TRUE, &error));
    g_assert_error(error, FM_ERROR, FM_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "no longer"));
}

/* A guest that did not register: soft-dirty where the kernel has it, otherwise a
 * clear "unsupported" error that says what is missing. */
static void
test_unregistered(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmPagemap) pm = NULL;
    g_autofree char *message = NULL;
    Guest *g = guest_start(GUEST_POPULATE, &message);

    g_assert_nonnull(g);
    pm = fm_pagemap_open(g->pid, g->addr, g->len, g->page_size, &error);
    if (fm_pagemap_soft_dirty_available()) {
        g_assert_no_error(error);
        g_assert_cmpint(fm_pagemap_mode(pm), ==, FM_PAGEMAP_MODE_SOFT_DIRTY);
    } else {
        g_assert_null(pm);
        g_assert_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED);
        g_assert_nonnull(strstr(error->message, "CONFIG_MEM_SOFT_DIRTY"));
        g_assert_nonnull(strstr(error->message, "6.7"));
        g_test_message("%s", error->message);
    }
    guest_stop(g);
}

/* Mode names. */
static void
test_mode_names(void)
{
    g_assert_cmpstr(fm_pagemap_mode_to_string(FM_PAGEMAP_MODE_SCAN), ==, "pagemap-scan");
    g_assert_cmpstr(fm_pagemap_mode_to_string(FM_PAGEMAP_MODE_SOFT_DIRTY), ==, "soft-dirty");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/dirty/mode-names", test_mode_names);
    g_test_add_data_func("/dirty/scan/exact", &case_scan, test_exact);
    g_test_add_data_func("/dirty/scan/peek", &case_scan, test_peek);
    g_test_add_data_func("/dirty/scan/range", &case_scan, test_range);
    g_test_add_func("/dirty/scan/unpopulated", test_unpopulated);
    g_test_add_func("/dirty/scan/kernel-write", test_kernel_write);
    g_test_add_func("/dirty/scan/hugepage", test_hugepage);
    g_test_add_func("/dirty/scan/guest-protect", test_guest_protect);
    g_test_add_data_func("/dirty/soft-dirty/exact", &case_soft, test_exact);
    g_test_add_data_func("/dirty/soft-dirty/peek", &case_soft, test_peek);
    g_test_add_data_func("/dirty/soft-dirty/range", &case_soft, test_range);
    g_test_add_func("/dirty/uffd-errors", test_uffd_errors);
    g_test_add_func("/dirty/open-errors", test_open_errors);
    g_test_add_func("/dirty/unregistered", test_unregistered);

    return g_test_run();
}
