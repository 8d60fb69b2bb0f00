/* test_paths.c — plugin/paths.c: the look-up order for the model and the
 * presets (option, then environment, then next to the executable), and the
 * one-line errors. The test binary lives in build/tests, so the
 * executable-relative rule (../../presets) reaches the repository's
 * presets/ folder, which the test checks against a path it builds itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_option_and_env),
        cmocka_unit_test(test_exe_relative),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
