/* session.h — the jam: performer and model merged in one token stream.
 *
 * Host-agnostic and clock-injected: every call gets `now` (seconds on the
 * host's clock, e.g. JACK frames / rate). Runs on the worker thread only;
 * nothing here is real-time safe. The host's RT thread never calls it:
 *
 *   RT thread                        worker thread (woken every period)
 *   midi_in -> in ring  ----------►  session_input(ev) for each ring item
 *                                    session_step(now)   (generate ahead)
 *   out ring -> midi_out  ◄--------  session_take_due(now + horizon, ...)
 *
 * The session keeps the model's scheduled events (the lookahead) itself and
 * hands the host only those due before `until`, so a rollback never has to
 * reach into the host's queue: what the host holds is at most `horizon` ahead
 * and always plays. */
#ifndef CONTINUO_SESSION_H
#define CONTINUO_SESSION_H

#include <stdbool.h>
#include <glib.h>
#include "events.h"
#include "model.h"
#include "sample.h"

typedef enum { SESSION_DUET = 0, SESSION_ACCOMPANY, SESSION_SOLO } session_mode;

typedef struct {
    session_mode mode;
    double lookahead;      /* seconds of model events kept scheduled ahead of now (0.2) */
    double duet_pause;     /* duet: performer silence that starts an answer (s) */
    double duet_phrase;    /* duet: longest answer (s) */
    sampler_params sampling;
    sampler_limits limits;
    uint64_t seed;
    uint8_t model_channel; /* MIDI channel of the model's notes (performer keeps theirs) */
    /* CC mapping (-1 = unmapped): value 0..127 scaled into each control. */
    int cc_temperature, cc_density, cc_mode, cc_startstop;
} session_config;

void session_config_defaults(session_config *c);
/* Read a preset (GLib key file); fields absent keep their current value. */
gboolean session_config_load(session_config *c, const char *path, GError **err);

typedef struct session session;

session *session_new(const session_config *c, const model *m, GError **err);
void session_free(session *s);

/* A performer event heard at ev->time (<= now). */
void session_input(session *s, const cn_event *ev);
/* Do generation work: keep `lookahead` seconds of model events scheduled
 * (or cancel them when the performer has taken over). Bounded work per call. */
void session_step(session *s, double now);
/* Move scheduled model events with time < until into out (time order);
 * returns how many (<= cap). Events in the past are never released late:
 * a note-on due before `now` that was missed is dropped (its note-off too). */
int session_take_due(session *s, double now, double until, cn_event *out, int cap);
/* End every sounding model note and cancel the schedule: the note-offs come
 * out of the next session_take_due. */
void session_panic(session *s, double now);
void session_set_mode(session *s, session_mode mode, double now);

/* Every event actually released or input, for recording (performer on its
 * channels, model on model_channel); owned by the session. */
const GArray *session_recording(const session *s);

typedef struct {
    long notes_in, notes_out, tokens_generated, rollbacks, dropped_late;
    double last_response_latency; /* s from the performer's pause to the first answer */
} session_stats;
void session_get_stats(const session *s, session_stats *st);

#endif
