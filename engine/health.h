/* health.h — the installation's watchdog over a running session: it keeps
 * the music from collapsing into a loop or into silence, and reports a model
 * that has broken for good, so that a piece can play unattended for days.
 *
 * What it watches (the model's released notes, via health_observe):
 *   - silence: how long no model note has sounded while it was the model's
 *     turn (session_model_active: solo always, duet/accompany in their windows);
 *   - repetition: the longest recent stretch of note-ons whose pitches repeat
 *     with a period of 1..loop_period_max notes (a span of `period + repeats`
 *     notes; e.g. C E G C E G C counts 7 notes at period 3);
 *   - the session's own non-finite-logit recoveries (session.c checks every
 *     logit vector before the sampler and re-primes the cache from recent
 *     tokens without cancelling what is scheduled, so without a gap) and its
 *     `broken` flag (non-finite even after a reset).
 * How it responds (health_check, through session_set_controls; the schedule
 * is never cancelled, so a response never makes an audible gap):
 *   - silence longer than silence_limit: note density up by density_boost
 *     (and to at least 1, the model's own density),
 *     (the NOTE_ON logits' bias), again every silence_limit/2 while silent;
 *   - crowding, more than crowd_limit note-ons per second over the last
 *     crowd_window seconds: note density down by density_boost (and to at
 *     most 1, the model's own density; at least density_min), again every
 *     crowd_window/2 while crowded — a model left alone for hours can drift
 *     into ever denser textures, as a silent one can drift into silence;
 *   - a repeated span reaching loop_limit notes: temperature up by
 *     temp_boost (at most temp_max), and again every loop_limit/2 notes
 *     while that span goes on (a loop that outlives an answer is sticky);
 *   - after relax_s without a response, both controls go back to the base
 *     (the values before the first response; a change made by someone else,
 *     e.g. a CC, becomes the new base);
 *   - broken: HEALTH_BROKEN is returned; the host should log it and exit
 *     non-zero so that its service manager restarts it.
 * Every response stays inside the valid ranges of the settings table
 * (settings.h). Times are the session's seconds; nothing reads a clock. Not real-time
 * safe (worker thread, like the session); allocation only in health_new. */
#ifndef CONTINUO_HEALTH_H
#define CONTINUO_HEALTH_H

#include <stdbool.h>
#include "events.h"
#include "session.h"

typedef struct {
    int channel;            /* the model's MIDI channel (0..15); other events are ignored */
    double silence_limit;   /* s (3) */
    int loop_period_max;    /* notes (16; at most HEALTH_PERIOD_MAX) */
    int loop_limit;         /* notes in a repeated span before responding (32) */
    float temp_boost;       /* x per loop response (1.25) */
    float temp_max;         /* (1.6) */
    float density_boost;    /* x per silence response (2) */
    float density_max;      /* (8) */
    double relax_s;         /* s without a response before the base returns (30) */
    double crowd_window;    /* s over which the note-on rate is measured (15) */
    double crowd_limit;     /* note-ons per s above which density goes down (20; <= 0: off) */
    float density_min;      /* lowest density a crowding response sets (0.125) */
} health_config;

#define HEALTH_PERIOD_MAX 64
#define HEALTH_CROWD_MAX 2048 /* note-on times kept for the crowding rate */

/* Defaults as above; channel from the session config. */
void health_config_defaults(health_config *c, const session_config *sc);

typedef struct health health;

health *health_new(const health_config *c);
void health_free(health *h);

/* One event the session released (session_take_due order: times never go
 * back). Only the model's channel counts. */
void health_observe(health *h, const cn_event *ev);

enum {
    HEALTH_SILENCE = 1, /* density raised */
    HEALTH_LOOP = 2,    /* temperature raised */
    HEALTH_RELAX = 4,   /* controls back to the base */
    HEALTH_BROKEN = 8,  /* the model is silent for good: restart the host */
    HEALTH_CROWD = 16,  /* density lowered */
};
/* Looks at the state at `now` and responds on s; returns the HEALTH_* bits
 * of what it did (0: nothing). Call it every pass or every few (cheap). */
int health_check(health *h, session *s, double now);

typedef struct {
    long notes;                  /* model note-ons observed */
    double longest_silence;      /* s, over the whole run (finished or current silence) */
    int longest_repeat;          /* notes, the longest repeated span seen */
    int current_repeat;          /* notes, the repeated span ending at the last note */
    long silence_responses, loop_responses, relaxes;
    long crowd_responses;
    double crowd_rate;           /* note-ons per s over the last crowd_window, at the last check */
    long nan_resets;             /* the session's, at the last check */
    bool broken;
    float temperature, density;  /* as last set or seen */
} health_stats;
void health_get_stats(const health *h, health_stats *st);

#endif
