/* tempo.c — the beat clock: position reports, MIDI clock tempo estimation,
 * grid and bar queries. See tempo.h. Real-time safe throughout: no heap, no
 * locks, no I/O; the estimate is a least-squares line through at most
 * TEMPO_WINDOW ticks, refitted on each tick (a few hundred flops). */
#include <math.h>
#include <string.h>
#include "tempo.h"

#define MAX(a, b) ((a) > (b) ? (a) : (b))

enum { SRC_FREE = TEMPO_SRC_FREE, SRC_POSITION = TEMPO_SRC_POSITION, SRC_MIDI = TEMPO_SRC_MIDI_CLOCK };

#define TICKS_PER_BEAT 24       /* MIDI clock: 24 per quarter note */
#define MIN_TICKS_KNOWN 6       /* inlier ticks before the estimate counts */
#define SETTLE_TICKS 12         /* below this many inliers the outlier gate is wide */
#define CHANGE_RUN 3            /* ticks off the line on one side: a tempo change */
#define STALE_MIN 0.5           /* s without a tick before MIDI clock counts as gone */
#define PHASE_SLACK 1e-3  /* beats: position reports agree within a host's tick rounding */
#define PHASE_JUMP 0.25   /* beats: a bigger change is a relocation, taken at once */
#define BPM_MIN 20.0
#define BPM_MAX 400.0

void tempo_init(tempo_clock *c)
{
    memset(c, 0, sizeof *c);
    c->beats_per_bar = 4.0;
    c->k = -1;
}

void tempo_reset(tempo_clock *c) { tempo_init(c); }

int tempo_source(const tempo_clock *c) { return c->source; }

/* ---------------------------------------------------------------------------
 * (a) position reports */

void tempo_report_position(tempo_clock *c, const tempo_position *p)
{
    if (!(p->bpm > 0) || !(p->beats_per_bar > 0) || !isfinite(p->time) || !isfinite(p->bar_beat))
        return; /* a host without a valid BBT: nothing to learn */
    double beat = (double)p->bar * p->beats_per_bar + p->bar_beat;
    if (!p->on_change && c->source == SRC_POSITION && c->rolling && p->rolling && p->bpm == c->bpm &&
        p->beats_per_bar == c->beats_per_bar) {
        if (beat == c->anchor_beat && p->time > c->anchor_time) return; /* stale */
        double d = fabs(beat - tempo_beat_at(c, p->time));
        if (d > PHASE_SLACK && d < PHASE_JUMP) {
            bool agrees = c->pend &&
                fabs(beat - (c->pend_beat + (p->time - c->pend_time) * p->bpm / 60.0)) <= PHASE_SLACK;
            if (!agrees) {
                c->pend = true;
                c->pend_time = p->time;
                c->pend_beat = beat;
                return;
            }
        }
    }
    if (c->source != SRC_POSITION) tempo_init(c);
    c->source = SRC_POSITION;
    c->pend = false;
    c->anchor_time = p->time;
    c->anchor_beat = beat;
    c->bpm = p->bpm;
    c->beats_per_bar = p->beats_per_bar;
    c->rolling = p->rolling;
}

/* ---------------------------------------------------------------------------
 * (b) MIDI clock */

static void est_restart(tempo_clock *c)
{
    c->n_ticks = c->head = 0;
    c->fit_p = 0;
    c->fit_n = 0;
    c->settled = false;
    c->off_run = c->off_sign = 0;
}

/* Least squares t = t0 + (k - k0) * p over the inlier ticks of the ring. */
static void est_fit(tempo_clock *c)
{
    int n = 0;
    double kref = (double)c->k, tref = c->last_tick; /* centred: small numbers */
    double sk = 0, st = 0;
    for (int i = 0; i < c->n_ticks; i++) {
        if (!c->tick_ok[i]) continue;
        sk += (double)c->tick_k[i] - kref;
        st += c->tick_time[i] - tref;
        n++;
    }
    c->fit_n = n;
    if (n < 2) return;
    double mk = sk / n, mt = st / n, skk = 0, skt = 0;
    for (int i = 0; i < c->n_ticks; i++) {
        if (!c->tick_ok[i]) continue;
        double dk = (double)c->tick_k[i] - kref - mk, dt = c->tick_time[i] - tref - mt;
        skk += dk * dk;
        skt += dk * dt;
    }
    if (skk <= 0) return;
    double p = skt / skk;
    double pmin = 60.0 / (BPM_MAX * TICKS_PER_BEAT), pmax = 60.0 / (BPM_MIN * TICKS_PER_BEAT);
    if (!(p >= pmin && p <= pmax)) return; /* nonsense: keep the last estimate */
    c->fit_p = p;
    c->fit_k0 = c->k;
    c->fit_t0 = tref + mt + (0.0 - mk) * p; /* the line at k (dk = -mk there) */
}

/* Keep only the newest `keep` ring entries, all as inliers. */
static void est_keep_newest(tempo_clock *c, int keep)
{
    double t[TEMPO_WINDOW];
    int64_t k[TEMPO_WINDOW];
    for (int j = 0; j < keep; j++) {
        int i = (c->head - keep + j + 2 * TEMPO_WINDOW) % TEMPO_WINDOW;
        t[j] = c->tick_time[i];
        k[j] = c->tick_k[i];
    }
    for (int j = 0; j < keep; j++) {
        c->tick_time[j] = t[j];
        c->tick_k[j] = k[j];
        c->tick_ok[j] = true;
    }
    c->n_ticks = keep;
    c->head = keep % TEMPO_WINDOW;
}

/* A run of ticks one period off the line is a miscount (a lost tick taken
 * for a late one after an outlier), not a tempo change: renumber them onto
 * the line. TRUE if that explains all of the run but one tick. */
static bool est_recount(tempo_clock *c, double thr)
{
    int slot[CHANGE_RUN * 4], n = 0;
    for (int j = 0; j < c->off_run && j < CHANGE_RUN * 4; j++) {
        int i = (c->head - 1 - j + TEMPO_WINDOW) % TEMPO_WINDOW;
        double e = c->tick_time[i] - (c->fit_t0 + (double)(c->tick_k[i] - c->fit_k0) * c->fit_p);
        if (fabs(e - c->off_sign * c->fit_p) < thr) slot[n++] = i;
    }
    if (n < c->off_run - 1) return false;
    for (int j = 0; j < n; j++) {
        c->tick_k[slot[j]] += c->off_sign;
        c->tick_ok[slot[j]] = true;
    }
    c->k += c->off_sign;
    return true;
}

/* The anchor follows the fitted line at the last tick (smoother than the tick itself). */
static void clock_anchor(tempo_clock *c)
{
    if (c->fit_p <= 0) return;
    c->bpm = 60.0 / (TICKS_PER_BEAT * c->fit_p);
    if (!c->clock_rolling) return;
    c->anchor_time = c->fit_t0 + (double)(c->k - c->fit_k0) * c->fit_p;
    c->anchor_beat = (double)(c->k + c->pos_offset) / TICKS_PER_BEAT;
}

static void midi_tick(tempo_clock *c, double t)
{
    int64_t k = c->k + 1;
    bool ok = true;
    double thr = 0;
    if (c->k >= 0) {
        if (c->fit_p > 0 && t - c->last_tick > fmax(STALE_MIN, 8 * c->fit_p)) {
            est_restart(c); /* the clock paused: a fresh estimate */
        } else if (c->fit_p > 0) {
            /* missed ticks: a gap of 1.75 periods or more (a late tick is
             * likelier than a lost one; a tempo change of -40 % in one tick
             * is not plausible) */
            double gap = t - c->last_tick;
            k = c->k + MAX((int64_t)floor(gap / c->fit_p + 0.25), (int64_t)1);
            double line = c->fit_t0 + (double)(c->k - c->fit_k0) * c->fit_p;
            double e = t - (line + (double)(k - c->k) * c->fit_p);
            thr = c->fit_n < SETTLE_TICKS ? 0.25 * c->fit_p : fmax(4 * c->resid_rms, 0.1 * c->fit_p);
            if (fabs(e) > thr) {
                int sign = e > 0 ? 1 : -1;
                c->off_run = sign == c->off_sign ? c->off_run + 1 : 1;
                c->off_sign = sign;
                ok = false;
            } else {
                c->off_run = 0;
                c->resid_rms = sqrt(0.9 * c->resid_rms * c->resid_rms + 0.1 * e * e);
            }
        }
    }
    if (c->start_pending || (!c->start_seen && c->k < 0)) { /* first tick of a (re)start */
        c->pos_offset = c->next_song_tick - k;
        c->clock_rolling = true;
        c->start_pending = false;
    }
    c->k = k;
    c->last_tick = t;
    c->tick_time[c->head] = t;
    c->tick_k[c->head] = k;
    c->tick_ok[c->head] = ok;
    c->head = (c->head + 1) % TEMPO_WINDOW;
    if (c->n_ticks < TEMPO_WINDOW) c->n_ticks++;
    if (c->off_run >= CHANGE_RUN) { /* not jitter */
        if (!est_recount(c, thr)) est_keep_newest(c, c->off_run); /* the tempo changed */
        c->off_run = 0;
    }
    est_fit(c);
    if (c->fit_n >= MIN_TICKS_KNOWN) c->settled = true;
    clock_anchor(c);
}

bool tempo_midi_byte(tempo_clock *c, uint8_t byte, double time)
{
    if (byte != 0xF8 && byte != 0xFA && byte != 0xFB && byte != 0xFC) return false;
    if (c->source != SRC_MIDI) {
        tempo_init(c);
        c->source = SRC_MIDI;
    }
    switch (byte) {
    case 0xF8:
        midi_tick(c, time);
        break;
    case 0xFA: /* start: the next tick is the song's first */
        c->start_seen = c->start_pending = true;
        c->clock_rolling = false;
        c->next_song_tick = 0;
        c->anchor_beat = 0;
        break;
    case 0xFB: /* continue from where it stopped (or the song position) */
        c->start_seen = c->start_pending = true;
        c->clock_rolling = false;
        break;
    case 0xFC:
        if (c->clock_rolling) c->next_song_tick = c->k + c->pos_offset + 1;
        c->start_seen = true;
        c->clock_rolling = false;
        c->start_pending = false;
        break;
    }
    c->rolling = c->clock_rolling;
    return true;
}

void tempo_song_position(tempo_clock *c, int sixteenths)
{
    if (c->source != SRC_MIDI) {
        tempo_init(c);
        c->source = SRC_MIDI;
    }
    c->next_song_tick = (int64_t)sixteenths * (TICKS_PER_BEAT / 4);
    if (!c->clock_rolling) c->anchor_beat = (double)c->next_song_tick / TICKS_PER_BEAT;
}

/* ---------------------------------------------------------------------------
 * queries */

bool tempo_known(const tempo_clock *c, double t)
{
    switch (c->source) {
    case SRC_POSITION:
        return c->rolling && c->bpm > 0;
    case SRC_MIDI:
        return c->clock_rolling && c->fit_p > 0 && c->settled &&
               t - c->last_tick <= fmax(STALE_MIN, 4 * c->fit_p);
    default:
        return false;
    }
}

double tempo_bpm(const tempo_clock *c)
{
    if (c->source == SRC_MIDI) return c->fit_p > 0 ? 60.0 / (TICKS_PER_BEAT * c->fit_p) : 0;
    return c->source == SRC_POSITION ? c->bpm : 0;
}

double tempo_beats_per_bar(const tempo_clock *c) { return c->beats_per_bar; }

double tempo_beat_at(const tempo_clock *c, double t)
{
    if (c->source == SRC_FREE || !(tempo_bpm(c) > 0)) return NAN;
    if (!c->rolling) return c->anchor_beat;
    return c->anchor_beat + (t - c->anchor_time) * c->bpm / 60.0;
}

double tempo_time_of_beat(const tempo_clock *c, double b)
{
    if (c->source == SRC_FREE || !c->rolling || !(c->bpm > 0)) return NAN;
    return c->anchor_time + (b - c->anchor_beat) * 60.0 / c->bpm;
}

/* First multiple of step (beats) at or after time t. The 1e-9 beat slack
 * keeps a time computed from a grid line on that line despite rounding. */
static double next_multiple(const tempo_clock *c, double t, double step)
{
    double b = tempo_beat_at(c, t);
    if (!isfinite(b) || !(step > 0)) return NAN;
    return tempo_time_of_beat(c, ceil(b / step - 1e-9) * step);
}

double tempo_next_grid(const tempo_clock *c, double t, double grid_beats)
{
    return next_multiple(c, t, grid_beats);
}

double tempo_next_bar(const tempo_clock *c, double t)
{
    return next_multiple(c, t, c->beats_per_bar);
}
