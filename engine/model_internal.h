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
