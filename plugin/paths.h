/* paths.h — where continuo finds its installed files: the model weights
 * (presets/continuo.bin) and the presets (presets/NAME.ini), looked up the
 * same way by every command (continue, jam, ...).
 *
 * Look-up order for a file NAME of the presets folder:
 *   1. an explicit path given by the user (an option), if any: only that one;
 *   2. an environment variable (CONTINUO_MODEL for the model), if set: only that one;
 *   3. <dir of the executable>/../../presets/NAME   (build/bin -> the repository)
 *   4. <dir of the executable>/../share/continuo/presets/NAME   (an installed tree,
 *      whatever its prefix)
 *   5. CONTINUO_PREFIX/share/continuo/presets/NAME   (compile-time prefix)
 * Not real-time safe (file system, allocation). */
#ifndef CONTINUO_PATHS_H
#define CONTINUO_PATHS_H

#include <glib.h>

#define CONTINUO_DEFAULT_MODEL "continuo.bin" /* file name in presets/ */
#define CONTINUO_MODEL_ENV "CONTINUO_MODEL"
#ifndef CONTINUO_PREFIX
#define CONTINUO_PREFIX "/usr/local" /* the Makefile's default PREFIX */
#endif

/* Directory holding the running executable (from /proc/self/exe); NULL if
 * unknown. Newly allocated. */
gchar *paths_exe_dir(void);

/* Finds presets/NAME by the order above. `option` (may be NULL) is the
 * user's explicit path, `env_var` (may be NULL) the variable to consult.
 * Returns a newly allocated existing path, or NULL with *err set to one line
 * listing every path tried. */
gchar *paths_find_preset_file(const char *name, const char *option, const char *env_var,
                              GError **err);

/* The model weights: --model, then $CONTINUO_MODEL, then presets/continuo.bin. */
gchar *paths_find_model(const char *option, GError **err);

/* A preset: `name` is either a path to an existing file (contains '/' or
 * ends in ".ini") or a preset name such as "duet", found as presets/duet.ini. */
gchar *paths_find_preset(const char *name, GError **err);

#endif
