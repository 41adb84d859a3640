/*
 * fm-scenario.h: a migration scenario (guest, link, workload, parameter overrides),
 * read from XML validated against src/conf/schemas/scenario.rng.
 *
 * Example:
 *   <scenario name="db-4g-1g">
 *     <description>OLTP database, 10 % working set</description>
 *     <guest memory="4GiB" page-size="4096"/>
 *     <link bandwidth="1Gbit" latency="1ms"/>
 *     <workload type="db" rate="60%" region-size="10%"/>
 *     <seed>42</seed>
 *     <param name="hot_streak" value="2"/>
 *   </scenario>
 *
 * A workload rate is either absolute ("7600/s": page writes per second) or relative to
 * the link's page rate ("25%": bandwidth / page size); the parser resolves it to
 * page writes per second.
 *
 * Errors name the file, the line and the field: "db.xml:4: <guest memory>: ...".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "workload/fm-workload.h"

G_BEGIN_DECLS

typedef struct {
    char *name;
    char *value;
} FmScenarioParam;

typedef struct {
    char *path;            /* file it was read from ("<memory>" for strings) */
    char *name;            /* <scenario name=...>; defaults to the file's basename */
    char *description;     /* may be NULL */
    guint64 memory;        /* bytes, a multiple of page_size */
    guint32 page_size;     /* bytes, power of two, 4096 by default */
    double verify_rate;    /* <guest verify-rate>: bytes per second at which each side
                            * digests the memory while the guest is paused; 0 = no
                            * verification (the default) */
    double bandwidth;      /* link bytes per second */
    double latency;        /* one-way link latency, seconds */
    guint64 seed;          /* PRNG seed (default 1) */
    FmWorkloadSpec *workload;
    GArray *params;        /* FmScenarioParam, overrides of engine/policy knobs */
} FmScenario;

/* Reads and validates @path; returns a new scenario or NULL with @error set
 * (FM_ERROR_CONFIG, message "FILE:LINE: FIELD: what is wrong"). */
FmScenario *fm_scenario_load_file(const char *path, GError **error);
/* Same from a string; @name_for_errors stands for the file name in messages. */
FmScenario *fm_scenario_load_string(const char *xml, const char *name_for_errors,
                                    GError **error);
/* Frees @scenario; NULL is accepted. */
void fm_scenario_free(FmScenario *scenario);
/* Returns the number of pages of the guest. */
guint64 fm_scenario_page_count(const FmScenario *scenario);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmScenario, fm_scenario_free)

G_END_DECLS
