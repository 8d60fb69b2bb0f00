/* kernels.h — the compute backend interface: one small table of functions.
 *
 * Shapes: row-major; W is (rows, cols) with y = W x.
 * The CPU backend (kernels/cpu_*.c) is the reference; others (CUDA) are
 * checked against it. All functions here are safe on a worker thread (no
 * allocation after init); none is called from the RT thread. */
#ifndef CONTINUO_KERNELS_H
#define CONTINUO_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* out(T, rows) = X(T, cols) @ W(rows, cols)^T: OpenBLAS sgemm. The matmul
 * entry of the blas, avx2 and avx512 tables below; the trainer calls it directly. */
void kern_matmul(float *out, const float *X, const float *W, int T, int rows, int cols);

/* Floats of scratch prefill_attend needs for n rows (ld, dim as there). */
static inline size_t kern_prefill_scratch(int n, int ld, int dim)
{
    return (size_t)ld * (2 * (size_t)dim + (size_t)n);
}

/* ---- the CPU kernels: one table per CPU variant --------------------------
 * Each variant lives in its own file (cpu_portable.c, cpu_avx2.c,
 * cpu_avx512.c, cpu_blas.c) and is picked at run time (kern_cpu_default),
 * because one binary must run on any x86-64: SIMD variants are compiled with
 * __attribute__((target(...))) and used only when __builtin_cpu_supports says
 * so. The portable variant is the reference the tests compare the others to.
 * All are real-time safe in the sense of no allocation, locks or syscalls. */
typedef struct {
    const char *name; /* "portable", "avx2", "avx512", "blas" */
    /* 1 when this CPU can run the variant. */
    int (*supported)(void);
    /* y(rows) = W(rows, cols) x(cols). y must not alias x. */
    void (*matvec)(float *y, const float *W, const float *x, int rows, int cols);
    /* Same with W stored as bfloat16 (the top 16 bits of a float32). */
    void (*matvec_bf16)(float *y, const uint16_t *W, const float *x, int rows, int cols);
    /* One decode step of causal attention for one layer, all heads:
     *   out(n_heads*head_dim) = per head h: softmax(q_h . k_t / sqrt(head_dim))_t v_t
     * over cache positions t = 0..n-1. The caches hold IEEE half floats
     * (kern_f32_to_f16) and are laid out so every inner loop is unit-stride:
     *   kt (n_heads*head_dim, ld): keys transposed, kt[i*ld + t] = key t, element i
     *   v  (ld, n_heads*head_dim): values,          v[t*dim + i]
     * att is scratch of n_heads*ld floats (left holding the probabilities). */
    void (*attend)(float *out, float *att, const float *q, const uint16_t *kt, const uint16_t *v,
                   int n, int ld, int n_heads, int head_dim);
    /* Conversions of n values: half -> float, float -> half (round to nearest
     * even), bfloat16 -> float. */
    void (*f16_to_f32)(float *dst, const uint16_t *src, int n);
    void (*f32_to_f16)(uint16_t *dst, const float *src, int n);
    void (*bf16_to_f32)(float *dst, const uint16_t *src, int n);
    /* x[i] = gelu(x[i]) in place, tanh approximation:
     *   0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    void (*gelu)(float *x, int n);
    /* Row-wise softmax in place: each of `rows` rows holds `n` valid entries
     * (the rest of its `ld` untouched). Used by prefill attention. */
    void (*softmax_rows)(float *x, int rows, int n, int ld);
    /* ---- batched (prefill) kernels ----
     * out(T, rows) = X(T, cols) @ W(rows, cols)^T (the variants but portable:
     * kern_matmul, OpenBLAS sgemm; portable: plain loops). */
    void (*matmul)(float *out, const float *X, const float *W, int T, int rows, int cols);
    /* Causal attention of n new rows for one layer, all heads. Their keys and
     * values are already in the caches (as attend's) at slots p0..p0+n-1; row
     * r attends over slots 0..p0+r, i.e. it is attend(q row r, n = p0+r+1):
     *   out (n, n_heads*head_dim), q (n, n_heads*head_dim) (rotated).
     * scratch: kern_prefill_scratch(n, ld, n_heads*head_dim) floats. The
     * variants but portable convert the cached slots to float32 once and run
     * two sgemms per head; portable calls attend row by row. */
    void (*prefill_attend)(float *out, float *scratch, const float *q, const uint16_t *kt,
                           const uint16_t *v, int p0, int n, int ld, int n_heads, int head_dim);
} kern_cpu;

/* All CPU variants compiled in (supported or not), portable first; n set to the count. */
const kern_cpu *const *kern_cpu_variants(int *n);
/* The variant by name, or NULL when unknown or unsupported on this CPU. */
const kern_cpu *kern_cpu_by_name(const char *name);
/* The fastest supported variant (measured: see cpu_dispatch.c), unless the
 * environment variable CONTINUO_KERNEL names another supported one. */
const kern_cpu *kern_cpu_default(void);

/* bfloat16 <-> float32 (round to nearest even; NaN stays NaN). */
static inline uint16_t kern_f32_to_bf16(float f)
{
    union { float f; uint32_t u; } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40);
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1)) >> 16);
}
static inline float kern_bf16_to_f32(uint16_t h)
{
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

/* IEEE half <-> float32 (round to nearest even; > 65504 becomes inf). */
static inline uint16_t kern_f32_to_f16(float f)
{
    union { _Float16 h; uint16_t u; } v = {(_Float16)f};
    return v.u;
}
static inline float kern_f16_to_f32(uint16_t u)
{
    union { uint16_t u; _Float16 h; } v = {u};
    return (float)v.h;
}

#endif
