/* model_random.c — random-initialized model parameters (see model_random.h). */
#include <math.h>
#include "model_random.h"
#include "token.h"

void model_random_default_config(model_config *c)
{
    *c = (model_config){.dim = 256, .n_layers = 6, .n_heads = 8, .hidden_dim = 768,
                        .vocab_size = TOK_VOCAB_SIZE, .seq_len = 1024, .vocab_id = TOK_VOCAB_ID,
                        .tied = 1, .rope_theta = 10000.0f};
}

static void fill_normal(GRand *r, float *p, size_t n, double std)
{
    for (size_t i = 0; i < n; i += 2) { /* Box-Muller, two normals per pair */
        double u1 = 1.0 - g_rand_double(r), u2 = g_rand_double(r);
        double m = std * sqrt(-2.0 * log(u1));
        p[i] = (float)(m * cos(2 * G_PI * u2));
        if (i + 1 < n) p[i + 1] = (float)(m * sin(2 * G_PI * u2));
    }
}

float *model_random_params(const model_config *c, guint32 seed, float std)
{
    size_t n = model_param_count(c);
    float *p = g_new(float, n);
    model_weights w;
    model_weights_map(&w, c, p);
    size_t d = (size_t)c->dim, L = (size_t)c->n_layers, h = (size_t)c->hidden_dim;
    size_t v = (size_t)c->vocab_size;
    double proj = std / sqrt(2.0 * (double)L);
    GRand *r = g_rand_new_with_seed(seed);
    fill_normal(r, w.tok_emb, v * d, std);
    fill_normal(r, w.wq, L * d * d, std);
    fill_normal(r, w.wk, L * d * d, std);
    fill_normal(r, w.wv, L * d * d, std);
    fill_normal(r, w.wo, L * d * d, proj);
    fill_normal(r, w.w1, L * h * d, std);
    fill_normal(r, w.w2, L * d * h, proj);
    if (!c->tied) fill_normal(r, w.wcls, v * d, std);
    for (size_t i = 0; i < L * d; i++) w.rms_att[i] = w.rms_ffn[i] = 1.0f;
    for (size_t i = 0; i < d; i++) w.rms_final[i] = 1.0f;
    g_rand_free(r);
    return p;
}
