/* paths.h — the one search for continuo's files: the model weights
 * (continuo.bin), the presets (NAME.ini) and a SoundFont. The `continuo`
 * commands, the ALSA jam and the LV2 plugin all call paths_find; nothing
 * else looks in the file system for these.
 *
 * Order (the first that exists wins):
 *   1. an explicit path given by the user (an option, a preset given as a
 *      path: it contains '/' or ends in ".ini"): only that one;
 *   2. the environment: $CONTINUO_MODEL (the model file), $CONTINUO_PRESETS
 *      (a folder of presets), $CONTINUO_SOUNDFONT (a SoundFont file); a file
 *      named there must exist (no fallback), a folder is only looked in;
 *   for the model and the presets, then:
 *   3. the LV2 bundle, when the caller is the plugin: BUNDLE/NAME, then
 *      BUNDLE/presets/NAME (make install-user copies them in);
 *   4. the tree the program runs from, its "base" being the executable's
 *      folder/.. (build/bin -> build, PREFIX/bin -> PREFIX) or, for the plugin,
 *      the bundle's folder/../../.. (build/lib/lv2/continuo.lv2 -> build,
 *      PREFIX/lib/lv2/continuo.lv2 -> PREFIX):
 *        BASE/../presets/NAME                (the build tree -> the repository)
 *        BASE/share/continuo/presets/NAME    (an installed tree, whatever its prefix)
 *   5. CONTINUO_PREFIX/share/continuo/presets/NAME   (compile-time prefix);
 *   for a SoundFont, instead of 3-5 the distributions' places
 *   (soundfonts/README.md): /usr/share/sounds/sf2/FluidR3_GM.sf2 (Debian's
 *   fluid-soundfont-gm), .../default-GM.sf2, .../TimGM6mb.sf2,
 *   /usr/share/sounds/sf3/default-GM.sf3, .../MuseScore_General.sf3,
 *   /usr/share/soundfonts/default.sf2, /usr/share/soundfonts/FluidR3_GM.sf2.
 * A miss is one line listing every path tried (CN_ERR_IO; CN_ERR_SYNTH with
 * the package to install for a SoundFont). Not real-time safe (file system,
 * allocation). */
#ifndef CONTINUO_PATHS_H
#define CONTINUO_PATHS_H

#include <glib.h>

#define CONTINUO_DEFAULT_MODEL "continuo.bin" /* file name in presets/ */
#define CONTINUO_MODEL_ENV "CONTINUO_MODEL"
#define CONTINUO_PRESETS_ENV "CONTINUO_PRESETS"
#define CONTINUO_SOUNDFONT_ENV "CONTINUO_SOUNDFONT"
#ifndef CONTINUO_PREFIX
#define CONTINUO_PREFIX "/usr/local" /* the Makefile's default PREFIX */
#endif

typedef enum { PATHS_MODEL, PATHS_PRESET, PATHS_SOUNDFONT } paths_kind;

/* The search above. `name`: a preset's name or path (PATHS_PRESET only);
 * `option`: the user's explicit file (may be NULL); `bundle`: the LV2
 * bundle's folder (NULL: the executable's tree). Newly allocated existing
 * path, or NULL with *err set. */
gchar *paths_find(paths_kind kind, const char *name, const char *option, const char *bundle,
                  GError **err);

/* Directory holding the running executable (from /proc/self/exe); NULL if
 * unknown. Newly allocated. */
gchar *paths_exe_dir(void);

/* Shorthands for a command line program (no bundle). */
gchar *paths_find_model(const char *option, GError **err);
gchar *paths_find_preset(const char *name, GError **err);
gchar *paths_find_soundfont(const char *option, GError **err);

#endif
