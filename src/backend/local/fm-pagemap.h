/*
 * fm-pagemap.h: source side of the local backend's dirty tracking (docs/design.md section 4).
 *
 * Harvests which pages of another process's memory region were written, through
 * /proc/PID/pagemap (the caller needs ptrace read access to the process, e.g. root or
 * its parent under the default Yama setting).  Two mechanisms, picked by
 * fm_pagemap_open() in this order:
 *
 *  - FM_PAGEMAP_MODE_SCAN: the PAGEMAP_SCAN ioctl (Linux >= 6.7) over a region that the
 *    guest registered with fm_uffd_register().  A clearing harvest reports and
 *    write-protects each page atomically (under the page-table lock), so a write racing
 *    with it is either reported now or left for the next harvest, never lost; a range
 *    costs only its own page-table walk.  Pages written since registration are reported,
 *    including those the guest wrote before the source opened the pagemap.
 *  - FM_PAGEMAP_MODE_SOFT_DIRTY: pagemap bit 55 and /proc/PID/clear_refs = 4, where the
 *    kernel has CONFIG_MEM_SOFT_DIRTY and the guest did not register.  Opening clears
 *    the soft-dirty bits: tracking starts then.  The kernel clears the whole process at
 *    once, so a clearing harvest reads the whole region and keeps the pages outside the
 *    asked range for later harvests (ranges stay exact, but cost a whole-region read).
 *    Reading and clearing are not atomic: a write between the two is lost, so the
 *    caller must stop the guest's writers around a clearing harvest in this mode.
 *
 * Page numbers are relative to the region start: page i is region_start + i * page_size.
 * Not thread-safe: one owner at a time.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "util/fm-enum.h"
#include <sys/types.h>

#include "util/fm-bitmap.h"

G_BEGIN_DECLS

typedef struct _FmPagemap FmPagemap;

typedef enum {
    FM_PAGEMAP_MODE_SCAN,       /* PAGEMAP_SCAN over async userfaultfd write-protect */
    FM_PAGEMAP_MODE_SOFT_DIRTY, /* soft-dirty bits and clear_refs */
    FM_PAGEMAP_MODE_LAST
} FmPagemapMode;

/* Names of the modes ("pagemap-scan", "soft-dirty"). */
FM_ENUM_DECL(fm_pagemap_mode, FmPagemapMode);

/* Returns TRUE if this kernel tracks soft-dirty bits (probed once, on a page of the
 * calling process: a freshly written page must show pagemap bit 55). */
gboolean fm_pagemap_soft_dirty_available(void);

/* Opens the dirty log of process @pid's region [@region_start, @region_start +
 * @region_len).  @page_size must be the system page size; @region_start and
 * @region_len must be multiples of it.  Returns a new FmPagemap (caller owns it, free
 * with fm_pagemap_free()), or NULL with @error set: FM_ERROR_INVALID_ARG for a bad
 * region or page size, or when no process @pid exists or it does not map the region;
 * FM_ERROR_UNSUPPORTED when neither mechanism works for this kernel and region (the
 * message says what is missing); FM_ERROR_IO on other failures. */
FmPagemap *fm_pagemap_open(pid_t pid, guint64 region_start, guint64 region_len,
                           gsize page_size, GError **error);

/* Returns the mechanism @pm uses. */
FmPagemapMode fm_pagemap_mode(const FmPagemap *pm);

/* Returns the number of pages of the region. */
guint64 fm_pagemap_page_count(const FmPagemap *pm);

/* ORs into @dirty (a bitmap of fm_pagemap_page_count() bits) the pages of
 * [@first_page, @first_page + @n_pages) written since their last clearing harvest
 * (since registration, or since open in soft-dirty mode); bits already set in @dirty
 * stay set.  With @clear, those pages are re-armed: the next harvest reports them only
 * if they are written again; pages outside the range keep their state.  Without
 * @clear, nothing changes (a peek).  The range must lie inside the region (programmer
 * error otherwise).  Returns TRUE, or FALSE with @error set (FM_ERROR_FAILED when the
 * process exited or dropped its tracking, FM_ERROR_IO on other failures); on failure
 * @dirty may hold part of the result. */
gboolean fm_pagemap_harvest(FmPagemap *pm, FmBitmap *dirty, guint64 first_page,
                            guint64 n_pages, gboolean clear, GError **error);

/* Closes @pm; the guest's tracking stays as it is.  NULL is accepted. */
void fm_pagemap_free(FmPagemap *pm);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmPagemap, fm_pagemap_free)

G_END_DECLS
