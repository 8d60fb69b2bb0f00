/* session_config.c — session settings: defaults, range checks and presets
 * (GLib key files, presets/NAME.ini). Defaults and ranges of the real-valued
 * settings come from the settings table (settings.h); the sampler's from
 * sampler_*_defaults.
 *
 * Every key a preset may hold is in the table below (group, key, type,
 * field); an unknown group or key is an error, so a typo never silently
 * falls back to a default. The [output] group is the host's
 * (plugin/host_config.c reads it) and is skipped here. MIDI channels are 1..16 in files (as musicians
 * count them), 0..15 in session_config. Not real-time safe. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "session_config.h"
#include "session.h"
#include "error.h"
#include "read_file.h"
#include "settings.h"

void session_config_defaults(session_config *c)
{
    memset(c, 0, sizeof *c);
    c->mode = SESSION_DUET;
    c->lookahead = settings_get(SET_LOOKAHEAD)->def;
    c->duet_pause = settings_get(SET_DUET_PAUSE)->def;
    c->duet_phrase = settings_get(SET_DUET_PHRASE)->def;
    sampler_params_defaults(&c->sampling);
    sampler_limits_defaults(&c->limits);
    c->seed = 1;
    c->model_channel = 1; /* channel 2 as musicians count; performers usually send on 1 */
    c->cc_temperature = c->cc_density = c->cc_mode = c->cc_startstop = -1;
    c->tokens_per_step = 4;
    c->max_silence = settings_get(SET_MAX_SILENCE)->def;
    c->accompany_hold = settings_get(SET_ACCOMPANY_HOLD)->def;
    c->density = (float)settings_get(SET_DENSITY)->def;
    c->quantize_grid = settings_get(SET_QUANTIZE_GRID)->def; /* off */
    c->quantize_strength = settings_get(SET_QUANTIZE_STRENGTH)->def;
    c->density_ratio = settings_get(SET_DENSITY_RATIO)->def;
    c->solo_density = settings_get(SET_SOLO_DENSITY)->def;
    c->solo_velocity = settings_get(SET_SOLO_VELOCITY)->def;
    c->duet_bars = 0; /* off: the silence-based duet even with a tempo */
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

/* The real-valued fields and their rows of the settings table. */
static void real_fields(const session_config *c, double v[SET_COUNT])
{
    v[SET_TEMPERATURE] = c->sampling.temperature;
    v[SET_DENSITY] = c->density;
    v[SET_TOP_P] = c->sampling.top_p;
    v[SET_MIN_P] = c->sampling.min_p;
    v[SET_LOOKAHEAD] = c->lookahead;
    v[SET_MAX_SILENCE] = c->max_silence;
    v[SET_DUET_PAUSE] = c->duet_pause;
    v[SET_DUET_PHRASE] = c->duet_phrase;
    v[SET_ACCOMPANY_HOLD] = c->accompany_hold;
    v[SET_MAX_NOTE_LEN] = c->limits.max_note_len;
    v[SET_QUANTIZE_GRID] = c->quantize_grid;
    v[SET_QUANTIZE_STRENGTH] = c->quantize_strength;
    v[SET_DENSITY_RATIO] = c->density_ratio;
    v[SET_SOLO_DENSITY] = c->solo_density;
    v[SET_SOLO_VELOCITY] = c->solo_velocity;
}

gboolean session_config_check(const session_config *c, GError **err)
{
    double v[SET_COUNT];
    real_fields(c, v);
    GError *e = NULL;
    for (int i = 0; i < SET_COUNT; i++)
        if (!settings_check((setting_id)i, v[i], NULL, &e)) {
            g_set_error(err, CN_ERROR, CN_ERR_ARG, "session config: %s", e->message);
            g_error_free(e);
            return FALSE;
        }
    const char *why = NULL;
    const sampler_params *p = &c->sampling;
    const sampler_limits *l = &c->limits;
    if (c->mode < SESSION_DUET || c->mode > SESSION_SOLO) why = "mode is not duet/accompany/solo";
    else if (p->top_k < 0) why = "top_k must be >= 0";
    else if (l->pitch_lo < 0 || l->pitch_hi > 127 || l->pitch_lo > l->pitch_hi)
        why = "pitch range must be within 0..127, low <= high";
    else if (l->max_polyphony < 0 || l->max_polyphony > 128) why = "max_polyphony must be in 0..128";
    else if (c->model_channel > 15) why = "model channel must be 1..16";
    else if (c->tokens_per_step < 1 || c->tokens_per_step > 4096) why = "tokens_per_step must be in 1..4096";
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

typedef enum { K_MODE, K_DOUBLE, K_FLOAT, K_INT, K_U64, K_CHANNEL, K_CC } key_type;

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
    {"tempo", "grid", K_DOUBLE, F(quantize_grid)},
    {"tempo", "strength", K_DOUBLE, F(quantize_strength)},
    {"tempo", "duet_bars", K_INT, F(duet_bars)},
    {"controls", "density_ratio", K_DOUBLE, F(density_ratio)},
    {"controls", "solo_density", K_DOUBLE, F(solo_density)},
    {"controls", "solo_velocity", K_DOUBLE, F(solo_velocity)},
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
    char *shown = cn_printable(val, 60);
    char *what = g_strdup_printf(fmt, shown);
    g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "%s: [%s] %s: %s", path, k->group, k->key, what);
    g_free(what);
    g_free(shown);
    return FALSE;
}

/* Parses one value into its field of c. */
static gboolean key_set(session_config *c, const key_spec *k, const char *val, const char *path,
                        GError **err)
{
    char *f = (char *)c + k->offset;
    if (k->type == K_MODE) {
        if (!session_mode_parse(val, (session_mode *)f))
            return bad(err, path, k, "'%s' is not duet, accompany or solo", val);
        return TRUE;
    }
    if (k->type == K_DOUBLE || k->type == K_FLOAT) {
        double x;
        if (!settings_parse_number(val, NULL, &x, NULL))
            return bad(err, path, k, "'%s' is not a finite number", val);
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
    if (!cn_read_keyfile(kf, path, err)) {
        g_key_file_free(kf);
        return FALSE;
    }
    session_config n = *c; /* all or nothing */
    gboolean ok = TRUE;
    gchar **groups = g_key_file_get_groups(kf, NULL);
    for (int g = 0; ok && groups[g]; g++) {
        if (!strcmp(groups[g], SESSION_CONFIG_HOST_GROUP)) continue; /* the host's */
        if (!key_find(groups[g], NULL)) {
            char *shown = cn_printable(groups[g], 60);
            g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "%s: unknown group [%s]", path, shown);
            g_free(shown);
            ok = FALSE;
            break;
        }
        gchar **names = g_key_file_get_keys(kf, groups[g], NULL, NULL);
        for (int i = 0; ok && names[i]; i++) {
            const key_spec *k = key_find(groups[g], names[i]);
            if (!k) {
                char *shown = cn_printable(names[i], 60);
                g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "%s: [%s] %s: unknown key", path,
                            groups[g], shown);
                g_free(shown);
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
