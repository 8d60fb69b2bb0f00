/* session_config.c — session settings: defaults, range checks, presets
 * (GLib key files, presets/NAME.ini) and finding a preset by name.
 *
 * Every key a preset may hold is in the table below (group, key, type,
 * field); an unknown group or key is an error, so a typo never silently
 * falls back to a default. MIDI channels are 1..16 in files (as musicians
 * count them), 0..15 in session_config. Not real-time safe. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "session_config.h"
#include "session.h"
#include "error.h"

void session_config_defaults(session_config *c)
{
    memset(c, 0, sizeof *c);
    c->mode = SESSION_DUET;
    c->lookahead = 0.2;
    c->duet_pause = 1.0;
    c->duet_phrase = 8.0;
    c->sampling = (sampler_params){.temperature = 1.0f, .top_k = 0, .top_p = 0.95f, .min_p = 0.0f};
    c->limits = (sampler_limits){.pitch_lo = 21, .pitch_hi = 108, .max_polyphony = 10,
                                 .max_note_len = 4.0, .allow_specials = false};
    c->seed = 1;
    c->model_channel = 1; /* channel 2 as musicians count; performers usually send on 1 */
    c->cc_temperature = c->cc_density = c->cc_mode = c->cc_startstop = -1;
    c->tokens_per_step = 4;
    c->max_silence = 2.0;
    c->accompany_hold = 4.0;
    c->density = 1.0f;
    c->audio = true;
    c->performer_audio = true;
    c->quantize_grid = 0;     /* off: onsets as the model samples them */
    c->quantize_strength = 1;
    c->duet_bars = 0;         /* off: the silence-based duet even with a tempo */
}

const char *session_mode_name(session_mode m)
{
    switch (m) {
    case SESSION_DUET: return "duet";
    case SESSION_ACCOMPANY: return "accompany";
    case SESSION_SOLO: return "solo";
    }
    return "?";
}

gboolean session_mode_parse(const char *name, session_mode *m)
{
    for (int i = SESSION_DUET; i <= SESSION_SOLO; i++)
        if (!g_ascii_strcasecmp(name, session_mode_name((session_mode)i))) {
            *m = (session_mode)i;
            return TRUE;
        }
    return FALSE;
}

gboolean session_config_check(const session_config *c, GError **err)
{
    const char *why = NULL;
    const sampler_params *p = &c->sampling;
    const sampler_limits *l = &c->limits;
    if (c->mode < SESSION_DUET || c->mode > SESSION_SOLO) why = "mode is not duet/accompany/solo";
    else if (!(c->lookahead > 0 && c->lookahead <= 10)) why = "lookahead must be in (0, 10] s";
    else if (!(c->duet_pause >= 0 && c->duet_pause <= 60)) why = "duet pause must be in [0, 60] s";
    else if (!(c->duet_phrase > 0 && c->duet_phrase <= 3600)) why = "duet phrase must be in (0, 3600] s";
    else if (!(p->temperature > 0 && p->temperature <= 10)) why = "temperature must be in (0, 10]";
    else if (p->top_k < 0) why = "top_k must be >= 0";
    else if (!(p->top_p > 0 && p->top_p <= 1)) why = "top_p must be in (0, 1]";
    else if (!(p->min_p >= 0 && p->min_p < 1)) why = "min_p must be in [0, 1)";
    else if (l->pitch_lo < 0 || l->pitch_hi > 127 || l->pitch_lo > l->pitch_hi)
        why = "pitch range must be within 0..127, low <= high";
    else if (l->max_polyphony < 0 || l->max_polyphony > 128) why = "max_polyphony must be in 0..128";
    else if (!(l->max_note_len > 0 && l->max_note_len <= 600))
        why = "max_note_len must be in (0, 600] s (a model note must never hang)";
    else if (c->model_channel > 15) why = "model channel must be 1..16";
    else if (c->tokens_per_step < 1 || c->tokens_per_step > 4096) why = "tokens_per_step must be in 1..4096";
    else if (!(c->max_silence >= 0.1 && c->max_silence <= 60)) why = "max_silence must be in [0.1, 60] s";
    else if (!(c->accompany_hold <= 3600)) why = "accompany hold must be <= 3600 s";
    else if (!(c->density > 0 && c->density <= 100)) why = "density must be in (0, 100]";
    else if (!(c->quantize_grid >= 0 && c->quantize_grid <= 64))
        why = "quantize grid must be in [0, 64] beats (0: off)";
    else if (!(c->quantize_strength >= 0 && c->quantize_strength <= 1))
        why = "quantize strength must be in [0, 1]";
    else if (c->duet_bars < 0 || c->duet_bars > 64) why = "duet bars must be in 0..64 (0: off)";
    else {
        const int ccs[] = {c->cc_temperature, c->cc_density, c->cc_mode, c->cc_startstop};
        for (int i = 0; i < 4 && !why; i++) {
            if (ccs[i] < -1 || ccs[i] > 127) why = "a CC number must be -1 (unmapped) or 0..127";
            else if (ccs[i] == CN_CC_ALL_SOUND_OFF || ccs[i] == CN_CC_ALL_NOTES_OFF)
                why = "CC 120 and 123 are panic and cannot be mapped";
            for (int j = 0; j < i && !why; j++)
                if (ccs[i] >= 0 && ccs[i] == ccs[j]) why = "two controls are mapped to the same CC";
        }
    }
    if (why) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "session config: %s", why);
        return FALSE;
    }
    return TRUE;
}

/* ---------------------------------------------------------------------------
 * presets */

typedef enum { K_MODE, K_DOUBLE, K_FLOAT, K_INT, K_U64, K_BOOL, K_CHANNEL, K_CC } key_type;

typedef struct {
    const char *group, *key;
    key_type type;
    size_t offset;
} key_spec;

#define F(field) offsetof(session_config, field)
static const key_spec keys[] = {
    {"session", "mode", K_MODE, F(mode)},
    {"session", "lookahead", K_DOUBLE, F(lookahead)},
    {"session", "tokens_per_step", K_INT, F(tokens_per_step)},
    {"session", "max_silence", K_DOUBLE, F(max_silence)},
    {"session", "seed", K_U64, F(seed)},
    {"session", "model_channel", K_CHANNEL, F(model_channel)},
    {"duet", "pause", K_DOUBLE, F(duet_pause)},
    {"duet", "phrase", K_DOUBLE, F(duet_phrase)},
    {"accompany", "hold", K_DOUBLE, F(accompany_hold)},
    {"sampling", "temperature", K_FLOAT, F(sampling.temperature)},
    {"sampling", "top_k", K_INT, F(sampling.top_k)},
    {"sampling", "top_p", K_FLOAT, F(sampling.top_p)},
    {"sampling", "min_p", K_FLOAT, F(sampling.min_p)},
    {"sampling", "density", K_FLOAT, F(density)},
    {"limits", "pitch_lo", K_INT, F(limits.pitch_lo)},
    {"limits", "pitch_hi", K_INT, F(limits.pitch_hi)},
    {"limits", "max_polyphony", K_INT, F(limits.max_polyphony)},
    {"limits", "max_note_len", K_DOUBLE, F(limits.max_note_len)},
    {"cc", "temperature", K_CC, F(cc_temperature)},
    {"cc", "density", K_CC, F(cc_density)},
    {"cc", "mode", K_CC, F(cc_mode)},
    {"cc", "startstop", K_CC, F(cc_startstop)},
    {"output", "audio", K_BOOL, F(audio)},
    {"output", "performer_audio", K_BOOL, F(performer_audio)},
    {"output", "reconnect", K_BOOL, F(reconnect)},
    {"tempo", "grid", K_DOUBLE, F(quantize_grid)},
    {"tempo", "strength", K_DOUBLE, F(quantize_strength)},
    {"tempo", "duet_bars", K_INT, F(duet_bars)},
};
#undef F

static const key_spec *key_find(const char *group, const char *key)
{
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
        if (!strcmp(keys[i].group, group) && (!key || !strcmp(keys[i].key, key))) return &keys[i];
    return NULL;
}

static gboolean bad(GError **err, const char *path, const key_spec *k, const char *fmt,
                    const char *val)
{
    char *what = g_strdup_printf(fmt, val);
    g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "%s: [%s] %s: %s", path, k->group, k->key, what);
    g_free(what);
    return FALSE;
}

/* Parses one value into its field of c. */
static gboolean key_set(session_config *c, const key_spec *k, const char *val, const char *path,
                        GError **err)
{
    char *f = (char *)c + k->offset, *end = NULL;
    if (k->type == K_MODE) {
        if (!session_mode_parse(val, (session_mode *)f))
            return bad(err, path, k, "'%s' is not duet, accompany or solo", val);
        return TRUE;
    }
    if (k->type == K_BOOL) {
        if (!strcmp(val, "true")) *(bool *)f = true;
        else if (!strcmp(val, "false")) *(bool *)f = false;
        else return bad(err, path, k, "'%s' is not true or false", val);
        return TRUE;
    }
    if (k->type == K_DOUBLE || k->type == K_FLOAT) {
        double x = g_ascii_strtod(val, &end);
        if (end == val || *end || !isfinite(x)) return bad(err, path, k, "'%s' is not a number", val);
        if (k->type == K_DOUBLE) *(double *)f = x;
        else *(float *)f = (float)x;
        return TRUE;
    }
    if (k->type == K_U64) {
        guint64 x;
        if (!g_ascii_string_to_unsigned(val, 10, 0, G_MAXUINT64, &x, NULL))
            return bad(err, path, k, "'%s' is not a non-negative integer", val);
        *(uint64_t *)f = x;
        return TRUE;
    }
    gint64 x;
    if (!g_ascii_string_to_signed(val, 10, G_MININT32, G_MAXINT32, &x, NULL))
        return bad(err, path, k, "'%s' is not an integer", val);
    if (k->type == K_CHANNEL) {
        if (x < 1 || x > 16) return bad(err, path, k, "'%s' is not a MIDI channel 1..16", val);
        *(uint8_t *)f = (uint8_t)(x - 1);
    } else if (k->type == K_CC) {
        if (x < -1 || x > 127) return bad(err, path, k, "'%s' is not a CC number 0..127 (-1: none)", val);
        *(int *)f = (int)x;
    } else {
        *(int *)f = (int)x;
    }
    return TRUE;
}

gboolean session_config_load(session_config *c, const char *path, GError **err)
{
    GKeyFile *kf = g_key_file_new();
    GError *e = NULL;
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &e)) {
        int code = g_error_matches(e, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE) ? CN_ERR_FORMAT
                                                                                : CN_ERR_IO;
        g_set_error(err, CN_ERROR, code, "%s: %s", path, e->message);
        g_error_free(e);
        g_key_file_free(kf);
        return FALSE;
    }
    session_config n = *c; /* all or nothing */
    gboolean ok = TRUE;
    gchar **groups = g_key_file_get_groups(kf, NULL);
    for (int g = 0; ok && groups[g]; g++) {
        if (!key_find(groups[g], NULL)) {
            g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "%s: unknown group [%s]", path, groups[g]);
            ok = FALSE;
            break;
        }
        gchar **names = g_key_file_get_keys(kf, groups[g], NULL, NULL);
        for (int i = 0; ok && names[i]; i++) {
            const key_spec *k = key_find(groups[g], names[i]);
            if (!k) {
                g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "%s: [%s] %s: unknown key", path,
                            groups[g], names[i]);
                ok = FALSE;
                break;
            }
            gchar *raw = g_key_file_get_value(kf, groups[g], names[i], NULL);
            gchar *val = g_strstrip(raw);
            ok = key_set(&n, k, val, path, err);
            g_free(raw);
        }
        g_strfreev(names);
    }
    g_strfreev(groups);
    g_key_file_free(kf);
    if (ok && !session_config_check(&n, &e)) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "%s: %s", path, e->message);
        g_error_free(e);
        ok = FALSE;
    }
    if (ok) *c = n;
    return ok;
}

char *session_preset_find(const char *name, GError **err)
{
    if (strchr(name, '/') || g_str_has_suffix(name, ".ini")) {
        if (g_file_test(name, G_FILE_TEST_IS_REGULAR)) return g_strdup(name);
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: no such preset file", name);
        return NULL;
    }
    char *file = g_strconcat(name, ".ini", NULL);
    GPtrArray *dirs = g_ptr_array_new_with_free_func(g_free);
    const char *env = g_getenv("CONTINUO_PRESETS");
    if (env && *env) g_ptr_array_add(dirs, g_strdup(env));
    g_ptr_array_add(dirs, g_strdup("presets"));
    char *exe = g_file_read_link("/proc/self/exe", NULL);
    if (exe) {
        char *bin = g_path_get_dirname(exe);
        g_ptr_array_add(dirs, g_build_filename(bin, "..", "presets", NULL));
        g_ptr_array_add(dirs, g_build_filename(bin, "..", "..", "presets", NULL)); /* build/bin */
        g_ptr_array_add(dirs, g_build_filename(bin, "..", "share", "continuo", "presets", NULL));
        g_free(bin);
        g_free(exe);
    }
    g_ptr_array_add(dirs, g_strdup("/usr/local/share/continuo/presets"));
    g_ptr_array_add(dirs, g_strdup("/usr/share/continuo/presets"));
    char *found = NULL;
    GString *tried = g_string_new(NULL);
    for (guint i = 0; i < dirs->len && !found; i++) {
        char *p = g_build_filename(g_ptr_array_index(dirs, i), file, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_REGULAR)) found = p;
        else {
            g_string_append_printf(tried, "%s%s", tried->len ? ", " : "", p);
            g_free(p);
        }
    }
    if (!found)
        g_set_error(err, CN_ERROR, CN_ERR_IO, "preset '%s' not found (looked for %s)", name,
                    tried->str);
    g_string_free(tried, TRUE);
    g_ptr_array_free(dirs, TRUE);
    g_free(file);
    return found;
}
