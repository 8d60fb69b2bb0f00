/* weights_layout.h — the order and shapes of the tensors in a weights file's
 * payload (engine/model.h), written once for every reader: the C loader and
 * writer (engine/model_file.c) and the CUDA trainer and decoder
 * (kernels/cuda/train_model.cu, decode*.cu). Plain C, also valid C++.
 *
 * WEIGHTS_TENSORS(X) calls X(name, elements, kind) once per tensor, in file
 * order, with no gaps between tensors. `elements` is an expression in d (dim),
 * L (n_layers), h (hidden_dim), v (vocab_size) and tied, which must be in
 * scope (size_t; tied an int) where the macro is expanded. kind is
 * WEIGHTS_MATRIX (may be stored as bfloat16) or WEIGHTS_GAIN (an RMSNorm
 * gain, always float32). Shapes, row-major, (out, in) for matrices:
 *   tok_emb (v, d), rms_att (L, d), wq wk wv wo (L, d, d), rms_ffn (L, d),
 *   w1 (L, h, d), w2 (L, d, h), rms_final (d),
 *   wcls (v, d): stored only when not tied (0 elements when tied: the
 *   output head is then tok_emb). */
#ifndef CONTINUO_WEIGHTS_LAYOUT_H
#define CONTINUO_WEIGHTS_LAYOUT_H

#include <stddef.h>

#define WEIGHTS_MATRIX 1
#define WEIGHTS_GAIN 0

#define WEIGHTS_TENSORS(X)                   \
    X(tok_emb, v * d, WEIGHTS_MATRIX)        \
    X(rms_att, L * d, WEIGHTS_GAIN)          \
    X(wq, L * d * d, WEIGHTS_MATRIX)         \
    X(wk, L * d * d, WEIGHTS_MATRIX)         \
    X(wv, L * d * d, WEIGHTS_MATRIX)         \
    X(wo, L * d * d, WEIGHTS_MATRIX)         \
    X(rms_ffn, L * d, WEIGHTS_GAIN)          \
    X(w1, L * h * d, WEIGHTS_MATRIX)         \
    X(w2, L * d * h, WEIGHTS_MATRIX)         \
    X(rms_final, d, WEIGHTS_GAIN)            \
    X(wcls, tied ? 0 : v * d, WEIGHTS_MATRIX)

/* WEIGHTS_T_tok_emb, ...: a tensor's index in file order; WEIGHTS_COUNT tensors. */
enum {
#define WEIGHTS_X_ENUM(name, n, kind) WEIGHTS_T_##name,
    WEIGHTS_TENSORS(WEIGHTS_X_ENUM)
#undef WEIGHTS_X_ENUM
    WEIGHTS_COUNT
};

/* Points each tensor field of w (a pointer to a struct with one float * per
 * tensor name) at its place in the payload from p, advancing p past it; the
 * head is tok_emb when tied. Expand where w, p (float *) and the dimensions
 * above are in scope. */
#define WEIGHTS_X_MAP(name, n, kind) \
    w->name = p;                     \
    p += (n);
#define WEIGHTS_MAP_W_FROM_P()            \
    WEIGHTS_TENSORS(WEIGHTS_X_MAP)        \
    if (tied) w->wcls = w->tok_emb;

/* Elements of every tensor in file order (count[WEIGHTS_COUNT], may be NULL)
 * and, optionally, whether each is a matrix (is_matrix[WEIGHTS_COUNT]);
 * returns the payload's total element count. */
static inline size_t weights_layout(size_t d, size_t L, size_t h, size_t v, int tied,
                                    size_t *count, int *is_matrix)
{
    size_t total = 0;
    int i = 0;
#define WEIGHTS_X_COUNT(name, n, kind)        \
    if (count) count[i] = (n);                \
    if (is_matrix) is_matrix[i] = (kind);     \
    total += (n);                             \
    i++;
    WEIGHTS_TENSORS(WEIGHTS_X_COUNT)
#undef WEIGHTS_X_COUNT
    (void)i;
    return total;
}

#endif
