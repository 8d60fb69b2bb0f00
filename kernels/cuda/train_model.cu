/* train_model.cu — the training model on the device: parameters, gradients,
 * AdamW moments and activations all in device memory (cudaMalloc only), the
 * forward with loss and the backward, in the layer order of
 * tools/train/train_model.c (the reference; read them side by side), plus the
 * grad norm and AdamW step. Fills the training entries of the cn_cuda table.
 * Host <-> device traffic per step: tokens and targets up (and the
 * embedding-gradient CSR), per-position losses and the grad-norm partials down. */
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "cn_cuda_internal.cuh"
#include "weights_layout.h"
#include "train_acts_layout.h"

/* One pointer per tensor into a parameter-sized block, in the weights-file
 * order of kernels/weights_layout.h (the count is checked against the
 * caller's model_param_count in train_new). */
typedef struct {
#define DEV_FIELD(name, n, kind) float *name;
    WEIGHTS_TENSORS(DEV_FIELD)
#undef DEV_FIELD
} dev_weights;

static size_t param_count(const cn_cuda_train_shape *s)
{
    return weights_layout(s->dim, s->n_layers, s->hidden_dim, s->vocab_size, s->tied, NULL, NULL);
}

static size_t weights_map(dev_weights *w, const cn_cuda_train_shape *s, float *p)
{
    size_t d = s->dim, L = s->n_layers, h = s->hidden_dim, v = s->vocab_size;
    int tied = s->tied;
    float *p0 = p;
    WEIGHTS_MAP_W_FROM_P()
    return (size_t)(p - p0);
}

/* The activations of train_model.h's train_acts, on the device. */
typedef struct {
    float *res, *res_mid, *rstd_att, *h_att, *q, *k, *v, *att, *a, *rstd_ffn, *h_ffn;
    float *f1, *g1, *rstd_f, *h_f, *logits, *losses;
    float *dres, *dh, *dq, *dk, *dv, *da, *df, *dg, *dlogits, *scratch;
} dev_acts;

struct cn_cuda_trainer {
    cn_cuda_train_shape s;
    size_t n;                 /* parameters */
    float *params, *grads, *m, *v;
    uint8_t *mask;
    dev_weights w, g;
    dev_acts a;
    float *acts_block;
    float *rope_cos, *rope_sin; /* (T, head_dim / 2) */
    int *d_tokens, *d_targets; /* (B * T) */
    int *d_offs, *d_rows;      /* embedding-gradient CSR: V + 1, B * T */
    double *d_partial;         /* CN_NORM_BLOCKS */
    /* host staging */
    int *h_tok, *h_offs, *h_rows;
    float *h_losses;
};

/* ---- allocation ---------------------------------------------------------- */

static void trainer_free(cn_cuda_trainer *tr)
{
    if (!tr) return;
    /* cudaFree(NULL) is a no-op; errors while freeing are not actionable */
    cudaFree(tr->params);
    cudaFree(tr->grads);
    cudaFree(tr->m);
    cudaFree(tr->v);
    cudaFree(tr->mask);
    cudaFree(tr->acts_block);
    cudaFree(tr->rope_cos);
    cudaFree(tr->rope_sin);
    cudaFree(tr->d_tokens);
    cudaFree(tr->d_targets);
    cudaFree(tr->d_offs);
    cudaFree(tr->d_rows);
    cudaFree(tr->d_partial);
    free(tr->h_tok);
    free(tr->h_offs);
    free(tr->h_rows);
    free(tr->h_losses);
    free(tr);
}

static int trainer_alloc(cn_cuda_trainer *tr)
{
    const cn_cuda_train_shape *s = &tr->s;
    size_t L = s->n_layers, B = s->B, T = s->T, N = B * T, C = s->dim, H = s->hidden_dim;
    size_t V = s->vocab_size, NH = s->n_heads, n = tr->n;
    CN_CU(cudaMalloc((void **)&tr->params, n * sizeof(float)));
    CN_CU(cudaMalloc((void **)&tr->grads, n * sizeof(float)));
    CN_CU(cudaMalloc((void **)&tr->m, n * sizeof(float)));
    CN_CU(cudaMalloc((void **)&tr->v, n * sizeof(float)));
    CN_CU(cudaMalloc((void **)&tr->mask, n));
    CN_CU(cudaMemset(tr->params, 0, n * sizeof(float)));
    CN_CU(cudaMemset(tr->grads, 0, n * sizeof(float)));
    CN_CU(cudaMemset(tr->m, 0, n * sizeof(float)));
    CN_CU(cudaMemset(tr->v, 0, n * sizeof(float)));
    CN_CU(cudaMemset(tr->mask, 0, n));
    if (weights_map(&tr->w, s, tr->params) != n || weights_map(&tr->g, s, tr->grads) != n)
        return cn_set_error("cuda trainer: parameter map does not cover %zu floats", n);

    /* the device keeps the attention backward's dP for every (b, h) at once */
    size_t scratch = B * NH * T * T;
    dev_acts *a = &tr->a;
#define ACT_SIZE(name, n) (n),
#define ACT_PTR(name, n) &a->name,
    size_t sizes[] = {TRAIN_ACTS(ACT_SIZE)};
    float **ptrs[] = {TRAIN_ACTS(ACT_PTR)};
#undef ACT_SIZE
#undef ACT_PTR
    static_assert(sizeof sizes / sizeof sizes[0] == sizeof ptrs / sizeof ptrs[0], "acts");
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += sizes[i];
    CN_CU(cudaMalloc((void **)&tr->acts_block, total * sizeof(float)));
    float *p = tr->acts_block;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *ptrs[i] = p;
        p += sizes[i];
    }
    size_t half = C / NH / 2;
    CN_CU(cudaMalloc((void **)&tr->rope_cos, T * half * sizeof(float)));
    CN_CU(cudaMalloc((void **)&tr->rope_sin, T * half * sizeof(float)));
    CN_TRY(cn_rope_tables(tr->rope_cos, tr->rope_sin, (int)T, (int)(C / NH), s->rope_theta));
    CN_CU(cudaMalloc((void **)&tr->d_tokens, N * sizeof(int)));
    CN_CU(cudaMalloc((void **)&tr->d_targets, N * sizeof(int)));
    CN_CU(cudaMalloc((void **)&tr->d_offs, (V + 1) * sizeof(int)));
    CN_CU(cudaMalloc((void **)&tr->d_rows, N * sizeof(int)));
    CN_CU(cudaMalloc((void **)&tr->d_partial, CN_NORM_BLOCKS * sizeof(double)));
    tr->h_tok = (int *)malloc(N * sizeof(int));
    tr->h_offs = (int *)malloc((V + 1) * sizeof(int));
    tr->h_rows = (int *)malloc(N * sizeof(int));
    tr->h_losses = (float *)malloc(N * sizeof(float));
    if (!tr->h_tok || !tr->h_offs || !tr->h_rows || !tr->h_losses)
        return cn_set_error("cuda trainer: out of host memory");
    CN_CU(cudaDeviceSynchronize());
    return 0;
}

static int train_new(cn_cuda_trainer **out, const cn_cuda_train_shape *s)
{
    *out = NULL;
    CN_TRY(cn_require_init());
    if (s->dim <= 0 || s->n_layers <= 0 || s->n_heads <= 0 || s->dim % s->n_heads ||
        (s->dim / s->n_heads) % 2 || s->hidden_dim <= 0 || s->vocab_size <= 0 || s->B <= 0 ||
        s->T <= 1)
        return cn_set_error("cuda trainer: bad shape (dim %d, layers %d, heads %d, hidden %d, "
                            "vocab %d, B %d, T %d)", s->dim, s->n_layers, s->n_heads,
                            s->hidden_dim, s->vocab_size, s->B, s->T);
    cn_cuda_trainer *tr = (cn_cuda_trainer *)calloc(1, sizeof *tr);
    if (!tr) return cn_set_error("cuda trainer: out of host memory");
    tr->s = *s;
    tr->n = param_count(s);
    if (tr->n != s->n_params) {
        cn_set_error("cuda trainer: %zu parameters for this shape, the caller has %zu (layout "
                     "differs from engine/model.h)", tr->n, s->n_params);
        trainer_free(tr);
        return -1;
    }
    if (trainer_alloc(tr) != 0) {
        trainer_free(tr);
        cudaGetLastError(); /* a failed allocation must not stick to the next call */
        return -1;
    }
    *out = tr;
    return 0;
}

static void train_free(cn_cuda_trainer *tr)
{
    trainer_free(tr);
}

/* ---- state --------------------------------------------------------------- */

static int train_set_state(cn_cuda_trainer *tr, const float *params, const float *m,
                           const float *v, const uint8_t *mask)
{
    size_t bytes = tr->n * sizeof(float);
    if (params) CN_CU(cudaMemcpy(tr->params, params, bytes, cudaMemcpyHostToDevice));
    if (m) CN_CU(cudaMemcpy(tr->m, m, bytes, cudaMemcpyHostToDevice));
    else CN_CU(cudaMemset(tr->m, 0, bytes));
    if (v) CN_CU(cudaMemcpy(tr->v, v, bytes, cudaMemcpyHostToDevice));
    else CN_CU(cudaMemset(tr->v, 0, bytes));
    if (mask) CN_CU(cudaMemcpy(tr->mask, mask, tr->n, cudaMemcpyHostToDevice));
    return 0;
}

static int train_get_state(cn_cuda_trainer *tr, float *params, float *m, float *v, float *grads)
{
    size_t bytes = tr->n * sizeof(float);
    if (params) CN_CU(cudaMemcpy(params, tr->params, bytes, cudaMemcpyDeviceToHost));
    if (m) CN_CU(cudaMemcpy(m, tr->m, bytes, cudaMemcpyDeviceToHost));
    if (v) CN_CU(cudaMemcpy(v, tr->v, bytes, cudaMemcpyDeviceToHost));
    if (grads) CN_CU(cudaMemcpy(grads, tr->grads, bytes, cudaMemcpyDeviceToHost));
    return 0;
}

/* ---- forward ------------------------------------------------------------- */

/* Per-layer slices (strides use the allocated shape, as train_model.c). */
#define LNC(p, l) ((p) + (size_t)(l) * tr->s.B * tr->s.T * tr->s.dim)
#define LNH(p, l) ((p) + (size_t)(l) * tr->s.B * tr->s.T * tr->s.hidden_dim)
#define LN(p, l) ((p) + (size_t)(l) * tr->s.B * tr->s.T)
#define LATT(l) (tr->a.att + (size_t)(l) * tr->s.B * tr->s.n_heads * tr->s.T * tr->s.T)

static int check_batch(const cn_cuda_trainer *tr, int B, int T)
{
    if (B < 1 || T < 1 || B > tr->s.B || T > tr->s.T)
        return cn_set_error("cuda trainer: batch %d x %d larger than the allocated %d x %d", B, T,
                            tr->s.B, tr->s.T);
    return 0;
}

static int upload_tokens(cn_cuda_trainer *tr, const uint16_t *tokens, int N)
{
    for (int n = 0; n < N; n++) {
        if (tokens[n] >= tr->s.vocab_size)
            return cn_set_error("cuda trainer: token id %d not below vocab %d", tokens[n],
                                tr->s.vocab_size);
        tr->h_tok[n] = tokens[n];
    }
    CN_CU(cudaMemcpy(tr->d_tokens, tr->h_tok, (size_t)N * sizeof(int), cudaMemcpyHostToDevice));
    return 0;
}

static int train_forward(cn_cuda_trainer *tr, const uint16_t *tokens, const int *targets, int B,
                         int T, float *loss)
{
    const cn_cuda_train_shape *s = &tr->s;
    int L = s->n_layers, C = s->dim, H = s->hidden_dim, V = s->vocab_size, NH = s->n_heads;
    int N = B * T;
    dev_acts *a = &tr->a;
    *loss = 0.0f;
    CN_TRY(check_batch(tr, B, T));
    CN_TRY(upload_tokens(tr, tokens, N));

    CN_TRY(cn_embed_forward(LNC(a->res, 0), tr->d_tokens, tr->w.tok_emb, N, C));
    for (int l = 0; l < L; l++) {
        float *x = LNC(a->res, l), *xm = LNC(a->res_mid, l), *h = LNC(a->h_att, l);
        float *q = LNC(a->q, l), *k = LNC(a->k, l), *v = LNC(a->v, l), *ao = LNC(a->a, l);
        size_t cc = (size_t)l * C * C, hc = (size_t)l * H * C;

        CN_TRY(cn_rmsnorm_forward(h, LN(a->rstd_att, l), x, tr->w.rms_att + (size_t)l * C, N, C));
        CN_TRY(cn_matmul_forward(q, h, tr->w.wq + cc, N, C, C, 0.0f));
        CN_TRY(cn_matmul_forward(k, h, tr->w.wk + cc, N, C, C, 0.0f));
        CN_TRY(cn_matmul_forward(v, h, tr->w.wv + cc, N, C, C, 0.0f));
        CN_TRY(cn_rope(q, tr->rope_cos, tr->rope_sin, B, T, C, NH, 1.0f));
        CN_TRY(cn_rope(k, tr->rope_cos, tr->rope_sin, B, T, C, NH, 1.0f));
        CN_TRY(cn_attention_forward(ao, LATT(l), q, k, v, B, T, C, NH));
        /* xm = x + wo a: copy the residual, then the matmul adds onto it (beta 1) */
        CN_CU(cudaMemcpyAsync(xm, x, (size_t)N * C * sizeof(float), cudaMemcpyDeviceToDevice));
        CN_TRY(cn_matmul_forward(xm, ao, tr->w.wo + cc, N, C, C, 1.0f));

        float *hf = LNC(a->h_ffn, l), *f1 = LNH(a->f1, l), *g1 = LNH(a->g1, l);
        float *xo = LNC(a->res, l + 1);
        CN_TRY(cn_rmsnorm_forward(hf, LN(a->rstd_ffn, l), xm, tr->w.rms_ffn + (size_t)l * C, N, C));
        CN_TRY(cn_matmul_forward(f1, hf, tr->w.w1 + hc, N, C, H, 0.0f));
        CN_TRY(cn_gelu_forward(g1, f1, (long)N * H));
        CN_CU(cudaMemcpyAsync(xo, xm, (size_t)N * C * sizeof(float), cudaMemcpyDeviceToDevice));
        CN_TRY(cn_matmul_forward(xo, g1, tr->w.w2 + hc, N, H, C, 1.0f));
    }
    CN_TRY(cn_rmsnorm_forward(a->h_f, a->rstd_f, LNC(a->res, L), tr->w.rms_final, N, C));
    CN_TRY(cn_matmul_forward(a->logits, a->h_f, tr->w.wcls, N, C, V, 0.0f));
    if (!targets) {
        CN_CU(cudaDeviceSynchronize());
        CN_CU(cudaGetLastError());
        return 0;
    }
    CN_CU(cudaMemcpy(tr->d_targets, targets, (size_t)N * sizeof(int), cudaMemcpyHostToDevice));
    /* probabilities overwrite the logits in place, as on the CPU */
    CN_TRY(cn_xent_forward(a->losses, a->logits, a->logits, tr->d_targets, N, V));
    CN_CU(cudaMemcpy(tr->h_losses, a->losses, (size_t)N * sizeof(float), cudaMemcpyDeviceToHost));
    /* the mean as train_xent_forward: in double over scored rows, in row order */
    double sum = 0.0;
    int cnt = 0;
    for (int n = 0; n < N; n++)
        if (targets[n] >= 0) {
            sum += tr->h_losses[n];
            cnt++;
        }
    *loss = cnt ? (float)(sum / cnt) : 0.0f;
    return 0;
}

/* ---- backward ------------------------------------------------------------ */

static int backward(cn_cuda_trainer *tr, const uint16_t *tokens, const int *targets, int B, int T,
                    int add)
{
    const cn_cuda_train_shape *s = &tr->s;
    int L = s->n_layers, C = s->dim, H = s->hidden_dim, V = s->vocab_size, NH = s->n_heads;
    int N = B * T;
    dev_acts *a = &tr->a;
    const dev_weights *w = &tr->w, *g = &tr->g;
    CN_TRY(check_batch(tr, B, T));
    if (!add) CN_CU(cudaMemsetAsync(tr->grads, 0, tr->n * sizeof(float)));
    int count = 0;
    for (int n = 0; n < N; n++) count += targets[n] >= 0;
    if (!count) return 0;
    /* the forward left the targets on the device; the tokens give the CSR */
    CN_TRY(cn_embed_csr(tokens, N, V, tr->h_offs, tr->h_rows));
    CN_CU(cudaMemcpy(tr->d_offs, tr->h_offs, (size_t)(V + 1) * sizeof(int), cudaMemcpyHostToDevice));
    CN_CU(cudaMemcpy(tr->d_rows, tr->h_rows, (size_t)N * sizeof(int), cudaMemcpyHostToDevice));

    CN_TRY(cn_xent_backward(a->dlogits, a->logits, tr->d_targets, 1.0f / count, N, V));
    CN_TRY(cn_matmul_backward(a->dh, g->wcls, a->dlogits, a->h_f, w->wcls, N, C, V, 0.0f));
    CN_CU(cudaMemsetAsync(a->dres, 0, (size_t)N * C * sizeof(float)));
    CN_TRY(cn_rmsnorm_backward(a->dres, g->rms_final, a->dh, LNC(a->res, L), w->rms_final,
                               a->rstd_f, N, C));

    for (int l = L - 1; l >= 0; l--) {
        size_t cc = (size_t)l * C * C, hc = (size_t)l * H * C, lc = (size_t)l * C;
        /* MLP block: res[l+1] = res_mid + w2 gelu(w1 rmsnorm(res_mid)) */
        CN_TRY(cn_matmul_backward(a->dg, g->w2 + hc, a->dres, LNH(a->g1, l), w->w2 + hc, N, H, C,
                                  0.0f));
        CN_TRY(cn_gelu_backward(a->df, LNH(a->f1, l), a->dg, (long)N * H));
        CN_TRY(cn_matmul_backward(a->dh, g->w1 + hc, a->df, LNC(a->h_ffn, l), w->w1 + hc, N, C, H,
                                  0.0f));
        CN_TRY(cn_rmsnorm_backward(a->dres, g->rms_ffn + lc, a->dh, LNC(a->res_mid, l),
                                   w->rms_ffn + lc, LN(a->rstd_ffn, l), N, C));
        /* attention block: res_mid = res[l] + wo attn(rope(wq h), rope(wk h), wv h) */
        CN_TRY(cn_matmul_backward(a->da, g->wo + cc, a->dres, LNC(a->a, l), w->wo + cc, N, C, C,
                                  0.0f));
        CN_TRY(cn_attention_backward(a->dq, a->dk, a->dv, a->scratch, a->da, LATT(l),
                                     LNC(a->q, l), LNC(a->k, l), LNC(a->v, l), B, T, C, NH));
        CN_TRY(cn_rope(a->dq, tr->rope_cos, tr->rope_sin, B, T, C, NH, -1.0f));
        CN_TRY(cn_rope(a->dk, tr->rope_cos, tr->rope_sin, B, T, C, NH, -1.0f));
        float *h = LNC(a->h_att, l);
        /* dh = dq wq + dk wk + dv wv: the first writes, the others add */
        CN_TRY(cn_matmul_backward(a->dh, g->wq + cc, a->dq, h, w->wq + cc, N, C, C, 0.0f));
        CN_TRY(cn_matmul_backward(a->dh, g->wk + cc, a->dk, h, w->wk + cc, N, C, C, 1.0f));
        CN_TRY(cn_matmul_backward(a->dh, g->wv + cc, a->dv, h, w->wv + cc, N, C, C, 1.0f));
        CN_TRY(cn_rmsnorm_backward(a->dres, g->rms_att + lc, a->dh, LNC(a->res, l),
                                   w->rms_att + lc, LN(a->rstd_att, l), N, C));
    }
    CN_TRY(cn_embed_backward(g->tok_emb, a->dres, tr->d_offs, tr->d_rows, V, C));
    CN_CU(cudaDeviceSynchronize());
    CN_CU(cudaGetLastError());
    return 0;
}

static int train_backward(cn_cuda_trainer *tr, const uint16_t *tokens, const int *targets, int B,
                          int T)
{
    return backward(tr, tokens, targets, B, T, 0);
}

static int train_backward_add(cn_cuda_trainer *tr, const uint16_t *tokens, const int *targets,
                              int B, int T)
{
    return backward(tr, tokens, targets, B, T, 1);
}

/* ---- optimizer ----------------------------------------------------------- */

static int train_grad_norm(cn_cuda_trainer *tr, double *norm)
{
    double part[CN_NORM_BLOCKS];
    CN_TRY(cn_sumsq_partials(tr->d_partial, tr->grads, tr->n));
    CN_CU(cudaMemcpy(part, tr->d_partial, sizeof part, cudaMemcpyDeviceToHost));
    double s = 0.0;
    for (int i = 0; i < CN_NORM_BLOCKS; i++) s += part[i];
    *norm = sqrt(s);
    return 0;
}

static int train_adamw(cn_cuda_trainer *tr, const cn_cuda_adamw_cfg *cfg, float lr,
                       float grad_scale, long t)
{
    /* bias corrections computed as train_adamw_update does, on the host */
    float c1 = 1.0f - powf(cfg->beta1, (float)t), c2 = 1.0f - powf(cfg->beta2, (float)t);
    CN_TRY(cn_adamw(tr->params, tr->grads, tr->m, tr->v, tr->mask, tr->n, cfg, lr, grad_scale, c1,
                    c2));
    CN_CU(cudaDeviceSynchronize());
    CN_CU(cudaGetLastError());
    return 0;
}

static int train_get_outputs(cn_cuda_trainer *tr, float *losses, float *probs, int B, int T)
{
    CN_TRY(check_batch(tr, B, T));
    size_t N = (size_t)B * T;
    if (losses) CN_CU(cudaMemcpy(losses, tr->a.losses, N * sizeof(float), cudaMemcpyDeviceToHost));
    if (probs)
        CN_CU(cudaMemcpy(probs, tr->a.logits, N * tr->s.vocab_size * sizeof(float),
                         cudaMemcpyDeviceToHost));
    return 0;
}

void cn_cuda_train_fill(cn_cuda_api *api)
{
    api->train_new = train_new;
    api->train_free = train_free;
    api->train_set_state = train_set_state;
    api->train_get_state = train_get_state;
    api->train_forward = train_forward;
    api->train_backward = train_backward;
    api->train_backward_add = train_backward_add;
    api->train_grad_norm = train_grad_norm;
    api->train_adamw = train_adamw;
    api->train_get_outputs = train_get_outputs;
}
