/*
 * harvest.c: benchmark of the local backend's dirty tracking (fm-uffd, fm-pagemap).
 *
 * A forked child plays the guest: it maps a region (1 GiB by default), writes all of
 * it, and obeys commands from a socketpair, timing its own work.  The parent plays the
 * migration source.  Printed: the cost of registering (write-protecting everything),
 * of a get-and-clear harvest of the whole region with nothing, 1 % and everything
 * dirty, and of one 2 MiB fragment; and the mutator slowdown, the time to write every
 * page with tracking off and on (with tracking on, every page was re-armed just
 * before, so every first write takes a write-protect fault).  Every figure is the
 * median of several runs.
 *
 * Usage: harvest [MiB [runs]]
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "backend/local/fm-pagemap.h"
#include "backend/local/fm-uffd.h"
#include "tests/fm-test-util.h"
#include "util/fm-bitmap.h"
#include "util/fm-error.h"

typedef enum {
    CMD_REGISTER = 1,   /* fm_uffd_register() the region; answers its time */
    CMD_UNREGISTER,     /* fm_uffd_free() */
    CMD_TOUCH_ALL,      /* one store in every page; answers the time */
    CMD_MEMSET_ALL,     /* rewrite every byte; answers the time */
    CMD_WRITE_LIST,     /* one store in each listed page */
    CMD_EXIT,
} Cmd;

typedef struct {
    guint32 cmd;
    guint32 n;          /* number of guint32 page numbers that follow */
} CmdHeader;

typedef struct {
    gint64 ns;          /* time the command took in the guest, or -1 on failure */
} Reply;

typedef struct {
    pid_t pid;
    int sock;
    guint64 addr;
    guint64 len;
} Guest;

/* Returns the CLOCK_MONOTONIC time in nanoseconds. */
static gint64
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (gint64) ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec;
}

/* The guest: maps and fills @len bytes, then obeys commands; never returns. */
static void G_GNUC_NORETURN
guest_main(int sock, gsize len)
{
    gsize page = (gsize) sysconf(_SC_PAGESIZE);
    FmUffd *uffd = NULL;
    guint8 fill = 1;
    guint64 addr;
    guint8 *mem;

    mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        _exit(2);
    memset(mem, 0x5a, len);
    addr = (guint64) (guintptr) mem;
    if (!fm_test_io_full(sock, &addr, sizeof(addr), TRUE))
        _exit(3);

    for (;;) {
        g_autoptr(GError) error = NULL;
        g_autofree guint32 *list = NULL;
        CmdHeader h;
        Reply r = { 0 };
        gint64 t0;

        if (!fm_test_io_full(sock, &h, sizeof(h), FALSE))
            _exit(0);
        list = g_new(guint32, h.n + 1);
        if (!fm_test_io_full(sock, list, (gsize) h.n * sizeof(guint32), FALSE))
            _exit(4);

        t0 = now_ns();
        switch (h.cmd) {
        case CMD_REGISTER:
            uffd = fm_uffd_register(mem, len, &error);
            if (!uffd) {
                fprintf(stderr, "harvest: %s\n", error->message);
                r.ns = -1;
            }
            break;
        case CMD_UNREGISTER:
            g_clear_pointer(&uffd, fm_uffd_free);
            break;
        case CMD_TOUCH_ALL:
            for (gsize off = 0; off < len; off += page)
                ((volatile guint8 *) mem)[off] += 1;
            break;
        case CMD_MEMSET_ALL:
            memset(mem, fill++, len);
            break;
        case CMD_WRITE_LIST:
            for (guint32 i = 0; i < h.n; i++)
                ((volatile guint8 *) mem)[(gsize) list[i] * page] += 1;
            break;
        case CMD_EXIT:
        default:
            fm_uffd_free(uffd);
            _exit(0);
        }
        if (r.ns == 0)
            r.ns = now_ns() - t0;
        if (!fm_test_io_full(sock, &r, sizeof(r), TRUE))
            _exit(5);
    }
}

/* Sends @cmd with @n page numbers; returns the guest's time for it in ns (exits the
 * program if the guest failed). */
static gint64
guest_cmd(Guest *g, Cmd cmd, const guint32 *list, guint32 n)
{
    CmdHeader h = { cmd, n };
    Reply r;

    if (!fm_test_io_full(g->sock, &h, sizeof(h), TRUE) ||
        !fm_test_io_full(g->sock, (void *) list, (gsize) n * sizeof(guint32), TRUE) ||
        !fm_test_io_full(g->sock, &r, sizeof(r), FALSE) || r.ns < 0) {
        fprintf(stderr, "harvest: the guest failed command %d\n", (int) cmd);
        exit(1);
    }
    return r.ns;
}

/* qsort() order of gint64 values. */
static int
cmp_i64(const void *a, const void *b)
{
    gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

    return (x > y) - (x < y);
}

/* Returns the median of @v[0..@n) (sorts @v). */
static gint64
median(gint64 *v, guint n)
{
    qsort(v, n, sizeof(*v), cmp_i64);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Times one get-and-clear harvest of [@first, @first + @count); returns ns and stores
 * the number of pages found in *@found.  Exits on failure. */
static gint64
time_harvest(FmPagemap *pm, FmBitmap *dirty, guint64 first, guint64 count, guint64 *found)
{
    g_autoptr(GError) error = NULL;
    gint64 t0, t;

    fm_bitmap_clear_all(dirty);
    t0 = now_ns();
    if (!fm_pagemap_harvest(pm, dirty, first, count, TRUE, &error)) {
        fprintf(stderr, "harvest: %s\n", error->message);
        exit(1);
    }
    t = now_ns() - t0;
    *found = fm_bitmap_count(dirty);
    return t;
}

/* Prints one timing line of the table. */
static void
print_row(const char *what, gint64 ns, const char *note)
{
    printf("%-44s %12.3f ms   %s\n", what, ns / 1e6, note);
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmPagemap) pm = NULL;
    g_autoptr(FmBitmap) dirty = NULL;
    g_autofree gint64 *v = NULL;
    g_autofree guint32 *list = NULL;
    g_autofree char *thp = NULL;
    gsize page = (gsize) sysconf(_SC_PAGESIZE);
    guint64 mib = argc > 1 ? g_ascii_strtoull(argv[1], NULL, 10) : 1024;
    guint runs = argc > 2 ? (guint) g_ascii_strtoull(argv[2], NULL, 10) : 7;
    guint64 n_pages, n_list, found = 0;
    gint64 touch_off, touch_on, memset_off, memset_on;
    GRand *rand;
    Guest g = { 0 };
    int sv[2];
    int status;

    if (mib == 0 || runs == 0 || mib > 1024 * 1024) {
        fprintf(stderr, "usage: harvest [MiB [runs]]\n");
        return 2;
    }
    g.len = mib << 20;
    n_pages = g.len / page;
    v = g_new(gint64, runs);
    list = g_new(guint32, n_pages);
    dirty = fm_bitmap_new(n_pages);
    rand = g_rand_new_with_seed(42);

    if (!fm_uffd_probe(&error)) {
        fprintf(stderr, "harvest: %s\n", error->message);
        return 77;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || (g.pid = fork()) < 0) {
        perror("harvest");
        return 1;
    }
    if (g.pid == 0) {
        close(sv[0]);
        guest_main(sv[1], g.len);
    }
    close(sv[1]);
    g.sock = sv[0];
    if (!fm_test_io_full(g.sock, &g.addr, sizeof(g.addr), FALSE)) {
        fprintf(stderr, "harvest: the guest could not map %" G_GUINT64_FORMAT " MiB\n", mib);
        return 1;
    }
    if (g_file_get_contents("/sys/kernel/mm/transparent_hugepage/enabled", &thp, NULL, NULL))
        g_strstrip(thp);

    printf("region %" G_GUINT64_FORMAT " MiB = %" G_GUINT64_FORMAT " pages of %zu bytes, "
           "all written before tracking; median of %u runs; THP: %s\n\n",
           mib, n_pages, page, runs, thp ? thp : "?");

    /* Mutator with tracking off (the region is already populated). */
    for (guint i = 0; i < runs; i++)
        v[i] = guest_cmd(&g, CMD_TOUCH_ALL, NULL, 0);
    touch_off = median(v, runs);
    for (guint i = 0; i < runs; i++)
        v[i] = guest_cmd(&g, CMD_MEMSET_ALL, NULL, 0);
    memset_off = median(v, runs);

    /* Registration: userfaultfd setup + write-protecting every populated page. */
    for (guint i = 0; i < runs; i++) {
        v[i] = guest_cmd(&g, CMD_REGISTER, NULL, 0);
        if (i + 1 < runs)
            guest_cmd(&g, CMD_UNREGISTER, NULL, 0);
    }
    print_row("register + write-protect all", median(v, runs), "(guest side)");

    {
        gint64 t0 = now_ns();

        pm = fm_pagemap_open(g.pid, g.addr, g.len, page, &error);
        if (!pm) {
            fprintf(stderr, "harvest: %s\n", error->message);
            return 1;
        }
        print_row("fm_pagemap_open (probe walk)", now_ns() - t0,
                  fm_pagemap_mode_to_string(fm_pagemap_mode(pm)));
    }

    /* Get-and-clear harvests of the whole region. */
    time_harvest(pm, dirty, 0, n_pages, &found);
    for (guint i = 0; i < runs; i++)
        v[i] = time_harvest(pm, dirty, 0, n_pages, &found);
    print_row("harvest all, nothing dirty", median(v, runs),
              found == 0 ? "found 0" : "WRONG COUNT");

    n_list = n_pages / 100;
    for (guint i = 0; i < runs; i++) {
        g_autoptr(FmBitmap) want = fm_bitmap_new(n_pages);
        guint32 n = 0;

        for (guint64 k = 0; k < n_list; k++)
            fm_bitmap_set(want, (guint64) g_rand_int_range(rand, 0, (gint32) n_pages));
        for (gint64 b = fm_bitmap_next_set(want, 0); b >= 0;
             b = fm_bitmap_next_set(want, (guint64) b + 1))
            list[n++] = (guint32) b;
        guest_cmd(&g, CMD_WRITE_LIST, list, n);
        v[i] = time_harvest(pm, dirty, 0, n_pages, &found);
        if (!fm_bitmap_equal(dirty, want)) {
            fprintf(stderr, "harvest: the 1 %% harvest is wrong\n");
            return 1;
        }
    }
    print_row("harvest all, 1 % dirty (scattered)", median(v, runs), "exact set checked");

    for (guint i = 0; i < runs; i++) {
        guest_cmd(&g, CMD_TOUCH_ALL, NULL, 0);
        v[i] = time_harvest(pm, dirty, 0, n_pages, &found);
        if (found != n_pages) {
            fprintf(stderr, "harvest: found %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                    " pages\n", found, n_pages);
            return 1;
        }
    }
    print_row("harvest all, 100 % dirty", median(v, runs), "found all");

    /* One 2 MiB fragment (the per-fragment re-iteration of docs/design.md section 3). */
    {
        guint64 frag = (2u << 20) / page;
        guint64 first = n_pages / 2 / frag * frag;

        for (guint i = 0; i < runs; i++)
            v[i] = time_harvest(pm, dirty, first, frag, &found);
        print_row("harvest one 2 MiB fragment, nothing dirty", median(v, runs), "");
        for (guint i = 0; i < runs; i++) {
            guest_cmd(&g, CMD_TOUCH_ALL, NULL, 0);
            v[i] = time_harvest(pm, dirty, first, frag, &found);
        }
        print_row("harvest one 2 MiB fragment, all dirty", median(v, runs),
                  found == frag ? "found all" : "WRONG COUNT");
        time_harvest(pm, dirty, 0, n_pages, &found);
    }

    /* Mutator with tracking on: every page re-armed before each pass. */
    for (guint i = 0; i < runs; i++) {
        time_harvest(pm, dirty, 0, n_pages, &found);
        v[i] = guest_cmd(&g, CMD_TOUCH_ALL, NULL, 0);
    }
    touch_on = median(v, runs);
    for (guint i = 0; i < runs; i++) {
        time_harvest(pm, dirty, 0, n_pages, &found);
        v[i] = guest_cmd(&g, CMD_MEMSET_ALL, NULL, 0);
    }
    memset_on = median(v, runs);

    printf("\nmutator: write every page once          tracking off   tracking on   slowdown\n");
    printf("  one store per page                    %9.3f ms  %9.3f ms   x %.1f  (%.0f ns/page fault)\n",
           touch_off / 1e6, touch_on / 1e6, (double) touch_on / touch_off,
           (double) (touch_on - touch_off) / n_pages);
    printf("  memset of every byte                  %9.3f ms  %9.3f ms   x %.2f\n",
           memset_off / 1e6, memset_on / 1e6, (double) memset_on / memset_off);

    guest_cmd(&g, CMD_UNREGISTER, NULL, 0);
    {
        CmdHeader h = { CMD_EXIT, 0 };

        fm_test_io_full(g.sock, &h, sizeof(h), TRUE);
    }
    waitpid(g.pid, &status, 0);
    g_rand_free(rand);
    return 0;
}
