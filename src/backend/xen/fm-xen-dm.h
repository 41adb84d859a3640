/*
 * fm-xen-dm.h: the device model (QEMU) of an HVM guest, as libxl saves it for a
 * migration: the state QEMU writes when libxl suspends the guest, and the
 * device model's xenstore keys that the destination's toolstack needs.
 *
 * libxl_domain_suspend_only() of an HVM guest stops its QEMU and has it save its
 * devices' state (QMP "stop", "add-fd", "xen-save-devices-state", on the socket
 * libxl started QEMU with) into /var/lib/xen/qemu-save.DOMID, the file libxl's own
 * save then copies into the EMULATOR_CONTEXT record.  These functions read that
 * file, and the physmap keys libxl copies into EMULATOR_XENSTORE_DATA.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Returns the path libxl has QEMU save guest @domid's device state to (free with
 * g_free()). */
char *fm_xen_dm_save_path(guint32 domid);

/* Removes a saved device state of @domid left by an earlier suspend: QEMU opens
 * the file without truncating it, so an old longer one would keep its tail.
 * Returns FALSE with @error (FM_ERROR_IO) if it exists and cannot be removed. */
gboolean fm_xen_dm_discard_state(guint32 domid, GError **error);

/* Returns the device state QEMU saved for @domid at its suspend (the file is
 * removed once read), or NULL with @error: FM_ERROR_IO when there is none or it
 * cannot be read, FM_ERROR_FAILED when it is empty.  Unref with g_bytes_unref(). */
GBytes *fm_xen_dm_read_state(guint32 domid, GError **error);

/* Has the stopped QEMU of @domid save its device state again, for a live migration
 * as libxl's live save asks for it (QMP "xen-save-devices-state" with "live":
 * true, on the socket libxl started QEMU with): QEMU then also releases its disk
 * images' locks, so that the destination's QEMU can take them.  (The state libxl's
 * suspend saved was for a save to a file: "live": false.)  Returns the state
 * (unref with g_bytes_unref()), or NULL with @error (FM_ERROR_IO: QMP failed or
 * QEMU refused, FM_ERROR_FAILED: an empty state); libxl's state is then still
 * valid.  Blocks for at most a few seconds per QMP answer. */
GBytes *fm_xen_dm_save_live(guint32 domid, GError **error);

/* Returns the device model's xenstore data of @domid, as libxl saves it: for each
 * entry of /local/domain/0/device-model/DOMID/physmap, the pairs
 * "physmap/ENTRY/start_addr\0VALUE\0", ".../size\0...\0", ".../name\0...\0"; empty
 * when there is no physmap directory (QEMU has mapped no VRAM or ROM).  NULL with
 * @error (FM_ERROR_IO) if xenstore cannot be read or a key is missing. */
GBytes *fm_xen_dm_read_xenstore(guint32 domid, GError **error);

G_END_DECLS
