/*
 * fault-proxy.c: a TCP proxy for the fault-injection tests (tests/test-faults.sh),
 * put between `fragmig migrate` and `fragmig receive`.  It is test code: it is
 * built for `make check` only and never installed.
 *
 *   fault-proxy --to HOST:PORT --fault KIND [--at WHERE] [--dir up|down] [--len N]
 *
 * It listens on 127.0.0.1 (a free port), prints "fault-proxy: listening on
 * tcp://127.0.0.1:PORT", accepts one connection, connects to HOST:PORT and relays
 * both ways until both sides have closed.  In one direction (up: source to
 * destination, the default; down: the RESULT back) it injects KIND once, at the
 * byte WHERE of that direction's stream, and prints "fault-proxy: KIND at offset
 * N" when it does:
 *   short    the next N bytes (--len, default 16384) go out 1 to 7 bytes per
 *            write, TCP_NODELAY, with pauses: the peer's reads come back short
 *   corrupt  the byte is inverted (every bit), the rest relayed unchanged
 *   stall    nothing more is relayed either way, the sockets stay open: a peer
 *            that waits for ever hangs (the proxy exits when killed)
 *   hold     as stall, until the proxy gets SIGUSR1: then it prints
 *            "fault-proxy: released" and relays on.  A test holds a migration
 *            at a chosen phase, strikes (kills the receiver, the proxy, sends
 *            SIGINT...) and releases it: the strike cannot come too late
 *   reset    both connections are aborted (SO_LINGER 0: the peers get RST)
 *   close    both connections are closed in order (FIN: end of file)
 *   none     plain relay
 * WHERE is a byte offset, or, in the up direction, a native stream record:
 * TYPE[#K][+DELTA], the K-th (default 1st) record of TYPE (PAGE_DATA, ROUND_END,
 * DIGEST, PREPARE, END...) plus DELTA bytes (default 0): the proxy follows the stream's
 * framing (docs/stream-format.md), so that a test can strike a chosen phase of the
 * migration: the header (setup), a pre-copy round, the stop-and-copy pages after
 * the last ROUND_END, the DIGEST.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#define BUF_SIZE (256 * 1024)
#define STREAM_HEADER 40

typedef enum { FAULT_NONE, FAULT_SHORT, FAULT_CORRUPT, FAULT_STALL, FAULT_RESET,
               FAULT_CLOSE, FAULT_HOLD } FaultKind;

static const char *const fault_names[] = { "none", "short", "corrupt", "stall", "reset",
                                           "close", "hold" };
static const char *const record_names[] = { "END", "PAGE_DATA", "CPU_STATE",
    "DEVICE_STATE", "STATS", "DIGEST", "ROUND_END", "ABORT", "RESULT", "ZERO_PAGES", "PREPARE", "READY" };

/* One direction of the relay. */
typedef struct {
    int from, to;
    guint8 *buf;
    gsize len;                 /* bytes held in buf */
    guint64 offset;            /* stream offset of buf[0] */
    gboolean eof;              /* @from reached end of file */
    gboolean parse;            /* follow the native stream framing */
    guint64 next_record;       /* offset of the next record header */
    guint record_seen[G_N_ELEMENTS(record_names)];
} Direction;

static FaultKind fault = FAULT_NONE;
static gboolean fault_done = FALSE;
static gint64 fault_at = -1;          /* known offset, or -1 */
static int fault_type = -1;           /* record type WHERE names, or -1 */
static guint fault_nth = 1;
static guint64 fault_delta = 0;
static gsize short_len = 16384;

static void G_GNUC_NORETURN G_GNUC_PRINTF(1, 2)
die(const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    fputs("fault-proxy: ", stderr);
    vfprintf(stderr, format, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* Writes all of @len bytes of @buf to @fd; FALSE when the peer is gone. */
static gboolean
write_all(int fd, const guint8 *buf, gsize len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        buf += n;
        len -= (gsize)n;
    }
    return TRUE;
}

/* Aborts @fd's connection: the peer gets a RST. */
static void
abort_connection(int fd)
{
    struct linger lg = { 1, 0 };

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

/* Parses WHERE. */
static void
parse_where(const char *where)
{
    g_auto(GStrv) plus = NULL;
    g_auto(GStrv) hash = NULL;
    char *end;

    if (g_ascii_isdigit(where[0])) {
        fault_at = (gint64)g_ascii_strtoull(where, &end, 10);
        if (*end)
            die("bad offset '%s'", where);
        return;
    }
    plus = g_strsplit(where, "+", 2);
    hash = g_strsplit(plus[0], "#", 2);
    for (gsize i = 0; i < G_N_ELEMENTS(record_names); i++) {
        if (strcmp(hash[0], record_names[i]) == 0)
            fault_type = (int)i;
    }
    if (fault_type < 0)
        die("unknown record type '%s'", hash[0]);
    if (hash[1])
        fault_nth = (guint)g_ascii_strtoull(hash[1], NULL, 10);
    if (plus[1])
        fault_delta = g_ascii_strtoull(plus[1], NULL, 10);
}

/* Reads the record headers that @d holds in full, which may set fault_at; returns
 * how many bytes of the buffer may go out now (a record header is never split,
 * so that its type is known before its first byte leaves). */
static gsize
follow_records(Direction *d)
{
    if (!d->parse)
        return d->len;
    while (d->next_record + 8 <= d->offset + d->len) {
        const guint8 *h = d->buf + (d->next_record - d->offset);
        guint32 type, len;

        memcpy(&type, h, 4);
        memcpy(&len, h + 4, 4);
        type = GUINT32_FROM_LE(type);
        len = GUINT32_FROM_LE(len);
        if (type < G_N_ELEMENTS(record_names)) {
            d->record_seen[type]++;
            if ((int)type == fault_type && d->record_seen[type] == fault_nth && fault_at < 0)
                fault_at = (gint64)(d->next_record + fault_delta);
        }
        d->next_record += 8 + (((guint64)len + 7) & ~G_GUINT64_CONSTANT(7));
    }
    if (d->next_record < d->offset + d->len && !d->eof)
        return (gsize)(d->next_record - d->offset);
    return d->len;
}

/* Sends @n bytes of @d's buffer, injecting the fault if it falls among them.
 * Returns FALSE when relaying is over (the fault ended it, or a peer is gone). */
static gboolean
send_out(Direction *d, Direction *other, gsize n)
{
    gsize at;

    if (fault_done || fault_at < 0 || (guint64)fault_at >= d->offset + n ||
        (guint64)fault_at < d->offset)
        return write_all(d->to, d->buf, n);

    at = (gsize)((guint64)fault_at - d->offset);
    fault_done = TRUE;
    printf("fault-proxy: %s at offset %" G_GINT64_FORMAT "\n", fault_names[fault], fault_at);
    fflush(stdout);
    switch (fault) {
    case FAULT_CORRUPT:
        d->buf[at] ^= 0xff;
        return write_all(d->to, d->buf, n);
    case FAULT_SHORT: {
        int one = 1;
        gsize end = MIN(n, at + short_len);

        if (!write_all(d->to, d->buf, at))
            return FALSE;
        setsockopt(d->to, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        for (gsize i = at; i < end;) {
            gsize chunk = (gsize)g_random_int_range(1, 8);   /* not inside MIN() */

            chunk = MIN(chunk, end - i);

            if (!write_all(d->to, d->buf + i, chunk))
                return FALSE;
            i += chunk;
            g_usleep(50);
        }
        return write_all(d->to, d->buf + end, n - end);
    }
    case FAULT_STALL:
        write_all(d->to, d->buf, at);
        for (;;)
            pause();
    case FAULT_HOLD: {
        sigset_t usr1;
        int sig;

        if (!write_all(d->to, d->buf, at))
            return FALSE;
        /* SIGUSR1 is blocked since main() began: none is lost before this wait */
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        while (sigwait(&usr1, &sig) != 0)
            ;
        printf("fault-proxy: released\n");
        fflush(stdout);
        return write_all(d->to, d->buf + at, n - at);
    }
    case FAULT_RESET:
        write_all(d->to, d->buf, at);
        abort_connection(d->to);
        abort_connection(other->to);
        exit(0);
    case FAULT_CLOSE:
        write_all(d->to, d->buf, at);
        close(d->to);
        close(other->to);
        exit(0);
    case FAULT_NONE:
        break;
    }
    return write_all(d->to, d->buf, n);
}

/* Reads what @d's source has and relays what may go; FALSE when relaying is over. */
static gboolean
relay(Direction *d, Direction *other)
{
    ssize_t r = read(d->from, d->buf + d->len, BUF_SIZE - d->len);
    gsize n;

    if (r < 0 && errno == EINTR)
        return TRUE;
    if (r < 0) {
        /* the peer reset: pass it on */
        abort_connection(d->to);
        abort_connection(other->to);
        exit(0);
    }
    if (r == 0)
        d->eof = TRUE;
    d->len += (gsize)r;
    n = follow_records(d);
    if (n > 0) {
        if (!send_out(d, other, n))
            return FALSE;
        memmove(d->buf, d->buf + n, d->len - n);
        d->len -= n;
        d->offset += n;
    }
    if (d->eof)
        shutdown(d->to, SHUT_WR);
    return TRUE;
}

/* Returns a socket connected to HOST:PORT. */
static int
connect_to(const char *target)
{
    g_autofree char *host = g_strdup(target);
    char *colon = strrchr(host, ':');
    struct sockaddr_in sa = { .sin_family = AF_INET };
    int fd;

    if (g_str_has_prefix(host, "tcp://"))
        memmove(host, host + 6, strlen(host + 6) + 1), colon = strrchr(host, ':');
    if (colon == NULL)
        die("--to needs HOST:PORT");
    *colon = '\0';
    sa.sin_port = htons((guint16)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        die("--to needs an IPv4 address");
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("cannot connect to %s: %s", target, g_strerror(errno));
    return fd;
}

int
main(int argc, char **argv)
{
    g_autofree char *to = NULL;
    g_autofree char *fault_arg = NULL;
    g_autofree char *where = NULL;
    g_autofree char *dir_arg = NULL;
    gint64 len_arg = 16384;
    g_autoptr(GOptionContext) ctx = g_option_context_new("- fault-injecting TCP proxy");
    g_autoptr(GError) error = NULL;
    GOptionEntry entries[] = {
        { "to", 0, 0, G_OPTION_ARG_STRING, &to, "destination HOST:PORT", "ADDR" },
        { "fault", 0, 0, G_OPTION_ARG_STRING, &fault_arg, "fault to inject", "KIND" },
        { "at", 0, 0, G_OPTION_ARG_STRING, &where, "where: OFFSET or TYPE[#K][+DELTA]", "WHERE" },
        { "dir", 0, 0, G_OPTION_ARG_STRING, &dir_arg, "up (default) or down", "DIR" },
        { "len", 0, 0, G_OPTION_ARG_INT64, &len_arg, "bytes sent short", "N" },
        { NULL, 0, 0, 0, NULL, NULL, NULL }
    };
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sa_len = sizeof(sa);
    Direction up = { 0 }, down = { 0 };
    gboolean faulty_down;
    int lfd, src, dst, one = 1;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error))
        die("%s", error->message);
    if (to == NULL)
        die("--to is required");
    for (gsize i = 0; fault_arg && i < G_N_ELEMENTS(fault_names); i++) {
        if (strcmp(fault_arg, fault_names[i]) == 0)
            fault = (FaultKind)i;
    }
    if (fault_arg && strcmp(fault_arg, fault_names[fault]) != 0)
        die("unknown fault '%s'", fault_arg);
    faulty_down = g_strcmp0(dir_arg, "down") == 0;
    if (fault != FAULT_NONE) {
        if (where == NULL)
            die("--fault needs --at");
        parse_where(where);
        if (faulty_down && fault_type >= 0)
            die("records can only be followed up");
    }
    short_len = (gsize)MAX(len_arg, 1);
    signal(SIGPIPE, SIG_IGN);
    {
        /* a hold waits for SIGUSR1 with sigwait(): blocked from the start, it stays
         * pending if it comes early, and never kills the proxy */
        sigset_t usr1;

        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        sigprocmask(SIG_BLOCK, &usr1, NULL);
    }

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sa_len) < 0)
        die("cannot listen: %s", g_strerror(errno));
    printf("fault-proxy: listening on tcp://127.0.0.1:%u\n", ntohs(sa.sin_port));
    fflush(stdout);
    src = accept(lfd, NULL, NULL);
    if (src < 0)
        die("accept: %s", g_strerror(errno));
    close(lfd);
    dst = connect_to(to);

    up = (Direction){ .from = src, .to = dst, .buf = g_malloc(BUF_SIZE),
                      .parse = !faulty_down, .next_record = STREAM_HEADER };
    down = (Direction){ .from = dst, .to = src, .buf = g_malloc(BUF_SIZE) };
    if (faulty_down) {
        /* the fault's offset counts in the down direction: relay up plainly */
        up.parse = FALSE;
    }
    while (!up.eof || !down.eof) {
        struct pollfd pfd[2] = {
            { .fd = up.eof ? -1 : src, .events = POLLIN },
            { .fd = down.eof ? -1 : dst, .events = POLLIN },
        };

        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll: %s", g_strerror(errno));
        }
        if (pfd[0].revents) {
            gint64 saved = fault_at;

            if (faulty_down)
                fault_at = -1;       /* the fault belongs to the other direction */
            if (!relay(&up, &down))
                break;
            if (faulty_down)
                fault_at = saved;
        }
        if (pfd[1].revents) {
            gint64 saved = fault_at;

            if (!faulty_down)
                fault_at = -1;
            if (!relay(&down, &up))
                break;
            if (!faulty_down)
                fault_at = saved;
        }
    }
    return 0;
}
