/* train_widen.c — see train_widen.h. */
#include <string.h>
#include "error.h"
#include "model.h"
#include "token_v2.h"
#include "train_rng.h"
#include "train_widen.h"

/* dst rows (v2) from src rows (v1) of a (vocab, d) matrix. */
static void widen_rows(float *dst, const float *src, int d, train_rng *rng)
{
    for (int t = 0; t < TOK2_VOCAB_SIZE; t++) {
        int s = tok2_v1_equivalent(t);
        float *row = dst + (size_t)t * d;
        if (s >= 0) {
            memcpy(row, src + (size_t)s * d, sizeof(float) * (size_t)d);
        } else {
            for (int i = 0; i < d; i++) row[i] = 0.02f * (float)train_rng_normal(rng);
        }
    }
}

gboolean train_widen_to_v2(const char *from, const char *to, guint32 seed, GError **err)
{
    model *m = model_load_as(from, MODEL_WEIGHTS_F32, err);
    if (!m) return FALSE;
    const model_config *c1 = model_get_config(m);
    if (c1->vocab_id != TOK_VOCAB_ID || c1->vocab_size != TOK_VOCAB_SIZE) {
        g_set_error(err, CN_ERROR, CN_ERR_UNSUPPORTED,
                    "%s: vocabulary %d (%d tokens), expected v1 (%d tokens)", from, c1->vocab_id,
                    c1->vocab_size, TOK_VOCAB_SIZE);
        model_free(m);
        return FALSE;
    }
    model_config c2 = *c1;
    c2.vocab_id = TOK2_VOCAB_ID;
    c2.vocab_size = TOK2_VOCAB_SIZE;
    model_weights w1, w2;
    float *p1 = (float *)model_get_f32_params(m); /* read only: mapped, never written */
    float *p2 = g_new0(float, model_param_count(&c2));
    model_weights_map(&w1, c1, p1);
    model_weights_map(&w2, &c2, p2);
    size_t count1[WEIGHTS_COUNT], count2[WEIGHTS_COUNT];
    weights_layout(c1->dim, c1->n_layers, c1->hidden_dim, c1->vocab_size, c1->tied, count1, NULL);
    weights_layout(c2.dim, c2.n_layers, c2.hidden_dim, c2.vocab_size, c2.tied, count2, NULL);
    float *src[WEIGHTS_COUNT], *dst[WEIGHTS_COUNT];
    int i = 0;
#define WIDEN_X(name, n, kind) src[i] = w1.name, dst[i] = w2.name, i++;
    WEIGHTS_TENSORS(WIDEN_X)
#undef WIDEN_X
    train_rng rng;
    train_rng_seed(&rng, seed);
    for (int k = 0; k < WEIGHTS_COUNT; k++) {
        if (count2[k] == 0) continue;
        if (count2[k] == count1[k])
            memcpy(dst[k], src[k], sizeof(float) * count1[k]);
        else /* tok_emb and wcls: (vocab, d) */
            widen_rows(dst[k], src[k], c1->dim, &rng);
    }
    gboolean ok = model_file_write(to, &c2, p2, err);
    g_free(p2);
    model_free(m);
    return ok;
}
