/* cpu_portable.c — the portable C decode kernels: the reference variant.
 * Plain loops in the obvious order; every SIMD variant is tested against
 * these (tests/test_kernels.c). Also the fallback for shapes a SIMD variant
 * does not handle (those call the kern_portable_* functions directly). */
#include <math.h>
#include "kernels.h"
#include "cpu_variants.h"

static int portable_supported(void) { return 1; }

void kern_portable_matvec(float *y, const float *W, const float *x, int rows, int cols)
{
    for (int i = 0; i < rows; i++) {
        const float *w = W + (size_t)i * cols;
        float s = 0.0f;
        for (int j = 0; j < cols; j++) s += w[j] * x[j];
        y[i] = s;
    }
}

void kern_portable_matvec_bf16(float *y, const uint16_t *W, const float *x, int rows, int cols)
{
    for (int i = 0; i < rows; i++) {
        const uint16_t *w = W + (size_t)i * cols;
        float s = 0.0f;
        for (int j = 0; j < cols; j++) s += kern_bf16_to_f32(w[j]) * x[j];
        y[i] = s;
    }
}

void kern_portable_softmax_rows(float *x, int rows, int n, int ld)
{
    for (int r = 0; r < rows; r++) {
        float *p = x + (size_t)r * ld;
        float mx = p[0];
        for (int t = 1; t < n; t++) mx = p[t] > mx ? p[t] : mx;
        float sum = 0.0f;
        for (int t = 0; t < n; t++) {
            p[t] = expf(p[t] - mx);
            sum += p[t];
        }
        float inv = 1.0f / sum;
        for (int t = 0; t < n; t++) p[t] *= inv;
    }
}

void kern_portable_attend(float *out, float *att, const float *q, const uint16_t *kt,
                          const uint16_t *v, int n, int ld, int n_heads, int head_dim)
{
    int dim = n_heads * head_dim;
    float scale = 1.0f / sqrtf((float)head_dim);
    for (int h = 0; h < n_heads; h++) {
        float *s = att + (size_t)h * ld;
        for (int t = 0; t < n; t++) s[t] = 0.0f;
        for (int j = 0; j < head_dim; j++) {
            const uint16_t *k = kt + (size_t)(h * head_dim + j) * ld;
            float qj = q[h * head_dim + j] * scale;
            for (int t = 0; t < n; t++) s[t] += qj * kern_f16_to_f32(k[t]);
        }
        kern_portable_softmax_rows(s, 1, n, ld);
        float *o = out + h * head_dim;
        for (int j = 0; j < head_dim; j++) o[j] = 0.0f;
        for (int t = 0; t < n; t++) {
            const uint16_t *vt = v + (size_t)t * dim + h * head_dim;
            for (int j = 0; j < head_dim; j++) o[j] += s[t] * kern_f16_to_f32(vt[j]);
        }
    }
}

void kern_portable_matmul(float *out, const float *X, const float *W, int T, int rows, int cols)
{
    for (int t = 0; t < T; t++)
        kern_portable_matvec(out + (size_t)t * rows, W, X + (size_t)t * cols, rows, cols);
}

void kern_portable_prefill_attend(float *out, float *scratch, const float *q, const uint16_t *kt,
                                  const uint16_t *v, int p0, int n, int ld, int n_heads,
                                  int head_dim)
{
    int d = n_heads * head_dim;
    for (int r = 0; r < n; r++)
        kern_portable_attend(out + (size_t)r * d, scratch, q + (size_t)r * d, kt, v, p0 + r + 1,
                             ld, n_heads, head_dim);
}

void kern_portable_gelu(float *x, int n)
{
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    for (int i = 0; i < n; i++) {
        float u = x[i];
        x[i] = 0.5f * u * (1.0f + tanhf(c * (u + 0.044715f * u * u * u)));
    }
}

void kern_portable_f16_to_f32(float *dst, const uint16_t *src, int n)
{
    for (int i = 0; i < n; i++) dst[i] = kern_f16_to_f32(src[i]);
}

void kern_portable_f32_to_f16(uint16_t *dst, const float *src, int n)
{
    for (int i = 0; i < n; i++) dst[i] = kern_f32_to_f16(src[i]);
}

void kern_portable_bf16_to_f32(float *dst, const uint16_t *src, int n)
{
    for (int i = 0; i < n; i++) dst[i] = kern_bf16_to_f32(src[i]);
}

const kern_cpu kern_cpu_portable = {
    .name = "portable",
    .supported = portable_supported,
    KERN_PORTABLE_ENTRIES,
};
