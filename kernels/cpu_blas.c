/* cpu_blas.c — OpenBLAS-backed kernels: the batched matmul and prefill
 * attention (sgemm) that every variant but portable uses, and a decode
 * variant built on sgemv (kept to measure the hand-written SIMD variants
 * against; see cpu_dispatch.c for which wins). */
#include <math.h>
#include <cblas.h>
#include "kernels.h"
#include "cpu_variants.h"

void kern_matmul(float *out, const float *X, const float *W, int T, int rows, int cols)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, rows, cols, 1.0f, X, cols, W, cols,
                0.0f, out, rows);
}

void kern_blas_prefill_attend(const kern_cpu *k, float *out, float *scratch, const float *q,
                              const uint16_t *kt, const uint16_t *v, int p0, int n, int ld,
                              int n_heads, int head_dim)
{
    int d = n_heads * head_dim, end = p0 + n;
    float scale = 1.0f / sqrtf((float)head_dim);
    float *kbuf = scratch;                  /* (dim, ld) keys as float32 */
    float *vbuf = kbuf + (size_t)d * ld;    /* (end, dim) values as float32 */
    float *att = vbuf + (size_t)d * ld;     /* (n, ld) scores, then probabilities */
    /* the cached (half) keys and values of slots 0..end-1 as float32, so
     * prefill attends to exactly the numbers decode does */
    for (int i = 0; i < d; i++) k->f16_to_f32(kbuf + (size_t)i * ld, kt + (size_t)i * ld, end);
    k->f16_to_f32(vbuf, v, end * d);
    for (int h = 0; h < n_heads; h++) {
        /* scores (n, end) = scale Q_h (n, hd) Kt_h (hd, end) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, end, head_dim, scale,
                    q + h * head_dim, d, kbuf + (size_t)h * head_dim * ld, ld, 0.0f, att, ld);
        for (int r = 0; r < n; r++) {
            float *row = att + (size_t)r * ld;
            int valid = p0 + r + 1; /* causal: slots <= p0 + r */
            k->softmax_rows(row, 1, valid, ld);
            for (int t = valid; t < end; t++) row[t] = 0.0f;
        }
        /* out_h (n, hd) = P (n, end) V_h (end, hd) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, head_dim, end, 1.0f, att, ld,
                    vbuf + h * head_dim, d, 0.0f, out + h * head_dim, d);
    }
}

static int blas_supported(void) { return 1; }

static void blas_matvec(float *y, const float *W, const float *x, int rows, int cols)
{
    cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, cols, 1.0f, W, cols, x, 1, 0.0f, y, 1);
}

static void blas_prefill_attend(float *out, float *scratch, const float *q, const uint16_t *kt,
                                const uint16_t *v, int p0, int n, int ld, int n_heads, int head_dim)
{
    kern_blas_prefill_attend(&kern_cpu_blas, out, scratch, q, kt, v, p0, n, ld, n_heads, head_dim);
}

const kern_cpu kern_cpu_blas = {
    .name = "blas",
    .supported = blas_supported,
    .matvec = blas_matvec,
    .matvec_bf16 = kern_portable_matvec_bf16, /* BLAS has no bf16 gemv */
    .attend = kern_portable_attend, /* the half-float cache has no BLAS routine */
    .f16_to_f32 = kern_portable_f16_to_f32,
    .f32_to_f16 = kern_portable_f32_to_f16,
    .bf16_to_f32 = kern_portable_bf16_to_f32,
    .gelu = kern_portable_gelu,
    .softmax_rows = kern_portable_softmax_rows,
    .matmul = kern_matmul,
    .prefill_attend = blas_prefill_attend,
};
