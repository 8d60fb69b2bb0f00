/* cn_cuda_internal.cuh — what the .cu files of libcontinuo-cuda.so share:
 * error reporting (turned into the table's last_error() line), the device
 * and cuBLAS handle made by init(), and the launchers of the kernels that
 * training and decode both use (kernels/cuda/train_kernels.cu).
 *
 * Every launcher runs on the legacy default stream (stream 0, which cuBLAS
 * uses too), returns 0 or -1 with the error set, and does not wait for the
 * device: an error inside a kernel shows up at the next synchronising call
 * (cudaMemcpy, cn_cuda sync()). Shapes as in cn_cuda.h. */
#ifndef CONTINUO_CN_CUDA_INTERNAL_CUH
#define CONTINUO_CN_CUDA_INTERNAL_CUH

#include <string.h>
#include <cuda_runtime.h>
#include <cublas_v2.h>
#include "cn_cuda.h"

/* Sets this thread's last_error() line (printf format). Returns -1. */
int cn_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *cn_last_error(void);

/* Basename of the source file, for error lines that name where it failed. */
static inline const char *cn_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}
#define CN_FILE cn_basename(__FILE__)

/* Check a CUDA runtime call; on failure set the error and return -1. */
#define CN_CU(call)                                                                         \
    do {                                                                                    \
        cudaError_t e_ = (call);                                                            \
        if (e_ != cudaSuccess)                                                              \
            return cn_set_error("%s:%d: %s: %s (error %d)", CN_FILE, __LINE__, #call,       \
                                cudaGetErrorString(e_), (int)e_);                           \
    } while (0)

/* Check a cuBLAS call. */
#define CN_BLAS(call)                                                                       \
    do {                                                                                    \
        cublasStatus_t s_ = (call);                                                         \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                    \
            return cn_set_error("%s:%d: %s: %s (cuBLAS status %d)", CN_FILE, __LINE__,      \
                                #call, cublasGetStatusString(s_), (int)s_);                 \
    } while (0)

/* After a kernel launch: launch-configuration errors are reported at once. */
#define CN_LAUNCHED() CN_CU(cudaGetLastError())

/* Propagate a failing cn_* call (its error is already set). */
#define CN_TRY(x)                                                                           \
    do {                                                                                    \
        if ((x) != 0) return -1;                                                            \
    } while (0)

/* init() from the table; 0 when a usable device is set up. */
int cn_init(void);
/* -1 with "cuda backend: init() was not called" unless cn_init succeeded. */
int cn_require_init(void);
/* The process's cuBLAS handle (stream 0); valid after cn_init. */
cublasHandle_t cn_blas(void);

/* The table is filled by the files that own its entries (cn_cuda.cu calls
 * these once, on the first cn_cuda_get_api; train_tests.cu exports the
 * separate test table of cn_cuda_test.h itself). decode's is weak so that the
 * library links before/without decode.cu; decode.cu defines it extern "C". */
void cn_cuda_train_fill(cn_cuda_api *api);
extern "C" void cn_cuda_decode_fill(cn_cuda_api *api) __attribute__((weak));

/* Rounds a / b up. */
static inline int cn_div_up(long a, long b) { return (int)((a + b - 1) / b); }

/* ---- shared kernels (train_kernels.cu), CPU references in train_layers.c -- */

/* out(N, OC) = inp(N, C) @ w(OC, C)^T + beta * out (beta 0: writes) */
int cn_matmul_forward(float *out, const float *inp, const float *w, int N, int C, int OC,
                      float beta);
/* dinp(N, C) = dout(N, OC) @ w(OC, C) + beta_inp * dinp (dinp may be NULL);
 * dw(OC, C) += dout^T @ inp */
int cn_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp,
                       const float *w, int N, int C, int OC, float beta_inp);
/* out = inp * rstd * w per row; rstd(N) written (may be NULL: not kept) */
int cn_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C);
/* dinp += ..., dw += ... (train_rmsnorm_backward) */
int cn_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                        const float *w, const float *rstd, int N, int C);
/* cos/sin (T, head_dim/2) as train_rope_tables (angles in double) */
int cn_rope_tables(float *cos_t, float *sin_t, int T, int head_dim, float theta);
/* in place on x (B*T, C); sign +1 forward, -1 backward; position of row n is
 * pos0 + n % T (pos0 = 0 in training) */
int cn_rope(float *x, const float *cos_t, const float *sin_t, int B, int T, int C, int NH,
            float sign);
/* elementwise tanh-GELU (writes) and its backward (dinp writes) */
int cn_gelu_forward(float *out, const float *inp, long n);
int cn_gelu_backward(float *dinp, const float *inp, const float *dout, long n);
/* out(N, C) = emb[tokens[n]] (tokens on the device, int32) */
int cn_embed_forward(float *out, const int *tokens, const float *emb, int N, int C);
/* demb[v] += sum of dout rows n with tokens[n] == v, in increasing n. The rows
 * of each v: rows[offs[v] .. offs[v+1]) ascending (a CSR built on the host,
 * which knows the tokens), so the sums are deterministic and in the CPU's order. */
int cn_embed_backward(float *demb, const float *dout, const int *offs, const int *rows, int V,
                      int C);
/* Causal attention (train_attention_forward). att (B, NH, T, T) gets the full
 * probability matrices (zeros above the diagonal). */
int cn_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                         int B, int T, int C, int NH);
/* dq, dk, dv written; scratch: B * NH * T * T floats */
int cn_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                          const float *att, const float *q, const float *k, const float *v,
                          int B, int T, int C, int NH);
/* Softmax cross-entropy: probs (N, V) (may alias logits), losses (N) (0 where
 * targets < 0) */
int cn_xent_forward(float *losses, float *probs, const float *logits, const int *targets, int N,
                    int V);
/* dlogits = (probs - onehot) * scale for rows with a target, 0 elsewhere */
int cn_xent_backward(float *dlogits, const float *probs, const int *targets, float scale, int N,
                     int V);
/* partial(n_blocks) doubles: sums of squares of g's chunks; n_blocks = CN_NORM_BLOCKS */
#define CN_NORM_BLOCKS 512
int cn_sumsq_partials(double *partial, const float *g, size_t n);
/* AdamW (train_adamw_update); c1, c2 = bias corrections 1 - beta^t */
int cn_adamw(float *params, const float *grads, float *m, float *v, const uint8_t *mask,
             size_t n, const cn_cuda_adamw_cfg *cfg, float lr, float grad_scale, float c1,
             float c2);
/* x += y, n floats */
int cn_add_inplace(float *x, const float *y, long n);
/* Host: the CSR of cn_embed_backward from host tokens (offs V + 1 ints, rows
 * N ints); -1 when a token is not below V. */
int cn_embed_csr(const uint16_t *tokens, int N, int V, int *offs, int *rows);

#endif
