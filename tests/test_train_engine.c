/* test_train_engine.c — the trainer computes the same function as the
 * engine: for one weights file (written by model_file_write from the
 * trainer's parameter block), the trainer's batched forward gives the same
 * logits at every position as the engine's token-by-token model_forward and
 * its batched model_prefill.
 *
 * Tolerance: the engine is loaded with float32 weights (MODEL_WEIGHTS_F32);
 * its KV cache holds IEEE half floats (relative rounding 2^-11 on k and v),
 * so logits agree to max |a - b| <= 1e-3 * max(1, max |logit|) (measured:
 * 7e-3 and 8e-3 with max |logit| 24 and 28, i.e. 3e-4 relative); a wrong
 * rotary pairing, norm or head differs by O(1). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <cmocka.h>
#include "model.h"
#include "train_model.h"
#include "train_rng.h"

static void compare(int tied)
{
    model_config cfg = {.dim = 64, .n_layers = 3, .n_heads = 4, .hidden_dim = 160,
                        .vocab_size = 396, .seq_len = 96, .vocab_id = 1, .tied = tied,
                        .rope_theta = 10000.0f};
    int T = 96, V = cfg.vocab_size;
    train_model m;
    assert_true(train_model_new(&m, &cfg, 1, T, 2, NULL));
    train_model_init(&m, 11 + tied);
    /* larger weights than the init so attention is far from uniform and the
     * logits spread over several nats */
    for (size_t i = 0; i < m.n_params; i++) m.params[i] *= 6.0f;
    train_rng r;
    train_rng_seed(&r, 99);
    for (int i = 0; i < cfg.dim * cfg.n_layers; i++) {
        m.w.rms_att[i] = 1.0f + 0.2f * (float)train_rng_normal(&r);
        m.w.rms_ffn[i] = 1.0f + 0.2f * (float)train_rng_normal(&r);
    }
    uint16_t tok[96];
    int itok[96];
    for (int i = 0; i < T; i++) itok[i] = tok[i] = (uint16_t)(i == 0 ? 1 : 8 + train_rng_below(&r, 388));
    train_model_forward(&m, tok, NULL, 1, T);

    char *dir = g_dir_make_tmp("continuo-te-XXXXXX", NULL);
    char *path = g_build_filename(dir, "m.bin", NULL);
    GError *err = NULL;
    assert_true(model_file_write(path, &cfg, m.params, &err));
    model *em = model_load_as(path, MODEL_WEIGHTS_F32, &err);
    if (!em) print_message("%s\n", err->message);
    assert_non_null(em);
    model_state *s = model_state_new(em, &err);
    assert_non_null(s);
    double maxerr = 0, maxabs = 0;
    for (int t = 0; t < T; t++) {
        const float *el = model_forward(s, tok[t]);
        const float *tl = m.acts.logits + (size_t)t * V;
        for (int i = 0; i < V; i++) {
            maxerr = fmax(maxerr, fabs(el[i] - tl[i]));
            maxabs = fmax(maxabs, fabs(tl[i]));
        }
    }
    /* batched prefill of the whole window: its last logits */
    model_state *p = model_state_new(em, &err);
    const float *pl = model_prefill(p, itok, T);
    double maxerr_pre = 0;
    for (int i = 0; i < V; i++)
        maxerr_pre = fmax(maxerr_pre, fabs(pl[i] - m.acts.logits[(size_t)(T - 1) * V + i]));
    print_message("  tied=%d: max |logit| %.2f, decode max err %.2e, prefill max err %.2e\n", tied,
                  maxabs, maxerr, maxerr_pre);
    assert_true(maxabs > 2.0);
    assert_true(maxerr <= 1e-3 * fmax(1.0, maxabs));
    assert_true(maxerr_pre <= 1e-3 * fmax(1.0, maxabs));
    model_state_free(p);
    model_state_free(s);
    model_free(em);
    g_remove(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
    train_model_free(&m);
}

static void test_logits_untied(void **state)
{
    (void)state;
    compare(0);
}

static void test_logits_tied(void **state)
{
    (void)state;
    compare(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logits_untied),
        cmocka_unit_test(test_logits_tied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
