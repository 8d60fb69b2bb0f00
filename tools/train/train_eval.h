/* train_eval.h — scoring a whole token file with a model, document by
 * document (used by continuo-eval; see tools/eval.c for the policy):
 * each document (starting with BOS, which is never scored) is covered by
 * windows of `ctx` tokens that advance by ctx/2; each window scores only the
 * tokens no earlier window scored, so a token is predicted from
 * min(its position in the document, ctx/2 .. ctx-1) earlier tokens of its own
 * document. Not real-time safe. */
#ifndef CONTINUO_TRAIN_EVAL_H
#define CONTINUO_TRAIN_EVAL_H

#include <stdint.h>
#include <stddef.h>
#include <glib.h>
#include "train_model.h"

typedef struct {
    size_t start, end; /* document [start, end): tokens[start] is its BOS */
} train_eval_doc;

typedef struct {
    size_t start; /* offset of the window's first token */
    int len;      /* tokens in the window (<= ctx) */
    int lo;       /* rows j in [lo, len - 1) are scored: row j predicts token start + j + 1 */
} train_eval_window;

/* Documents of tok[0..n): split before every BOS; a leading run without BOS
 * is a document too; documents of fewer than 2 tokens are dropped.
 * GArray of train_eval_doc. */
GArray *train_eval_docs(const uint16_t *tok, size_t n);
/* Windows covering every document (GArray of train_eval_window). */
GArray *train_eval_windows(const GArray *docs, int ctx);

typedef struct {
    double nll;   /* total, nats */
    long tokens;  /* scored tokens */
    long notes;   /* scored NOTE_ON tokens */
} train_eval_sum;

/* Scores tok over the windows with m (allocated for B >= 1 rows of T == ctx),
 * m->B windows per forward pass; adds into *sum. */
void train_eval_model(train_model *m, const uint16_t *tok, const GArray *windows,
                      train_eval_sum *sum);

#endif
