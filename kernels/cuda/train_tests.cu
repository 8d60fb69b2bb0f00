/* train_tests.cu — the per-kernel test table (cn_cuda_test.h): each
 * copies its host arrays to the device, runs ONE launcher of
 * train_kernels.cu (the code the trainer runs), and copies the results back,
 * so tests/test_cuda_train.c (plain C, cmocka) can compare every kernel with
 * its CPU reference in tools/train/train_layers.c. Slow on purpose (allocation
 * and synchronous copies per call): tests only. */
#include <string.h>
#include <stdlib.h>
#include <math.h>
#include <pthread.h>
#include "cn_cuda_internal.cuh"
#include "cn_cuda_test.h"

/* Device buffers of one call, freed when it returns (any path). */
struct dev_bufs {
    void *p[16];
    int n = 0;
    ~dev_bufs()
    {
        for (int i = 0; i < n; i++) cudaFree(p[i]);
    }
    /* *d = a device copy of h (count elements), or zeroed when h is NULL */
    template <typename E> int up(E **d, const E *h, size_t count)
    {
        *d = NULL;
        if (n == 16) return cn_set_error("train_tests: too many buffers");
        size_t bytes = count ? count * sizeof(E) : sizeof(E);
        CN_CU(cudaMalloc((void **)d, bytes));
        p[n++] = *d;
        if (h) CN_CU(cudaMemcpy(*d, h, count * sizeof(E), cudaMemcpyHostToDevice));
        else CN_CU(cudaMemset(*d, 0, bytes));
        return 0;
    }
};

template <typename E> static int down(E *h, const E *d, size_t count)
{
    CN_CU(cudaDeviceSynchronize());
    CN_CU(cudaGetLastError());
    CN_CU(cudaMemcpy(h, d, count * sizeof(E), cudaMemcpyDeviceToHost));
    return 0;
}

/* int32 device copy of uint16 host tokens, checked against V */
static int up_tokens(dev_bufs &b, int **d, const uint16_t *tokens, int N, int V)
{
    int *t = (int *)malloc((size_t)(N > 0 ? N : 1) * sizeof(int));
    if (!t) return cn_set_error("train_tests: out of host memory");
    for (int n = 0; n < N; n++) {
        if (tokens[n] >= V) {
            free(t);
            return cn_set_error("token id %d at row %d: not below vocab %d", tokens[n], n, V);
        }
        t[n] = tokens[n];
    }
    int rc = b.up(d, t, (size_t)N);
    free(t);
    return rc;
}

static int test_embedding_fwd(float *out, const uint16_t *tokens, const float *emb, int N, int C,
                              int V)
{
    CN_TRY(cn_require_init());
    dev_bufs b;
    int *dt;
    float *de, *dout;
    CN_TRY(up_tokens(b, &dt, tokens, N, V));
    CN_TRY(b.up(&de, emb, (size_t)V * C));
    CN_TRY(b.up(&dout, (const float *)NULL, (size_t)N * C));
    CN_TRY(cn_embed_forward(dout, dt, de, N, C));
    return down(out, dout, (size_t)N * C);
}

static int test_embedding_bwd(float *demb, const float *dout, const uint16_t *tokens, int N,
                              int C, int V)
{
    CN_TRY(cn_require_init());
    int *offs = (int *)malloc((size_t)(V + 1) * sizeof(int));
    int *rows = (int *)malloc((size_t)(N > 0 ? N : 1) * sizeof(int));
    if (!offs || !rows) {
        free(offs);
        free(rows);
        return cn_set_error("train_tests: out of host memory");
    }
    int rc = cn_embed_csr(tokens, N, V, offs, rows);
    dev_bufs b;
    int *doffs = NULL, *drows = NULL;
    float *dd = NULL, *dg = NULL;
    if (rc == 0) rc = b.up(&doffs, offs, (size_t)V + 1);
    if (rc == 0) rc = b.up(&drows, rows, (size_t)N);
    free(offs);
    free(rows);
    CN_TRY(rc);
    CN_TRY(b.up(&dd, demb, (size_t)V * C));
    CN_TRY(b.up(&dg, dout, (size_t)N * C));
    CN_TRY(cn_embed_backward(dd, dg, doffs, drows, V, C));
    return down(demb, dd, (size_t)V * C);
}

static int test_rmsnorm_fwd(float *out, float *rstd, const float *inp, const float *w, int N,
                            int C)
{
    CN_TRY(cn_require_init());
    dev_bufs b;
    float *dout, *drstd, *dinp, *dw;
    CN_TRY(b.up(&dout, (const float *)NULL, (size_t)N * C));
    CN_TRY(b.up(&drstd, (const float *)NULL, (size_t)N));
    CN_TRY(b.up(&dinp, inp, (size_t)N * C));
    CN_TRY(b.up(&dw, w, (size_t)C));
    CN_TRY(cn_rmsnorm_forward(dout, drstd, dinp, dw, N, C));
    CN_TRY(down(out, dout, (size_t)N * C));
    return down(rstd, drstd, (size_t)N);
}

static int test_rmsnorm_bwd(float *dinp, float *dw, const float *dout, const float *inp,
                            const float *w, const float *rstd, int N, int C)
{
    CN_TRY(cn_require_init());
    dev_bufs b;
    float *ddinp, *ddw, *ddout, *dinp_x, *dwt, *drstd;
    CN_TRY(b.up(&ddinp, dinp, (size_t)N * C));
    CN_TRY(b.up(&ddw, dw, (size_t)C));
    CN_TRY(b.up(&ddout, dout, (size_t)N * C));
    CN_TRY(b.up(&dinp_x, inp, (size_t)N * C));
    CN_TRY(b.up(&dwt, w, (size_t)C));
    CN_TRY(b.up(&drstd, rstd, (size_t)N));
    CN_TRY(cn_rmsnorm_backward(ddinp, ddw, ddout, dinp_x, dwt, drstd, N, C));
    CN_TRY(down(dinp, ddinp, (size_t)N * C));
    return down(dw, ddw, (size_t)C);
}

static int test_matmul_fwd(float *out, const float *inp, const float *w, int N, int C, int OC)
{
    CN_TRY(cn_require_init());
    dev_bufs b;
    float *dout, *dinp, *dw;
    CN_TRY(b.up(&dout, (const float *)NULL, (size_t)N * OC));
    CN_TRY(b.up(&dinp, inp, (size_t)N * C));
    CN_TRY(b.up(&dw, w, (size_t)OC * C));
    CN_TRY(cn_matmul_forward(dout, dinp, dw, N, C, OC, 0.0f));
    return down(out, dout, (size_t)N * OC);
}

static int test_matmul_bwd(float *dinp, float *dw, const float *dout, const float *inp,
                           const float *w, int N, int C, int OC)
{
    CN_TRY(cn_require_init());
    dev_bufs b;
    float *ddinp = NULL, *ddw, *ddout, *dx, *dwt;
    if (dinp) CN_TRY(b.up(&ddinp, dinp, (size_t)N * C));
    CN_TRY(b.up(&ddw, dw, (size_t)OC * C));
    CN_TRY(b.up(&ddout, dout, (size_t)N * OC));
    CN_TRY(b.up(&dx, inp, (size_t)N * C));
    CN_TRY(b.up(&dwt, w, (size_t)OC * C));
    /* beta 1: the CPU reference accumulates into dinp */
    CN_TRY(cn_matmul_backward(ddinp, ddw, ddout, dx, dwt, N, C, OC, 1.0f));
    if (dinp) CN_TRY(down(dinp, ddinp, (size_t)N * C));
    return down(dw, ddw, (size_t)OC * C);
}

static int rope_common(float *x, int B, int T, int C, int NH, float theta, float sign)
{
    CN_TRY(cn_require_init());
    if (NH <= 0 || C % NH || (C / NH) % 2) return cn_set_error("rope: bad C %d / NH %d", C, NH);
    dev_bufs b;
    float *dx, *dc, *ds;
    int half = C / NH / 2;
    CN_TRY(b.up(&dx, x, (size_t)B * T * C));
    CN_TRY(b.up(&dc, (const float *)NULL, (size_t)T * half));
    CN_TRY(b.up(&ds, (const float *)NULL, (size_t)T * half));
    CN_TRY(cn_rope_tables(dc, ds, T, C / NH, theta));
    CN_TRY(cn_rope(dx, dc, ds, B, T, C, NH, sign));
    return down(x, dx, (size_t)B * T * C);
}

static int test_rope_fwd(float *x, int B, int T, int C, int NH, float theta)
{
    return rope_common(x, B, T, C, NH, theta, 1.0f);
}

static int test_rope_bwd(float *dx, int B, int T, int C, int NH, float theta)
{
    return rope_common(dx, B, T, C, NH, theta, -1.0f);
}

static int test_attention_fwd(float *out, float *att, const float *q, const float *k,
                              const float *v, int B, int T, int C, int NH)
{
    CN_TRY(cn_require_init());
    dev_bufs b;
    size_t NC = (size_t)B * T * C, natt = (size_t)B * NH * T * T;
    float *dout, *datt, *dq, *dk, *dv;
    CN_TRY(b.up(&dout, (const float *)NULL, NC));
    CN_TRY(b.up(&datt, (const float *)NULL, natt));
    CN_TRY(b.up(&dq, q, NC));
    CN_TRY(b.up(&dk, k, NC));
    CN_TRY(b.up(&dv, v, NC));
    CN_TRY(cn_attention_forward(dout, datt, dq, dk, dv, B, T, C, NH));
    CN_TRY(down(out, dout, NC));
    return down(att, datt, natt);
}

static int test_attention_bwd(float *dq, float *dk, float *dv, const float *dout,
                              const float *att, const float *q, const float *k, const float *v,
                              int B, int T, int C, int NH)
{
    CN_TRY(cn_require_init());
    dev_bufs b;
    size_t NC = (size_t)B * T * C, natt = (size_t)B * NH * T * T;
    float *ddq, *ddk, *ddv, *dscr, *ddout, *datt, *xq, *xk, *xv;
    CN_TRY(b.up(&ddq, (const float *)NULL, NC));
    CN_TRY(b.up(&ddk, (const float *)NULL, NC));
    CN_TRY(b.up(&ddv, (const float *)NULL, NC));
    CN_TRY(b.up(&dscr, (const float *)NULL, natt));
    CN_TRY(b.up(&ddout, dout, NC));
    CN_TRY(b.up(&datt, att, natt));
    CN_TRY(b.up(&xq, q, NC));
    CN_TRY(b.up(&xk, k, NC));
    CN_TRY(b.up(&xv, v, NC));
    CN_TRY(cn_attention_backward(ddq, ddk, ddv, dscr, ddout, datt, xq, xk, xv, B, T, C, NH));
    CN_TRY(down(dq, ddq, NC));
    CN_TRY(down(dk, ddk, NC));
    return down(dv, ddv, NC);
}

static int test_gelu_fwd(float *out, const float *inp, int n)
{
    CN_TRY(cn_require_init());
    dev_bufs b;
    float *dout, *dinp;
    CN_TRY(b.up(&dout, (const float *)NULL, (size_t)n));
    CN_TRY(b.up(&dinp, inp, (size_t)n));
    CN_TRY(cn_gelu_forward(dout, dinp, n));
    return down(out, dout, (size_t)n);
}

static int test_gelu_bwd(float *dinp, const float *inp, const float *dout, int n)
{
    CN_TRY(cn_require_init());
    dev_bufs b;
    float *ddinp, *dx, *ddout;
    CN_TRY(b.up(&ddinp, (const float *)NULL, (size_t)n));
    CN_TRY(b.up(&dx, inp, (size_t)n));
    CN_TRY(b.up(&ddout, dout, (size_t)n));
    CN_TRY(cn_gelu_backward(ddinp, dx, ddout, n));
    return down(dinp, ddinp, (size_t)n);
}

static int test_crossentropy(float *losses, float *probs, float *dlogits, float *mean,
                             const float *logits, const int *targets, int N, int V)
{
    CN_TRY(cn_require_init());
    dev_bufs b;
    size_t NV = (size_t)N * V;
    float *dl, *dp, *dlog, *dd;
    int *dt;
    CN_TRY(b.up(&dl, (const float *)NULL, (size_t)N));
    CN_TRY(b.up(&dp, (const float *)NULL, NV));
    CN_TRY(b.up(&dlog, logits, NV));
    CN_TRY(b.up(&dd, (const float *)NULL, NV));
    CN_TRY(b.up(&dt, targets, (size_t)N));
    CN_TRY(cn_xent_forward(dl, dp, dlog, dt, N, V));
    int cnt = 0;
    for (int n = 0; n < N; n++) cnt += targets[n] >= 0;
    CN_TRY(cn_xent_backward(dd, dp, dt, cnt ? 1.0f / cnt : 0.0f, N, V));
    CN_TRY(down(losses, dl, (size_t)N));
    CN_TRY(down(probs, dp, NV));
    CN_TRY(down(dlogits, dd, NV));
    double sum = 0.0;
    for (int n = 0; n < N; n++)
        if (targets[n] >= 0) sum += losses[n];
    *mean = cnt ? (float)(sum / cnt) : 0.0f;
    return 0;
}

static int test_adamw(float *params, const float *grads, float *m, float *v,
                      const uint8_t *decay_mask, size_t n, const cn_cuda_adamw_cfg *cfg, float lr,
                      float grad_scale, long t)
{
    CN_TRY(cn_require_init());
    dev_bufs b;
    float *dp, *dg, *dm, *dv;
    uint8_t *dmask;
    CN_TRY(b.up(&dp, params, n));
    CN_TRY(b.up(&dg, grads, n));
    CN_TRY(b.up(&dm, m, n));
    CN_TRY(b.up(&dv, v, n));
    CN_TRY(b.up(&dmask, decay_mask, n));
    float c1 = 1.0f - powf(cfg->beta1, (float)t), c2 = 1.0f - powf(cfg->beta2, (float)t);
    CN_TRY(cn_adamw(dp, dg, dm, dv, dmask, n, cfg, lr, grad_scale, c1, c2));
    CN_TRY(down(params, dp, n));
    CN_TRY(down(m, dm, n));
    return down(v, dv, n);
}

/* ---- the table (cn_cuda_test.h) ------------------------------------------- */

static cn_cuda_test_api tapi;
static pthread_once_t tapi_once = PTHREAD_ONCE_INIT;

static void tapi_build(void)
{
    cn_cuda_test_api *api = &tapi;
    api->abi = CN_CUDA_TEST_ABI;
    api->size = sizeof(cn_cuda_test_api);
    api->test_embedding_fwd = test_embedding_fwd;
    api->test_embedding_bwd = test_embedding_bwd;
    api->test_rmsnorm_fwd = test_rmsnorm_fwd;
    api->test_rmsnorm_bwd = test_rmsnorm_bwd;
    api->test_matmul_fwd = test_matmul_fwd;
    api->test_matmul_bwd = test_matmul_bwd;
    api->test_rope_fwd = test_rope_fwd;
    api->test_rope_bwd = test_rope_bwd;
    api->test_attention_fwd = test_attention_fwd;
    api->test_attention_bwd = test_attention_bwd;
    api->test_gelu_fwd = test_gelu_fwd;
    api->test_gelu_bwd = test_gelu_bwd;
    api->test_crossentropy = test_crossentropy;
    api->test_adamw = test_adamw;
}

extern "C" __attribute__((visibility("default"))) const cn_cuda_test_api *cn_cuda_get_test_api(void)
{
    pthread_once(&tapi_once, tapi_build);
    return &tapi;
}
