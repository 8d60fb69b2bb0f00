/* cpu_blas.c — OpenBLAS-backed kernels: the batched matmul used by prefill
 * and training, and a decode variant built on sgemv (kept to measure the
 * hand-written SIMD variants against; see cpu_dispatch.c for which wins). */
#include <cblas.h>
#include "kernels.h"
#include "cpu_variants.h"

void kern_matmul(float *out, const float *X, const float *W, int T, int rows, int cols)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, rows, cols, 1.0f, X, cols, W, cols,
                0.0f, out, rows);
}

static int blas_supported(void) { return 1; }

static void blas_matvec(float *y, const float *W, const float *x, int rows, int cols)
{
    cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, cols, 1.0f, W, cols, x, 1, 0.0f, y, 1);
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
};
