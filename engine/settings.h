/* settings.h — the one table of the session's real-valued settings: for each
 * its name, default, valid range, unit and the control range a MIDI CC (and
 * an LV2 control port) sweeps. Every way a value comes in reads it:
 * presets (session_config.c), the CC mapping (session.c), the LV2 ports
 * (plugin/lv2/continuo.ttl states the same control ranges; tests/test_settings.c
 * compares them), the health watch (health.c keeps its responses inside the
 * valid range), SIGHUP reload (plugin/reload.c) and the command line.
 *
 * Every decimal number typed by a person (a preset value, an option) goes
 * through settings_parse_number, which refuses NaN and infinities.
 * Pure functions and constant data: safe on any thread, real-time safe
 * except the functions that take a GError. */
#ifndef CONTINUO_SETTINGS_H
#define CONTINUO_SETTINGS_H

#include <stdbool.h>
#include <glib.h>

typedef enum {
    SET_TEMPERATURE = 0, /* sampling temperature; 0: always the likeliest token */
    SET_DENSITY,         /* note density factor (1 = off): v1 models NOTE_ON logits += ln(density);
                          * v2 models (token_v2.h) the DENSITY control's target times it */
    SET_TOP_P,
    SET_MIN_P,
    SET_LOOKAHEAD,       /* s of model events kept scheduled ahead of now */
    SET_MAX_SILENCE,     /* s: a longer silence is shortened to this in the token stream */
    SET_DUET_PAUSE,      /* s of performer silence that starts a duet answer */
    SET_DUET_PHRASE,     /* s: the longest duet answer */
    SET_ACCOMPANY_HOLD,  /* s the accompanist plays on after the performer's last note (<= 0: forever) */
    SET_MAX_NOTE_LEN,    /* s: a model note sounding this long is ended */
    SET_QUANTIZE_GRID,   /* beats (0.25 = sixteenths at a quarter-note beat); 0 = off */
    SET_QUANTIZE_STRENGTH, /* 0..1: 1 puts each model onset on the grid */
    SET_DENSITY_RATIO,   /* v2 accompany: model notes per performer note (POP909: 2.3-4.5) */
    SET_SOLO_DENSITY,    /* notes/s: v2 solo's density target (and before the performer plays) */
    SET_SOLO_VELOCITY,   /* mean MIDI velocity 1..127: v2 solo's dynamics target */
    SET_COUNT
} setting_id;

/* How a CC value 0..127 maps onto the control range [ctl_lo, ctl_hi]. */
typedef enum {
    SETTING_CC_NONE = 0,  /* no CC for this setting */
    SETTING_CC_LINEAR,    /* ctl_lo + (ctl_hi - ctl_lo) * v/127 */
    SETTING_CC_LOG_CENTRED /* geometric in each half: 0 -> ctl_lo, 64 -> def, 127 -> ctl_hi */
} setting_cc;

typedef struct {
    const char *name;      /* as the LV2 port symbol and the messages say it */
    const char *unit;      /* "s", "beats" or "" */
    double def;            /* the default */
    double min, max;       /* valid range ... */
    bool min_open, max_open; /* ... with these ends excluded */
    double ctl_lo, ctl_hi; /* what a CC or a control port sweeps (inside min..max) */
    setting_cc cc;
} setting;

const setting *settings_get(setting_id id);

/* TRUE if x is finite and in the setting's valid range. */
bool settings_valid(setting_id id, double x);
/* x brought into the valid range (NaN: the default). For a closed end the
 * end itself; for an open one the nearest of ctl_lo / ctl_hi. RT safe. */
double settings_clamp(setting_id id, double x);
/* A CC value (clamped to 0..127) mapped onto the control range. RT safe. */
double settings_from_cc(setting_id id, int v);

/* FALSE + a one-line error "NAME must be in (0, 10] s" when x is out of range
 * or not finite; `who` (may be NULL) prefixes it ("--temperature: ..."). */
gboolean settings_check(setting_id id, double x, const char *who, GError **err);

/* The one parser of decimal numbers typed by a person: the whole of `text`
 * (surrounding spaces allowed) must be a finite number; NaN, infinities,
 * empty or trailing text are refused with one line "WHO: 'TEXT' is not a
 * finite number". */
gboolean settings_parse_number(const char *text, const char *who, double *out, GError **err);
/* settings_parse_number, then settings_check. */
gboolean settings_parse(setting_id id, const char *text, const char *who, double *out,
                        GError **err);

#endif
