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

/* IEEE half <-> float32 (round to nearest even; >= 65520 becomes inf;
 * subnormals kept; NaN stays NaN). Bit operations, not _Float16, so that
 * every C compiler takes it (clang 14 has no _Float16 on x86-64 without
 * SSE2 half support); tests/test_kernels.c checks it against _Float16 where
 * the compiler has it. */
static inline uint16_t kern_f32_to_f16(float f)
{
    union { float f; uint32_t u; } v = {f};
    uint32_t sign = (v.u >> 16) & 0x8000u, ax = v.u & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);   /* >= 65520: inf */
    if (ax >= 0x38800000u) {                                     /* normal half */
        uint32_t r = ax - 0x38000000u;                           /* exponent 127 -> 15 */
        return (uint16_t)(sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13));
    }
    if (ax <= 0x33000000u) return (uint16_t)sign;                /* <= 2^-25: zero */
    uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;     /* subnormal half */
    uint32_t shift = 126u - e, q = m >> shift, rem = m & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (uint16_t)(sign | q);
}
static inline float kern_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    union { uint32_t u; float f; } v;
    if (e == 0x1f) v.u = sign | 0x7f800000u | (m << 13);
    else if (e) v.u = sign | ((e + 112u) << 23) | (m << 13);
    else {
        v.f = (float)m * 5.9604644775390625e-8f; /* m * 2^-24, exact */
        v.u |= sign;
    }
    return v.f;
}

#endif
