/* train_model.c — the training model: allocation, init, weights-file load,
 * forward with loss and backward (layer order of engine/model.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include "train_model.h"
#include "train_layers.h"
#include "train_rng.h"
#include "train_acts_layout.h"
#include "error.h"
#include <cblas.h>

/* ---- allocation ---------------------------------------------------------- */

gboolean train_model_new(train_model *m, const model_config *cfg, int B, int T, int nt,
                         GError **err)
{
    memset(m, 0, sizeof *m);
    if (!model_config_check(cfg, err)) return FALSE;
    if (B <= 0 || T <= 1 || T > cfg->seq_len) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "training shape B=%d T=%d: need B >= 1 and "
                    "2 <= T <= seq_len (%d)", B, T, cfg->seq_len);
        return FALSE;
    }
    m->cfg = *cfg;
    m->B = B;
    m->T = T;
    m->nt = nt < 1 ? 1 : nt;
    /* The trainer splits the work itself (train_layers.h): OpenBLAS stays on
     * the calling thread. This is process-wide. */
    openblas_set_num_threads(1);
    m->n_params = model_param_count(cfg);
    m->params = calloc(m->n_params, sizeof(float));
    m->grads = calloc(m->n_params, sizeof(float));

    size_t L = cfg->n_layers, N = (size_t)B * T, C = cfg->dim, H = cfg->hidden_dim;
    size_t V = cfg->vocab_size, NH = cfg->n_heads;
    size_t scratch = (size_t)m->nt * T * T;
#define ACT_SIZE(name, n) (n),
#define ACT_PTR(name, n) &m->acts.name,
    size_t sizes[] = {TRAIN_ACTS(ACT_SIZE)};
    float **ptrs[] = {TRAIN_ACTS(ACT_PTR)};
#undef ACT_SIZE
#undef ACT_PTR
    G_STATIC_ASSERT(G_N_ELEMENTS(sizes) == G_N_ELEMENTS(ptrs));
    size_t total = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) total += sizes[i];
    m->acts_floats = total;
    m->acts_block = malloc(total * sizeof(float));
    m->rope_cos = malloc((size_t)T * (C / NH / 2) * sizeof(float));
    m->rope_sin = malloc((size_t)T * (C / NH / 2) * sizeof(float));
    if (!m->params || !m->grads || !m->acts_block || !m->rope_cos || !m->rope_sin) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "train model: out of memory (%.1f MB of activations)",
                    total * 4.0 / 1e6);
        train_model_free(m);
        return FALSE;
    }
    float *p = m->acts_block;
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        *ptrs[i] = p;
        p += sizes[i];
    }
    model_weights_map(&m->w, cfg, m->params);
    model_weights_map(&m->g, cfg, m->grads);
    train_rope_tables(m->rope_cos, m->rope_sin, T, (int)(C / NH), cfg->rope_theta);
    return TRUE;
}

void train_model_free(train_model *m)
{
    free(m->params);
    free(m->grads);
    free(m->acts_block);
    free(m->rope_cos);
    free(m->rope_sin);
    memset(m, 0, sizeof *m);
}

/* ---- init and loading ---------------------------------------------------- */

static void fill_normal(float *p, size_t n, float std, train_rng *r)
{
    for (size_t i = 0; i < n; i++) p[i] = std * (float)train_rng_normal(r);
}

void train_model_init(train_model *m, uint64_t seed)
{
    const model_config *c = &m->cfg;
    size_t L = c->n_layers, C = c->dim, H = c->hidden_dim, V = c->vocab_size;
    train_rng r;
    train_rng_seed(&r, seed);
    float std = 0.02f, std_res = 0.02f / sqrtf(2.0f * (float)L);
    fill_normal(m->w.tok_emb, V * C, std, &r);
    fill_normal(m->w.wq, L * C * C, std, &r);
    fill_normal(m->w.wk, L * C * C, std, &r);
    fill_normal(m->w.wv, L * C * C, std, &r);
    fill_normal(m->w.wo, L * C * C, std_res, &r);
    fill_normal(m->w.w1, L * H * C, std, &r);
    fill_normal(m->w.w2, L * C * H, std_res, &r);
    if (!c->tied) fill_normal(m->w.wcls, V * C, std, &r);
    for (size_t i = 0; i < L * C; i++) m->w.rms_att[i] = m->w.rms_ffn[i] = 1.0f;
    for (size_t i = 0; i < C; i++) m->w.rms_final[i] = 1.0f;
}

gboolean train_model_read_config(const char *path, model_config *cfg, GError **err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: %s", path, g_strerror(errno));
        return FALSE;
    }
    model_file_header hd;
    size_t got = fread(&hd, 1, sizeof hd, f);
    fclose(f);
    if (got != sizeof hd) {
        g_set_error(err, CN_ERROR, CN_ERR_TRUNCATED, "%s: shorter than a weights header", path);
        return FALSE;
    }
    if (memcmp(hd.magic, MODEL_MAGIC, 8) != 0) {
        g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "%s: not a continuo weights file (bad magic)", path);
        return FALSE;
    }
    if (hd.version != MODEL_VERSION || hd.header_size != MODEL_HEADER_SIZE || hd.dtype != 0) {
        g_set_error(err, CN_ERROR, CN_ERR_VERSION, "%s: weights version %u / dtype %u not supported",
                    path, hd.version, hd.dtype);
        return FALSE;
    }
    *cfg = hd.config;
    return model_config_check(cfg, err);
}

gboolean train_model_load_params(train_model *m, const char *path, GError **err)
{
    model_config fc;
    if (!train_model_read_config(path, &fc, err)) return FALSE;
    model_config a = fc, b = m->cfg;
    a.seq_len = b.seq_len = 0;
    if (memcmp(&a, &b, sizeof a) != 0) {
        g_set_error(err, CN_ERROR, CN_ERR_FORMAT,
                    "%s: model shape (dim %d, layers %d, heads %d, hidden %d, vocab %d, tied %d) "
                    "differs from the training model", path, fc.dim, fc.n_layers, fc.n_heads,
                    fc.hidden_dim, fc.vocab_size, fc.tied);
        return FALSE;
    }
    gchar *buf = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &buf, &len, err)) return FALSE;
    model_file_header hd;
    memcpy(&hd, buf, sizeof hd);
    size_t want = MODEL_HEADER_SIZE + m->n_params * sizeof(float);
    if (len != want || hd.payload_bytes != m->n_params * sizeof(float)) {
        g_set_error(err, CN_ERROR, CN_ERR_TRUNCATED, "%s: %zu bytes, expected %zu", path,
                    (size_t)len, want);
        g_free(buf);
        return FALSE;
    }
    guint8 digest[32];
    gsize dlen = sizeof digest;
    GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(ck, (const guchar *)buf + MODEL_HEADER_SIZE, (gssize)hd.payload_bytes);
    g_checksum_get_digest(ck, digest, &dlen);
    g_checksum_free(ck);
    if (memcmp(digest, hd.sha256, 32) != 0) {
        g_set_error(err, CN_ERROR, CN_ERR_CHECKSUM, "%s: payload SHA-256 mismatch", path);
        g_free(buf);
        return FALSE;
    }
    memcpy(m->params, buf + MODEL_HEADER_SIZE, hd.payload_bytes);
    g_free(buf);
    return TRUE;
}

void train_model_decay_mask(const train_model *m, uint8_t *mask)
{
    memset(mask, 1, m->n_params);
    size_t L = m->cfg.n_layers, C = m->cfg.dim;
    memset(mask + (m->w.rms_att - m->params), 0, L * C);
    memset(mask + (m->w.rms_ffn - m->params), 0, L * C);
    memset(mask + (m->w.rms_final - m->params), 0, C);
}

void train_model_zero_grad(train_model *m)
{
    memset(m->grads, 0, m->n_params * sizeof(float));
}

/* ---- forward ------------------------------------------------------------- */

/* Per-layer slices of the activation arrays (strides use the allocated shape,
 * so a smaller batch uses the start of each slice). */
#define LNC(p, l) ((p) + (size_t)(l) * m->B * m->T * m->cfg.dim)
#define LNH(p, l) ((p) + (size_t)(l) * m->B * m->T * m->cfg.hidden_dim)
#define LN(p, l) ((p) + (size_t)(l) * m->B * m->T)
#define LATT(l) (m->acts.att + (size_t)(l) * m->B * m->cfg.n_heads * m->T * m->T)

float train_model_forward(train_model *m, const uint16_t *tokens, const int *targets, int B,
                          int T)
{
    const model_config *c = &m->cfg;
    int L = c->n_layers, C = c->dim, H = c->hidden_dim, V = c->vocab_size, NH = c->n_heads;
    int N = B * T, nt = m->nt;
    train_acts *a = &m->acts;
    g_assert(B <= m->B && T <= m->T);

    train_embed_forward(LNC(a->res, 0), tokens, m->w.tok_emb, N, C);
    for (int l = 0; l < L; l++) {
        float *x = LNC(a->res, l), *xm = LNC(a->res_mid, l), *h = LNC(a->h_att, l);
        float *q = LNC(a->q, l), *k = LNC(a->k, l), *v = LNC(a->v, l), *ao = LNC(a->a, l);
        const float *wq = m->w.wq + (size_t)l * C * C, *wk = m->w.wk + (size_t)l * C * C;
        const float *wv = m->w.wv + (size_t)l * C * C, *wo = m->w.wo + (size_t)l * C * C;
        const float *w1 = m->w.w1 + (size_t)l * H * C, *w2 = m->w.w2 + (size_t)l * C * H;

        train_rmsnorm_forward(h, LN(a->rstd_att, l), x, m->w.rms_att + (size_t)l * C, N, C, nt);
        train_matmul_forward(q, h, wq, N, C, C, nt);
        train_matmul_forward(k, h, wk, N, C, C, nt);
        train_matmul_forward(v, h, wv, N, C, C, nt);
        train_rope_forward(q, m->rope_cos, m->rope_sin, B, T, C, NH, nt);
        train_rope_forward(k, m->rope_cos, m->rope_sin, B, T, C, NH, nt);
        train_attention_forward(ao, LATT(l), q, k, v, B, T, C, NH, nt);
        train_matmul_forward(xm, ao, wo, N, C, C, nt);
        for (size_t i = 0; i < (size_t)N * C; i++) xm[i] += x[i];

        float *hf = LNC(a->h_ffn, l), *f1 = LNH(a->f1, l), *g1 = LNH(a->g1, l);
        float *xo = LNC(a->res, l + 1);
        train_rmsnorm_forward(hf, LN(a->rstd_ffn, l), xm, m->w.rms_ffn + (size_t)l * C, N, C, nt);
        train_matmul_forward(f1, hf, w1, N, C, H, nt);
        train_gelu_forward(g1, f1, N * H, nt);
        train_matmul_forward(xo, g1, w2, N, H, C, nt);
        for (size_t i = 0; i < (size_t)N * C; i++) xo[i] += xm[i];
    }
    train_rmsnorm_forward(a->h_f, a->rstd_f, LNC(a->res, L), m->w.rms_final, N, C, nt);
    train_matmul_forward(a->logits, a->h_f, m->w.wcls, N, C, V, nt);
    if (!targets) return 0.0f;
    /* probabilities overwrite the logits in place (xent reads a row before writing it) */
    return train_xent_forward(a->losses, a->logits, a->logits, targets, N, V, nt);
}

/* ---- backward ------------------------------------------------------------ */

void train_model_backward(train_model *m, const uint16_t *tokens, const int *targets, int B,
                          int T)
{
    const model_config *c = &m->cfg;
    int L = c->n_layers, C = c->dim, H = c->hidden_dim, V = c->vocab_size, NH = c->n_heads;
    int N = B * T, nt = m->nt;
    train_acts *a = &m->acts;
    size_t NC = (size_t)N * C * sizeof(float), NHb = (size_t)N * H * sizeof(float);

    int count = 0;
    for (int n = 0; n < N; n++) count += targets[n] >= 0;
    if (!count) return;
    memset(a->dlogits, 0, (size_t)N * V * sizeof(float));
    train_xent_backward(a->dlogits, a->logits, targets, 1.0f / count, N, V, nt);
    memset(a->dh, 0, NC);
    train_matmul_backward(a->dh, m->g.wcls, a->dlogits, a->h_f, m->w.wcls, N, C, V, nt);
    memset(a->dres, 0, NC);
    train_rmsnorm_backward(a->dres, m->g.rms_final, a->dh, LNC(a->res, L), m->w.rms_final,
                           a->rstd_f, N, C);

    for (int l = L - 1; l >= 0; l--) {
        size_t cc = (size_t)l * C * C, hc = (size_t)l * H * C;
        /* MLP block: res[l+1] = res_mid + w2 gelu(w1 rmsnorm(res_mid)) */
        memset(a->dg, 0, NHb);
        train_matmul_backward(a->dg, m->g.w2 + hc, a->dres, LNH(a->g1, l), m->w.w2 + hc, N, H, C, nt);
        memset(a->df, 0, NHb);
        train_gelu_backward(a->df, LNH(a->f1, l), a->dg, N * H, nt);
        memset(a->dh, 0, NC);
        train_matmul_backward(a->dh, m->g.w1 + hc, a->df, LNC(a->h_ffn, l), m->w.w1 + hc, N, C, H, nt);
        train_rmsnorm_backward(a->dres, m->g.rms_ffn + (size_t)l * C, a->dh, LNC(a->res_mid, l),
                               m->w.rms_ffn + (size_t)l * C, LN(a->rstd_ffn, l), N, C);
        /* attention block: res_mid = res[l] + wo attn(rope(wq h), rope(wk h), wv h) */
        memset(a->da, 0, NC);
        train_matmul_backward(a->da, m->g.wo + cc, a->dres, LNC(a->a, l), m->w.wo + cc, N, C, C, nt);
        memset(a->dq, 0, NC);
        memset(a->dk, 0, NC);
        memset(a->dv, 0, NC);
        train_attention_backward(a->dq, a->dk, a->dv, a->scratch, a->da, LATT(l), LNC(a->q, l),
                                 LNC(a->k, l), LNC(a->v, l), B, T, C, NH, nt);
        train_rope_backward(a->dq, m->rope_cos, m->rope_sin, B, T, C, NH, nt);
        train_rope_backward(a->dk, m->rope_cos, m->rope_sin, B, T, C, NH, nt);
        memset(a->dh, 0, NC);
        float *h = LNC(a->h_att, l);
        train_matmul_backward(a->dh, m->g.wq + cc, a->dq, h, m->w.wq + cc, N, C, C, nt);
        train_matmul_backward(a->dh, m->g.wk + cc, a->dk, h, m->w.wk + cc, N, C, C, nt);
        train_matmul_backward(a->dh, m->g.wv + cc, a->dv, h, m->w.wv + cc, N, C, C, nt);
        train_rmsnorm_backward(a->dres, m->g.rms_att + (size_t)l * C, a->dh, LNC(a->res, l),
                               m->w.rms_att + (size_t)l * C, LN(a->rstd_att, l), N, C);
    }
    train_embed_backward(m->g.tok_emb, a->dres, tokens, N, C);
}
