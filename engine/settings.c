/* settings.c — the settings table (see settings.h) and the number parser. */
#include <math.h>
#include <string.h>
#include "error.h"
#include "settings.h"

/*   name                default   min     max   (open ends)   control range   CC curve */
static const setting table[SET_COUNT] = {
    [SET_TEMPERATURE] = {"temperature", "", 1.0, 0, 10, false, false, 0.2, 2.0, SETTING_CC_LINEAR},
    [SET_DENSITY] = {"density", "", 1.0, 0, 100, true, false, 0.25, 4.0, SETTING_CC_LOG_CENTRED},
    [SET_TOP_P] = {"top_p", "", 0.95, 0, 1, true, false, 0.5, 1.0, SETTING_CC_NONE},
    [SET_MIN_P] = {"min_p", "", 0.0, 0, 1, false, true, 0.0, 0.5, SETTING_CC_NONE},
    [SET_LOOKAHEAD] = {"lookahead", "s", 0.2, 0, 10, true, false, 0.05, 2.0, SETTING_CC_NONE},
    [SET_MAX_SILENCE] = {"max_silence", "s", 2.0, 0.1, 60, false, false, 0.1, 60, SETTING_CC_NONE},
    [SET_DUET_PAUSE] = {"duet pause", "s", 1.0, 0, 60, false, false, 0, 60, SETTING_CC_NONE},
    [SET_DUET_PHRASE] = {"duet phrase", "s", 8.0, 0, 3600, true, false, 0.5, 3600, SETTING_CC_NONE},
    [SET_ACCOMPANY_HOLD] = {"accompany hold", "s", 4.0, -3600, 3600, false, false, 0, 3600,
                            SETTING_CC_NONE},
    [SET_MAX_NOTE_LEN] = {"max_note_len", "s", 4.0, 0, 600, true, false, 0.1, 600, SETTING_CC_NONE},
    [SET_QUANTIZE_GRID] = {"quantize_grid", "beats", 0.0, 0, 64, false, false, 0, 1, SETTING_CC_NONE},
    [SET_QUANTIZE_STRENGTH] = {"quantize_strength", "", 1.0, 0, 1, false, false, 0, 1,
                               SETTING_CC_NONE},
    [SET_DENSITY_RATIO] = {"density_ratio", "", 3.0, 0, 16, true, false, 0.25, 8, SETTING_CC_NONE},
    [SET_SOLO_DENSITY] = {"solo_density", "notes/s", 6.0, 0, 30, true, false, 0.25, 20,
                          SETTING_CC_NONE},
    [SET_SOLO_VELOCITY] = {"solo_velocity", "", 64.0, 1, 127, false, false, 1, 127,
                           SETTING_CC_NONE},
};

const setting *settings_get(setting_id id) { return &table[id]; }

bool settings_valid(setting_id id, double x)
{
    const setting *s = &table[id];
    if (!isfinite(x)) return false;
    if (s->min_open ? !(x > s->min) : !(x >= s->min)) return false;
    if (s->max_open ? !(x < s->max) : !(x <= s->max)) return false;
    return true;
}

double settings_clamp(setting_id id, double x)
{
    const setting *s = &table[id];
    if (isnan(x)) return s->def;
    if (s->min_open ? !(x > s->min) : !(x >= s->min)) return s->min_open ? s->ctl_lo : s->min;
    if (s->max_open ? !(x < s->max) : !(x <= s->max)) return s->max_open ? s->ctl_hi : s->max;
    return x;
}

double settings_from_cc(setting_id id, int v)
{
    const setting *s = &table[id];
    v = v < 0 ? 0 : v > 127 ? 127 : v;
    switch (s->cc) {
    case SETTING_CC_LINEAR:
        return s->ctl_lo + (s->ctl_hi - s->ctl_lo) * v / 127.0;
    case SETTING_CC_LOG_CENTRED: /* the controller's centre detent is the neutral default */
        if (v <= 64) return s->ctl_lo * pow(s->def / s->ctl_lo, v / 64.0);
        return s->def * pow(s->ctl_hi / s->def, (v - 64) / 63.0);
    case SETTING_CC_NONE:
        break;
    }
    return s->def;
}

gboolean settings_check(setting_id id, double x, const char *who, GError **err)
{
    if (settings_valid(id, x)) return TRUE;
    const setting *s = &table[id];
    g_set_error(err, CN_ERROR, CN_ERR_ARG, "%s%s%s must be in %c%g, %g%c%s%s", who ? who : "",
                who ? ": " : "", s->name, s->min_open ? '(' : '[', s->min, s->max,
                s->max_open ? ')' : ']', *s->unit ? " " : "", s->unit);
    return FALSE;
}

gboolean settings_parse_number(const char *text, const char *who, double *out, GError **err)
{
    const char *p = text ? text : "";
    while (g_ascii_isspace(*p)) p++;
    char *end = NULL;
    double x = *p ? g_ascii_strtod(p, &end) : NAN;
    if (end) while (g_ascii_isspace(*end)) end++;
    if (!end || end == p || *end || !isfinite(x)) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "%s%s'%s' is not a finite number", who ? who : "",
                    who ? ": " : "", text ? text : "");
        return FALSE;
    }
    *out = x;
    return TRUE;
}

gboolean settings_parse(setting_id id, const char *text, const char *who, double *out,
                        GError **err)
{
    double x;
    if (!settings_parse_number(text, who, &x, err) || !settings_check(id, x, who, err))
        return FALSE;
    *out = x;
    return TRUE;
}
