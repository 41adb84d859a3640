/*
 * fm-channel.c: a bidirectional byte pipe to the migration peer (TCP, unix socket,
 * inherited descriptor), with timeouts and a token-bucket bandwidth limit.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "transport/fm-channel.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/fm-error.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"

/* Depth of the token bucket, in seconds of data: deep enough to absorb scheduling
 * noise, shallow enough that a loopback transfer of a few MB already runs at the
 * configured rate. */
#define FM_CHANNEL_BUCKET_SECONDS 0.010
/* Writes are cut into pieces of about one bucket so that the pacing is smooth. */
#define FM_CHANNEL_MIN_CHUNK      1024
#define FM_CHANNEL_MAX_CHUNK      (1024 * 1024)
/* The throughput is measured over the last FM_CHANNEL_SAMPLES samples, each made of
 * consecutive writes totalling at least FM_CHANNEL_SAMPLE_USEC of write time: about
 * 0.3 s of sending, so that one preempted write among many small ones (whose delay
 * the token bucket makes up for afterwards) does not distort the measure. */
#define FM_CHANNEL_SAMPLES        16
#define FM_CHANNEL_SAMPLE_USEC    20000
/* iovecs handed to one sendmsg()/writev(). */
#define FM_CHANNEL_IOV_MAX        16

typedef struct {
    guint64 bytes;
    gint64 usec;               /* time spent inside the write call */
} FmChannelSample;

struct _FmChannel {
    int fd;
    gboolean is_socket;        /* sendmsg(MSG_NOSIGNAL) and shutdown() work */
    char *address;             /* peer description for messages */
    double timeout;            /* seconds; <= 0: none */
    gint64 deadline;           /* monotonic µs by which reads must be done; 0: none */
    double deadline_seconds;   /* as set, for the message */
    double min_rate;           /* bytes per second the reads must average; 0: none */
    double rate_window;        /* seconds over which it is averaged */
    gint64 rate_start;         /* monotonic µs: start of the current window */
    guint64 rate_bytes;        /* bytes read in it */

    guint64 bandwidth;         /* bytes per second; 0: unlimited */
    double tokens;             /* bytes that may go out now; negative: debt */
    gint64 refill_time;        /* monotonic µs of the last refill */

    guint64 bytes_written;
    guint64 bytes_read;

    FmChannelSample samples[FM_CHANNEL_SAMPLES];
    guint n_samples;
    guint next_sample;
    FmChannelSample current;   /* sample being accumulated */

    const FmChannelLayerOps *layer_ops;  /* NULL: users' bytes go to fd directly */
    gpointer layer;            /* owned */
};

struct _FmListener {
    int fd;
    char *address;             /* connectable address */
    char *unix_path;           /* socket file we created, removed on free */
    guint16 port;
    double timeout;
};

typedef enum {
    FM_ADDRESS_TCP,
    FM_ADDRESS_UNIX,
    FM_ADDRESS_FD,
} FmAddressKind;

typedef struct {
    FmAddressKind kind;
    char *host;                /* TCP: without brackets; "" = wildcard (listen only) */
    char port_str[8];          /* TCP */
    guint port;
    char *path;                /* unix */
    int fd;                    /* fd */
} FmAddress;

/* Frees the strings of @addr (not @addr itself). */
static void
fm_address_clear(FmAddress *addr)
{
    g_clear_pointer(&addr->host, g_free);
    g_clear_pointer(&addr->path, g_free);
}

/* Parses "HOST:PORT" or "[V6]:PORT" (@rest, after "tcp://") of @address. */
static gboolean
fm_address_parse_tcp(const char *address, const char *rest, gboolean listening,
                     FmAddress *out, GError **error)
{
    g_autofree char *quoted = fm_quote(address, -1);
    const char *port;
    guint64 value;

    if (rest[0] == '[') {
        const char *close = strchr(rest, ']');

        if (close == NULL) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("invalid address %s: missing ']' after the IPv6 address"),
                        quoted);
            return FALSE;
        }
        out->host = g_strndup(rest + 1, close - rest - 1);
        if (close[1] == '\0') {
            port = NULL;
        } else if (close[1] != ':') {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("invalid address %s: expected ':PORT' after ']'"), quoted);
            return FALSE;
        } else {
            port = close + 2;
        }
        if (out->host[0] == '\0') {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("invalid address %s: missing host"), quoted);
            return FALSE;
        }
    } else {
        const char *colon = strrchr(rest, ':');

        if (colon == NULL) {
            out->host = g_strdup(rest);
            port = NULL;
        } else {
            out->host = g_strndup(rest, colon - rest);
            port = colon + 1;
        }
        if (strchr(out->host, ':') != NULL) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("invalid address %s: an IPv6 address must be in brackets, as in tcp://[::1]:PORT"),
                        quoted);
            return FALSE;
        }
        if (out->host[0] == '\0' && !listening) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("invalid address %s: missing host"), quoted);
            return FALSE;
        }
    }

    if (port == NULL || port[0] == '\0') {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid address %s: missing port"), quoted);
        return FALSE;
    }
    /* g_ascii_string_to_unsigned() would accept a sign or spaces in some versions;
     * a port is digits only. */
    if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
        !g_ascii_string_to_unsigned(port, 10, listening ? 0 : 1, 65535, &value, NULL)) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid address %s: the port must be a number from %u to 65535"),
                    quoted, listening ? 0u : 1u);
        return FALSE;
    }
    out->port = (guint)value;
    g_snprintf(out->port_str, sizeof(out->port_str), "%u", out->port);
    return TRUE;
}

/* Parses @address into @out (cleared by the caller with fm_address_clear()). */
static gboolean
fm_address_parse(const char *address, gboolean listening, FmAddress *out,
                 GError **error)
{
    g_autofree char *quoted = fm_quote(address, -1);

    memset(out, 0, sizeof(*out));
    out->fd = -1;

    if (g_str_has_prefix(address, "tcp://")) {
        out->kind = FM_ADDRESS_TCP;
        return fm_address_parse_tcp(address, address + strlen("tcp://"), listening,
                                    out, error);
    }
    if (g_str_has_prefix(address, "unix:")) {
        const char *path = address + strlen("unix:");

        out->kind = FM_ADDRESS_UNIX;
        if (path[0] == '\0') {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("invalid address %s: missing socket path"), quoted);
            return FALSE;
        }
        if (strlen(path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("invalid address %s: the socket path is too long (at most %u bytes)"),
                        quoted,
                        (unsigned)sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
            return FALSE;
        }
        out->path = g_strdup(path);
        return TRUE;
    }
    if (g_str_has_prefix(address, "fd:")) {
        const char *num = address + strlen("fd:");
        guint64 value;

        out->kind = FM_ADDRESS_FD;
        if (num[0] == '\0' || strspn(num, "0123456789") != strlen(num) ||
            !g_ascii_string_to_unsigned(num, 10, 0, G_MAXINT, &value, NULL)) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("invalid address %s: expected a file descriptor number after 'fd:'"),
                        quoted);
            return FALSE;
        }
        out->fd = (int)value;
        return TRUE;
    }
    g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                _("invalid address %s: expected tcp://HOST:PORT, unix:PATH or fd:N"),
                quoted);
    return FALSE;
}

/* Returns a newly allocated address string for @sa ("tcp://1.2.3.4:5",
 * "tcp://[::1]:5", "unix:PATH"), or NULL for other families. */
static char *
fm_sockaddr_to_address(const struct sockaddr *sa, socklen_t len)
{
    char host[NI_MAXHOST];
    char serv[NI_MAXSERV];

    switch (sa->sa_family) {
    case AF_INET:
    case AF_INET6:
        if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
                        NI_NUMERICHOST | NI_NUMERICSERV) != 0)
            return NULL;
        if (sa->sa_family == AF_INET6)
            return g_strdup_printf("tcp://[%s]:%s", host, serv);
        return g_strdup_printf("tcp://%s:%s", host, serv);
    case AF_UNIX: {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
        gsize max = len > offsetof(struct sockaddr_un, sun_path) ?
            len - offsetof(struct sockaddr_un, sun_path) : 0;

        if (max == 0 || sun->sun_path[0] == '\0')
            return NULL;
        return g_strdup_printf("unix:%.*s", (int)strnlen(sun->sun_path, max),
                               sun->sun_path);
    }
    default:
        return NULL;
    }
}

/* Sets O_NONBLOCK and FD_CLOEXEC on @fd; returns FALSE with errno set on failure. */
static gboolean
fm_fd_prepare(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    int fdfl;

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return FALSE;
    fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
        return FALSE;
    return TRUE;
}

/* Sets the error for a wait that expired after @timeout seconds. */
static void
fm_set_timeout_error(GError **error, double timeout)
{
    g_set_error(error, FM_ERROR, FM_ERROR_IO,
                _("timed out after %g s waiting for the peer"), timeout);
}

/* Waits until @fd has one of @events, at most @timeout seconds (<= 0: for ever).
 * Returns FALSE with the timeout error when it expires. */
static gboolean
fm_fd_wait(int fd, short events, double timeout, GError **error)
{
    gint64 deadline = timeout > 0 ? g_get_monotonic_time() + (gint64)(timeout * 1e6) : -1;

    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = events };
        int ms = -1;
        int r;

        if (deadline >= 0) {
            gint64 left = deadline - g_get_monotonic_time();

            if (left <= 0) {
                fm_set_timeout_error(error, timeout);
                return FALSE;
            }
            ms = (int)MIN((left + 999) / 1000, (gint64)G_MAXINT);
        }
        r = poll(&pfd, 1, ms);
        if (r > 0)
            return TRUE;
        if (r < 0 && errno != EINTR) {
            int err = errno;

            g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot wait for the peer: %s"),
                        g_strerror(err));
            return FALSE;
        }
    }
}

/* Sets @error for the failed transfer @err on @channel; @writing selects the
 * message of the generic case. */
static void
fm_channel_set_io_error(FmChannel *channel, int err, gboolean writing, GError **error)
{
    switch (err) {
    case ECONNRESET:
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("connection reset by peer"));
        break;
    case EPIPE:
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("connection closed by peer (broken pipe)"));
        break;
    case ETIMEDOUT:
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("connection timed out: the peer stopped answering"));
        break;
    default:
        if (writing)
            g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot write to %s: %s"),
                        channel->address, g_strerror(err));
        else
            g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot read from %s: %s"),
                        channel->address, g_strerror(err));
        break;
    }
}

/* Returns a new channel over @fd (taken over), described as @address (copied). */
static FmChannel *
fm_channel_wrap(int fd, const char *address)
{
    FmChannel *channel = g_new0(FmChannel, 1);
    int type;
    socklen_t len = sizeof(type);

    channel->fd = fd;
    channel->is_socket = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
    channel->address = g_strdup(address);
    channel->timeout = FM_CHANNEL_DEFAULT_TIMEOUT;
    return channel;
}

/* Returns a new channel over @fd, which it takes over on success only. */
FmChannel *
fm_channel_new_from_fd(int fd, GError **error)
{
    g_autofree char *address = NULL;

    if (fd < 0 || !fm_fd_prepare(fd)) {
        int err = fd < 0 ? EBADF : errno;

        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("file descriptor %d cannot be used: %s"), fd, g_strerror(err));
        return NULL;
    }
    address = g_strdup_printf("fd:%d", fd);
    return fm_channel_wrap(fd, address);
}

/* Connects a non-blocking socket @fd to @sa within @timeout; returns 0 or an errno
 * value (ETIMEDOUT when the timeout expired). */
static int
fm_socket_connect(int fd, const struct sockaddr *sa, socklen_t len, double timeout)
{
    int err = 0;
    socklen_t errlen = sizeof(err);

    if (connect(fd, sa, len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return errno;
    if (!fm_fd_wait(fd, POLLOUT, timeout, NULL))
        return ETIMEDOUT;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0)
        return errno;
    return err;
}

/* Returns a channel connected to the first address @addr's host resolves to that
 * accepts, or NULL with @error naming the last failure. */
static FmChannel *
fm_channel_connect_tcp(const char *address, const FmAddress *addr, GError **error)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = AI_NUMERICSERV,
    };
    struct addrinfo *res = NULL;
    int last_err = 0;
    gboolean timed_out = FALSE;
    int r;

    r = getaddrinfo(addr->host, addr->port_str, &hints, &res);
    if (r != 0) {
        g_autofree char *host = fm_quote(addr->host, -1);

        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot resolve host %s: %s"),
                    host, r == EAI_SYSTEM ? g_strerror(errno) : gai_strerror(r));
        return NULL;
    }
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);

        if (fd < 0) {
            last_err = errno;
            continue;
        }
        last_err = fm_socket_connect(fd, ai->ai_addr, ai->ai_addrlen,
                                     FM_CHANNEL_DEFAULT_TIMEOUT);
        if (last_err == 0) {
            freeaddrinfo(res);
            return fm_channel_wrap(fd, address);
        }
        timed_out = last_err == ETIMEDOUT;
        close(fd);
    }
    freeaddrinfo(res);
    if (timed_out)
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("cannot connect to %s: timed out after %g s waiting for the peer"),
                    address, FM_CHANNEL_DEFAULT_TIMEOUT);
    else
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot connect to %s: %s"),
                    address, g_strerror(last_err ? last_err : EHOSTUNREACH));
    return NULL;
}

/* Returns a channel connected to the unix socket of @addr, or NULL with @error. */
static FmChannel *
fm_channel_connect_unix(const char *address, const FmAddress *addr, GError **error)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    gint64 deadline = g_get_monotonic_time() +
        (gint64)(FM_CHANNEL_DEFAULT_TIMEOUT * 1e6);
    int fd;
    int err;

    g_strlcpy(sun.sun_path, addr->path, sizeof(sun.sun_path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err = errno;
        goto error;
    }
    for (;;) {
        if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
            return fm_channel_wrap(fd, address);
        err = errno;
        if (err == EINTR)
            continue;
        /* A unix socket reports a full backlog as EAGAIN instead of waiting. */
        if (err == EAGAIN && g_get_monotonic_time() < deadline) {
            g_usleep(10000);
            continue;
        }
        break;
    }
    close(fd);
 error:
    g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot connect to %s: %s"), address,
                g_strerror(err));
    return NULL;
}

/* Connects to @address; see the header. */
FmChannel *
fm_channel_connect(const char *address, GError **error)
{
    FmAddress addr;
    FmChannel *channel = NULL;

    g_return_val_if_fail(address != NULL, NULL);

    if (!fm_address_parse(address, FALSE, &addr, error)) {
        fm_address_clear(&addr);
        return NULL;
    }
    switch (addr.kind) {
    case FM_ADDRESS_TCP:
        channel = fm_channel_connect_tcp(address, &addr, error);
        break;
    case FM_ADDRESS_UNIX:
        channel = fm_channel_connect_unix(address, &addr, error);
        break;
    case FM_ADDRESS_FD:
        channel = fm_channel_new_from_fd(addr.fd, error);
        break;
    }
    fm_address_clear(&addr);
    return channel;
}

/* Closes the descriptor and frees the channel; NULL ok. */
void
fm_channel_free(FmChannel *channel)
{
    if (channel == NULL)
        return;
    if (channel->layer_ops != NULL)
        channel->layer_ops->free(channel->layer);
    if (channel->fd >= 0)
        close(channel->fd);
    g_free(channel->address);
    g_free(channel);
}

/* Attaches @layer (taken over); see the header. */
void
fm_channel_set_layer(FmChannel *channel, const FmChannelLayerOps *ops, gpointer layer)
{
    g_return_if_fail(channel != NULL && ops != NULL);
    g_return_if_fail(channel->layer_ops == NULL);
    channel->layer_ops = ops;
    channel->layer = layer;
}

/* Returns TRUE if a layer is attached. */
gboolean
fm_channel_has_layer(const FmChannel *channel)
{
    g_return_val_if_fail(channel != NULL, FALSE);
    return channel->layer_ops != NULL;
}

/* Returns the descriptor, still owned by the channel. */
int
fm_channel_get_fd(const FmChannel *channel)
{
    g_return_val_if_fail(channel != NULL, -1);
    return channel->fd;
}

/* Returns the peer description, owned by the channel. */
const char *
fm_channel_get_address(const FmChannel *channel)
{
    g_return_val_if_fail(channel != NULL, NULL);
    return channel->address;
}

/* Sets the timeout of each wait for the peer; <= 0 waits for ever. */
void
fm_channel_set_timeout(FmChannel *channel, double seconds)
{
    g_return_if_fail(channel != NULL);
    channel->timeout = seconds;
}

/* Sets the read deadline; see fm-channel.h. */
void
fm_channel_set_deadline(FmChannel *channel, double seconds)
{
    g_return_if_fail(channel != NULL);
    channel->deadline_seconds = seconds;
    channel->deadline = seconds > 0 ? g_get_monotonic_time() + (gint64)(seconds * 1e6) : 0;
}

/* Sets the minimum read rate; see fm-channel.h. */
void
fm_channel_set_min_rate(FmChannel *channel, double bytes_per_second, double window)
{
    g_return_if_fail(channel != NULL);
    channel->min_rate = bytes_per_second > 0 && window > 0 ? bytes_per_second : 0;
    channel->rate_window = window;
    channel->rate_start = g_get_monotonic_time();
    channel->rate_bytes = 0;
}

/* Returns the timeout in seconds (<= 0: none). */
double
fm_channel_get_timeout(const FmChannel *channel)
{
    g_return_val_if_fail(channel != NULL, 0);
    return channel->timeout;
}

/* Returns the bucket depth in bytes. */
static double
fm_channel_bucket_depth(const FmChannel *channel)
{
    return (double)channel->bandwidth * FM_CHANNEL_BUCKET_SECONDS;
}

/* Limits writes to @bytes_per_sec; 0 removes the limit.  The bucket starts full. */
void
fm_channel_set_bandwidth(FmChannel *channel, guint64 bytes_per_sec)
{
    g_return_if_fail(channel != NULL);
    channel->bandwidth = bytes_per_sec;
    channel->tokens = fm_channel_bucket_depth(channel);
    channel->refill_time = g_get_monotonic_time();
}

/* Returns the bandwidth limit in bytes per second (0: none). */
guint64
fm_channel_get_bandwidth(const FmChannel *channel)
{
    g_return_val_if_fail(channel != NULL, 0);
    return channel->bandwidth;
}

/* Returns the largest piece handed to one write system call. */
static gsize
fm_channel_chunk_size(const FmChannel *channel)
{
    if (channel->bandwidth == 0)
        return G_MAXSSIZE;
    return (gsize)CLAMP(fm_channel_bucket_depth(channel), FM_CHANNEL_MIN_CHUNK,
                        FM_CHANNEL_MAX_CHUNK);
}

/* Sleeps until the monotonic time @wake_usec. */
static void
fm_sleep_until(gint64 wake_usec)
{
    struct timespec ts = {
        .tv_sec = wake_usec / G_USEC_PER_SEC,
        .tv_nsec = (wake_usec % G_USEC_PER_SEC) * 1000,
    };

    /* g_get_monotonic_time() reads CLOCK_MONOTONIC, so the absolute deadline is in
     * the same clock and the sleep does not drift with repeated short waits. */
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* Takes @n bytes from the bucket, sleeping off any debt first. */
static void
fm_channel_throttle(FmChannel *channel, gsize n)
{
    double bw = (double)channel->bandwidth;
    gint64 now;

    if (channel->bandwidth == 0)
        return;
    now = g_get_monotonic_time();
    channel->tokens = MIN(fm_channel_bucket_depth(channel),
                          channel->tokens + (double)(now - channel->refill_time) * 1e-6 * bw);
    channel->refill_time = now;
    channel->tokens -= (double)n;
    if (channel->tokens < 0)
        fm_sleep_until(now + (gint64)ceil(-channel->tokens / bw * 1e6));
}

/* writev() on a descriptor that is not a socket, without letting a closed pipe
 * kill the process with SIGPIPE: the signal is blocked around the call and a
 * SIGPIPE it raised is consumed before unblocking. */
static ssize_t
fm_writev_nosigpipe(int fd, const struct iovec *iov, int n)
{
    sigset_t pipe_set;
    sigset_t old_set;
    sigset_t pending;
    gboolean was_pending;
    ssize_t r;
    int saved;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);

    r = writev(fd, iov, n);
    saved = errno;
    if (r < 0 && saved == EPIPE && !was_pending) {
        const struct timespec zero = { 0, 0 };

        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    errno = saved;
    return r;
}

/* Writes some of @iov to the descriptor (waiting while the peer is not ready);
 * returns the number of bytes written (> 0) or -1 with @error. */
static gssize
fm_channel_fd_write_some(FmChannel *channel, const struct iovec *iov, int n,
                         GError **error)
{
    for (;;) {
        ssize_t r;

        if (channel->is_socket) {
            struct msghdr msg = {
                .msg_iov = (struct iovec *)iov,
                .msg_iovlen = n,
            };

            r = sendmsg(channel->fd, &msg, MSG_NOSIGNAL);
        } else {
            r = fm_writev_nosigpipe(channel->fd, iov, n);
        }
        if (r > 0)
            return r;
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!fm_fd_wait(channel->fd, POLLOUT, channel->timeout, error))
                return -1;
            continue;
        }
        fm_channel_set_io_error(channel, errno, TRUE, error);
        return -1;
    }
}

/* Writes some of @iov, through the layer if there is one (which takes all of it);
 * returns the number of bytes written (> 0) or -1 with @error. */
static gssize
fm_channel_write_some(FmChannel *channel, const struct iovec *iov, int n,
                      GError **error)
{
    FmIoVector vectors[FM_CHANNEL_IOV_MAX];
    gsize total = 0;

    if (channel->layer_ops == NULL)
        return fm_channel_fd_write_some(channel, iov, n, error);
    g_assert(n <= FM_CHANNEL_IOV_MAX);
    for (int i = 0; i < n; i++) {
        vectors[i].data = iov[i].iov_base;
        vectors[i].len = iov[i].iov_len;
        total += iov[i].iov_len;
    }
    if (!channel->layer_ops->write(channel->layer, vectors, (gsize)n, error))
        return -1;
    return (gssize)total;
}

/* Writes @len bytes to the descriptor, bypassing layer and bandwidth limit. */
gboolean
fm_channel_raw_write_all(FmChannel *channel, const void *buf, gsize len,
                         GError **error)
{
    const guint8 *p = buf;

    g_return_val_if_fail(channel != NULL, FALSE);
    g_return_val_if_fail(len == 0 || buf != NULL, FALSE);

    while (len > 0) {
        struct iovec iov = { (void *)p, len };
        gssize w = fm_channel_fd_write_some(channel, &iov, 1, error);

        if (w < 0)
            return FALSE;
        p += w;
        len -= (gsize)w;
    }
    return TRUE;
}

/* Records a write of @bytes that took @usec for the throughput measure. */
static void
fm_channel_add_sample(FmChannel *channel, guint64 bytes, gint64 usec)
{
    channel->current.bytes += bytes;
    channel->current.usec += usec;
    if (channel->current.usec < FM_CHANNEL_SAMPLE_USEC)
        return;
    channel->samples[channel->next_sample] = channel->current;
    channel->current.bytes = 0;
    channel->current.usec = 0;
    channel->next_sample = (channel->next_sample + 1) % FM_CHANNEL_SAMPLES;
    if (channel->n_samples < FM_CHANNEL_SAMPLES)
        channel->n_samples++;
}

/* Writes the concatenation of @vectors; see the header. */
gboolean
fm_channel_writev_all(FmChannel *channel, const FmIoVector *vectors,
                      gsize n_vectors, GError **error)
{
    gsize vi = 0;              /* current vector */
    gsize voff = 0;            /* offset inside it */
    guint64 total = 0;
    gint64 start;
    gboolean ok = TRUE;

    g_return_val_if_fail(channel != NULL, FALSE);
    g_return_val_if_fail(n_vectors == 0 || vectors != NULL, FALSE);

    start = g_get_monotonic_time();
    for (;;) {
        struct iovec iov[FM_CHANNEL_IOV_MAX];
        gsize limit = fm_channel_chunk_size(channel);
        gsize chunk = 0;
        gsize i = vi;
        gsize off = voff;
        int n = 0;
        gssize w;

        while (i < n_vectors && n < FM_CHANNEL_IOV_MAX && chunk < limit) {
            gsize avail = vectors[i].len - off;
            gsize take = MIN(avail, limit - chunk);

            if (take > 0) {
                iov[n].iov_base = (char *)vectors[i].data + off;
                iov[n].iov_len = take;
                n++;
                chunk += take;
            }
            i++;
            off = 0;
        }
        if (n == 0)
            break;

        fm_channel_throttle(channel, chunk);
        w = fm_channel_write_some(channel, iov, n, error);
        if (w < 0) {
            ok = FALSE;
            break;
        }
        /* What the kernel did not take now goes back into the bucket. */
        if (channel->bandwidth != 0)
            channel->tokens += (double)(chunk - (gsize)w);
        total += (guint64)w;
        channel->bytes_written += (guint64)w;

        while (w > 0) {
            gsize avail = vectors[vi].len - voff;

            if ((gsize)w >= avail) {
                w -= (gssize)avail;
                vi++;
                voff = 0;
            } else {
                voff += (gsize)w;
                w = 0;
            }
        }
    }
    if (total > 0)
        fm_channel_add_sample(channel, total, g_get_monotonic_time() - start);
    return ok;
}

/* Writes the @len bytes of @buf. */
gboolean
fm_channel_write_all(FmChannel *channel, const void *buf, gsize len, GError **error)
{
    FmIoVector vec = { buf, len };

    g_return_val_if_fail(len == 0 || buf != NULL, FALSE);
    return fm_channel_writev_all(channel, &vec, 1, error);
}

/* Checks the read guards (fm_channel_set_deadline(), fm_channel_set_min_rate()).
 * Returns FALSE with @error when one tripped; else TRUE with *@wait the longest the
 * next wait for data may last (<= 0: for ever) and *@guarded TRUE if a guard, not
 * the timeout, sets it (the wait's end is then a new check, not an error). */
static gboolean
fm_channel_check_guards(FmChannel *channel, double *wait, gboolean *guarded, GError **error)
{
    gint64 now = g_get_monotonic_time();

    *wait = channel->timeout;
    *guarded = FALSE;
    if (channel->deadline > 0) {
        double left = (double)(channel->deadline - now) / 1e6;

        if (left <= 0) {
            g_set_error(error, FM_ERROR, FM_ERROR_IO,
                        _("the peer did not complete the setup within %g s"),
                        channel->deadline_seconds);
            return FALSE;
        }
        if (*wait <= 0 || left < *wait) {
            *wait = left;
            *guarded = TRUE;
        }
    }
    if (channel->min_rate > 0) {
        double elapsed = (double)(now - channel->rate_start) / 1e6;
        double left;

        if (elapsed >= channel->rate_window) {
            if ((double)channel->rate_bytes < channel->min_rate * channel->rate_window) {
                g_set_error(error, FM_ERROR, FM_ERROR_IO,
                            _("the peer sends too slowly: %llu bytes in %.0f s, less than the %.0f bytes per second required"),
                            (unsigned long long)channel->rate_bytes, elapsed, channel->min_rate);
                return FALSE;
            }
            channel->rate_start = now;
            channel->rate_bytes = 0;
            elapsed = 0;
        }
        left = channel->rate_window - elapsed;
        if (*wait <= 0 || left < *wait) {
            *wait = left;
            *guarded = TRUE;
        }
    }
    return TRUE;
}

/* Reads up to @len bytes from the descriptor; returns the count, 0 at end of
 * file, -1 with @error.  Does not count the bytes. */
gssize
fm_channel_raw_read(FmChannel *channel, void *buf, gsize len, GError **error)
{
    g_return_val_if_fail(channel != NULL, -1);
    g_return_val_if_fail(buf != NULL && len > 0, -1);

    for (;;) {
        ssize_t r = read(channel->fd, buf, MIN(len, (gsize)G_MAXSSIZE));
        double wait;
        gboolean guarded;

        if (r >= 0) {
            channel->rate_bytes += (guint64)r;
            /* a peer that sends steadily but too slowly never waits: check here too */
            if (r > 0 && (channel->deadline > 0 || channel->min_rate > 0) &&
                !fm_channel_check_guards(channel, &wait, &guarded, error))
                return -1;
            return r;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!fm_channel_check_guards(channel, &wait, &guarded, error))
                return -1;
            /* a guard's bound ends in a new check, which then fails or goes on */
            if (!fm_fd_wait(channel->fd, POLLIN, wait, guarded ? NULL : error)) {
                if (guarded)
                    continue;
                return -1;
            }
            continue;
        }
        fm_channel_set_io_error(channel, errno, FALSE, error);
        return -1;
    }
}

/* Reads up to @len bytes; returns the count, 0 at end of file, -1 with @error. */
gssize
fm_channel_read(FmChannel *channel, void *buf, gsize len, GError **error)
{
    gssize r;

    g_return_val_if_fail(channel != NULL, -1);
    g_return_val_if_fail(buf != NULL && len > 0, -1);

    if (channel->layer_ops != NULL)
        r = channel->layer_ops->read(channel->layer, buf, len, error);
    else
        r = fm_channel_raw_read(channel, buf, len, error);
    if (r > 0)
        channel->bytes_read += (guint64)r;
    return r;
}

/* Reads exactly @len bytes; end of file first is "connection closed by peer". */
gboolean
fm_channel_read_exact(FmChannel *channel, void *buf, gsize len, GError **error)
{
    gsize got;

    g_return_val_if_fail(len == 0 || buf != NULL, FALSE);

    if (!fm_channel_read_upto(channel, buf, len, &got, error))
        return FALSE;
    if (got < len) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("connection closed by peer"));
        return FALSE;
    }
    return TRUE;
}

/* Reads up to @len bytes until end of file; see fm-channel.h. */
gboolean
fm_channel_read_upto(FmChannel *channel, void *buf, gsize len, gsize *got, GError **error)
{
    guint8 *p = buf;

    *got = 0;
    while (*got < len) {
        gssize r = fm_channel_read(channel, p + *got, len - *got, error);

        if (r < 0)
            return FALSE;
        if (r == 0)
            break;
        *got += (gsize)r;
    }
    return TRUE;
}

/* Returns TRUE if a read would not wait; never waits. */
gboolean
fm_channel_poll_readable(FmChannel *channel)
{
    struct pollfd pfd = { .events = POLLIN };
    int r;

    g_return_val_if_fail(channel != NULL, FALSE);
    if (channel->layer_ops != NULL && channel->layer_ops->pending(channel->layer))
        return TRUE;
    pfd.fd = channel->fd;
    do {
        r = poll(&pfd, 1, 0);
    } while (r < 0 && errno == EINTR);
    return r > 0 && pfd.revents != 0;
}

/* Reads and discards everything until end of file. */
gboolean
fm_channel_drain(FmChannel *channel, GError **error)
{
    g_autofree guint8 *buf = g_malloc(64 * 1024);

    for (;;) {
        gssize r = fm_channel_read(channel, buf, 64 * 1024, error);

        if (r < 0)
            return FALSE;
        if (r == 0)
            return TRUE;
    }
}

/* Shuts down the sending direction of a socket; no-op on other descriptors. */
gboolean
fm_channel_shutdown_write(FmChannel *channel, GError **error)
{
    g_return_val_if_fail(channel != NULL, FALSE);

    if (channel->layer_ops != NULL &&
        !channel->layer_ops->shutdown_write(channel->layer, error))
        return FALSE;
    if (!channel->is_socket)
        return TRUE;
    if (shutdown(channel->fd, SHUT_WR) < 0) {
        int err = errno;

        if (err == ENOTCONN) {
            g_set_error(error, FM_ERROR, FM_ERROR_IO, _("connection closed by peer"));
        } else {
            g_set_error(error, FM_ERROR, FM_ERROR_IO,
                        _("cannot shut down the connection to %s: %s"),
                        channel->address, g_strerror(err));
        }
        return FALSE;
    }
    return TRUE;
}

/* Returns the measured write throughput over the recent writes, 0 before any. */
double
fm_channel_get_throughput(const FmChannel *channel)
{
    guint64 bytes;
    gint64 usec;

    g_return_val_if_fail(channel != NULL, 0);

    bytes = channel->current.bytes;
    usec = channel->current.usec;
    for (guint i = 0; i < channel->n_samples; i++) {
        bytes += channel->samples[i].bytes;
        usec += channel->samples[i].usec;
    }
    if (bytes == 0)
        return 0;
    /* A write that fitted in the socket buffer can take less than the clock's
     * resolution; count it as 1 µs rather than dividing by zero. */
    return (double)bytes / ((double)MAX(usec, 1) * 1e-6);
}

/* Returns the bytes written so far. */
guint64
fm_channel_get_bytes_written(const FmChannel *channel)
{
    g_return_val_if_fail(channel != NULL, 0);
    return channel->bytes_written;
}

/* Returns the bytes read so far. */
guint64
fm_channel_get_bytes_read(const FmChannel *channel)
{
    g_return_val_if_fail(channel != NULL, 0);
    return channel->bytes_read;
}

/* ---- listening ---- */

/* Fills in @listener's port and connectable address from its socket; @wildcard
 * says it listens on every address, where clients should use the loopback one. */
static void
fm_listener_describe(FmListener *listener, gboolean wildcard)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(listener->fd, (struct sockaddr *)&ss, &len) < 0) {
        listener->address = g_strdup_printf("fd:%d", listener->fd);
        return;
    }
    if (ss.ss_family == AF_INET)
        listener->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        listener->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);

    if (wildcard)
        listener->address = g_strdup_printf("tcp://127.0.0.1:%u", listener->port);
    else
        listener->address = fm_sockaddr_to_address((struct sockaddr *)&ss, len);
    if (listener->address == NULL)
        listener->address = g_strdup_printf("fd:%d", listener->fd);
}

/* Returns a listening socket bound to @sa, or -1 with errno set. */
static int
fm_socket_listen(int family, const struct sockaddr *sa, socklen_t len,
                 gboolean dual_stack)
{
    int one = 1;
    int zero = 0;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int err;

    if (fd < 0)
        return -1;
    if (family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual_stack ? &zero : &one, sizeof(int));
    if (bind(fd, sa, len) < 0 || listen(fd, 16) < 0) {
        err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* Returns a listener on @addr's host and port (every address when the host is
 * empty), or NULL with @error. */
static FmListener *
fm_listen_tcp(const char *address, const FmAddress *addr, GError **error)
{
    FmListener *listener;
    int fd = -1;
    int err = 0;
    gboolean wildcard = addr->host[0] == '\0';

    if (wildcard) {
        struct sockaddr_in6 sin6 = {
            .sin6_family = AF_INET6,
            .sin6_port = htons(addr->port),
            .sin6_addr = IN6ADDR_ANY_INIT,
        };
        struct sockaddr_in sin = {
            .sin_family = AF_INET,
            .sin_port = htons(addr->port),
            .sin_addr.s_addr = htonl(INADDR_ANY),
        };

        fd = fm_socket_listen(AF_INET6, (struct sockaddr *)&sin6, sizeof(sin6), TRUE);
        if (fd < 0)
            fd = fm_socket_listen(AF_INET, (struct sockaddr *)&sin, sizeof(sin), FALSE);
        err = errno;
    } else {
        struct addrinfo hints = {
            .ai_family = AF_UNSPEC,
            .ai_socktype = SOCK_STREAM,
            .ai_flags = AI_NUMERICSERV | AI_PASSIVE,
        };
        struct addrinfo *res = NULL;
        int r = getaddrinfo(addr->host, addr->port_str, &hints, &res);

        if (r != 0) {
            g_autofree char *host = fm_quote(addr->host, -1);

            g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot resolve host %s: %s"),
                        host, r == EAI_SYSTEM ? g_strerror(errno) : gai_strerror(r));
            return NULL;
        }
        for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
            fd = fm_socket_listen(ai->ai_family, ai->ai_addr, ai->ai_addrlen, FALSE);
            if (fd < 0)
                err = errno;
        }
        freeaddrinfo(res);
    }
    if (fd < 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot listen on %s: %s"), address,
                    g_strerror(err));
        return NULL;
    }
    listener = g_new0(FmListener, 1);
    listener->fd = fd;
    fm_listener_describe(listener, wildcard);
    return listener;
}

/* Returns a listener on a new unix socket at @addr's path, or NULL with @error. */
static FmListener *
fm_listen_unix(const char *address, const FmAddress *addr, GError **error)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    FmListener *listener;
    int fd;

    g_strlcpy(sun.sun_path, addr->path, sizeof(sun.sun_path));
    fd = fm_socket_listen(AF_UNIX, (struct sockaddr *)&sun, sizeof(sun), FALSE);
    if (fd < 0) {
        int err = errno;

        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot listen on %s: %s"), address,
                    g_strerror(err));
        return NULL;
    }
    listener = g_new0(FmListener, 1);
    listener->fd = fd;
    listener->unix_path = g_strdup(addr->path);
    listener->address = g_strdup_printf("unix:%s", addr->path);
    return listener;
}

/* Returns a listener taking over the listening socket @fd, or NULL with @error
 * (the caller then keeps @fd). */
static FmListener *
fm_listen_fd(const char *address, int fd, GError **error)
{
    FmListener *listener;
    int listening = 0;
    socklen_t len = sizeof(listening);

    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening) {
        g_autofree char *quoted = fm_quote(address, -1);

        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid address %s: descriptor %d is not a listening socket"),
                    quoted, fd);
        return NULL;
    }
    if (!fm_fd_prepare(fd)) {
        int err = errno;

        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("file descriptor %d cannot be used: %s"), fd, g_strerror(err));
        return NULL;
    }
    listener = g_new0(FmListener, 1);
    listener->fd = fd;
    fm_listener_describe(listener, FALSE);
    return listener;
}

/* Listens on @address; see the header. */
FmListener *
fm_channel_listen(const char *address, GError **error)
{
    FmAddress addr;
    FmListener *listener = NULL;

    g_return_val_if_fail(address != NULL, NULL);

    if (!fm_address_parse(address, TRUE, &addr, error)) {
        fm_address_clear(&addr);
        return NULL;
    }
    switch (addr.kind) {
    case FM_ADDRESS_TCP:
        listener = fm_listen_tcp(address, &addr, error);
        break;
    case FM_ADDRESS_UNIX:
        listener = fm_listen_unix(address, &addr, error);
        break;
    case FM_ADDRESS_FD:
        listener = fm_listen_fd(address, addr.fd, error);
        break;
    }
    fm_address_clear(&addr);
    return listener;
}

/* Waits for one connection and returns it as a new channel, or NULL with @error. */
FmChannel *
fm_listener_accept(FmListener *listener, GError **error)
{
    g_return_val_if_fail(listener != NULL, NULL);

    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        g_autofree char *peer = NULL;
        int fd = accept4(listener->fd, (struct sockaddr *)&ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd >= 0) {
            peer = fm_sockaddr_to_address((struct sockaddr *)&ss, len);
            if (peer == NULL && ss.ss_family == AF_UNIX && listener->unix_path != NULL)
                peer = g_strdup(listener->address);
            if (peer == NULL)
                peer = g_strdup_printf("fd:%d", fd);
            return fm_channel_wrap(fd, peer);
        }
        /* ECONNABORTED: the client gave up before we accepted; wait for another. */
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!fm_fd_wait(listener->fd, POLLIN, listener->timeout, error))
                return NULL;
            continue;
        }
        {
            int err = errno;

            g_set_error(error, FM_ERROR, FM_ERROR_IO,
                        _("cannot accept a connection on %s: %s"), listener->address,
                        g_strerror(err));
        }
        return NULL;
    }
}

/* Sets the accept timeout in seconds (<= 0: for ever). */
void
fm_listener_set_timeout(FmListener *listener, double seconds)
{
    g_return_if_fail(listener != NULL);
    listener->timeout = seconds;
}

/* Returns the TCP port, 0 if not TCP. */
guint16
fm_listener_get_port(const FmListener *listener)
{
    g_return_val_if_fail(listener != NULL, 0);
    return listener->port;
}

/* Returns an address for fm_channel_connect(); owned by the listener. */
const char *
fm_listener_get_address(const FmListener *listener)
{
    g_return_val_if_fail(listener != NULL, NULL);
    return listener->address;
}

/* Returns the listening descriptor, still owned by the listener. */
int
fm_listener_get_fd(const FmListener *listener)
{
    g_return_val_if_fail(listener != NULL, -1);
    return listener->fd;
}

/* Closes and frees the listener (removing its unix socket file); NULL ok. */
void
fm_listener_free(FmListener *listener)
{
    if (listener == NULL)
        return;
    if (listener->fd >= 0)
        close(listener->fd);
    if (listener->unix_path != NULL)
        unlink(listener->unix_path);
    g_free(listener->unix_path);
    g_free(listener->address);
    g_free(listener);
}
