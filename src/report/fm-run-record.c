/*
 * fm-run-record.c: run records: collected from a job's progress, written and read back
 * as CSV for `fragmig plot`.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "report/fm-run-record.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

#include "util/fm-error.h"
#include "util/fm-file.h"
#include "util/fm-i18n.h"
#include "util/fm-quote.h"

#define FM_RUN_RECORD_ROUNDS_HEADER "round,start_s,duration_s,pages_sent,dirty_after," \
    "pending_after,fragments_hot,throttle,data_sent_bytes_cumulative,data_remaining_bytes"
#define FM_RUN_RECORD_HEAT_HEADER "round,column,dirty_fraction,hot"
/* Far more than any real guest needs: a bound so that a hostile file cannot make us
 * allocate without limit. */
#define FM_RUN_RECORD_MAX_COLUMNS 65536
/* Largest run record or suite file read (a figure of a huge suite is still far below). */
#define FM_RUN_RECORD_MAX_FILE ((gsize)256 * 1024 * 1024)

struct _FmRecordSet {
    GPtrArray *runs;     /* FmRunRecord */
    GPtrArray *suites;   /* FmSuite */
};

/* Returns a new empty record. */
FmRunRecord *
fm_run_record_new(const char *scenario, const char *policy)
{
    FmRunRecord *record = g_new0(FmRunRecord, 1);

    record->scenario = g_strdup(scenario);
    record->policy = g_strdup(policy);
    record->rounds = g_array_new(FALSE, TRUE, sizeof(FmRunRecordRound));
    record->heat_dirty = g_array_new(FALSE, TRUE, sizeof(float));
    record->heat_hot = g_array_new(FALSE, TRUE, sizeof(guint8));
    return record;
}

/* Frees @record; NULL ok. */
void
fm_run_record_free(FmRunRecord *record)
{
    if (record == NULL)
        return;
    g_free(record->scenario);
    g_free(record->policy);
    g_free(record->stop_reason);
    g_array_unref(record->rounds);
    g_array_unref(record->heat_dirty);
    g_array_unref(record->heat_hot);
    g_free(record);
}

/* Sets the fragment layout and the pooling into at most FM_RUN_RECORD_HEAT_COLUMNS
 * columns. */
static void
fm_run_record_set_layout(FmRunRecord *record, guint fragments, guint32 fragment_pages)
{
    record->fragments = fragments;
    record->fragment_pages = fragment_pages;
    record->heat_per_column = MAX(1, (fragments + FM_RUN_RECORD_HEAT_COLUMNS - 1) /
                                     FM_RUN_RECORD_HEAT_COLUMNS);
    record->heat_columns = (fragments + record->heat_per_column - 1) / record->heat_per_column;
}

/* Appends one round; see fm-run-record.h. */
void
fm_run_record_add_round(FmRunRecord *record, const FmRoundRecord *round, const FmJobStats *stats,
                        const FmFragTracker *tracker)
{
    FmRunRecordRound r = { 0 };

    if (record->page_size == 0) {
        record->page_size = stats->memory_page_size;
        record->memory = stats->memory_total;
    }
    if (tracker && record->fragments == 0 && fm_frag_tracker_count(tracker) > 0)
        fm_run_record_set_layout(record, fm_frag_tracker_count(tracker),
                                 fm_frag_tracker_frag_pages(tracker));

    r.base = *round;
    r.base.round = record->rounds->len;
    r.data_sent = stats->data_processed;
    r.data_remaining = round->pending_after * record->page_size;
    g_array_append_val(record->rounds, r);

    if (record->heat_columns == 0)
        return;
    for (guint c = 0; c < record->heat_columns; c++) {
        guint first = c * record->heat_per_column;
        guint end = MIN(first + record->heat_per_column, record->fragments);
        float dirty = 0;
        guint8 hot = 0;

        /* max-pooling: one busy fragment must stay visible in a column of many */
        for (guint i = first; tracker && i < end; i++) {
            const FmFragment *f = fm_frag_tracker_get(tracker, i);
            float frac = f->pages ? (float)f->dirty_last / f->pages : 0;

            dirty = MAX(dirty, frac);
            if (f->state == FM_FRAG_HOT)
                hot = 1;
        }
        g_array_append_val(record->heat_dirty, dirty);
        g_array_append_val(record->heat_hot, hot);
    }
}

/* FmJobEventFunc: records rounds and the end of the run into @data, an FmRunRecord. */
void
fm_run_record_on_event(FmJob *job, const FmJobEvent *event, gpointer data)
{
    if (event->type == FM_JOB_EVENT_ROUND)
        fm_run_record_add_round(data, event->round.record, fm_job_get_stats(job),
                                fm_job_get_tracker(job));
    else if (event->type == FM_JOB_EVENT_STATE && event->state.to >= FM_JOB_COMPLETED)
        fm_run_record_finish(data, fm_job_get_stats(job),
                             event->state.to == FM_JOB_COMPLETED);
}

/* Records the end of the run. */
void
fm_run_record_finish(FmRunRecord *record, const FmJobStats *stats, gboolean completed)
{
    if (record->page_size == 0) {
        record->page_size = stats->memory_page_size;
        record->memory = stats->memory_total;
    }
    record->finished = TRUE;
    record->completed = completed;
    record->total_time = stats->time_elapsed;
    record->downtime = stats->downtime;
    record->pages_downtime = stats->pages_downtime;
    record->data_sent = stats->data_processed;
    g_free(record->stop_reason);
    record->stop_reason = g_strdup(fm_stop_reason_to_string(stats->stop_reason));
}

/* Returns the number of heat-map rows. */
guint
fm_run_record_heat_rows(const FmRunRecord *record)
{
    return record->heat_columns ? record->heat_dirty->len / record->heat_columns : 0;
}

/* Appends "# KEY=VALUE\n", the value on one line whatever it holds. */
static void
fm_run_record_put_meta(GString *out, const char *key, const char *value)
{
    g_string_append_printf(out, "# %s=", key);
    for (const char *p = value ? value : ""; *p; p++)
        g_string_append_c(out, (unsigned char)*p < 0x20 ? ' ' : *p);
    g_string_append_c(out, '\n');
}

/* Appends "# KEY=N\n". */
static void
fm_run_record_put_meta_u64(GString *out, const char *key, guint64 value)
{
    g_string_append_printf(out, "# %s=%" G_GUINT64_FORMAT "\n", key, value);
}

/* Appends @value with @decimals decimals, locale-independently. */
static void
fm_run_record_put_double(GString *out, double value, int decimals)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    char fmt[8];

    g_snprintf(fmt, sizeof(fmt), "%%.%df", decimals);
    g_string_append(out, g_ascii_formatd(buf, sizeof(buf), fmt, value));
}

/* Appends the metadata both files share. */
static void
fm_run_record_put_common(GString *out, const FmRunRecord *record, const char *kind)
{
    g_string_append_printf(out, "# fragmig run record: %s\n", kind);
    fm_run_record_put_meta(out, "scenario", record->scenario);
    fm_run_record_put_meta(out, "policy", record->policy);
    fm_run_record_put_meta_u64(out, "page_size", record->page_size);
    fm_run_record_put_meta_u64(out, "memory_bytes", record->memory);
    fm_run_record_put_meta_u64(out, "fragments", record->fragments);
    fm_run_record_put_meta_u64(out, "fragment_pages", record->fragment_pages);
}

/* Returns the rounds file's text. */
char *
fm_run_record_rounds_csv(const FmRunRecord *record)
{
    GString *out = g_string_new(NULL);

    fm_run_record_put_common(out, record, "rounds");
    if (record->finished) {
        fm_run_record_put_meta(out, "completed", record->completed ? "yes" : "no");
        g_string_append(out, "# total_time_s=");
        fm_run_record_put_double(out, record->total_time, 6);
        g_string_append(out, "\n# downtime_s=");
        fm_run_record_put_double(out, record->downtime, 6);
        g_string_append_c(out, '\n');
        fm_run_record_put_meta_u64(out, "pages_downtime", record->pages_downtime);
        fm_run_record_put_meta_u64(out, "data_sent_bytes", record->data_sent);
        fm_run_record_put_meta(out, "stop_reason", record->stop_reason);
    }
    g_string_append(out, FM_RUN_RECORD_ROUNDS_HEADER "\n");
    for (guint i = 0; i < record->rounds->len; i++) {
        const FmRunRecordRound *r = &g_array_index(record->rounds, FmRunRecordRound, i);

        g_string_append_printf(out, "%u,", r->base.round);
        fm_run_record_put_double(out, r->base.start, 6);
        g_string_append_c(out, ',');
        fm_run_record_put_double(out, r->base.duration, 6);
        g_string_append_printf(out, ",%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT
                               ",%" G_GUINT64_FORMAT ",%u,%u,%" G_GUINT64_FORMAT
                               ",%" G_GUINT64_FORMAT "\n",
                               r->base.pages_sent, r->base.dirty_after, r->base.pending_after,
                               r->base.fragments_hot, r->base.throttle, r->data_sent,
                               r->data_remaining);
    }
    return g_string_free(out, FALSE);
}

/* Returns the heat file's text, or NULL without a heat map. */
char *
fm_run_record_heat_csv(const FmRunRecord *record)
{
    GString *out;
    guint rows = fm_run_record_heat_rows(record);

    if (record->heat_columns == 0)
        return NULL;
    out = g_string_new(NULL);
    fm_run_record_put_common(out, record, "heat");
    fm_run_record_put_meta_u64(out, "fragments_per_column", record->heat_per_column);
    g_string_append(out, FM_RUN_RECORD_HEAT_HEADER "\n");
    for (guint r = 0; r < rows; r++) {
        for (guint c = 0; c < record->heat_columns; c++) {
            guint k = r * record->heat_columns + c;

            g_string_append_printf(out, "%u,%u,", r, c);
            fm_run_record_put_double(out, g_array_index(record->heat_dirty, float, k), 4);
            g_string_append_printf(out, ",%u\n", g_array_index(record->heat_hot, guint8, k));
        }
    }
    return g_string_free(out, FALSE);
}

/* Returns "SCENARIO.POLICY" (or "SCENARIO") made safe as a file name. */
char *
fm_run_record_file_stem(const char *scenario, const char *policy)
{
    char *stem = policy ? g_strdup_printf("%s.%s", scenario, policy) : g_strdup(scenario);

    for (char *p = stem; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
            *p = '_';
    }
    /* never "." or ".." or a hidden file */
    if (stem[0] == '.')
        stem[0] = '_';
    return stem;
}

/* Writes @text to @path; FALSE with @error. */
static gboolean
fm_run_record_write_text(const char *path, const char *text, GError **error)
{
    g_autoptr(GError) local = NULL;

    if (!g_file_set_contents(path, text, -1, &local)) {
        g_set_error(error, FM_ERROR, FM_ERROR_IO, "%s", local->message);
        return FALSE;
    }
    return TRUE;
}

/* Writes the record's files into @dir. */
gboolean
fm_run_record_write(const FmRunRecord *record, const char *dir, GError **error)
{
    g_autofree char *stem = fm_run_record_file_stem(record->scenario, record->policy);
    g_autofree char *rounds_name = g_strconcat(stem, ".rounds.csv", NULL);
    g_autofree char *heat_name = g_strconcat(stem, ".heat.csv", NULL);
    g_autofree char *rounds_path = g_build_filename(dir, rounds_name, NULL);
    g_autofree char *heat_path = g_build_filename(dir, heat_name, NULL);
    g_autofree char *rounds = fm_run_record_rounds_csv(record);
    g_autofree char *heat = fm_run_record_heat_csv(record);

    if (g_mkdir_with_parents(dir, 0777) < 0) {
        int saved = errno;
        g_set_error(error, FM_ERROR, FM_ERROR_IO, _("cannot create directory '%s': %s"),
                    dir, g_strerror(saved));
        return FALSE;
    }
    if (!fm_run_record_write_text(rounds_path, rounds, error))
        return FALSE;
    return heat == NULL || fm_run_record_write_text(heat_path, heat, error);
}

/* ---- reading ---- */

/* Where the reader is: the file's name for messages and the current line (1-based). */
typedef struct {
    const char *name;
    guint line;
} FmRunRecordPos;

/* Splits one CSV line into fields (RFC 4180 quoting, no line breaks inside quotes).
 * Returns the fields (caller frees), or NULL with @error on an unterminated quote. */
static GPtrArray *
fm_run_record_split(const FmRunRecordPos *pos, const char *line, GError **error)
{
    g_autoptr(GPtrArray) fields = g_ptr_array_new_with_free_func(g_free);
    const char *p = line;

    for (;;) {
        GString *field = g_string_new(NULL);

        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0') {
                    g_string_free(field, TRUE);
                    g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                                _("%s:%u: unterminated quoted field"), pos->name, pos->line);
                    return NULL;
                }
                if (*p == '"' && p[1] == '"') {
                    g_string_append_c(field, '"');
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    g_string_append_c(field, *p++);
                }
            }
        }
        while (*p && *p != ',')
            g_string_append_c(field, *p++);
        g_ptr_array_add(fields, g_string_free(field, FALSE));
        if (*p != ',')
            break;
        p++;
    }
    return g_steal_pointer(&fields);
}

/* Parses an unsigned integer field @what; FALSE with @error. */
static gboolean
fm_run_record_parse_u64(const FmRunRecordPos *pos, const char *what, const char *text,
                        guint64 max, guint64 *out, GError **error)
{
    if (!g_ascii_string_to_unsigned(text, 10, 0, max, out, NULL)) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s:%u: %s: '%s' is not a whole number (0 to %llu)"),
                    pos->name, pos->line, what, text, (unsigned long long)max);
        return FALSE;
    }
    return TRUE;
}

/* Parses a finite, non-negative number field @what; FALSE with @error. */
static gboolean
fm_run_record_parse_double(const FmRunRecordPos *pos, const char *what, const char *text,
                           double *out, GError **error)
{
    char *end = NULL;
    double v = g_ascii_strtod(text, &end);

    if (*text == '\0' || g_ascii_isspace(*text) || end == NULL || *end != '\0' ||
        !isfinite(v) || v < 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s:%u: %s: '%s' is not a non-negative number"),
                    pos->name, pos->line, what, text);
        return FALSE;
    }
    *out = v;
    return TRUE;
}

/* The "# KEY=VALUE" lines read before the header, and where each was. */
typedef struct {
    GHashTable *values;   /* key -> value */
    GHashTable *lines;    /* key -> line number */
    guint header_line;
} FmRunRecordMeta;

/* Returns the metadata value of @key, or NULL. */
static const char *
fm_run_record_meta_get(const FmRunRecordMeta *meta, const char *key)
{
    return g_hash_table_lookup(meta->values, key);
}

/* Returns the metadata string @key, or NULL with @error when it is missing. */
static const char *
fm_run_record_meta_need(const FmRunRecordMeta *meta, const char *name, const char *key,
                        GError **error)
{
    const char *value = fm_run_record_meta_get(meta, key);

    if (value == NULL)
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s:%u: no '# %s=' line before the header"), name, meta->header_line, key);
    return value;
}

/* Reads the metadata number @key into *@out; when @required, its absence is an
 * error, otherwise *@out is left alone.  FALSE with @error. */
static gboolean
fm_run_record_meta_u64(const FmRunRecordMeta *meta, const char *name, const char *key,
                       gboolean required, guint64 max, guint64 *out, GError **error)
{
    const char *value = fm_run_record_meta_get(meta, key);
    FmRunRecordPos pos = { name, 0 };

    if (value == NULL)
        return !required || fm_run_record_meta_need(meta, name, key, error) != NULL;
    pos.line = GPOINTER_TO_UINT(g_hash_table_lookup(meta->lines, key));
    return fm_run_record_parse_u64(&pos, key, value, max, out, error);
}

/* Likewise for a real number. */
static gboolean
fm_run_record_meta_double(const FmRunRecordMeta *meta, const char *name, const char *key,
                          double *out, GError **error)
{
    const char *value = fm_run_record_meta_get(meta, key);
    FmRunRecordPos pos = { name, 0 };

    if (value == NULL)
        return TRUE;
    pos.line = GPOINTER_TO_UINT(g_hash_table_lookup(meta->lines, key));
    return fm_run_record_parse_double(&pos, key, value, out, error);
}

/* Returns a record holding the metadata both files share, or NULL with @error. */
static FmRunRecord *
fm_run_record_from_meta(const FmRunRecordMeta *meta, const char *name, GError **error)
{
    const char *scenario = fm_run_record_meta_need(meta, name, "scenario", error);
    const char *policy = scenario ? fm_run_record_meta_need(meta, name, "policy", error) : NULL;
    g_autoptr(FmRunRecord) record = NULL;
    guint64 fragments = 0, fragment_pages = 0;

    if (policy == NULL)
        return NULL;
    record = fm_run_record_new(scenario, policy);
    if (!fm_run_record_meta_u64(meta, name, "page_size", FALSE, G_MAXUINT32, &record->page_size,
                                error) ||
        !fm_run_record_meta_u64(meta, name, "memory_bytes", FALSE, G_MAXUINT64, &record->memory,
                                error) ||
        !fm_run_record_meta_u64(meta, name, "fragments", FALSE, G_MAXUINT32, &fragments, error) ||
        !fm_run_record_meta_u64(meta, name, "fragment_pages", FALSE, G_MAXUINT32, &fragment_pages,
                                error))
        return NULL;
    record->fragments = fragments;
    record->fragment_pages = fragment_pages;
    return g_steal_pointer(&record);
}

/* Reads the rounds file's body; returns the record or NULL with @error. */
static FmRunRecord *
fm_run_record_read_rounds(const FmRunRecordMeta *meta, const char *name, char **lines,
                          guint first, GError **error)
{
    g_autoptr(FmRunRecord) record = fm_run_record_from_meta(meta, name, error);
    const char *completed;
    guint last = meta->header_line;

    if (record == NULL)
        return NULL;
    /* the remaining-data curve starts from the whole memory at this page size */
    if (!fm_run_record_meta_u64(meta, name, "page_size", TRUE, G_MAXUINT32, &record->page_size,
                                error) ||
        !fm_run_record_meta_u64(meta, name, "memory_bytes", TRUE, G_MAXUINT64, &record->memory,
                                error))
        return NULL;
    if (record->page_size == 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG, _("%s:%u: page_size: must not be 0"),
                    name, GPOINTER_TO_UINT(g_hash_table_lookup(meta->lines, "page_size")));
        return NULL;
    }
    completed = fm_run_record_meta_get(meta, "completed");
    if (fm_run_record_meta_get(meta, "total_time_s")) {
        record->finished = TRUE;
        record->completed = completed && g_str_equal(completed, "yes");
        record->stop_reason = g_strdup(fm_run_record_meta_get(meta, "stop_reason"));
        if (!fm_run_record_meta_double(meta, name, "total_time_s", &record->total_time, error) ||
            !fm_run_record_meta_double(meta, name, "downtime_s", &record->downtime, error) ||
            !fm_run_record_meta_u64(meta, name, "pages_downtime", FALSE, G_MAXUINT64,
                                    &record->pages_downtime, error) ||
            !fm_run_record_meta_u64(meta, name, "data_sent_bytes", FALSE, G_MAXUINT64,
                                    &record->data_sent, error))
            return NULL;
    }

    for (guint i = first; lines[i]; i++) {
        static const char *const cols[] = {
            "round", "start_s", "duration_s", "pages_sent", "dirty_after", "pending_after",
            "fragments_hot", "throttle", "data_sent_bytes_cumulative", "data_remaining_bytes",
        };
        FmRunRecordPos pos = { name, i + 1 };
        g_autoptr(GPtrArray) f = NULL;
        FmRunRecordRound r = { 0 };
        const char *const *v;
        guint64 round, hot, throttle;

        /* the line numbers of errors at the end: the file's last line */
        if (lines[i][0] != '\0' || lines[i + 1] != NULL)
            last = i + 1;
        if (lines[i][0] == '\0' || lines[i][0] == '#')
            continue;
        f = fm_run_record_split(&pos, lines[i], error);
        if (f == NULL)
            return NULL;
        if (f->len != G_N_ELEMENTS(cols)) {
            g_set_error(error, FM_ERROR, FM_ERROR_CONFIG, _("%s:%u: expected %u fields, found %u"),
                        name, pos.line, (guint)G_N_ELEMENTS(cols), f->len);
            return NULL;
        }
        v = (const char *const *)f->pdata;
        if (!fm_run_record_parse_u64(&pos, cols[0], v[0], G_MAXUINT32, &round, error) ||
            !fm_run_record_parse_double(&pos, cols[1], v[1], &r.base.start, error) ||
            !fm_run_record_parse_double(&pos, cols[2], v[2], &r.base.duration, error) ||
            !fm_run_record_parse_u64(&pos, cols[3], v[3], G_MAXUINT64, &r.base.pages_sent, error) ||
            !fm_run_record_parse_u64(&pos, cols[4], v[4], G_MAXUINT64, &r.base.dirty_after, error) ||
            !fm_run_record_parse_u64(&pos, cols[5], v[5], G_MAXUINT64, &r.base.pending_after, error) ||
            !fm_run_record_parse_u64(&pos, cols[6], v[6], G_MAXUINT32, &hot, error) ||
            !fm_run_record_parse_u64(&pos, cols[7], v[7], 100, &throttle, error) ||
            !fm_run_record_parse_u64(&pos, cols[8], v[8], G_MAXUINT64, &r.data_sent, error) ||
            !fm_run_record_parse_u64(&pos, cols[9], v[9], G_MAXUINT64, &r.data_remaining, error))
            return NULL;
        if (round != record->rounds->len) {
            g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                        _("%s:%u: round %s out of order (expected %u)"),
                        name, pos.line, v[0], record->rounds->len);
            return NULL;
        }
        r.base.round = round;
        r.base.fragments_hot = hot;
        r.base.throttle = throttle;
        g_array_append_val(record->rounds, r);
    }
    if (record->rounds->len == 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG, _("%s:%u: no rounds after the header"),
                    name, last);
        return NULL;
    }
    return g_steal_pointer(&record);
}

/* Reads the heat file's body; returns the record or NULL with @error. */
static FmRunRecord *
fm_run_record_read_heat(const FmRunRecordMeta *meta, const char *name, char **lines, guint first,
                        GError **error)
{
    g_autoptr(FmRunRecord) record = fm_run_record_from_meta(meta, name, error);
    guint64 per = 0, fragments = 0, columns;
    guint row = 0, col = 0, last = meta->header_line;

    if (record == NULL ||
        !fm_run_record_meta_u64(meta, name, "fragments", TRUE, G_MAXUINT32, &fragments, error) ||
        !fm_run_record_meta_u64(meta, name, "fragments_per_column", TRUE, G_MAXUINT32, &per, error))
        return NULL;
    if (record->fragments == 0 || per == 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s:%u: fragments and fragments_per_column must not be 0"),
                    name, meta->header_line);
        return NULL;
    }
    columns = (record->fragments + per - 1) / per;
    if (columns > FM_RUN_RECORD_MAX_COLUMNS) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s:%u: %llu columns of fragments (at most %u)"),
                    name, meta->header_line, (unsigned long long)columns,
                    (guint)FM_RUN_RECORD_MAX_COLUMNS);
        return NULL;
    }
    record->heat_columns = columns;
    record->heat_per_column = per;

    for (guint i = first; lines[i]; i++) {
        FmRunRecordPos pos = { name, i + 1 };
        g_autoptr(GPtrArray) f = NULL;
        guint64 round, column, hot;
        double dirty;
        float dirty_f;
        guint8 hot_b;

        /* the line numbers of errors at the end: the file's last line */
        if (lines[i][0] != '\0' || lines[i + 1] != NULL)
            last = i + 1;
        if (lines[i][0] == '\0' || lines[i][0] == '#')
            continue;
        f = fm_run_record_split(&pos, lines[i], error);
        if (f == NULL)
            return NULL;
        if (f->len != 4) {
            g_set_error(error, FM_ERROR, FM_ERROR_CONFIG, _("%s:%u: expected %u fields, found %u"),
                        name, pos.line, 4, f->len);
            return NULL;
        }
        if (!fm_run_record_parse_u64(&pos, "round", f->pdata[0], G_MAXUINT32, &round, error) ||
            !fm_run_record_parse_u64(&pos, "column", f->pdata[1], G_MAXUINT32, &column, error) ||
            !fm_run_record_parse_double(&pos, "dirty_fraction", f->pdata[2], &dirty, error) ||
            !fm_run_record_parse_u64(&pos, "hot", f->pdata[3], 1, &hot, error))
            return NULL;
        if (round != row || column != col) {
            g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                        _("%s:%u: expected round %u column %u, found round %s column %s"),
                        name, pos.line, row, col, (const char *)f->pdata[0],
                        (const char *)f->pdata[1]);
            return NULL;
        }
        if (dirty > 1) {
            g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                        _("%s:%u: dirty_fraction: '%s' is more than 1"),
                        name, pos.line, (const char *)f->pdata[2]);
            return NULL;
        }
        dirty_f = dirty;
        hot_b = hot;
        g_array_append_val(record->heat_dirty, dirty_f);
        g_array_append_val(record->heat_hot, hot_b);
        if (++col == columns) {
            col = 0;
            row++;
        }
    }
    if (col != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s:%u: round %u ends after %u of %u columns"),
                    name, last, row, col, (guint)columns);
        return NULL;
    }
    if (row == 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG, _("%s:%u: no rounds after the header"),
                    name, last);
        return NULL;
    }
    return g_steal_pointer(&record);
}

/* Frees a suite; NULL ok. */
static void
fm_suite_free(FmSuite *suite)
{
    if (suite == NULL)
        return;
    for (guint i = 0; i < suite->rows->len; i++) {
        FmSuiteRow *row = &g_array_index(suite->rows, FmSuiteRow, i);
        g_free(row->scenario);
        g_free(row->policy);
    }
    g_array_unref(suite->rows);
    g_free(suite->name);
    g_free(suite);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FmSuite, fm_suite_free)

/* Returns @name's base name without ".csv" (caller frees). */
static char *
fm_run_record_suite_name(const char *name)
{
    char *base = g_path_get_basename(name);

    if (g_str_has_suffix(base, ".csv") && strlen(base) > 4)
        base[strlen(base) - 4] = '\0';
    return base;
}

/* Reads a suite CSV (fm-report.h columns) whose header, on line @header_line, has
 * the fields @header; returns the suite or NULL with @error. */
static FmSuite *
fm_run_record_read_suite(const char *name, GPtrArray *header, guint header_line, char **lines,
                         guint first, GError **error)
{
    static const char *const needed[] = {
        "scenario", "policy", "total_time_s", "downtime_ms", "data_sent_mib",
    };
    guint idx[G_N_ELEMENTS(needed)];
    g_autoptr(FmSuite) suite = g_new0(FmSuite, 1);
    guint last = header_line;

    suite->name = fm_run_record_suite_name(name);
    suite->rows = g_array_new(FALSE, TRUE, sizeof(FmSuiteRow));
    for (guint k = 0; k < G_N_ELEMENTS(needed); k++) {
        guint j;

        for (j = 0; j < header->len && !g_str_equal(header->pdata[j], needed[k]); j++)
            ;
        if (j == header->len) {
            g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                        _("%s:%u: the header lacks the column '%s'"), name, header_line,
                        needed[k]);
            return NULL;
        }
        idx[k] = j;
    }

    for (guint i = first; lines[i]; i++) {
        FmRunRecordPos pos = { name, i + 1 };
        g_autoptr(GPtrArray) f = NULL;
        FmSuiteRow row = { 0 };
        double time, downtime_ms, data_mib;

        /* the line numbers of errors at the end: the file's last line */
        if (lines[i][0] != '\0' || lines[i + 1] != NULL)
            last = i + 1;
        if (lines[i][0] == '\0' || lines[i][0] == '#')
            continue;
        f = fm_run_record_split(&pos, lines[i], error);
        if (f == NULL)
            return NULL;
        if (f->len != header->len) {
            g_set_error(error, FM_ERROR, FM_ERROR_CONFIG, _("%s:%u: expected %u fields, found %u"),
                        name, pos.line, header->len, f->len);
            return NULL;
        }
        if (!fm_run_record_parse_double(&pos, needed[2], f->pdata[idx[2]], &time, error) ||
            !fm_run_record_parse_double(&pos, needed[3], f->pdata[idx[3]], &downtime_ms, error) ||
            !fm_run_record_parse_double(&pos, needed[4], f->pdata[idx[4]], &data_mib, error))
            return NULL;
        if (!*(const char *)f->pdata[idx[0]] || !*(const char *)f->pdata[idx[1]]) {
            g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                        _("%s:%u: empty scenario or policy"), name, pos.line);
            return NULL;
        }
        row.scenario = g_strdup(f->pdata[idx[0]]);
        row.policy = g_strdup(f->pdata[idx[1]]);
        row.total_time = time;
        row.downtime = downtime_ms / 1000;
        row.data_sent = data_mib * 1048576.0;
        g_array_append_val(suite->rows, row);
    }
    if (suite->rows->len == 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG, _("%s:%u: no rows after the header"),
                    name, last);
        return NULL;
    }
    return g_steal_pointer(&suite);
}

/* Returns a new empty set. */
FmRunRecordSet *
fm_run_record_set_new(void)
{
    FmRunRecordSet *set = g_new0(FmRunRecordSet, 1);

    set->runs = g_ptr_array_new_with_free_func((GDestroyNotify)fm_run_record_free);
    set->suites = g_ptr_array_new_with_free_func((GDestroyNotify)fm_suite_free);
    return set;
}

/* Frees @set and everything read; NULL ok. */
void
fm_run_record_set_free(FmRunRecordSet *set)
{
    if (set == NULL)
        return;
    g_ptr_array_unref(set->runs);
    g_ptr_array_unref(set->suites);
    g_free(set);
}

/* Returns the run of @scenario under @policy in @set, or NULL. */
static FmRunRecord *
fm_run_record_set_find(const FmRunRecordSet *set, const char *scenario, const char *policy)
{
    for (guint i = 0; i < set->runs->len; i++) {
        FmRunRecord *r = set->runs->pdata[i];
        if (g_str_equal(r->scenario, scenario) && g_str_equal(r->policy, policy))
            return r;
    }
    return NULL;
}

/* Merges the freshly read @record (rounds or heat, per @heat) into @set, taking it
 * over.  FALSE with @error when @set already has that part of that run. */
static gboolean
fm_run_record_set_merge(FmRunRecordSet *set, const char *name, FmRunRecord *record, gboolean heat,
                        GError **error)
{
    g_autoptr(FmRunRecord) owned = record;
    FmRunRecord *old = fm_run_record_set_find(set, record->scenario, record->policy);

    if (old == NULL) {
        g_ptr_array_add(set->runs, g_steal_pointer(&owned));
        return TRUE;
    }
    if (heat ? old->heat_columns != 0 : old->rounds->len != 0) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                    _("%s: a second record of %s under %s"), name, record->scenario,
                    record->policy);
        return FALSE;
    }
    if (heat) {
        old->heat_columns = record->heat_columns;
        old->heat_per_column = record->heat_per_column;
        old->fragments = record->fragments;
        old->fragment_pages = record->fragment_pages;
        g_array_unref(old->heat_dirty);
        g_array_unref(old->heat_hot);
        old->heat_dirty = g_array_ref(record->heat_dirty);
        old->heat_hot = g_array_ref(record->heat_hot);
    } else {
        /* the rounds file carries everything the heat file does, and the end */
        record->heat_columns = old->heat_columns;
        record->heat_per_column = old->heat_per_column;
        g_array_unref(record->heat_dirty);
        g_array_unref(record->heat_hot);
        record->heat_dirty = g_array_ref(old->heat_dirty);
        record->heat_hot = g_array_ref(old->heat_hot);
        for (guint i = 0; i < set->runs->len; i++) {
            if (set->runs->pdata[i] == old)
                set->runs->pdata[i] = g_steal_pointer(&owned);
        }
        fm_run_record_free(old);
    }
    return TRUE;
}

/* Reads @text into @set; see fm-run-record.h. */
gboolean
fm_run_record_set_load_data(FmRunRecordSet *set, const char *name, const char *text, GError **error)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    FmRunRecordMeta meta = { 0 };
    g_autoptr(GHashTable) values = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GHashTable) where = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GPtrArray) header = NULL;
    g_autofree char *quoted = NULL;
    FmRunRecordPos pos = { name, 0 };
    guint i;

    meta.values = values;
    meta.lines = where;
    for (i = 0; lines[i]; i++) {
        char *line = lines[i];
        size_t len = strlen(line);

        if (len && line[len - 1] == '\r')
            line[len - 1] = '\0';
    }
    for (i = 0; lines[i]; i++) {
        const char *line = lines[i], *eq;

        if (line[0] == '\0')
            continue;
        if (line[0] != '#')
            break;
        /* "# key=value": metadata; any other comment is for people */
        eq = strchr(line, '=');
        if (g_str_has_prefix(line, "# ") && eq) {
            g_autofree char *key = g_strndup(line + 2, eq - line - 2);
            gboolean ok = *key != '\0';

            for (const char *k = key; *k; k++)
                ok = ok && (g_ascii_islower(*k) || *k == '_');
            if (ok) {
                g_hash_table_insert(values, g_strdup(key), g_strdup(eq + 1));
                g_hash_table_insert(where, g_strdup(key), GUINT_TO_POINTER(i + 1));
            }
        }
    }
    if (lines[i] == NULL) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG, _("%s: no header line (empty file?)"), name);
        return FALSE;
    }
    meta.header_line = pos.line = i + 1;

    if (g_str_equal(lines[i], FM_RUN_RECORD_ROUNDS_HEADER)) {
        FmRunRecord *record = fm_run_record_read_rounds(&meta, name, lines, i + 1, error);
        return record && fm_run_record_set_merge(set, name, record, FALSE, error);
    }
    if (g_str_equal(lines[i], FM_RUN_RECORD_HEAT_HEADER)) {
        FmRunRecord *record = fm_run_record_read_heat(&meta, name, lines, i + 1, error);
        return record && fm_run_record_set_merge(set, name, record, TRUE, error);
    }
    header = fm_run_record_split(&pos, lines[i], error);
    if (header == NULL)
        return FALSE;
    if (header->len >= 2 && g_str_equal(header->pdata[0], "scenario") &&
        g_str_equal(header->pdata[1], "policy")) {
        FmSuite *suite = fm_run_record_read_suite(name, header, i + 1, lines, i + 1, error);
        if (suite == NULL)
            return FALSE;
        g_ptr_array_add(set->suites, suite);
        return TRUE;
    }
    quoted = fm_quote(lines[i], -1);
    g_set_error(error, FM_ERROR, FM_ERROR_CONFIG,
                _("%s:%u: not a rounds, heat or suite CSV (unknown header %s)"),
                name, i + 1, quoted);
    return FALSE;
}

/* Reads the file @path into @set. */
gboolean
fm_run_record_set_load_file(FmRunRecordSet *set, const char *path, GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;
    gsize len;

    /* regular files only: a FIFO would block for ever */
    if (!fm_file_get_contents(path, FM_RUN_RECORD_MAX_FILE, &text, &len, &local)) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    if (memchr(text, '\0', len)) {
        g_set_error(error, FM_ERROR, FM_ERROR_CONFIG, _("%s: not a text file"), path);
        return FALSE;
    }
    return fm_run_record_set_load_data(set, path, text, error);
}

/* Returns the number of runs. */
guint
fm_run_record_set_n_runs(const FmRunRecordSet *set)
{
    return set->runs->len;
}

/* Returns run @i (borrowed). */
FmRunRecord *
fm_run_record_set_get_run(const FmRunRecordSet *set, guint i)
{
    g_return_val_if_fail(i < set->runs->len, NULL);
    return set->runs->pdata[i];
}

/* Returns the number of suites. */
guint
fm_run_record_set_n_suites(const FmRunRecordSet *set)
{
    return set->suites->len;
}

/* Returns suite @i (borrowed). */
FmSuite *
fm_run_record_set_get_suite(const FmRunRecordSet *set, guint i)
{
    g_return_val_if_fail(i < set->suites->len, NULL);
    return set->suites->pdata[i];
}
