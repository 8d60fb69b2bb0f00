/* test_token_v2.c — the performance encoding v2 (engine/token_v2.c).
 *
 * Round trips are checked per role against tools/corpus/notecheck.c (its own
 * forward scan of the raw events of that role, pedals included), with its
 * tolerances: onsets within NC_ONSET_TOL (5 ms + 1e-9 s), durations within
 * NC_DUR_TOL (10 ms + 1e-9 s). Control tokens are checked against counts and
 * means computed here from the raw events with the bin edges restated from
 * token_v2.h (exact: integer counts). v1 is covered by test_token.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>
#include "token_v2.h"
#include "notecheck.h"

static void add(GArray *evs, double t, int type, int ch, int a, int b)
{
    cn_event e = {.time = t, .type = (uint8_t)type, .channel = (uint8_t)ch, .a = (uint8_t)a,
                  .b = (uint8_t)b};
    g_array_append_val(evs, e);
}

/* Random two-channel performance with pedals, re-strikes, stray note-offs
 * and rare long gaps (some over 128 s); roles drawn per NOTE_ON, a note-off
 * taking the role of the latest NOTE_ON of its channel and pitch. */
static GArray *random_duet(GRand *rng, int n_events, uint8_t **roles_out)
{
    GArray *evs = cn_events_new();
    uint8_t *roles = g_new0(uint8_t, n_events);
    uint8_t last[2][128] = {{0}};
    double t = g_rand_double_range(rng, 0, 3);
    for (int i = 0; i < n_events; i++) {
        double r = g_rand_double(rng);
        t += r < 0.005 ? g_rand_double_range(rng, 1, 200) : g_rand_double_range(rng, 0, 0.08);
        int ch = g_rand_int_range(rng, 0, 2), p = g_rand_int_range(rng, 50, 72);
        double k = g_rand_double(rng);
        if (k < 0.5) {
            add(evs, t, CN_EV_NOTE_ON, ch, p, g_rand_int_range(rng, 1, 128));
            roles[i] = last[ch][p] = (uint8_t)g_rand_int_range(rng, 0, 2);
        } else if (k < 0.92) {
            add(evs, t, CN_EV_NOTE_OFF, ch, p, 0);
            roles[i] = last[ch][p];
        } else {
            add(evs, t, CN_EV_CC, ch, 64, g_rand_int_range(rng, 0, 128));
        }
    }
    *roles_out = roles;
    return evs;
}

/* The raw events of one role: its notes, every pedal (a pedal acts on both
 * roles), and a no-op CC at the last event's time so that the reference
 * ends notes where the piece ends. */
static GArray *role_events(const GArray *evs, const uint8_t *roles, int role)
{
    GArray *out = cn_events_new();
    for (guint i = 0; i < evs->len; i++) {
        const cn_event *e = &g_array_index(evs, cn_event, i);
        bool pedal = e->type == CN_EV_CC && e->a == 64;
        if (pedal || (e->type != CN_EV_CC && roles[i] == role)) g_array_append_val(out, *e);
    }
    add(out, g_array_index(evs, cn_event, evs->len - 1).time, CN_EV_CC, 0, 1, 0);
    return out;
}

static GArray *channel_events(const GArray *evs, int ch)
{
    GArray *out = cn_events_new();
    for (guint i = 0; i < evs->len; i++)
        if (g_array_index(evs, cn_event, i).channel == ch)
            g_array_append_val(out, g_array_index(evs, cn_event, i));
    return out;
}

static double first_onset(const GArray *evs)
{
    for (guint i = 0; i < evs->len; i++) {
        const cn_event *e = &g_array_index(evs, cn_event, i);
        if (e->type == CN_EV_NOTE_ON && e->b) return e->time;
    }
    return 0;
}

/* ---- names ------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    char buf[32], v1[32];
    for (int t = 0; t < TOK2_VOCAB_SIZE; t++) {
        tok2_name(t, buf, sizeof buf);
        assert_int_equal(tok2_from_name(buf), t);
        if (t < TOK_VOCAB_SIZE) assert_string_equal(buf, tok_name(t, v1, sizeof v1));
    }
    assert_string_equal(tok2_name(TOK2_P_NOTE_ON + 60, buf, sizeof buf), "P_NOTE_ON_60");
    assert_string_equal(tok2_name(TOK2_DENSITY + 11, buf, sizeof buf), "DENSITY_11");
    assert_int_equal(tok2_from_name("DYNAMICS_8"), -1);
    assert_int_equal(tok2_from_name("P_VELOCITY_32"), -1);
    assert_int_equal(tok_from_name("P_NOTE_ON_60"), -1); /* v1 does not know v2 names */
    assert_int_equal(tok_vocab_size(1), 396);
    assert_int_equal(tok_vocab_size(2), 704);
    assert_int_equal(tok_vocab_size(3), 0);
}

/* ---- encoder ----------------------------------------------------------- */

static char *names_of(const int *t, int n)
{
    GString *s = g_string_new(NULL);
    char buf[32];
    for (int i = 0; i < n; i++)
        g_string_append_printf(s, "%s%s", i ? " " : "", tok2_name(t[i], buf, sizeof buf));
    return g_string_free(s, FALSE);
}

/* The incremental API as the session would drive it, written out by hand. */
static void test_enc_incremental(void **state)
{
    (void)state;
    tok2_encoder e;
    tok2_enc_init(&e);
    int out[TOK2_ENC_MAX_OUT], n = 0;
    cn_event on = {.time = 10.0, .type = CN_EV_NOTE_ON, .a = 60, .b = 80};
    n += tok2_enc_control(&e, 10.0, TOK2_DENSITY + 3, out + n, TOK2_ENC_MAX_OUT);
    n += tok2_enc_event(&e, &on, TOK2_ROLE_PERFORMER, out + n, TOK2_ENC_MAX_OUT);
    on.time = 10.25;
    on.a = 48;
    n += tok2_enc_event(&e, &on, TOK2_ROLE_MODEL, out + n, TOK2_ENC_MAX_OUT);
    cn_event ped = {.time = 10.3, .type = CN_EV_CC, .a = 64, .b = 127};
    n += tok2_enc_event(&e, &ped, TOK2_ROLE_MODEL, out + n, TOK2_ENC_MAX_OUT);
    cn_event off = {.time = 10.5, .type = CN_EV_NOTE_OFF, .a = 60};
    n += tok2_enc_event(&e, &off, TOK2_ROLE_PERFORMER, out + n, TOK2_ENC_MAX_OUT);
    off.a = 48; /* held by the model role's pedal: no token */
    n += tok2_enc_event(&e, &off, TOK2_ROLE_MODEL, out + n, TOK2_ENC_MAX_OUT);
    n += tok2_enc_control(&e, 12.0, TOK2_DYNAMICS + 5, out + n, TOK2_ENC_MAX_OUT);
    n += tok2_enc_flush(&e, out + n, TOK2_ENC_MAX_OUT);
    char *got = names_of(out, n);
    assert_string_equal(got, "DENSITY_3 P_VELOCITY_20 P_NOTE_ON_60 TIME_SHIFT_25 VELOCITY_20 "
                             "NOTE_ON_48 TIME_SHIFT_25 P_NOTE_OFF_60 TIME_SHIFT_100 "
                             "TIME_SHIFT_50 DYNAMICS_5 NOTE_OFF_48");
    g_free(got);
    /* -1 and nothing changed when the tokens do not fit */
    tok2_encoder copy = e;
    assert_int_equal(tok2_enc_control(&e, 20.0, TOK2_DENSITY, out, 3), -1);
    assert_memory_equal(&copy, &e, sizeof e);
}

/* Random duets: each role's notes come back on its channel as notecheck
 * derives them from that role's raw events. */
static void test_roundtrip_per_role(void **state)
{
    (void)state;
    GRand *rng = g_rand_new_with_seed(2026);
    size_t notes[2] = {0, 0};
    for (int doc = 0; doc < 30; doc++) {
        uint8_t *roles;
        GArray *evs = random_duet(rng, 3000, &roles);
        GArray *toks = tok2_encode_events(evs, roles);
        for (guint i = 0; i < toks->len; i++)
            assert_true(g_array_index(toks, int, i) > 0 && g_array_index(toks, int, i) < TOK2_VOCAB_SIZE);
        GArray *dec = tok2_decode_tokens((const int *)toks->data, toks->len, first_onset(evs), 0);
        for (int r = 0; r < 2; r++) {
            GArray *raw = role_events(evs, roles, r), *mine = channel_events(dec, r);
            GArray *ref = notecheck_reference(raw), *got = notecheck_pair(mine);
            nc_result res = {0};
            notecheck_compare(ref, got, 0, &res);
            assert_int_equal(res.n_ref, res.n_out);
            assert_int_equal(notecheck_mismatches(&res), 0);
            assert_true(res.max_onset_err <= NC_ONSET_TOL && res.max_dur_err <= NC_DUR_TOL);
            notes[r] += res.n_ref;
            g_array_free(raw, TRUE);
            g_array_free(mine, TRUE);
            g_array_free(ref, TRUE);
            g_array_free(got, TRUE);
        }
        g_array_free(dec, TRUE);
        g_array_free(toks, TRUE);
        g_array_free(evs, TRUE);
        g_free(roles);
    }
    assert_true(notes[0] > 10000 && notes[1] > 10000);
    g_rand_free(rng);
}

/* ---- controls ---------------------------------------------------------- */

/* Bin edges restated from token_v2.h: onsets per 4 s window. */
static int density_bin(int n)
{
    static const int edges[] = {1, 3, 6, 10, 14, 20, 26, 34, 44, 56, 72};
    int k = 0;
    for (int i = 0; i < 11; i++) k += n >= edges[i];
    return k;
}

/* Every control pair stands at origin + w * 4 s (w = 0, 1, ... up to the
 * last event) and says how many model-role onsets the raw events hold in
 * [T, T + 4 s) and their mean velocity / 16. */
static void test_controls_match_window(void **state)
{
    (void)state;
    GRand *rng = g_rand_new_with_seed(77);
    for (int doc = 0; doc < 20; doc++) {
        uint8_t *roles;
        GArray *evs = random_duet(rng, 2000, &roles);
        GArray *toks = tok2_encode_events(evs, roles);
        double origin = first_onset(evs), last = g_array_index(evs, cn_event, evs->len - 1).time;
        long tick = 0, windows = 0;
        for (guint i = 0; i < toks->len; i++) {
            int t = g_array_index(toks, int, i);
            if (tok_is_shift(t)) tick += t - TOK_TIME_SHIFT;
            if (!tok2_is_density(t)) continue;
            assert_int_equal(tick, windows * 400); /* 4 s = 400 ticks apart */
            double from = origin + windows * 4.0;
            int count = 0;
            double sum = 0;
            for (guint j = 0; j < evs->len; j++) {
                const cn_event *e = &g_array_index(evs, cn_event, j);
                if (e->type == CN_EV_NOTE_ON && e->b && roles[j] == 0 && e->time >= from &&
                    e->time < from + 4.0) {
                    count++;
                    sum += e->b;
                }
            }
            assert_int_equal(t - TOK2_DENSITY, density_bin(count));
            int next = i + 1 < toks->len ? g_array_index(toks, int, i + 1) : -1;
            if (count) {
                int want = (int)(sum / count) / 16;
                assert_int_equal(next, TOK2_DYNAMICS + (want > 7 ? 7 : want));
            } else {
                assert_false(tok2_is_dynamics(next));
            }
            windows++;
        }
        assert_int_equal(windows, (long)floor((last - origin) / 4.0) + 1);
        g_array_free(toks, TRUE);
        g_array_free(evs, TRUE);
        g_free(roles);
    }
    g_rand_free(rng);
    assert_int_equal(tok2_density_bin_rate(0), 0);
    assert_int_equal(tok2_density_bin_rate(2.5), density_bin(10));
}

/* ---- decoder ----------------------------------------------------------- */

/* Random v2 token streams: per channel (role), every NOTE_ON has exactly one
 * later NOTE_OFF of its pitch, and events come out in time order. */
static void test_dec_fuzz(void **state)
{
    (void)state;
    GRand *rng = g_rand_new_with_seed(5);
    for (int doc = 0; doc < 20; doc++) {
        int n = 5000, *t = g_new(int, n);
        for (int i = 0; i < n; i++) t[i] = g_rand_int_range(rng, 0, TOK2_VOCAB_SIZE);
        GArray *evs = tok2_decode_tokens(t, (size_t)n, 0.0, doc % 2 ? 3.0 : 0);
        int open[2][128] = {{0}};
        double prev = 0;
        for (guint i = 0; i < evs->len; i++) {
            const cn_event *e = &g_array_index(evs, cn_event, i);
            assert_true(e->time >= prev - 1e-12);
            prev = e->time;
            assert_true(e->channel < 2);
            if (e->type == CN_EV_NOTE_ON) assert_int_equal(open[e->channel][e->a]++, 0);
            else assert_int_equal(--open[e->channel][e->a], 0);
        }
        for (int c = 0; c < 2; c++)
            for (int p = 0; p < 128; p++) assert_int_equal(open[c][p], 0);
        g_array_free(evs, TRUE);
        g_free(t);
    }
    g_rand_free(rng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_enc_incremental),
        cmocka_unit_test(test_roundtrip_per_role),
        cmocka_unit_test(test_controls_match_window),
        cmocka_unit_test(test_dec_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
