/*
 * sockperf.c: the receiver's throughput against a raw loopback TCP socket that
 * fills the same kind of memory, the limit a local live migration (bench/local) is
 * compared with.
 *
 * A sender thread sends SIZE bytes of pages over one TCP connection on 127.0.0.1 to
 * a receiver thread that puts them into destination memory of one of three kinds:
 *  - "fresh": anonymous memory mapped for the run, small pages: the first write to
 *    each 4 KiB page is a fault and the kernel zeroes it;
 *  - "huge": the same with transparent huge pages requested (MADV_HUGEPAGE), one
 *    fault per 2 MiB where the kernel grants them;
 *  - "reused": memory faulted in before the clock starts, as a buffer used before.
 * Into each, three ways of receiving:
 *  - "raw": recv() straight into the destination, nothing else: the limit;
 *  - "engine": the migration stream as the receiver reads it: FmStreamWriter sends
 *    PAGE_DATA records of 1024 pages (the engine's batch) over FmChannel, hashing
 *    each page as it goes (the source keeps page hashes for the digest);
 *    FmStreamReader puts the pages in place and FmReceiverMemory hashes them, as
 *    fragmig receive does; the page-table digest is taken at the end;
 *  - "engine-copy": the same, but the reader reads each record into its buffer and
 *    the pages are copied into place afterwards (fragmig before the in-place read).
 * Every run takes a fresh connection and fresh memory; the RUNS rounds interleave
 * the nine combinations, so that a change in the machine's load hits all of them.
 * Time runs from the first byte sent to the last byte in place; CPU time is each
 * thread's own (CLOCK_THREAD_CPUTIME_ID), kernel time included.
 *
 * Usage: sockperf [SIZE [RUNS]]   (defaults: 1G 5)
 * Prints, for scripts, lines
 *   result DEST METHOD GBIT_MEDIAN GBIT_MIN GBIT_MAX SEND_CPU_S_PER_GIB RECV_CPU_S_PER_GIB
 *   ratio DEST METHOD/raw MEDIAN MIN MAX      (per round, the same round's raw)
 * the CPU figures being medians.
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
#include <poll.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "receiver/fm-receiver-memory.h"
#include "stream/fm-stream.h"
#include "transport/fm-channel.h"
#include "util/fm-digest.h"
#include "util/fm-units.h"

#define SOCKPERF_TIMEOUT 60.0
#define SOCKPERF_PAGE 4096u
#define SOCKPERF_BATCH 1024u
/* the sender's pages cycle through this much distinct content */
#define SOCKPERF_SOURCE ((gsize)64 << 20)
#define SOCKPERF_MAX_RUNS 101

typedef enum { M_RAW, M_ENGINE, M_ENGINE_COPY, M_LAST } Method;
static const char *const method_names[] = { "raw", "engine", "engine-copy" };
G_STATIC_ASSERT(G_N_ELEMENTS(method_names) == M_LAST);

static const struct {
    const char *name;
    FmReceiverPlacement placement;
} dests[] = {
    { "fresh", FM_RECEIVER_PLACEMENT_SMALL },
    { "huge", FM_RECEIVER_PLACEMENT_HUGE },
    { "reused", FM_RECEIVER_PLACEMENT_POPULATED },
};
#define N_DESTS G_N_ELEMENTS(dests)

/* One run, shared by the two threads: the receiver owns @recv_fd and writes the
 * fields below it; the sender reads them after joining. */
typedef struct {
    Method method;
    FmReceiverMemory *mem;     /* destination, mapped before the clock starts */
    guint64 size;
    int recv_fd;
    guint64 received;
    gint64 end_ns;
    double cpu;                /* receiver thread's CPU seconds */
    char *error;               /* owned */
} Run;

/* Returns @clock in nanoseconds. */
static gint64
clock_ns(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (gint64) ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec;
}

/* The raw receiver: recv() into the destination until end of file. */
static void
receive_raw(Run *run)
{
    guint8 *dst = fm_receiver_memory_get_region(run->mem);
    gsize raw_chunk = (gsize) SOCKPERF_BATCH * SOCKPERF_PAGE;

    /* non-blocking with poll(), as FmChannel reads: the two differ only in what
     * they do with the bytes */
    fcntl(run->recv_fd, F_SETFL, fcntl(run->recv_fd, F_GETFL) | O_NONBLOCK);

    for (;;) {
        gsize room = run->size - run->received;
        /* at most a batch per call, as the engine reads at most a run of pages */
        ssize_t n = recv(run->recv_fd, dst + run->received,
                         room ? MIN(room, raw_chunk) : 1, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pfd = { .fd = run->recv_fd, .events = POLLIN };

            (void) poll(&pfd, 1, (int) (SOCKPERF_TIMEOUT * 1000));
            continue;
        }
        if (n < 0) {
            run->error = g_strdup_printf("recv: %s", g_strerror(errno));
            return;
        }
        if (n == 0)
            return;
        if (room == 0) {
            run->error = g_strdup("more bytes than announced");
            return;
        }
        run->received += (guint64) n;
    }
}

/* The engine's receiver: the stream into the destination until END. */
static void
receive_engine(Run *run, FmChannel *channel)
{
    g_autoptr(GError) error = NULL;
    FmStreamReader *reader = fm_stream_reader_new(channel, run->size);
    guint8 digest[FM_DIGEST_SIZE];
    FmStreamRecord rec;

    if (!fm_stream_reader_read_header(reader, &error))
        goto out;
    if (run->method == M_ENGINE)
        fm_stream_reader_set_page_memory(reader, fm_receiver_memory_get_region(run->mem));
    while (fm_stream_reader_next(reader, &rec, &error)) {
        if (rec.type == FM_RECORD_PAGE_DATA) {
            fm_receiver_memory_store(run->mem, &rec.pages);
            run->received += (guint64) rec.pages.count * SOCKPERF_PAGE;
        } else if (rec.type == FM_RECORD_END) {
            break;
        }
    }
    fm_receiver_memory_page_digest(run->mem, digest);
out:
    if (error)
        run->error = g_strdup(error->message);
    fm_stream_reader_free(reader);
}

/* The receiver thread; returns NULL. */
static gpointer
receiver_main(gpointer data)
{
    Run *run = data;
    gint64 cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);

    if (run->method == M_RAW) {
        receive_raw(run);
        close(run->recv_fd);
    } else {
        g_autoptr(GError) error = NULL;
        g_autoptr(FmChannel) channel = fm_channel_new_from_fd(run->recv_fd, &error);

        if (channel == NULL) {
            close(run->recv_fd);
            run->error = g_strdup(error->message);
            return NULL;
        }
        fm_channel_set_timeout(channel, SOCKPERF_TIMEOUT);
        receive_engine(run, channel);
    }
    run->end_ns = clock_ns(CLOCK_MONOTONIC);
    run->cpu = (clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0) / 1e9;
    return NULL;
}

/* Makes a connected pair of loopback TCP sockets; FALSE after printing why. */
static gboolean
tcp_pair(int *send_fd, int *recv_fd)
{
    struct sockaddr_in addr = { 0 };
    socklen_t len = sizeof(addr);
    int listen_fd;

    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    *send_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0 || *send_fd < 0 ||
        bind(listen_fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 ||
        listen(listen_fd, 1) < 0 ||
        getsockname(listen_fd, (struct sockaddr *) &addr, &len) < 0 ||
        connect(*send_fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 ||
        (*recv_fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
        fprintf(stderr, "sockperf: loopback connection: %s\n", g_strerror(errno));
        return FALSE;
    }
    close(listen_fd);
    return TRUE;
}

/* The raw sender: @size bytes cycling through @src; FALSE after printing why. */
static gboolean
send_raw(int fd, const guint8 *src, guint64 size)
{
    for (guint64 sent = 0; sent < size;) {
        gsize off = (gsize) (sent % SOCKPERF_SOURCE);
        gsize chunk = (gsize) MIN((guint64) (SOCKPERF_SOURCE - off), size - sent);
        ssize_t n = send(fd, src + off, MIN(chunk, (gsize) SOCKPERF_BATCH * SOCKPERF_PAGE),
                         MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "sockperf: send: %s\n", g_strerror(errno));
            return FALSE;
        }
        sent += (guint64) n;
    }
    return TRUE;
}

/* The engine's sender: the pages of @size bytes in order, in batches, each page
 * hashed as the source does; FALSE after printing why. */
static gboolean
send_engine(FmChannel *channel, const guint8 *src, guint64 size, guint64 *hashes)
{
    g_autoptr(GError) error = NULL;
    FmStreamWriter *writer = fm_stream_writer_new(channel);
    guint64 pages = size / SOCKPERF_PAGE;
    guint64 pfns[SOCKPERF_BATCH];
    gboolean ok = fm_stream_writer_write_header(writer, pages, SOCKPERF_PAGE, &error);

    for (guint64 first = 0; ok && first < pages; first += SOCKPERF_BATCH) {
        gsize n = (gsize) MIN((guint64) SOCKPERF_BATCH, pages - first);
        const guint8 *data = src + (gsize) ((first * SOCKPERF_PAGE) % SOCKPERF_SOURCE);

        for (gsize i = 0; i < n; i++) {
            pfns[i] = first + i;
            hashes[first + i] = fm_digest_page(data + i * SOCKPERF_PAGE, SOCKPERF_PAGE);
        }
        ok = fm_stream_writer_write_pages(writer, pfns, n, data, &error);
    }
    ok = ok && fm_stream_writer_write_end(writer, &error);
    if (!ok)
        fprintf(stderr, "sockperf: %s\n", error->message);
    fm_stream_writer_free(writer);
    return ok;
}

/* One run of @method into @dest: fills *@gbit and the two sides' CPU seconds.
 * FALSE after printing why. */
static gboolean
run_once(Method method, guint dest, guint64 size, const guint8 *src, guint64 *hashes,
         double *gbit, double *send_cpu, double *recv_cpu)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmReceiverMemory) mem = NULL;
    Run run = { method, NULL, size, -1, 0, 0, 0, NULL };
    gint64 t0, cpu0;
    GThread *thread;
    int send_fd;
    gboolean ok;

    mem = fm_receiver_memory_new(size / SOCKPERF_PAGE, SOCKPERF_PAGE, dests[dest].placement,
                                 &error);
    if (mem == NULL) {
        fprintf(stderr, "sockperf: %s\n", error->message);
        return FALSE;
    }
    run.mem = mem;
    if (!tcp_pair(&send_fd, &run.recv_fd))
        return FALSE;
    thread = g_thread_new("sockperf-recv", receiver_main, &run);
    t0 = clock_ns(CLOCK_MONOTONIC);
    cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    if (method == M_RAW) {
        ok = send_raw(send_fd, src, size);
        shutdown(send_fd, SHUT_WR);
        *send_cpu = (clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0) / 1e9;
        g_thread_join(thread);
        close(send_fd);
    } else {
        g_autoptr(FmChannel) channel = fm_channel_new_from_fd(send_fd, &error);

        ok = channel != NULL;
        if (ok) {
            fm_channel_set_timeout(channel, SOCKPERF_TIMEOUT);
            ok = send_engine(channel, src, size, hashes);
            fm_channel_shutdown_write(channel, NULL);
        } else {
            fprintf(stderr, "sockperf: %s\n", error->message);
            close(send_fd);
        }
        *send_cpu = (clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0) / 1e9;
        g_thread_join(thread);
    }
    if (run.error) {
        fprintf(stderr, "sockperf: receiver: %s\n", run.error);
        g_free(run.error);
        return FALSE;
    }
    if (!ok || run.received != size) {
        fprintf(stderr, "sockperf: %s into %s: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                " bytes arrived\n", method_names[method], dests[dest].name, run.received, size);
        return FALSE;
    }
    *gbit = size * 8.0 / 1e9 / ((run.end_ns - t0) / 1e9);
    *recv_cpu = run.cpu;
    return TRUE;
}

/* qsort() order of doubles. */
static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

/* Returns the median of the @n values at @in (left as they are: the rounds stay
 * paired); *@lo and *@hi get the extremes. */
static double
median(const double *in, guint n, double *lo, double *hi)
{
    double v[SOCKPERF_MAX_RUNS];

    memcpy(v, in, n * sizeof(double));
    qsort(v, n, sizeof(double), cmp_double);
    if (lo)
        *lo = v[0];
    if (hi)
        *hi = v[n - 1];
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree guint8 *src = NULL;
    g_autofree guint64 *hashes = NULL;
    static double gbit[N_DESTS][M_LAST][SOCKPERF_MAX_RUNS];
    static double scpu[N_DESTS][M_LAST][SOCKPERF_MAX_RUNS];
    static double rcpu[N_DESTS][M_LAST][SOCKPERF_MAX_RUNS];
    guint64 size = G_GUINT64_CONSTANT(1) << 30, runs = 5;
    const char *only = g_getenv("SOCKPERF_ONLY");   /* DEST/METHOD: one combination */
    double gib;

    if (argc > 3 || (argc > 1 && (g_str_equal(argv[1], "-h") || g_str_equal(argv[1], "--help")))) {
        fprintf(stderr, "usage: sockperf [SIZE [RUNS]]   (defaults: 1G 5)\n");
        return 2;
    }
    if (argc > 1 && (!fm_units_parse_size(argv[1], &size, &error) ||
                     size < SOCKPERF_PAGE * SOCKPERF_BATCH)) {
        fprintf(stderr, "sockperf: size: %s\n", error ? error->message : "at least 4 MiB");
        return 2;
    }
    if (argc > 2 && !g_ascii_string_to_unsigned(argv[2], 10, 1, SOCKPERF_MAX_RUNS, &runs,
                                                &error)) {
        fprintf(stderr, "sockperf: runs: %s\n", error->message);
        return 2;
    }
    size -= size % ((guint64) SOCKPERF_PAGE * SOCKPERF_BATCH);
    gib = size / 1073741824.0;
    signal(SIGPIPE, SIG_IGN);

    /* incompressible-looking content, touched before any clock starts */
    src = g_malloc(SOCKPERF_SOURCE);
    for (gsize i = 0; i < SOCKPERF_SOURCE; i++)
        src[i] = (guint8) (i * 131 + (i >> 9) + (i >> 17));
    hashes = g_new0(guint64, size / SOCKPERF_PAGE);

    printf("loopback TCP 127.0.0.1, %.2f GiB per run, %u interleaved rounds of %u destinations x %u methods (ratios: within a round)\n",
           gib, (guint) runs, (guint) N_DESTS, (guint) M_LAST);
    /* each round starts one combination further on: what a run leaves behind (a
     * gigabyte just unmapped, a cold cache) falls on each of them in turn */
    for (guint r = 0; r < runs; r++) {
        for (guint k = 0; k < N_DESTS * M_LAST; k++) {
            guint d = ((k + r) % (N_DESTS * M_LAST)) / M_LAST;
            guint m = ((k + r) % (N_DESTS * M_LAST)) % M_LAST;

            {
                if (only && !(g_str_has_prefix(only, dests[d].name) &&
                              g_str_equal(strchr(only, '/') ? strchr(only, '/') + 1 : "",
                                          method_names[m])))
                    continue;
                if (!run_once(m, d, size, src, hashes, &gbit[d][m][r], &scpu[d][m][r],
                              &rcpu[d][m][r]))
                    return 1;
            }
        }
    }

    if (only)
        return 0;
    printf("\n%-7s %-12s %9s %19s %14s %14s\n", "dest", "method", "Gbit/s", "(min - max)",
           "send CPU-s/GiB", "recv CPU-s/GiB");
    for (guint d = 0; d < N_DESTS; d++) {
        for (guint m = 0; m < M_LAST; m++) {
            double ratio[SOCKPERF_MAX_RUNS];
            double lo, hi, med, s, rc, rlo, rhi, rmed;

            for (guint r = 0; r < runs; r++)
                ratio[r] = gbit[d][m][r] / gbit[d][M_RAW][r];
            med = median(gbit[d][m], runs, &lo, &hi);
            s = median(scpu[d][m], runs, NULL, NULL) / gib;
            rc = median(rcpu[d][m], runs, NULL, NULL) / gib;
            printf("%-7s %-12s %9.2f   (%6.2f - %6.2f) %14.3f %14.3f\n", dests[d].name,
                   method_names[m], med, lo, hi, s, rc);
            printf("result %s %s %.3f %.3f %.3f %.4f %.4f\n", dests[d].name, method_names[m],
                   med, lo, hi, s, rc);
            if (m != M_RAW) {
                rmed = median(ratio, runs, &rlo, &rhi);
                printf("ratio %s %s/raw %.3f %.3f %.3f\n", dests[d].name, method_names[m],
                       rmed, rlo, rhi);
            }
        }
    }
    return 0;
}
