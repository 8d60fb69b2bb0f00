/* session.h — the jam: performer and model merged in one token stream.
 *
 * Threads. Host-agnostic and clock-injected: every call gets `now` (seconds
 * on the host's clock, e.g. JACK frames / rate). Every call runs on the
 * host's worker thread; nothing here is real-time safe, and the host's RT
 * thread never calls it:
 *
 *   RT thread                        worker thread (woken every period)
 *   midi_in -> in ring  ----------►  tempo_* on session_tempo(s) (if fed)
 *                                    session_input(ev) for each ring item
 *                                    session_step(now)   (generate ahead)
 *   out ring -> midi_out  ◄--------  session_take_due(now, now + horizon, ...)
 *
 * The stream. The performer's notes and pedal and the model's notes are one
 * sequence of performance tokens (token.h) in time order, mirrored in the
 * model's KV cache. The model's tokens ahead of the last one released to
 * the host are speculation: a performer event cancels them (rollback) and
 * joins the stream in their place, and the model continues from there. A
 * long silence is shortened in the stream (max_silence) and a full cache is
 * slid, so a session can run for days.
 *
 * The schedule. The session keeps the model's scheduled events (the
 * lookahead) itself and hands the host only those due before `until`, so a
 * rollback never has to reach into the host's queue: what the host holds is
 * at most `horizon` ahead and always plays. Choose horizon >= the longest
 * gap between two worker passes (a couple of periods plus one session_step's
 * work). A step costs about (tokens_per_step + new performer tokens)
 * single-token decodes (0.27 ms each for the shipped shape on an idle
 * 2-core machine). New model events are never placed before the last
 * `until` handed out, so the fastest possible answer is `horizon` after the
 * input is processed.
 *
 * The policy. The model plays in windows of time set by the mode: solo
 * always; accompany from the performer's first note until accompany_hold s
 * after their last (<= 0: for ever); duet after duet_pause s of performer
 * silence, for at most duet_phrase s (the silence duet), or by bars when a
 * tempo is known (the bar duet, below). A performer note outside a window
 * ends the model's notes at once (it yields). Sampling uses the preset's
 * temperature and density, which CCs and session_set_controls change live.
 *
 * Shutdown: session_panic(s, now); session_take_due(s, now, INFINITY, ...)
 * until it returns 0 (the note-offs of what the host holds); then
 * session_save_recording; session_free. */
#ifndef CONTINUO_SESSION_H
#define CONTINUO_SESSION_H

#include <stdbool.h>
#include <glib.h>
#include "events.h"
#include "model.h"
#include "sample.h"
#include "tempo.h"
#include "session_config.h"

typedef struct session session;

/* ---- lifecycle ------------------------------------------------------------ */

/* The model must use vocabulary v1 (token.h) or v2 (token_v2.h) and hold 32
 * tokens of context at least; c must pass session_config_check. Allocates
 * everything. With a v2 model the performer's notes are the PERFORMER
 * role's tokens, the sampler never picks a performer note or a control, and
 * a DENSITY/DYNAMICS pair stands at the stream's origin and every
 * TOK2_WINDOW s of stream time (heard before a performer token, generated
 * before the model's): the target of session_config's [controls] (accompany:
 * the performer's notes/s over the last 8 s times density_ratio, at their
 * mean velocity; duet: the call's; solo and before the performer's first
 * note: solo_density, solo_velocity), the rate times the density factor. */
session *session_new(const session_config *c, const model *m, GError **err);
void session_free(session *s);

/* ---- the working calls ------------------------------------------------------ */

/* A performer event heard at ev->time (<= now; times non-decreasing).
 * Notes and the sustain pedal join the token stream; CCs mapped in the
 * config are controls (see session_config.h for the [cc] mapping); CC
 * 120/123 panic; everything is recorded. Keep the performer off
 * model_channel (their tracks would merge in the .mid). Cheap: the model
 * work (forwarding the tokens) is done by the next session_step, unless
 * hundreds of events pile up between two steps. */
void session_input(session *s, const cn_event *ev);
/* Do generation work: keep `lookahead` seconds of model events scheduled
 * (or cancel them when the performer has taken over). Bounded work per call:
 * the pending performer tokens, plus at most tokens_per_step model tokens.
 * When that budget keeps falling short of the lookahead, the model plays
 * fewer notes rather than late ones (stats.degraded_steps). */
void session_step(session *s, double now);
/* Move scheduled model events with time < until into out (time order);
 * returns how many (<= cap; the rest stay for the next call). Any cap >= 1
 * works (a re-strike, NOTE_OFF + NOTE_ON, waits for a call with room for
 * both). The output keeps these guarantees, so a host may append released
 * events to its queue as they are:
 *  - monotonic: every event's time is >= every event released before it;
 *  - never late: a NOTE_ON due before `now` that was missed is dropped (its
 *    NOTE_OFF too) and counted in stats.dropped_late; a late NOTE_OFF is
 *    released at `now`;
 *  - paired: a NOTE_ON never repeats a pitch that is already sounding
 *    without its NOTE_OFF first, and a NOTE_OFF only ends a sounding note. */
int session_take_due(session *s, double now, double until, cn_event *out, int cap);

/* ---- controls ------------------------------------------------------------ */

/* End every sounding model note and cancel the schedule: everything not yet
 * handed out, speculative or already heard, is dropped, and the note-offs
 * for what the host holds come out of the next session_take_due, at `now`
 * (or after the last event handed out). In duet the current answer ends (the
 * model waits for the performer's next call); accompany and solo go on
 * playing from now (use session_set_running(FALSE) to silence them). */
void session_panic(session *s, double now);
/* Switch mode (ends every sounding model note first, like a panic). */
void session_set_mode(session *s, session_mode mode, double now);
/* Start/stop the model (stop ends its notes); the performer is still
 * recorded and heard by the model while stopped. */
void session_set_running(session *s, bool running, double now);
/* The sampling temperature (> 0) and the note density factor (> 0; the odds
 * of starting a note scale with it), as the [cc] mapping sets them; a value
 * <= 0 leaves that control as it is. */
void session_set_controls(session *s, float temperature, float density);
void session_get_controls(const session *s, float *temperature, float *density);
/* Apply a reloaded preset (SIGHUP) at `now`, without a gap: sampling,
 * density, limits, lookahead, duet/accompany times, CC mapping, max_silence,
 * quantize and the bar duet; a new mode switches as session_set_mode does; a
 * new seed reseeds the sampler. Kept: model_channel (notes are sounding on
 * it) and tokens_per_step when the host fitted a lower one to its period.
 * FALSE + err (nothing changed) if c fails session_config_check. */
gboolean session_apply_config(session *s, const session_config *c, double now, GError **err);

/* ---- tempo: quantize and the bar duet -------------------------------------
 * The session's beat clock (tempo.h), owned by the session. The host feeds
 * it on the worker thread, before session_input / session_step, with what
 * its RT thread saw: tempo_report_position (JACK transport, LV2
 * time:Position) or tempo_midi_byte (MIDI clock). Left unfed, no tempo is
 * known, and quantize and the bar duet stay off.
 *
 * Quantize is applied where model tokens become scheduled events: a model
 * NOTE_ON at time t moves to t + strength * (g - t), g the nearest grid line
 * (the next one when g would fall before what the host already holds, or
 * before that pitch's previous NOTE_OFF; the one before when g would pass
 * the end of the model's turn); its NOTE_OFF moves by the same amount, so
 * the note keeps its length (but a note still ends by the end of the
 * model's turn, duet or accompany). session_take_due's guarantees hold.
 *
 * Bar duet (duet_bars > 0, duet mode, tempo known): a performer note starts
 * a call in its bar (a note up to a quarter beat early counts in the next
 * bar); the model answers from the bar line call + N bars for N bars and
 * then waits for the next call. A performer note more than a quarter beat
 * into the answer interrupts it (the model yields, as in the silence duet)
 * and starts a new call in that bar. */
tempo_clock *session_tempo(session *s);
/* Live quantize control (LV2 ports, CCs): grid in beats (0 = off), strength
 * clamped to 0..1. Affects notes generated from now on. */
void session_set_quantize(session *s, double grid_beats, double strength);

/* ---- queries ------------------------------------------------------------- */

/* TRUE while the model has notes sounding or scheduled, or it is its turn
 * to play at `now` (duet: inside an answer). */
bool session_model_active(const session *s, double now);

typedef struct {
    long notes_in;         /* performer NOTE_ONs */
    long notes_out;        /* model NOTE_ONs released */
    long tokens_generated; /* model tokens sampled (rests and forced note-offs not counted) */
    long rollbacks;        /* speculation cancelled */
    long dropped_late;     /* model NOTE_ONs missed (due before now when taken) */
    double last_response_latency; /* s from the performer's last note event (on or off)
                                   * to the model's first NOTE_ON after it */
    long tokens_in;        /* performer tokens appended to the stream */
    long slides;           /* times the KV cache was slid (full) */
    long nan_resets;       /* non-finite logits seen (state reset and re-primed) */
    long catchups;         /* forced rests because generation fell behind the clock */
    long degraded_steps;   /* steps that ended short of the lookahead (budget spent) */
    double generated_until;/* stream time up to which the model's part is decided (s) */
    int cache_len;         /* tokens in the KV cache */
    bool broken;           /* the model gave non-finite logits even after a reset: silent */
} session_stats;
void session_get_stats(const session *s, session_stats *st);

/* ---- the recording (session_record.c) ------------------------------------ */

/* Every event actually released or input, for recording (performer on its
 * channels, model on model_channel); owned by the session. */
const GArray *session_recording(const session *s);
/* Forget the oldest n events of session_recording (a rotating recorder,
 * engine/rotate.c, has saved them), so a run of days keeps memory flat. */
void session_recording_drop(session *s, guint n);
/* Write the recording as a .mid (one track per channel, via midifile_save).
 * Notes still sounding, and sustain pedals still down, are ended at `now`
 * in the written copy (the recording itself is unchanged), so the file never
 * holds a note-on without its note-off. A recording longer than one file
 * holds (CN_SMF_MAX_SECONDS, 10 h) is cut every 10 h into PATH, PATH-2, ...
 * (before a .mid suffix; a part with nothing in it is skipped), notes held
 * over a cut ended there and struck again at the next part's 0, and one line
 * on stderr names the files. Every part that can be written is; FALSE (err
 * naming what failed and what was written) if any could not. */
gboolean session_save_recording(const session *s, const char *path, double now, GError **err);

#endif
