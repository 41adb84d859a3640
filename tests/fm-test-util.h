/*
 * fm-test-util.h: helpers shared by the test programs and the benchmarks that drive
 * a forked guest child over a socket.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <sys/types.h>
#include <glib.h>
#include "transport/fm-channel.h"

G_BEGIN_DECLS

/* Reads (@writing FALSE) or writes exactly @len bytes on @fd, looping over short
 * transfers and EINTR.  Returns FALSE on end of file or error. */
gboolean fm_test_io_full(int fd, void *buf, gsize len, gboolean writing);

/* Returns a channel reading the @len bytes of @data, or writing into fresh memory
 * when @len is 0 (a memfd rewound to 0).  Asserts on failure. */
FmChannel *fm_test_channel_from_bytes(const guint8 *data, gsize len);
/* Returns everything written into the memfd of a channel made by
 * fm_test_channel_from_bytes() (caller frees). */
GBytes *fm_test_channel_contents(FmChannel *channel);

/* ---- a forked child that plays a guest, driven over a socketpair ----
 * The child runs @child_main(sock, data), which never returns: it sets itself up,
 * sends a hello (a struct of the test's own), then obeys commands, each an
 * FmTestCmdHeader followed by n items, answered by a gint32 status (and whatever the
 * command returns), until an exit command.  It dies with its parent. */
typedef struct {
    guint32 cmd;
    guint32 n;          /* number of items that follow */
} FmTestCmdHeader;

typedef void (*FmTestChildMain)(int sock, gpointer data);

/* Forks a child running @child_main(sock, @data) and reads its hello, @hello_size
 * bytes, into @hello.  Returns its pid; *@sock is the parent's end of the socket
 * (the caller closes it through fm_test_child_exit() or fm_test_child_kill()). */
pid_t fm_test_child_fork(FmTestChildMain child_main, gpointer data, int *sock,
                         void *hello, gsize hello_size);
/* In the child: reads the next command header into @h; FALSE when the parent is
 * gone. */
gboolean fm_test_child_next_cmd(int sock, FmTestCmdHeader *h);
/* Sends @cmd with @n items of @item_size bytes at @items (NULL when @n is 0) and
 * returns the child's status. */
gint32 fm_test_child_cmd(int sock, guint32 cmd, const void *items, guint32 n,
                         gsize item_size);
/* Sends @exit_cmd, asserts that child @pid exits with status 0, closes @sock. */
void fm_test_child_exit(pid_t pid, int sock, guint32 exit_cmd);
/* Kills child @pid (a set-up that failed), reaps it, closes @sock. */
void fm_test_child_kill(pid_t pid, int sock);

/* Append @v to @b in little- or big-endian byte order: the builders of tests that
 * write streams and files byte by byte, malformed ones included. */
void fm_test_append_le16(GByteArray *b, guint16 v);
void fm_test_append_le32(GByteArray *b, guint32 v);
void fm_test_append_le64(GByteArray *b, guint64 v);
void fm_test_append_be32(GByteArray *b, guint32 v);
void fm_test_append_be64(GByteArray *b, guint64 v);

/* A point where a job's thread waits for another thread, so that a test of a control
 * from another thread does not depend on timing: the job's thread calls
 * fm_test_pause_here() (in a subscriber to the job's events), which returns once the
 * other thread, after fm_test_pause_wait() returned, called fm_test_pause_release(). */
typedef struct {
    GMutex lock;
    GCond cond;
    gboolean reached;
    gboolean released;
} FmTestPause;

void fm_test_pause_init(FmTestPause *pause);
void fm_test_pause_clear(FmTestPause *pause);
void fm_test_pause_here(FmTestPause *pause);
void fm_test_pause_wait(FmTestPause *pause);
void fm_test_pause_release(FmTestPause *pause);

/* A condition a test waits for: returns TRUE once it holds. */
typedef gboolean (*FmTestCondition)(gpointer data);

/* Seconds fm_test_wait_until() waits before it fails the test: a guard against a
 * hang, never a measure of speed (a loaded host may take long, never this long). */
#define FM_TEST_HANG_GUARD 300

/* Returns once @cond(@data) holds, polling it every millisecond; @what names the
 * condition ("the guest made 600 writes").  A test waits for what it then checks
 * instead of sleeping for a time in which it usually happens; after
 * FM_TEST_HANG_GUARD seconds it fails with a message naming @what. */
void fm_test_wait_until(FmTestCondition cond, gpointer data, const char *what);

G_END_DECLS
