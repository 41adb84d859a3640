/*
 * fm-local.h: the local backend (docs/design.md section 4, "local"): the migration source
 * side of a guest that runs in another process (fm-guest.h, `fragmig guest`).
 *
 * The backend attaches to the guest process by pid and never runs code in it:
 *  - memory: the region is found in /proc/PID/maps (an anonymous read-write mapping
 *    that starts with the guest header's magic) and read with process_vm_readv(),
 *    consecutive pages coalesced into large transfers;
 *  - dirty log: fm-pagemap.h, PAGEMAP_SCAN over the guest's async userfaultfd
 *    write-protect (range harvests are cheap: can_harvest_range is TRUE), or
 *    soft-dirty bits where the guest could not register (can_harvest_range is FALSE;
 *    the backend stops the guest around each clearing harvest, which soft-dirty needs
 *    to lose no write);
 *  - pause / resume: SIGSTOP, then waiting until every thread of the process is
 *    stopped; SIGCONT.  The backend adds up how long the guest was stopped, from the
 *    SIGSTOP to the SIGCONT: the real downtime (fm_local_backend_paused_seconds());
 *  - throttle: the header's throttle field, written with process_vm_writev(); the
 *    guest's slowdown is read from the header's counters (work done against the
 *    unthrottled work of the same workload time);
 *  - save_state: one FM_RECORD_DIGEST record, by default the page-table digest
 *    (fm_local_backend_page_digest(): each page hashed as read_pages reads it to send
 *    it, so that the pause costs 8 bytes per page), or with FM_LOCAL_VERIFY_FULL the
 *    XXH3-128 digest (util/fm-digest.h) of the whole region read while the guest is
 *    paused, which also catches a write the dirty log missed;
 *  - now: CLOCK_MONOTONIC.
 * Signals go through a pidfd where the kernel has one, so that a pid reused after the
 * guest died is never signalled; once the guest process has exited (or is a zombie),
 * every call fails with FM_ERROR_FAILED and a message that names the pid.
 *
 * The caller needs ptrace access to the guest (root, or its parent under Yama's
 * default setting).  Freeing the backend does not resume a guest it paused: after a
 * completed migration the source guest must stay stopped until it is destroyed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "engine/fm-backend.h"
#include "backend/local/fm-guest.h"
#include "backend/local/fm-pagemap.h"
#include "util/fm-digest.h"

G_BEGIN_DECLS

/* How long pause waits for the guest's threads to stop before it fails. */
#define FM_LOCAL_PAUSE_TIMEOUT 5.0

/* Attaches to the guest in process @pid.  Returns a new backend (caller frees with
 * fm_backend_free(); the guest keeps running), or NULL with @error set:
 * FM_ERROR_INVALID_ARG when there is no process @pid or it has no fragmig guest
 * memory ("process N has no fragmig guest memory"), FM_ERROR_PROTOCOL when its guest
 * header is invalid, FM_ERROR_UNSUPPORTED when its writes cannot be tracked,
 * FM_ERROR_IO when its memory cannot be read (permissions), FM_ERROR_BUSY when the
 * copy was handed over by a migration (FmGuestHeader.handover) or another fragmig
 * holds the guest: one migration, record or advise at a time, through a lock file
 * (/run/lock/fragmig-guest-PID-START.lock, else in the user's runtime directory)
 * held until the backend is freed or the process ends. */
FmBackend *fm_local_backend_new(pid_t pid, GError **error);
/* The same for a caller that only reads the guest (inspect): a copy marked handed
 * over is accepted and the lock is not taken. */
FmBackend *fm_local_backend_new_observer(pid_t pid, GError **error);

/* The functions below take a backend made by fm_local_backend_new() (programmer
 * error otherwise). */

/* Returns the guest's pid. */
pid_t fm_local_backend_pid(FmBackend *backend);
/* Returns the address of the guest's region in its process. */
guint64 fm_local_backend_region_start(FmBackend *backend);
/* Returns the dirty-tracking mechanism in use. */
FmPagemapMode fm_local_backend_mode(FmBackend *backend);

/* Returns the seconds the guest has spent stopped by fm_backend_pause() so far,
 * the current stop included. */
double fm_local_backend_paused_seconds(FmBackend *backend);
/* Returns how long the last fm_backend_pause() took from SIGSTOP until every
 * thread was stopped, in seconds (0 before the first). */
double fm_local_backend_pause_latency(FmBackend *backend);

/* Copies the guest's header into @header (a snapshot: the guest may be running).
 * Returns TRUE, or FALSE with @error set. */
gboolean fm_local_backend_read_header(FmBackend *backend, FmGuestHeader *header,
                                      GError **error);

/* What save_state digests (docs/stream-format.md section 4.4). */
typedef enum {
    FM_LOCAL_VERIFY_PAGES,      /* the default: the hashes of the pages as sent */
    FM_LOCAL_VERIFY_FULL,       /* the paused memory, read whole */
} FmLocalVerify;

/* Chooses what save_state digests (before the migration starts: pages read before
 * FM_LOCAL_VERIFY_PAGES is chosen are not hashed). */
void fm_local_backend_set_verify(FmBackend *backend, FmLocalVerify verify);

/* Computes the page-table digest (fm_digest_page_table()) of the page hashes kept
 * by read_pages into @out, reading and hashing first the pages never read (all of
 * them if none was).  Consistent only while the guest is paused.  Returns TRUE, or
 * FALSE with @error set. */
gboolean fm_local_backend_page_digest(FmBackend *backend, guint8 out[FM_DIGEST_SIZE],
                                      GError **error);

/* Computes the XXH3-128 digest of the guest's whole memory into @out, reading it in
 * large chunks (consistent only while the guest is paused), the handover mark taken
 * as 0: a copy handed over has the digest it had when it was sent.  Returns TRUE, or FALSE
 * with @error set. */
gboolean fm_local_backend_digest(FmBackend *backend, guint8 out[FM_DIGEST_SIZE],
                                 GError **error);

/* Writes the guest's handover mark (FmGuestHeader.handover): @handed_over TRUE when
 * the source commits to a handover, FALSE to release it.  Returns TRUE, or FALSE with
 * @error set (the mark is then unchanged: one 8-byte write). */
gboolean fm_local_backend_set_handover(FmBackend *backend, gboolean handed_over,
                                       GError **error);

/* Continues the guest of process @pid, stopped by a migration that ended (SIGCONT).
 * A copy marked handed over is only continued with @force, which clears the mark
 * first; *@was_handed_over says whether it was marked.  Returns TRUE, or FALSE with
 * @error set (FM_ERROR_BUSY: marked and no @force). */
gboolean fm_local_guest_resume(pid_t pid, gboolean force, gboolean *was_handed_over,
                               GError **error);

G_END_DECLS
