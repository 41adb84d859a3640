/*
 * sockperf.c: benchmark of raw loopback TCP throughput, the physical limit a local
 * live migration (bench/local) is compared with.
 *
 * A sender thread writes large buffers over one TCP connection on 127.0.0.1 to a
 * receiver thread that reads them into a reused buffer and throws them away, until
 * SIZE bytes (or SECONDS of sending) are through; the sender then shuts down its
 * direction and the time runs until the receiver has read the last byte.  Two ways
 * are timed, each the median of RUNS runs:
 *  - "plain": blocking send()/recv() on plain sockets, nothing else: the raw limit;
 *  - "channel": the same transfer through FmChannel (src/transport/fm-channel.h),
 *    fm_channel_write_all() / fm_channel_read(), the code the migration stream
 *    uses, so that a gap between the two is the channel's own cost;
 *  - "fresh": "plain", but the receiver copies what it reads into a newly mapped
 *    region of SIZE bytes, as the migration's receiver fills the guest's memory: the
 *    first touch of every page (a fault, and the kernel zeroing it) is paid in the
 *    transfer.  Only with a SIZE.
 * "plain" and "channel" read into one reused buffer: no fresh memory, an upper bound.
 *
 * Usage: sockperf [SIZE|SECONDSs [BUFFER [RUNS]]]   (defaults: 1G 1M 3)
 *   e.g. "sockperf 1G", "sockperf 5s 4M 5".
 * Prints a table; the lines that start with "plain", "channel", "fresh" carry the numbers
 * (method, MiB, seconds, MiB/s, Gbit/s), for scripts.
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "transport/fm-channel.h"
#include "util/fm-error.h"
#include "util/fm-units.h"

/* Seconds to wait for the peer before a run is declared stuck. */
#define SOCKPERF_TIMEOUT 30.0

typedef enum {
    SOCKPERF_PLAIN,
    SOCKPERF_CHANNEL,
    SOCKPERF_FRESH,
    SOCKPERF_LAST,
} SockperfMethod;

static const char *const sockperf_method_names[] = { "plain", "channel", "fresh" };
G_STATIC_ASSERT(G_N_ELEMENTS(sockperf_method_names) == SOCKPERF_LAST);

/* One run: what to send, and what the receiver saw.  The receiver thread owns
 * @recv_fd and writes @received, @end_ns and @error; the sender reads them only
 * after joining it. */
typedef struct {
    SockperfMethod method;
    int recv_fd;
    gsize buf_len;
    guint64 size;           /* SOCKPERF_FRESH: bytes the sender sends */
    guint64 received;
    gint64 end_ns;          /* when the last byte was read */
    char *error;            /* NULL, or what went wrong (owned) */
} SockperfRun;

/* Returns the CLOCK_MONOTONIC time in nanoseconds. */
static gint64
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (gint64) ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec;
}

/* The receiver thread: reads until end of file; returns NULL.  Fills @data's
 * received, end_ns and error. */
static gpointer
receiver_main(gpointer data)
{
    SockperfRun *run = data;
    g_autofree guint8 *buf = g_malloc(run->buf_len);
    guint8 *region = NULL;

    /* touch it once, so that page faults stay out of the timing */
    memset(buf, 0, run->buf_len);
    if (run->method == SOCKPERF_FRESH) {
        /* as the migration's receiver maps the guest's memory */
        region = mmap(NULL, run->size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (region == MAP_FAILED) {
            run->error = g_strdup_printf("mmap: %s", g_strerror(errno));
            close(run->recv_fd);
            return NULL;
        }
    }
    if (run->method != SOCKPERF_CHANNEL) {
        for (;;) {
            ssize_t n = recv(run->recv_fd, buf, run->buf_len, 0);

            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                run->error = g_strdup_printf("recv: %s", g_strerror(errno));
                break;
            }
            if (n == 0)
                break;
            if (region) {
                if (run->received + (guint64) n > run->size) {
                    run->error = g_strdup("more bytes than announced");
                    break;
                }
                memcpy(region + run->received, buf, (gsize) n);
            }
            run->received += (guint64) n;
        }
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
        for (;;) {
            gssize n = fm_channel_read(channel, buf, run->buf_len, &error);

            if (n < 0) {
                run->error = g_strdup(error->message);
                break;
            }
            if (n == 0)
                break;
            run->received += (guint64) n;
        }
    }
    run->end_ns = now_ns();
    if (region)
        munmap(region, run->size);
    return NULL;
}

/* Makes a connected pair of TCP sockets over 127.0.0.1 in *@send_fd and *@recv_fd.
 * Returns FALSE after printing the error. */
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

/* Sends @size bytes (or for @seconds, when > 0) by @method in buffers of @buf_len.
 * Returns the seconds from the first write to the last byte read and stores the
 * bytes in *@bytes; returns -1 after printing the error. */
static double
run_once(SockperfMethod method, guint64 size, double seconds, gsize buf_len, guint64 *bytes)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FmChannel) channel = NULL;
    g_autofree guint8 *buf = g_malloc(buf_len);
    SockperfRun run = { method, -1, buf_len, size, 0, 0, NULL };
    gint64 deadline, t0;
    guint64 sent = 0;
    GThread *thread;
    int send_fd;
    gboolean ok = TRUE;

    if (!tcp_pair(&send_fd, &run.recv_fd))
        return -1;
    /* incompressible-looking content, touched before the clock starts */
    for (gsize i = 0; i < buf_len; i++)
        buf[i] = (guint8) (i * 131 + (i >> 9));
    if (method == SOCKPERF_CHANNEL) {
        channel = fm_channel_new_from_fd(send_fd, &error);
        if (channel == NULL) {
            fprintf(stderr, "sockperf: %s\n", error->message);
            close(send_fd);
            close(run.recv_fd);
            return -1;
        }
        fm_channel_set_timeout(channel, SOCKPERF_TIMEOUT);
    }
    thread = g_thread_new("sockperf-recv", receiver_main, &run);

    t0 = now_ns();
    deadline = seconds > 0 ? t0 + (gint64) (seconds * 1e9) : G_MAXINT64;
    while (ok && (seconds > 0 ? now_ns() < deadline : sent < size)) {
        gsize chunk = seconds > 0 ? buf_len : (gsize) MIN((guint64) buf_len, size - sent);

        if (method == SOCKPERF_CHANNEL) {
            ok = fm_channel_write_all(channel, buf, chunk, &error);
            if (!ok)
                fprintf(stderr, "sockperf: %s\n", error->message);
        } else {
            for (gsize off = 0; ok && off < chunk;) {
                ssize_t n = send(send_fd, buf + off, chunk - off, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0) {
                    fprintf(stderr, "sockperf: send: %s\n", g_strerror(errno));
                    ok = FALSE;
                }
                off += n > 0 ? (gsize) n : 0;
            }
        }
        sent += ok ? chunk : 0;
    }
    /* end of file for the receiver; it times the last byte */
    if (method == SOCKPERF_CHANNEL) {
        if (ok && !fm_channel_shutdown_write(channel, &error)) {
            fprintf(stderr, "sockperf: %s\n", error->message);
            ok = FALSE;
        } else if (!ok) {
            fm_channel_shutdown_write(channel, NULL);
        }
    } else {
        shutdown(send_fd, SHUT_WR);
    }
    g_thread_join(thread);
    if (method == SOCKPERF_PLAIN)
        close(send_fd);

    if (run.error) {
        fprintf(stderr, "sockperf: receiver: %s\n", run.error);
        g_free(run.error);
        return -1;
    }
    if (!ok || run.received != sent) {
        fprintf(stderr, "sockperf: sent %" G_GUINT64_FORMAT " bytes but %" G_GUINT64_FORMAT
                " arrived\n", sent, run.received);
        return -1;
    }
    *bytes = sent;
    return (run.end_ns - t0) / 1e9;
}

/* qsort() order of doubles. */
static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree double *rates = NULL;
    g_autofree double *times = NULL;
    g_autofree guint64 *sizes = NULL;
    const char *size_arg = argc > 1 ? argv[1] : "1G";
    guint64 size = 0, buf_len = 1 << 20, runs = 3;
    double seconds = 0;

    if (argc > 4 || (argc > 1 && (g_str_equal(argv[1], "-h") || g_str_equal(argv[1], "--help")))) {
        fprintf(stderr, "usage: sockperf [SIZE|SECONDSs [BUFFER [RUNS]]]   (defaults: 1G 1M 3)\n");
        return 2;
    }
    if (g_str_has_suffix(size_arg, "s") && !g_str_has_suffix(size_arg, "/s")) {
        if (!fm_units_parse_duration(size_arg, &seconds, &error) || seconds <= 0) {
            fprintf(stderr, "sockperf: %s\n", error ? error->message : "duration must be positive");
            return 2;
        }
    } else if (!fm_units_parse_size(size_arg, &size, &error) || size == 0) {
        fprintf(stderr, "sockperf: %s\n", error ? error->message : "size must be positive");
        return 2;
    }
    if (argc > 2 && (!fm_units_parse_size(argv[2], &buf_len, &error) || buf_len == 0 ||
                     buf_len > (G_GUINT64_CONSTANT(1) << 30))) {
        fprintf(stderr, "sockperf: buffer: %s\n",
                error ? error->message : "must be from 1 byte to 1 GiB");
        return 2;
    }
    if (argc > 3 && !g_ascii_string_to_unsigned(argv[3], 10, 1, 1000, &runs, &error)) {
        fprintf(stderr, "sockperf: runs: %s\n", error->message);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    if (seconds > 0)
        printf("loopback TCP 127.0.0.1, %.3g s of sending per run", seconds);
    else
        printf("loopback TCP 127.0.0.1, %.1f MiB per run", size / 1048576.0);
    printf(", %.0f KiB buffers, median of %u runs (by throughput)\n\n",
           buf_len / 1024.0, (guint) runs);
    printf("%-8s %12s %10s %10s %10s\n", "method", "MiB", "seconds", "MiB/s", "Gbit/s");

    rates = g_new(double, runs);
    times = g_new(double, runs);
    sizes = g_new(guint64, runs);
    for (guint m = 0; m < SOCKPERF_LAST; m++) {
        double sorted[1000];
        guint pick = 0;

        /* a fresh region needs its size in advance */
        if (m == SOCKPERF_FRESH && seconds > 0)
            continue;

        for (guint i = 0; i < runs; i++) {
            times[i] = run_once(m, size, seconds, buf_len, &sizes[i]);
            if (times[i] <= 0)
                return 1;
            rates[i] = sizes[i] / times[i];
            sorted[i] = rates[i];
        }
        qsort(sorted, runs, sizeof(double), cmp_double);
        for (guint i = 0; i < runs; i++) {
            if (rates[i] == sorted[runs / 2])
                pick = i;
        }
        printf("%-8s %12.1f %10.3f %10.1f %10.2f\n", sockperf_method_names[m],
               sizes[pick] / 1048576.0, times[pick], rates[pick] / 1048576.0,
               rates[pick] * 8 / 1e9);
    }
    return 0;
}
