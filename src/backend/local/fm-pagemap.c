/*
 * fm-pagemap.c: harvesting another process's written pages (PAGEMAP_SCAN, soft-dirty).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "backend/local/fm-pagemap.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/fs.h>

#include "util/fm-error.h"
#include "util/fm-i18n.h"

/* PAGEMAP_SCAN arrived in Linux 6.7 (include/uapi/linux/fs.h); Debian 12's headers
 * predate it.  The layout is the kernel's ABI: twelve 64-bit fields, and three in
 * struct page_region. */
#ifndef PAGEMAP_SCAN
# define PAGE_IS_WPALLOWED (1 << 0)
# define PAGE_IS_WRITTEN   (1 << 1)

struct page_region {
    __u64 start;
    __u64 end;          /* exclusive */
    __u64 categories;
};

struct pm_scan_arg {
    __u64 size;         /* sizeof(struct pm_scan_arg): the kernel checks it */
    __u64 flags;
    __u64 start;
    __u64 end;
    __u64 walk_end;     /* written by the kernel: where the walk stopped */
    __u64 vec;          /* struct page_region array */
    __u64 vec_len;
    __u64 max_pages;    /* 0 = no limit */
    __u64 category_inverted;
    __u64 category_mask;
    __u64 category_anyof_mask;
    __u64 return_mask;
};

# define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
# define PM_SCAN_WP_MATCHING   (1 << 0)
# define PM_SCAN_CHECK_WPASYNC (1 << 1)
#endif

G_STATIC_ASSERT(sizeof(struct pm_scan_arg) == 12 * 8);
G_STATIC_ASSERT(sizeof(struct page_region) == 3 * 8);

#define FM_PAGEMAP_SOFT_DIRTY_BIT (G_GUINT64_CONSTANT(1) << 55)

/* Regions returned per ioctl: 96 KiB of output, so that even a 1 GiB region dirtied
 * one page in two needs only 32 calls. */
#define FM_PAGEMAP_VEC_LEN 4096
/* pagemap entries read per pread() in soft-dirty mode (512 KiB). */
#define FM_PAGEMAP_READ_ENTRIES 65536

struct _FmPagemap {
    pid_t pid;
    int fd;                     /* /proc/PID/pagemap */
    int clear_refs_fd;          /* /proc/PID/clear_refs, soft-dirty mode only, else -1 */
    FmPagemapMode mode;
    guint64 start;              /* region start address */
    guint64 n_pages;
    gsize page_size;
    struct page_region *vec;    /* scan mode: ioctl output */
    guint64 *entries;           /* soft-dirty mode: pread buffer */
    /* Soft-dirty mode: pages read as dirty by a clearing harvest but outside its
     * range; the kernel has forgotten them, so they are reported from here. */
    FmBitmap *carry;
};

FM_ENUM_IMPL(fm_pagemap_mode, FmPagemapMode, FM_PAGEMAP_MODE_LAST,
             "pagemap-scan", "soft-dirty");

/* Returns the translated sentence that says what dirty tracking needs (static). */
static const char *
fm_pagemap_needs(void)
{
    return _("dirty tracking needs Linux >= 6.7 with userfaultfd write-protect (async) and PAGEMAP_SCAN, or CONFIG_MEM_SOFT_DIRTY");
}

/* Returns the pagemap entry of @addr in /proc/self/pagemap, or 0 if unreadable. */
static guint64
fm_pagemap_self_entry(const void *addr, gsize page_size)
{
    guint64 entry = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    if (pread(fd, &entry, sizeof(entry),
              (off_t) ((guintptr) addr / page_size * sizeof(entry))) != sizeof(entry))
        entry = 0;
    close(fd);
    return entry;
}

/* Returns TRUE if the kernel sets soft-dirty bits; probed once. */
gboolean
fm_pagemap_soft_dirty_available(void)
{
    static gsize result;

    if (g_once_init_enter(&result)) {
        gsize page_size = (gsize) sysconf(_SC_PAGESIZE);
        gboolean available = FALSE;
        volatile char *page;

        /* A page faulted in by a write is born soft-dirty where the kernel tracks it;
         * without CONFIG_MEM_SOFT_DIRTY clear_refs = 4 is accepted but bit 55 never
         * shows, so the bit itself is the only honest test. */
        page = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page != MAP_FAILED) {
            page[0] = 1;
            available = !!(fm_pagemap_self_entry((const void *) page, page_size) &
                           FM_PAGEMAP_SOFT_DIRTY_BIT);
            munmap((void *) page, page_size);
        }
        g_once_init_leave(&result, available ? 2 : 1);
    }
    return result == 2;
}

/* Runs one PAGEMAP_SCAN of [@start, @end) with @arg's filters into pm->vec.
 * Returns the number of regions filled (arg->walk_end says where the walk stopped),
 * or -1 with errno set. */
static long
fm_pagemap_scan_once(FmPagemap *pm, struct pm_scan_arg *arg, guint64 start, guint64 end)
{
    long n;

    arg->size = sizeof(*arg);
    arg->start = start;
    arg->end = end;
    arg->walk_end = 0;
    arg->vec = (__u64) (guintptr) pm->vec;
    do {
        n = ioctl(pm->fd, PAGEMAP_SCAN, arg);
    } while (n < 0 && errno == EINTR);
    return n;
}

/* How [@start, @end) of the process looks to PAGEMAP_SCAN. */
typedef enum {
    FM_PAGEMAP_PROBE_TRACKED,     /* wholly mapped and async write-protect registered */
    FM_PAGEMAP_PROBE_UNMAPPED,    /* not (wholly) mapped: the process exited or unmapped */
    FM_PAGEMAP_PROBE_UNTRACKED,   /* mapped, but (partly) not registered */
    FM_PAGEMAP_PROBE_NO_SCAN,     /* the kernel has no PAGEMAP_SCAN */
    FM_PAGEMAP_PROBE_GONE,        /* the process has exited (ESRCH) */
} FmPagemapProbe;

/* Probes [@start, @end); returns the verdict, or -1 with @error set on an unexpected
 * failure.  One walk without filters: the kernel merges neighbouring pages of equal
 * categories, so a wholly tracked range comes back as a single region flagged
 * WPALLOWED; holes (no VMA) are never reported, so a gap shows as a break. */
static int
fm_pagemap_probe(FmPagemap *pm, guint64 start, guint64 end, GError **error)
{
    struct pm_scan_arg arg = {
        .vec_len = 2,
        .return_mask = PAGE_IS_WPALLOWED,
    };
    long n = fm_pagemap_scan_once(pm, &arg, start, end);

    if (n < 0) {
        if (errno == ENOTTY || errno == EINVAL)
            return FM_PAGEMAP_PROBE_NO_SCAN;
        if (errno == ESRCH)
            return FM_PAGEMAP_PROBE_GONE;
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("PAGEMAP_SCAN of process %d failed: %s"),
                    (int) pm->pid, g_strerror(errno));
        return -1;
    }
    if (n == 0 || pm->vec[0].start != start)
        return FM_PAGEMAP_PROBE_UNMAPPED;
    if (pm->vec[0].end == end)
        return (pm->vec[0].categories & PAGE_IS_WPALLOWED) ?
            FM_PAGEMAP_PROBE_TRACKED : FM_PAGEMAP_PROBE_UNTRACKED;
    /* A break: tracked next to untracked memory, or a hole. */
    if (n == 2 && pm->vec[1].start == pm->vec[0].end)
        return FM_PAGEMAP_PROBE_UNTRACKED;
    return FM_PAGEMAP_PROBE_UNMAPPED;
}

/* Sets in @dirty the pages of the kernel's regions pm->vec[0..@n), clipped to
 * [@first, @last) (page numbers).  Returns the number of pages set. */
static guint64
fm_pagemap_apply_regions(FmPagemap *pm, FmBitmap *dirty, long n,
                         guint64 first, guint64 last)
{
    guint64 total = 0;

    for (long i = 0; i < n; i++) {
        guint64 a = (pm->vec[i].start - pm->start) / pm->page_size;
        guint64 b = (pm->vec[i].end - pm->start) / pm->page_size;

        /* The kernel only reports inside the walked range; clipping costs nothing
         * and keeps a surprise from writing outside the bitmap. */
        a = MAX(a, first);
        b = MIN(b, last);
        if (a < b) {
            fm_bitmap_set_range(dirty, a, b - a);
            total += b - a;
        }
    }
    return total;
}

/* PAGEMAP_SCAN harvest of pages [@first, @first + @count); see fm_pagemap_harvest(). */
static gboolean
fm_pagemap_harvest_scan(FmPagemap *pm, FmBitmap *dirty, guint64 first, guint64 count,
                        gboolean clear, GError **error)
{
    guint64 end = pm->start + (first + count) * pm->page_size;
    guint64 addr = pm->start + first * pm->page_size;
    gboolean found = FALSE;
    struct pm_scan_arg arg = {
        /* CHECK_WPASYNC turns a region the guest stopped tracking into EPERM instead
         * of silently skipping it (WP_MATCHING alone skips such VMAs). */
        .flags = PM_SCAN_CHECK_WPASYNC | (clear ? PM_SCAN_WP_MATCHING : 0),
        .vec_len = FM_PAGEMAP_VEC_LEN,
        .category_mask = PAGE_IS_WRITTEN,
        .return_mask = PAGE_IS_WRITTEN,
    };

    while (addr < end) {
        long n = fm_pagemap_scan_once(pm, &arg, addr, end);

        if (n < 0) {
            if (errno == EPERM)
                g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                            _("process %d no longer tracks writes to its region at 0x%llx with userfaultfd write-protect"),
                            (int) pm->pid, (unsigned long long) pm->start);
            else if (errno == ESRCH)
                g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                            _("process %d no longer exists: its dirty pages cannot be harvested"),
                            (int) pm->pid);
            else
                g_set_error(error, FM_ERROR, FM_ERROR_IO,
                            _("PAGEMAP_SCAN of process %d failed: %s"),
                            (int) pm->pid, g_strerror(errno));
            return FALSE;
        }
        found |= n > 0;
        fm_pagemap_apply_regions(pm, dirty, n, first, first + count);

        /* The walk stops early only when the output vector is full. */
        if (arg.walk_end <= addr || arg.walk_end > end) {
            g_set_error(error, FM_ERROR, FM_ERROR_IO,
                        _("PAGEMAP_SCAN of process %d made no progress at 0x%llx"),
                        (int) pm->pid, (unsigned long long) addr);
            return FALSE;
        }
        addr = arg.walk_end;
    }

    /* An exited process has no VMAs left, and a walk over nothing reports nothing:
     * tell "nothing written" from "nothing there" before trusting an empty answer. */
    if (!found) {
        guint64 a = pm->start + first * pm->page_size;
        int probe = fm_pagemap_probe(pm, a, a + pm->page_size, error);

        if (probe < 0)
            return FALSE;
        if (probe != FM_PAGEMAP_PROBE_TRACKED) {
            g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                        _("process %d no longer maps a tracked region at 0x%llx (has it exited?)"),
                        (int) pm->pid, (unsigned long long) a);
            return FALSE;
        }
    }
    return TRUE;
}

/* Reads the soft-dirty bits of pages [@first, @first + @count) and sets the dirty
 * ones in @dirty.  Returns FALSE with @error set. */
static gboolean
fm_pagemap_read_soft_dirty(FmPagemap *pm, FmBitmap *dirty, guint64 first, guint64 count,
                           GError **error)
{
    guint64 done = 0;

    while (done < count) {
        gsize want = MIN(count - done, (guint64) FM_PAGEMAP_READ_ENTRIES);
        guint64 page = first + done;
        off_t off = (off_t) ((pm->start / pm->page_size + page) * sizeof(guint64));
        ssize_t got = pread(pm->fd, pm->entries, want * sizeof(guint64), off);
        gsize n;

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            g_set_error(error, FM_ERROR, FM_ERROR_IO,
                        _("cannot read /proc/%d/pagemap: %s"),
                        (int) pm->pid, g_strerror(errno));
            return FALSE;
        }
        /* pagemap reads nothing once the process's address space is gone. */
        if (got == 0 || got % sizeof(guint64) != 0) {
            g_set_error(error, FM_ERROR, FM_ERROR_FAILED,
                        _("cannot read /proc/%d/pagemap: the process has exited"),
                        (int) pm->pid);
            return FALSE;
        }
        n = (gsize) got / sizeof(guint64);

        for (gsize i = 0; i < n; ) {
            gsize j;

            if (!(pm->entries[i] & FM_PAGEMAP_SOFT_DIRTY_BIT)) {
                i++;
                continue;
            }
            for (j = i + 1; j < n && (pm->entries[j] & FM_PAGEMAP_SOFT_DIRTY_BIT); j++)
                ;
            fm_bitmap_set_range(dirty, page + i, j - i);
            i = j;
        }
        done += n;
    }
    return TRUE;
}

/* Clears the soft-dirty bits of the whole process.  Returns FALSE with @error set. */
static gboolean
fm_pagemap_clear_refs(FmPagemap *pm, GError **error)
{
    ssize_t w;

    do {
        w = pwrite(pm->clear_refs_fd, "4", 1, 0);
    } while (w < 0 && errno == EINTR);
    if (w != 1) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("cannot clear the soft-dirty bits of process %d: %s"),
                    (int) pm->pid, w < 0 ? g_strerror(errno) : _("short write"));
        return FALSE;
    }
    return TRUE;
}

/* Soft-dirty harvest of pages [@first, @first + @count); see fm_pagemap_harvest(). */
static gboolean
fm_pagemap_harvest_soft_dirty(FmPagemap *pm, FmBitmap *dirty, guint64 first,
                              guint64 count, gboolean clear, GError **error)
{
    gint64 bit;

    if (!clear) {
        if (!fm_pagemap_read_soft_dirty(pm, dirty, first, count, error))
            return FALSE;
    } else {
        /* clear_refs forgets every page of the process: save the whole region's
         * state first, then hand out only the asked range. */
        if (!fm_pagemap_read_soft_dirty(pm, pm->carry, 0, pm->n_pages, error) ||
            !fm_pagemap_clear_refs(pm, error))
            return FALSE;
    }

    for (bit = fm_bitmap_next_set(pm->carry, first);
         bit >= 0 && (guint64) bit < first + count;
         bit = fm_bitmap_next_set(pm->carry, (guint64) bit + 1))
        fm_bitmap_set(dirty, (guint64) bit);
    if (clear)
        fm_bitmap_clear_range(pm->carry, first, count);
    return TRUE;
}

/* Returns TRUE once @pm is set up for soft-dirty tracking; FALSE with @error set. */
static gboolean
fm_pagemap_init_soft_dirty(FmPagemap *pm, GError **error)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/clear_refs", (int) pm->pid);

    pm->clear_refs_fd = open(path, O_WRONLY | O_CLOEXEC);
    if (pm->clear_refs_fd < 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO,
                    _("cannot open %s: %s"), path, g_strerror(errno));
        return FALSE;
    }
    pm->mode = FM_PAGEMAP_MODE_SOFT_DIRTY;
    pm->entries = g_new(guint64, FM_PAGEMAP_READ_ENTRIES);
    pm->carry = fm_bitmap_new(pm->n_pages);
    g_clear_pointer(&pm->vec, g_free);
    return fm_pagemap_clear_refs(pm, error);
}

/* Returns a new FmPagemap for @pid's region, or NULL with @error set. */
FmPagemap *
fm_pagemap_open(pid_t pid, guint64 region_start, guint64 region_len, gsize page_size,
                GError **error)
{
    g_autoptr(FmPagemap) pm = NULL;
    g_autofree char *path = NULL;
    gsize system_page = (gsize) sysconf(_SC_PAGESIZE);
    int probe;

    if (page_size != system_page) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("page size %zu is not the system page size %zu"),
                    page_size, system_page);
        return NULL;
    }
    if (region_len == 0 || region_start % page_size != 0 || region_len % page_size != 0 ||
        region_start + region_len < region_start) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid memory region 0x%llx (+%llu bytes): empty, unaligned or wrapping"),
                    (unsigned long long) region_start, (unsigned long long) region_len);
        return NULL;
    }
    if (pid <= 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("invalid process id %d"), (int) pid);
        return NULL;
    }

    pm = g_new0(FmPagemap, 1);
    pm->pid = pid;
    pm->fd = -1;
    pm->clear_refs_fd = -1;
    pm->start = region_start;
    pm->n_pages = region_len / page_size;
    pm->page_size = page_size;
    /* Zeroed once: valgrind does not know that PAGEMAP_SCAN fills it. */
    pm->vec = g_new0(struct page_region, FM_PAGEMAP_VEC_LEN);

    path = g_strdup_printf("/proc/%d/pagemap", (int) pid);
    pm->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (pm->fd < 0) {
        int err = errno;

        if (err == ENOENT)
            g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                        _("cannot open %s: there is no process %d"), path, (int) pid);
        else
            g_set_error(error, FM_ERROR, FM_ERROR_IO,
                        _("cannot open %s (reading another process's page table needs ptrace access to it): %s"),
                        path, g_strerror(err));
        return NULL;
    }

    probe = fm_pagemap_probe(pm, region_start, region_start + region_len, error);
    switch (probe) {
    case -1:
        return NULL;
    case FM_PAGEMAP_PROBE_TRACKED:
        pm->mode = FM_PAGEMAP_MODE_SCAN;
        return g_steal_pointer(&pm);
    case FM_PAGEMAP_PROBE_GONE:
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("process %d has exited"), (int) pid);
        return NULL;
    case FM_PAGEMAP_PROBE_UNMAPPED:
        g_set_error(error, FM_ERROR, FM_ERROR_INVALID_ARG,
                    _("process %d does not map the whole region 0x%llx (+%llu bytes)"),
                    (int) pid, (unsigned long long) region_start,
                    (unsigned long long) region_len);
        return NULL;
    case FM_PAGEMAP_PROBE_UNTRACKED:
    case FM_PAGEMAP_PROBE_NO_SCAN:
    default:
        break;
    }

    if (fm_pagemap_soft_dirty_available()) {
        if (!fm_pagemap_init_soft_dirty(pm, error))
            return NULL;
        return g_steal_pointer(&pm);
    }

    if (probe == FM_PAGEMAP_PROBE_NO_SCAN)
        g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                    _("the kernel has neither the PAGEMAP_SCAN ioctl nor soft-dirty tracking; %s"),
                    fm_pagemap_needs());
    else
        g_set_error(error, FM_ERROR, FM_ERROR_UNSUPPORTED,
                    _("process %d has not registered its region 0x%llx (+%llu bytes) for userfaultfd write-protect (async), and the kernel lacks soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY); %s"),
                    (int) pid, (unsigned long long) region_start,
                    (unsigned long long) region_len, fm_pagemap_needs());
    return NULL;
}

/* Returns @pm's mechanism. */
FmPagemapMode
fm_pagemap_mode(const FmPagemap *pm)
{
    g_return_val_if_fail(pm != NULL, FM_PAGEMAP_MODE_LAST);
    return pm->mode;
}

/* Returns the region's page count. */
guint64
fm_pagemap_page_count(const FmPagemap *pm)
{
    g_return_val_if_fail(pm != NULL, 0);
    return pm->n_pages;
}

/* ORs the written pages of the range into @dirty; see the header. */
gboolean
fm_pagemap_harvest(FmPagemap *pm, FmBitmap *dirty, guint64 first_page, guint64 n_pages,
                   gboolean clear, GError **error)
{
    g_return_val_if_fail(pm != NULL, FALSE);
    g_return_val_if_fail(dirty != NULL, FALSE);
    g_return_val_if_fail(fm_bitmap_size(dirty) == pm->n_pages, FALSE);
    g_return_val_if_fail(first_page <= pm->n_pages && n_pages <= pm->n_pages - first_page,
                         FALSE);

    if (n_pages == 0)
        return TRUE;
    if (pm->mode == FM_PAGEMAP_MODE_SCAN)
        return fm_pagemap_harvest_scan(pm, dirty, first_page, n_pages, clear, error);
    return fm_pagemap_harvest_soft_dirty(pm, dirty, first_page, n_pages, clear, error);
}

/* Closes @pm's files; NULL is accepted.  errno survives. */
void
fm_pagemap_free(FmPagemap *pm)
{
    int saved_errno = errno;

    if (!pm)
        return;
    if (pm->fd >= 0)
        close(pm->fd);
    if (pm->clear_refs_fd >= 0)
        close(pm->clear_refs_fd);
    g_free(pm->vec);
    g_free(pm->entries);
    fm_bitmap_free(pm->carry);
    g_free(pm);
    errno = saved_errno;
}
