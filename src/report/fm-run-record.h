/*
 * fm-run-record.h: run records, so that migrations can be plotted after the fact
 * (`fragmig simulate --record-dir DIR`, `fragmig plot FILES...`).
 *
 * A record is filled round by round from the job's progress callback
 * (fm_run_record_on_event()), completed with the job's final statistics
 * (fm_run_record_finish()) and written as two CSV files in a directory:
 *
 *   SCENARIO.POLICY.rounds.csv  one line per pre-copy round:
 *     round,start_s,duration_s,pages_sent,dirty_after,pending_after,fragments_hot,
 *     throttle,data_sent_bytes_cumulative,data_remaining_bytes
 *   SCENARIO.POLICY.heat.csv    one line per round and column of fragments:
 *     round,column,dirty_fraction,hot
 *     (a column is the max-pooling of fragments_per_column consecutive fragments, so
 *     that big guests have at most FM_RUN_RECORD_HEAT_COLUMNS columns: its dirty fraction
 *     is the highest of its fragments', hot is 1 when any of them is HOT)
 *
 * Before the header line, "# KEY=VALUE" comment lines carry what a plot needs besides
 * the rounds: scenario, policy, page_size, memory_bytes, fragments, fragment_pages,
 * and (rounds) completed, total_time_s, downtime_s, pages_downtime, data_sent_bytes,
 * stop_reason, or (heat) fragments_per_column.  Other lines starting with '#' and
 * empty lines are ignored.  Numbers use a '.' whatever the locale.
 *
 * An FmRunRecordSet reads such files back, and the suite CSV of `fragmig simulate
 * --format csv` (fm-report.h), recognising each by its header line; every value is
 * checked, and an error names the file and line.  The rounds and heat files of one
 * scenario and policy merge into one record.
 *
 * (Run records are statistics of a migration; dirty-page traces of a guest, `fragmig
 * record`, are another thing: src/trace/.)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "engine/fm-job.h"
#include "engine/fm-frag-tracker.h"

G_BEGIN_DECLS

#define FM_RUN_RECORD_HEAT_COLUMNS 256

/* One pre-copy round, as in the rounds file: the engine's record of it (numbered
 * from 0 in the record's order; pages_skipped is not written, and 0 when read back),
 * plus the two columns a plot derives from the job's statistics. */
typedef struct {
    FmRoundRecord base;
    guint64 data_sent;          /* wire bytes sent since the start, at the round's end */
    guint64 data_remaining;     /* pending_after x page size */
} FmRunRecordRound;

/* One migration.  Invariants: rounds are numbered 0, 1, ... in order; heat_dirty and
 * heat_hot hold heat_columns values per row, one row per round recorded. */
typedef struct {
    char *scenario;
    char *policy;
    guint64 page_size;          /* 0 until known */
    guint64 memory;             /* bytes */
    guint fragments;
    guint32 fragment_pages;
    /* the end of the run: valid when finished */
    gboolean finished;
    gboolean completed;
    double total_time;          /* seconds */
    double downtime;            /* seconds */
    guint64 pages_downtime;     /* pages sent while paused */
    guint64 data_sent;          /* wire bytes in all */
    char *stop_reason;          /* may be NULL */
    GArray *rounds;             /* FmRunRecordRound */
    /* the heat map; heat_columns == 0 when there is none */
    guint heat_columns;
    guint heat_per_column;      /* fragments pooled into one column */
    GArray *heat_dirty;         /* float, row-major */
    GArray *heat_hot;           /* guint8, row-major */
} FmRunRecord;

/* One row of a suite CSV (a scenario under a policy). */
typedef struct {
    char *scenario;
    char *policy;
    double total_time;          /* seconds */
    double downtime;            /* seconds */
    double data_sent;           /* bytes */
} FmSuiteRow;

/* The rows of one suite CSV, named after its file ("sim-suite" for
 * bench/results/sim-suite.csv). */
typedef struct {
    char *name;
    GArray *rows;               /* FmSuiteRow, strings owned */
} FmSuite;

typedef struct _FmRecordSet FmRunRecordSet;

/* Returns a new, empty record of @scenario under @policy (caller frees). */
FmRunRecord *fm_run_record_new(const char *scenario, const char *policy);
void fm_run_record_free(FmRunRecord *record);

/* Appends @round, with the job's statistics @stats at that point and, unless NULL,
 * the fragment tracker holding the harvest that ended the round (for the heat map).
 * The first call takes the page size, memory and fragment layout from them. */
void fm_run_record_add_round(FmRunRecord *record, const FmRoundRecord *round,
                             const FmJobStats *stats, const FmFragTracker *tracker);
/* FmJobEventFunc recording into the FmRunRecord @data: the rounds, and the final
 * statistics when the job ends (fm_run_record_finish()).  Subscribe it to
 * FM_RUN_RECORD_EVENTS. */
void fm_run_record_on_event(FmJob *job, const FmJobEvent *event, gpointer data);
#define FM_RUN_RECORD_EVENTS \
    (FM_JOB_EVENT_MASK(FM_JOB_EVENT_ROUND) | FM_JOB_EVENT_MASK(FM_JOB_EVENT_STATE))
/* Records the end of the run from the job's final statistics. */
void fm_run_record_finish(FmRunRecord *record, const FmJobStats *stats, gboolean completed);
/* Returns the number of heat-map rows. */
guint fm_run_record_heat_rows(const FmRunRecord *record);

/* Returns the rounds file / the heat file as text (caller frees); the heat file is
 * NULL when the record has no heat map. */
char *fm_run_record_rounds_csv(const FmRunRecord *record);
char *fm_run_record_heat_csv(const FmRunRecord *record);
/* Returns "SCENARIO.POLICY" ("SCENARIO" when @policy is NULL) with every character
 * but letters, digits, '-', '_' and '.' replaced by '_', and no leading '.', so that
 * it is one file name (caller frees). */
char *fm_run_record_file_stem(const char *scenario, const char *policy);
/* Writes DIR/STEM.rounds.csv and DIR/STEM.heat.csv (when there is a heat map),
 * creating @dir if needed.  Returns FALSE with @error. */
gboolean fm_run_record_write(const FmRunRecord *record, const char *dir, GError **error);

/* Returns a new, empty set (caller frees). */
FmRunRecordSet *fm_run_record_set_new(void);
void fm_run_record_set_free(FmRunRecordSet *set);
/* Reads the file @path (rounds, heat or suite CSV) into @set.  Returns FALSE with
 * @error ("FILE:LINE: what is wrong") on an unreadable or invalid file; @set is then
 * unchanged. */
gboolean fm_run_record_set_load_file(FmRunRecordSet *set, const char *path, GError **error);
/* Likewise from @text (NUL-terminated), @name standing for the file in messages and
 * naming a suite. */
gboolean fm_run_record_set_load_data(FmRunRecordSet *set, const char *name, const char *text,
                                     GError **error);
/* Returns the runs read so far, in the order first seen (borrowed). */
guint fm_run_record_set_n_runs(const FmRunRecordSet *set);
FmRunRecord *fm_run_record_set_get_run(const FmRunRecordSet *set, guint i);
/* Returns the suites read so far, in order (borrowed). */
guint fm_run_record_set_n_suites(const FmRunRecordSet *set);
FmSuite *fm_run_record_set_get_suite(const FmRunRecordSet *set, guint i);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmRunRecord, fm_run_record_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmRunRecordSet, fm_run_record_set_free)

G_END_DECLS
