/* cpu_avx2.c — AVX2 + FMA decode kernels (8 floats per vector).
 * Compiled for any x86-64 with target attributes; used only when the CPU
 * reports avx2, fma and f16c (half-float cache). Tails (sizes not a multiple of 8) run scalar;
 * head_dim not a multiple of 8 falls back to the portable code.
 * exp() as in cpu_avx512.c, with 2^n built in the exponent bits. */
#include <math.h>
#include "kernels.h"
#include "cpu_variants.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>

#define T256 __attribute__((target("avx2,fma,f16c")))

/* f16c through cpuid leaf 1 (ECX bit 29): clang 16 does not take
 * __builtin_cpu_supports("f16c"). avx2 says the OS saves the AVX state. */
static int avx2_supported(void)
{
    unsigned a, b, c, d;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

T256 static inline __m256 exp256(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    /* n is in [-126, 127] after the clamp, so 2^n is a normal float */
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

T256 static inline float hsum(__m256 a)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

T256 static inline __m128 hsum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3)
{
    __m256 c = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1));
}

T256 static inline __m256 load_w(const float *w) { return _mm256_loadu_ps(w); }
T256 static inline __m256 load_wb(const uint16_t *w)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)w));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
static inline float scalar_w(float w) { return w; }
static inline float scalar_wb(uint16_t w) { return kern_bf16_to_f32(w); }

#define MATVEC_BODY(LOADW, SCALARW)                                                          \
    int c8 = cols & ~7, i = 0;                                                               \
    for (; i + 4 <= rows; i += 4) {                                                          \
        const __typeof__(*W) *w0 = W + (size_t)i * cols, *w1 = w0 + cols, *w2 = w1 + cols,   \
                             *w3 = w2 + cols;                                                \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                          \
        for (int j = 0; j < c8; j += 8) {                                                    \
            __m256 xv = _mm256_loadu_ps(x + j);                                              \
            a0 = _mm256_fmadd_ps(LOADW(w0 + j), xv, a0);                                     \
            a1 = _mm256_fmadd_ps(LOADW(w1 + j), xv, a1);                                     \
            a2 = _mm256_fmadd_ps(LOADW(w2 + j), xv, a2);                                     \
            a3 = _mm256_fmadd_ps(LOADW(w3 + j), xv, a3);                                     \
        }                                                                                    \
        _mm_storeu_ps(y + i, hsum4(a0, a1, a2, a3));                                         \
        for (int j = c8; j < cols; j++) {                                                    \
            y[i] += SCALARW(w0[j]) * x[j];                                                   \
            y[i + 1] += SCALARW(w1[j]) * x[j];                                               \
            y[i + 2] += SCALARW(w2[j]) * x[j];                                               \
            y[i + 3] += SCALARW(w3[j]) * x[j];                                               \
        }                                                                                    \
    }                                                                                        \
    for (; i < rows; i++) {                                                                  \
        const __typeof__(*W) *w0 = W + (size_t)i * cols;                                     \
        __m256 a0 = _mm256_setzero_ps();                                                     \
        for (int j = 0; j < c8; j += 8)                                                      \
            a0 = _mm256_fmadd_ps(LOADW(w0 + j), _mm256_loadu_ps(x + j), a0);                 \
        float s = hsum(a0);                                                                  \
        for (int j = c8; j < cols; j++) s += SCALARW(w0[j]) * x[j];                          \
        y[i] = s;                                                                            \
    }

T256 static void avx2_matvec(float *y, const float *W, const float *x, int rows, int cols)
{
    MATVEC_BODY(load_w, scalar_w)
}

T256 static void avx2_matvec_bf16(float *y, const uint16_t *W, const float *x, int rows, int cols)
{
    MATVEC_BODY(load_wb, scalar_wb)
}

/* p[t] = exp(scale (s[t] - max)) for t < n; returns sum of p. */
T256 static float softmax_unnormalized(float *s, int n, float scale)
{
    int n8 = n & ~7;
    float mxs = s[0];
    __m256 mx = _mm256_set1_ps(s[0]);
    for (int t = 0; t < n8; t += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(s + t));
    for (int t = n8; t < n; t++) mxs = s[t] > mxs ? s[t] : mxs;
    float lanes[8];
    _mm256_storeu_ps(lanes, mx);
    for (int k = 0; k < 8; k++) mxs = lanes[k] > mxs ? lanes[k] : mxs;
    float ms = mxs * scale;
    __m256 m = _mm256_set1_ps(ms), sc = _mm256_set1_ps(scale), sum = _mm256_setzero_ps();
    for (int t = 0; t < n8; t += 8) {
        __m256 e = exp256(_mm256_fmsub_ps(_mm256_loadu_ps(s + t), sc, m));
        sum = _mm256_add_ps(sum, e);
        _mm256_storeu_ps(s + t, e);
    }
    float tot = hsum(sum);
    for (int t = n8; t < n; t++) {
        s[t] = expf(s[t] * scale - ms);
        tot += s[t];
    }
    return tot;
}

T256 static void avx2_softmax_rows(float *x, int rows, int n, int ld)
{
    for (int r = 0; r < rows; r++) {
        float *p = x + (size_t)r * ld;
        float inv = 1.0f / softmax_unnormalized(p, n, 1.0f);
        for (int t = 0; t < n; t++) p[t] *= inv;
    }
}

T256 static inline __m256 load_h(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

T256 static void avx2_attend(float *out, float *att, const float *q, const uint16_t *kt,
                             const uint16_t *v, int n, int ld, int n_heads, int hd)
{
    if (hd % 8) {
        kern_portable_attend(out, att, q, kt, v, n, ld, n_heads, hd);
        return;
    }
    int dim = n_heads * hd, n8 = n & ~7;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < n_heads; h++) {
        float *s = att + (size_t)h * ld;
        const uint16_t *kh = kt + (size_t)h * hd * ld;
        const float *qh = q + h * hd;
        int t = 0;
        for (; t + 32 <= n; t += 32) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int j = 0; j < hd; j++) {
                const uint16_t *k = kh + (size_t)j * ld + t;
                __m256 qj = _mm256_set1_ps(qh[j]);
                a0 = _mm256_fmadd_ps(load_h(k), qj, a0);
                a1 = _mm256_fmadd_ps(load_h(k + 8), qj, a1);
                a2 = _mm256_fmadd_ps(load_h(k + 16), qj, a2);
                a3 = _mm256_fmadd_ps(load_h(k + 24), qj, a3);
            }
            _mm256_storeu_ps(s + t, a0);
            _mm256_storeu_ps(s + t + 8, a1);
            _mm256_storeu_ps(s + t + 16, a2);
            _mm256_storeu_ps(s + t + 24, a3);
        }
        for (; t < n8; t += 8) {
            __m256 a0 = _mm256_setzero_ps();
            for (int j = 0; j < hd; j++)
                a0 = _mm256_fmadd_ps(load_h(kh + (size_t)j * ld + t), _mm256_set1_ps(qh[j]), a0);
            _mm256_storeu_ps(s + t, a0);
        }
        for (; t < n; t++) {
            float a = 0.0f;
            for (int j = 0; j < hd; j++) a += kern_f16_to_f32(kh[(size_t)j * ld + t]) * qh[j];
            s[t] = a;
        }
        float inv = 1.0f / softmax_unnormalized(s, n, scale);
        __m256 vinv = _mm256_set1_ps(inv);
        for (int c = 0; c < hd; c += 8) {
            const uint16_t *vb = v + h * hd + c;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            int u = 0;
            for (; u + 4 <= n; u += 4) {
                const uint16_t *r = vb + (size_t)u * dim;
                a0 = _mm256_fmadd_ps(_mm256_set1_ps(s[u]), load_h(r), a0);
                a1 = _mm256_fmadd_ps(_mm256_set1_ps(s[u + 1]), load_h(r + dim), a1);
                a2 = _mm256_fmadd_ps(_mm256_set1_ps(s[u + 2]), load_h(r + 2 * dim), a2);
                a3 = _mm256_fmadd_ps(_mm256_set1_ps(s[u + 3]), load_h(r + 3 * dim), a3);
            }
            for (; u < n; u++)
                a0 = _mm256_fmadd_ps(_mm256_set1_ps(s[u]), load_h(vb + (size_t)u * dim), a0);
            __m256 a = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
            _mm256_storeu_ps(out + h * hd + c, _mm256_mul_ps(a, vinv));
        }
        for (int u = 0; u < n; u++) s[u] *= inv;
    }
}

T256 static void avx2_f16_to_f32(float *dst, const uint16_t *src, int n)
{
    int n8 = n & ~7;
    for (int i = 0; i < n8; i += 8) _mm256_storeu_ps(dst + i, load_h(src + i));
    kern_portable_f16_to_f32(dst + n8, src + n8, n - n8);
}

T256 static void avx2_f32_to_f16(uint16_t *dst, const float *src, int n)
{
    int n8 = n & ~7;
    for (int i = 0; i < n8; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    kern_portable_f32_to_f16(dst + n8, src + n8, n - n8);
}

T256 static void avx2_bf16_to_f32(float *dst, const uint16_t *src, int n)
{
    int n8 = n & ~7;
    for (int i = 0; i < n8; i += 8) _mm256_storeu_ps(dst + i, load_wb(src + i));
    kern_portable_bf16_to_f32(dst + n8, src + n8, n - n8);
}

T256 static void avx2_gelu(float *x, int n)
{
    const __m256 c = _mm256_set1_ps(-2.0f * 0.7978845608028654f);
    const __m256 c3 = _mm256_set1_ps(0.044715f), one = _mm256_set1_ps(1.0f);
    int n8 = n & ~7;
    for (int i = 0; i < n8; i += 8) {
        __m256 u = _mm256_loadu_ps(x + i);
        __m256 z = _mm256_mul_ps(c, _mm256_fmadd_ps(_mm256_mul_ps(c3, u), _mm256_mul_ps(u, u), u));
        _mm256_storeu_ps(x + i, _mm256_div_ps(u, _mm256_add_ps(one, exp256(z))));
    }
    kern_portable_gelu(x + n8, n - n8);
}

static void avx2_prefill_attend(float *out, float *scratch, const float *q, const uint16_t *kt,
                                  const uint16_t *v, int p0, int n, int ld, int n_heads, int head_dim)
{
    kern_blas_prefill_attend(&kern_cpu_avx2, out, scratch, q, kt, v, p0, n, ld, n_heads, head_dim);
}

const kern_cpu kern_cpu_avx2 = {
    .name = "avx2",
    .supported = avx2_supported,
    .matvec = avx2_matvec,
    .matvec_bf16 = avx2_matvec_bf16,
    .attend = avx2_attend,
    .f16_to_f32 = avx2_f16_to_f32,
    .f32_to_f16 = avx2_f32_to_f16,
    .bf16_to_f32 = avx2_bf16_to_f32,
    .gelu = avx2_gelu,
    .softmax_rows = avx2_softmax_rows,
    .matmul = kern_matmul,
    .prefill_attend = avx2_prefill_attend,
};

#else
static int avx2_supported(void) { return 0; }
const kern_cpu kern_cpu_avx2 = {
    .name = "avx2",
    .supported = avx2_supported,
    KERN_PORTABLE_ENTRIES,
};
#endif
