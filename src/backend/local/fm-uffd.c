/*
 * fm-uffd.c: guest-side registration of asynchronous userfaultfd write-protect.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "backend/local/fm-uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>

#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* Debian 12's headers predate Linux 6.7; the values are the kernel's ABI. */
#ifndef UFFD_USER_MODE_ONLY
# define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
# define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
# define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef USERFAULTFD_IOC_NEW
# define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

/* WP_UNPOPULATED makes pages that were never touched start write-protected (pte
 * markers), so that a first write to them reads as "written" too. */
#define FM_UFFD_FEATURES \
    ((guint64) (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED))

/* Returns the translated sentence that says what dirty tracking needs (static). */
static const char *
fm_uffd_needs(void)
{
    return _("dirty tracking needs Linux >= 6.7 with userfaultfd write-protect (async) and PAGEMAP_SCAN, or CONFIG_MEM_SOFT_DIRTY");
}

struct _FmUffd {
    int fd;
    void *addr;
    gsize len;
};

/* Returns a new userfaultfd (close-on-exec, non-blocking), or -1 with @error set. */
static int
fm_uffd_open_fd(GError **error)
{
    int flags = O_CLOEXEC | O_NONBLOCK;
    int fd;
    int err;

    /* User-mode-only faults need no privilege when vm.unprivileged_userfaultfd is 0;
     * kernels before 5.11 do not know the flag and say EINVAL.  Kernel-mode writes
     * into the region are still tracked: async write-protect faults never reach the
     * userfaultfd's fault handling. */
    fd = syscall(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY);
    if (fd < 0 && errno == EINVAL)
        fd = syscall(SYS_userfaultfd, flags);
    if (fd >= 0)
        return fd;
    err = errno;

    if (err == ENOSYS) {
        g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                    _("userfaultfd is not available: the kernel is built without CONFIG_USERFAULTFD; %s"),
                    fm_uffd_needs());
        return -1;
    }
    if (err == EPERM) {
        /* The device node is the unprivileged way in since Linux 6.1. */
        int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

        if (dev >= 0) {
            fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags | UFFD_USER_MODE_ONLY);
            if (fd < 0 && errno == EINVAL)
                fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
            close(dev);
            if (fd >= 0)
                return fd;
        }
        g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                    _("userfaultfd is not permitted (sysctl vm.unprivileged_userfaultfd is 0 and /dev/userfaultfd cannot be used): %s"),
                    g_strerror(err));
        return -1;
    }
    g_set_error(error, FM_ERROR, FM_ERROR_IO,
                _("cannot create a userfaultfd: %s"), g_strerror(err));
    return -1;
}

/* Returns the features this kernel's userfaultfd offers, or 0 if even the plain
 * handshake fails.  A userfaultfd takes one UFFDIO_API only, hence a fresh one. */
static guint64
fm_uffd_supported_features(void)
{
    struct uffdio_api api = { .api = UFFD_API, .features = 0 };
    int fd = fm_uffd_open_fd(NULL);
    guint64 features = 0;

    if (fd < 0)
        return 0;
    if (ioctl(fd, UFFDIO_API, &api) == 0)
        features = api.features;
    close(fd);
    return features;
}

/* Returns a userfaultfd with the async write-protect features negotiated, or -1 with
 * @error set naming the first missing feature. */
static int
fm_uffd_open_api(GError **error)
{
    struct uffdio_api api = { .api = UFFD_API, .features = FM_UFFD_FEATURES };
    guint64 have;
    const char *missing;
    int fd;
    int err;

    if ((fd = fm_uffd_open_fd(error)) < 0)
        return -1;
    if (ioctl(fd, UFFDIO_API, &api) == 0)
        return fd;
    err = errno;
    close(fd);

    if (err != EINVAL) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("userfaultfd API handshake failed: %s"), g_strerror(err));
        return -1;
    }

    /* EINVAL means "a requested feature is unknown": find out which, so that the
     * message says what the kernel lacks rather than just "invalid argument". */
    have = fm_uffd_supported_features();
    if (!(have & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
        missing = "UFFD_FEATURE_PAGEFAULT_FLAG_WP (write-protect, CONFIG_HAVE_ARCH_USERFAULTFD_WP)";
    else if (!(have & UFFD_FEATURE_WP_UNPOPULATED))
        missing = "UFFD_FEATURE_WP_UNPOPULATED";
    else if (!(have & UFFD_FEATURE_WP_ASYNC))
        missing = "UFFD_FEATURE_WP_ASYNC";
    else
        missing = NULL;

    if (missing)
        g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                    _("the kernel's userfaultfd lacks %s; %s"), missing, fm_uffd_needs());
    else
        g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                    _("the kernel's userfaultfd refuses asynchronous write-protect; %s"),
                    fm_uffd_needs());
    return -1;
}

/* Returns TRUE if async userfaultfd write-protect is available; FALSE with @error. */
gboolean
fm_uffd_probe(GError **error)
{
    int fd = fm_uffd_open_api(error);

    if (fd < 0)
        return FALSE;
    close(fd);
    return TRUE;
}

/* Write-protects [@addr, @addr + @len) through @fd; returns FALSE with @error set. */
static gboolean
fm_uffd_writeprotect(int fd, void *addr, gsize len, GError **error)
{
    struct uffdio_writeprotect wp = {
        .range = { .start = (guint64) (guintptr) addr, .len = len },
        .mode = UFFDIO_WRITEPROTECT_MODE_WP,
    };

    /* EAGAIN only comes while the address space is being changed under a
     * non-cooperative userfaultfd (fork/mremap events); retrying is what the kernel
     * asks for. */
    while (ioctl(fd, UFFDIO_WRITEPROTECT, &wp) < 0) {
        if (errno == EINTR || errno == EAGAIN)
            continue;
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("cannot write-protect %p (+%zu bytes) with userfaultfd: %s"),
                    addr, len, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

/* Registers [@addr, @addr + @len) and, if @arm, write-protects it; returns the new
 * FmUffd or NULL with @error set. */
static FmUffd *
fm_uffd_register_range(void *addr, gsize len, gboolean arm, GError **error)
{
    gsize page = (gsize) sysconf(_SC_PAGESIZE);
    struct uffdio_register reg = {
        .range = { .start = (guint64) (guintptr) addr, .len = len },
        .mode = UFFDIO_REGISTER_MODE_WP,
    };
    g_autofree FmUffd *uffd = NULL;
    int fd;

    g_return_val_if_fail(addr != NULL, NULL);
    g_return_val_if_fail(len > 0, NULL);
    g_return_val_if_fail((guintptr) addr % page == 0 && len % page == 0, NULL);

    if ((fd = fm_uffd_open_api(error)) < 0)
        return NULL;

    if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0) {
        int err = errno;

        close(fd);
        if (err == EINVAL)
            g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                        _("cannot register %p (+%zu bytes) for userfaultfd write-protect: nothing is mapped there, or its memory type does not support write-protect"),
                        addr, len);
        else if (err == EBUSY)
            g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                        _("cannot register %p (+%zu bytes) for userfaultfd write-protect: it is already registered with another userfaultfd"),
                        addr, len);
        else
            g_set_error(error, FM_ERROR, FM_ERROR_IO,
                        _("cannot register %p (+%zu bytes) for userfaultfd write-protect: %s"),
                        addr, len, g_strerror(err));
        return NULL;
    }

    uffd = g_new0(FmUffd, 1);
    uffd->fd = fd;
    uffd->addr = addr;
    uffd->len = len;

    if (!(reg.ioctls & ((guint64) 1 << _UFFDIO_WRITEPROTECT))) {
        g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                    _("userfaultfd registered %p (+%zu bytes) but offers no UFFDIO_WRITEPROTECT for it; %s"),
                    addr, len, fm_uffd_needs());
        fm_uffd_free(g_steal_pointer(&uffd));
        return NULL;
    }

    /* Registration alone arms nothing: until this, every page reads as written. */
    if (arm && !fm_uffd_writeprotect(fd, addr, len, error)) {
        fm_uffd_free(g_steal_pointer(&uffd));
        return NULL;
    }
    return g_steal_pointer(&uffd);
}

/* Returns a new FmUffd tracking [@addr, @addr + @len), or NULL with @error set. */
FmUffd *
fm_uffd_register(void *addr, gsize len, GError **error)
{
    return fm_uffd_register_range(addr, len, TRUE, error);
}

/* Returns a new FmUffd on [@addr, @addr + @len) that reports every page as written
 * until it is protected, or NULL with @error set. */
FmUffd *
fm_uffd_register_unarmed(void *addr, gsize len, GError **error)
{
    return fm_uffd_register_range(addr, len, FALSE, error);
}

/* Returns TRUE once [@addr, @addr + @len) is write-protected again; FALSE with @error. */
gboolean
fm_uffd_protect(FmUffd *uffd, void *addr, gsize len, GError **error)
{
    gsize page = (gsize) sysconf(_SC_PAGESIZE);
    guintptr start = (guintptr) addr;
    guintptr rstart;

    g_return_val_if_fail(uffd != NULL, FALSE);
    rstart = (guintptr) uffd->addr;
    g_return_val_if_fail(start % page == 0 && len % page == 0, FALSE);
    g_return_val_if_fail(start >= rstart && start - rstart <= uffd->len &&
                         len <= uffd->len - (start - rstart), FALSE);

    if (len == 0)
        return TRUE;
    return fm_uffd_writeprotect(uffd->fd, addr, len, error);
}

/* Returns the region's start (borrowed). */
void *
fm_uffd_addr(const FmUffd *uffd)
{
    g_return_val_if_fail(uffd != NULL, NULL);
    return uffd->addr;
}

/* Returns the region's length in bytes. */
gsize
fm_uffd_len(const FmUffd *uffd)
{
    g_return_val_if_fail(uffd != NULL, 0);
    return uffd->len;
}

/* Unregisters and closes; NULL is accepted.  errno survives. */
void
fm_uffd_free(FmUffd *uffd)
{
    struct uffdio_range range;
    int saved_errno = errno;

    if (!uffd)
        return;

    /* Closing unregisters too, but only once every copy of the fd is gone (fork,
     * SCM_RIGHTS); unregistering explicitly stops tracking now. */
    range.start = (guint64) (guintptr) uffd->addr;
    range.len = uffd->len;
    ioctl(uffd->fd, UFFDIO_UNREGISTER, &range);
    close(uffd->fd);
    g_free(uffd);
    errno = saved_errno;
}
