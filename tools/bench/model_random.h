/* model_random.h — random-initialized model parameters (continuo-mkmodel,
 * the benchmarks, the tests), until a trained model exists. Not real-time safe. */
#ifndef CONTINUO_MODEL_RANDOM_H
#define CONTINUO_MODEL_RANDOM_H

#include <glib.h>
#include "model.h"

/* The shipped shape: d 256, 6 layers, 8 heads, MLP 768, vocabulary v1 (396),
 * context 1024, tied head, rope_theta 10000. */
void model_random_default_config(model_config *c);

/* model_param_count(c) floats, GPT-2-style: matrices and embeddings
 * normal(0, std), the output projections (wo, w2) scaled by 1/sqrt(2 n_layers),
 * norm gains 1. Same seed, same parameters. Free with g_free. */
float *model_random_params(const model_config *c, guint32 seed, float std);

#endif
