/* train_acts_layout.h — the trainer's activation buffers, in the order they
 * are carved from one allocation, written once for both trainers: the CPU
 * one (tools/train/train_model.c) and the CUDA one (kernels/cuda/
 * train_model.cu). Plain C, also valid C++.
 *
 * TRAIN_ACTS(X) calls X(name, elements) once per buffer. `elements` is an
 * expression in L (n_layers), B (batch), T (sequence), N (B * T), C (dim),
 * H (hidden_dim), V (vocab_size), NH (n_heads) and scratch (the attention
 * backward's scratch, each trainer its own size), which must be in scope
 * (size_t) where the macro is expanded. */
#ifndef CONTINUO_TRAIN_ACTS_LAYOUT_H
#define CONTINUO_TRAIN_ACTS_LAYOUT_H

#define TRAIN_ACTS(X)                                                        \
    X(res, (L + 1) * N * C) X(res_mid, L * N * C) X(rstd_att, L * N)         \
    X(h_att, L * N * C) X(q, L * N * C) X(k, L * N * C) X(v, L * N * C)      \
    X(att, L * B * NH * T * T) X(a, L * N * C) X(rstd_ffn, L * N)            \
    X(h_ffn, L * N * C) X(f1, L * N * H) X(g1, L * N * H) X(rstd_f, N)       \
    X(h_f, N * C) X(logits, N * V) X(losses, N)                              \
    X(dres, N * C) X(dh, N * C) X(dq, N * C) X(dk, N * C) X(dv, N * C)       \
    X(da, N * C) X(df, N * H) X(dg, N * H) X(dlogits, N * V)                 \
    X(scratch, scratch)

#endif
