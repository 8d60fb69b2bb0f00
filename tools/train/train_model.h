/* train_model.h — the engine's transformer (engine/model.h) with everything
 * training needs: parameters and gradients (one block each, mapped with
 * model_weights_map so the parameter block IS the weights file payload),
 * activations for a (B, T) batch, forward with loss, backward.
 * Not real-time safe: training and offline evaluation only. */
#ifndef CONTINUO_TRAIN_MODEL_H
#define CONTINUO_TRAIN_MODEL_H

#include <stdint.h>
#include <stddef.h>
#include <glib.h>
#include "model.h"

/* Activations for one batch. L = layers, N = B * T, C = dim, H = hidden_dim,
 * NH = heads, V = vocab. */
typedef struct {
    float *res;      /* (L + 1, N, C) residual stream entering layer l; res[L] = final */
    float *res_mid;  /* (L, N, C) residual after the attention block */
    float *rstd_att; /* (L, N) */
    float *h_att;    /* (L, N, C) normed input of q/k/v */
    float *q, *k, *v;/* (L, N, C) q and k after rotary */
    float *att;      /* (L, B, NH, T, T) softmax probabilities */
    float *a;        /* (L, N, C) attention output (before wo) */
    float *rstd_ffn; /* (L, N) */
    float *h_ffn;    /* (L, N, C) */
    float *f1;       /* (L, N, H) w1 output (before gelu) */
    float *g1;       /* (L, N, H) after gelu */
    float *rstd_f;   /* (N) */
    float *h_f;      /* (N, C) final normed */
    float *logits;   /* (N, V); overwritten with probabilities by the loss */
    float *losses;   /* (N) per-position loss, nats */
    /* backward scratch */
    float *dres;     /* (N, C) gradient of the residual stream */
    float *dh;       /* (N, C) */
    float *dq, *dk, *dv, *da; /* (N, C) */
    float *df;       /* (N, H) */
    float *dg;       /* (N, H) */
    float *dlogits;  /* (N, V) */
    float *scratch;  /* (nt, T, T) attention backward */
} train_acts;

typedef struct {
    model_config cfg;
    size_t n_params;
    float *params;     /* n_params, the weights-file payload */
    float *grads;      /* n_params, same layout */
    model_weights w, g;
    int B, T;          /* batch shape the activations were sized for */
    int nt;            /* threads for the non-matmul loops */
    train_acts acts;
    float *rope_cos, *rope_sin; /* (T, head_dim / 2) */
    float *acts_block;
    size_t acts_floats;
} train_model;

/* Allocates parameters (zeroed), gradients and activations for B x T batches
 * (T <= cfg->seq_len). nt = threads for the non-BLAS loops. */
gboolean train_model_new(train_model *m, const model_config *cfg, int B, int T, int nt,
                         GError **err);
void train_model_free(train_model *m);

/* GPT-2 style init from a seed: N(0, 0.02) matrices and embeddings, the
 * residual projections (wo, w2) scaled by 1/sqrt(2 L), norms = 1. */
void train_model_init(train_model *m, uint64_t seed);

/* Reads a weights file (engine format) into m->params; the config must equal
 * m->cfg except seq_len, which may be larger than m->T. */
gboolean train_model_load_params(train_model *m, const char *path, GError **err);
/* Reads only the header's config of a weights file (checks magic/version). */
gboolean train_model_read_config(const char *path, model_config *cfg, GError **err);

/* Forward for tokens (B, T); targets (B, T) (entries < 0 are not scored).
 * Returns the mean loss over scored positions (nats/token); per-position
 * losses stay in acts.losses and probabilities in acts.logits. With
 * targets == NULL, only the logits are computed (returns 0). B and T may be
 * smaller than the allocated shape. */
float train_model_forward(train_model *m, const uint16_t *tokens, const int *targets, int B,
                          int T);
/* Backward of the mean loss of the last forward (same B, T, targets);
 * ACCUMULATES into m->grads (call train_model_zero_grad first). */
void train_model_backward(train_model *m, const uint16_t *tokens, const int *targets, int B,
                          int T);
void train_model_zero_grad(train_model *m);

/* Which parameters get weight decay: 1 for matrices and embeddings, 0 for the
 * rmsnorm gains. Fills mask (n_params). */
void train_model_decay_mask(const train_model *m, uint8_t *mask);

#endif
