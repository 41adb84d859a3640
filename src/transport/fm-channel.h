/*
 * fm-channel.h: a bidirectional byte pipe to the migration peer.
 *
 * An FmChannel owns one file descriptor: a TCP connection (IPv4 or IPv6), a unix
 * stream socket, or an inherited descriptor.  Addresses are written
 *   tcp://HOST:PORT     HOST a name (resolved with getaddrinfo), an IPv4 address, or
 *                       an IPv6 address in brackets: tcp://[::1]:4444
 *   unix:PATH           a unix stream socket
 *   fd:N                descriptor N, already connected (the channel takes it over)
 *
 * Invariants and rules:
 *  - the descriptor is close-on-exec and non-blocking; every wait goes through poll()
 *    with the channel's timeout, which bounds each wait for the peer (any progress
 *    starts a new wait), so a dead peer cannot hang the caller for ever;
 *  - write_all / read_exact either transfer everything or fail: they retry on EINTR
 *    and short transfers.  A failed transfer leaves the stream position unknown: the
 *    caller must give the channel up;
 *  - writing never raises SIGPIPE (MSG_NOSIGNAL on sockets, SIGPIPE blocked around
 *    write() on other descriptors);
 *  - errors are FM_ERROR_IO with a translated message naming the cause:
 *    "connection closed by peer" (end of file where data was needed),
 *    "connection reset by peer", "connection closed by peer (broken pipe)",
 *    "timed out after N s waiting for the peer";
 *  - writes obey the bandwidth limit (a token bucket ~10 ms deep), so that a
 *    loopback run behaves like a link of that speed;
 *  - not thread-safe: one thread uses a channel at a time.  Reading in one thread
 *    while writing in another is not supported either (the tests use two channels,
 *    one per end).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _FmChannel FmChannel;
typedef struct _FmListener FmListener;

/* One buffer of a gathered write (the caller's memory). */
typedef struct {
    const void *data;
    gsize len;
} FmIoVector;

/* Default timeout of a channel, in seconds: generous, the destination may spend a
 * while checking a large guest's digest before it answers. */
#define FM_CHANNEL_DEFAULT_TIMEOUT 120.0

/* Connects to @address (see above).  Returns a new channel (free with
 * fm_channel_free()), or NULL with FM_ERROR_INVALID_ARG for a malformed address and
 * FM_ERROR_IO when resolution or connection fails (a connection attempt waits at
 * most FM_CHANNEL_DEFAULT_TIMEOUT).  For "fd:N" the channel takes over descriptor
 * N on success. */
FmChannel *fm_channel_connect(const char *address, GError **error);

/* Returns a new channel over the connected descriptor @fd, which it takes over on
 * success (fm_channel_free() closes it); on failure (not an open descriptor)
 * returns NULL and the caller keeps @fd. */
FmChannel *fm_channel_new_from_fd(int fd, GError **error);

/* Closes the descriptor and frees the channel; NULL ok. */
void fm_channel_free(FmChannel *channel);

/* Returns the descriptor (still owned by the channel). */
int fm_channel_get_fd(const FmChannel *channel);
/* Returns a description of the peer for messages ("tcp://127.0.0.1:4444",
 * "unix:/run/x.sock", "fd:5"); owned by the channel. */
const char *fm_channel_get_address(const FmChannel *channel);

/* Sets the timeout of every wait for the peer, in seconds; <= 0 waits for ever. */
void fm_channel_set_timeout(FmChannel *channel, double seconds);
double fm_channel_get_timeout(const FmChannel *channel);
/* Read guards against a peer that holds a server with no progress worth the name,
 * which the timeout (per wait) does not catch.  A deadline: every read must be done
 * within @seconds from now (<= 0: none), else it fails with FM_ERROR_IO "the peer did
 * not complete the setup within S s" (a server's setup: handshake and header).  A
 * minimum rate: over each window of @window seconds the reads must bring at least
 * @bytes_per_second x @window bytes, else FM_ERROR_IO "the peer sends too slowly"
 * (a trickle of one byte every few seconds; <= 0: none).  Both count from the call. */
void fm_channel_set_deadline(FmChannel *channel, double seconds);
void fm_channel_set_min_rate(FmChannel *channel, double bytes_per_second, double window);

/* Writes the @len bytes of @buf.  Returns FALSE with @error on failure. */
gboolean fm_channel_write_all(FmChannel *channel, const void *buf, gsize len,
                              GError **error);
/* Writes the @n_vectors buffers in order, as one write_all of their concatenation
 * (fewer system calls than one write_all each).  The buffers stay the caller's. */
gboolean fm_channel_writev_all(FmChannel *channel, const FmIoVector *vectors,
                               gsize n_vectors, GError **error);

/* Reads up to @len (> 0) bytes into @buf, waiting for at least one.  Returns the
 * number read, 0 at end of file, or -1 with @error. */
gssize fm_channel_read(FmChannel *channel, void *buf, gsize len, GError **error);
/* Reads up to @len bytes, stopping early only at end of file, and stores the count
 * in *@got (also on failure: what arrived before it).  Returns FALSE on a channel
 * error. */
gboolean fm_channel_read_upto(FmChannel *channel, void *buf, gsize len, gsize *got,
                              GError **error);
/* Reads exactly @len bytes; end of file before that is the error
 * "connection closed by peer". */
gboolean fm_channel_read_exact(FmChannel *channel, void *buf, gsize len,
                               GError **error);
/* Returns TRUE if a read would not wait: data, end of file or an error is pending.
 * Never waits. */
gboolean fm_channel_poll_readable(FmChannel *channel);
/* Reads and discards everything until end of file (each wait bounded by the
 * timeout).  Returns FALSE with @error on a read error or timeout. */
gboolean fm_channel_drain(FmChannel *channel, GError **error);

/* Shuts down the sending direction: the peer reads end of file after the data
 * already written, while this end can still read its answer.  Only sockets can do
 * this; on another descriptor it does nothing and returns TRUE. */
gboolean fm_channel_shutdown_write(FmChannel *channel, GError **error);

/* Limits writes to @bytes_per_sec (0 = unlimited, the default).  The bucket starts
 * full: a burst of ~10 ms of data goes out at once. */
void fm_channel_set_bandwidth(FmChannel *channel, guint64 bytes_per_sec);
guint64 fm_channel_get_bandwidth(const FmChannel *channel);
/* Returns the measured write throughput in bytes per second over the recent writes
 * (bytes written / time spent inside the write calls, waits for the bandwidth
 * limit and the peer included), or 0 before the first write. */
double fm_channel_get_throughput(const FmChannel *channel);
/* Return the bytes written / read so far. */
guint64 fm_channel_get_bytes_written(const FmChannel *channel);
guint64 fm_channel_get_bytes_read(const FmChannel *channel);

/* ---- layers: a protocol between the channel's users and its descriptor (TLS,
 * src/transport/fm-tls.c) ----
 * Once a layer is attached, fm_channel_read/_write_all/_writev_all/_poll_readable/
 * _shutdown_write go through it; the layer moves its own bytes with
 * fm_channel_raw_read() and fm_channel_raw_write_all(), which keep the channel's
 * timeout and error messages.  The bandwidth limit, the throughput measure and the
 * byte counters apply to the users' bytes (the layer's overhead is not counted).
 * The channel owns the layer: fm_channel_free() calls @free on it. */
typedef struct {
    /* Reads up to @len (> 0) bytes as fm_channel_read() does. */
    gssize (*read)(gpointer layer, void *buf, gsize len, GError **error);
    /* Writes all of @vectors; returns FALSE with @error on failure. */
    gboolean (*write)(gpointer layer, const FmIoVector *vectors, gsize n_vectors,
                      GError **error);
    /* Returns TRUE if the layer holds received data a read would return at once. */
    gboolean (*pending)(gpointer layer);
    /* Ends the sending direction inside the layer (the channel then shuts the
     * socket down). */
    gboolean (*shutdown_write)(gpointer layer, GError **error);
    void (*free)(gpointer layer);
} FmChannelLayerOps;

/* Attaches @layer (taken over) to @channel, which must have none yet. */
void fm_channel_set_layer(FmChannel *channel, const FmChannelLayerOps *ops,
                          gpointer layer);
/* Returns TRUE if a layer is attached. */
gboolean fm_channel_has_layer(const FmChannel *channel);
/* Reads from the descriptor itself, under the channel's timeout, as
 * fm_channel_read() does without a layer; for layers only. */
gssize fm_channel_raw_read(FmChannel *channel, void *buf, gsize len, GError **error);
/* Writes @len bytes to the descriptor itself, under the channel's timeout and
 * without the bandwidth limit; for layers only. */
gboolean fm_channel_raw_write_all(FmChannel *channel, const void *buf, gsize len,
                                  GError **error);

/* Listens on @address: "tcp://HOST:PORT" (port 0 picks a free port; an empty HOST,
 * "tcp://:PORT", listens on every address, IPv6 and IPv4), "unix:PATH" (PATH must
 * not exist; it is removed again by fm_listener_free()), or "fd:N" (N is a socket
 * already listening; the listener takes it over).  Returns a new listener or NULL
 * with @error. */
FmListener *fm_channel_listen(const char *address, GError **error);
/* Waits for one connection (bounded by the listener's timeout) and returns it as a
 * new channel, or NULL with @error. */
FmChannel *fm_listener_accept(FmListener *listener, GError **error);
/* Sets the timeout of fm_listener_accept() in seconds; <= 0 (the default) waits
 * for ever. */
void fm_listener_set_timeout(FmListener *listener, double seconds);
/* Returns the TCP port listened on (the chosen one after port 0), 0 if not TCP. */
guint16 fm_listener_get_port(const FmListener *listener);
/* Returns an address a client can pass to fm_channel_connect() (the wildcard is
 * given as the loopback address); owned by the listener. */
const char *fm_listener_get_address(const FmListener *listener);
/* Returns the listening descriptor (still owned by the listener), for a caller
 * that waits for connections together with other events (poll() readable: a
 * connection is waiting). */
int fm_listener_get_fd(const FmListener *listener);
/* Closes and frees the listener; NULL ok. */
void fm_listener_free(FmListener *listener);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmChannel, fm_channel_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmListener, fm_listener_free)

G_END_DECLS
