/* test_session_v2.c — the session and the offline continuation with a
 * vocabulary-v2 model (random weights): the performer's notes enter the
 * stream in the performer role, a DENSITY/DYNAMICS pair stands every
 * TOK2_WINDOW s with the bins recomputed here from the performer's input,
 * the model never samples a performer note or a control, and its output is
 * paired notes on model_channel. v1 behaviour is test_session.c's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <glib/gstdio.h>
#include <cmocka.h>
#include "session.h"
#include "session_debug.h"
#include "continuation.h"
#include "token_v2.h"
#include "test_models.h"

#define DT 0.01
#define MODEL_CH 1
#define T0 0.13     /* the first performer note: the stream's origin */
#define T_END 30.0
#define EPS 1e-6

static char *model_path;

static model *model_v2(void)
{
    model_config c;
    test_model_small_config(&c, 8192);
    c.vocab_size = TOK2_VOCAB_SIZE, c.vocab_id = TOK2_VOCAB_ID;
    float *p = model_random_params(&c, 7, 0.02f);
    model_path = test_model_write(&c, p, "continuo-test-session-v2");
    g_free(p);
    GError *err = NULL;
    model *m = model_load(model_path, &err);
    if (!m) fail_msg("%s", err->message);
    return m;
}

/* The performer: a note every 0.25 s, then every 0.5 s from 15 s, off the
 * 4 s grid (0.3 + 0.25 i past T0), velocities 40..119. */
static GArray *performer(void)
{
    GArray *ev = cn_events_new();
    double t = T0;
    for (int i = 0; t < T_END - 1; i++) {
        uint8_t v = (uint8_t)(40 + (i * 7) % 80), p = (uint8_t)(60 + i % 12);
        cn_event on = {t, CN_EV_NOTE_ON, 0, p, v}, off = {t + 0.1, CN_EV_NOTE_OFF, 0, p, 0};
        g_array_append_val(ev, on);
        g_array_append_val(ev, off);
        t = i == 0 ? T0 + 0.3 : t + (t < 15 ? 0.25 : 0.5);
    }
    return ev;
}

static int expected_density(const GArray *ev, double b, double ratio, double *vel)
{
    int n = 0;
    double sum = 0;
    for (guint i = 0; i < ev->len; i++) {
        const cn_event *e = &g_array_index(ev, cn_event, i);
        if (e->type == CN_EV_NOTE_ON && e->time >= b - 8 - EPS && e->time < b - EPS) n++, sum += e->b;
    }
    if (b < T0 + EPS) { /* before the performer: the preset's solo target */
        *vel = 64;
        return tok2_density_bin_rate(6.0);
    }
    *vel = n ? sum / n : 0;
    return tok2_density_bin_rate(n / 8.0 * ratio);
}

static void test_accompany_v2(void **state)
{
    (void)state;
    model *m = model_v2();
    session_config c;
    session_config_defaults(&c);
    c.mode = SESSION_ACCOMPANY;
    c.model_channel = MODEL_CH;
    GError *err = NULL;
    session *s = session_new(&c, m, &err);
    assert_non_null(s);
    GArray *in = performer(), *out = cn_events_new();
    cn_event buf[64];
    guint next = 0;
    for (double now = 0; now < T_END; now += DT) {
        while (next < in->len && g_array_index(in, cn_event, next).time <= now + EPS)
            session_input(s, &g_array_index(in, cn_event, next++));
        session_step(s, now);
        int n;
        while ((n = session_take_due(s, now, now + 2 * DT, buf, 64)) > 0) g_array_append_vals(out, buf, (guint)n);
    }
    /* the stream: controls every 4 s with the bins of the performer's input */
    int n_tok;
    double t;
    const int *tok = session_tokens(s, &n_tok, &t);
    int controls = 0, p_on = 0, performer_on = 0;
    double last_b = -INFINITY;
    for (int i = 0; i < n_tok; i++) {
        if (tok_is_shift(tok[i])) t += (tok[i] - TOK_TIME_SHIFT) * TOK_TIME_STEP;
        if (tok[i] >= TOK2_P_NOTE_ON && tok[i] < TOK2_P_NOTE_ON + 128) p_on++;
        assert_false(tok2_is_dynamics(tok[i]) && !(i > 0 && tok2_is_density(tok[i - 1])));
        if (!tok2_is_density(tok[i])) continue;
        double vel, b = t;
        int want = expected_density(in, b, 3.0, &vel);
        if (want != tok[i] - TOK2_DENSITY) fail_msg("control at %.2f s: DENSITY_%d, expected %d", b, tok[i] - TOK2_DENSITY, want);
        if (want > 0) assert_int_equal(tok[i + 1], TOK2_DYNAMICS + tok2_dynamics_bin(vel));
        else assert_false(tok2_is_dynamics(tok[i + 1]));
        if (controls) assert_true(fabs(b - last_b - TOK2_WINDOW) < EPS); /* one pair per window, no sampled one */
        else assert_true(fabs(b) < EPS); /* the clock starts at the first session_step, now 0 */
        last_b = b;
        controls++;
    }
    for (guint i = 0; i < in->len; i++) performer_on += g_array_index(in, cn_event, i).type == CN_EV_NOTE_ON;
    assert_int_equal(p_on, performer_on); /* every performer note, in its role; none sampled */
    assert_true(controls >= (int)floor((T_END - 1) / TOK2_WINDOW)); /* up to the last performer note */
    /* the output: model notes on model_channel, each ended */
    session_panic(s, T_END);
    int n;
    while ((n = session_take_due(s, T_END, INFINITY, buf, 64)) > 0) g_array_append_vals(out, buf, (guint)n);
    int sounding[128] = {0}, notes = 0;
    for (guint i = 0; i < out->len; i++) {
        const cn_event *e = &g_array_index(out, cn_event, i);
        assert_int_equal(e->channel, MODEL_CH);
        if (e->type == CN_EV_NOTE_ON && e->b) sounding[e->a]++, notes++;
        else if (e->type == CN_EV_NOTE_OFF || e->type == CN_EV_NOTE_ON) sounding[e->a]--;
    }
    for (int p = 0; p < 128; p++) assert_int_equal(sounding[p], 0);
    assert_true(notes > 0);
    session_free(s);
    g_array_free(in, TRUE);
    g_array_free(out, TRUE);
    model_free(m);
    g_unlink(model_path);
    g_free(model_path);
}

/* The continuation's prompt: the primer's own windows' controls, then the
 * target (the primer's last 8 s) in the window holding its end. */
static void test_continuation_prompt(void **state)
{
    (void)state;
    GArray *ev = performer(); /* 29 s of primer */
    GArray *v1 = tok_encode_events(ev);
    double end = g_array_index(ev, cn_event, ev->len - 1).time;
    continuation_params p = {.seconds = 2};
    continuation_result r = {0};
    int ctrl[2], n_ctrl;
    GArray *toks = continuation_prompt_v2(v1, T0, end, &p, &r, ctrl, &n_ctrl);
    double t = T0;
    int pairs = 0;
    for (guint i = 0; i < toks->len; i++) {
        int k = g_array_index(toks, int, i);
        assert_false(tok2_role(k) == TOK2_ROLE_PERFORMER);
        if (tok_is_shift(k)) t += (k - TOK_TIME_SHIFT) * TOK_TIME_STEP;
        if (!tok2_is_density(k)) continue;
        int n = 0;
        double sum = 0, from = t, to = t + TOK2_WINDOW;
        if (to > end) from = end - 8, to = end; /* the last window: the target */
        for (guint j = 0; j < ev->len; j++) {
            const cn_event *e = &g_array_index(ev, cn_event, j);
            /* velocities as the v1 primer tokens carry them: bin b -> 4b + 2 */
            if (e->type == CN_EV_NOTE_ON && e->time >= from - EPS && e->time < to - EPS)
                n++, sum += tok_bin_velocity(tok_velocity_bin(e->b));
        }
        int want = to == end ? tok2_density_bin_rate(n / 8.0) : tok2_density_bin(n);
        assert_int_equal(k - TOK2_DENSITY, want);
        if (want) assert_int_equal(g_array_index(toks, int, i + 1), TOK2_DYNAMICS + tok2_dynamics_bin(sum / n));
        pairs++;
    }
    assert_int_equal(pairs, (int)floor((end - T0) / TOK2_WINDOW) + 1);
    assert_int_equal(r.density_bin, ctrl[0] - TOK2_DENSITY);
    g_array_free(toks, TRUE);
    g_array_free(v1, TRUE);
    g_array_free(ev, TRUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accompany_v2),
        cmocka_unit_test(test_continuation_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
