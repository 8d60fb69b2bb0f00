/* sample.c — the next token: RNG (xoroshiro128+ seeded by splitmix64),
 * temperature, top-k, top-p, min-p, and the playability masks computed from
 * the tokenizer's decoder state.
 *
 * Nothing here allocates or does I/O: scratch comes from the caller, so the
 * worker thread can sample without touching the heap. */
#include <math.h>
#include <string.h>
#include "sample.h"
#include "settings.h"

/* ---------------------------------------------------------------------------
 * RNG: xoroshiro128+ (Blackman & Vigna), state filled by splitmix64 so that
 * any 64-bit seed (0 included) gives a well-mixed non-zero state. */

uint64_t rng_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rng_seed(cn_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    r->s[0] = rng_splitmix64(&x);
    r->s[1] = rng_splitmix64(&x);
    if (!r->s[0] && !r->s[1]) r->s[1] = 1; /* all-zero is the one absorbing state */
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(cn_rng *r)
{
    uint64_t s0 = r->s[0], s1 = r->s[1];
    uint64_t out = s0 + s1;
    s1 ^= s0;
    r->s[0] = rotl(s0, 24) ^ s1 ^ (s1 << 16);
    r->s[1] = rotl(s1, 37);
    return out;
}

float rng_float(cn_rng *r)
{
    /* Top 24 bits (the low bits of xoroshiro128+ are its weak ones): exactly
     * representable in a float, so the result is in [0, 1) and never 1. */
    return (float)(rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

/* ---------------------------------------------------------------------------
 * Defaults */

void sampler_params_defaults(sampler_params *p)
{
    p->temperature = (float)settings_get(SET_TEMPERATURE)->def;
    p->top_k = 0;
    p->top_p = (float)settings_get(SET_TOP_P)->def;
    p->min_p = (float)settings_get(SET_MIN_P)->def;
}

void sampler_limits_defaults(sampler_limits *l)
{
    l->pitch_lo = 21; /* A0..C8: the piano keyboard */
    l->pitch_hi = 108;
    l->max_polyphony = 10;
    l->max_note_len = settings_get(SET_MAX_NOTE_LEN)->def;
    l->allow_specials = false;
}

/* ---------------------------------------------------------------------------
 * Masks */

/* Slack for comparing decoder times (sums of 10 ms steps in double). */
#define TIME_EPS 1e-6

void sampler_mask(const tok_decoder *d, const sampler_limits *lim, uint8_t *allowed)
{
    memset(allowed, 0, TOK_VOCAB_SIZE);

    /* A note is due when not even the smallest TIME_SHIFT fits before it
     * reaches max_note_len: then only its NOTE_OFF may come (oldest first),
     * so notes end at most one 10 ms step early and never late. */
    double remaining = INFINITY; /* s until the first sounding note hits its cap */
    int due = -1;
    if (lim->max_note_len > 0) {
        for (int p = 0; p < 128; p++) {
            if (!d->sounding[p]) continue;
            double left = d->onset[p] + lim->max_note_len - d->time;
            if (left < remaining) {
                remaining = left;
                due = p;
            }
        }
        if (remaining < TOK_TIME_STEP - TIME_EPS) {
            allowed[TOK_NOTE_OFF + due] = 1;
            return;
        }
    }

    if (lim->allow_specials)
        for (int t = TOK_BOS; t < TOK_NOTE_ON; t++) allowed[t] = 1; /* PAD stays masked */

    /* A key struck at the current time can be neither released nor struck
     * again before time moves on: either would leave a zero-length note. */
    bool fresh[128];
    for (int p = 0; p < 128; p++) fresh[p] = d->sounding[p] && d->onset[p] > d->time - TIME_EPS;

    int lo = lim->pitch_lo < 0 ? 0 : lim->pitch_lo;
    int hi = lim->pitch_hi > 127 ? 127 : lim->pitch_hi;
    bool full = lim->max_polyphony > 0 && d->n_sounding >= lim->max_polyphony;
    for (int p = lo; p <= hi; p++)
        /* a re-strike of a sounding key does not add a voice */
        if ((!full || d->sounding[p]) && !fresh[p]) allowed[TOK_NOTE_ON + p] = 1;

    for (int p = 0; p < 128; p++)
        if (d->sounding[p] && !fresh[p]) allowed[TOK_NOTE_OFF + p] = 1;

    /* TIME_SHIFT k allowed only if it does not carry a note past its cap. */
    for (int k = 1; k <= TOK_MAX_SHIFT; k++)
        if (k * TOK_TIME_STEP <= remaining + TIME_EPS) allowed[TOK_TIME_SHIFT + k] = 1;

    for (int b = 0; b < TOK_VEL_BINS; b++) allowed[TOK_VELOCITY + b] = 1;
}

void sampler_mask_vocab(const tok_decoder *d, const sampler_limits *lim, int n_vocab,
                        uint8_t *allowed)
{
    if (n_vocab > TOK_VOCAB_SIZE) memset(allowed + TOK_VOCAB_SIZE, 0, (size_t)(n_vocab - TOK_VOCAB_SIZE));
    sampler_mask(d, lim, allowed);
}

/* ---------------------------------------------------------------------------
 * Filtering: the distribution both sampler_probs and sampler_sample use.
 *
 *   1. q = softmax(logits / T) over allowed tokens with a finite logit
 *      (T <= 0: all mass on the first largest logit, and no further filter).
 *   2. top-k: keep the k most probable (ties broken by lower token id).
 *   3. top-p: over what is left, renormalized, keep the shortest
 *      most-probable-first prefix whose mass reaches top_p (at least one).
 *   4. min-p: drop tokens with q < min_p * q_max (q_max is kept; the ratio
 *      does not depend on renormalization, so the order of 3 and 4 only
 *      matters through what 3 removed).
 *   5. renormalize.
 *
 * Scratch layout: q[n] floats, spare[n] floats (unused but reserved by the
 * header's contract), order[n] ints. */

/* Does token a rank before token b: more probable, or as probable and a
 * lower id (a total order, so every filter is deterministic). */
static inline bool before(const float *q, int a, int b)
{
    return q[a] > q[b] || (q[a] == q[b] && a < b);
}

/* A heap of token ids whose root is the token ranked first. Top-k and top-p
 * only need the best few, so the tokens are popped one at a time
 * (O(n + kept * log n)) instead of fully sorted. */
static void sift_down(int *h, int n, int i, const float *q)
{
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) return;
        if (c + 1 < n && before(q, h[c + 1], h[c])) c++;
        if (!before(q, h[c], h[i])) return;
        int t = h[i]; h[i] = h[c]; h[c] = t;
        i = c;
    }
}

static void heap_build(int *h, int n, const float *q)
{
    for (int i = n / 2 - 1; i >= 0; i--) sift_down(h, n, i, q);
}

/* Moves the first-ranked of h[0..n) to h[n-1] and re-heaps h[0..n-1). */
static void heap_pop(int *h, int n, const float *q)
{
    int t = h[0]; h[0] = h[n - 1]; h[n - 1] = t;
    sift_down(h, n - 1, 0, q);
}

/* Fills q[n] with the final normalized distribution; returns how many
 * tokens have q > 0, or 0 when nothing can be sampled. */
static int filter(const float *logits, int n, const uint8_t *allowed, const sampler_params *p,
                  float *q, int *order)
{
    float mx = -INFINITY;
    int arg = -1;
    for (int i = 0; i < n; i++) {
        q[i] = 0.0f;
        if ((allowed && !allowed[i]) || !isfinite(logits[i])) continue;
        if (logits[i] > mx) {
            mx = logits[i];
            arg = i;
        }
    }
    if (arg < 0) return 0;
    if (!(p->temperature > 0.0f)) {
        q[arg] = 1.0f;
        return 1;
    }

    double sum = 0.0;
    int m = 0;
    float inv_t = 1.0f / p->temperature;
    for (int i = 0; i < n; i++) {
        if ((allowed && !allowed[i]) || !isfinite(logits[i])) continue;
        float e = expf((logits[i] - mx) * inv_t);
        q[i] = e;
        sum += e;
        if (e > 0.0f) order[m++] = i;
    }
    /* the argmax has e = 1, so m >= 1 and sum >= 1 */

    bool use_k = p->top_k > 0 && p->top_k < m;
    bool use_p = p->top_p > 0.0f && p->top_p < 1.0f;
    if (use_k || use_p) {
        /* Popped tokens collect at the end of order[], best first at
         * order[m-1]: after `popped` pops they are order[m-popped .. m-1]. */
        heap_build(order, m, q);
        int popped = 0;
        if (use_k) {
            sum = 0.0;
            for (; popped < p->top_k; popped++) {
                heap_pop(order, m - popped, q);
                sum += q[order[m - 1 - popped]];
            }
        }
        int keep = use_k ? p->top_k : m;
        if (use_p) {
            double target = (double)p->top_p * sum, acc = 0.0;
            int j = 0;
            for (;;) {
                if (j == popped) heap_pop(order, m - popped++, q);
                acc += q[order[m - 1 - j]];
                j++;
                if (acc >= target || j == keep) break;
            }
            keep = j;
            sum = acc;
        }
        for (int j = 0; j < m - keep; j++) q[order[j]] = 0.0f; /* all but the first `keep` */
        m = keep;
    }
    if (p->min_p > 0.0f) {
        /* q_max is the argmax's unnormalized 1.0 */
        float cut = p->min_p;
        sum = 0.0;
        int kept = 0;
        for (int i = 0; i < n; i++) {
            if (q[i] == 0.0f) continue;
            if (q[i] < cut) q[i] = 0.0f;
            else {
                sum += q[i];
                kept++;
            }
        }
        m = kept;
    }

    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) q[i] *= inv;
    return m;
}

void sampler_probs(const float *logits, int n, const uint8_t *allowed, const sampler_params *p,
                   float *probs, void *scratch)
{
    float *q = scratch;
    int *order = (int *)(q + 2 * (size_t)n);
    if (!filter(logits, n, allowed, p, q, order)) {
        memset(probs, 0, (size_t)n * sizeof *probs);
        return;
    }
    memcpy(probs, q, (size_t)n * sizeof *probs);
}

int sampler_sample(const float *logits, int n, const uint8_t *allowed, const sampler_params *p,
                   cn_rng *rng, void *scratch)
{
    float *q = scratch;
    int *order = (int *)(q + 2 * (size_t)n);
    if (!filter(logits, n, allowed, p, q, order)) return -1;
    /* One draw per token whatever the filters kept, so a stream's RNG
     * position does not depend on the parameters. */
    double u = rng_float(rng), acc = 0.0;
    int last = -1;
    for (int i = 0; i < n; i++) {
        if (q[i] == 0.0f) continue;
        acc += q[i];
        last = i;
        if (u < acc) return i;
    }
    return last; /* u landed in the rounding gap above the float sum */
}
