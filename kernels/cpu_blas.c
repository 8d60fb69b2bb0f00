/* cpu_blas.c — OpenBLAS-backed kernels (batched matmuls). */
#include <cblas.h>
#include "kernels.h"

void kern_matmul(float *out, const float *X, const float *W, int T, int rows, int cols)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, rows, cols, 1.0f, X, cols, W, cols,
                0.0f, out, rows);
}
