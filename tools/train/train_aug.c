/* train_aug.c — transposition and time stretch of training windows (see
 * train_aug.h for what each does and why). */
#include <math.h>
#include "train_aug.h"
#include "train_rng.h"
#include "token_v2.h"

/* The pitch of a note token of either role, or -1. */
static int note_pitch(uint32_t vocab_id, int t)
{
    if (t >= TOK_NOTE_ON && t < TOK_NOTE_OFF + 128) return (t - TOK_NOTE_ON) & 127;
    if (vocab_id == TOK2_VOCAB_ID && t >= TOK2_P_NOTE_ON && t < TOK2_P_NOTE_OFF + 128)
        return (t - TOK2_P_NOTE_ON) & 127;
    return -1;
}

void train_aug_transpose(uint32_t vocab_id, uint16_t *tok, int n, int s)
{
    for (int i = 0; i < n; i++)
        if (note_pitch(vocab_id, tok[i]) >= 0) tok[i] = (uint16_t)(tok[i] + s);
}

/* ---- time stretch --------------------------------------------------------- */

/* Control window in 10 ms units. */
#define WINDOW_UNITS (TOK2_WINDOW / TOK_TIME_STEP)

static int is_doc_edge(int t)
{
    return t == TOK_BOS || t == TOK_EOS;
}

/* The MODEL role's velocity in force at src[i] (its last VELOCITY before i
 * in the same document), looking back at most 65536 tokens and n_before
 * before src; TOK_DEC_DEFAULT_VELOCITY when none. */
static int velocity_before(const uint16_t *src, size_t n_before, size_t i)
{
    long lo = -(long)(n_before < 65536 ? n_before : 65536);
    for (long j = (long)i - 1; j >= lo; j--) {
        int t = src[j];
        if (tok_is_velocity(t)) return tok_bin_velocity(t - TOK_VELOCITY);
        if (t == TOK_BOS) break;
    }
    return TOK_DEC_DEFAULT_VELOCITY;
}

/* The MODEL role's onsets less than TOK2_WINDOW of stretched time after the
 * control at src[i], up to the document's end; *mean_vel their mean velocity. */
static int count_onsets(const uint16_t *src, size_t n_before, size_t n_src, size_t i, double f,
                        double *mean_vel)
{
    int count = 0, vel = -1;
    long units = 0;
    double vel_sum = 0.0;
    for (size_t j = i + 1; j < n_src && !is_doc_edge(src[j]); j++) {
        int t = src[j];
        if (tok_is_shift(t)) {
            units += t - TOK_TIME_SHIFT;
            if (units * f >= WINDOW_UNITS - 1e-9) break;
        } else if (tok_is_velocity(t)) {
            vel = tok_bin_velocity(t - TOK_VELOCITY);
        } else if (tok_is_note_on(t)) {
            if (vel < 0) vel = velocity_before(src, n_before, i);
            vel_sum += vel;
            count++;
        }
    }
    *mean_vel = count ? vel_sum / count : 0.0;
    return count;
}

/* Writer state: out[0 .. n) of cap. */
typedef struct {
    uint16_t *out;
    int n, cap;
} sink;

static void put(sink *k, int t)
{
    if (k->n < k->cap) k->out[k->n++] = (uint16_t)t;
}

int train_aug_stretch(uint32_t vocab_id, const uint16_t *src, size_t n_before, size_t n_src,
                      double f, uint16_t *out, int n_out)
{
    sink k = {out, 0, n_out};
    double exact = 0.0; /* stretched units since the window start */
    long done = 0, pending = 0;
    gboolean drop_dynamics = FALSE;
    for (size_t i = 0; i < n_src && k.n < n_out; i++) {
        int t = src[i];
        if (tok_is_shift(t)) {
            pending += t - TOK_TIME_SHIFT;
            continue;
        }
        if (pending) { /* the gap ends here: emit it stretched */
            exact += pending * f;
            long want = lround(exact) - done;
            done += want;
            pending = 0;
            for (; want > 0; want -= TOK_MAX_SHIFT)
                put(&k, TOK_TIME_SHIFT + (want > TOK_MAX_SHIFT ? TOK_MAX_SHIFT : (int)want));
            if (k.n >= n_out) break;
        }
        if (vocab_id == TOK2_VOCAB_ID && tok2_is_density(t)) {
            double mean_vel;
            int bin = tok2_density_bin(count_onsets(src, n_before, n_src, i, f, &mean_vel));
            put(&k, TOK2_DENSITY + bin);
            gboolean had_dynamics = i + 1 < n_src && tok2_is_dynamics(src[i + 1]);
            drop_dynamics = bin == 0 && had_dynamics;
            if (bin > 0 && !had_dynamics) put(&k, TOK2_DYNAMICS + tok2_dynamics_bin(mean_vel));
            continue;
        }
        if (vocab_id == TOK2_VOCAB_ID && tok2_is_dynamics(t) && drop_dynamics) {
            drop_dynamics = FALSE;
            continue;
        }
        drop_dynamics = FALSE;
        put(&k, t);
    }
    return k.n;
}

/* ---- one window --------------------------------------------------------- */

void train_aug_window(const train_aug *a, const tokfile *tf, size_t off, int n_out,
                      uint64_t draw, uint16_t *out)
{
    train_rng r;
    train_rng_seed(&r, draw);
    double f = 1.0 + a->stretch * (2.0 * train_rng_uniform(&r) - 1.0);
    const uint16_t *src = tf->tokens + off;
    int got = a->stretch > 0.0f
                  ? train_aug_stretch(a->vocab_id, src, off, tf->n_tokens - off, f, out, n_out)
                  : 0;
    if (got < n_out)
        for (int i = 0; i < n_out; i++) out[i] = src[i];

    int lo = 127, hi = 0;
    for (int i = 0; i < n_out; i++) {
        int p = note_pitch(a->vocab_id, out[i]);
        if (p < 0) continue;
        if (p < lo) lo = p;
        if (p > hi) hi = p;
    }
    int N = a->transpose, s_lo = -N, s_hi = N;
    if (lo <= hi) { /* the shifts that keep every note in 0..127 */
        if (-lo > s_lo) s_lo = -lo;
        if (127 - hi < s_hi) s_hi = 127 - hi;
    }
    int s = N > 0 ? s_lo + (int)train_rng_below(&r, (uint64_t)(s_hi - s_lo + 1)) : 0;
    if (s) train_aug_transpose(a->vocab_id, out, n_out, s);
}
