/*
 * fault-shim.c: an LD_PRELOAD library for the fault-injection tests
 * (tests/test-faults.sh): it makes the system calls with which fragmig moves a
 * stream over a socket fail the ways a busy host makes them fail, inside the
 * product's own process.  Test code: built for `make check`, never installed.
 *
 *   FM_FAULT_SHIM="eintr=N,short=M" LD_PRELOAD=tests/fault-shim.so fragmig ...
 *
 *   eintr=N   every N-th read(), sendmsg(), writev() or poll() on a socket fails
 *             with EINTR before doing anything (as if a signal had arrived)
 *   short=M   every read() and write on a socket moves at most 1..M bytes (chosen
 *             at random): short reads and short writes
 * Only sockets are touched (fstat), so that files and /proc are read normally.
 * At exit the counts of injected faults are appended to $FM_FAULT_SHIM_LOG:
 * "fault-shim: PID eintr=A short=B".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SHIM_MAX_IOV 64

static unsigned shim_eintr_every;
static unsigned shim_short_max;
static unsigned long shim_calls, shim_eintrs, shim_shorts;
static unsigned shim_seed = 12345;

static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_poll)(struct pollfd *, nfds_t, int);

/* Reads the settings and finds the real functions. */
__attribute__((constructor)) static void
shim_init(void)
{
    const char *env = getenv("FM_FAULT_SHIM");
    const char *p;

    real_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    real_sendmsg = (ssize_t (*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
    real_writev = (ssize_t (*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
    real_poll = (int (*)(struct pollfd *, nfds_t, int))dlsym(RTLD_NEXT, "poll");
    if (env == NULL)
        return;
    if ((p = strstr(env, "eintr=")) != NULL)
        shim_eintr_every = (unsigned)strtoul(p + 6, NULL, 10);
    if ((p = strstr(env, "short=")) != NULL)
        shim_short_max = (unsigned)strtoul(p + 6, NULL, 10);
}

/* Appends the counts to $FM_FAULT_SHIM_LOG. */
__attribute__((destructor)) static void
shim_report(void)
{
    const char *path = getenv("FM_FAULT_SHIM_LOG");
    FILE *f;

    if (path == NULL || (f = fopen(path, "a")) == NULL)
        return;
    fprintf(f, "fault-shim: %d eintr=%lu short=%lu calls=%lu\n", (int)getpid(),
            __atomic_load_n(&shim_eintrs, __ATOMIC_RELAXED),
            __atomic_load_n(&shim_shorts, __ATOMIC_RELAXED),
            __atomic_load_n(&shim_calls, __ATOMIC_RELAXED));
    fclose(f);
}

/* Returns 1 if @fd is a socket. */
static int
shim_is_socket(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Returns 1 (errno EINTR) if this call is to fail. */
static int
shim_eintr(void)
{
    unsigned long n = __atomic_add_fetch(&shim_calls, 1, __ATOMIC_RELAXED);

    if (shim_eintr_every && n % shim_eintr_every == 0) {
        __atomic_add_fetch(&shim_eintrs, 1, __ATOMIC_RELAXED);
        errno = EINTR;
        return 1;
    }
    return 0;
}

/* Returns how many of @len bytes this transfer may move. */
static size_t
shim_cap(size_t len)
{
    size_t cap;

    if (shim_short_max == 0 || len <= 1)
        return len;
    cap = 1 + (size_t)rand_r(&shim_seed) % shim_short_max;
    if (cap < len) {
        __atomic_add_fetch(&shim_shorts, 1, __ATOMIC_RELAXED);
        return cap;
    }
    return len;
}

/* Copies the first @cap bytes' worth of @iov into @out; returns the entries. */
static int
shim_cut_iov(const struct iovec *iov, int n, size_t cap, struct iovec *out)
{
    int k = 0;

    for (int i = 0; i < n && k < SHIM_MAX_IOV && cap > 0; i++) {
        out[k] = iov[i];
        if (out[k].iov_len > cap)
            out[k].iov_len = cap;
        cap -= out[k].iov_len;
        k++;
    }
    return k;
}

/* Total bytes of @iov. */
static size_t
shim_iov_len(const struct iovec *iov, int n)
{
    size_t len = 0;

    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    return len;
}

ssize_t
read(int fd, void *buf, size_t len)
{
    if ((shim_eintr_every || shim_short_max) && shim_is_socket(fd)) {
        if (shim_eintr())
            return -1;
        len = shim_cap(len);
    }
    return real_read(fd, buf, len);
}

ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if ((shim_eintr_every || shim_short_max) && shim_is_socket(fd)) {
        struct iovec cut[SHIM_MAX_IOV];
        struct msghdr m = *msg;
        size_t len = shim_iov_len(msg->msg_iov, (int)msg->msg_iovlen);

        if (shim_eintr())
            return -1;
        m.msg_iov = cut;
        m.msg_iovlen = (size_t)shim_cut_iov(msg->msg_iov, (int)msg->msg_iovlen,
                                            shim_cap(len), cut);
        return real_sendmsg(fd, &m, flags);
    }
    return real_sendmsg(fd, msg, flags);
}

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
    if ((shim_eintr_every || shim_short_max) && shim_is_socket(fd)) {
        struct iovec cut[SHIM_MAX_IOV];

        if (shim_eintr())
            return -1;
        return real_writev(fd, cut, shim_cut_iov(iov, n, shim_cap(shim_iov_len(iov, n)), cut));
    }
    return real_writev(fd, iov, n);
}

/* glibc declares poll()'s array write-only, but the caller fills in fd and events */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
int
poll(struct pollfd *fds, nfds_t n, int timeout)
{
    if (shim_eintr_every && n > 0 && fds[0].fd >= 0 && shim_is_socket(fds[0].fd) &&
        shim_eintr())
        return -1;
    return real_poll(fds, n, timeout);
}
#pragma GCC diagnostic pop
