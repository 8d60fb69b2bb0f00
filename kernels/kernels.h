/* kernels.h — the compute backend interface: one small table of functions.
 *
 * Shapes: row-major; W is (rows, cols) with y = W x.
 * The CPU backend (kernels/cpu_*.c) is the reference; others (CUDA) are
 * checked against it. All functions here are safe on a worker thread (no
 * allocation after init); none is called from the RT thread. */
#ifndef CONTINUO_KERNELS_H
#define CONTINUO_KERNELS_H

/* out(T, rows) = X(T, cols) @ W(rows, cols)^T   (OpenBLAS sgemm) — prefill/training */
void kern_matmul(float *out, const float *X, const float *W, int T, int rows, int cols);

#endif
