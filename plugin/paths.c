/* paths.c — the one search for the model, presets and SoundFonts (order in
 * paths.h). */
#include <string.h>
#include "error.h"
#include "paths.h"

static const char *const soundfont_paths[] = {
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf3/default-GM.sf3",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
};

gchar *paths_exe_dir(void)
{
    gchar *exe = g_file_read_link("/proc/self/exe", NULL);
    if (!exe) return NULL;
    gchar *dir = g_path_get_dirname(exe);
    g_free(exe);
    return dir;
}

/* The places of steps 3-5 for a file NAME of the presets folder. */
static void tree_places(GPtrArray *out, const char *name, const char *bundle)
{
    gchar *base = NULL;
    if (bundle) {
        g_ptr_array_add(out, g_build_filename(bundle, name, NULL));
        g_ptr_array_add(out, g_build_filename(bundle, "presets", name, NULL));
        base = g_build_filename(bundle, "..", "..", "..", NULL);
    } else {
        gchar *exe_dir = paths_exe_dir();
        if (exe_dir) base = g_build_filename(exe_dir, "..", NULL);
        g_free(exe_dir);
    }
    if (base) {
        g_ptr_array_add(out, g_build_filename(base, "..", "presets", name, NULL));
        g_ptr_array_add(out, g_build_filename(base, "share", "continuo", "presets", name, NULL));
        g_free(base);
    }
    g_ptr_array_add(out, g_build_filename(CONTINUO_PREFIX, "share", "continuo", "presets", name, NULL));
}

/* The first existing file of `places` (canonical form, for a readable
 * message: "build/bin/../../x" -> "x"); else NULL with the tried list. */
static gchar *first_existing(GPtrArray *places, GString *tried)
{
    for (guint i = 0; i < places->len; i++) {
        gchar *canon = g_canonicalize_filename(g_ptr_array_index(places, i), NULL);
        if (tried->len) g_string_append(tried, ", ");
        g_string_append(tried, canon);
        /* a regular file, or a link that resolves to one (default-GM.sf2) */
        if (g_file_test(canon, G_FILE_TEST_IS_REGULAR)) return canon;
        g_free(canon);
    }
    return NULL;
}

/* Steps 1-2 for a file: the option, else a file named by env_var (may be NULL). Sets
 * *done when one of them decided (found or an error). */
static gchar *given_file(const char *option, const char *env_var, int code, gboolean *done,
                         GError **err)
{
    const char *env = env_var ? g_getenv(env_var) : NULL;
    const char *path = option ? option : env && *env ? env : NULL;
    *done = path != NULL;
    if (!path) return NULL;
    if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) return g_strdup(path);
    const char *why = g_file_test(path, G_FILE_TEST_IS_DIR) ? "a folder, not a file"
                      : g_file_test(path, G_FILE_TEST_EXISTS) ? "not a regular file"
                                                               : "no such file";
    if (option) g_set_error(err, CN_ERROR, code, "%s: %s", path, why);
    else g_set_error(err, CN_ERROR, code, "%s: %s (from $%s)", path, why, env_var);
    return NULL;
}

gchar *paths_find(paths_kind kind, const char *name, const char *option, const char *bundle,
                  GError **err)
{
    gboolean done = FALSE;
    gchar *found = NULL, *file = NULL;
    int code = kind == PATHS_SOUNDFONT ? CN_ERR_SYNTH : CN_ERR_IO;
    if (kind == PATHS_PRESET) {
        if (strchr(name, '/') || g_str_has_suffix(name, ".ini")) option = name;
        found = given_file(option, NULL, code, &done, err);
        file = g_strconcat(name, ".ini", NULL);
    } else {
        const char *env = kind == PATHS_MODEL ? CONTINUO_MODEL_ENV : CONTINUO_SOUNDFONT_ENV;
        found = given_file(option, env, code, &done, err);
        file = g_strdup(kind == PATHS_MODEL ? CONTINUO_DEFAULT_MODEL : "");
    }
    if (done) {
        g_free(file);
        return found;
    }
    GPtrArray *places = g_ptr_array_new_with_free_func(g_free);
    if (kind == PATHS_SOUNDFONT) {
        for (size_t i = 0; i < G_N_ELEMENTS(soundfont_paths); i++)
            g_ptr_array_add(places, g_strdup(soundfont_paths[i]));
    } else {
        const char *dir = kind == PATHS_PRESET ? g_getenv(CONTINUO_PRESETS_ENV) : NULL;
        if (dir && *dir) g_ptr_array_add(places, g_build_filename(dir, file, NULL));
        tree_places(places, file, bundle);
    }
    GString *tried = g_string_new(NULL);
    found = first_existing(places, tried);
    if (!found && kind == PATHS_SOUNDFONT)
        g_set_error(err, CN_ERROR, code,
                    "no SoundFont found (tried %s): install the Debian package fluid-soundfont-gm, "
                    "or pass --soundfont FILE or set $%s", tried->str, CONTINUO_SOUNDFONT_ENV);
    else if (!found)
        g_set_error(err, CN_ERROR, code, "%s not found (tried %s; set $%s)", file, tried->str,
                    kind == PATHS_MODEL ? CONTINUO_MODEL_ENV : CONTINUO_PRESETS_ENV);
    g_string_free(tried, TRUE);
    g_ptr_array_free(places, TRUE);
    g_free(file);
    return found;
}

gchar *paths_find_model(const char *option, GError **err)
{
    return paths_find(PATHS_MODEL, NULL, option, NULL, err);
}

gchar *paths_find_preset(const char *name, GError **err)
{
    return paths_find(PATHS_PRESET, name, NULL, NULL, err);
}

gchar *paths_find_soundfont(const char *option, GError **err)
{
    return paths_find(PATHS_SOUNDFONT, NULL, option, NULL, err);
}
