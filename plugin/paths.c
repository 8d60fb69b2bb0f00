/* paths.c — finding the model weights and presets (order in paths.h). */
#include <string.h>
#include "paths.h"
#include "error.h"

gchar *paths_exe_dir(void)
{
    gchar *exe = g_file_read_link("/proc/self/exe", NULL);
    if (!exe) return NULL;
    gchar *dir = g_path_get_dirname(exe);
    g_free(exe);
    return dir;
}

/* Adds path to the tried list; returns TRUE if it is a regular file. */
static gboolean try_path(GString *tried, const char *path)
{
    if (tried->len) g_string_append(tried, ", ");
    g_string_append(tried, path);
    return g_file_test(path, G_FILE_TEST_IS_REGULAR);
}

gchar *paths_find_preset_file(const char *name, const char *option, const char *env_var,
                              GError **err)
{
    if (option) {
        if (g_file_test(option, G_FILE_TEST_IS_REGULAR)) return g_strdup(option);
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: no such file", option);
        return NULL;
    }
    const char *env = env_var ? g_getenv(env_var) : NULL;
    if (env && *env) {
        if (g_file_test(env, G_FILE_TEST_IS_REGULAR)) return g_strdup(env);
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: no such file (from $%s)", env, env_var);
        return NULL;
    }

    GString *tried = g_string_new(NULL);
    gchar *found = NULL;
    gchar *exe_dir = paths_exe_dir();
    gchar *cands[3] = {NULL, NULL, NULL};
    int nc = 0;
    if (exe_dir) {
        cands[nc++] = g_build_filename(exe_dir, "..", "..", "presets", name, NULL);
        cands[nc++] = g_build_filename(exe_dir, "..", "share", "continuo", "presets", name, NULL);
    }
    cands[nc++] = g_build_filename(CONTINUO_PREFIX, "share", "continuo", "presets", name, NULL);
    for (int i = 0; i < nc && !found; i++) {
        /* canonical form for a readable message ("build/bin/../../x" -> "x") */
        gchar *canon = g_canonicalize_filename(cands[i], NULL);
        if (try_path(tried, canon)) found = g_steal_pointer(&canon);
        g_free(canon);
    }
    for (int i = 0; i < nc; i++) g_free(cands[i]);
    g_free(exe_dir);
    if (!found)
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s not found (tried %s%s%s)", name, tried->str,
                    env_var ? "; set $" : "", env_var ? env_var : "");
    g_string_free(tried, TRUE);
    return found;
}

gchar *paths_find_model(const char *option, GError **err)
{
    return paths_find_preset_file(CONTINUO_DEFAULT_MODEL, option, CONTINUO_MODEL_ENV, err);
}

gchar *paths_find_preset(const char *name, GError **err)
{
    if (strchr(name, '/') || g_str_has_suffix(name, ".ini"))
        return paths_find_preset_file(name, name, NULL, err);
    gchar *file = g_strconcat(name, ".ini", NULL);
    gchar *path = paths_find_preset_file(file, NULL, NULL, err);
    g_free(file);
    return path;
}
