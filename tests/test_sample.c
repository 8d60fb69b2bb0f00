/* test_sample.c — the sampler (engine/sample.c) against independent
 * computations: known RNG values, a chi-square test of the drawn
 * frequencies, brute-force top-k / top-p / min-p in double precision,
 * greedy limits, and masks driving a real tok_decoder for 100k draws. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>
#include "sample.h"
#include "token.h"

#define N TOK_VOCAB_SIZE
static unsigned char scratch[SAMPLER_SCRATCH_BYTES(N)];

/* The test's own generator for logits (a 64-bit LCG, Knuth's MMIX constants),
 * kept apart from the RNG under test. */
static uint64_t lcg_state;
static double lcg_uniform(void)
{
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg_state >> 11) * (1.0 / 9007199254740992.0);
}
static double lcg_normal(void)
{
    double u = lcg_uniform(), v = lcg_uniform();
    return sqrt(-2.0 * log(u + 1e-300)) * cos(2 * M_PI * v);
}
static void random_logits(float *l, int n, double scale)
{
    for (int i = 0; i < n; i++) l[i] = (float)(scale * lcg_normal());
}

/* ---- brute force reference (double, O(n^2), written apart from sample.c) --- */

/* keep[i] = 1 if token i survives; probs = final distribution. Returns the
 * margin by which the top-p decision was made (small = ambiguous in float). */
static double brute_force(const float *logits, int n, const uint8_t *allowed,
                          const sampler_params *p, double *probs, uint8_t *keep)
{
    double q[N], mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (!allowed || allowed[i]) mx = fmax(mx, logits[i]);
    double sum = 0;
    for (int i = 0; i < n; i++) {
        q[i] = (!allowed || allowed[i]) ? exp(((double)logits[i] - mx) / p->temperature) : 0.0;
        sum += q[i];
    }
    for (int i = 0; i < n; i++) {
        q[i] /= sum;
        keep[i] = q[i] > 0;
    }
    /* rank: how many tokens come before i (more probable, or equal and lower id) */
    int rank[N];
    for (int i = 0; i < n; i++) {
        rank[i] = 0;
        for (int j = 0; j < n; j++)
            if (keep[j] && (q[j] > q[i] || (q[j] == q[i] && j < i))) rank[i]++;
    }
    if (p->top_k > 0)
        for (int i = 0; i < n; i++)
            if (rank[i] >= p->top_k) keep[i] = 0;
    double margin = INFINITY;
    if (p->top_p < 1.0f) {
        double mass = 0;
        for (int i = 0; i < n; i++)
            if (keep[i]) mass += q[i];
        uint8_t k2[N];
        for (int i = 0; i < n; i++) {
            if (!keep[i]) { k2[i] = 0; continue; }
            double before = 0; /* renormalized mass ranked strictly before i */
            for (int j = 0; j < n; j++)
                if (keep[j] && rank[j] < rank[i]) before += q[j];
            before /= mass;
            k2[i] = before < p->top_p;
            margin = fmin(margin, fabs(before - p->top_p));
        }
        memcpy(keep, k2, sizeof k2);
    }
    if (p->min_p > 0) {
        double qmax = 0;
        for (int i = 0; i < n; i++) qmax = fmax(qmax, q[i]);
        for (int i = 0; i < n; i++)
            if (keep[i] && q[i] < p->min_p * qmax) keep[i] = 0;
        for (int i = 0; i < n; i++)
            if (q[i] > 0) margin = fmin(margin, fabs(q[i] / qmax - p->min_p));
    }
    double s = 0;
    for (int i = 0; i < n; i++) s += keep[i] ? q[i] : 0;
    for (int i = 0; i < n; i++) probs[i] = keep[i] ? q[i] / s : 0;
    return margin;
}

/* ---- RNG ------------------------------------------------------------------ */

static void test_rng_known_values(void **state)
{
    (void)state;
    cn_rng r;
    /* splitmix64 from seed 0: its published first two outputs */
    rng_seed(&r, 0);
    assert_true(r.s[0] == 0xe220a8397b1dcdafull);
    assert_true(r.s[1] == 0x6e789e6aa1b965f4ull);
    /* xoroshiro128+ (24, 16, 37) from state {1, 2}, worked by hand:
     * out = 1 + 2 = 3; s0' = rotl(1,24) ^ 3 ^ (3 << 16) = 0x1030003;
     * s1' = rotl(3, 37) = 0x6000000000; next out = s0' + s1'. */
    r.s[0] = 1;
    r.s[1] = 2;
    assert_true(rng_next(&r) == 3);
    assert_true(r.s[0] == 0x1030003ull && r.s[1] == 0x6000000000ull);
    assert_true(rng_next(&r) == 0x6001030003ull);
}

/* Upper critical value of chi-square with df degrees of freedom at the
 * standard-normal quantile z (Wilson-Hilferty; within ~1% for df >= 10). */
static double chi2_crit(int df, double z)
{
    double a = 2.0 / (9.0 * df);
    return df * pow(1 - a + z * sqrt(a), 3);
}
#define Z_1E6 4.753 /* P(Z > 4.753) = 1e-6: a correct sampler fails once in a million seeds */

static void test_rng_float_uniform(void **state)
{
    (void)state;
    cn_rng r;
    rng_seed(&r, 12345);
    enum { BINS = 64, DRAWS = 640000 };
    long c[BINS] = {0};
    for (int i = 0; i < DRAWS; i++) {
        float u = rng_float(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        c[(int)(u * BINS)]++;
    }
    double e = (double)DRAWS / BINS, chi2 = 0;
    for (int b = 0; b < BINS; b++) chi2 += (c[b] - e) * (c[b] - e) / e;
    print_message("rng_float: chi2 %.1f, df %d, bound %.1f\n", chi2, BINS - 1,
                  chi2_crit(BINS - 1, Z_1E6));
    assert_true(chi2 < chi2_crit(BINS - 1, Z_1E6));
}

/* ---- frequencies ------------------------------------------------------------ */

/* Draws `draws` tokens and checks the counts against sampler_probs with a
 * chi-square test (bins with expected count < 5 pooled into one), that
 * sampler_probs matches the brute force within 2e-5, and that no token
 * of probability 0 is ever drawn. */
static void check_frequencies(const char *name, const float *logits, int n,
                              const uint8_t *allowed, const sampler_params *p, uint64_t seed,
                              int draws)
{
    float probs[N];
    double ref[N];
    uint8_t keep[N];
    sampler_probs(logits, n, allowed, p, probs, scratch);
    brute_force(logits, n, allowed, p, ref, keep);
    double total = 0;
    for (int i = 0; i < n; i++) {
        assert_true(fabs(probs[i] - ref[i]) < 2e-5);
        total += probs[i];
    }
    assert_true(fabs(total - 1.0) < 1e-5);

    long count[N] = {0};
    cn_rng r;
    rng_seed(&r, seed);
    for (int d = 0; d < draws; d++) {
        int t = sampler_sample(logits, n, allowed, p, &r, scratch);
        assert_true(t >= 0 && t < n);
        count[t]++;
    }
    double chi2 = 0, pool_e = 0;
    long pool_c = 0;
    int bins = 0, support = 0;
    for (int i = 0; i < n; i++) {
        if (probs[i] == 0.0f) {
            assert_int_equal(count[i], 0);
            continue;
        }
        support++;
        double e = probs[i] * draws;
        if (e < 5) {
            pool_e += e;
            pool_c += count[i];
            continue;
        }
        chi2 += (count[i] - e) * (count[i] - e) / e;
        bins++;
    }
    if (pool_e > 0) {
        chi2 += (pool_c - pool_e) * (pool_c - pool_e) / pool_e;
        bins++;
    }
    int df = bins - 1;
    double crit = df >= 1 ? chi2_crit(df, Z_1E6) : 0;
    print_message("%-22s support %3d, chi2 %7.1f, df %3d, bound %6.1f\n", name, support, chi2,
                  df, crit);
    if (df >= 1) assert_true(chi2 < crit);
}

static void test_frequencies(void **state)
{
    (void)state;
    float logits[N];
    lcg_state = 7;
    random_logits(logits, N, 1.5);
    uint8_t allowed[N];
    for (int i = 0; i < N; i++) allowed[i] = (i % 3) != 0;

    enum { DRAWS = 100000 };
    check_frequencies("T=1", logits, N, NULL, &(sampler_params){1.0f, 0, 1.0f, 0.0f}, 1, DRAWS);
    check_frequencies("T=0.6 top-k 40", logits, N, NULL,
                      &(sampler_params){0.6f, 40, 1.0f, 0.0f}, 2, DRAWS);
    check_frequencies("T=1.4 top-p 0.8", logits, N, NULL,
                      &(sampler_params){1.4f, 0, 0.8f, 0.0f}, 3, DRAWS);
    check_frequencies("T=1 min-p 0.05", logits, N, NULL,
                      &(sampler_params){1.0f, 0, 1.0f, 0.05f}, 4, DRAWS);
    check_frequencies("masked, all filters", logits, N, allowed,
                      &(sampler_params){0.9f, 100, 0.9f, 0.02f}, 5, DRAWS);
}

/* A sampler that ignored the temperature must fail the same test: the test
 * can tell distributions apart. */
static void test_frequencies_detect_wrong(void **state)
{
    (void)state;
    float logits[N];
    lcg_state = 11;
    random_logits(logits, N, 1.0);
    sampler_params drawn = {1.0f, 0, 1.0f, 0.0f}, claimed = {1.15f, 0, 1.0f, 0.0f};
    float probs[N];
    sampler_probs(logits, N, NULL, &claimed, probs, scratch);
    long count[N] = {0};
    cn_rng r;
    rng_seed(&r, 9);
    enum { DRAWS = 100000 };
    for (int d = 0; d < DRAWS; d++) count[sampler_sample(logits, N, NULL, &drawn, &r, scratch)]++;
    double chi2 = 0;
    for (int i = 0; i < N; i++) {
        double e = probs[i] * DRAWS;
        chi2 += (count[i] - e) * (count[i] - e) / e;
    }
    print_message("T=1 draws vs T=1.15 probs: chi2 %.1f (bound %.1f)\n", chi2,
                  chi2_crit(N - 1, Z_1E6));
    assert_true(chi2 > chi2_crit(N - 1, Z_1E6));
}

/* ---- filters: exactly the right tokens -------------------------------------- */

static void test_filters_hand(void **state)
{
    (void)state;
    /* probabilities 0.4 0.3 0.2 0.1 (and a masked token 4 that would be top) */
    float l[5] = {logf(0.4f), logf(0.3f), logf(0.2f), logf(0.1f), 10.0f};
    uint8_t a[5] = {1, 1, 1, 1, 0};
    float pr[5];
    unsigned char sc[SAMPLER_SCRATCH_BYTES(5)];
    struct { sampler_params p; uint8_t want[5]; } cases[] = {
        {{1, 0, 1.0f, 0}, {1, 1, 1, 1, 0}},
        {{1, 2, 1.0f, 0}, {1, 1, 0, 0, 0}},
        {{1, 0, 0.65f, 0}, {1, 1, 0, 0, 0}},
        {{1, 0, 0.75f, 0}, {1, 1, 1, 0, 0}},
        {{1, 0, 0.3f, 0}, {1, 0, 0, 0, 0}},
        {{1, 0, 1.0f, 0.3f}, {1, 1, 1, 0, 0}},  /* keep p >= 0.12 */
        {{1, 0, 1.0f, 0.6f}, {1, 1, 0, 0, 0}},  /* keep p >= 0.24 */
        {{1, 3, 0.5f, 0.0f}, {1, 1, 0, 0, 0}},  /* top-p over {.4,.3,.2}/.9 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sampler_probs(l, 5, a, &cases[c].p, pr, sc);
        for (int i = 0; i < 5; i++) assert_int_equal(pr[i] > 0, cases[c].want[i]);
    }
}

static void test_filters_brute_force(void **state)
{
    (void)state;
    lcg_state = 2024;
    int checked = 0, skipped = 0;
    for (int c = 0; c < 300; c++) {
        float logits[N];
        random_logits(logits, N, 0.5 + 3.0 * lcg_uniform());
        uint8_t allowed[N];
        bool use_mask = c % 4 == 3;
        for (int i = 0; i < N; i++) allowed[i] = lcg_uniform() < 0.7;
        allowed[(int)(lcg_uniform() * N)] = 1;
        sampler_params p = {
            .temperature = (float)(0.3 + 1.5 * lcg_uniform()),
            .top_k = c % 3 == 0 ? 0 : 1 + (int)(lcg_uniform() * 120),
            .top_p = c % 5 == 0 ? 1.0f : (float)(0.3 + 0.69 * lcg_uniform()),
            .min_p = c % 2 == 0 ? 0.0f : (float)(0.2 * lcg_uniform()),
        };
        double ref[N];
        uint8_t keep[N];
        double margin = brute_force(logits, N, use_mask ? allowed : NULL, &p, ref, keep);
        if (margin < 1e-5) { /* float vs double could decide either way */
            skipped++;
            continue;
        }
        float probs[N];
        sampler_probs(logits, N, use_mask ? allowed : NULL, &p, probs, scratch);
        for (int i = 0; i < N; i++) {
            if ((probs[i] > 0) != keep[i])
                fail_msg("case %d token %d: sampler keeps %d, brute force %d", c, i,
                         probs[i] > 0, keep[i]);
            assert_true(fabs(probs[i] - ref[i]) < 2e-5);
        }
        checked++;
    }
    print_message("filters: %d cases agree, %d skipped as float-ambiguous\n", checked, skipped);
    assert_true(skipped < 15);
}

/* ---- temperature -> 0 ------------------------------------------------------- */

static void test_greedy(void **state)
{
    (void)state;
    float logits[N];
    lcg_state = 99;
    random_logits(logits, N, 1.0);
    int best = 0;
    for (int i = 1; i < N; i++)
        if (logits[i] > logits[best]) best = i;
    /* make the best clear by 0.05 so a small temperature is decisive */
    logits[best] += 0.05f;
    uint8_t allowed[N];
    memset(allowed, 1, N);
    allowed[best] = 0;
    int second = -1;
    for (int i = 0; i < N; i++)
        if (allowed[i] && (second < 0 || logits[i] > logits[second])) second = i;

    cn_rng r;
    rng_seed(&r, 5);
    for (int d = 0; d < 2000; d++) {
        assert_int_equal(sampler_sample(logits, N, NULL, &(sampler_params){0.0f, 0, 1.0f, 0}, &r,
                                        scratch), best);
        /* T = 1e-4: the runner-up is exp(-0.05 / 1e-4) = e^-500 times as likely */
        assert_int_equal(sampler_sample(logits, N, NULL, &(sampler_params){1e-4f, 0, 1.0f, 0}, &r,
                                        scratch), best);
        assert_int_equal(sampler_sample(logits, N, allowed, &(sampler_params){0.0f, 0, 1.0f, 0},
                                        &r, scratch), second);
        assert_int_equal(sampler_sample(logits, N, NULL, &(sampler_params){1.0f, 1, 1.0f, 0}, &r,
                                        scratch), best);
    }
}

static void test_nothing_allowed(void **state)
{
    (void)state;
    float logits[N];
    for (int i = 0; i < N; i++) logits[i] = 0;
    uint8_t none[N];
    memset(none, 0, N);
    cn_rng r;
    rng_seed(&r, 1);
    sampler_params p = {1, 0, 1, 0};
    assert_int_equal(sampler_sample(logits, N, none, &p, &r, scratch), -1);
    for (int i = 0; i < N; i++) logits[i] = i == 7 ? NAN : -INFINITY;
    assert_int_equal(sampler_sample(logits, N, NULL, &p, &r, scratch), -1);
    logits[9] = 0.0f; /* the only finite logit */
    for (int d = 0; d < 100; d++) assert_int_equal(sampler_sample(logits, N, NULL, &p, &r, scratch), 9);
}

/* ---- determinism ------------------------------------------------------------ */

static void test_determinism(void **state)
{
    (void)state;
    float logits[N];
    lcg_state = 3;
    random_logits(logits, N, 1.0);
    sampler_params p = {0.9f, 50, 0.95f, 0.01f};
    int a[1000], b[1000], c[1000];
    cn_rng r1, r2, r3;
    rng_seed(&r1, 42);
    rng_seed(&r2, 42);
    rng_seed(&r3, 43);
    for (int i = 0; i < 1000; i++) a[i] = sampler_sample(logits, N, NULL, &p, &r1, scratch);
    for (int i = 0; i < 1000; i++) b[i] = sampler_sample(logits, N, NULL, &p, &r2, scratch);
    for (int i = 0; i < 1000; i++) c[i] = sampler_sample(logits, N, NULL, &p, &r3, scratch);
    assert_memory_equal(a, b, sizeof a);
    int same = 0;
    for (int i = 0; i < 1000; i++) same += a[i] == c[i];
    assert_true(same < 900); /* another seed gives another stream */
}

/* ---- masks driving a real decoder ------------------------------------------ */

static void test_masks_with_decoder(void **state)
{
    (void)state;
    const sampler_limits lim = {.pitch_lo = 40, .pitch_hi = 80, .max_polyphony = 4,
                                .max_note_len = 0.5, .allow_specials = false};
    tok_decoder d;
    /* The decoder's own cap is off: only the mask may keep notes short. */
    tok_dec_init(&d, 0.0, 0, 0.0);
    cn_rng r;
    rng_seed(&r, 77);
    lcg_state = 5;
    uint8_t allowed[N];
    float logits[N];
    sampler_params p = {1.0f, 0, 1.0f, 0.0f};

    /* the test's own view of what sounds, from the decoder's events */
    bool on[128] = {false};
    double since[128];
    int n_on = 0, max_on = 0, hit_poly = 0, forced_len = 0, n_notes = 0;
    cn_event ev[TOK_DEC_MAX_OUT];
    enum { DRAWS = 100000 };
    for (int i = 0; i < DRAWS; i++) {
        /* logits favouring notes and long shifts, so both limits are reached */
        for (int t = 0; t < N; t++) logits[t] = (float)lcg_normal();
        for (int k = 0; k < 128; k++) logits[TOK_NOTE_ON + k] += 1.0f;
        for (int k = 0; k < 128; k++) logits[TOK_NOTE_OFF + k] -= 1.0f;
        for (int k = 50; k <= 100; k++) logits[TOK_TIME_SHIFT + k] += 1.5f;
        logits[TOK_EOS] = 20.0f; /* specials must stay masked however likely */

        sampler_mask(&d, &lim, allowed);
        int t = sampler_sample(logits, N, allowed, &p, &r, scratch);
        assert_true(t >= 0);
        assert_int_equal(allowed[t], 1);
        assert_true(t >= TOK_NOTE_ON); /* no PAD/BOS/EOS/CTRL */
        if (tok_is_note_off(t)) assert_true(on[t - TOK_NOTE_OFF]);
        if (tok_is_note_on(t)) {
            int k = t - TOK_NOTE_ON;
            assert_true(k >= lim.pitch_lo && k <= lim.pitch_hi);
        }
        int m = tok_dec_token(&d, t, ev, TOK_DEC_MAX_OUT);
        assert_true(m >= 0);
        for (int j = 0; j < m; j++) {
            int k = ev[j].a;
            if (ev[j].type == CN_EV_NOTE_ON) {
                assert_false(on[k]);
                on[k] = true;
                since[k] = ev[j].time;
                n_on++;
                n_notes++;
            } else {
                assert_int_equal(ev[j].type, CN_EV_NOTE_OFF);
                assert_true(on[k]);
                double len = ev[j].time - since[k];
                assert_true(len <= lim.max_note_len + 1e-9);
                assert_true(len > TOK_TIME_STEP / 2); /* no zero-length note */
                if (len > lim.max_note_len - TOK_TIME_STEP - 1e-9) forced_len++;
                on[k] = false;
                n_on--;
            }
        }
        assert_true(n_on <= lim.max_polyphony);
        assert_int_equal(n_on, d.n_sounding);
        if (n_on == lim.max_polyphony) hit_poly++;
        if (n_on > max_on) max_on = n_on;
        /* and nothing sounding is already past its limit */
        for (int k = 0; k < 128; k++)
            if (on[k]) assert_true(d.time - since[k] <= lim.max_note_len + 1e-9);
    }
    print_message("masks: %d draws, %d notes, polyphony limit reached %d times, "
                  "%d notes ended at the length limit, %.0f s decoded\n",
                  DRAWS, n_notes, hit_poly, forced_len, d.time);
    /* the limits were really exercised */
    assert_true(hit_poly > 1000);
    assert_true(forced_len > 100);
    assert_int_equal(max_on, lim.max_polyphony);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_known_values),
        cmocka_unit_test(test_rng_float_uniform),
        cmocka_unit_test(test_frequencies),
        cmocka_unit_test(test_frequencies_detect_wrong),
        cmocka_unit_test(test_filters_hand),
        cmocka_unit_test(test_filters_brute_force),
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_nothing_allowed),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_masks_with_decoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
