/* test_train_eval.c — continuo-eval's pieces: the document/window policy
 * (every token after a document's BOS scored exactly once, with context
 * from its own document only, at least min(position, ctx/2) tokens), window
 * scoring equal to one direct forward pass, and the Kneser-Ney baseline
 * (normalized to 1 within 1e-9 in every context; order 1 equal to the
 * formula computed by hand). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "train_eval.h"
#include "train_model.h"
#include "train_ngram.h"
#include "train_rng.h"
#include "token.h"

static uint16_t *make_tokens(size_t n, const size_t *bos, int n_bos, uint64_t seed, int vocab)
{
    train_rng r;
    train_rng_seed(&r, seed);
    uint16_t *t = malloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++) t[i] = (uint16_t)(8 + train_rng_below(&r, (uint64_t)vocab - 8));
    for (int i = 0; i < n_bos; i++) t[bos[i]] = TOK_BOS;
    return t;
}

static void test_windows_cover(void **state)
{
    (void)state;
    /* a leading run without BOS, a 1-token document (dropped), long and short documents */
    size_t bos[] = {5, 6, 40, 45, 300};
    size_t n = 420;
    uint16_t *tok = make_tokens(n, bos, 5, 1, 100);
    GArray *docs = train_eval_docs(tok, n);
    assert_int_equal(docs->len, 5); /* [0,5) [6,40) [40,45) [45,300) [300,420); [5,6) dropped */
    for (int ctx = 4; ctx <= 64; ctx *= 2) {
        GArray *w = train_eval_windows(docs, ctx);
        int *hits = calloc(n, sizeof *hits);
        for (guint k = 0; k < w->len; k++) {
            train_eval_window x = g_array_index(w, train_eval_window, k);
            assert_true(x.len <= ctx);
            for (int j = x.lo; j < x.len - 1; j++) {
                size_t idx = x.start + j + 1;
                hits[idx]++;
                /* the window never reaches back past its document start */
                size_t ds = 0;
                for (guint d = 0; d < docs->len; d++)
                    if (g_array_index(docs, train_eval_doc, d).start <= idx) ds = g_array_index(docs, train_eval_doc, d).start;
                assert_true(x.start >= ds);
                size_t context = j + 1, pos = idx - ds;
                assert_true(context >= (pos < (size_t)ctx / 2 ? pos : (size_t)ctx / 2));
            }
        }
        for (guint d = 0; d < docs->len; d++) {
            train_eval_doc x = g_array_index(docs, train_eval_doc, d);
            assert_int_equal(hits[x.start], 0);
            for (size_t i = x.start + 1; i < x.end; i++) assert_int_equal(hits[i], 1);
        }
        free(hits);
        g_array_free(w, TRUE);
    }
    g_array_free(docs, TRUE);
    free(tok);
}

static void test_eval_matches_forward(void **state)
{
    (void)state;
    model_config cfg = {.dim = 16, .n_layers = 2, .n_heads = 2, .hidden_dim = 24, .vocab_size = 60,
                        .seq_len = 32, .vocab_id = 1, .tied = 0, .rope_theta = 10000.0f};
    size_t bos[] = {0, 20};
    uint16_t *tok = make_tokens(45, bos, 2, 2, 60);
    train_model m;
    assert_true(train_model_new(&m, &cfg, 3, 32, 2, NULL));
    train_model_init(&m, 5);
    for (size_t i = 0; i < m.n_params; i++) m.params[i] *= 20.0f; /* confident predictions */
    GArray *docs = train_eval_docs(tok, 45);
    GArray *w = train_eval_windows(docs, 32);
    train_eval_sum s = {0};
    train_eval_model(&m, tok, w, &s);
    assert_int_equal(s.tokens, 19 + 24);
    /* direct: each document (both shorter than the context) in one forward pass */
    double direct = 0;
    for (int d = 0; d < 2; d++) {
        train_eval_doc x = g_array_index(docs, train_eval_doc, d);
        int len = (int)(x.end - x.start);
        int tg[32];
        for (int j = 0; j < len - 1; j++) tg[j] = tok[x.start + j + 1];
        float loss = train_model_forward(&m, tok + x.start, tg, 1, len - 1);
        direct += (double)loss * (len - 1);
    }
    print_message("  windows %.6f direct %.6f nats\n", s.nll, direct);
    assert_true(fabs(s.nll - direct) < 1e-4 * fabs(direct));
    g_array_free(w, TRUE);
    g_array_free(docs, TRUE);
    train_model_free(&m);
    free(tok);
}

static void test_ngram_normalized(void **state)
{
    (void)state;
    enum { V = 30 };
    size_t bos[] = {0, 100, 250, 600};
    size_t n = 2000;
    uint16_t *tok = make_tokens(n, bos, 4, 3, 14); /* tokens 8..13: dense counts */
    for (int order = 1; order <= 6; order++) {
        train_ngram *m = train_ngram_new(tok, n, order, V);
        /* contexts: seen ones (taken from the data), near a document start, unseen */
        uint16_t doc[12] = {TOK_BOS, 9, 10, 11, 12, 13, 8, 9, 29, 28, 9, 10};
        for (size_t i = 1; i < 12; i++) {
            double total = 0;
            uint16_t keep = doc[i];
            for (int w = 0; w < V; w++) {
                doc[i] = (uint16_t)w;
                total += exp(-train_ngram_nll(m, doc, i));
            }
            doc[i] = keep;
            assert_true(fabs(total - 1.0) < 1e-9);
        }
        train_ngram_free(m);
    }
    free(tok);
}

static void test_ngram_order1(void **state)
{
    (void)state;
    /* order 1: raw counts, one empty context: P(w) = max(c - D, 0)/N + D * types / N / V */
    uint16_t tok[] = {TOK_BOS, 8, 8, 8, 9, 9, 10, TOK_BOS, 8, 11};
    train_ngram *m = train_ngram_new(tok, 10, 1, 20);
    double N = 8, types = 4, n1 = 2, n2 = 1; /* counts: 8:4, 9:2, 10:1, 11:1 */
    double D = n1 / (n1 + 2 * n2);
    uint16_t doc[2] = {TOK_BOS, 8};
    double p8 = (4 - D) / N + D * types / N / 20;
    assert_true(fabs(exp(-train_ngram_nll(m, doc, 1)) - p8) < 1e-12);
    doc[1] = 15; /* unseen: only the backoff mass */
    assert_true(fabs(exp(-train_ngram_nll(m, doc, 1)) - D * types / N / 20) < 1e-12);
    train_ngram_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_cover),
        cmocka_unit_test(test_eval_matches_forward),
        cmocka_unit_test(test_ngram_normalized),
        cmocka_unit_test(test_ngram_order1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
