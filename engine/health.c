/* health.c — silence, crowding and repetition watch, and the responses (see health.h). */
#include <math.h>
#include <string.h>
#include <glib.h>
#include "health.h"
#include "settings.h"

struct health {
    health_config cfg;
    /* repetition: the last pitches (a ring) and, per period p, how many
     * consecutive note-ons matched the one p notes before */
    uint8_t hist[HEALTH_PERIOD_MAX];
    long hist_n;
    int run[HEALTH_PERIOD_MAX + 1];
    int loop_base;         /* span already answered (counted anew after a response) */
    /* silence */
    int sounding;          /* model notes down */
    bool sound_down[128];
    double silence_start;  /* when the model last fell silent (or the first check) */
    bool started;
    double last_response, last_silence_response, last_crowd_response;
    /* crowding: note-on times of the last crowd_window (a ring) */
    double onsets[HEALTH_CROWD_MAX];
    long on_head, on_tail; /* live entries are [tail, head) */
    /* controls */
    bool nudged;           /* controls differ from the base */
    float base_t, base_d;  /* the base (before the first response) */
    float set_t, set_d;    /* what we last set */
    health_stats st;
};

void health_config_defaults(health_config *c, const session_config *sc)
{
    memset(c, 0, sizeof *c);
    c->channel = sc ? sc->model_channel : 0;
    c->silence_limit = 3.0;
    c->loop_period_max = 16;
    c->loop_limit = 32;
    c->temp_boost = 1.25f;
    c->temp_max = 1.6f;
    c->density_boost = 2.0f;
    c->density_max = 8.0f;
    c->relax_s = 30.0;
    c->crowd_window = 15.0;
    c->crowd_limit = 20.0; /* ASAP's performances: median 10, densest minute 27.5 notes/s */
    c->density_min = 0.125f;
}

health *health_new(const health_config *c)
{
    health *h = g_new0(health, 1);
    h->cfg = *c;
    h->cfg.loop_period_max = CLAMP(c->loop_period_max, 1, HEALTH_PERIOD_MAX);
    h->last_response = h->last_silence_response = h->last_crowd_response = -INFINITY;
    return h;
}

void health_free(health *h) { g_free(h); }

static int longest_run(const health *h)
{
    int best = 0;
    for (int p = 1; p <= h->cfg.loop_period_max; p++)
        if (h->run[p] > 0 && h->run[p] + p > best) best = h->run[p] + p;
    return best;
}

static void note_on(health *h, int pitch)
{
    for (int p = 1; p <= h->cfg.loop_period_max; p++) {
        if (h->hist_n >= p && h->hist[(h->hist_n - p) % HEALTH_PERIOD_MAX] == pitch) h->run[p]++;
        else h->run[p] = 0;
    }
    h->hist[h->hist_n % HEALTH_PERIOD_MAX] = (uint8_t)pitch;
    h->hist_n++;
    h->st.current_repeat = longest_run(h);
    if (h->st.current_repeat > h->st.longest_repeat) h->st.longest_repeat = h->st.current_repeat;
}

void health_observe(health *h, const cn_event *ev)
{
    if ((ev->channel & 15) != h->cfg.channel) return;
    int p = ev->a & 127;
    if (ev->type == CN_EV_NOTE_ON && ev->b > 0) {
        if (h->sounding == 0 && h->started) {
            double gap = ev->time - h->silence_start;
            if (gap > h->st.longest_silence) h->st.longest_silence = gap;
        }
        if (!h->sound_down[p]) h->sounding++;
        h->sound_down[p] = true;
        h->started = true;
        h->st.notes++;
        note_on(h, p);
        if (h->on_head - h->on_tail == HEALTH_CROWD_MAX) h->on_tail++; /* full: over any limit anyway */
        h->onsets[h->on_head++ % HEALTH_CROWD_MAX] = ev->time;
    } else if (ev->type == CN_EV_NOTE_OFF || ev->type == CN_EV_NOTE_ON) {
        if (!h->sound_down[p]) return;
        h->sound_down[p] = false;
        if (--h->sounding == 0) h->silence_start = ev->time;
    }
}

/* Responses stay inside the settings' valid ranges (settings.h), whatever
 * the health config's boosts and limits say. */
static void set_controls(health *h, session *s, float t, float d)
{
    t = (float)settings_clamp(SET_TEMPERATURE, t);
    d = (float)settings_clamp(SET_DENSITY, d);
    session_set_controls(s, t, d);
    h->set_t = h->st.temperature = t;
    h->set_d = h->st.density = d;
}

int health_check(health *h, session *s, double now)
{
    int done = 0;
    float t, d;
    session_get_controls(s, &t, &d);
    if (!h->nudged || t != h->set_t || d != h->set_d) { /* ours, or someone else's new base */
        if (h->nudged) h->nudged = false;
        h->base_t = h->set_t = t;
        h->base_d = h->set_d = d;
    }
    h->st.temperature = t;
    h->st.density = d;
    if (!h->started) { /* silence counts from the first check */
        h->started = true;
        h->silence_start = now;
    }

    session_stats ss;
    session_get_stats(s, &ss);
    h->st.nan_resets = ss.nan_resets;
    if (ss.broken && !h->st.broken) {
        h->st.broken = true;
        done |= HEALTH_BROKEN;
    }

    /* Silence only counts while it is the model's turn (solo always; duet
     * and accompany only inside their windows): waiting for the performer
     * is not a fault. */
    bool turn = session_model_active(s, now);
    if (!turn) h->silence_start = MAX(h->silence_start, now);
    if (h->sounding == 0 && now > h->silence_start) {
        double gap = now - h->silence_start;
        if (gap > h->st.longest_silence) h->st.longest_silence = gap;
        if (gap > h->cfg.silence_limit &&
            now - h->last_silence_response >= 0.5 * h->cfg.silence_limit &&
            d < h->cfg.density_max) {
            /* at least neutral at once: a preset's low density must not take
             * many doublings to sound again */
            set_controls(h, s, t, MIN(MAX(d * h->cfg.density_boost, 1.0f), h->cfg.density_max));
            h->nudged = true;
            h->last_response = h->last_silence_response = now;
            h->st.silence_responses++;
            done |= HEALTH_SILENCE;
        }
    }

    /* Crowding: the note-on rate over the last crowd_window. */
    while (h->on_tail < h->on_head &&
           h->onsets[h->on_tail % HEALTH_CROWD_MAX] <= now - h->cfg.crowd_window)
        h->on_tail++;
    h->st.crowd_rate = (double)(h->on_head - h->on_tail) / h->cfg.crowd_window;
    if (h->cfg.crowd_limit > 0 && h->st.crowd_rate > h->cfg.crowd_limit &&
        now - h->last_crowd_response >= 0.5 * h->cfg.crowd_window && d > h->cfg.density_min) {
        /* at most neutral at once: a preset's high density must not take
         * many halvings to thin out */
        set_controls(h, s, h->st.temperature,
                     MAX(MIN(d / h->cfg.density_boost, 1.0f), h->cfg.density_min));
        h->nudged = true;
        h->last_response = h->last_crowd_response = now;
        h->st.crowd_responses++;
        done |= HEALTH_CROWD;
    }

    int span = h->st.current_repeat;
    if (span - h->loop_base >= h->cfg.loop_limit) {
        if (t < h->cfg.temp_max) {
            float nt = MIN(h->st.temperature * h->cfg.temp_boost, h->cfg.temp_max);
            set_controls(h, s, nt, h->st.density);
            h->nudged = true;
        }
        /* the same loop, still going, is answered again after half as many
         * more notes: a loop that outlived one answer is a sticky one */
        h->loop_base = span - h->cfg.loop_limit / 2;
        h->last_response = now;
        h->st.loop_responses++;
        done |= HEALTH_LOOP;
    }
    if (span == 0 || span < h->loop_base) h->loop_base = 0;

    if (h->nudged && now - h->last_response >= h->cfg.relax_s) {
        set_controls(h, s, h->base_t, h->base_d);
        h->nudged = false;
        h->st.relaxes++;
        done |= HEALTH_RELAX;
    }
    return done;
}

void health_get_stats(const health *h, health_stats *st) { *st = h->st; }
