/*
 * digest.c: benchmark of the whole-memory digest (src/util/fm-digest.h) against
 * SHA-256 from GLib (GChecksum) and from GnuTLS, the candidates for the DIGEST
 * record: the source computes it while the guest is paused, so its rate adds
 * directly to the downtime (1 GiB at R GiB/s adds 1/R s).
 *
 * The methods run interleaved, RUNS rounds of each over the same SIZE bytes of
 * pattern memory (touched beforehand, so no page faults are timed); per method it
 * prints the median rate and the spread (lowest and highest), and the ratio of
 * each median to fm_digest's, measured in the same run.
 *
 * Usage: digest [SIZE [RUNS]]   (defaults: 256M 5)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#ifdef WITH_TLS
#include <gnutls/crypto.h>
#endif

#include "util/fm-digest.h"
#include "util/fm-units.h"

typedef struct {
    const char *name;
    void (*run)(const guint8 *data, gsize len);
    double *secs;
} Method;

static void
run_fm_digest(const guint8 *data, gsize len)
{
    guint8 out[FM_DIGEST_SIZE];

    fm_digest_compute(data, len, out);
}

static void
run_glib_sha256(const guint8 *data, gsize len)
{
    g_autoptr(GChecksum) sha = g_checksum_new(G_CHECKSUM_SHA256);

    g_checksum_update(sha, data, len);
    (void) g_checksum_get_string(sha);
}

#ifdef WITH_TLS
static void
run_gnutls_sha256(const guint8 *data, gsize len)
{
    guint8 out[32];

    gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, out);
}
#endif

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    guint64 size = 256ull << 20;
    guint runs = 5;
    g_autoptr(GError) error = NULL;
    g_autofree guint8 *data = NULL;
    Method methods[] = {
        { "fm_digest", run_fm_digest, NULL },
        { "glib-sha256", run_glib_sha256, NULL },
#ifdef WITH_TLS
        { "gnutls-sha256", run_gnutls_sha256, NULL },
#endif
    };
    double base = 0;

    if (argc > 1 && !fm_units_parse_size(argv[1], &size, &error)) {
        fprintf(stderr, "digest: %s\n", error->message);
        return 2;
    }
    if (argc > 2)
        runs = (guint) MAX(1, atoi(argv[2]));
    data = g_malloc(size);
    for (gsize i = 0; i < size; i++)
        data[i] = (guint8) (i * 31 + 7);
    for (guint m = 0; m < G_N_ELEMENTS(methods); m++)
        methods[m].secs = g_new0(double, runs);

    for (guint r = 0; r < runs; r++) {
        for (guint m = 0; m < G_N_ELEMENTS(methods); m++) {
            gint64 t0 = g_get_monotonic_time();

            methods[m].run(data, size);
            methods[m].secs[r] = (g_get_monotonic_time() - t0) / 1e6;
        }
    }

    printf("%-14s %10s %10s %10s %8s   (%" G_GUINT64_FORMAT " MiB, %u runs)\n",
           "method", "median", "lowest", "highest", "ratio", size >> 20, runs);
    for (guint m = 0; m < G_N_ELEMENTS(methods); m++) {
        double *s = methods[m].secs;
        double gib = size / (double)(1ull << 30), med;

        qsort(s, runs, sizeof(*s), cmp_double);
        med = gib / s[runs / 2];
        if (m == 0)
            base = med;
        printf("%-14s %7.2f GiB/s %6.2f GiB/s %6.2f GiB/s %7.3f\n", methods[m].name, med,
               gib / s[runs - 1], gib / s[0], med / base);
        g_free(s);
    }
    return 0;
}
