/* decode_kernels.cuh — the device side of the CUDA decoder: helpers and the
 * kernels of one decode step and of prefill (the maths and the launch plan
 * are described at the top of decode.cu, their only includer). Everything
 * is in an anonymous namespace: file-local to decode.cu, since the
 * trainer's .cu files are linked into the same library and may use the same
 * kernel names. Every kernel reads the step's token(s), first slot and
 * first absolute position from one device struct, step_hdr. */
#ifndef CONTINUO_DECODE_KERNELS_CUH
#define CONTINUO_DECODE_KERNELS_CUH

#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>
#include "cn_cuda_internal.cuh"

namespace {
#define HALF_MAX 65504.0f
#define MV_WARPS 8        /* matvec blocks: 8 warps, one output row (or pair) per warp */
#define ATT_THREADS 256   /* attention: one block per (head, row) */
#define EW_THREADS 256    /* elementwise kernels */
#define PREFILL_ROWS 256  /* most tokens per prefill pass */

/* The per-step parameters every kernel reads from device memory (see top). */
struct step_hdr {
    long long pos0; /* absolute position of the first token of the step */
    int slot0;      /* its cache slot */
    int rows;       /* tokens in the step (1 for decode) */
    /* followed by int tokens[rows_max] */
};

/* ----------------------------------------------------------------------------
 * device helpers */

__device__ __forceinline__ float w2f(float w) { return w; }
/* bfloat16 bits -> float: exact, as kern_bf16_to_f32 */
__device__ __forceinline__ float w2f(uint16_t w) { return __uint_as_float((unsigned)w << 16); }

__device__ __forceinline__ float clamp_half(float v)
{
    return v > HALF_MAX ? HALF_MAX : v < -HALF_MAX ? -HALF_MAX : v;
}

__device__ __forceinline__ float gelu_tanh(float u)
{
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    return 0.5f * u * (1.0f + tanhf(c * (u + 0.044715f * u * u * u)));
}

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum (or max) over the block; every thread gets the result. red: 32 floats
 * of shared memory. Must be reached by every thread of the block. */
__device__ float block_sum(float v, float *red)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads(); /* red may still be read by a previous reduction */
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < nw ? red[lane] : 0.0f;
    return warp_sum(v);
}

__device__ float block_max(float v, float *red)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < nw ? red[lane] : -INFINITY;
    return warp_max(v);
}

/* xs[j] = x[j] * r * g[j] with r = 1/sqrt(mean(x^2) + 1e-5), as the CPU's
 * rmsnorm. xs: n floats of shared memory. Every thread of the block. */
__device__ void stage_rmsnorm(float *xs, const float *x, const float *g, int n, float *red)
{
    float ss = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) ss += x[j] * x[j];
    ss = block_sum(ss, red);
    float r = 1.0f / sqrtf(ss / (float)n + 1e-5f);
    for (int j = threadIdx.x; j < n; j += blockDim.x) xs[j] = x[j] * r * g[j];
    __syncthreads();
}

/* dot(w[0..cols), x[0..cols)) by one warp; every lane gets the result.
 * Vector loads (16 bytes) when w and x are 16-byte aligned and cols allows. */
__device__ __forceinline__ float warp_dot(const float *w, const float *x, int cols)
{
    int lane = threadIdx.x & 31;
    float s = 0.0f;
    if ((cols & 3) == 0 && (((uintptr_t)w | (uintptr_t)x) & 15) == 0) {
        const float4 *w4 = (const float4 *)w, *x4 = (const float4 *)x;
#pragma unroll 4 /* several 16-byte loads in flight per lane: decode is bound by their latency */
        for (int j = lane; j < cols / 4; j += 32) {
            float4 a = w4[j], b = x4[j];
            s += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
        }
    } else {
        for (int j = lane; j < cols; j += 32) s += w[j] * x[j];
    }
    return warp_sum(s);
}

__device__ __forceinline__ float warp_dot(const uint16_t *w, const float *x, int cols)
{
    int lane = threadIdx.x & 31;
    float s = 0.0f;
    if ((cols & 7) == 0 && (((uintptr_t)w | (uintptr_t)x) & 15) == 0) {
        const uint4 *w8 = (const uint4 *)w;
        const float4 *x4 = (const float4 *)x;
#pragma unroll 4
        for (int j = lane; j < cols / 8; j += 32) {
            uint4 a = w8[j];
            float4 b0 = x4[2 * j], b1 = x4[2 * j + 1];
            /* low half of each 32-bit word is the lower-indexed element */
            s += __uint_as_float(a.x << 16) * b0.x + __uint_as_float(a.x & 0xffff0000u) * b0.y +
                 __uint_as_float(a.y << 16) * b0.z + __uint_as_float(a.y & 0xffff0000u) * b0.w +
                 __uint_as_float(a.z << 16) * b1.x + __uint_as_float(a.z & 0xffff0000u) * b1.y +
                 __uint_as_float(a.w << 16) * b1.z + __uint_as_float(a.w & 0xffff0000u) * b1.w;
        }
    } else {
        for (int j = lane; j < cols; j += 32) s += w2f(w[j]) * x[j];
    }
    return warp_sum(s);
}

/* Rotary on the pair (a, b) = elements (2i, 2i+1) of a head at absolute
 * position pos: the angle in double, as model.c's rope(). */
__device__ __forceinline__ void rope_pair(float *a, float *b, long long pos, double freq)
{
    double sn, cs;
    sincos((double)pos * freq, &sn, &cs);
    float c = (float)cs, s = (float)sn, x = *a, y = *b;
    *a = x * c - y * s;
    *b = x * s + y * c;
}

/* ----------------------------------------------------------------------------
 * kernels (decode and prefill) */

/* x(rows, dim) = tok_emb[tokens[r]]. grid (ceil(dim / EW_THREADS), rows). */
template <typename WT>
__global__ void embed_kernel(float *x, const WT *emb, const step_hdr *st, int dim, int vocab)
{
    int r = blockIdx.y, i = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= st->rows || i >= dim) return;
    int tok = ((const int *)(st + 1))[r];
    if (tok < 0 || tok >= vocab) tok = 0; /* the host checked; never read out of bounds */
    x[(size_t)r * dim + i] = w2f(emb[(size_t)tok * dim + i]);
}

/* Decode: q = rope(wq xb), cache key = half(rope(wk xb)), value = half(wv xb)
 * for the single token of the step, xb = rmsnorm(x) * g. One warp per PAIR of
 * output rows (2i, 2i+1) so the rotation happens in registers; 3*dim/2 pairs.
 * kc, vc: this layer's caches (seq_len, dim). Shared: dim + 32 floats. */
template <typename WT>
__global__ void qkv_kernel(float *q, __half *kc, __half *vc, const float *x, const float *g,
                           const WT *wq, const WT *wk, const WT *wv, const double *freq,
                           const step_hdr *st, int dim, int hd)
{
    extern __shared__ float sh[];
    float *xs = sh, *red = sh + dim;
    stage_rmsnorm(xs, x, g, dim, red);
    int pair = blockIdx.x * MV_WARPS + (threadIdx.x >> 5);
    if (pair >= 3 * dim / 2) return;
    int row = 2 * pair, mat = row / dim, i = row - mat * dim; /* i even */
    const WT *W = mat == 0 ? wq : mat == 1 ? wk : wv;
    float y0 = warp_dot(W + (size_t)i * dim, xs, dim);
    float y1 = warp_dot(W + (size_t)(i + 1) * dim, xs, dim);
    if ((threadIdx.x & 31) != 0) return;
    if (mat < 2) rope_pair(&y0, &y1, st->pos0, freq[(i % hd) / 2]);
    size_t at = (size_t)st->slot0 * dim + i;
    if (mat == 0) {
        q[i] = y0;
        q[i + 1] = y1;
    } else {
        __half *c = mat == 1 ? kc : vc;
        c[at] = __float2half_rn(clamp_half(y0));
        c[at + 1] = __float2half_rn(clamp_half(y1));
    }
}

/* Prefill: rotary on q and k rows in place, then k and v rows into the cache.
 * q, k, v: (rows, dim). grid (ceil(dim/2 / EW_THREADS), rows), one pair each. */
__global__ void rope_store_kernel(float *q, const float *k, const float *v, __half *kc, __half *vc,
                                  const double *freq, const step_hdr *st, int dim, int hd)
{
    int r = blockIdx.y, p = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= st->rows || p >= dim / 2) return;
    int i = 2 * p;
    long long pos = st->pos0 + r;
    double f = freq[(i % hd) / 2];
    size_t src = (size_t)r * dim + i, dst = (size_t)(st->slot0 + r) * dim + i;
    rope_pair(&q[src], &q[src + 1], pos, f);
    float k0 = k[src], k1 = k[src + 1];
    rope_pair(&k0, &k1, pos, f);
    kc[dst] = __float2half_rn(clamp_half(k0));
    kc[dst + 1] = __float2half_rn(clamp_half(k1));
    vc[dst] = __float2half_rn(clamp_half(v[src]));
    vc[dst + 1] = __float2half_rn(clamp_half(v[src + 1]));
}

/* Causal attention of row r (slot slot0 + r) over cache slots 0..slot0+r,
 * head h; grid (n_heads, rows), ATT_THREADS threads.
 *   q (rows, dim); out (rows, dim); kc, vc (seq_len, dim) half;
 *   att: scratch (rows, n_heads, seq_len) floats.
 * Shared: hd + ATT_THREADS + 32 floats. */
__global__ void attention_kernel(float *out, float *att, const float *q, const __half *kc,
                                 const __half *vc, const step_hdr *st, int dim, int hd,
                                 int seq_len)
{
    extern __shared__ float sh[];
    int h = blockIdx.x, r = blockIdx.y, H = gridDim.x, tid = threadIdx.x, nt = blockDim.x;
    if (r >= st->rows) return; /* uniform over the block */
    int n = st->slot0 + r + 1;
    if (n > seq_len) n = seq_len; /* the host never lets this happen */
    float *qs = sh, *part = sh + hd, *red = part + nt;
    float *s = att + ((size_t)r * H + h) * seq_len;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int j = tid; j < hd; j += nt) qs[j] = q[(size_t)r * dim + h * hd + j] * scale;
    __syncthreads();

    /* scores: one thread per slot, j in order (as the CPU's attend) */
    for (int t = tid; t < n; t += nt) {
        const __half2 *k2 = (const __half2 *)(kc + (size_t)t * dim + h * hd); /* hd even */
        float acc = 0.0f;
        for (int j = 0; j < hd / 2; j++) {
            float2 kk = __half22float2(k2[j]);
            acc += qs[2 * j] * kk.x;
            acc += qs[2 * j + 1] * kk.y;
        }
        s[t] = acc;
    }
    __syncthreads(); /* s is global memory, written and read within this block */
    float mx = -INFINITY;
    for (int t = tid; t < n; t += nt) mx = fmaxf(mx, s[t]);
    mx = block_max(mx, red);
    float sum = 0.0f;
    for (int t = tid; t < n; t += nt) {
        float e = expf(s[t] - mx);
        s[t] = e;
        sum += e;
    }
    sum = block_sum(sum, red); /* its barriers also order the exp writes before the reads below */
    float inv = 1.0f / sum;
    for (int t = tid; t < n; t += nt) s[t] *= inv;
    __syncthreads();

    /* out_j = sum_t p_t v_tj: threads split into G groups of nj; group g takes
     * slots g, g+G, ...; partial sums meet in shared memory. */
    int nj = hd < nt ? hd : nt, G = nt / nj, g = tid / nj, jj = tid - g * nj;
    float *o = out + (size_t)r * dim + h * hd;
    if (g < G) {
        for (int j = jj; j < hd; j += nj) { /* one pass when G > 1 (then nj == hd) */
            float acc = 0.0f;
#pragma unroll 4
            for (int t = g; t < n; t += G) acc += s[t] * __half2float(vc[(size_t)t * dim + h * hd + j]);
            if (G == 1) o[j] = acc;
            else part[g * nj + jj] = acc;
        }
    }
    if (G > 1) { /* uniform */
        __syncthreads();
        if (tid < hd) {
            float acc = 0.0f;
            for (int k = 0; k < G; k++) acc += part[k * hd + tid];
            o[tid] = acc;
        }
    }
}

/* x(rows) += W(rows, cols) in(cols): one warp per row. */
template <typename WT>
__global__ void matvec_residual_kernel(float *x, const WT *W, const float *in, int rows, int cols)
{
    int row = blockIdx.x * MV_WARPS + (threadIdx.x >> 5);
    if (row >= rows) return;
    float y = warp_dot(W + (size_t)row * cols, in, cols);
    if ((threadIdx.x & 31) == 0) x[row] += y;
}

/* y(rows) = W(rows, cols) (rmsnorm(x) * g), gelu'd when gelu != 0: the FFN's
 * up projection, and the logits. Shared: cols + 32 floats. */
template <typename WT>
__global__ void normed_matvec_kernel(float *y, const WT *W, const float *x, const float *g,
                                     int rows, int cols, int gelu)
{
    extern __shared__ float sh[];
    float *xs = sh, *red = sh + cols;
    stage_rmsnorm(xs, x, g, cols, red);
    int row = blockIdx.x * MV_WARPS + (threadIdx.x >> 5);
    if (row >= rows) return;
    float v = warp_dot(W + (size_t)row * cols, xs, cols);
    if ((threadIdx.x & 31) == 0) y[row] = gelu ? gelu_tanh(v) : v;
}

/* out(rows, dim) = rmsnorm(x rows) * g; grid (rows). Shared: 32 floats. */
__global__ void rmsnorm_rows_kernel(float *out, const float *x, const float *g, const step_hdr *st,
                                    int dim)
{
    __shared__ float red[32];
    int r = blockIdx.x;
    if (r >= st->rows) return;
    const float *xr = x + (size_t)r * dim;
    float ss = 0.0f;
    for (int j = threadIdx.x; j < dim; j += blockDim.x) ss += xr[j] * xr[j];
    ss = block_sum(ss, red);
    float rr = 1.0f / sqrtf(ss / (float)dim + 1e-5f);
    for (int j = threadIdx.x; j < dim; j += blockDim.x) out[(size_t)r * dim + j] = xr[j] * rr * g[j];
}

__global__ void gelu_kernel(float *x, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = gelu_tanh(x[i]);
}

__global__ void bf16_to_f32_kernel(float *dst, const uint16_t *src, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] = w2f(src[i]);
}

} /* namespace */

#endif
