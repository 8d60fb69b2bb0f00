/* test_paths.c — plugin/paths.c, the one search: the look-up order for the
 * model, the presets and a SoundFont (option, then environment, then the
 * LV2 bundle, then the tree of the executable or bundle), and the one-line
 * errors. The test binary lives in build/tests, so the
 * executable-relative rule (../../presets) reaches the repository's
 * presets/ folder, which the test checks against a path it builds itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "error.h"
#include "paths.h"

static void check_one_line(const GError *err, const char *needle)
{
    assert_non_null(err);
    assert_true(err->domain == CN_ERROR);
    assert_null(strchr(err->message, '\n'));
    if (!strstr(err->message, needle)) fail_msg("'%s' lacks '%s'", err->message, needle);
}

/* The repository's presets folder, computed from the source tree rather
 * than from the executable: cwd is the repository root under `make test`;
 * else skip. */
static gchar *repo_presets(void)
{
    gchar *cwd = g_get_current_dir();
    gchar *p = g_build_filename(cwd, "presets", NULL);
    g_free(cwd);
    return p;
}

static void test_option_and_env(void **state)
{
    (void)state;
    gchar *dir = g_dir_make_tmp("test_paths_XXXXXX", NULL);
    gchar *a = g_build_filename(dir, "a.bin", NULL), *b = g_build_filename(dir, "b.bin", NULL);
    g_file_set_contents(a, "x", 1, NULL);
    g_file_set_contents(b, "y", 1, NULL);
    GError *err = NULL;
    gchar *saved = g_strdup(g_getenv(CONTINUO_MODEL_ENV));

    g_setenv(CONTINUO_MODEL_ENV, b, TRUE);
    gchar *got = paths_find_model(a, &err); /* the option wins */
    assert_string_equal(got, a);
    g_free(got);
    got = paths_find_model(NULL, &err); /* then the environment */
    assert_string_equal(got, b);
    g_free(got);

    gchar *missing = g_build_filename(dir, "missing.bin", NULL);
    assert_null(paths_find_model(missing, &err)); /* an option that does not exist: no fallback */
    check_one_line(err, missing);
    g_clear_error(&err);
    g_setenv(CONTINUO_MODEL_ENV, missing, TRUE);
    assert_null(paths_find_model(NULL, &err));
    check_one_line(err, CONTINUO_MODEL_ENV);
    g_clear_error(&err);

    if (saved) g_setenv(CONTINUO_MODEL_ENV, saved, TRUE);
    else g_unsetenv(CONTINUO_MODEL_ENV);
    g_unlink(a);
    g_unlink(b);
    g_rmdir(dir);
    g_free(saved);
    g_free(missing);
    g_free(a);
    g_free(b);
    g_free(dir);
}

static void test_exe_relative(void **state)
{
    (void)state;
    gchar *presets = repo_presets();
    gchar *duet = g_build_filename(presets, "duet.ini", NULL);
    gchar *exe_dir = paths_exe_dir();
    assert_non_null(exe_dir);
    if (!g_file_test(duet, G_FILE_TEST_IS_REGULAR) || !g_str_has_suffix(exe_dir, "/tests")) {
        g_free(presets); g_free(duet); g_free(exe_dir);
        skip(); /* not run from the repository root with the build tree inside it */
    }
    GError *err = NULL;
    gchar *got = paths_find_preset("duet", &err);
    if (!got) fail_msg("%s", err->message);
    /* build/tests/../../presets/duet.ini is the repository's */
    gchar *want = g_canonicalize_filename(duet, NULL);
    assert_string_equal(got, want);
    g_free(got);
    /* a path is taken as it is */
    got = paths_find_preset(duet, &err);
    assert_string_equal(got, duet);
    g_free(got);
    /* an unknown name lists what was tried */
    assert_null(paths_find_preset("no-such-preset", &err));
    check_one_line(err, "no-such-preset.ini not found (tried ");
    assert_non_null(strstr(err->message, presets));
    g_clear_error(&err);
    g_free(want);
    g_free(presets);
    g_free(duet);
    g_free(exe_dir);
}

static void check_code(const GError *err, int code, const char *needle)
{
    check_one_line(err, needle);
    assert_int_equal(err->code, code);
}

/* The SoundFont: option, then $CONTINUO_SOUNDFONT, then the standard places. */
static void test_find_errors(void **state)
{
    (void)state;
    GError *err = NULL;
    assert_null(paths_find_soundfont("/nonexistent/piano.sf2", &err));
    check_code(err, CN_ERR_SYNTH, "/nonexistent/piano.sf2");
    g_clear_error(&err);

    gchar *saved = g_strdup(g_getenv(CONTINUO_SOUNDFONT_ENV));
    g_setenv(CONTINUO_SOUNDFONT_ENV, "/nonexistent/env.sf2", TRUE);
    assert_null(paths_find_soundfont(NULL, &err));
    check_code(err, CN_ERR_SYNTH, "/nonexistent/env.sf2");
    g_clear_error(&err);
    /* an explicit option wins over the environment */
    gchar *self = g_file_read_link("/proc/self/exe", NULL);
    gchar *got = paths_find_soundfont(self, &err);
    assert_string_equal(got, self);
    g_free(got);
    g_free(self);

    /* a folder given where a file belongs says so (not "no such file") */
    gchar *dir = g_dir_make_tmp("cn-paths-XXXXXX", NULL);
    gchar *slash = g_strconcat(dir, "/", NULL);
    assert_null(paths_find_preset(slash, &err));
    assert_non_null(strstr(err->message, "a folder, not a file"));
    g_clear_error(&err);
    assert_null(paths_find_model(dir, &err));
    assert_non_null(strstr(err->message, "a folder, not a file"));
    g_clear_error(&err);
    g_rmdir(dir);
    g_free(slash);
    g_free(dir);

    g_unsetenv(CONTINUO_SOUNDFONT_ENV);
    got = paths_find_soundfont(NULL, &err);
    if (got) assert_true(g_file_test(got, G_FILE_TEST_IS_REGULAR));
    else check_code(err, CN_ERR_SYNTH, "fluid-soundfont-gm");
    g_clear_error(&err);
    g_free(got);
    if (saved) g_setenv(CONTINUO_SOUNDFONT_ENV, saved, TRUE);
    g_free(saved);
}

static void put(const char *path)
{
    gchar *dir = g_path_get_dirname(path);
    g_mkdir_with_parents(dir, 0755);
    assert_true(g_file_set_contents(path, "x", 1, NULL));
    g_free(dir);
}

/* The one order for a preset, as the LV2 plugin asks (with a bundle):
 * $CONTINUO_PRESETS, the bundle, the bundle's presets/, the build tree's
 * repository presets/, the installed share/continuo/presets. Every place
 * holds the file; each round removes the winner, and the next must win. The
 * expected paths are built here from the layout, not by paths.c. */
static void test_preset_order(void **state)
{
    (void)state;
    gchar *root = g_dir_make_tmp("test_paths_order_XXXXXX", NULL);
    gchar *bundle = g_build_filename(root, "prefix", "lib", "lv2", "continuo.lv2", NULL);
    const char *name = "zz-order-test";
    gchar *file = g_strconcat(name, ".ini", NULL);
    gchar *want[] = {
        g_build_filename(root, "env", file, NULL),
        g_build_filename(bundle, file, NULL),
        g_build_filename(bundle, "presets", file, NULL),
        g_build_filename(root, "presets", file, NULL), /* prefix/.. = the "repository" */
        g_build_filename(root, "prefix", "share", "continuo", "presets", file, NULL),
    };
    const int n = G_N_ELEMENTS(want);
    for (int i = 0; i < n; i++) put(want[i]);
    gchar *saved = g_strdup(g_getenv(CONTINUO_PRESETS_ENV));
    gchar *env = g_build_filename(root, "env", NULL);
    g_setenv(CONTINUO_PRESETS_ENV, env, TRUE);
    GError *err = NULL;
    for (int i = 0; i < n; i++) {
        gchar *got = paths_find(PATHS_PRESET, name, NULL, bundle, &err);
        if (!got) fail_msg("round %d: %s", i, err->message);
        assert_string_equal(got, want[i]);
        g_free(got);
        g_unlink(want[i]);
    }
    /* none left: one line naming every place, the environment's first */
    assert_null(paths_find(PATHS_PRESET, name, NULL, bundle, &err));
    check_code(err, CN_ERR_IO, want[0]);
    for (int i = 1; i < n; i++) assert_non_null(strstr(err->message, want[i]));
    assert_true(strstr(err->message, want[0]) < strstr(err->message, want[n - 1]));
    g_clear_error(&err);
    /* the model: the same tree places, without $CONTINUO_PRESETS */
    gchar *saved_model = g_strdup(g_getenv(CONTINUO_MODEL_ENV));
    g_unsetenv(CONTINUO_MODEL_ENV);
    gchar *model = g_build_filename(root, "presets", CONTINUO_DEFAULT_MODEL, NULL);
    put(model);
    gchar *got = paths_find(PATHS_MODEL, NULL, NULL, bundle, &err);
    assert_string_equal(got, model);
    g_free(got);
    g_unlink(model);

    if (saved) g_setenv(CONTINUO_PRESETS_ENV, saved, TRUE);
    else g_unsetenv(CONTINUO_PRESETS_ENV);
    if (saved_model) g_setenv(CONTINUO_MODEL_ENV, saved_model, TRUE);
    gchar *rm = g_strdup_printf("rm -rf '%s'", root);
    assert_int_equal(system(rm), 0);
    g_free(rm);
    for (int i = 0; i < n; i++) g_free(want[i]);
    g_free(saved);
    g_free(saved_model);
    g_free(model);
    g_free(env);
    g_free(file);
    g_free(bundle);
    g_free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_option_and_env),
        cmocka_unit_test(test_exe_relative),
        cmocka_unit_test(test_find_errors),
        cmocka_unit_test(test_preset_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
