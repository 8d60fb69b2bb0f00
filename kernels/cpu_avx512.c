/* cpu_avx512.c — AVX-512F decode kernels (16 floats per vector).
 * Compiled for any x86-64 with target attributes; used only when the CPU
 * reports avx512f (see supported()). Shapes the fast paths do not cover
 * (head_dim not a multiple of 16) fall back to the portable code.
 * exp() is a Cephes-style polynomial (relative error ~2e-7 on the reduced
 * range), good enough for softmax and GELU within the tests' 1e-5 tolerance. */
#include <math.h>
#include "kernels.h"
#include "cpu_variants.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))

static int avx512_supported(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

/* e^x for x in [-87, 88] (clamped): x = n ln2 + r, e^r by a degree-7 polynomial,
 * then scaled by 2^n with vscalefps. */
T512 static inline __m512 exp512(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
    p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* The four horizontal sums of a0..a3, as [s0 s1 s2 s3]. */
T512 static inline __m128 hsum4(__m512 a0, __m512 a1, __m512 a2, __m512 a3)
{
    __m256 b0 = _mm256_add_ps(_mm512_castps512_ps256(a0), _mm512_extractf32x8_ps(a0, 1));
    __m256 b1 = _mm256_add_ps(_mm512_castps512_ps256(a1), _mm512_extractf32x8_ps(a1, 1));
    __m256 b2 = _mm256_add_ps(_mm512_castps512_ps256(a2), _mm512_extractf32x8_ps(a2, 1));
    __m256 b3 = _mm256_add_ps(_mm512_castps512_ps256(a3), _mm512_extractf32x8_ps(a3, 1));
    __m256 c = _mm256_hadd_ps(_mm256_hadd_ps(b0, b1), _mm256_hadd_ps(b2, b3));
    return _mm_add_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1));
}

static inline __mmask16 tail_mask(int left) { return left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1); }

/* Four rows at a time (four independent FMA chains share each x load);
 * the main loop is unmasked, the masked tail runs once. */
#define MATVEC_BODY(LOADW)                                                                   \
    int i = 0, c16 = cols & ~15;                                                             \
    __mmask16 mt = tail_mask(cols - c16);                                                    \
    for (; i + 4 <= rows; i += 4) {                                                          \
        const __typeof__(*W) *w0 = W + (size_t)i * cols, *w1 = w0 + cols, *w2 = w1 + cols,   \
                             *w3 = w2 + cols;                                                \
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                          \
        for (int j = 0; j < c16; j += 16) {                                                  \
            __m512 xv = _mm512_loadu_ps(x + j);                                              \
            a0 = _mm512_fmadd_ps(LOADW(w0 + j, 0xffff), xv, a0);                             \
            a1 = _mm512_fmadd_ps(LOADW(w1 + j, 0xffff), xv, a1);                             \
            a2 = _mm512_fmadd_ps(LOADW(w2 + j, 0xffff), xv, a2);                             \
            a3 = _mm512_fmadd_ps(LOADW(w3 + j, 0xffff), xv, a3);                             \
        }                                                                                    \
        if (mt) {                                                                            \
            __m512 xv = _mm512_maskz_loadu_ps(mt, x + c16);                                  \
            a0 = _mm512_fmadd_ps(LOADW(w0 + c16, mt), xv, a0);                               \
            a1 = _mm512_fmadd_ps(LOADW(w1 + c16, mt), xv, a1);                               \
            a2 = _mm512_fmadd_ps(LOADW(w2 + c16, mt), xv, a2);                               \
            a3 = _mm512_fmadd_ps(LOADW(w3 + c16, mt), xv, a3);                               \
        }                                                                                    \
        _mm_storeu_ps(y + i, hsum4(a0, a1, a2, a3));                                         \
    }                                                                                        \
    for (; i < rows; i++) {                                                                  \
        const __typeof__(*W) *w0 = W + (size_t)i * cols;                                     \
        __m512 a0 = _mm512_setzero_ps();                                                     \
        for (int j = 0; j < cols; j += 16) {                                                 \
            __mmask16 m = tail_mask(cols - j);                                               \
            a0 = _mm512_fmadd_ps(LOADW(w0 + j, m), _mm512_maskz_loadu_ps(m, x + j), a0);     \
        }                                                                                    \
        y[i] = _mm512_reduce_add_ps(a0);                                                     \
    }

T512 static inline __m512 load_wf(const float *w, __mmask16 m)
{
    return m == 0xffff ? _mm512_loadu_ps(w) : _mm512_maskz_loadu_ps(m, w);
}
T512 static inline __m512 load_wbf(const uint16_t *w, __mmask16 m)
{
    __m256i h = m == 0xffff ? _mm256_loadu_si256((const __m256i *)w) : _mm256_maskz_loadu_epi16(m, w);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

T512 static void avx512_matvec(float *y, const float *W, const float *x, int rows, int cols)
{
    MATVEC_BODY(load_wf)
}

T512 static void avx512_matvec_bf16(float *y, const uint16_t *W, const float *x, int rows,
                                    int cols)
{
    MATVEC_BODY(load_wbf)
}

/* p[t] = exp(scale (s[t] - max)) for t < n; returns sum of p. */
T512 static float softmax_unnormalized(float *s, int n, float scale)
{
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int t = 0; t < n; t += 16)
        mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(mx, tail_mask(n - t), s + t));
    __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx) * scale);
    __m512 sc = _mm512_set1_ps(scale), sum = _mm512_setzero_ps();
    for (int t = 0; t < n; t += 16) {
        __mmask16 k = tail_mask(n - t);
        __m512 e = exp512(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(k, s + t), sc, m));
        e = _mm512_maskz_mov_ps(k, e);
        sum = _mm512_add_ps(sum, e);
        _mm512_mask_storeu_ps(s + t, k, e);
    }
    return _mm512_reduce_add_ps(sum);
}

T512 static void avx512_softmax_rows(float *x, int rows, int n, int ld)
{
    for (int r = 0; r < rows; r++) {
        float *p = x + (size_t)r * ld;
        __m512 inv = _mm512_set1_ps(1.0f / softmax_unnormalized(p, n, 1.0f));
        for (int t = 0; t < n; t += 16) {
            __mmask16 k = tail_mask(n - t);
            _mm512_mask_storeu_ps(p + t, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, p + t), inv));
        }
    }
}

T512 static inline __m512 load_h(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }
T512 static inline __m512 load_hm(const uint16_t *p, __mmask16 m)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

/* Scores for one head: 128 positions per block (eight accumulators), one
 * broadcast q element per key row; every key row segment is contiguous. */
T512 static void head_scores(float *s, const float *qh, const uint16_t *kh, int n, int ld, int hd)
{
    int t = 0;
    for (; t + 128 <= n; t += 128) {
        __m512 a[8];
#pragma GCC unroll 8
        for (int b = 0; b < 8; b++) a[b] = _mm512_setzero_ps();
        for (int j = 0; j < hd; j++) {
            const uint16_t *k = kh + (size_t)j * ld + t;
            __m512 qj = _mm512_set1_ps(qh[j]);
#pragma GCC unroll 8
            for (int b = 0; b < 8; b++) a[b] = _mm512_fmadd_ps(load_h(k + 16 * b), qj, a[b]);
        }
#pragma GCC unroll 8
        for (int b = 0; b < 8; b++) _mm512_storeu_ps(s + t + 16 * b, a[b]);
    }
    for (; t < n; t += 16) {
        __mmask16 m = tail_mask(n - t);
        __m512 a0 = _mm512_setzero_ps(), a1 = a0;
        int j = 0;
        for (; j + 2 <= hd; j += 2) {
            a0 = _mm512_fmadd_ps(load_hm(kh + (size_t)j * ld + t, m), _mm512_set1_ps(qh[j]), a0);
            a1 = _mm512_fmadd_ps(load_hm(kh + (size_t)(j + 1) * ld + t, m), _mm512_set1_ps(qh[j + 1]), a1);
        }
        _mm512_mask_storeu_ps(s + t, m, _mm512_add_ps(a0, a1));
    }
}

/* Needs head_dim % 16 == 0 (a vector never straddles two heads). The mix
 * runs over positions once for up to 256 output floats (16 accumulators),
 * streaming whole contiguous value rows. */
T512 static void avx512_attend(float *out, float *att, const float *q, const uint16_t *kt,
                               const uint16_t *v, int n, int ld, int n_heads, int hd)
{
    if (hd % 16) {
        kern_portable_attend(out, att, q, kt, v, n, ld, n_heads, hd);
        return;
    }
    int dim = n_heads * hd;
    float scale = 1.0f / sqrtf((float)hd), inv[n_heads];
    for (int h = 0; h < n_heads; h++) {
        float *s = att + (size_t)h * ld;
        head_scores(s, q + h * hd, kt + (size_t)h * hd * ld, n, ld, hd);
        inv[h] = 1.0f / softmax_unnormalized(s, n, scale);
    }
    for (int c0 = 0; c0 < dim; c0 += 256) {
        int nv = (dim - c0) / 16 < 16 ? (dim - c0) / 16 : 16;
        const float *p[16];
        __m512 a[16];
#pragma GCC unroll 16
        for (int b = 0; b < 16; b++) {
            a[b] = _mm512_setzero_ps();
            p[b] = att + (size_t)((c0 + 16 * (b < nv ? b : 0)) / hd) * ld;
        }
        if (nv == 16) {
            for (int t = 0; t < n; t++) {
                const uint16_t *r = v + (size_t)t * dim + c0;
#pragma GCC unroll 16
                for (int b = 0; b < 16; b++)
                    a[b] = _mm512_fmadd_ps(_mm512_set1_ps(p[b][t]), load_h(r + 16 * b), a[b]);
            }
        } else {
            for (int t = 0; t < n; t++) {
                const uint16_t *r = v + (size_t)t * dim + c0;
                for (int b = 0; b < nv; b++)
                    a[b] = _mm512_fmadd_ps(_mm512_set1_ps(p[b][t]), load_h(r + 16 * b), a[b]);
            }
        }
        for (int b = 0; b < nv; b++)
            _mm512_storeu_ps(out + c0 + 16 * b,
                             _mm512_mul_ps(a[b], _mm512_set1_ps(inv[(c0 + 16 * b) / hd])));
    }
    /* leave probabilities in att, as the interface promises */
    for (int h = 0; h < n_heads; h++) {
        float *s = att + (size_t)h * ld;
        __m512 iv = _mm512_set1_ps(inv[h]);
        for (int u = 0; u < n; u += 16) {
            __mmask16 m = tail_mask(n - u);
            _mm512_mask_storeu_ps(s + u, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + u), iv));
        }
    }
}

T512 static void avx512_f16_to_f32(float *dst, const uint16_t *src, int n)
{
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(dst + i, m, load_hm(src + i, m));
    }
}

T512 static void avx512_f32_to_f16(uint16_t *dst, const float *src, int n)
{
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm256_mask_storeu_epi16(dst + i, m, h);
    }
}

T512 static void avx512_bf16_to_f32(float *dst, const uint16_t *src, int n)
{
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(dst + i, m, load_wbf(src + i, m));
    }
}

/* gelu(x) = 0.5 x (1 + tanh(z)) = x / (1 + e^(-2z)),  z = sqrt(2/pi)(x + 0.044715 x^3) */
T512 static void avx512_gelu(float *x, int n)
{
    const __m512 c = _mm512_set1_ps(-2.0f * 0.7978845608028654f);
    const __m512 c3 = _mm512_set1_ps(0.044715f), one = _mm512_set1_ps(1.0f);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 u = _mm512_maskz_loadu_ps(m, x + i);
        __m512 z = _mm512_mul_ps(c, _mm512_fmadd_ps(_mm512_mul_ps(c3, u), _mm512_mul_ps(u, u), u));
        __m512 g = _mm512_div_ps(u, _mm512_add_ps(one, exp512(z)));
        _mm512_mask_storeu_ps(x + i, m, g);
    }
}

static void avx512_prefill_attend(float *out, float *scratch, const float *q, const uint16_t *kt,
                                    const uint16_t *v, int p0, int n, int ld, int n_heads, int head_dim)
{
    kern_blas_prefill_attend(&kern_cpu_avx512, out, scratch, q, kt, v, p0, n, ld, n_heads, head_dim);
}

const kern_cpu kern_cpu_avx512 = {
    .name = "avx512",
    .supported = avx512_supported,
    .matvec = avx512_matvec,
    .matvec_bf16 = avx512_matvec_bf16,
    .attend = avx512_attend,
    .f16_to_f32 = avx512_f16_to_f32,
    .f32_to_f16 = avx512_f32_to_f16,
    .bf16_to_f32 = avx512_bf16_to_f32,
    .gelu = avx512_gelu,
    .softmax_rows = avx512_softmax_rows,
    .matmul = kern_matmul,
    .prefill_attend = avx512_prefill_attend,
};

#else /* not x86: never supported, portable functions keep the table valid */
static int avx512_supported(void) { return 0; }
const kern_cpu kern_cpu_avx512 = {
    .name = "avx512",
    .supported = avx512_supported,
    KERN_PORTABLE_ENTRIES,
};
#endif
