/* cpu_variants.h — internal to kernels/: the CPU variant tables and the
 * portable functions the SIMD variants fall back on for odd shapes. */
#ifndef CONTINUO_CPU_VARIANTS_H
#define CONTINUO_CPU_VARIANTS_H

#include "kernels.h"

extern const kern_cpu kern_cpu_portable; /* cpu_portable.c */
extern const kern_cpu kern_cpu_avx2;     /* cpu_avx2.c */
extern const kern_cpu kern_cpu_avx512;   /* cpu_avx512.c */
extern const kern_cpu kern_cpu_blas;     /* cpu_blas.c */

void kern_portable_matvec(float *y, const float *W, const float *x, int rows, int cols);
void kern_portable_matvec_bf16(float *y, const uint16_t *W, const float *x, int rows, int cols);
void kern_portable_attend(float *out, float *att, const float *q, const uint16_t *kt,
                          const uint16_t *v, int n, int ld, int n_heads, int head_dim);
void kern_portable_f16_to_f32(float *dst, const uint16_t *src, int n);
void kern_portable_f32_to_f16(uint16_t *dst, const float *src, int n);
void kern_portable_bf16_to_f32(float *dst, const uint16_t *src, int n);
void kern_portable_gelu(float *x, int n);
void kern_portable_softmax_rows(float *x, int rows, int n, int ld);
void kern_portable_matmul(float *out, const float *X, const float *W, int T, int rows, int cols);
void kern_portable_prefill_attend(float *out, float *scratch, const float *q, const uint16_t *kt,
                                  const uint16_t *v, int p0, int n, int ld, int n_heads,
                                  int head_dim);
/* prefill_attend through OpenBLAS sgemm, converting and normalising with k's
 * own f16_to_f32 and softmax_rows (cpu_blas.c); the SIMD tables wrap it. */
void kern_blas_prefill_attend(const kern_cpu *k, float *out, float *scratch, const float *q,
                              const uint16_t *kt, const uint16_t *v, int p0, int n, int ld,
                              int n_heads, int head_dim);

/* The portable functions as a table body: the portable table itself, and the
 * SIMD tables on machines that cannot build them (never supported there, but
 * every entry stays callable). */
#define KERN_PORTABLE_ENTRIES                          \
    .matvec = kern_portable_matvec,                    \
    .matvec_bf16 = kern_portable_matvec_bf16,          \
    .attend = kern_portable_attend,                    \
    .f16_to_f32 = kern_portable_f16_to_f32,            \
    .f32_to_f16 = kern_portable_f32_to_f16,            \
    .bf16_to_f32 = kern_portable_bf16_to_f32,          \
    .gelu = kern_portable_gelu,                        \
    .softmax_rows = kern_portable_softmax_rows,        \
    .matmul = kern_portable_matmul,                    \
    .prefill_attend = kern_portable_prefill_attend

#endif
