/*
 * fuzz-replay.c: runs one fuzz harness (linked in, built without libFuzzer) over
 * files, as a GTest program: one test case per file.  With no argument it replays
 * the target's seed corpus (tests/fuzz/corpus/TARGET/) and its regression inputs
 * (tests/data/fuzz/TARGET/: every crash or hang a fuzzer found), and the module
 * tests' hostile files the target reads (the .fmstream files of tests/data/streams,
 * the .xml files of tests/data), found from $FM_TEST_DATA; with arguments, the
 * files and directories given (to reproduce a fuzzer's finding under gdb or
 * valgrind without clang; FM_FUZZ_VERBOSE=1 prints each verdict).  The harness aborts on a
 * broken promise; the sanitizers of the build catch the rest.
 *
 * FM_FUZZ_TARGET (a string) is the target's name, set by the build.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <config.h>

#include "tests/fuzz/fm-fuzz.h"

#include <string.h>

#ifndef FM_FUZZ_TARGET
#error "FM_FUZZ_TARGET must name the harness"
#endif

/* Runs the harness over the file @data (a path). */
static void
replay_file(gconstpointer data)
{
    const char *path = data;
    g_autofree char *contents = NULL;
    g_autoptr(GError) error = NULL;
    gsize len;

    g_assert_true(g_file_get_contents(path, &contents, &len, &error));
    g_assert_no_error(error);
    g_assert_cmpint(LLVMFuzzerTestOneInput((const uint8_t *)contents, len), ==, 0);
}

/* Orders file names (GPtrArray elements: pointers to strings). */
static gint
replay_compare(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The module tests' input files each target also replays: a directory under
 * $FM_TEST_DATA and the suffix of the files to take. */
static const struct {
    const char *target;
    const char *dir;
    const char *suffix;
} replay_extras[] = {
    { "stream", "streams", ".fmstream" },
    { "receiver", "streams", ".fmstream" },
    { "scenario", "", ".xml" },
};

/* Adds a test for @path, or for each regular file of the directory @path whose
 * name ends with @suffix (NULL: any; sorted, so that test numbers are stable).
 * Returns the number added. */
static guint
replay_add(const char *path, gboolean must_exist, const char *suffix)
{
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GPtrArray) names = NULL;
    g_autofree char *base = NULL;
    const char *name;

    if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
        if (!must_exist && !g_file_test(path, G_FILE_TEST_EXISTS))
            return 0;
        g_autofree char *test = g_strdup_printf("/fuzz-" FM_FUZZ_TARGET "/%s", path);

        g_test_add_data_func_full(test, g_strdup(path), replay_file, g_free);
        return 1;
    }
    dir = g_dir_open(path, 0, NULL);
    if (dir == NULL)
        return 0;
    names = g_ptr_array_new_with_free_func(g_free);
    while ((name = g_dir_read_name(dir)) != NULL) {
        g_autofree char *file = g_build_filename(path, name, NULL);

        if (name[0] == '.' || strcmp(name, "README.md") == 0 ||
            !g_file_test(file, G_FILE_TEST_IS_REGULAR) ||
            (suffix && !g_str_has_suffix(name, suffix)))
            continue;
        g_ptr_array_add(names, g_strdup(name));
    }
    g_ptr_array_sort(names, replay_compare);
    base = g_path_get_basename(path);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *file = g_build_filename(path, names->pdata[i], NULL);
        g_autofree char *test = g_strdup_printf("/fuzz-" FM_FUZZ_TARGET "/%s/%s", base,
                                                (char *)names->pdata[i]);

        g_test_add_data_func_full(test, g_strdup(file), replay_file, g_free);
    }
    return names->len;
}

int
main(int argc, char **argv)
{
    guint n = 0;

    g_test_init(&argc, &argv, NULL);
    fm_fuzz_init();
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            n += replay_add(argv[i], TRUE, NULL);
    } else {
        const char *data = g_getenv("FM_TEST_DATA");
        g_autofree char *top = NULL;
        g_autofree char *corpus = NULL;
        g_autofree char *regress = NULL;

        if (data == NULL) {
            g_printerr("FM_TEST_DATA is not set (make check sets it)\n");
            return 1;
        }
        top = g_path_get_dirname(data);
        corpus = g_build_filename(top, "fuzz", "corpus", FM_FUZZ_TARGET, NULL);
        regress = g_build_filename(data, "fuzz", FM_FUZZ_TARGET, NULL);
        n += replay_add(corpus, TRUE, NULL);
        n += replay_add(regress, FALSE, NULL);
        for (gsize i = 0; i < G_N_ELEMENTS(replay_extras); i++) {
            g_autofree char *dir = NULL;

            if (strcmp(replay_extras[i].target, FM_FUZZ_TARGET) != 0)
                continue;
            dir = g_build_filename(data, replay_extras[i].dir, NULL);
            n += replay_add(dir, TRUE, replay_extras[i].suffix);
        }
        if (n == 0) {
            g_printerr("no input in %s\n", corpus);
            return 1;
        }
    }
    return g_test_run();
}
