/* train_kernels.cu — the device kernels of the transformer layers and their
 * launchers (declared in cn_cuda_internal.cuh). Each one is the GPU twin of
 * a function of tools/train/train_layers.c or train_optim.c, named above it,
 * and keeps its arithmetic (same formulas, same order where it matters;
 * sums in double where the CPU sums in double), so the tests can compare
 * them closely. Kept simple on purpose, llm.c dev/cuda style: one block per
 * row for norms and softmaxes (warp shuffles + shared memory for the
 * reductions), one thread per element otherwise, cuBLAS for every matmul.
 * Every kernel checks its bounds. */
#include <math.h>
#include <string.h>
#include "cn_cuda_internal.cuh"

#ifndef ROW_THREADS
#define ROW_THREADS 256 /* threads of a one-block-per-row kernel (a multiple of 32) */
#endif
#ifndef ELT_THREADS
#define ELT_THREADS 256 /* threads per block of an elementwise kernel */
#endif

/* ---- reductions ---------------------------------------------------------- */

template <typename F> __device__ F warp_sum(F v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum over the block (blockDim.x a multiple of 32, at most 1024); every
 * thread gets the total. The leading __syncthreads lets a block call it
 * twice in a row: no warp overwrites sh while another still reads it. */
template <typename F> __device__ F block_sum(F v)
{
    __shared__ F sh[32];
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : (F)0;
    return warp_sum(v);
}

__device__ float block_max(float v)
{
    __shared__ float sh[32];
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : -INFINITY;
    return warp_max(v);
}

/* ---- matmul (train_matmul_forward / _backward) ----------------------------
 * cuBLAS is column-major: a row-major (r, c) matrix with leading dimension ld
 * IS the column-major (c, r) matrix, its transpose. So every product below is
 * written for the transposes:
 *   out(N, OC) = inp(N, C) w(OC, C)^T   <=>  out^T = w inp^T
 *   dinp(N, C) = dout(N, OC) w(OC, C)   <=>  dinp^T = w^T dout^T
 *   dw(OC, C) += dout^T inp             <=>  dw^T += inp^T dout */

int cn_matmul_forward(float *out, const float *inp, const float *w, int N, int C, int OC,
                      float beta)
{
    const float one = 1.0f;
    CN_BLAS(cublasSgemm(cn_blas(), CUBLAS_OP_T, CUBLAS_OP_N, OC, N, C, &one, w, C, inp, C, &beta,
                        out, OC));
    return 0;
}

int cn_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp,
                       const float *w, int N, int C, int OC, float beta_inp)
{
    const float one = 1.0f;
    if (dinp)
        CN_BLAS(cublasSgemm(cn_blas(), CUBLAS_OP_N, CUBLAS_OP_N, C, N, OC, &one, w, C, dout, OC,
                            &beta_inp, dinp, C));
    CN_BLAS(cublasSgemm(cn_blas(), CUBLAS_OP_N, CUBLAS_OP_T, C, OC, N, &one, inp, C, dout, OC,
                        &one, dw, C));
    return 0;
}

/* ---- rmsnorm (train_rmsnorm_forward / _backward) ------------------------- */

#define RMS_EPS 1e-5f /* TRAIN_RMS_EPS */

/* one block per row n */
__global__ void rmsnorm_fwd_kernel(float *out, float *rstd, const float *inp, const float *w,
                                   int N, int C)
{
    int n = blockIdx.x;
    if (n >= N) return;
    const float *x = inp + (size_t)n * C;
    float *o = out + (size_t)n * C;
    double ss = 0.0;
    for (int i = threadIdx.x; i < C; i += blockDim.x) ss += (double)x[i] * x[i];
    ss = block_sum(ss);
    float r = 1.0f / sqrtf((float)(ss / C) + RMS_EPS);
    for (int i = threadIdx.x; i < C; i += blockDim.x) o[i] = x[i] * r * w[i];
    if (rstd && threadIdx.x == 0) rstd[n] = r;
}

int cn_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C)
{
    if (N <= 0) return 0;
    rmsnorm_fwd_kernel<<<N, ROW_THREADS>>>(out, rstd, inp, w, N, C);
    CN_LAUNCHED();
    return 0;
}

/* dx_j += r (w_j dy_j - x_j r^2 mean_i(w_i dy_i x_i)); one block per row */
__global__ void rmsnorm_bwd_inp_kernel(float *dinp, const float *dout, const float *inp,
                                       const float *w, const float *rstd, int N, int C)
{
    int n = blockIdx.x;
    if (n >= N) return;
    const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
    float *dx = dinp + (size_t)n * C;
    float r = rstd[n];
    double dot = 0.0;
    for (int i = threadIdx.x; i < C; i += blockDim.x) dot += (double)w[i] * dy[i] * x[i];
    dot = block_sum(dot);
    float m = (float)(dot / C) * r * r;
    for (int i = threadIdx.x; i < C; i += blockDim.x) dx[i] += r * (w[i] * dy[i] - x[i] * m);
}

/* dw_i += sum_n dy_ni x_ni r_n: a block owns 32 columns; its 32 x 32 threads
 * stride the rows, then column sums over the 32 row lanes in a fixed order
 * (deterministic, no atomics). */
__global__ void rmsnorm_bwd_w_kernel(float *dw, const float *dout, const float *inp,
                                     const float *rstd, int N, int C)
{
    __shared__ float part[32][33];
    int i = blockIdx.x * 32 + threadIdx.x;
    float acc = 0.0f;
    if (i < C)
        for (int n = threadIdx.y; n < N; n += 32)
            acc += dout[(size_t)n * C + i] * inp[(size_t)n * C + i] * rstd[n];
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && i < C) {
        float s = 0.0f;
        for (int y = 0; y < 32; y++) s += part[y][threadIdx.x];
        dw[i] += s;
    }
}

int cn_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                        const float *w, const float *rstd, int N, int C)
{
    if (N <= 0) return 0;
    rmsnorm_bwd_inp_kernel<<<N, ROW_THREADS>>>(dinp, dout, inp, w, rstd, N, C);
    CN_LAUNCHED();
    rmsnorm_bwd_w_kernel<<<cn_div_up(C, 32), dim3(32, 32)>>>(dw, dout, inp, rstd, N, C);
    CN_LAUNCHED();
    return 0;
}

/* ---- rotary (train_rope_tables / train_rope_forward / _backward) --------- */

__global__ void rope_tables_kernel(float *cos_t, float *sin_t, int T, int head_dim, float theta)
{
    int half = head_dim / 2;
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)T * half) return;
    int t = (int)(idx / half), i = (int)(idx % half);
    double freq = pow((double)theta, -2.0 * i / head_dim);
    double a = t * freq;
    cos_t[idx] = (float)cos(a);
    sin_t[idx] = (float)sin(a);
}

int cn_rope_tables(float *cos_t, float *sin_t, int T, int head_dim, float theta)
{
    long n = (long)T * (head_dim / 2);
    if (n <= 0) return 0;
    rope_tables_kernel<<<cn_div_up(n, ELT_THREADS), ELT_THREADS>>>(cos_t, sin_t, T, head_dim,
                                                                    theta);
    CN_LAUNCHED();
    return 0;
}

/* one thread per pair: pair p of row n is columns (2p, 2p + 1), i.e. head
 * p / half, pair i = p % half of that head (head_dim is even) */
__global__ void rope_kernel(float *x, const float *cos_t, const float *sin_t, int N, int T, int C,
                            int NH, float sign)
{
    int half = C / NH / 2;
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)N * (C / 2)) return;
    int n = (int)(idx / (C / 2)), p = (int)(idx % (C / 2));
    int t = n % T, i = p % half;
    float *v = x + (size_t)n * C + 2 * p;
    float x0 = v[0], x1 = v[1];
    float co = cos_t[(size_t)t * half + i], si = sign * sin_t[(size_t)t * half + i];
    v[0] = x0 * co - x1 * si;
    v[1] = x0 * si + x1 * co;
}

int cn_rope(float *x, const float *cos_t, const float *sin_t, int B, int T, int C, int NH,
            float sign)
{
    long n = (long)B * T * (C / 2);
    if (n <= 0) return 0;
    rope_kernel<<<cn_div_up(n, ELT_THREADS), ELT_THREADS>>>(x, cos_t, sin_t, B * T, T, C, NH,
                                                             sign);
    CN_LAUNCHED();
    return 0;
}

/* ---- gelu (train_gelu_forward / _backward) ------------------------------- */

#define GELU_S 0.7978845608028654f /* sqrt(2/pi) */

/* 0.5 x (1 + tanh(u)) = x sigmoid(2u), as the CPU computes it */
__global__ void gelu_fwd_kernel(float *out, const float *inp, long n)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = inp[i];
    float u = GELU_S * (x + 0.044715f * x * x * x);
    out[i] = x / (1.0f + expf(-2.0f * u));
}

/* d/dx = sg + 2 x sg (1 - sg) u', sg = sigmoid(2u); writes (the CPU adds
 * into a zeroed array) */
__global__ void gelu_bwd_kernel(float *dinp, const float *inp, const float *dout, long n)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = inp[i];
    float u = GELU_S * (x + 0.044715f * x * x * x);
    float sg = 1.0f / (1.0f + expf(-2.0f * u));
    float du = GELU_S * (1.0f + 3.0f * 0.044715f * x * x);
    dinp[i] = (sg + 2.0f * x * sg * (1.0f - sg) * du) * dout[i];
}

int cn_gelu_forward(float *out, const float *inp, long n)
{
    if (n <= 0) return 0;
    gelu_fwd_kernel<<<cn_div_up(n, ELT_THREADS), ELT_THREADS>>>(out, inp, n);
    CN_LAUNCHED();
    return 0;
}

int cn_gelu_backward(float *dinp, const float *inp, const float *dout, long n)
{
    if (n <= 0) return 0;
    gelu_bwd_kernel<<<cn_div_up(n, ELT_THREADS), ELT_THREADS>>>(dinp, inp, dout, n);
    CN_LAUNCHED();
    return 0;
}

/* ---- embedding (train_embed_forward / _backward) ------------------------- */

__global__ void embed_fwd_kernel(float *out, const int *tokens, const float *emb, int N, int C)
{
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)N * C) return;
    int n = (int)(idx / C), i = (int)(idx % C);
    out[idx] = emb[(size_t)tokens[n] * C + i];
}

int cn_embed_forward(float *out, const int *tokens, const float *emb, int N, int C)
{
    long n = (long)N * C;
    if (n <= 0) return 0;
    embed_fwd_kernel<<<cn_div_up(n, ELT_THREADS), ELT_THREADS>>>(out, tokens, emb, N, C);
    CN_LAUNCHED();
    return 0;
}

/* one thread per (token v, column i): adds v's rows in increasing n, starting
 * from demb's value, so each sum is the CPU's loop exactly */
__global__ void embed_bwd_kernel(float *demb, const float *dout, const int *offs, const int *rows,
                                 int V, int C)
{
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)V * C) return;
    int v = (int)(idx / C), i = (int)(idx % C);
    int r0 = offs[v], r1 = offs[v + 1];
    if (r0 == r1) return;
    float acc = demb[idx];
    for (int r = r0; r < r1; r++) acc += dout[(size_t)rows[r] * C + i];
    demb[idx] = acc;
}

int cn_embed_backward(float *demb, const float *dout, const int *offs, const int *rows, int V,
                      int C)
{
    long n = (long)V * C;
    if (n <= 0) return 0;
    embed_bwd_kernel<<<cn_div_up(n, ELT_THREADS), ELT_THREADS>>>(demb, dout, offs, rows, V, C);
    CN_LAUNCHED();
    return 0;
}

/* ---- attention (train_attention_forward / _backward) ----------------------
 * No permutes: head h of batch row b is the (T, hd) matrix at
 * q + b*T*C + h*hd with leading dimension C, so the NH heads of one batch row
 * are a strided batch (stride hd) for cuBLAS; one call per batch row b.
 * The full (T, T) products are computed (the causal upper half is wasted
 * work, but the softmax zeroes it, which keeps every product plain). */

/* row r of the (B*NH*T, T) score matrix is query i = r % T: softmax over
 * j <= i, zeros for j > i; one block per row, in place */
__global__ void causal_softmax_kernel(float *att, long rows, int T)
{
    long r = blockIdx.x;
    if (r >= rows) return;
    int i = (int)(r % T);
    float *row = att + r * T;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j <= i; j += blockDim.x) mx = fmaxf(mx, row[j]);
    mx = block_max(mx);
    float sum = 0.0f;
    for (int j = threadIdx.x; j <= i; j += blockDim.x) {
        float e = expf(row[j] - mx);
        row[j] = e;
        sum += e;
    }
    sum = block_sum(sum);
    float inv = 1.0f / sum;
    for (int j = threadIdx.x; j < T; j += blockDim.x) row[j] = j <= i ? row[j] * inv : 0.0f;
}

/* dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik) for j <= i, 0 above; in place on dP */
__global__ void causal_softmax_bwd_kernel(float *dP, const float *P, long rows, int T)
{
    long r = blockIdx.x;
    if (r >= rows) return;
    int i = (int)(r % T);
    float *dr = dP + r * T;
    const float *pr = P + r * T;
    float dot = 0.0f;
    for (int j = threadIdx.x; j <= i; j += blockDim.x) dot += pr[j] * dr[j];
    dot = block_sum(dot);
    for (int j = threadIdx.x; j < T; j += blockDim.x) dr[j] = j <= i ? pr[j] * (dr[j] - dot) : 0.0f;
}

int cn_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                         int B, int T, int C, int NH)
{
    int hd = C / NH;
    float scale = 1.0f / sqrtf((float)hd), one = 1.0f, zero = 0.0f;
    long long sTT = (long long)T * T;
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * T * C;
        float *P = att + (size_t)b * NH * sTT;
        /* S = scale Q K^T  <=>  S^T = scale K Q^T: (T, T) per head */
        CN_BLAS(cublasSgemmStridedBatched(cn_blas(), CUBLAS_OP_T, CUBLAS_OP_N, T, T, hd, &scale,
                                          k + off, C, hd, q + off, C, hd, &zero, P, T, sTT, NH));
    }
    causal_softmax_kernel<<<(unsigned)((long)B * NH * T), ROW_THREADS>>>(att, (long)B * NH * T, T);
    CN_LAUNCHED();
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * T * C;
        const float *P = att + (size_t)b * NH * sTT;
        /* O = P V  <=>  O^T = V^T P^T: (hd, T) per head, ld C */
        CN_BLAS(cublasSgemmStridedBatched(cn_blas(), CUBLAS_OP_N, CUBLAS_OP_N, hd, T, T, &one,
                                          v + off, C, hd, P, T, sTT, &zero, out + off, C, hd, NH));
    }
    return 0;
}

int cn_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                          const float *att, const float *q, const float *k, const float *v,
                          int B, int T, int C, int NH)
{
    int hd = C / NH;
    float scale = 1.0f / sqrtf((float)hd), one = 1.0f, zero = 0.0f;
    long long sTT = (long long)T * T;
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * T * C;
        const float *P = att + (size_t)b * NH * sTT;
        float *dP = scratch + (size_t)b * NH * sTT;
        /* dP = dO V^T  <=>  dP^T = V dO^T */
        CN_BLAS(cublasSgemmStridedBatched(cn_blas(), CUBLAS_OP_T, CUBLAS_OP_N, T, T, hd, &one,
                                          v + off, C, hd, dout + off, C, hd, &zero, dP, T, sTT,
                                          NH));
        /* dV = P^T dO  <=>  dV^T = dO^T P */
        CN_BLAS(cublasSgemmStridedBatched(cn_blas(), CUBLAS_OP_N, CUBLAS_OP_T, hd, T, T, &one,
                                          dout + off, C, hd, P, T, sTT, &zero, dv + off, C, hd,
                                          NH));
    }
    causal_softmax_bwd_kernel<<<(unsigned)((long)B * NH * T), ROW_THREADS>>>(scratch, att,
                                                                              (long)B * NH * T, T);
    CN_LAUNCHED();
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * T * C;
        const float *dS = scratch + (size_t)b * NH * sTT;
        /* dQ = scale dS K  <=>  dQ^T = scale K^T dS^T */
        CN_BLAS(cublasSgemmStridedBatched(cn_blas(), CUBLAS_OP_N, CUBLAS_OP_N, hd, T, T, &scale,
                                          k + off, C, hd, dS, T, sTT, &zero, dq + off, C, hd, NH));
        /* dK = scale dS^T Q  <=>  dK^T = scale Q^T dS */
        CN_BLAS(cublasSgemmStridedBatched(cn_blas(), CUBLAS_OP_N, CUBLAS_OP_T, hd, T, T, &scale,
                                          q + off, C, hd, dS, T, sTT, &zero, dk + off, C, hd, NH));
    }
    return 0;
}

/* ---- softmax cross-entropy (train_xent_forward / _backward) -------------- */

/* one block per row; probs may alias logits: every thread reads the target's
 * logit and the row max before any thread writes (block_max synchronises),
 * and afterwards each thread reads and writes only its own columns */
__global__ void xent_fwd_kernel(float *losses, float *probs, const float *logits,
                                const int *targets, int N, int V)
{
    int n = blockIdx.x;
    if (n >= N) return;
    const float *l = logits + (size_t)n * V;
    float *pr = probs + (size_t)n * V;
    int t = targets[n];
    float lt = t >= 0 && t < V ? l[t] : 0.0f;
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, l[i]);
    mx = block_max(mx);
    double sum = 0.0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) sum += expf(l[i] - mx);
    sum = block_sum(sum);
    float inv = (float)(1.0 / sum);
    for (int i = threadIdx.x; i < V; i += blockDim.x) pr[i] = expf(l[i] - mx) * inv;
    /* -log p from the logits, as the CPU */
    if (threadIdx.x == 0) losses[n] = t >= 0 ? (float)(log(sum) - (double)(lt - mx)) : 0.0f;
}

__global__ void xent_bwd_kernel(float *dlogits, const float *probs, const int *targets,
                                float scale, int N, int V)
{
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)N * V) return;
    int n = (int)(idx / V), i = (int)(idx % V);
    int t = targets[n];
    dlogits[idx] = t < 0 ? 0.0f : (probs[idx] - (i == t ? 1.0f : 0.0f)) * scale;
}

int cn_xent_forward(float *losses, float *probs, const float *logits, const int *targets, int N,
                    int V)
{
    if (N <= 0) return 0;
    xent_fwd_kernel<<<N, 128>>>(losses, probs, logits, targets, N, V);
    CN_LAUNCHED();
    return 0;
}

int cn_xent_backward(float *dlogits, const float *probs, const int *targets, float scale, int N,
                     int V)
{
    long n = (long)N * V;
    if (n <= 0) return 0;
    xent_bwd_kernel<<<cn_div_up(n, ELT_THREADS), ELT_THREADS>>>(dlogits, probs, targets, scale, N,
                                                                 V);
    CN_LAUNCHED();
    return 0;
}

/* ---- optimizer (train_grad_norm / train_adamw_update) -------------------- */

/* CN_NORM_BLOCKS blocks stride over g; block b writes the sum of squares of
 * its elements (in double, as the CPU) to partial[b]; the host adds the
 * partials in order, so the norm is the same run to run */
__global__ void sumsq_kernel(double *partial, const float *g, size_t n)
{
    double acc = 0.0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        acc += (double)g[i] * g[i];
    acc = block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

int cn_sumsq_partials(double *partial, const float *g, size_t n)
{
    sumsq_kernel<<<CN_NORM_BLOCKS, ELT_THREADS>>>(partial, g, n);
    CN_LAUNCHED();
    return 0;
}

__global__ void adamw_kernel(float *params, const float *grads, float *m, float *v,
                             const uint8_t *mask, size_t n, float b1, float b2, float eps,
                             float weight_decay, float lr, float grad_scale, float c1, float c2)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = grads[i] * grad_scale;
    float mi = b1 * m[i] + (1.0f - b1) * g;
    float vi = b2 * v[i] + (1.0f - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    float mh = mi / c1, vh = vi / c2;
    float p = params[i];
    float wd = mask[i] ? weight_decay * p : 0.0f;
    params[i] = p - lr * (mh / (sqrtf(vh) + eps) + wd);
}

int cn_adamw(float *params, const float *grads, float *m, float *v, const uint8_t *mask,
             size_t n, const cn_cuda_adamw_cfg *cfg, float lr, float grad_scale, float c1,
             float c2)
{
    if (n == 0) return 0;
    adamw_kernel<<<cn_div_up((long)n, ELT_THREADS), ELT_THREADS>>>(
        params, grads, m, v, mask, n, cfg->beta1, cfg->beta2, cfg->eps, cfg->weight_decay, lr,
        grad_scale, c1, c2);
    CN_LAUNCHED();
    return 0;
}

/* ---- residual ------------------------------------------------------------ */

__global__ void add_kernel(float *x, const float *y, long n)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] += y[i];
}

int cn_add_inplace(float *x, const float *y, long n)
{
    if (n <= 0) return 0;
    add_kernel<<<cn_div_up(n, ELT_THREADS), ELT_THREADS>>>(x, y, n);
    CN_LAUNCHED();
    return 0;
}

/* ---- host helper --------------------------------------------------------- */

int cn_embed_csr(const uint16_t *tokens, int N, int V, int *offs, int *rows)
{
    memset(offs, 0, (size_t)(V + 1) * sizeof *offs);
    for (int n = 0; n < N; n++) {
        if (tokens[n] >= V) return cn_set_error("token id %d at row %d: not below vocab %d",
                                                tokens[n], n, V);
        offs[tokens[n] + 1]++;
    }
    for (int v = 0; v < V; v++) offs[v + 1] += offs[v];
    /* fill in increasing n: offs[v] walks up and is restored below */
    for (int n = 0; n < N; n++) rows[offs[tokens[n]]++] = n;
    for (int v = V; v > 0; v--) offs[v] = offs[v - 1];
    offs[0] = 0;
    return 0;
}
