/* decode.cu — inference on the GPU: the engine's transformer (engine/model.c)
 * with its weights and KV cache in device memory. decode(token) -> logits,
 * batched prefill (cuBLAS sgemm), truncate and slide with the CPU model's
 * position semantics. Reached only through the table of cn_cuda.h (dec_*).
 * This file is the host side; the kernels are in decode_kernels.cuh.
 *
 * Same math as engine/model.c, step for step:
 *   x = tok_emb[token]; per layer: xb = rmsnorm(x) * rms_att (eps 1e-5);
 *   q, k, v = W xb; rotary on q and k at the token's ABSOLUTE position (pairs
 *   (2i, 2i+1) of each head, angle (double)pos * theta^(-2i/head_dim) reduced
 *   by sincos in double, then cast to float); k and v clamped to +-65504 and
 *   stored as IEEE half (round to nearest even) like the CPU cache; attention
 *   over slots 0..slot with scores (q_j / sqrt(hd)) . k_j summed in j order,
 *   softmax (max, exp, sum, times 1/sum), then sum_t p_t v_t; x += wo a;
 *   x += w2 gelu_tanh(w1 (rmsnorm(x) * rms_ffn)); logits = wcls (rmsnorm(x) *
 *   rms_final). The KV cache is half precision ON PURPOSE, to match the CPU's:
 *   the two then differ only by float32 summation order (plus, rarely, a
 *   cached value that rounds to the other neighbouring half).
 *   bf16 weights (optional): rounded on the host with kern_f32_to_bf16 (the
 *   CPU's own rounding, done by the caller) and widened exactly (bits << 16)
 *   on the device; prefill widens each matrix to float32 before its sgemm,
 *   as the CPU does, so decode and prefill use the same numbers.
 *
 * Positions: the state holds n (cache slots 0..n-1 in use) and offset (the
 * absolute position of slot 0); slot t holds the token at offset + t. slide
 * drops the oldest slots and adds them to offset (keys stay rotated at their
 * own absolute positions; only differences matter, see model.c). truncate
 * just lowers n. forward/prefill slide automatically when the cache is full,
 * keeping slide_keep slots (default seq_len - seq_len/4), at the same token
 * counts as the CPU model, so logits agree across a slide too.
 *
 * Launches. Every kernel of a step reads the token, the first slot and the
 * first absolute position from one small device struct (step_hdr) that the
 * host writes with one cudaMemcpyAsync, so one decode step is a FIXED list of
 * kernels (grid sizes do not depend on the position). That list is captured
 * once into a CUDA graph and replayed: per token, one H2D copy (24 bytes),
 * one cudaGraphLaunch, one D2H copy of the logits, one sync. Without the
 * graph the same kernels are launched one by one: 2 + 5 * n_layers of them
 *   embed; per layer: qkv (norm + 3 matvecs + rotary + cache store),
 *   attention, wo matvec + residual, ffn up (norm + w1 matvec + gelu),
 *   w2 matvec + residual; logits (norm + wcls matvec).
 *
 * Prefill runs up to rows_max tokens per pass: rmsnorm rows, cuBLAS sgemm for
 * every projection (float32, CUBLAS_DEFAULT_MATH: no TF32), a rotary + cache
 * store kernel, and the decode attention kernel itself with one block per
 * (head, row), so prefill attends with the same arithmetic as decode.
 *
 * Errors: every CUDA / cuBLAS status is checked (CN_CU / CN_BLAS of
 * cn_cuda_internal.cuh: last_error() then names the call, file and line). A
 * decoder that failed keeps that line and refuses further work with it (a
 * failed kernel leaves the CUDA context unusable anyway).
 * Streams: the decoder has its own stream (a graph cannot be captured on the
 * legacy default stream the trainer's launchers use) and its own cuBLAS
 * handle bound to it, always plain FP32 (CUBLAS_DEFAULT_MATH: no TF32). Nothing here is
 * real-time safe (every call waits for the GPU). */
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cn_cuda_internal.cuh"
#include "weights_layout.h"
#include "decode_kernels.cuh"


/* Everything but cn_cuda_decode_fill is file-local: the trainer's .cu files
 * are linked into the same library and may use the same kernel names. */
namespace {

/* ----------------------------------------------------------------------------
 * the decoder (host side) */

/* One matrix tensor on the device, in the decoder's weight type. */
struct dmat {
    const float *f;
    const uint16_t *b;
};

/* After a kernel launch: its launch error (bad configuration...), named.
 * (Not CN_LAUNCHED: its CN_FILE trips gcc's -Waddress inside templates.) */
#define DEC_LAUNCHED(what)                                                                     \
    do {                                                                                       \
        cudaError_t e_ = cudaGetLastError();                                                   \
        if (e_ != cudaSuccess)                                                                 \
            return cn_set_error("decode.cu:%d: %s launch: %s (error %d)", __LINE__, what,      \
                                cudaGetErrorString(e_), (int)e_);                              \
    } while (0)

} /* namespace */

struct cn_cuda_decoder {
    cn_cuda_decode_shape c;
    int bf16;
    int hd, rows_max;
    int n;              /* cache slots in use */
    long long offset;   /* absolute position of slot 0 */
    int slide_keep;
    int use_graph;
    int broken;         /* an operation failed: err holds its line */
    char err[512];

    cudaStream_t stream;
    cublasHandle_t blas;
    cudaGraph_t graph;
    cudaGraphExec_t graph_exec;

    void *wblock;       /* every tensor, each at a 256-byte aligned offset */
    dmat tok_emb, wq, wk, wv, wo, w1, w2, wcls;
    const float *rms_att, *rms_ffn, *rms_final; /* always float32 */
    double *freq;       /* (hd/2) rotary frequencies, from the host (pow in double) */
    __half *kc, *vc;    /* (n_layers, seq_len, dim) each */
    __half *slide_tmp;  /* (seq_len, dim): one layer's kept slots while sliding */
    float *x, *xb, *q, *k, *v, *ao;   /* (rows_max, dim) */
    float *hb;          /* (rows_max, hidden) */
    float *att;         /* (rows_max, n_heads, seq_len) */
    float *wbuf;        /* one matrix widened to float32 (bf16 prefill) */
    float *logits;      /* (vocab) */
    step_hdr *step;     /* device: header + tokens[rows_max] */
    step_hdr *h_step;   /* pinned host copy */
    float *h_logits;    /* pinned (vocab) */
};

namespace {

static unsigned blocks(size_t n, unsigned per) { return (unsigned)((n + per - 1) / per); }

/* ---- setup ---------------------------------------------------------------- */

static int dev_alloc(void **p, size_t bytes, const char *what)
{
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    if (e != cudaSuccess)
        return cn_set_error("cuda decode: cudaMalloc(%s, %zu bytes): %s (error %d)", what, bytes,
                            cudaGetErrorString(e), (int)e);
    return 0;
}

/* bfloat16 bits of f, round to nearest even; NaN stays NaN (kern_f32_to_bf16) */
static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

/* Upload the f32 payload (file order, kernels/weights_layout.h) into one device
 * block; bf16: round every tensor but the norm gains (as model.c does). */
static int upload_weights(cn_cuda_decoder *d, const float *params)
{
    const cn_cuda_decode_shape *c = &d->c;
    size_t D = c->dim, L = c->n_layers, Hd = c->hidden_dim, V = c->vocab_size;
    /* the tensors in file order (kernels/weights_layout.h): element counts, and
     * whether each is a matrix (bf16-able) or a norm gain (always float32) */
    enum { N = WEIGHTS_COUNT };
    size_t cnt[N];
    int ismat[N];
    weights_layout(D, L, Hd, V, c->tied, cnt, ismat);
    size_t off[N], total = 0, count = 0;
    for (int i = 0; i < N; i++) {
        off[i] = total;
        total += ((cnt[i] * (ismat[i] && d->bf16 ? 2 : 4)) + 255) & ~(size_t)255;
        count += cnt[i];
    }
    if (count != c->n_params)
        return cn_set_error("cuda decode: the shape has %zu parameters, the caller says %zu",
                            count, c->n_params);
    CN_TRY(dev_alloc(&d->wblock, total, "weights"));
    char *base = (char *)d->wblock;
    const float *src = params;
    for (int i = 0; i < N; i++) {
        if (cnt[i] && ismat[i] && d->bf16) {
            uint16_t *tmp = (uint16_t *)malloc(cnt[i] * 2);
            if (!tmp) return cn_set_error("cuda decode: out of host memory for the bf16 weights");
            for (size_t j = 0; j < cnt[i]; j++) tmp[j] = to_bf16(src[j]);
            cudaError_t e = cudaMemcpy(base + off[i], tmp, cnt[i] * 2, cudaMemcpyHostToDevice);
            free(tmp);
            CN_CU(e);
        } else if (cnt[i]) {
            CN_CU(cudaMemcpy(base + off[i], src, cnt[i] * 4, cudaMemcpyHostToDevice));
        }
        src += cnt[i];
    }
    dmat *m[N] = {};
    m[WEIGHTS_T_tok_emb] = &d->tok_emb;
    m[WEIGHTS_T_wq] = &d->wq;
    m[WEIGHTS_T_wk] = &d->wk;
    m[WEIGHTS_T_wv] = &d->wv;
    m[WEIGHTS_T_wo] = &d->wo;
    m[WEIGHTS_T_w1] = &d->w1;
    m[WEIGHTS_T_w2] = &d->w2;
    m[WEIGHTS_T_wcls] = &d->wcls;
    for (int i = 0; i < N; i++) {
        if (!m[i]) continue;
        if (d->bf16) m[i]->b = (const uint16_t *)(base + off[i]);
        else m[i]->f = (const float *)(base + off[i]);
    }
    if (c->tied) d->wcls = d->tok_emb;
    d->rms_att = (const float *)(base + off[WEIGHTS_T_rms_att]);
    d->rms_ffn = (const float *)(base + off[WEIGHTS_T_rms_ffn]);
    d->rms_final = (const float *)(base + off[WEIGHTS_T_rms_final]);
    return 0;
}

static int decoder_init(cn_cuda_decoder *d, const float *params)
{
    const cn_cuda_decode_shape *c = &d->c;
    size_t D = c->dim, L = c->n_layers, T = c->seq_len, Hd = c->hidden_dim, V = c->vocab_size;
    size_t H = c->n_heads;
    d->hd = c->dim / c->n_heads;
    /* prefill rows: at most PREFILL_ROWS, and the attention scratch <= 128 MB */
    size_t rm = ((size_t)32 << 20) / (H * T);
    d->rows_max = (int)(rm < 1 ? 1 : rm > PREFILL_ROWS ? PREFILL_ROWS : rm);
    d->slide_keep = c->seq_len - (c->seq_len / 4 > 0 ? c->seq_len / 4 : 1);
    size_t R = d->rows_max;

    CN_CU(cudaStreamCreateWithFlags(&d->stream, cudaStreamNonBlocking));
    CN_BLAS(cublasCreate(&d->blas));
    CN_BLAS(cublasSetStream(d->blas, d->stream));
    CN_BLAS(cublasSetMathMode(d->blas, CUBLAS_DEFAULT_MATH)); /* FP32: no TF32 */
    CN_TRY(upload_weights(d, params));

    double hf[4096]; /* hd <= 8192 */
    for (int i = 0; i < d->hd / 2; i++) hf[i] = pow((double)c->rope_theta, -2.0 * (double)i / (double)d->hd);
    CN_TRY(dev_alloc((void **)&d->freq, sizeof(double) * (d->hd / 2), "rotary frequencies"));
    CN_CU(cudaMemcpy(d->freq, hf, sizeof(double) * (d->hd / 2), cudaMemcpyHostToDevice));

    size_t wmax = D > Hd ? D : Hd, wrows = wmax > V ? wmax : V;
    CN_TRY(dev_alloc((void **)&d->kc, L * T * D * 2, "key cache"));
    CN_TRY(dev_alloc((void **)&d->vc, L * T * D * 2, "value cache"));
    CN_TRY(dev_alloc((void **)&d->slide_tmp, T * D * 2, "slide scratch"));
    float **act[] = {&d->x, &d->xb, &d->q, &d->k, &d->v, &d->ao};
    for (size_t i = 0; i < sizeof act / sizeof act[0]; i++)
        CN_TRY(dev_alloc((void **)act[i], R * D * 4, "activations"));
    CN_TRY(dev_alloc((void **)&d->hb, R * Hd * 4, "activations"));
    CN_TRY(dev_alloc((void **)&d->att, R * H * T * 4, "attention scratch"));
    CN_TRY(dev_alloc((void **)&d->wbuf, d->bf16 ? wrows * wmax * 4 : 4, "weight scratch"));
    CN_TRY(dev_alloc((void **)&d->logits, V * 4, "logits"));
    CN_TRY(dev_alloc((void **)&d->step, sizeof(step_hdr) + R * sizeof(int), "step"));
    CN_CU(cudaMemset(d->kc, 0, L * T * D * 2));
    CN_CU(cudaMemset(d->vc, 0, L * T * D * 2));
    CN_CU(cudaMallocHost((void **)&d->h_step, sizeof(step_hdr) + R * sizeof(int)));
    CN_CU(cudaMallocHost((void **)&d->h_logits, V * 4));
    return 0;
}

static void decoder_free(cn_cuda_decoder *d)
{
    if (!d) return;
    /* errors ignored: nothing useful to do with them while tearing down */
    if (d->stream) cudaStreamSynchronize(d->stream);
    if (d->graph_exec) cudaGraphExecDestroy(d->graph_exec);
    if (d->graph) cudaGraphDestroy(d->graph);
    void *dev[] = {d->wblock, d->freq, d->kc, d->vc, d->slide_tmp, d->x, d->xb, d->q, d->k, d->v,
                   d->ao, d->hb, d->att, d->wbuf, d->logits, d->step};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) cudaFree(dev[i]);
    if (d->h_step) cudaFreeHost(d->h_step);
    if (d->h_logits) cudaFreeHost(d->h_logits);
    if (d->blas) cublasDestroy(d->blas);
    if (d->stream) cudaStreamDestroy(d->stream);
    free(d);
}

/* ---- one decode step: the fixed kernel list -------------------------------- */

template <typename WT>
static int enqueue_decode_t(cn_cuda_decoder *d, const WT *emb, const WT *wq, const WT *wk,
                            const WT *wv, const WT *wo, const WT *w1, const WT *w2, const WT *wcls)
{
    const cn_cuda_decode_shape *c = &d->c;
    int D = c->dim, Hd = c->hidden_dim, V = c->vocab_size, T = c->seq_len;
    size_t dd = (size_t)D * D, dh = (size_t)D * Hd, cache = (size_t)T * D;
    cudaStream_t s = d->stream;
    unsigned mv = MV_WARPS * 32;
    size_t sh_d = (D + 32) * sizeof(float);
    size_t sh_att = (d->hd + ATT_THREADS + 32) * sizeof(float);

    embed_kernel<WT><<<dim3(blocks(D, EW_THREADS), 1), EW_THREADS, 0, s>>>(d->x, emb, d->step, D, V);
    DEC_LAUNCHED("embed");
    for (int l = 0; l < c->n_layers; l++) {
        __half *kc = d->kc + l * cache, *vc = d->vc + l * cache;
        qkv_kernel<WT><<<blocks(3 * D / 2, MV_WARPS), mv, sh_d, s>>>(
            d->q, kc, vc, d->x, d->rms_att + (size_t)l * D, wq + l * dd, wk + l * dd, wv + l * dd,
            d->freq, d->step, D, d->hd);
        DEC_LAUNCHED("qkv");
        attention_kernel<<<dim3(c->n_heads, 1), ATT_THREADS, sh_att, s>>>(d->ao, d->att, d->q, kc, vc,
                                                                          d->step, D, d->hd, T);
        DEC_LAUNCHED("attention");
        matvec_residual_kernel<WT><<<blocks(D, MV_WARPS), mv, 0, s>>>(d->x, wo + l * dd, d->ao, D, D);
        DEC_LAUNCHED("matvec_residual");
        normed_matvec_kernel<WT><<<blocks(Hd, MV_WARPS), mv, sh_d, s>>>(
            d->hb, w1 + l * dh, d->x, d->rms_ffn + (size_t)l * D, Hd, D, 1);
        DEC_LAUNCHED("normed_matvec");
        matvec_residual_kernel<WT><<<blocks(D, MV_WARPS), mv, 0, s>>>(d->x, w2 + l * dh, d->hb, D, Hd);
        DEC_LAUNCHED("matvec_residual");
    }
    normed_matvec_kernel<WT><<<blocks(V, MV_WARPS), mv, sh_d, s>>>(d->logits, wcls, d->x, d->rms_final,
                                                                  V, D, 0);
    DEC_LAUNCHED("normed_matvec");
    return 0;
}

static int enqueue_decode(cn_cuda_decoder *d)
{
    if (d->bf16)
        return enqueue_decode_t<uint16_t>(d, d->tok_emb.b, d->wq.b, d->wk.b, d->wv.b, d->wo.b,
                                          d->w1.b, d->w2.b, d->wcls.b);
    return enqueue_decode_t<float>(d, d->tok_emb.f, d->wq.f, d->wk.f, d->wv.f, d->wo.f, d->w1.f,
                                   d->w2.f, d->wcls.f);
}

/* Capture the step once; the graph reads everything that changes from d->step. */
static int capture_graph(cn_cuda_decoder *d)
{
    CN_CU(cudaStreamBeginCapture(d->stream, cudaStreamCaptureModeThreadLocal));
    int rc = enqueue_decode(d);
    cudaGraph_t g = NULL;
    cudaError_t e = cudaStreamEndCapture(d->stream, &g);
    if (rc) { /* the launch's error is the message; the capture is void */
        if (g) cudaGraphDestroy(g);
        return -1;
    }
    CN_CU(e);
    d->graph = g;
    CN_CU(cudaGraphInstantiate(&d->graph_exec, g, 0));
    return 0;
}

/* The step's header and tokens into the pinned buffer, then to the device.
 * The caller has waited for every earlier use of h_step (each call syncs). */
static int write_step(cn_cuda_decoder *d, const int *tokens, int rows)
{
    d->h_step->pos0 = d->offset + d->n;
    d->h_step->slot0 = d->n;
    d->h_step->rows = rows;
    memcpy((int *)(d->h_step + 1), tokens, (size_t)rows * sizeof(int));
    CN_CU(cudaMemcpyAsync(d->step, d->h_step, sizeof(step_hdr) + (size_t)rows * sizeof(int),
                          cudaMemcpyHostToDevice, d->stream));
    return 0;
}

static int fetch_logits(cn_cuda_decoder *d, float *logits)
{
    size_t V = d->c.vocab_size;
    CN_CU(cudaMemcpyAsync(d->h_logits, d->logits, V * 4, cudaMemcpyDeviceToHost, d->stream));
    CN_CU(cudaStreamSynchronize(d->stream)); /* also reports a failed kernel */
    if (logits) memcpy(logits, d->h_logits, V * 4);
    return 0;
}

/* ---- slide ---------------------------------------------------------------- */

static int slide_do(cn_cuda_decoder *d, int keep)
{
    if (keep < 0) keep = 0;
    if (keep >= d->n) return 0;
    int shift = d->n - keep;
    size_t D = d->c.dim, T = d->c.seq_len, bytes = (size_t)keep * D * 2;
    /* the kept slots move down; source and destination may overlap, so they
     * go through a scratch buffer (two plain copies per cache per layer) */
    for (int l = 0; l < d->c.n_layers && keep > 0; l++) {
        __half *caches[] = {d->kc + l * T * D, d->vc + l * T * D};
        for (int i = 0; i < 2; i++) {
            CN_CU(cudaMemcpyAsync(d->slide_tmp, caches[i] + shift * D, bytes, cudaMemcpyDeviceToDevice, d->stream));
            CN_CU(cudaMemcpyAsync(caches[i], d->slide_tmp, bytes, cudaMemcpyDeviceToDevice, d->stream));
        }
    }
    CN_CU(cudaStreamSynchronize(d->stream));
    d->offset += shift;
    d->n = keep;
    return 0;
}

/* ---- prefill --------------------------------------------------------------- */

/* out(rows, R) = X(rows, C) W(R, C)^T (+ out when accumulate), float32 sgemm.
 * Row-major out is column-major out^T (R, rows) = W X^T: W row-major (R, C)
 * is column-major (C, R), hence OP_T with lda = C. */
static int sgemm_rows(cn_cuda_decoder *d, float *out, const float *X, dmat W, size_t off, int rows,
                      int R, int C, int accumulate)
{
    const float *w = W.f ? W.f + off : NULL;
    if (W.b) { /* widened into wbuf; stream order keeps the previous sgemm's reads first */
        size_t n = (size_t)R * C;
        bf16_to_f32_kernel<<<blocks(n, EW_THREADS), EW_THREADS, 0, d->stream>>>(d->wbuf, W.b + off, n);
        DEC_LAUNCHED("bf16_to_f32");
        w = d->wbuf;
    }
    const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    CN_BLAS(cublasSgemm(d->blas, CUBLAS_OP_T, CUBLAS_OP_N, R, rows, C, &one, w, C, X, C, &beta, out, R));
    return 0;
}

static int prefill_chunk(cn_cuda_decoder *d, const int *tokens, int rows)
{
    const cn_cuda_decode_shape *c = &d->c;
    int D = c->dim, Hd = c->hidden_dim, V = c->vocab_size, T = c->seq_len;
    size_t dd = (size_t)D * D, dh = (size_t)D * Hd, cache = (size_t)T * D;
    cudaStream_t s = d->stream;
    size_t sh_att = (d->hd + ATT_THREADS + 32) * sizeof(float);
    dim3 ew_rows(blocks(D, EW_THREADS), rows);

    CN_TRY(write_step(d, tokens, rows));
    if (d->bf16) embed_kernel<uint16_t><<<ew_rows, EW_THREADS, 0, s>>>(d->x, d->tok_emb.b, d->step, D, V);
    else embed_kernel<float><<<ew_rows, EW_THREADS, 0, s>>>(d->x, d->tok_emb.f, d->step, D, V);
    DEC_LAUNCHED("embed");
    for (int l = 0; l < c->n_layers; l++) {
        __half *kc = d->kc + l * cache, *vc = d->vc + l * cache;
        rmsnorm_rows_kernel<<<rows, EW_THREADS, 0, s>>>(d->xb, d->x, d->rms_att + (size_t)l * D, d->step, D);
        DEC_LAUNCHED("rmsnorm_rows");
        CN_TRY(sgemm_rows(d, d->q, d->xb, d->wq, l * dd, rows, D, D, 0));
        CN_TRY(sgemm_rows(d, d->k, d->xb, d->wk, l * dd, rows, D, D, 0));
        CN_TRY(sgemm_rows(d, d->v, d->xb, d->wv, l * dd, rows, D, D, 0));
        rope_store_kernel<<<dim3(blocks(D / 2, EW_THREADS), rows), EW_THREADS, 0, s>>>(
            d->q, d->k, d->v, kc, vc, d->freq, d->step, D, d->hd);
        DEC_LAUNCHED("rope_store");
        attention_kernel<<<dim3(c->n_heads, rows), ATT_THREADS, sh_att, s>>>(d->ao, d->att, d->q, kc, vc,
                                                                             d->step, D, d->hd, T);
        DEC_LAUNCHED("attention");
        CN_TRY(sgemm_rows(d, d->x, d->ao, d->wo, l * dd, rows, D, D, 1)); /* x += ao wo^T */
        rmsnorm_rows_kernel<<<rows, EW_THREADS, 0, s>>>(d->xb, d->x, d->rms_ffn + (size_t)l * D, d->step, D);
        DEC_LAUNCHED("rmsnorm_rows");
        CN_TRY(sgemm_rows(d, d->hb, d->xb, d->w1, l * dh, rows, Hd, D, 0));
        gelu_kernel<<<blocks((size_t)rows * Hd, EW_THREADS), EW_THREADS, 0, s>>>(d->hb, (size_t)rows * Hd);
        DEC_LAUNCHED("gelu");
        CN_TRY(sgemm_rows(d, d->x, d->hb, d->w2, l * dh, rows, D, Hd, 1)); /* x += hb w2^T */
    }
    /* only the last token's logits are wanted */
    const float *last = d->x + (size_t)(rows - 1) * D;
    size_t sh_d = (D + 32) * sizeof(float);
    unsigned mv = MV_WARPS * 32;
    if (d->bf16) normed_matvec_kernel<uint16_t><<<blocks(V, MV_WARPS), mv, sh_d, s>>>(d->logits, d->wcls.b, last, d->rms_final, V, D, 0);
    else normed_matvec_kernel<float><<<blocks(V, MV_WARPS), mv, sh_d, s>>>(d->logits, d->wcls.f, last, d->rms_final, V, D, 0);
    DEC_LAUNCHED("normed_matvec");
    /* the pinned step buffer is rewritten by the next chunk: wait here */
    CN_CU(cudaStreamSynchronize(d->stream));
    d->n += rows;
    return 0;
}

/* ---- the table's functions --------------------------------------------------- */

/* -1 with the decoder's first failure when it has one. */
static int guard(cn_cuda_decoder *d)
{
    if (!d) return cn_set_error("cuda decode: no decoder");
    if (d->broken) return cn_set_error("%s", d->err);
    return 0;
}

/* An operation failed: keep its line (last_error) for every later call. */
static int broke(cn_cuda_decoder *d)
{
    d->broken = 1;
    snprintf(d->err, sizeof d->err, "%s", cn_last_error());
    return -1;
}

static int dec_new(cn_cuda_decoder **out, const cn_cuda_decode_shape *c, const float *params, int bf16)
{
    *out = NULL;
    CN_TRY(cn_require_init());
    const char *why = NULL;
    if (!c || !params) why = "no shape or weights";
    else if (c->dim <= 0 || c->n_heads <= 0 || c->dim % c->n_heads || (c->dim / c->n_heads) % 2)
        why = "bad dim / n_heads (head_dim must be a whole even number)";
    else if (c->dim > 8192) why = "dim > 8192 (a normalized input row is staged in 32 KB of shared memory)";
    else if (c->n_layers <= 0 || c->hidden_dim <= 0 || c->vocab_size <= 0 || c->seq_len <= 0 ||
             (c->tied != 0 && c->tied != 1))
        why = "bad sizes";
    if (why) return cn_set_error("cuda decode: %s", why);
    cn_cuda_decoder *d = (cn_cuda_decoder *)calloc(1, sizeof *d);
    if (!d) return cn_set_error("cuda decode: out of host memory");
    d->c = *c;
    d->bf16 = bf16 ? 1 : 0;
    d->use_graph = 1;
    if (decoder_init(d, params)) {
        decoder_free(d); /* last_error keeps init's line */
        return -1;
    }
    *out = d;
    return 0;
}

static void dec_free(cn_cuda_decoder *d) { decoder_free(d); }

static int dec_forward(cn_cuda_decoder *d, int token, float *logits)
{
    CN_TRY(guard(d));
    if (token < 0 || token >= d->c.vocab_size)
        return cn_set_error("cuda decode: token %d out of range 0..%d", token, d->c.vocab_size - 1);
    if (d->n >= d->c.seq_len && slide_do(d, d->slide_keep)) return broke(d);
    if (write_step(d, &token, 1)) return broke(d);
    if (d->use_graph) {
        if (!d->graph_exec && capture_graph(d)) return broke(d);
        cudaError_t e = cudaGraphLaunch(d->graph_exec, d->stream);
        if (e != cudaSuccess) {
            cn_set_error("cuda decode: cudaGraphLaunch: %s (error %d)", cudaGetErrorString(e), (int)e);
            return broke(d);
        }
    } else if (enqueue_decode(d)) {
        return broke(d);
    }
    if (fetch_logits(d, logits)) return broke(d);
    d->n++;
    return 0;
}

static int dec_prefill(cn_cuda_decoder *d, const int *tokens, int n, float *logits)
{
    CN_TRY(guard(d));
    if (!tokens || n <= 0) return cn_set_error("cuda decode: prefill of %d tokens", n);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= d->c.vocab_size)
            return cn_set_error("cuda decode: token %d out of range 0..%d", tokens[i], d->c.vocab_size - 1);
    for (int i = 0; i < n;) {
        if (d->n >= d->c.seq_len && slide_do(d, d->slide_keep)) return broke(d);
        int todo = n - i;
        if (todo > d->rows_max) todo = d->rows_max;
        if (todo > d->c.seq_len - d->n) todo = d->c.seq_len - d->n;
        if (prefill_chunk(d, tokens + i, todo)) return broke(d);
        i += todo;
    }
    if (fetch_logits(d, logits)) return broke(d);
    return 0;
}

static void dec_truncate(cn_cuda_decoder *d, int n)
{
    if (!d) return;
    if (n < 0) n = 0;
    if (n < d->n) d->n = n;
}

static int dec_slide(cn_cuda_decoder *d, int keep)
{
    CN_TRY(guard(d));
    if (slide_do(d, keep)) return broke(d);
    return 0;
}

static int dec_len(const cn_cuda_decoder *d) { return d ? d->n : 0; }
static int64_t dec_position(const cn_cuda_decoder *d) { return d ? (int64_t)(d->offset + d->n) : 0; }

static void dec_set_slide_keep(cn_cuda_decoder *d, int keep)
{
    if (!d) return;
    int T = d->c.seq_len;
    d->slide_keep = keep < 0 ? 0 : keep >= T ? T - 1 : keep;
}

static void dec_set_graph(cn_cuda_decoder *d, int on)
{
    if (d) d->use_graph = on ? 1 : 0;
}

static int dec_kernels_per_token(const cn_cuda_decoder *d) { return d ? 2 + 5 * d->c.n_layers : 0; }

} /* namespace */

extern "C" void cn_cuda_decode_fill(cn_cuda_api *api)
{
    api->dec_new = dec_new;
    api->dec_free = dec_free;
    api->dec_forward = dec_forward;
    api->dec_prefill = dec_prefill;
    api->dec_truncate = dec_truncate;
    api->dec_slide = dec_slide;
    api->dec_len = dec_len;
    api->dec_position = dec_position;
    api->dec_set_slide_keep = dec_set_slide_keep;
    api->dec_set_graph = dec_set_graph;
    api->dec_kernels_per_token = dec_kernels_per_token;
}
