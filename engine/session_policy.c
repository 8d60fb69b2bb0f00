/* session_policy.c — when the model may play (modes, duet turns by silence
 * or by bars, the accompany hold) and the controls that change it: CCs,
 * panic, mode, start/stop, temperature and density, a reloaded preset.
 *
 * The model may play in a window of stream time: solo always; accompany
 * from the performer's first note to accompany_hold s after their last;
 * duet from duet_pause s after the performer's last note event for
 * duet_phrase s, or, in the bar duet, the N bars after the performer's call.
 * session_step generates only inside a window (see session.c).
 * Not real-time safe (worker thread). */
#include <math.h>
#include "session_internal.h"
#include "settings.h"

#define CALL_GRACE 0.25 /* beats: a note this early counts in the next bar; this late in
                         * an answer, still the call's tail (bar duet) */

/* ---------------------------------------------------------------------------
 * turns */

/* Bar duet: the answer window of the current call, if the bar duet is on
 * and a tempo is known now. */
static bool bar_window(const session *s, double *ws, double *we)
{
    const session_policy *p = &s->policy;
    if (s->cfg.duet_bars <= 0 || !p->call_valid || !tempo_known(&s->tempo, s->tempo_now))
        return false;
    double bar = tempo_beats_per_bar(&s->tempo) * s->cfg.duet_bars;
    *ws = tempo_time_of_beat(&s->tempo, p->call_beat + bar);
    *we = tempo_time_of_beat(&s->tempo, p->call_beat + 2 * bar);
    return isfinite(*ws) && isfinite(*we);
}

/* Bar duet: a performer NOTE_ON at t starts a call in its bar unless it
 * falls inside the current call (or the grace at the start of its answer). */
static void bar_call(session *s, double t)
{
    session_policy *p = &s->policy;
    if (s->cfg.duet_bars <= 0 || !tempo_known(&s->tempo, s->tempo_now)) return;
    double bpb = tempo_beats_per_bar(&s->tempo), b = tempo_beat_at(&s->tempo, t);
    double answer = p->call_beat + bpb * s->cfg.duet_bars;
    if (p->call_valid && b >= p->call_beat - CALL_GRACE && b < answer + CALL_GRACE) return;
    p->call_beat = floor((b + CALL_GRACE) / bpb) * bpb;
    p->call_valid = true;
}

bool policy_window(const session *s, double t, double *ws, double *we)
{
    const session_policy *p = &s->policy;
    if (!p->running || s->stream.broken) return false;
    switch (p->mode) {
    case SESSION_SOLO:
        *ws = -INFINITY;
        *we = INFINITY;
        break;
    case SESSION_ACCOMPANY:
        if (!p->perf_seen) return false;
        *ws = -INFINITY;
        *we = s->cfg.accompany_hold > 0 ? p->last_perf + s->cfg.accompany_hold : INFINITY;
        break;
    default: /* duet */
        if (!p->perf_seen || p->duet_silenced) return false;
        if (bar_window(s, ws, we)) break;
        *ws = p->last_perf + s->cfg.duet_pause;
        *we = *ws + s->cfg.duet_phrase;
        break;
    }
    return t < *we;
}

bool policy_allows(const session *s, double t)
{
    double ws, we;
    return policy_window(s, t, &ws, &we) && t >= ws;
}

void policy_performer_note(session *s, const cn_event *ev)
{
    session_policy *p = &s->policy;
    p->perf_seen = true;
    p->last_perf = ev->time;
    p->duet_silenced = false;
    if (ev->type != CN_EV_NOTE_ON || ev->b == 0) return;
    bar_call(s, ev->time);
    p->on_time[p->on_head] = ev->time;
    p->on_vel[p->on_head] = ev->b;
    p->on_head = (p->on_head + 1) % POLICY_ONSETS;
    p->on_n = MIN(p->on_n + 1, POLICY_ONSETS);
    p->first_onset = MIN(p->first_onset, ev->time);
}

/* ---------------------------------------------------------------------------
 * the v2 control targets */

/* The performer's NOTE_ONs with from <= time < to: how many, velocity sum. */
static int performer_onsets(const session_policy *p, double from, double to, double *vsum)
{
    int n = 0;
    *vsum = 0;
    for (int i = 1; i <= p->on_n; i++) {
        int k = (p->on_head - i + POLICY_ONSETS) % POLICY_ONSETS;
        if (p->on_time[k] < from) break;
        if (p->on_time[k] >= to) continue;
        n++;
        *vsum += p->on_vel[k];
    }
    return n;
}

/* Solo, and any mode before the performer's first note: the preset's
 * target. Accompany: the performer's onsets in the CONTROL_SPAN s before b,
 * per second, times density_ratio, at their mean velocity. Duet: the same
 * over the call (the CONTROL_SPAN s up to its last note), ratio 1. Then the
 * density factor multiplies the rate. */
int policy_controls(const session *s, double b, int *out)
{
    const session_policy *p = &s->policy;
    double rate = s->cfg.solo_density, vel = s->cfg.solo_velocity;
    if (p->mode != SESSION_SOLO && p->first_onset < b) {
        double end = b, ratio = s->cfg.density_ratio, vsum;
        if (p->mode == SESSION_DUET) {
            end = MIN(b, p->on_time[(p->on_head - 1 + POLICY_ONSETS) % POLICY_ONSETS] + 1e-6);
            ratio = 1.0;
        }
        int n = performer_onsets(p, end - CONTROL_SPAN, end, &vsum);
        rate = n / CONTROL_SPAN * ratio;
        vel = n ? vsum / n : 0;
    }
    return tok2_control_pair(tok2_density_bin_rate(rate * s->sampling.density), vel, out);
}

bool session_model_active(const session *s, double now)
{
    for (int p = 0; p < 128; p++)
        if (s->sched.out_sounding[p]) return true;
    return s->sched.items->len > 0 || s->stream.heard.dec.n_sounding > 0 || policy_allows(s, now);
}

/* ---------------------------------------------------------------------------
 * controls */

/* Cancels everything not yet handed to the host and ends the model's notes
 * at once (at now, or after the last event handed out). Not only the
 * speculation: tokens already heard can have events still scheduled (a
 * quantized onset moved past the last released event, a note-off behind it),
 * and a stop must not wait for them, nor start them. The model's stream ends
 * its notes (stream_end_model_notes, from an empty schedule so that it does
 * not wait either); the host gets a note-off for each note it holds,
 * whatever the stream says (its tokens can run ahead of the clock, and a
 * heard NOTE_OFF token's event may have been among those cancelled). */
static void cancel_and_end(session *s, double now)
{
    stream_clock_start(s, now);
    stream_rollback(s);
    schedule_clear(s);
    stream_end_model_notes(s, now);
    schedule_clear(s);
    schedule_end_host_notes(s, now);
}

void session_panic(session *s, double now)
{
    cancel_and_end(s, now);
    if (s->policy.mode == SESSION_DUET) s->policy.duet_silenced = true; /* until the performer's next call */
}

void session_set_mode(session *s, session_mode mode, double now)
{
    if (mode == s->policy.mode) return;
    session_panic(s, now);
    s->policy.mode = mode;
    s->policy.duet_silenced = false;
}

void session_set_running(session *s, bool running, double now)
{
    if (!running && s->policy.running) cancel_and_end(s, now);
    s->policy.running = running;
}

/* The [cc] mapping (session_config.h): what each mapped controller's value
 * 0..127 sets. */
bool policy_control_cc(session *s, const cn_event *ev)
{
    int cc = ev->a, v = ev->b;
    if (cc == CN_CC_ALL_SOUND_OFF || cc == CN_CC_ALL_NOTES_OFF) {
        session_panic(s, ev->time);
        return true;
    }
    if (cc == s->cfg.cc_temperature) {
        s->sampling.params.temperature = (float)settings_from_cc(SET_TEMPERATURE, v);
        return true;
    }
    if (cc == s->cfg.cc_density) {
        s->sampling.density = (float)settings_from_cc(SET_DENSITY, v);
        return true;
    }
    if (cc == s->cfg.cc_mode) {
        session_set_mode(s, v < 43 ? SESSION_DUET : v < 86 ? SESSION_ACCOMPANY : SESSION_SOLO,
                         ev->time);
        return true;
    }
    if (cc == s->cfg.cc_startstop) {
        session_set_running(s, v >= 64, ev->time);
        return true;
    }
    return false;
}

void session_set_controls(session *s, float temperature, float density)
{
    if (temperature > 0) s->sampling.params.temperature = temperature;
    if (density > 0) s->sampling.density = density;
}

void session_get_controls(const session *s, float *temperature, float *density)
{
    if (temperature) *temperature = s->sampling.params.temperature;
    if (density) *density = s->sampling.density;
}

gboolean session_apply_config(session *s, const session_config *c, double now, GError **err)
{
    if (!session_config_check(c, err)) return FALSE;
    session_config nc = *c;
    nc.model_channel = s->cfg.model_channel;
    if (s->cfg.tokens_per_step < nc.tokens_per_step) nc.tokens_per_step = s->cfg.tokens_per_step;
    if (nc.seed != s->cfg.seed) rng_seed(&s->sampling.rng, nc.seed);
    session_mode old_mode = s->policy.mode;
    s->cfg = nc;
    s->sampling.params = nc.sampling;
    s->sampling.density = nc.density;
    if (nc.mode != old_mode) session_set_mode(s, nc.mode, now);
    return TRUE;
}
