/*
 * fm-test-util.c: helpers shared by the test programs and the benchmarks.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fm-test-util.h"

/* Transfers exactly @len bytes; see fm-test-util.h. */
gboolean
fm_test_io_full(int fd, void *buf, gsize len, gboolean writing)
{
    guint8 *p = buf;

    while (len > 0) {
        ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FALSE;
        p += n;
        len -= (gsize) n;
    }
    return TRUE;
}

/* Returns a memfd-backed channel; see fm-test-util.h. */
FmChannel *
fm_test_channel_from_bytes(const guint8 *data, gsize len)
{
    g_autoptr(GError) err = NULL;
    int fd = memfd_create("fm-test-channel", MFD_CLOEXEC);
    FmChannel *channel;

    g_assert_cmpint(fd, >=, 0);
    if (len > 0)
        g_assert_cmpint(write(fd, data, len), ==, (gssize)len);
    g_assert_cmpint(lseek(fd, 0, SEEK_SET), ==, 0);
    channel = fm_channel_new_from_fd(fd, &err);
    g_assert_no_error(err);
    return channel;
}

/* Returns the memfd's contents; see fm-test-util.h. */
GBytes *
fm_test_channel_contents(FmChannel *channel)
{
    int fd = fm_channel_get_fd(channel);
    off_t len = lseek(fd, 0, SEEK_END);
    guint8 *data = g_malloc(len > 0 ? len : 1);

    g_assert_cmpint(len, >=, 0);
    g_assert_cmpint(pread(fd, data, len, 0), ==, len);
    return g_bytes_new_take(data, len);
}

#define FM_TEST_APPEND(bits, order, ORDER)                                    \
    /* Appends @v in order-endian byte order. */                              \
    void                                                                      \
    fm_test_append_##order##bits(GByteArray *b, guint##bits v)                \
    {                                                                         \
        v = GUINT##bits##_TO_##ORDER(v);                                      \
        g_byte_array_append(b, (const guint8 *)&v, sizeof(v));               \
    }

FM_TEST_APPEND(16, le, LE)
FM_TEST_APPEND(32, le, LE)
FM_TEST_APPEND(64, le, LE)
FM_TEST_APPEND(32, be, BE)
FM_TEST_APPEND(64, be, BE)

/* Forks a child over a socketpair; see fm-test-util.h. */
pid_t
fm_test_child_fork(FmTestChildMain child_main, gpointer data, int *sock, void *hello,
                   gsize hello_size)
{
    int sv[2];
    pid_t pid;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        /* never outlive the test, even stopped by SIGSTOP when it fails */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(sv[0]);
        child_main(sv[1], data);
        _exit(1);
    }
    close(sv[1]);
    *sock = sv[0];
    g_assert_true(fm_test_io_full(*sock, hello, hello_size, FALSE));
    return pid;
}

/* Reads the next command header, in the child. */
gboolean
fm_test_child_next_cmd(int sock, FmTestCmdHeader *h)
{
    return fm_test_io_full(sock, h, sizeof(*h), FALSE);
}

/* Sends a command and returns the child's status. */
gint32
fm_test_child_cmd(int sock, guint32 cmd, const void *items, guint32 n, gsize item_size)
{
    FmTestCmdHeader h = { cmd, n };
    gint32 status = -1;

    g_assert_true(fm_test_io_full(sock, &h, sizeof(h), TRUE));
    if (n)
        g_assert_true(fm_test_io_full(sock, (void *)items, n * item_size, TRUE));
    g_assert_true(fm_test_io_full(sock, &status, sizeof(status), FALSE));
    return status;
}

/* Tells the child to exit and checks it did, cleanly. */
void
fm_test_child_exit(pid_t pid, int sock, guint32 exit_cmd)
{
    FmTestCmdHeader h = { exit_cmd, 0 };
    int status;

    g_assert_true(fm_test_io_full(sock, &h, sizeof(h), TRUE));
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    close(sock);
}

/* Kills and reaps a child. */
void
fm_test_child_kill(pid_t pid, int sock)
{
    int status;

    close(sock);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

/* Readies @pause (unreached, unreleased). */
void
fm_test_pause_init(FmTestPause *pause)
{
    g_mutex_init(&pause->lock);
    g_cond_init(&pause->cond);
    pause->reached = FALSE;
    pause->released = FALSE;
}

/* Frees what fm_test_pause_init() set up. */
void
fm_test_pause_clear(FmTestPause *pause)
{
    g_mutex_clear(&pause->lock);
    g_cond_clear(&pause->cond);
}

/* The job's thread: says it is here, then waits for the release. */
void
fm_test_pause_here(FmTestPause *pause)
{
    g_mutex_lock(&pause->lock);
    pause->reached = TRUE;
    g_cond_broadcast(&pause->cond);
    while (!pause->released)
        g_cond_wait(&pause->cond, &pause->lock);
    g_mutex_unlock(&pause->lock);
}

/* The other thread: returns once the job's thread is at the point. */
void
fm_test_pause_wait(FmTestPause *pause)
{
    g_mutex_lock(&pause->lock);
    while (!pause->reached)
        g_cond_wait(&pause->cond, &pause->lock);
    g_mutex_unlock(&pause->lock);
}

/* The other thread: lets the job's thread go on. */
void
fm_test_pause_release(FmTestPause *pause)
{
    g_mutex_lock(&pause->lock);
    pause->released = TRUE;
    g_cond_broadcast(&pause->cond);
    g_mutex_unlock(&pause->lock);
}

/* Polls @cond until it holds; see fm-test-util.h. */
void
fm_test_wait_until(FmTestCondition cond, gpointer data, const char *what)
{
    gint64 limit = g_get_monotonic_time() + (gint64) FM_TEST_HANG_GUARD * G_USEC_PER_SEC;

    while (!cond(data)) {
        if (g_get_monotonic_time() > limit)
            g_error("gave up after %d s waiting until %s", FM_TEST_HANG_GUARD, what);
        g_usleep(1000);
    }
}
