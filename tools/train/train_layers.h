/* train_layers.h — forward/backward pairs for every layer of the engine's
 * transformer (engine/model.h), llm.c style, for the trainer and continuo-eval.
 *
 * Conventions: activations are (N, C) row-major with N = B * T rows (batch row b,
 * position t at row b * T + t). `x_forward(out, inp, ..., dims)` writes out;
 * `x_backward(dinp, dweight, dout, ...)` ACCUMULATES (+=) into dinp and dweight,
 * so callers zero them first. Weights are (out, in) as in model.h. Matmuls go
 * through OpenBLAS (the forward through the engine's kern_matmul), called
 * single-threaded from `nt` threads of a persistent pool (train_par_for) that
 * also splits every other loop (nt <= 1: all on the calling thread), so no
 * OpenBLAS thread spins while other loops run. None of this is real-time safe;
 * it is training and evaluation code. */
#ifndef CONTINUO_TRAIN_LAYERS_H
#define CONTINUO_TRAIN_LAYERS_H

#include <stdint.h>

#define TRAIN_RMS_EPS 1e-5f
#define TRAIN_MAX_THREADS 16

/* Runs fn(ctx, lo, hi, tid) over [0, n) split into nt contiguous chunks, one
 * per thread tid = 0..nt-1 (the caller runs tid 0). Chunks are fixed by
 * (n, nt), so results are the same run to run. */
void train_par_for(int n, int nt, void (*fn)(void *ctx, int lo, int hi, int tid), void *ctx);

/* out(N, C) = emb[tokens[n]] */
void train_embed_forward(float *out, const uint16_t *tokens, const float *emb, int N, int C);
void train_embed_backward(float *demb, const float *dout, const uint16_t *tokens, int N, int C);

/* out = inp * rstd * w, rstd(N) = 1/sqrt(mean(inp^2) + eps) */
void train_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N,
                           int C, int nt);
void train_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                            const float *w, const float *rstd, int N, int C);

/* out(N, OC) = inp(N, C) @ w(OC, C)^T (kern_matmul on row blocks, one per
 * thread). dinp may be NULL. */
void train_matmul_forward(float *out, const float *inp, const float *w, int N, int C, int OC,
                          int nt);
void train_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp,
                           const float *w, int N, int C, int OC, int nt);

/* Rotary tables for positions 0..T-1: cos/sin (T, head_dim/2),
 * angle = t * theta^(-2i/head_dim). */
void train_rope_tables(float *cos_t, float *sin_t, int T, int head_dim, float theta);
/* In place on x (N, C), NH heads: per head, pairs (2i, 2i+1) rotated by the
 * angle of row position t = n % T. Backward rotates the gradient back (in place). */
void train_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int C,
                        int NH, int nt);
void train_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int C,
                         int NH, int nt);

/* Causal multi-head attention. q, k, v, out: (N, C); att: (B, NH, T, T) the
 * softmax probabilities kept for the backward: row i holds valid entries up
 * to the end of its 64-query block (zeros above the diagonal); entries past
 * that block are never written or read.
 * scratch: nt * T * T floats. */
void train_attention_forward(float *out, float *att, const float *q, const float *k,
                             const float *v, int B, int T, int C, int NH, int nt);
void train_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                              const float *att, const float *q, const float *k, const float *v,
                              int B, int T, int C, int NH, int nt);

/* tanh-approximation GELU, elementwise over n floats. */
void train_gelu_forward(float *out, const float *inp, int n, int nt);
void train_gelu_backward(float *dinp, const float *inp, const float *dout, int n, int nt);

/* Softmax cross-entropy over V classes per row. Writes probs (N, V) and the
 * per-row loss (nats) to losses(N); rows whose target is < 0 get loss 0.
 * Returns the mean loss over rows with a target. */
float train_xent_forward(float *losses, float *probs, const float *logits, const int *targets,
                         int N, int V, int nt);
/* dlogits += (probs - onehot(target)) * scale for rows with a target. */
void train_xent_backward(float *dlogits, const float *probs, const int *targets, float scale,
                         int N, int V, int nt);

#endif
