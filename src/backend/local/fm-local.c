/*
 * fm-local.c: the local backend: a guest in another process, by pid.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "backend/local/fm-local.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "engine/fm-backend-impl.h"
#include "engine/fm-sink.h"
#include "stream/fm-stream-format.h"
#include "util/fm-bitmap.h"
#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* pidfds arrived in Linux 5.3; the numbers are the same on every architecture. */
#ifndef SYS_pidfd_open
# define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
# define SYS_pidfd_send_signal 424
#endif

#ifndef IOV_MAX
# define IOV_MAX 1024
#endif
/* Remote segments per process_vm_readv(); the kernel refuses more than IOV_MAX. */
#define FM_LOCAL_IOV MIN(IOV_MAX, 1024)
/* Bytes per read when digesting the whole region: a chunk still in the cache when
 * it is hashed (measured: 8 MiB chunks are 12 % slower). */
#define FM_LOCAL_CHUNK (1u << 20)
#define FM_LOCAL_NS_PER_SEC G_GINT64_CONSTANT(1000000000)

/* The DIGEST record names its algorithm with the stream format's id. */
G_STATIC_ASSERT(FM_DIGEST_ALGORITHM_ID == FM_DIGEST_XXH3_128);
G_STATIC_ASSERT(FM_DIGEST_PAGES_ALGORITHM_ID == FM_DIGEST_XXH3_128_PAGES);

typedef struct {
    FmBackend parent;
    pid_t pid;
    int pidfd;                  /* -1 where the kernel has no pidfd_open() */
    guint64 start;              /* region address in the guest process */
    guint64 page_count;
    gsize page_size;
    FmPagemap *pagemap;
    gboolean paused;            /* stopped by pause, not resumed since */
    gint64 pause_start;         /* ns, when SIGSTOP of the current pause was sent */
    gint64 paused_total;        /* ns, over the pauses that ended */
    gint64 pause_latency;       /* ns, SIGSTOP until all threads stopped, last pause */
    gboolean have_baseline;     /* counters below were read at log_dirty_enable */
    guint64 base_writes;
    double base_nominal;
    double slowdown;            /* last value computed */
    int lock_fd;                /* the guest's lock (fm_local_lock()), or -1 */
    struct iovec *riov;         /* FM_LOCAL_IOV remote segments for read_pages */
    guint8 *chunk;              /* FM_LOCAL_CHUNK bytes for the digest, on demand */
    FmLocalVerify verify;
    guint64 *hashes;            /* FM_LOCAL_VERIFY_PAGES: fm_digest_page() of each page
                                 * as last read (and so sent), on demand */
    FmBitmap *hashed;           /* the pages in @hashes */
} FmLocalBackend;

static const FmBackendOps fm_local_ops_scan;
static const FmBackendOps fm_local_ops_soft_dirty;

/* Returns @backend as a local backend (it must be one). */
static FmLocalBackend *
fm_local_cast(FmBackend *backend)
{
    g_return_val_if_fail(backend != NULL, NULL);
    g_return_val_if_fail(backend->ops == &fm_local_ops_scan ||
                         backend->ops == &fm_local_ops_soft_dirty, NULL);
    return (FmLocalBackend *) backend;
}

/* Returns CLOCK_MONOTONIC in nanoseconds. */
static gint64
fm_local_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (gint64) ts.tv_sec * FM_LOCAL_NS_PER_SEC + ts.tv_nsec;
}

/* Sets the error every call reports once the guest is gone; returns FALSE. */
static gboolean
fm_local_fail_gone(FmLocalBackend *self, GError **error)
{
    g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                _("the guest process %d has exited"), (int) self->pid);
    return FALSE;
}

/* Returns the scheduler state letter of task @tid of process @pid ('R', 'S', 'T',
 * ...), or 0 if it cannot be read (the task is gone). */
static char
fm_local_task_state(pid_t pid, const char *tid)
{
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    const char *paren;

    if (tid)
        path = g_strdup_printf("/proc/%d/task/%s/stat", (int) pid, tid);
    else
        path = g_strdup_printf("/proc/%d/stat", (int) pid);
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return 0;
    /* "TID (COMM) S ...": COMM may hold spaces and parentheses, the last ')' ends it. */
    paren = strrchr(text, ')');
    if (!paren || paren[1] != ' ' || !paren[2])
        return 0;
    return paren[2];
}

/* Returns TRUE if the guest process still runs (or is stopped); a zombie counts as
 * gone.  Never fails: it is what the error paths ask. */
static gboolean
fm_local_is_alive(FmLocalBackend *self)
{
    char state;

    if (self->pidfd >= 0) {
        struct pollfd p = { .fd = self->pidfd, .events = POLLIN };

        /* A pidfd turns readable once the whole process has exited, zombie or not. */
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)))
            return FALSE;
        return TRUE;
    }
    state = fm_local_task_state(self->pid, NULL);
    return state != 0 && state != 'Z' && state != 'X';
}

/* Returns TRUE if the guest is alive, or FALSE with the "has exited" error set. */
static gboolean
fm_local_check_alive(FmLocalBackend *self, GError **error)
{
    if (fm_local_is_alive(self))
        return TRUE;
    return fm_local_fail_gone(self, error);
}

/* Sends @sig to the guest; FALSE with @error set. */
static gboolean
fm_local_signal(FmLocalBackend *self, int sig, GError **error)
{
    int rc;

    if (self->pidfd >= 0)
        rc = (int) syscall(SYS_pidfd_send_signal, self->pidfd, sig, NULL, 0);
    else
        rc = kill(self->pid, sig);
    if (rc == 0)
        return TRUE;
    if (errno == ESRCH || !fm_local_is_alive(self))
        return fm_local_fail_gone(self, error);
    g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot send %s to process %d: %s"),
                sig == SIGSTOP ? "SIGSTOP" : "SIGCONT", (int) self->pid, g_strerror(errno));
    return FALSE;
}

/* Reports a failed process_vm_readv/writev of the guest (errno @err); FALSE. */
static gboolean
fm_local_fail_transfer(FmLocalBackend *self, int err, gboolean writing, GError **error)
{
    if (err == ESRCH || !fm_local_is_alive(self))
        return fm_local_fail_gone(self, error);
    if (err == EPERM)
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    writing ? _("cannot write the memory of process %d (that needs ptrace access to it): %s")
                            : _("cannot read the memory of process %d (that needs ptrace access to it): %s"),
                    (int) self->pid, g_strerror(err));
    else
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    writing ? _("cannot write the memory of process %d: %s")
                            : _("cannot read the memory of process %d: %s"),
                    (int) self->pid, g_strerror(err));
    return FALSE;
}

/* Copies between @buf and the guest's segments @riov[0..@n) (in order, @buf
 * contiguous), resuming after partial transfers.  @riov is consumed.  Returns FALSE
 * with @error set. */
static gboolean
fm_local_transfer(FmLocalBackend *self, guint8 *buf, struct iovec *riov, gsize n,
                  gboolean writing, GError **error)
{
    gsize remaining = 0;
    gsize i = 0;

    for (gsize j = 0; j < n; j++)
        remaining += riov[j].iov_len;

    while (remaining > 0) {
        struct iovec local = { .iov_base = buf, .iov_len = remaining };
        ssize_t got;

        if (writing)
            got = process_vm_writev(self->pid, &local, 1, riov + i, n - i, 0);
        else
            got = process_vm_readv(self->pid, &local, 1, riov + i, n - i, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return fm_local_fail_transfer(self, errno, writing, error);
        /* A short count stops at a segment that failed; a retry starting there
         * reports why (or succeeds if it was transient). */
        if (got == 0)
            return fm_local_fail_transfer(self, EFAULT, writing, error);
        buf += got;
        remaining -= (gsize) got;
        while (got > 0) {
            if ((gsize) got >= riov[i].iov_len) {
                got -= (ssize_t) riov[i].iov_len;
                i++;
            } else {
                riov[i].iov_base = (guint8 *) riov[i].iov_base + got;
                riov[i].iov_len -= (gsize) got;
                got = 0;
            }
        }
    }
    return TRUE;
}

/* Reads @len bytes at guest address @addr into @buf; FALSE with @error set. */
static gboolean
fm_local_read(FmLocalBackend *self, guint64 addr, void *buf, gsize len, GError **error)
{
    struct iovec remote = { .iov_base = (void *) (guintptr) addr, .iov_len = len };

    return fm_local_transfer(self, buf, &remote, 1, FALSE, error);
}

/* ---- pause ---- */

/* Returns 1 when every thread of the guest is stopped, 0 while one still runs (its
 * tid and state in *@tid / *@state), -1 when the process is gone. */
static int
fm_local_all_stopped(FmLocalBackend *self, int *tid, char *state)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/task", (int) self->pid);
    DIR *dir = opendir(path);
    struct dirent *de;
    int result = 1;
    guint seen = 0;

    if (!dir)
        return -1;
    while ((de = readdir(dir)) != NULL) {
        char s;

        if (!g_ascii_isdigit(de->d_name[0]))
            continue;
        s = fm_local_task_state(self->pid, de->d_name);
        if (s == 0)
            continue;       /* the thread exited meanwhile */
        seen++;
        /* T: stopped by a signal; t: stopped by a tracer; Z/X: exited threads. */
        if (s != 'T' && s != 't' && s != 'Z' && s != 'X') {
            *tid = atoi(de->d_name);
            *state = s;
            result = 0;
            break;
        }
    }
    closedir(dir);
    return seen == 0 ? -1 : result;
}

/* Sends SIGSTOP and waits until every thread of the guest has stopped, at most
 * FM_LOCAL_PAUSE_TIMEOUT; *@sent is when the signal went.  On a timeout the guest is
 * continued again.  Returns FALSE with @error set. */
static gboolean
fm_local_stop_wait(FmLocalBackend *self, gint64 *sent, GError **error)
{
    gint64 deadline;
    glong nap_ns = 10000;

    if (!fm_local_check_alive(self, error))
        return FALSE;
    *sent = fm_local_clock();
    if (!fm_local_signal(self, SIGSTOP, error))
        return FALSE;
    deadline = *sent + (gint64) (FM_LOCAL_PAUSE_TIMEOUT * FM_LOCAL_NS_PER_SEC);

    for (;;) {
        int tid = 0;
        char state = '?';
        int r = fm_local_all_stopped(self, &tid, &state);
        struct timespec nap;

        if (r > 0)
            return TRUE;
        if (r < 0 || !fm_local_is_alive(self))
            return fm_local_fail_gone(self, error);
        if (fm_local_clock() > deadline) {
            /* A failed pause must leave the guest running, as it was. */
            fm_local_signal(self, SIGCONT, NULL);
            g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                        _("process %d did not stop within %.1f s of SIGSTOP (thread %d is in state '%c')"),
                        (int) self->pid, FM_LOCAL_PAUSE_TIMEOUT, tid, state);
            return FALSE;
        }
        /* Threads stop within tens of microseconds unless busy in the kernel;
         * sleeping lets them have the CPUs (busy polling measured slower on a
         * 2-CPU machine), backing off for the slow cases. */
        nap.tv_sec = 0;
        nap.tv_nsec = nap_ns;
        nanosleep(&nap, NULL);
        nap_ns = MIN(nap_ns * 2, 1000000L);
    }
}

/* ---- the vtable ---- */

/* Returns the guest's page count (from its header, fixed at attach). */
static guint64
fm_local_page_count(FmBackend *backend)
{
    return ((FmLocalBackend *) backend)->page_count;
}

/* Returns the page size (the system's). */
static gsize
fm_local_page_size(FmBackend *backend)
{
    return ((FmLocalBackend *) backend)->page_size;
}

/* Harvests through the pagemap; in soft-dirty mode a clearing harvest of a running
 * guest stops it around the read-and-clear (see fm-pagemap.h). */
static gboolean
fm_local_harvest(FmBackend *backend, FmBitmap *dirty, guint64 first, guint64 count,
                 gboolean clear, GError **error)
{
    FmLocalBackend *self = (FmLocalBackend *) backend;
    gboolean stop = clear && !self->paused &&
                    fm_pagemap_mode(self->pagemap) == FM_PAGEMAP_MODE_SOFT_DIRTY;
    gboolean ok;
    gint64 sent;

    if (!fm_local_check_alive(self, error))
        return FALSE;
    if (stop && !fm_local_stop_wait(self, &sent, error))
        return FALSE;
    ok = fm_pagemap_harvest(self->pagemap, dirty, first, count, clear, error);
    if (stop && !fm_local_signal(self, SIGCONT, ok ? error : NULL))
        ok = FALSE;
    if (!ok && !fm_local_is_alive(self)) {
        g_clear_error(error);
        return fm_local_fail_gone(self, error);
    }
    return ok;
}

/* Reads the header's counters into the slowdown baseline; FALSE with @error set. */
static gboolean
fm_local_read_baseline(FmLocalBackend *self, GError **error)
{
    FmGuestHeader header;

    if (!fm_local_read(self, self->start, &header, sizeof(header), error))
        return FALSE;
    header.n_threads = MIN(header.n_threads, (guint32) FM_GUEST_MAX_THREADS);
    self->base_writes = fm_guest_header_writes(&header);
    self->base_nominal = fm_guest_header_nominal(&header);
    self->have_baseline = TRUE;
    self->slowdown = 0;
    return TRUE;
}

/* Starts tracking afresh: a clearing harvest of everything, and the baseline of the
 * slowdown measure. */
static gboolean
fm_local_log_dirty_enable(FmBackend *backend, GError **error)
{
    FmLocalBackend *self = (FmLocalBackend *) backend;
    g_autoptr(FmBitmap) scratch = fm_bitmap_new(self->page_count);

    if (!fm_local_harvest(backend, scratch, 0, self->page_count, TRUE, error))
        return FALSE;
    return fm_local_read_baseline(self, error);
}

/* Nothing to undo: the guest's tracking belongs to the guest. */
static gboolean
fm_local_log_dirty_disable(FmBackend *backend, GError **error)
{
    return fm_local_check_alive((FmLocalBackend *) backend, error);
}

/* Reads @n pages, consecutive pfns coalesced into one segment, up to FM_LOCAL_IOV
 * segments per system call. */
static gboolean
fm_local_read_pages(FmBackend *backend, const guint64 *pfns, gsize n, guint8 *buf,
                    GError **error)
{
    FmLocalBackend *self = (FmLocalBackend *) backend;
    gsize i = 0;

    if (!fm_local_check_alive(self, error))
        return FALSE;
    for (gsize j = 0; j < n; j++) {
        if (pfns[j] >= self->page_count) {
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("page %llu is beyond the guest's %llu pages"),
                        (unsigned long long) pfns[j], (unsigned long long) self->page_count);
            return FALSE;
        }
    }

    while (i < n) {
        guint8 *dst = buf + i * self->page_size;
        gsize segs = 0;

        while (i < n && segs < FM_LOCAL_IOV) {
            gsize run = 1;

            while (i + run < n && pfns[i + run] == pfns[i] + run)
                run++;
            self->riov[segs].iov_base =
                (void *) (guintptr) (self->start + pfns[i] * self->page_size);
            self->riov[segs].iov_len = run * self->page_size;
            segs++;
            i += run;
        }
        if (!fm_local_transfer(self, dst, self->riov, segs, FALSE, error))
            return FALSE;
    }
    /* The engine sends every page it reads, and reads a page again before it sends
     * it again: the hashes follow the pages as sent, in their last version. */
    if (self->verify == FM_LOCAL_VERIFY_PAGES) {
        if (self->hashes == NULL) {
            self->hashes = g_new(guint64, self->page_count);
            self->hashed = fm_bitmap_new(self->page_count);
        }
        for (gsize j = 0; j < n; j++) {
            self->hashes[pfns[j]] = fm_digest_page(buf + j * self->page_size, self->page_size);
            fm_bitmap_set(self->hashed, pfns[j]);
        }
    }
    return TRUE;
}

/* Stops the guest and starts the downtime clock; TRUE if already paused. */
static gboolean
fm_local_pause(FmBackend *backend, GError **error)
{
    FmLocalBackend *self = (FmLocalBackend *) backend;
    gint64 sent;

    if (self->paused)
        return fm_local_check_alive(self, error);
    if (!fm_local_stop_wait(self, &sent, error))
        return FALSE;
    self->paused = TRUE;
    self->pause_start = sent;
    self->pause_latency = fm_local_clock() - sent;
    return TRUE;
}

/* Continues the guest (harmless when not paused) and stops the downtime clock. */
static gboolean
fm_local_resume(FmBackend *backend, GError **error)
{
    FmLocalBackend *self = (FmLocalBackend *) backend;
    gboolean ok = fm_local_check_alive(self, error) &&
                  fm_local_signal(self, SIGCONT, error);

    /* The stop ends here even if the guest died meanwhile. */
    if (self->paused) {
        self->paused_total += fm_local_clock() - self->pause_start;
        self->paused = FALSE;
    }
    return ok;
}

/* Sends the digest of the paused guest's memory as a DIGEST record: of its page
 * hashes (FM_LOCAL_VERIFY_PAGES) or of the whole memory (FM_LOCAL_VERIFY_FULL). */
static gboolean
fm_local_save_state(FmBackend *backend, FmSink *sink, GError **error)
{
    FmLocalBackend *self = (FmLocalBackend *) backend;
    guint8 body[8 + FM_DIGEST_SIZE];
    guint32 field;

    if (!self->paused) {
        g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                    _("cannot save the state of the guest in process %d: it is not paused"),
                    (int) self->pid);
        return FALSE;
    }
    if (self->verify == FM_LOCAL_VERIFY_PAGES) {
        if (!fm_local_backend_page_digest(backend, body + 8, error))
            return FALSE;
        field = GUINT32_TO_LE(FM_DIGEST_PAGES_ALGORITHM_ID);
    } else {
        if (!fm_local_backend_digest(backend, body + 8, error))
            return FALSE;
        field = GUINT32_TO_LE(FM_DIGEST_ALGORITHM_ID);
    }
    memcpy(body, &field, 4);
    field = GUINT32_TO_LE(FM_DIGEST_SIZE);
    memcpy(body + 4, &field, 4);
    return fm_sink_send_record(sink, FM_RECORD_DIGEST, body, sizeof(body), error);
}

/* Writes the header's throttle field. */
static gboolean
fm_local_set_throttle(FmBackend *backend, guint percent, GError **error)
{
    FmLocalBackend *self = (FmLocalBackend *) backend;
    guint32 value = percent;
    struct iovec remote = {
        .iov_base = (void *) (guintptr) (self->start + offsetof(FmGuestHeader, throttle)),
        .iov_len = sizeof(value),
    };

    if (!fm_local_check_alive(self, error))
        return FALSE;
    return fm_local_transfer(self, (guint8 *) &value, &remote, 1, TRUE, error);
}

/* Marks the guest handed over or not; see fm-local.h. */
gboolean
fm_local_backend_set_handover(FmBackend *backend, gboolean handed_over, GError **error)
{
    FmLocalBackend *self = (FmLocalBackend *) backend;
    guint64 value = handed_over ? FM_GUEST_HANDED_OVER : 0;
    struct iovec remote = {
        .iov_base = (void *) (guintptr) (self->start + offsetof(FmGuestHeader, handover)),
        .iov_len = sizeof(value),
    };

    g_return_val_if_fail(backend != NULL, FALSE);
    if (!fm_local_check_alive(self, error))
        return FALSE;
    return fm_local_transfer(self, (guint8 *) &value, &remote, 1, TRUE, error);
}

/* Returns 1 - (writes made) / (writes due unthrottled) since log_dirty_enable. */
static double
fm_local_guest_slowdown(FmBackend *backend)
{
    FmLocalBackend *self = (FmLocalBackend *) backend;
    FmGuestHeader header;
    double nominal;
    double done;

    if (!self->have_baseline || !fm_local_read(self, self->start, &header, sizeof(header), NULL))
        return self->slowdown;
    header.n_threads = MIN(header.n_threads, (guint32) FM_GUEST_MAX_THREADS);
    nominal = fm_guest_header_nominal(&header) - self->base_nominal;
    done = (double) (fm_guest_header_writes(&header) - self->base_writes);
    /* Below one write due, the integer counters say nothing yet. */
    if (!(nominal >= 1))
        return self->slowdown;
    self->slowdown = CLAMP(1.0 - done / nominal, 0.0, 1.0);
    return self->slowdown;
}

/* Returns CLOCK_MONOTONIC in nanoseconds. */
static gint64
fm_local_now(FmBackend *backend G_GNUC_UNUSED)
{
    return fm_local_clock();
}

/* Closes the backend's files; the guest is left as it is (paused or not). */
static void
fm_local_free(FmBackend *backend)
{
    FmLocalBackend *self = (FmLocalBackend *) backend;
    int saved_errno = errno;

    fm_pagemap_free(self->pagemap);
    if (self->pidfd >= 0)
        close(self->pidfd);
    if (self->lock_fd >= 0)
        close(self->lock_fd);
    g_free(self->riov);
    g_free(self->chunk);
    g_free(self->hashes);
    fm_bitmap_free(self->hashed);
    g_free(self);
    errno = saved_errno;
}

#define FM_LOCAL_OPS(range) {                       \
    .name = "local",                                \
    .page_count = fm_local_page_count,              \
    .page_size = fm_local_page_size,                \
    .log_dirty_enable = fm_local_log_dirty_enable,  \
    .log_dirty_disable = fm_local_log_dirty_disable,\
    .harvest = fm_local_harvest,                    \
    .can_harvest_range = range,                     \
    .read_pages = fm_local_read_pages,              \
    .pause = fm_local_pause,                        \
    .resume = fm_local_resume,                      \
    .save_state = fm_local_save_state,              \
    .set_throttle = fm_local_set_throttle,          \
    .guest_slowdown = fm_local_guest_slowdown,      \
    .now = fm_local_now,                            \
    .free = fm_local_free,                          \
}

/* PAGEMAP_SCAN walks only the asked range; soft-dirty reads the whole region. */
static const FmBackendOps fm_local_ops_scan = FM_LOCAL_OPS(TRUE);
static const FmBackendOps fm_local_ops_soft_dirty = FM_LOCAL_OPS(FALSE);

/* ---- attaching ---- */

/* Finds the guest region of @self->pid: fills self->start and *@map_len from the
 * first anonymous private read-write mapping whose first 8 bytes are the magic, and
 * reads its header into @header.  Returns FALSE with @error set. */
static gboolean
fm_local_find_region(FmLocalBackend *self, FmGuestHeader *header, guint64 *map_len,
                     GError **error)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/maps", (int) self->pid);
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents(path, &text, NULL, &local)) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("there is no process %d"), (int) self->pid);
        else
            g_set_error(error, FM_ERROR, FM_ERROR_IO, "%s", local->message);
        return FALSE;
    }

    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        guint64 lo, hi, offset, inode;
        char perms[5] = "";
        int path_at = 0;
        const char *name;
        guint64 magic = 0;
        struct iovec l, r;

        if (sscanf(lines[i], "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %*s %" SCNu64 " %n",
                   &lo, &hi, perms, &offset, &inode, &path_at) < 5 || path_at == 0)
            continue;
        name = lines[i] + path_at;
        if (strncmp(perms, "rw", 2) != 0 || perms[3] != 'p' || inode != 0 ||
            hi - lo < sizeof(FmGuestHeader) || lo % self->page_size != 0)
            continue;
        /* Anonymous memory has no name, or one set with PR_SET_VMA_ANON_NAME. */
        if (*name != '\0' && !g_str_has_prefix(name, "[anon:"))
            continue;

        /* EFAULT: the mapping went away meanwhile; anything else is fatal. */
        l.iov_base = &magic;
        l.iov_len = sizeof(magic);
        r.iov_base = (void *) (guintptr) lo;
        r.iov_len = sizeof(magic);
        if (process_vm_readv(self->pid, &l, 1, &r, 1, 0) != sizeof(magic)) {
            if (errno == EFAULT && fm_local_is_alive(self))
                continue;
            return fm_local_fail_transfer(self, errno, FALSE, error);
        }
        if (magic != FM_GUEST_MAGIC)
            continue;
        if (!fm_local_read(self, lo, header, sizeof(*header), error))
            return FALSE;
        self->start = lo;
        *map_len = hi - lo;
        return TRUE;
    }
    g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                _("process %d has no fragmig guest memory"), (int) self->pid);
    return FALSE;
}

/* Returns the start time of process @pid (field 22 of /proc/PID/stat, clock ticks
 * since boot), which tells it from a later process with the same pid; 0 if unknown. */
static guint64
fm_local_start_time(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int) pid);
    g_autofree char *stat = NULL;
    const char *p;
    guint64 start = 0;

    if (!g_file_get_contents(path, &stat, NULL, NULL) || (p = strrchr(stat, ')')) == NULL)
        return 0;
    /* after ")" come the fields from 3 (state) on, each after a space: the 20th
     * space from there is the one before field 22 */
    for (int field = 3; field <= 22 && p != NULL; field++)
        p = strchr(p + 1, ' ');
    if (p != NULL)
        start = g_ascii_strtoull(p + 1, NULL, 10);
    return start;
}

/* Takes the lock that lets one fragmig at a time migrate, record or advise the guest
 * of process @pid: flock() on a file named after the pid and its start time, in
 * /run/lock (else the user's runtime directory); the holder writes its pid in it.
 * Returns the locked descriptor (closing it releases the lock, also when the
 * process dies), or -1 with @error (FM_ERROR_BUSY when another holds it). */
static int
fm_local_lock(pid_t pid, GError **error)
{
    const char *dir = access("/run/lock", W_OK) == 0 ? "/run/lock" : g_get_user_runtime_dir();
    g_autofree char *path = g_strdup_printf("%s/fragmig-guest-%d-%" G_GUINT64_FORMAT ".lock",
                                            dir, (int) pid, fm_local_start_time(pid));
    char holder[32] = "";
    struct stat st;
    int fd, err;

    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        err = fd < 0 ? errno : EINVAL;
        if (fd >= 0)
            close(fd);
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot lock the guest of process %d (%s): %s"),
                    (int) pid, path, g_strerror(err));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        ssize_t n;

        err = errno;
        n = pread(fd, holder, sizeof(holder) - 1, 0);
        holder[MAX(n, 0)] = '\0';
        g_strchomp(holder);
        close(fd);
        if (err == EWOULDBLOCK)
            g_set_error(error, FM_ERROR, FM_ERROR_BUSY,
                        _("the guest of process %d is already being migrated, recorded or advised (by process %s): one at a time"),
                        (int) pid, holder[0] ? holder : "?");
        else
            g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot lock the guest of process %d (%s): %s"),
                        (int) pid, path, g_strerror(err));
        return -1;
    }
    g_snprintf(holder, sizeof(holder), "%d\n", (int) getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, holder, strlen(holder), 0) < 0)
        g_debug("cannot write our pid into %s: %s", path, g_strerror(errno));
    return fd;
}

/* How fm_local_backend_attach() treats the guest. */
enum {
    FM_LOCAL_ACCEPT_HANDED_OVER = 1 << 0,   /* a copy marked handed over is fine */
    FM_LOCAL_NO_LOCK            = 1 << 1,   /* read only: no lock (fm_local_lock()) */
};

/* Attaches to the guest of process @pid, as fm_local_backend_new() does, with the
 * FM_LOCAL_* @flags. */
static FmBackend *
fm_local_backend_attach(pid_t pid, guint flags, GError **error)
{
    gsize system_page = (gsize) sysconf(_SC_PAGESIZE);
    g_autoptr(FmBackend) backend = NULL;
    g_autoptr(GError) local = NULL;
    FmLocalBackend *self;
    FmGuestHeader header;
    guint64 map_len = 0;

    if (pid <= 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid process id %d"), (int) pid);
        return NULL;
    }

    self = g_new0(FmLocalBackend, 1);
    self->parent.ops = &fm_local_ops_scan;
    backend = &self->parent;
    self->pid = pid;
    self->lock_fd = -1;
    self->page_size = system_page;
    self->pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
    if (self->pidfd < 0 && errno == ESRCH) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("there is no process %d"), (int) pid);
        return NULL;
    }
    self->riov = g_new(struct iovec, FM_LOCAL_IOV);

    if (!fm_local_find_region(self, &header, &map_len, error))
        return NULL;
    if (header.page_size != system_page || header.page_count == 0 ||
        header.page_count > map_len / system_page) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL,
                    _("process %d: the guest header at 0x%llx says %llu pages of %llu bytes, but the memory mapped there is %llu bytes"),
                    (int) pid, (unsigned long long) self->start,
                    (unsigned long long) header.page_count,
                    (unsigned long long) header.page_size, (unsigned long long) map_len);
        return NULL;
    }
    if (!fm_guest_header_check(&header, header.page_count * system_page, &local)) {
        g_set_error(error, FM_ERROR, FM_ERROR_PROTOCOL, _("process %d: %s"), (int) pid,
                    local->message);
        return NULL;
    }
    if (header.handover != 0 && !(flags & FM_LOCAL_ACCEPT_HANDED_OVER)) {
        g_set_error(error, FM_ERROR, FM_ERROR_BUSY,
                    _("process %d: this copy of the guest was handed over by an earlier migration and may run elsewhere; if it runs nowhere else, resume it with 'fragmig resume --force --pid %d'"),
                    (int) pid, (int) pid);
        return NULL;
    }
    if (!(flags & FM_LOCAL_NO_LOCK)) {
        self->lock_fd = fm_local_lock(pid, error);
        if (self->lock_fd < 0)
            return NULL;
    }
    self->page_count = header.page_count;

    self->pagemap = fm_pagemap_open(pid, self->start, self->page_count * system_page,
                                    system_page, error);
    if (!self->pagemap)
        return NULL;
    if (fm_pagemap_mode(self->pagemap) == FM_PAGEMAP_MODE_SOFT_DIRTY)
        self->parent.ops = &fm_local_ops_soft_dirty;
    return g_steal_pointer(&backend);
}

/* Attaches to the guest of process @pid; see fm-local.h. */
FmBackend *
fm_local_backend_new(pid_t pid, GError **error)
{
    return fm_local_backend_attach(pid, 0, error);
}

/* Attaches to the guest of process @pid to read it only; see fm-local.h. */
FmBackend *
fm_local_backend_new_observer(pid_t pid, GError **error)
{
    return fm_local_backend_attach(pid, FM_LOCAL_ACCEPT_HANDED_OVER | FM_LOCAL_NO_LOCK, error);
}

/* Continues the guest of process @pid; see fm-local.h. */
gboolean
fm_local_guest_resume(pid_t pid, gboolean force, gboolean *was_handed_over, GError **error)
{
    g_autoptr(FmBackend) backend = fm_local_backend_attach(pid, FM_LOCAL_ACCEPT_HANDED_OVER,
                                                           error);
    FmLocalBackend *self = (FmLocalBackend *) backend;
    FmGuestHeader header;

    *was_handed_over = FALSE;
    if (backend == NULL || !fm_local_read(self, self->start, &header, sizeof(header), error))
        return FALSE;
    *was_handed_over = header.handover != 0;
    if (header.handover != 0 && !force) {
        g_set_error(error, FM_ERROR, FM_ERROR_BUSY,
                    _("process %d: this copy of the guest was handed over by a migration and may run elsewhere; resume it only if it runs nowhere else, with --force"),
                    (int) pid);
        return FALSE;
    }
    if (header.handover != 0 && !fm_local_backend_set_handover(backend, FALSE, error))
        return FALSE;
    return fm_local_signal(self, SIGCONT, error);
}

/* ---- extras ---- */

/* Returns the guest's pid. */
pid_t
fm_local_backend_pid(FmBackend *backend)
{
    FmLocalBackend *self = fm_local_cast(backend);

    g_return_val_if_fail(self != NULL, 0);
    return self->pid;
}

/* Returns the region's address in the guest. */
guint64
fm_local_backend_region_start(FmBackend *backend)
{
    FmLocalBackend *self = fm_local_cast(backend);

    g_return_val_if_fail(self != NULL, 0);
    return self->start;
}

/* Returns the tracking mechanism. */
FmPagemapMode
fm_local_backend_mode(FmBackend *backend)
{
    FmLocalBackend *self = fm_local_cast(backend);

    g_return_val_if_fail(self != NULL, FM_PAGEMAP_MODE_LAST);
    return fm_pagemap_mode(self->pagemap);
}

/* Returns the seconds spent paused, the current pause included. */
double
fm_local_backend_paused_seconds(FmBackend *backend)
{
    FmLocalBackend *self = fm_local_cast(backend);
    gint64 total;

    g_return_val_if_fail(self != NULL, 0);
    total = self->paused_total;
    if (self->paused)
        total += fm_local_clock() - self->pause_start;
    return (double) total / FM_LOCAL_NS_PER_SEC;
}

/* Returns the last pause's SIGSTOP-to-stopped time in seconds. */
double
fm_local_backend_pause_latency(FmBackend *backend)
{
    FmLocalBackend *self = fm_local_cast(backend);

    g_return_val_if_fail(self != NULL, 0);
    return (double) self->pause_latency / FM_LOCAL_NS_PER_SEC;
}

/* Copies the guest's header; FALSE with @error set. */
gboolean
fm_local_backend_read_header(FmBackend *backend, FmGuestHeader *header, GError **error)
{
    FmLocalBackend *self = fm_local_cast(backend);

    g_return_val_if_fail(self != NULL && header != NULL, FALSE);
    if (!fm_local_check_alive(self, error))
        return FALSE;
    return fm_local_read(self, self->start, header, sizeof(*header), error);
}

/* Digests the whole region; FALSE with @error set. */
gboolean
fm_local_backend_digest(FmBackend *backend, guint8 out[FM_DIGEST_SIZE], GError **error)
{
    FmLocalBackend *self = fm_local_cast(backend);
    guint64 len;
    FmDigest digest;

    g_return_val_if_fail(self != NULL && out != NULL, FALSE);
    if (!fm_local_check_alive(self, error))
        return FALSE;
    if (!self->chunk)
        self->chunk = g_malloc(FM_LOCAL_CHUNK);
    len = self->page_count * self->page_size;
    fm_digest_init(&digest);
    for (guint64 off = 0; off < len; off += FM_LOCAL_CHUNK) {
        gsize n = (gsize) MIN((guint64) FM_LOCAL_CHUNK, len - off);

        if (!fm_local_read(self, self->start + off, self->chunk, n, error))
            return FALSE;
        /* the handover mark is written after the digest went out: it is not content */
        if (off == 0 && n >= sizeof(FmGuestHeader))
            memset(self->chunk + offsetof(FmGuestHeader, handover), 0, sizeof(guint64));
        fm_digest_update(&digest, self->chunk, n);
    }
    fm_digest_final(&digest, out);
    return TRUE;
}

/* Chooses what save_state digests. */
void
fm_local_backend_set_verify(FmBackend *backend, FmLocalVerify verify)
{
    FmLocalBackend *self = fm_local_cast(backend);

    g_return_if_fail(self != NULL);
    self->verify = verify;
}

/* The page-table digest; the pages never read are read and hashed now. */
gboolean
fm_local_backend_page_digest(FmBackend *backend, guint8 out[FM_DIGEST_SIZE], GError **error)
{
    FmLocalBackend *self = fm_local_cast(backend);
    guint64 pages_per_chunk;
    gint64 pfn;

    g_return_val_if_fail(self != NULL && out != NULL, FALSE);
    if (!fm_local_check_alive(self, error))
        return FALSE;
    if (self->hashes == NULL) {
        self->hashes = g_new(guint64, self->page_count);
        self->hashed = fm_bitmap_new(self->page_count);
    }
    if (!self->chunk)
        self->chunk = g_malloc(FM_LOCAL_CHUNK);
    pages_per_chunk = MAX(FM_LOCAL_CHUNK / self->page_size, 1);
    /* the cost is that of the pages never sent (none after a full first round) */
    for (pfn = fm_bitmap_next_clear(self->hashed, 0); pfn >= 0;
         pfn = fm_bitmap_next_clear(self->hashed, (guint64) pfn)) {
        guint64 run = 1;

        while (run < pages_per_chunk && (guint64) pfn + run < self->page_count &&
               !fm_bitmap_test(self->hashed, (guint64) pfn + run))
            run++;
        if (!fm_local_read(self, self->start + (guint64) pfn * self->page_size, self->chunk,
                           run * self->page_size, error))
            return FALSE;
        for (guint64 i = 0; i < run; i++) {
            self->hashes[pfn + i] = fm_digest_page(self->chunk + i * self->page_size,
                                                   self->page_size);
            fm_bitmap_set(self->hashed, (guint64) pfn + i);
        }
    }
    fm_digest_page_table(self->hashes, self->page_count, out);
    return TRUE;
}
