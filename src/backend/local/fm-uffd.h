/*
 * fm-uffd.h: guest side of the local backend's dirty tracking (docs/design.md section 4).
 *
 * The guest process registers its memory region with a userfaultfd in asynchronous
 * write-protect mode (UFFD_FEATURE_WP_ASYNC + UFFD_FEATURE_WP_UNPOPULATED, Linux >= 6.7)
 * and write-protects all of it.  From then on the kernel resolves every write fault by
 * itself, with no handler thread, and marks the page "written"; the migration source
 * reads and re-arms that state from another process with PAGEMAP_SCAN (fm-pagemap.h).
 *
 * Invariants:
 *  - an FmUffd exists only for a region that is registered and was write-protected once
 *    in full: pages never written since (populated or not) read as not written;
 *  - the userfaultfd is close-on-exec and non-blocking, and nobody reads it: in async
 *    mode the kernel queues no write-protect events;
 *  - freeing the FmUffd unregisters the region; tracking then stops.
 * Only the process that owns the memory can register it (userfaultfd acts on the
 * caller's own address space).  Not thread-safe: one owner at a time.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _FmUffd FmUffd;

/* Checks that this kernel offers asynchronous userfaultfd write-protect, without
 * registering anything.  Returns TRUE if it does; FALSE with @error set
 * (FM_ERROR_UNSUPPORTED naming what is missing, FM_ERROR_IO otherwise). */
gboolean fm_uffd_probe(GError **error);

/* Registers the caller's memory [@addr, @addr + @len) for asynchronous write-protect
 * tracking and write-protects all of it.  @addr and @len must be multiples of the page
 * size, and the range wholly mapped (the kernel registers whatever VMAs it finds there
 * and skips holes; fm_pagemap_open() refuses a region with holes).
 * Returns a new FmUffd (caller owns it, free with fm_uffd_free()), or NULL with @error
 * set: FM_ERROR_UNSUPPORTED when the kernel or the memory type lacks the feature (the
 * message names which step and which feature), FM_ERROR_IO on other failures. */
FmUffd *fm_uffd_register(void *addr, gsize len, GError **error);
/* As fm_uffd_register() but without write-protecting: every page reads as written
 * until it is protected (a migration's first clearing harvest does that).  Costs no
 * walk of the range: a guest that just arrived resumes without one (write-protecting
 * a GiB measured 40-70 ms). */
FmUffd *fm_uffd_register_unarmed(void *addr, gsize len, GError **error);

/* Write-protects [@addr, @addr + @len) again, from within the guest: the pages read as
 * not written until their next write.  The range must lie inside the registered region
 * and be page-aligned (programmer error otherwise).  The source normally re-arms pages
 * with a clearing harvest instead; this is for guests that reset their own state.
 * Returns TRUE, or FALSE with @error set (FM_ERROR_IO). */
gboolean fm_uffd_protect(FmUffd *uffd, void *addr, gsize len, GError **error);

/* Returns the registered region's start address and length (borrowed, no copy). */
void *fm_uffd_addr(const FmUffd *uffd);
gsize fm_uffd_len(const FmUffd *uffd);

/* Unregisters the region and closes the userfaultfd; NULL is accepted. */
void fm_uffd_free(FmUffd *uffd);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmUffd, fm_uffd_free)

G_END_DECLS
