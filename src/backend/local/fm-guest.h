/*
 * fm-guest.h: the local backend's guest runtime (docs/design.md section 4, "local").
 *
 * A guest is an anonymous memory region with mutator threads that run a workload
 * model (fm-workload.h) and write its pages.  `fragmig guest` runs one in its own
 * process, the migration source attaches to that process (fm-local.h), and the
 * receiver rebuilds the region from the stream and resumes it with fm_guest_adopt().
 *
 * Everything the guest needs to resume lives in the region itself, in page 0, the
 * header (FmGuestHeader): the workload spec, each thread's workload state and
 * counters, the throttle.  The layout is the host's (native byte order and
 * alignment): source and destination run the same build; the magic, the version
 * and header_size catch a mismatch, and fm_guest_header_check() treats the header as
 * hostile (it came from the network).
 *
 * The workload's page numbers cover the whole region, page 0 included, so that they
 * are the simulator's.  A write to a page stores the writing thread's counter into
 * one of its words (its content really changes); a write to page 0 only updates the
 * counter, which lives in page 0 anyway.  Page 0 is thus dirty whenever the guest
 * runs.
 *
 * Each thread keeps its workload state twice in the header and flips an index after
 * each step (FmGuestThread.current): whenever the process is stopped, by SIGSTOP or
 * after fm_guest_stop(), the copy named by the index is a complete state.  Workload
 * time follows real time, but each step covers at most FM_GUEST_MAX_STEP seconds, so
 * that a stop (a migration's downtime, SIGSTOP/SIGCONT) makes no burst of writes
 * afterwards.
 *
 * Threads: each of the n_threads mutators runs the spec at rate / n_threads with its
 * own seed (seed + i x 0x9e3779b97f4a7c15), so the sum runs at the spec's rate.
 *
 * A trace workload (docs/trace-format.md section 5.1) keeps its trace in the region
 * too: the trace's encoding, byte for byte a trace file, fills the region's last
 * pages (trace_page, trace_bytes in the header), which the replay never writes (the
 * trace's pfns stop below them).  So a migrated trace guest carries its trace, and
 * fm_guest_adopt() decodes it from there, as hostile as any trace file.  The mutator
 * threads share the replay as lanes (fm_workload_state_init_lane()).
 *
 * An FmGuest is not thread-safe: one owner calls its functions; the mutators only
 * touch their own FmGuestThread and the pages.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "workload/fm-workload.h"

G_BEGIN_DECLS

/* The header's first 8 bytes are the ASCII "FMGUEST1": this value read as a
 * little-endian u64 (the only byte order fragmig runs guests on). */
#define FM_GUEST_MAGIC G_GUINT64_CONSTANT(0x3154534555474d46)
#define FM_GUEST_VERSION 1
#define FM_GUEST_MAX_THREADS 8
#define FM_GUEST_DEFAULT_THREADS 2
/* Longest workload step, seconds: what a stop of the guest can cost it at most. */
#define FM_GUEST_MAX_STEP 0.010
/* FmGuestHeader.handover of a copy handed over: the ASCII "HANDOVER" read as a
 * little-endian u64. */
#define FM_GUEST_HANDED_OVER G_GUINT64_CONSTANT(0x5245564f444e4148)
/* Word w of page p holds FM_GUEST_FILL | p << 16 | w until it is first written. */
#define FM_GUEST_FILL G_GUINT64_CONSTANT(0xf9a6000000000000)

/* A workload spec as plain data (FmWorkloadSpec holds a pointer to its phases). */
typedef struct {
    guint32 type;           /* FmWorkloadType */
    guint32 n_phases;       /* phases: entries used in FmGuestHeader.phases */
    double rate;            /* page writes per second, whole guest */
    double zipf_s;
    double region_start;
    double region_size;
    double duration;
} FmGuestSpec;

/* One mutator thread's part of the header; written only by that thread (and by
 * fm_guest_new()/adopt before it runs). */
typedef struct {
    guint32 current;        /* which of @state is complete: 0 or 1 */
    guint32 reserved;       /* 0 */
    guint64 seed;           /* the thread's workload seed */
    guint64 writes;         /* page writes made so far (all time, across migrations) */
    double nominal;         /* page writes it would have made unthrottled so far */
    FmWorkloadState state[2];
} FmGuestThread;

/* Page 0 of the region. */
typedef struct {
    guint64 magic;          /* FM_GUEST_MAGIC */
    guint32 version;        /* FM_GUEST_VERSION */
    guint32 header_size;    /* sizeof(FmGuestHeader) */
    guint64 page_size;      /* bytes; the system page size */
    guint64 page_count;     /* pages of the region, header included */
    guint64 seed;           /* the guest's seed */
    guint32 n_threads;      /* mutator threads, 1 .. FM_GUEST_MAX_THREADS */
    guint32 throttle;       /* percent of work withheld, 0 .. 100; the migration
                             * source writes it (process_vm_writev), auto-converge */
    guint64 handover;       /* 0, or FM_GUEST_HANDED_OVER: a migration source
                             * committed to hand this copy over (docs/stream-format.md
                             * §5); the mutators make no step while it is set, even
                             * if the process is continued.  Only the source writes
                             * it (process_vm_writev), and `fragmig resume --force` */
    guint64 reserved[3];    /* 0 */
    guint64 trace_page;     /* trace: first page of the trace's encoding, which runs
                             * to the end of the region; 0 for other workloads */
    guint64 trace_bytes;    /* trace: length of the encoding; 0 for other workloads */
    FmGuestSpec spec;       /* the workload (rate of the whole guest) */
    FmGuestSpec phases[FM_WORKLOAD_MAX_PHASES]; /* phases of a phases spec, parts
                                                 * of a mix */
    FmGuestThread threads[FM_GUEST_MAX_THREADS]; /* the first n_threads are used */
} FmGuestHeader;

typedef struct _FmGuest FmGuest;

/* Returns the smallest memory, in bytes, of a guest that replays @trace: the
 * trace's pages and the pages that hold its encoding. */
guint64 fm_guest_memory_for_trace(const FmTrace *trace);

/* Creates a guest of @memory bytes (a multiple of @page_size, at least 2 pages;
 * @page_size must be the system page size) running @spec (copied) on @threads
 * mutators (1 .. FM_GUEST_MAX_THREADS) seeded by @seed.  Maps the region (with an
 * inaccessible guard page on each side, so that the kernel never merges it with
 * neighbouring memory), writes the header, fills the rest of the region with the
 * pattern above (a trace workload: its encoding in the last pages; @memory must be at
 * least fm_guest_memory_for_trace(), and the trace's page size the guest's) and
 * registers the region for async userfaultfd write-protect tracking; where
 * the kernel lacks that but has soft-dirty, the guest runs untracked and the source
 * uses soft-dirty.  The mutators do not run until fm_guest_start().
 * Returns the guest (caller frees with fm_guest_free()), or NULL with @error set:
 * FM_ERROR_INVALID_ARG for bad arguments, FM_ERROR_CONFIG for a bad spec,
 * FM_ERROR_UNSUPPORTED when the kernel can track writes in neither way, FM_ERROR_IO
 * when the memory cannot be mapped. */
FmGuest *fm_guest_new(guint64 memory, gsize page_size, const FmWorkloadSpec *spec,
                      guint threads, guint64 seed, GError **error);

/* Takes over the guest whose whole memory is @region (@len bytes, page-aligned, from
 * mmap(); a migrated copy): checks the header thoroughly, as fm_guest_header_check()
 * and the thread states too (for a trace workload, decodes and checks the trace in
 * the region, and each thread's position in it), and registers the region for
 * tracking as fm_guest_new() does, but without write-protecting it (every page reads
 * as written until a source's first clearing harvest: the walk stays out of the
 * downtime).  On success the guest owns @region (fm_guest_free() unmaps
 * it); on failure the caller keeps it.  The mutators do not run until
 * fm_guest_start(), and resume where the header says they were.  Returns the guest,
 * or NULL with @error set (FM_ERROR_PROTOCOL for a bad header, otherwise as
 * fm_guest_new()). */
FmGuest *fm_guest_adopt(void *region, gsize len, GError **error);

/* Starts the mutator threads; TRUE if they run (or already ran), FALSE with @error
 * set (FM_ERROR_FAILED) if a thread could not be created (none then runs). */
gboolean fm_guest_start(FmGuest *guest, GError **error);

/* Stops the mutator threads and waits for them; their states are then complete in
 * the header.  No-op if they do not run. */
void fm_guest_stop(FmGuest *guest);

/* Returns the page writes made so far by all threads (the header's counters). */
guint64 fm_guest_writes(const FmGuest *guest);

/* Returns the region (borrowed; page 0 is the header) and its length in bytes. */
void *fm_guest_region(const FmGuest *guest);
gsize fm_guest_region_len(const FmGuest *guest);

/* Returns the header (borrowed; live: the mutators update it while they run). */
const FmGuestHeader *fm_guest_header(const FmGuest *guest);

/* Returns TRUE if the region is registered for userfaultfd write-protect tracking. */
gboolean fm_guest_is_tracked(const FmGuest *guest);

/* Unregisters the region from userfaultfd tracking, so that a source falls back to
 * soft-dirty (tests of that path; kernels without async write-protect). */
void fm_guest_untrack(FmGuest *guest);

/* Stops the mutators, unmaps the region; NULL is accepted. */
void fm_guest_free(FmGuest *guest);

/* Checks the fixed fields of @header against a region of @region_len bytes: magic,
 * version, header size, page size (the system's), page count, thread count,
 * throttle, the spec and its phases (FmWorkloadSpec rules, phases 1 ..
 * FM_WORKLOAD_MAX_PHASES and not nested), reserved fields, the place of a trace's
 * encoding (not the trace itself, which is in the region: fm_guest_adopt() decodes
 * it).  Not the thread states: they change while the guest runs.  Returns TRUE, or
 * FALSE with @error set (FM_ERROR_PROTOCOL, the message names the field). */
gboolean fm_guest_header_check(const FmGuestHeader *header, guint64 region_len,
                               GError **error);

/* Fills @spec from @header's spec (checked), its phases pointing into @phases (an
 * array of FM_WORKLOAD_MAX_PHASES entries); nothing to free.  A trace spec gets no
 * trace (it is in the guest's memory, not in the header). */
void fm_guest_header_get_spec(const FmGuestHeader *header, FmWorkloadSpec *spec,
                              FmWorkloadSpec *phases);

/* Returns the sum of the writes counters of the header's threads. */
guint64 fm_guest_header_writes(const FmGuestHeader *header);
/* Returns the sum of the nominal (unthrottled) writes of the header's threads. */
double fm_guest_header_nominal(const FmGuestHeader *header);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmGuest, fm_guest_free)

G_END_DECLS
