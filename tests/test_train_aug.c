/* test_train_aug.c — augmentation of training windows (tools/train/train_aug.h).
 * The reference is the token decoder (engine/token_v2.h) and plain counting
 * over the output tokens, not the augmentation code:
 * - stretch: every decoded event of a stretched stream lies within half a
 *   10 ms tick (5 ms, + 1e-9 s for float) of f times its unstretched time,
 *   same events in the same order; each DENSITY bin equals the bin of the
 *   MODEL NOTE_ONs counted in the next 4 s of output ticks (tolerance: the
 *   count over 399..401 ticks, for onsets that round onto the window's edge);
 *   a DYNAMICS follows exactly the nonzero densities.
 * - transposition: decoded pitches move by one s, |s| <= N, none leaves
 *   0..127; near the top of the keyboard only the shifts that fit are drawn,
 *   every one of them.
 * - windows are a pure function of (file, offset, draw). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <cmocka.h>
#include "train_aug.h"
#include "token_v2.h"

static void add(GArray *evs, double t, int type, int ch, int a, int b)
{
    cn_event e = {.time = t, .type = (uint8_t)type, .channel = (uint8_t)ch, .a = (uint8_t)a,
                  .b = (uint8_t)b};
    g_array_append_val(evs, e);
}

/* A two-role piece, n notes, gaps 0..0.4 s with a few 3 s rests; tokens
 * (v2, BOS first) in a GArray of uint16. lo..hi: pitch range. */
static GArray *duet_tokens(int n, int lo, int hi, guint32 seed)
{
    GRand *rng = g_rand_new_with_seed(seed);
    GArray *evs = cn_events_new();
    GArray *offs = cn_events_new();
    double t = 0.5;
    for (int i = 0; i < n; i++) {
        t += g_rand_int_range(rng, 0, 40) == 0 ? 3.0 : g_rand_double_range(rng, 0, 0.4);
        int p = g_rand_int_range(rng, lo, hi + 1), ch = g_rand_int_range(rng, 0, 2);
        add(evs, t, CN_EV_NOTE_ON, ch, p, g_rand_int_range(rng, 20, 120));
        add(offs, t + g_rand_double_range(rng, 0.05, 0.6), CN_EV_NOTE_OFF, ch, p, 0);
    }
    g_array_append_vals(evs, offs->data, offs->len);
    cn_events_sort(evs);
    uint8_t *roles = g_new0(uint8_t, evs->len);
    for (guint i = 0; i < evs->len; i++) roles[i] = g_array_index(evs, cn_event, i).channel;
    GArray *tok = tok2_encode_events(evs, roles);
    GArray *out = g_array_new(FALSE, FALSE, sizeof(uint16_t));
    uint16_t bos = TOK_BOS;
    g_array_append_val(out, bos);
    for (guint i = 0; i < tok->len; i++) {
        uint16_t v = (uint16_t)g_array_index(tok, int, i);
        g_array_append_val(out, v);
    }
    g_array_free(tok, TRUE);
    g_free(roles);
    g_array_free(offs, TRUE);
    g_array_free(evs, TRUE);
    g_rand_free(rng);
    return out;
}

static GArray *decode(const uint16_t *tok, int n)
{
    int *ti = g_new(int, n);
    for (int i = 0; i < n; i++) ti[i] = tok[i];
    GArray *evs = tok2_decode_tokens(ti, n, 0.0, 0.0);
    g_free(ti);
    return evs;
}

/* MODEL NOTE_ONs in [u0, u0 + w) ticks of tok, or -1 when tok ends first. */
static int onsets_in(const uint16_t *tok, int n, int from, int w)
{
    long u = 0;
    int c = 0;
    for (int i = from + 1; i < n; i++) {
        if (tok_is_shift(tok[i])) u += tok[i] - TOK_TIME_SHIFT;
        if (u >= w) return c;
        if (tok_is_note_on(tok[i])) c++;
    }
    return -1;
}

static void check_stretch(double f)
{
    GArray *src = duet_tokens(700, 40, 90, 7);
    int n = (int)src->len, cap = 2 * n;
    uint16_t *out = g_new(uint16_t, cap);
    const uint16_t *s = (const uint16_t *)src->data;
    int got = train_aug_stretch(TOK2_VOCAB_ID, s, 0, n, f, out, cap);
    assert_true(got > n / 2 && got < cap);

    GArray *a = decode(s, n), *b = decode(out, got);
    /* the stretched stream may end before the source's trailing gap */
    assert_true(b->len <= a->len && b->len + 260 >= a->len);
    double worst = 0.0;
    for (guint i = 0; i < b->len; i++) {
        cn_event *x = &g_array_index(a, cn_event, i), *y = &g_array_index(b, cn_event, i);
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->channel, y->channel);
        assert_int_equal(x->a, y->a);
        double e = fabs(y->time - f * x->time);
        if (e > worst) worst = e;
    }
    assert_true(worst <= 0.005 + 1e-9);

    int checked = 0, changed = 0, k = 0;
    for (int i = 0; i < got; i++) {
        if (!tok2_is_density(out[i])) continue;
        int bin = out[i] - TOK2_DENSITY;
        assert_true(i + 1 < got);
        if (bin > 0) assert_true(tok2_is_dynamics(out[i + 1]));
        else assert_false(tok2_is_dynamics(out[i + 1]));
        int c_lo = onsets_in(out, got, i, 399), c_hi = onsets_in(out, got, i, 401);
        if (c_hi < 0) continue; /* the stream ends within 4 s */
        assert_true(bin >= tok2_density_bin(c_lo) && bin <= tok2_density_bin(c_hi));
        checked++;
        /* beside the source's k-th control */
        for (; k < n && !tok2_is_density(s[k]); k++) {}
        if (k < n && s[k] != out[i]) changed++;
        k++;
    }
    assert_true(checked > 20);
    print_message("  f %.3f: %d -> %d tokens, worst time error %.4f s, %d DENSITY checked, "
                  "%d changed by the stretch\n", f, n, got, worst, checked, changed);
    g_array_free(a, TRUE);
    g_array_free(b, TRUE);
    g_free(out);
    g_array_free(src, TRUE);
}

static void test_stretch(void **state)
{
    (void)state;
    check_stretch(0.95);
    check_stretch(1.05);
    check_stretch(1.2); /* large: gaps over 1 s split into two shifts */
    check_stretch(1.0);
}

static tokfile as_tokfile(GArray *tok)
{
    tokfile tf = {.tokens = (uint16_t *)tok->data, .n_tokens = tok->len, .vocab_id = TOK2_VOCAB_ID};
    return tf;
}

/* The one shift between the decoded pitches of a and b (T + 1 tokens each). */
static int pitch_shift(const uint16_t *a, const uint16_t *b, int n)
{
    GArray *x = decode(a, n), *y = decode(b, n);
    assert_int_equal(x->len, y->len);
    int s = 999;
    for (guint i = 0; i < x->len; i++) {
        cn_event *p = &g_array_index(x, cn_event, i), *q = &g_array_index(y, cn_event, i);
        assert_true(p->time == q->time);
        int d = (int)q->a - (int)p->a;
        if (s == 999) s = d;
        assert_int_equal(d, s);
    }
    g_array_free(x, TRUE);
    g_array_free(y, TRUE);
    return s;
}

static void test_transpose(void **state)
{
    (void)state;
    enum { W = 257 };
    uint16_t out[W];
    /* a window in the middle of the keyboard: every shift of -3..3 is drawn */
    GArray *mid = duet_tokens(300, 40, 90, 3);
    tokfile tf = as_tokfile(mid);
    train_aug a = {.transpose = 3, .stretch = 0.0f, .vocab_id = TOK2_VOCAB_ID};
    int seen[7] = {0};
    for (uint64_t d = 0; d < 200; d++) {
        size_t off = (size_t)(d * 37 % (tf.n_tokens - W));
        train_aug_window(&a, &tf, off, W, d, out);
        int s = pitch_shift(tf.tokens + off, out, W);
        assert_true(s >= -3 && s <= 3);
        seen[s + 3]++;
        /* a pure function of (file, offset, draw) */
        uint16_t again[W];
        train_aug_window(&a, &tf, off, W, d, again);
        assert_memory_equal(out, again, sizeof out);
    }
    for (int i = 0; i < 7; i++) assert_true(seen[i] > 10); /* 200/7 = 29 expected */
    g_array_free(mid, TRUE);

    /* near the top: pitches up to 126 leave shifts -3..1 only, all drawn */
    GArray *top = duet_tokens(300, 100, 126, 4);
    tf = as_tokfile(top);
    int hi_seen = -9, lo_seen = 9;
    for (uint64_t d = 0; d < 200; d++) {
        train_aug_window(&a, &tf, 0, W, d, out);
        int maxp = 0;
        for (int i = 0; i < W; i++)
            if (tok2_is_note_on(out[i])) {
                int p = out[i] >= TOK2_P_NOTE_ON ? out[i] - TOK2_P_NOTE_ON : out[i] - TOK_NOTE_ON;
                if (p > maxp) maxp = p;
            }
        assert_true(maxp <= 127);
        int s = pitch_shift(tf.tokens, out, W);
        if (s > hi_seen) hi_seen = s;
        if (s < lo_seen) lo_seen = s;
    }
    int top_pitch = 0;
    for (int i = 0; i < W; i++)
        if (tok_is_note_on(tf.tokens[i]) || tok_is_note_off(tf.tokens[i]))
            top_pitch = MAX(top_pitch, (tf.tokens[i] - TOK_NOTE_ON) & 127);
        else if (tf.tokens[i] >= TOK2_P_NOTE_ON && tf.tokens[i] < TOK2_P_NOTE_OFF + 128)
            top_pitch = MAX(top_pitch, (tf.tokens[i] - TOK2_P_NOTE_ON) & 127);
    assert_int_equal(hi_seen, MIN(3, 127 - top_pitch));
    assert_int_equal(lo_seen, -3);
    print_message("  top pitch %d: shifts %d..%d drawn\n", top_pitch, lo_seen, hi_seen);
    g_array_free(top, TRUE);
}

/* Both together on a v1 stream (no controls): times and pitches as above. */
static void test_v1_both(void **state)
{
    (void)state;
    GArray *v2 = duet_tokens(400, 30, 100, 9);
    /* v1: the model role's notes, shifts, velocities, specials */
    GArray *v1 = g_array_new(FALSE, FALSE, sizeof(uint16_t));
    for (guint i = 0; i < v2->len; i++) {
        uint16_t t = g_array_index(v2, uint16_t, i);
        if (t < TOK_VOCAB_SIZE) g_array_append_val(v1, t);
    }
    tokfile tf = {.tokens = (uint16_t *)v1->data, .n_tokens = v1->len, .vocab_id = TOK_VOCAB_ID};
    train_aug a = {.transpose = 5, .stretch = 0.1f, .vocab_id = TOK_VOCAB_ID};
    enum { W = 301 };
    uint16_t out[W];
    for (uint64_t d = 1; d < 40; d++) {
        train_aug_window(&a, &tf, 100, W, d, out);
        for (int i = 0; i < W; i++) assert_true(out[i] < TOK_VOCAB_SIZE);
        int *ti = g_new(int, W);
        for (int i = 0; i < W; i++) ti[i] = out[i];
        GArray *e = tok_decode_tokens_full(ti, W, 0.0, 0, 0.0);
        assert_true(e->len > 50);
        g_free(ti);
        g_array_free(e, TRUE);
    }
    g_array_free(v1, TRUE);
    g_array_free(v2, TRUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stretch),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_v1_both),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
