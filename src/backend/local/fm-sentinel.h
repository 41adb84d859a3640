/*
 * fm-sentinel.h: the guardian of a paused local guest (docs/stream-format.md §5).
 *
 * A migration source pauses its guest with SIGSTOP.  If the migrating process dies
 * before it committed to the handover (SIGKILL, SIGHUP of a closed terminal, the OOM
 * killer), nobody would ever continue the guest.  The sentinel is a small process
 * forked before the migration starts, in a session of its own (so that the signals
 * of the terminal and of the migrating process's group do not reach it).  It holds
 * the read end of a pipe whose write end only the migrating process holds: when
 * that process ends, however it ends, the sentinel reads end-of-file at once.  It
 * then looks at the guest's handover mark (FmGuestHeader.handover): unmarked, the
 * source never committed, and the sentinel continues the guest (SIGCONT through a
 * pidfd); marked, the destination may run the guest, and the sentinel leaves the
 * copy stopped and prints where it is and how to resume it.
 * fm_sentinel_free() dismisses the sentinel (a normal end: the caller already
 * resumed, ended or kept the guest as it had to).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct _FmSentinel FmSentinel;

/* Starts the sentinel of the guest in process @pid whose header is at address
 * @header_addr there.  Returns it (caller frees with fm_sentinel_free()), or NULL
 * with @error set (FM_ERROR_IO) if it could not be started. */
FmSentinel *fm_sentinel_new(pid_t pid, guint64 header_addr, GError **error);

/* Dismisses the sentinel: it ends without touching the guest; waits for it.  NULL
 * is accepted. */
void fm_sentinel_free(FmSentinel *sentinel);

/* Returns the sentinel's process id (tests). */
pid_t fm_sentinel_get_pid(const FmSentinel *sentinel);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmSentinel, fm_sentinel_free)

G_END_DECLS
