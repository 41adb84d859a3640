/*
 * fm-sim.h: the simulated guest and link (docs/design.md section 4, "sim").
 *
 * A deterministic discrete-event model: a guest of N pages running a workload
 * (fm-workload.h) in virtual time, and a link of given bandwidth and latency to a
 * destination.  It provides an FmBackend (the guest) and an FmSink (the link and the
 * destination) that share one virtual clock, so the real engine and policies run on it
 * unchanged.
 *
 * Time advances only through the link: sending bytes takes bytes / bandwidth, a flush
 * (end of round) and the final handshake each add one round trip (2 x latency), and
 * a pause/resume costs nothing.  The workload is evaluated lazily: before every
 * harvest or page read, it makes the writes that fall between the last evaluation and
 * the current virtual time (none while paused; fewer while throttled).
 *
 * Every page has a version (1 for its initial content, +1 for the first write after
 * each read: writes between two reads make one new content); a page read carries
 * its pfn and version in its first 16 bytes, and the destination records the version
 * it received.  fm_sim_verify() proves that the destination ends with every page's
 * final version.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "conf/fm-scenario.h"
#include "engine/fm-backend.h"
#include "engine/fm-sink.h"

G_BEGIN_DECLS

typedef struct _FmSim FmSim;

/* Returns a simulation of @scenario (copied; the caller may free it), or NULL with
 * @error set (e.g. memory not a multiple of the page size). */
FmSim *fm_sim_new(const FmScenario *scenario, GError **error);
/* Frees the simulation, its backend and its sink; NULL ok. */
void fm_sim_free(FmSim *sim);

/* Return the simulation's backend / sink (borrowed: owned by @sim). */
FmBackend *fm_sim_get_backend(FmSim *sim);
FmSink *fm_sim_get_sink(FmSim *sim);

/* Returns TRUE if the destination holds every page at its final version and the
 * stream was finished; otherwise FALSE with @error naming the first wrong page. */
gboolean fm_sim_verify(FmSim *sim, GError **error);

/* Returns the virtual time in seconds. */
double fm_sim_now(const FmSim *sim);
/* Returns the online lower bound on the data of a run, in bytes: the memory, plus
 * the pages that the first pass (round 0: every page once, in address order, at
 * the link's speed, the same for every policy, since nothing is known before it)
 * left behind on the destination: written after they were read.  Each must be sent
 * once more, in a later round or while paused, whatever the policy does next.
 * Counted at the first clearing harvest after log-dirty mode was enabled (the end
 * of round 0); the memory alone before it.  Page payload only: stream framing is
 * not counted, so the bound holds for the data a run reports. */
double fm_sim_data_bound(const FmSim *sim);
/* Returns the page writes the workload has made. */
guint64 fm_sim_writes(const FmSim *sim);
/* Returns the version of page @pfn on the source (>= 1) / destination (0 = never
 * received). */
guint32 fm_sim_source_version(const FmSim *sim, guint64 pfn);
guint32 fm_sim_dest_version(const FmSim *sim, guint64 pfn);

/* Test hook: advances the workload to the current time and makes page @pfn dirty as
 * if the guest wrote it.  Used to build exact dirty sets in tests. */
void fm_sim_write_page(FmSim *sim, guint64 pfn);

/* The state of the source guest, for tests of what a failed migration leaves. */
gboolean fm_sim_guest_paused(const FmSim *sim);
gboolean fm_sim_log_dirty_enabled(const FmSim *sim);
guint fm_sim_throttle(const FmSim *sim);

/* Fault injection: the link fails (FM_ERROR_IO) on the first send once @after_bytes
 * have been sent (0 = never); the destination refuses the migration at the end with
 * @reason (NULL = accepts). */
void fm_sim_set_link_failure(FmSim *sim, guint64 after_bytes);
void fm_sim_set_refusal(FmSim *sim, const char *reason);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmSim, fm_sim_free)

G_END_DECLS
