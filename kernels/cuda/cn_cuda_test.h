/* cn_cuda_test.h — FOR TESTS AND TOOLS ONLY: the CUDA library's per-kernel
 * entries (host arrays in, one kernel of the trainer, host arrays out), so
 * tests/test_cuda_train.c can compare each with its CPU reference in
 * tools/train/train_layers.c. A table of its own, not part of cn_cuda_api
 * (the production interface): exported by libcontinuo-cuda.so through
 * CN_CUDA_TEST_ENTRY and fetched with engine/cuda_loader_test.h. Each entry
 * runs exactly the device code the trainer runs; conventions (return codes,
 * last_error, shapes) as in cn_cuda.h; every array is HOST memory. Slow on
 * purpose (allocation and synchronous copies per call).
 * Change anything below => bump CN_CUDA_TEST_ABI. */
#ifndef CONTINUO_CN_CUDA_TEST_H
#define CONTINUO_CN_CUDA_TEST_H

#include "cn_cuda.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CN_CUDA_TEST_ABI 1
#define CN_CUDA_TEST_ENTRY "cn_cuda_get_test_api" /* const cn_cuda_test_api *(void) */

typedef struct cn_cuda_test_api {
    uint32_t abi;          /* CN_CUDA_TEST_ABI: FIRST field, checked by the loader */
    uint32_t size;         /* sizeof(cn_cuda_test_api) as the library was built */
    /* train_embed_forward / _backward (demb in/out, += in row order) */
    int (*test_embedding_fwd)(float *out, const uint16_t *tokens, const float *emb, int N, int C,
                              int V);
    int (*test_embedding_bwd)(float *demb, const float *dout, const uint16_t *tokens, int N,
                              int C, int V);
    /* train_rmsnorm_forward / _backward (dinp, dw in/out: +=) */
    int (*test_rmsnorm_fwd)(float *out, float *rstd, const float *inp, const float *w, int N,
                            int C);
    int (*test_rmsnorm_bwd)(float *dinp, float *dw, const float *dout, const float *inp,
                            const float *w, const float *rstd, int N, int C);
    /* train_matmul_forward (writes) / _backward (dinp, dw in/out: +=; dinp may be NULL) */
    int (*test_matmul_fwd)(float *out, const float *inp, const float *w, int N, int C, int OC);
    int (*test_matmul_bwd)(float *dinp, float *dw, const float *dout, const float *inp,
                           const float *w, int N, int C, int OC);
    /* train_rope_forward / _backward: in place on x (N, C); tables built on the
     * device from theta exactly as train_rope_tables (double angles). */
    int (*test_rope_fwd)(float *x, int B, int T, int C, int NH, float theta);
    int (*test_rope_bwd)(float *dx, int B, int T, int C, int NH, float theta);
    /* train_attention_forward: out (N, C) writes; att (B, NH, T, T) gets the
     * FULL causal probability matrix (zeros above the diagonal; the CPU only
     * writes zeros up to the end of each 64-row block: compare j <= i). */
    int (*test_attention_fwd)(float *out, float *att, const float *q, const float *k,
                              const float *v, int B, int T, int C, int NH);
    /* train_attention_backward: dq, dk, dv (N, C) writes (the CPU caller zeroes,
     * then +=); att as left by the forward (full causal matrix). */
    int (*test_attention_bwd)(float *dq, float *dk, float *dv, const float *dout,
                              const float *att, const float *q, const float *k, const float *v,
                              int B, int T, int C, int NH);
    /* train_gelu_forward (writes) / train_gelu_backward (dinp writes) */
    int (*test_gelu_fwd)(float *out, const float *inp, int n);
    int (*test_gelu_bwd)(float *dinp, const float *inp, const float *dout, int n);
    /* train_xent_forward (probs, losses write; *mean = mean over scored rows)
     * then train_xent_backward with scale = 1 / scored rows (dlogits writes;
     * rows without a target get 0). */
    int (*test_crossentropy)(float *losses, float *probs, float *dlogits, float *mean,
                             const float *logits, const int *targets, int N, int V);
    /* train_adamw_update (params, m, v in/out) */
    int (*test_adamw)(float *params, const float *grads, float *m, float *v,
                      const uint8_t *decay_mask, size_t n, const cn_cuda_adamw_cfg *cfg,
                      float lr, float grad_scale, long t);

} cn_cuda_test_api;

typedef const cn_cuda_test_api *(*cn_cuda_get_test_api_fn)(void);

#ifdef __cplusplus
}
#endif

#endif
