/*
 * fm-xen.h: the xen backend: a running Xen domain (PVH, HVM with upstream QEMU as
 * its device model, or PV) seen through
 * libxenctrl, libxenforeignmemory and libxl (docs/design.md section 4).
 *
 * Page numbers: the backend numbers only the pfns that hold guest memory when it
 * is created (a PVH guest's physical map has large holes: a 256 MiB guest spans
 * 4 GiB of pfns up to its special pages).  fm_xen_backend_get_pfn_map() gives
 * the pfn of each page number, for the stream.
 *
 * Dirty log: Xen's log-dirty mode (hardware-assisted paging); harvest is
 * XEN_DOMCTL_SHADOW_OP_CLEAN (get and clear), or PEEK.  Only whole-guest harvests:
 * Xen has no ranged CLEAN.  A page Xen reports dirty outside the map is looked
 * up: a hole stays ignored, new memory (ballooning up) fails the migration.
 *
 * Pause and resume: libxl_domain_suspend_only() (the guest suspends itself, as
 * for `xl migrate`) and libxl_domain_resume(..., suspend_cancel = 1) (the guest
 * returns from its suspend as cancelled and runs on).
 *
 * PV guests (fm-xen-pv.h): pages are mapped and typed by mfn, through the guest's
 * p2m list; page tables are normalised (mfn -> pfn) as they are read, and one
 * that cannot be while the guest runs is sent as XTAB and read again at the next
 * harvest; each page's type goes to the sink (FmXenStreamInfo.page_types).
 *
 * State: X86_TSC_INFO, HVM_CONTEXT and HVM_PARAMS (Xen 4.17's order and set) to a
 * Xen sink (fm-xen-sink.h); for an HVM guest also its device model's state and
 * xenstore keys (fm-xen-dm.h), which the sink writes as the emulator records;
 * the static CPU policy records are in fm_xen_backend_get_stream_info().  For a
 * PV guest: X86_TSC_INFO, SHARED_INFO and the X86_PV_VCPU_* records.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "engine/fm-backend.h"
#include "stream/fm-xen-sink.h"

G_BEGIN_DECLS

/* Returns a backend on domain @domid, or NULL with @error: no such domain or
 * domain 0 (FM_ERROR_INVALID_ARG), a 32-bit PV guest, a PV guest without a linear
 * p2m list or an HVM guest whose device model is not upstream QEMU in dom0
 * (FM_ERROR_UNSUPPORTED), no access to Xen (FM_ERROR_IO).  @libxl_ctx: a
 * `libxl_ctx *` the caller keeps for the life of the backend, or NULL: the
 * backend opens its own. */
FmBackend *fm_xen_backend_new(guint32 domid, gpointer libxl_ctx, GError **error);

/* Returns the guest pfn of every page number, ascending (borrowed; page_count
 * entries). */
const guint64 *fm_xen_backend_get_pfn_map(FmBackend *backend);

/* Fills @info for a sink of this guest (guest type, Xen version, CPU policy
 * records, pfn map); everything stays the backend's. */
void fm_xen_backend_get_stream_info(FmBackend *backend, FmXenStreamInfo *info);

/* Returns the domain id. */
guint32 fm_xen_backend_get_domid(FmBackend *backend);

/* Returns the `libxl_ctx *` in use (the caller's or the backend's own). */
gpointer fm_xen_backend_get_libxl_ctx(FmBackend *backend);

/* Returns the domain's configuration as libxl JSON, with its domid cleared (as
 * `xl save` and `xl migrate` send it), or NULL with @error.  Free with g_free(). */
char *fm_xen_backend_get_config_json(FmBackend *backend, GError **error);

/* Returns the domain's name (free with g_free()), or NULL if it has none. */
char *fm_xen_backend_get_name(FmBackend *backend);

/* Renames the domain from @old_name to @new_name (`xl migrate` renames the source
 * NAME--migratedaway before the destination may start its copy). */
gboolean fm_xen_backend_rename(FmBackend *backend, const char *old_name,
                               const char *new_name, GError **error);

/* Destroys the domain (once its copy runs elsewhere or is saved). */
gboolean fm_xen_backend_destroy_domain(FmBackend *backend, GError **error);

/* Looks up a domain by name or number: "7" or "guest1".  Returns TRUE and sets
 * *@domid, or FALSE with @error (FM_ERROR_INVALID_ARG: no such domain; FM_ERROR_IO:
 * Xen cannot be reached). */
gboolean fm_xen_lookup_domain(const char *name, guint32 *domid, GError **error);

G_END_DECLS
