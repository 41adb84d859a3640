/*
 * fuzz-scenario.c: fuzz target "scenario": the scenario XML reader
 * (src/conf/fm-scenario.c: libxml2, the compiled-in RelaxNG schema, then the
 * reader's own checks of sizes, rates and units).  An accepted scenario must be
 * one the simulator can run: sizes consistent, rates finite, the workload valid.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "tests/fuzz/fm-fuzz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload/fm-workload-priv.h"
#include "conf/fm-scenario.h"
#include "util/fm-error.h"

static const int fm_fuzz_scenario_codes[] = { FM_ERROR_CONFIG };

/* Aborts with @what unless @cond. */
#define FUZZ_ASSERT(cond, what) \
    do { if (!(cond)) { fprintf(stderr, "scenario: %s\n", what); abort(); } } while (0)

/* One input: an XML document (cut at its first NUL, as a C string is). */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = g_strndup((const char *)data, size);
    g_autoptr(FmScenario) scenario = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) spec_error = NULL;

    fm_fuzz_init();
    scenario = fm_scenario_load_string(xml, "fuzz.xml", &error);
    if (scenario == NULL) {
        fm_fuzz_check_error(error, "scenario", fm_fuzz_scenario_codes,
                            G_N_ELEMENTS(fm_fuzz_scenario_codes));
        return 0;
    }
    FUZZ_ASSERT(scenario->name != NULL && g_utf8_validate(scenario->name, -1, NULL),
                "bad name");
    FUZZ_ASSERT(scenario->page_size >= 512 && (scenario->page_size & (scenario->page_size - 1)) == 0,
                "bad page size");
    FUZZ_ASSERT(scenario->memory > 0 && scenario->memory % scenario->page_size == 0,
                "memory not a whole number of pages");
    FUZZ_ASSERT(fm_scenario_page_count(scenario) == scenario->memory / scenario->page_size,
                "page count");
    FUZZ_ASSERT(isfinite(scenario->bandwidth) && scenario->bandwidth > 0, "bad bandwidth");
    FUZZ_ASSERT(isfinite(scenario->latency) && scenario->latency >= 0, "bad latency");
    FUZZ_ASSERT(isfinite(scenario->verify_rate) && scenario->verify_rate >= 0,
                "bad verify rate");
    FUZZ_ASSERT(scenario->workload != NULL &&
                fm_workload_spec_check(scenario->workload, &spec_error),
                "accepted a workload that cannot run");
    fm_fuzz_accepted("scenario");
    for (guint i = 0; scenario->params && i < scenario->params->len; i++) {
        const FmScenarioParam *p = &g_array_index(scenario->params, FmScenarioParam, i);

        FUZZ_ASSERT(p->name != NULL && p->value != NULL, "param without name or value");
    }
    return 0;
}
