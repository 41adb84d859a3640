/*
 * test-channel.c: tests of FmChannel (transports, errors, timeouts, bandwidth limit).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "transport/fm-channel.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/fm-error.h"

/* ---- helpers ---- */

/* Returns @len deterministic pseudo-random bytes (caller frees). */
static guint8 *
make_data(gsize len, guint32 seed)
{
    guint8 *data = g_malloc(len);
    GRand *rand = g_rand_new_with_seed(seed);

    for (gsize i = 0; i < len; i++)
        data[i] = (guint8)g_rand_int(rand);
    g_rand_free(rand);
    return data;
}

/* The peer of an echo test: accepts (or takes) a channel, reads @len bytes, writes
 * them back, then checks that the client half-closed. */
typedef struct {
    FmListener *listener;      /* accept from this, or */
    FmChannel *channel;        /* use this one */
    gsize len;
    char *peer_address;        /* out: address of the accepted channel */
    gboolean ok;               /* out */
    char *message;             /* out: error message if !ok */
} EchoPeer;

static gpointer
echo_peer_thread(gpointer opaque)
{
    EchoPeer *peer = opaque;
    g_autoptr(GError) err = NULL;
    g_autoptr(FmChannel) channel = NULL;
    g_autofree guint8 *buf = g_malloc(peer->len);
    guint8 byte;

    if (peer->listener != NULL) {
        channel = fm_listener_accept(peer->listener, &err);
        if (channel == NULL)
            goto out;
    } else {
        channel = g_steal_pointer(&peer->channel);
    }
    fm_channel_set_timeout(channel, 10);
    peer->peer_address = g_strdup(fm_channel_get_address(channel));
    if (!fm_channel_read_exact(channel, buf, peer->len, &err) ||
        !fm_channel_write_all(channel, buf, peer->len, &err))
        goto out;
    /* The client shut down its sending side: we see end of file. */
    if (fm_channel_read(channel, &byte, 1, &err) != 0) {
        if (err == NULL)
            g_set_error(&err, FM_ERROR, FM_ERROR_FAILED, "expected end of file");
        goto out;
    }
    peer->ok = fm_channel_get_bytes_read(channel) == peer->len &&
        fm_channel_get_bytes_written(channel) == peer->len;
    if (!peer->ok)
        g_set_error(&err, FM_ERROR, FM_ERROR_FAILED, "byte counters are wrong");
 out:
    if (err != NULL)
        peer->message = g_strdup(err->message);
    return NULL;
}

/* Sends @len bytes through @client to an echo peer and checks what comes back. */
static void
check_echo(FmChannel *client, EchoPeer *peer, gsize len)
{
    g_autoptr(GError) err = NULL;
    g_autofree guint8 *data = make_data(len, (guint32)len);
    g_autofree guint8 *back = g_malloc(len);
    GThread *thread;

    peer->len = len;
    thread = g_thread_new("echo", echo_peer_thread, peer);
    fm_channel_set_timeout(client, 10);
    g_assert_true(fm_channel_write_all(client, data, len, &err));
    g_assert_no_error(err);
    g_assert_true(fm_channel_shutdown_write(client, &err));
    g_assert_no_error(err);
    g_assert_true(fm_channel_read_exact(client, back, len, &err));
    g_assert_no_error(err);
    g_thread_join(thread);
    g_assert_cmpstr(peer->message, ==, NULL);
    g_assert_true(peer->ok);
    g_assert_cmpmem(data, len, back, len);
    g_assert_cmpuint(fm_channel_get_bytes_written(client), ==, len);
    g_assert_cmpuint(fm_channel_get_bytes_read(client), ==, len);
    g_assert_cmpfloat(fm_channel_get_throughput(client), >, 0);
}

static void
echo_peer_clear(EchoPeer *peer)
{
    g_free(peer->peer_address);
    g_free(peer->message);
    fm_channel_free(peer->channel);
}

/* ---- round trips ---- */

/* 3 MiB is more than the socket buffers: writes are partial and must wait. */
#define ECHO_LEN (3 * 1024 * 1024 + 5)

static void
test_tcp4(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmListener) listener = fm_channel_listen("tcp://127.0.0.1:0", &err);
    g_autoptr(FmChannel) client = NULL;
    g_autofree char *expect = NULL;
    EchoPeer peer = { 0 };

    g_assert_no_error(err);
    g_assert_cmpuint(fm_listener_get_port(listener), >, 0);
    expect = g_strdup_printf("tcp://127.0.0.1:%u", fm_listener_get_port(listener));
    g_assert_cmpstr(fm_listener_get_address(listener), ==, expect);
    fm_listener_set_timeout(listener, 10);

    client = fm_channel_connect(expect, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(fm_channel_get_address(client), ==, expect);
    peer.listener = listener;
    check_echo(client, &peer, ECHO_LEN);
    g_assert_true(g_str_has_prefix(peer.peer_address, "tcp://127.0.0.1:"));
    echo_peer_clear(&peer);
}

static void
test_tcp6(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmListener) listener = fm_channel_listen("tcp://[::1]:0", &err);
    g_autoptr(FmChannel) client = NULL;
    g_autofree char *expect = NULL;
    EchoPeer peer = { 0 };

    if (listener == NULL && strstr(err->message, "Cannot assign requested address")) {
        g_test_skip("no IPv6 loopback on this machine");
        return;
    }
    g_assert_no_error(err);
    expect = g_strdup_printf("tcp://[::1]:%u", fm_listener_get_port(listener));
    g_assert_cmpstr(fm_listener_get_address(listener), ==, expect);
    fm_listener_set_timeout(listener, 10);

    client = fm_channel_connect(expect, &err);
    g_assert_no_error(err);
    peer.listener = listener;
    check_echo(client, &peer, ECHO_LEN);
    g_assert_true(g_str_has_prefix(peer.peer_address, "tcp://[::1]:"));
    echo_peer_clear(&peer);
}

/* A host name goes through getaddrinfo; the wildcard listener takes IPv4 too. */
static void
test_tcp_hostname(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmListener) listener = fm_channel_listen("tcp://:0", &err);
    g_autoptr(FmChannel) client = NULL;
    g_autofree char *addr = NULL;
    EchoPeer peer = { 0 };

    g_assert_no_error(err);
    addr = g_strdup_printf("tcp://127.0.0.1:%u", fm_listener_get_port(listener));
    g_assert_cmpstr(fm_listener_get_address(listener), ==, addr);
    fm_listener_set_timeout(listener, 10);
    g_free(addr);
    addr = g_strdup_printf("tcp://localhost:%u", fm_listener_get_port(listener));
    client = fm_channel_connect(addr, &err);
    g_assert_no_error(err);
    peer.listener = listener;
    check_echo(client, &peer, 4096);
    echo_peer_clear(&peer);
}

static void
test_unix(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("fm-channel-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autofree char *addr = g_strdup_printf("unix:%s", path);
    g_autofree char *expect = NULL;
    FmListener *listener;
    FmListener *again;
    g_autoptr(FmChannel) client = NULL;
    EchoPeer peer = { 0 };

    g_assert_nonnull(dir);
    listener = fm_channel_listen(addr, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(fm_listener_get_port(listener), ==, 0);
    g_assert_cmpstr(fm_listener_get_address(listener), ==, addr);
    fm_listener_set_timeout(listener, 10);

    /* The path is taken: a second listener must fail, not steal it. */
    again = fm_channel_listen(addr, &err);
    g_assert_null(again);
    expect = g_strdup_printf("cannot listen on %s: %s", addr, g_strerror(EADDRINUSE));
    g_assert_error(err, FM_ERROR, FM_ERROR_IO);
    g_assert_cmpstr(err->message, ==, expect);
    g_clear_error(&err);

    client = fm_channel_connect(addr, &err);
    g_assert_no_error(err);
    peer.listener = listener;
    check_echo(client, &peer, ECHO_LEN);
    g_assert_cmpstr(peer.peer_address, ==, addr);
    echo_peer_clear(&peer);

    fm_listener_free(listener);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_cmpint(rmdir(dir), ==, 0);
}

static void
test_fd(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmChannel) client = NULL;
    g_autofree char *addr = NULL;
    EchoPeer peer = { 0 };
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    addr = g_strdup_printf("fd:%d", sv[0]);
    client = fm_channel_connect(addr, &err);
    g_assert_no_error(err);
    g_assert_cmpint(fm_channel_get_fd(client), ==, sv[0]);
    g_assert_cmpstr(fm_channel_get_address(client), ==, addr);
    peer.channel = fm_channel_new_from_fd(sv[1], &err);
    g_assert_no_error(err);
    check_echo(client, &peer, ECHO_LEN);
    echo_peer_clear(&peer);
}

/* A listening socket handed over as fd:N. */
static void
test_listen_fd(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmListener) listener = NULL;
    g_autoptr(FmChannel) client = NULL;
    g_autofree char *addr = NULL;
    EchoPeer peer = { 0 };
    int fd;
    int sv[2];

    /* A socket some other program (systemd, libvirt) set up and passed on. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    g_assert_cmpint(fd, >=, 0);
    {
        struct sockaddr_in sin = { .sin_family = AF_INET };

        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        g_assert_cmpint(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
        g_assert_cmpint(listen(fd, 4), ==, 0);
    }
    addr = g_strdup_printf("fd:%d", fd);
    listener = fm_channel_listen(addr, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(fm_listener_get_port(listener), >, 0);
    fm_listener_set_timeout(listener, 10);
    client = fm_channel_connect(fm_listener_get_address(listener), &err);
    g_assert_no_error(err);
    peer.listener = listener;
    check_echo(client, &peer, 1000);
    echo_peer_clear(&peer);

    /* A connected socket is not a listening one. */
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_free(addr);
    addr = g_strdup_printf("fd:%d", sv[0]);
    g_assert_null(fm_channel_listen(addr, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_INVALID_ARG);
    {
        g_autofree char *expect =
            g_strdup_printf("invalid address '%s': descriptor %d is not a listening socket",
                            addr, sv[0]);

        g_assert_cmpstr(err->message, ==, expect);
    }
    close(sv[0]);
    close(sv[1]);
}

/* ---- errors ---- */

typedef struct {
    const char *address;
    gboolean listen;
    int code;
    const char *message;
} BadAddress;

static const BadAddress bad_addresses[] = {
    { "tcp://nohost", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'tcp://nohost': missing port" },
    { "tcp://1.2.3.4", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'tcp://1.2.3.4': missing port" },
    { "tcp://1.2.3.4:", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'tcp://1.2.3.4:': missing port" },
    { "ftp://x", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'ftp://x': expected tcp://HOST:PORT, unix:PATH or fd:N" },
    { "", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address '': expected tcp://HOST:PORT, unix:PATH or fd:N" },
    /* input that is not UTF-8, or spans lines, is escaped */
    { "tcp://h\xff\xfe", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'tcp://h\\xFF\\xFE': missing port" },
    { "unix:", FALSE, FM_ERROR_INVALID_ARG, "invalid address 'unix:': missing socket path" },
    { "fd:\n", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'fd:\\n': expected a file descriptor number after 'fd:'" },
    { "tcp://localhost:99999", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'tcp://localhost:99999': the port must be a number from 1 to 65535" },
    { "tcp://localhost:99999", TRUE, FM_ERROR_INVALID_ARG,
      "invalid address 'tcp://localhost:99999': the port must be a number from 0 to 65535" },
    { "tcp://localhost:0", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'tcp://localhost:0': the port must be a number from 1 to 65535" },
    { "tcp://localhost:-1", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'tcp://localhost:-1': the port must be a number from 1 to 65535" },
    { "tcp://localhost:80x", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'tcp://localhost:80x': the port must be a number from 1 to 65535" },
    { "tcp://:4444", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'tcp://:4444': missing host" },
    { "tcp://[]:4444", TRUE, FM_ERROR_INVALID_ARG,
      "invalid address 'tcp://[]:4444': missing host" },
    { "tcp://::1:4444", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'tcp://::1:4444': an IPv6 address must be in brackets, as in tcp://[::1]:PORT" },
    { "tcp://[::1:4444", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'tcp://[::1:4444': missing ']' after the IPv6 address" },
    { "tcp://[::1]4444", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'tcp://[::1]4444': expected ':PORT' after ']'" },
    { "tcp://[::1]", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'tcp://[::1]': missing port" },
    { "unix:", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'unix:': missing socket path" },
    { "fd:", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'fd:': expected a file descriptor number after 'fd:'" },
    { "fd:x1", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'fd:x1': expected a file descriptor number after 'fd:'" },
    { "fd:-3", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'fd:-3': expected a file descriptor number after 'fd:'" },
    { "fd:99999999999", FALSE, FM_ERROR_INVALID_ARG,
      "invalid address 'fd:99999999999': expected a file descriptor number after 'fd:'" },
    { "fd:987654", FALSE, FM_ERROR_IO,
      "file descriptor 987654 cannot be used: Bad file descriptor" },
    { "unix:/nonexistent-fragmig-dir/sock", FALSE, FM_ERROR_IO,
      "cannot connect to unix:/nonexistent-fragmig-dir/sock: No such file or directory" },
    { "unix:/nonexistent-fragmig-dir/sock", TRUE, FM_ERROR_IO,
      "cannot listen on unix:/nonexistent-fragmig-dir/sock: No such file or directory" },
};

static void
test_bad_addresses(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(bad_addresses); i++) {
        const BadAddress *bad = &bad_addresses[i];
        g_autoptr(GError) err = NULL;

        g_test_message("%s %s", bad->listen ? "listen" : "connect", bad->address);
        if (bad->listen)
            g_assert_null(fm_channel_listen(bad->address, &err));
        else
            g_assert_null(fm_channel_connect(bad->address, &err));
        g_assert_error(err, FM_ERROR, bad->code);
        g_assert_cmpstr(err->message, ==, bad->message);
    }
}

static void
test_unix_path_too_long(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = g_strnfill(200, 'x');
    g_autofree char *addr = g_strdup_printf("unix:/%s", path);
    g_autofree char *expect =
        g_strdup_printf("invalid address '%s': the socket path is too long (at most 107 bytes)",
                        addr);

    g_assert_null(fm_channel_connect(addr, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_INVALID_ARG);
    g_assert_cmpstr(err->message, ==, expect);
}

static void
test_unresolvable(void)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(fm_channel_connect("tcp://nohost.invalid:4000", &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_IO);
    g_assert_true(g_str_has_prefix(err->message, "cannot resolve host 'nohost.invalid': "));
}

static void
test_refused(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *addr = NULL;
    g_autofree char *expect = NULL;
    guint16 port;

    /* A port that was free a moment ago: nothing listens there now. */
    {
        g_autoptr(FmListener) listener = fm_channel_listen("tcp://127.0.0.1:0", &err);

        g_assert_no_error(err);
        port = fm_listener_get_port(listener);
    }
    addr = g_strdup_printf("tcp://127.0.0.1:%u", port);
    expect = g_strdup_printf("cannot connect to %s: %s", addr, g_strerror(ECONNREFUSED));
    g_assert_null(fm_channel_connect(addr, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_IO);
    g_assert_cmpstr(err->message, ==, expect);
}

/* Returns a connected pair of channels over a socketpair. */
static void
make_pair(FmChannel **a, FmChannel **b)
{
    g_autoptr(GError) err = NULL;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    *a = fm_channel_new_from_fd(sv[0], &err);
    g_assert_no_error(err);
    *b = fm_channel_new_from_fd(sv[1], &err);
    g_assert_no_error(err);
}

static void
test_peer_close_read(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmChannel) a = NULL;
    FmChannel *b = NULL;
    guint8 buf[16];

    make_pair(&a, &b);
    g_assert_true(fm_channel_write_all(b, "abc", 3, &err));
    fm_channel_free(b);

    /* Three bytes arrive, then the peer is gone before the rest. */
    g_assert_false(fm_channel_read_exact(a, buf, sizeof(buf), &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_IO);
    g_assert_cmpstr(err->message, ==, "connection closed by peer");
    g_assert_cmpuint(fm_channel_get_bytes_read(a), ==, 3);
    g_assert_cmpmem(buf, 3, "abc", 3);
    g_clear_error(&err);

    /* fm_channel_read() reports end of file as 0, not as an error. */
    g_assert_cmpint(fm_channel_read(a, buf, sizeof(buf), &err), ==, 0);
    g_assert_no_error(err);
}

/* Writing to a closed TCP peer: an error naming the cause, and no SIGPIPE. */
static void
test_peer_close_write_tcp(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmListener) listener = fm_channel_listen("tcp://127.0.0.1:0", &err);
    g_autoptr(FmChannel) client = NULL;
    FmChannel *server;
    g_autofree guint8 *data = g_malloc0(1024 * 1024);
    int i;

    g_assert_no_error(err);
    client = fm_channel_connect(fm_listener_get_address(listener), &err);
    g_assert_no_error(err);
    server = fm_listener_accept(listener, &err);
    g_assert_no_error(err);
    fm_channel_free(server);
    fm_channel_set_timeout(client, 5);

    for (i = 0; i < 100; i++) {
        if (!fm_channel_write_all(client, data, 1024 * 1024, &err))
            break;
    }
    g_assert_cmpint(i, <, 100);
    g_assert_error(err, FM_ERROR, FM_ERROR_IO);
    if (g_strcmp0(err->message, "connection reset by peer") != 0)
        g_assert_cmpstr(err->message, ==, "connection closed by peer (broken pipe)");
}

/* A pipe whose reader is gone: write() would raise SIGPIPE; we get an error. */
static void
test_peer_close_write_pipe(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmChannel) channel = NULL;
    int p[2];

    g_assert_cmpint(pipe(p), ==, 0);
    close(p[0]);
    channel = fm_channel_new_from_fd(p[1], &err);
    g_assert_no_error(err);
    g_assert_false(fm_channel_write_all(channel, "x", 1, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_IO);
    g_assert_cmpstr(err->message, ==, "connection closed by peer (broken pipe)");
    /* Shutting down a pipe is a no-op. */
    g_clear_error(&err);
    g_assert_true(fm_channel_shutdown_write(channel, &err));
    g_assert_no_error(err);
}

static void
test_timeout(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmChannel) a = NULL;
    g_autoptr(FmChannel) b = NULL;
    g_autofree guint8 *data = g_malloc0(64 * 1024 * 1024);
    guint8 buf[4];
    gint64 start;
    double elapsed;

    make_pair(&a, &b);
    fm_channel_set_timeout(a, 0.2);
    g_assert_cmpfloat(fm_channel_get_timeout(a), ==, 0.2);

    start = g_get_monotonic_time();
    g_assert_false(fm_channel_read_exact(a, buf, sizeof(buf), &err));
    elapsed = (g_get_monotonic_time() - start) / 1e6;
    g_assert_error(err, FM_ERROR, FM_ERROR_IO);
    g_assert_cmpstr(err->message, ==, "timed out after 0.2 s waiting for the peer");
    g_assert_cmpfloat(elapsed, >=, 0.19);   /* never early; a loaded host may be late */
    g_clear_error(&err);

    /* The peer never reads: the socket buffer fills and the write times out. */
    g_assert_false(fm_channel_write_all(a, data, 64 * 1024 * 1024, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_IO);
    g_assert_cmpstr(err->message, ==, "timed out after 0.2 s waiting for the peer");
    g_assert_cmpuint(fm_channel_get_bytes_written(a), >, 0);
    g_assert_cmpuint(fm_channel_get_bytes_written(a), <, 64 * 1024 * 1024);
}

static void
test_accept_timeout(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmListener) listener = fm_channel_listen("tcp://127.0.0.1:0", &err);

    g_assert_no_error(err);
    fm_listener_set_timeout(listener, 0.1);
    g_assert_null(fm_listener_accept(listener, &err));
    g_assert_error(err, FM_ERROR, FM_ERROR_IO);
    g_assert_cmpstr(err->message, ==, "timed out after 0.1 s waiting for the peer");
}

static void
test_poll_drain_shutdown(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmChannel) a = NULL;
    g_autoptr(FmChannel) b = NULL;
    guint8 buf[8];
    FmIoVector vec[] = { { "he", 2 }, { "", 0 }, { "llo", 3 } };

    make_pair(&a, &b);
    g_assert_false(fm_channel_poll_readable(a));
    g_assert_true(fm_channel_writev_all(b, vec, G_N_ELEMENTS(vec), &err));
    g_assert_no_error(err);
    g_assert_cmpuint(fm_channel_get_bytes_written(b), ==, 5);
    g_assert_true(fm_channel_poll_readable(a));
    g_assert_true(fm_channel_read_exact(a, buf, 5, &err));
    g_assert_cmpmem(buf, 5, "hello", 5);
    g_assert_false(fm_channel_poll_readable(a));

    /* After b's half-close a sees end of file but can still answer. */
    g_assert_true(fm_channel_write_all(b, "tail", 4, &err));
    g_assert_true(fm_channel_shutdown_write(b, &err));
    g_assert_no_error(err);
    g_assert_true(fm_channel_poll_readable(a));
    fm_channel_set_timeout(a, 1);
    g_assert_true(fm_channel_drain(a, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(fm_channel_get_bytes_read(a), ==, 9);
    g_assert_true(fm_channel_write_all(a, "ok", 2, &err));
    g_assert_true(fm_channel_read_exact(b, buf, 2, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(buf, 2, "ok", 2);
}

/* ---- bandwidth limit ---- */

typedef struct {
    FmChannel *channel;
    gsize len;
    gboolean ok;
} Sink;

static gpointer
sink_thread(gpointer opaque)
{
    Sink *sink = opaque;
    g_autofree guint8 *buf = g_malloc(sink->len);

    sink->ok = fm_channel_read_exact(sink->channel, buf, sink->len, NULL);
    return NULL;
}

/* Writes @total bytes in pieces of @piece at @rate through a socketpair; returns the
 * elapsed seconds, and the measured throughput in *@throughput. */
static double
timed_transfer(guint64 rate, gsize total, gsize piece, double *throughput)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(FmChannel) a = NULL;
    g_autoptr(FmChannel) b = NULL;
    g_autofree guint8 *data = g_malloc0(piece);
    Sink sink = { 0 };
    GThread *thread;
    gint64 start;
    double elapsed;

    make_pair(&a, &b);
    fm_channel_set_bandwidth(a, rate);
    g_assert_cmpuint(fm_channel_get_bandwidth(a), ==, rate);
    g_assert_cmpfloat(fm_channel_get_throughput(a), ==, 0);
    sink.channel = b;
    sink.len = total;
    thread = g_thread_new("sink", sink_thread, &sink);

    start = g_get_monotonic_time();
    for (gsize done = 0; done < total; done += piece) {
        g_assert_true(fm_channel_write_all(a, data, MIN(piece, total - done), &err));
        g_assert_no_error(err);
    }
    elapsed = (g_get_monotonic_time() - start) / 1e6;
    g_thread_join(thread);
    g_assert_true(sink.ok);
    g_assert_cmpuint(fm_channel_get_bytes_written(a), ==, total);
    *throughput = fm_channel_get_throughput(a);
    return elapsed;
}

/* Only lower bounds on time: the limiter must never let data out faster than the
 * rate (checked tightly), but a loaded host can always make a transfer slower; how
 * close it comes to the rate on a quiet host is bench/'s to measure. */

static void
test_bandwidth(void)
{
    const guint64 rate = 40 * 1024 * 1024;
    double throughput;
    double elapsed;

    /* 8 MiB at 40 MiB/s: 0.2 s, less the 10 ms bucket that goes out at once. */
    elapsed = timed_transfer(rate, 8 * 1024 * 1024, 8 * 1024 * 1024, &throughput);
    g_test_message("one 8 MiB write: %.3f s, %.1f MiB/s", elapsed,
                   throughput / (1024 * 1024));
    g_assert_cmpfloat(elapsed, >=, 0.2 * 0.85);
    g_assert_cmpfloat(throughput, >, 0);
    g_assert_cmpfloat(throughput, <=, rate * 1.15);

    /* The same in 4 KiB writes (one per page): the bucket paces them too. */
    elapsed = timed_transfer(rate, 8 * 1024 * 1024, 4096, &throughput);
    g_test_message("2048 writes of 4 KiB: %.3f s, %.1f MiB/s", elapsed,
                   throughput / (1024 * 1024));
    g_assert_cmpfloat(elapsed, >=, 0.2 * 0.85);
    g_assert_cmpfloat(throughput, >, 0);
    g_assert_cmpfloat(throughput, <=, rate * 1.15);

    /* A slow link: 1 MiB at 10 MiB/s is 0.1 s. */
    elapsed = timed_transfer(10 * 1024 * 1024, 1024 * 1024, 64 * 1024, &throughput);
    g_test_message("1 MiB at 10 MiB/s: %.3f s", elapsed);
    g_assert_cmpfloat(elapsed, >=, 0.1 * 0.85);

    /* Unlimited (rate 0): no pacing.  A limiter left on at any rate a test could
     * wait for would show as a hang, not as a slow transfer. */
    elapsed = timed_transfer(0, 8 * 1024 * 1024, 1024 * 1024, &throughput);
    g_test_message("unlimited: %.3f s, %.1f MiB/s", elapsed, throughput / (1024 * 1024));
    g_assert_cmpfloat(throughput, >, 0);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/channel/tcp4", test_tcp4);
    g_test_add_func("/channel/tcp6", test_tcp6);
    g_test_add_func("/channel/tcp-hostname", test_tcp_hostname);
    g_test_add_func("/channel/unix", test_unix);
    g_test_add_func("/channel/fd", test_fd);
    g_test_add_func("/channel/listen-fd", test_listen_fd);
    g_test_add_func("/channel/bad-addresses", test_bad_addresses);
    g_test_add_func("/channel/unix-path-too-long", test_unix_path_too_long);
    g_test_add_func("/channel/unresolvable", test_unresolvable);
    g_test_add_func("/channel/refused", test_refused);
    g_test_add_func("/channel/peer-close-read", test_peer_close_read);
    g_test_add_func("/channel/peer-close-write-tcp", test_peer_close_write_tcp);
    g_test_add_func("/channel/peer-close-write-pipe", test_peer_close_write_pipe);
    g_test_add_func("/channel/timeout", test_timeout);
    g_test_add_func("/channel/accept-timeout", test_accept_timeout);
    g_test_add_func("/channel/poll-drain-shutdown", test_poll_drain_shutdown);
    g_test_add_func("/channel/bandwidth", test_bandwidth);

    return g_test_run();
}
