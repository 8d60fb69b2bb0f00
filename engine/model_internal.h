/* model_internal.h — shared by engine/model_file.c (loading) and
 * engine/model.c (running) only: the loaded model's representation. */
#ifndef CONTINUO_MODEL_INTERNAL_H
#define CONTINUO_MODEL_INTERNAL_H

#include <stdint.h>
#include "model.h"

enum { MODEL_DEVICE_CPU = 0, MODEL_DEVICE_CUDA = 1 };

/* One matrix, float32 or bfloat16 (exactly one pointer set). */
typedef struct {
    const float *f;
    const uint16_t *b;
} mat;

/* Row stride (positions) of the transposed key cache: seq_len padded to
 * whole 64-byte lines, and off a multiple of 4 KiB so the head_dim key rows
 * one score block reads do not share L1 sets. */
static inline size_t model_key_ld(size_t seq_len)
{
    size_t ld = (seq_len + 31) & ~(size_t)31;
    return (ld * sizeof(uint16_t)) % 4096 == 0 ? ld + 32 : ld;
}

struct model {
    char *path;
    model_config config;
    model_weight_type type;
    void *block;     /* all tensors in file order, float32 or bfloat16; 2 MB pages */
    float *norms;    /* rms_att (L, dim), rms_ffn (L, dim), rms_final (dim): float32 */
    mat tok_emb, wq, wk, wv, wo, w1, w2, wcls;
    const float *rms_att, *rms_ffn, *rms_final;
    int device;      /* MODEL_DEVICE_*: where its run states compute (model_set_device) */
};


#endif
