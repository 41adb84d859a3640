/*
 * fm-sentinel.c: the guardian of a paused local guest.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/local/fm-sentinel.h"
#include "backend/local/fm-guest.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

#ifndef SYS_pidfd_open
# define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
# define SYS_pidfd_send_signal 424
#endif

/* The byte that dismisses the sentinel. */
#define FM_SENTINEL_DISMISS 'Q'

struct _FmSentinel {
    pid_t pid;          /* the sentinel process */
    int fd;             /* write end of its pipe */
};

/* What the sentinel needs after fork(): everything prepared before, since only
 * async-signal-safe calls may follow a fork in a threaded process. */
typedef struct {
    pid_t guest;
    int guest_fd;                 /* pidfd of the guest, or -1 */
    guint64 mark_addr;            /* FmGuestHeader.handover in the guest */
    int pipe_fd;
    char *resumed_msg;            /* written to stderr in each case */
    char *kept_msg;
} FmSentinelPlan;

#ifndef SYS_close_range
# define SYS_close_range 436
#endif

/* Closes every descriptor but 2 and those in @keep (async-signal-safe): with
 * close_range() where the kernel has it, else one by one. */
static void
fm_sentinel_close_others(const int *keep, guint n_keep)
{
    struct rlimit lim;
    int max = 1024;
    int lo = 3;
    int sorted[2] = { MIN(keep[0], keep[1]), MAX(keep[0], keep[1]) };
    gboolean ranged = n_keep == 2;

    /* the ranges between the kept descriptors (-1, an absent one, sorts first) */
    for (guint i = 0; ranged && i < 2; i++) {
        if (sorted[i] < lo)
            continue;
        if (sorted[i] > lo && syscall(SYS_close_range, lo, sorted[i] - 1, 0) != 0)
            ranged = FALSE;
        lo = sorted[i] + 1;
    }
    if (ranged && syscall(SYS_close_range, lo, ~0u, 0) == 0)
        return;

    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
        max = (int) MIN(lim.rlim_cur, (rlim_t) 65536);
    for (int fd = 3; fd < max; fd++) {
        gboolean kept = FALSE;

        for (guint i = 0; i < n_keep; i++)
            kept = kept || keep[i] == fd;
        if (!kept)
            close(fd);
    }
}

/* The sentinel process; never returns. */
static void G_GNUC_NORETURN
fm_sentinel_main(const FmSentinelPlan *plan)
{
    int keep[2] = { plan->pipe_fd, plan->guest_fd };
    struct sigaction ignore;
    sigset_t none;
    guint64 mark = 0;
    struct iovec local = { &mark, sizeof(mark) };
    struct iovec remote = { (void *) (guintptr) plan->mark_addr, sizeof(mark) };
    const char *msg;
    int null_fd;
    char c;
    ssize_t n;

    /* out of the migrating process's session and group: its terminal's SIGHUP and
     * SIGINT, and a kill of its group, do not reach us */
    setsid();
    memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGHUP, &ignore, NULL);
    sigaction(SIGINT, &ignore, NULL);
    sigaction(SIGTERM, &ignore, NULL);
    sigaction(SIGPIPE, &ignore, NULL);
    sigaction(SIGQUIT, &ignore, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* keep no socket or file of the migration open: the destination must see the
     * source go away when it goes */
    fm_sentinel_close_others(keep, G_N_ELEMENTS(keep));
    null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
        dup2(null_fd, 0);
        dup2(null_fd, 1);
        if (null_fd > 2)
            close(null_fd);
    }

    do
        n = read(plan->pipe_fd, &c, 1);
    while (n < 0 && errno == EINTR);
    if (n == 1 && c == FM_SENTINEL_DISMISS)
        _exit(0);

    /* The migrating process is gone.  Committed (marked) or not? */
    if (process_vm_readv(plan->guest, &local, 1, &remote, 1, 0) == (ssize_t) sizeof(mark) &&
        mark != 0) {
        msg = plan->kept_msg;
    } else {
        if (plan->guest_fd >= 0)
            syscall(SYS_pidfd_send_signal, plan->guest_fd, SIGCONT, NULL, 0);
        else
            kill(plan->guest, SIGCONT);
        msg = plan->resumed_msg;
    }
    if (write(2, msg, strlen(msg)) < 0)
        _exit(1);
    _exit(0);
}

/* Starts the sentinel; see fm-sentinel.h. */
FmSentinel *
fm_sentinel_new(pid_t pid, guint64 header_addr, GError **error)
{
    FmSentinelPlan plan = { 0 };
    /* on the stack: the forked sentinel only _exit()s, it never frees anything */
    char resumed_msg[512], kept_msg[1024];
    FmSentinel *self;
    int fds[2];
    pid_t child;
    int err;

    if (pipe2(fds, O_CLOEXEC) < 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot start the guest's sentinel: %s"),
                    g_strerror(errno));
        return NULL;
    }
    plan.guest = pid;
    plan.guest_fd = (int) syscall(SYS_pidfd_open, pid, 0);
    plan.mark_addr = header_addr + offsetof(FmGuestHeader, handover);
    plan.pipe_fd = fds[0];
    g_snprintf(resumed_msg, sizeof(resumed_msg), _("fragmig: the migrating process ended before it committed to the handover: the guest (pid %d) runs here again\n"),
               (int) pid);
    g_snprintf(kept_msg, sizeof(kept_msg), _("fragmig: the migrating process ended after it committed to the handover: the destination may run the guest; its copy here (pid %d) stays paused. If the guest runs nowhere else, resume it with 'fragmig resume --force --pid %d'\n"),
               (int) pid, (int) pid);
    plan.resumed_msg = resumed_msg;
    plan.kept_msg = kept_msg;
    child = fork();
    err = errno;
    if (child == 0)
        fm_sentinel_main(&plan);
    close(fds[0]);
    if (plan.guest_fd >= 0)
        close(plan.guest_fd);
    if (child < 0) {
        close(fds[1]);
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot start the guest's sentinel: %s"),
                    g_strerror(err));
        return NULL;
    }
    self = g_new0(FmSentinel, 1);
    self->pid = child;
    self->fd = fds[1];
    return self;
}

/* Dismisses and reaps the sentinel; see fm-sentinel.h. */
void
fm_sentinel_free(FmSentinel *self)
{
    const char c = FM_SENTINEL_DISMISS;

    if (self == NULL)
        return;
    if (write(self->fd, &c, 1) != 1)
        g_debug("could not dismiss the sentinel: %s", g_strerror(errno));
    close(self->fd);
    while (waitpid(self->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    g_free(self);
}

/* Returns the sentinel's pid. */
pid_t
fm_sentinel_get_pid(const FmSentinel *self)
{
    g_return_val_if_fail(self != NULL, -1);
    return self->pid;
}
