/* music_metrics.c — musical statistics of note lists (see music_metrics.h). */
#include <math.h>
#include <string.h>
#include "events.h"
#include "music_metrics.h"

#define ONSET_MERGE 0.01 /* s: onsets closer than one token step are one onset */
#define DUR_BINS 40
#define POLY_BINS 33

/* ---------------------------------------------------------------------------
 * Notes */

static gint note_cmp(gconstpointer a, gconstpointer b)
{
    const mm_note *x = a, *y = b;
    if (x->on != y->on) return x->on < y->on ? -1 : 1;
    return x->pitch - y->pitch;
}

GArray *mm_notes_from_events(const GArray *events, int channel, double t0, double t1)
{
    GArray *notes = g_array_new(FALSE, FALSE, sizeof(mm_note));
    int open[16][128]; /* index in notes of the sounding note, or -1 */
    memset(open, -1, sizeof open);
    for (guint i = 0; i < events->len; i++) {
        const cn_event *e = &g_array_index(events, cn_event, i);
        int c = e->channel & 15, k = e->a & 127;
        if (channel >= 0 && c != channel) continue;
        gboolean on = e->type == CN_EV_NOTE_ON && e->b > 0;
        gboolean off = e->type == CN_EV_NOTE_OFF || (e->type == CN_EV_NOTE_ON && e->b == 0);
        if (!on && !off) continue;
        if (open[c][k] >= 0) { /* a re-strike ends the note too */
            g_array_index(notes, mm_note, open[c][k]).off = MIN(e->time, t1);
            open[c][k] = -1;
        }
        if (on && e->time >= t0 && e->time < t1) {
            mm_note n = {e->time, t1, k, e->b};
            open[c][k] = (int)notes->len;
            g_array_append_val(notes, n);
        }
    }
    g_array_sort(notes, note_cmp);
    return notes;
}

/* ---------------------------------------------------------------------------
 * Histograms */

const char *mm_feature_name(int f)
{
    static const char *names[MM_N_FEATURES] = {"pitch_class", "pitch", "ioi", "velocity",
                                               "length", "polyphony"};
    return f >= 0 && f < MM_N_FEATURES ? names[f] : "?";
}

int mm_duration_bin(double s)
{
    if (!(s > ONSET_MERGE)) return 0;
    int b = (int)floor(4.0 * log2(s / ONSET_MERGE));
    return b < DUR_BINS - 1 ? b : DUR_BINS - 1;
}

/* Notes sounding at notes[i].on (itself and any starting then included). */
static int sounding_at(const mm_note *notes, int n, int i)
{
    double t = notes[i].on;
    int k = 0;
    for (int j = 0; j < n && notes[j].on <= t; j++)
        if (notes[j].off > t || notes[j].on == t) k++;
    return k;
}

void mm_histogram(const mm_note *notes, int n, int feature, mm_hist *h)
{
    memset(h, 0, sizeof *h);
    h->feature = feature;
    static const int bins[MM_N_FEATURES] = {12, 128, DUR_BINS, 32, DUR_BINS, POLY_BINS};
    h->n_bins = bins[feature];
    double last_onset = -INFINITY;
    for (int i = 0; i < n; i++) {
        const mm_note *x = &notes[i];
        switch (feature) {
        case MM_PITCH_CLASS: h->count[x->pitch % 12] += 1; break;
        case MM_PITCH: h->count[x->pitch & 127] += 1; break;
        case MM_VELOCITY: h->count[(x->velocity & 127) / 4] += 1; break;
        case MM_LENGTH: h->count[mm_duration_bin(x->off - x->on)] += 1; break;
        case MM_POLYPHONY: h->count[MIN(sounding_at(notes, n, i), POLY_BINS - 1)] += 1; break;
        case MM_IOI:
            if (x->on - last_onset < ONSET_MERGE) break; /* same onset (or the first) */
            if (isfinite(last_onset)) h->count[mm_duration_bin(x->on - last_onset)] += 1;
            last_onset = x->on;
            break;
        }
    }
}

static double overlap_shifted(const mm_hist *a, const mm_hist *b, double sa, double sb, int r)
{
    double s = 0;
    for (int i = 0; i < a->n_bins; i++)
        s += MIN(a->count[i] / sa, b->count[(i + r) % b->n_bins] / sb);
    return s;
}

double mm_overlap(const mm_hist *a, const mm_hist *b)
{
    g_return_val_if_fail(a->feature == b->feature, NAN);
    double sa = 0, sb = 0;
    for (int i = 0; i < a->n_bins; i++) {
        sa += a->count[i];
        sb += b->count[i];
    }
    if (sa <= 0 || sb <= 0) return NAN;
    double best = overlap_shifted(a, b, sa, sb, 0);
    if (a->feature == MM_PITCH_CLASS)
        for (int r = 1; r < 12; r++) best = MAX(best, overlap_shifted(a, b, sa, sb, r));
    return best;
}

/* ---------------------------------------------------------------------------
 * Density, velocity, repetition, silence */

static int onsets_in(const mm_note *notes, int n, double t0, double t1)
{
    int k = 0;
    for (int i = 0; i < n; i++) k += notes[i].on >= t0 && notes[i].on < t1;
    return k;
}

double mm_rate(const mm_note *notes, int n, double t0, double t1)
{
    return t1 > t0 ? onsets_in(notes, n, t0, t1) / (t1 - t0) : NAN;
}

double mm_drift(const mm_note *notes, int n, double t0, double t1, double w)
{
    int first = onsets_in(notes, n, t0, t0 + w), last = onsets_in(notes, n, t1 - w, t1);
    if (first == 0) return last == 0 ? NAN : INFINITY;
    return (double)last / first;
}

double mm_densest(const mm_note *notes, int n, double t0, double t1, double w)
{
    /* the densest window can always start at an onset (or at t0) */
    int best = onsets_in(notes, n, t0, MIN(t0 + w, t1));
    for (int i = 0; i < n; i++) {
        double s = notes[i].on;
        if (s < t0 || s > t1 - w) continue;
        best = MAX(best, onsets_in(notes, n, s, s + w));
    }
    return best / w;
}

double mm_mean_velocity(const mm_note *notes, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += notes[i].velocity;
    return n ? s / n : NAN;
}

double mm_mean_polyphony(const mm_note *notes, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += sounding_at(notes, n, i);
    return n ? s / n : NAN;
}

int mm_longest_repeat(const mm_note *notes, int n)
{
    /* run(i, j), i < j: how many notes from i and from j have equal pitches;
     * run(i, j) = run(i+1, j+1) + 1 when pitches i and j are equal. Rows are
     * done from the last i down, in one array: when row i writes run[j]
     * (j ascending), run[j+1] still holds row i+1. O(n^2) time, O(n) memory. */
    int *run = g_new0(int, n + 1), best = 0;
    for (int i = n - 1; i >= 0; i--) {
        for (int j = i + 1; j < n; j++) {
            int r = notes[i].pitch == notes[j].pitch ? run[j + 1] + 1 : 0;
            run[j] = r;
            best = MAX(best, MIN(r, j - i)); /* no overlap with the first occurrence */
        }
    }
    g_free(run);
    return best;
}

double mm_longest_silence(const mm_note *notes, int n, double t0, double t1)
{
    double covered = t0, best = 0; /* notes sorted by onset: sweep their union */
    for (int i = 0; i < n; i++) {
        double on = MAX(notes[i].on, t0), off = MIN(notes[i].off, t1);
        if (off <= on) continue;
        if (on > covered) best = MAX(best, on - covered);
        covered = MAX(covered, off);
    }
    return MAX(best, t1 - covered);
}

/* ---------------------------------------------------------------------------
 * Accompaniment */

void mm_accompaniment(const mm_note *model, int nm, const mm_note *perf, int np, mm_accomp *a)
{
    *a = (mm_accomp){.model_notes = nm, .performer_notes = np};
    for (int i = 0; i < nm; i++) {
        double t = model[i].on;
        int p = model[i].pitch, met = 0, above = 1, consonant = 1;
        for (int j = 0; j < np && perf[j].on <= t; j++) {
            if (perf[j].off <= t) continue;
            met = 1;
            if (p <= perf[j].pitch) above = 0;
            int ic = abs(p - perf[j].pitch) % 12;
            if (!(ic == 0 || ic == 3 || ic == 4 || ic == 5 || ic == 7 || ic == 8 || ic == 9))
                consonant = 0;
        }
        a->met += met;
        a->above += met && above;
        a->consonant += met && consonant;
    }
}
