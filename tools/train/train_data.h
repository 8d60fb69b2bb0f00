/* train_data.h — batches for the trainer: random (B, T) windows of a token
 * file, and the fixed validation windows.
 *
 * A window is T + 1 consecutive tokens at any offset of the file (it may run
 * across a document boundary: the BOS token that starts each document tells
 * the model so). inputs = window[0..T-1], targets = window[1..T].
 * Training code (not for the real-time thread). */
#ifndef CONTINUO_TRAIN_DATA_H
#define CONTINUO_TRAIN_DATA_H

#include <stdint.h>
#include <stddef.h>
#include "tokfile.h"
#include "train_rng.h"
#include "train_aug.h"

/* The vocabulary id of a token file (validated by tokfile_open), or 0 with
 * *err set. The trainer sizes a new model from it and refuses a model of
 * another vocabulary. */
uint32_t train_data_vocab_id(const char *path, GError **err);

/* Fills inputs (B*T) and targets (B*T) from B windows at offsets drawn from
 * rng, uniform over [0, n_tokens - T - 1]. The file must hold > T tokens.
 * With augmentation (aug active, train_aug.h) each window's offset draw is
 * followed by one more draw that seeds its transposition and stretch; without
 * (aug NULL or off) the draws are the offsets alone. Either way B windows
 * draw what the same windows drawn in several smaller batches do. */
void train_batch_random(const tokfile *tf, train_rng *rng, const train_aug *aug, int B, int T,
                        uint16_t *inputs, int *targets);

/* Offset of validation window i of n: evenly spaced from the start to the
 * last full window, so the same file always gives the same windows. */
size_t train_val_offset(size_t n_tokens, int T, int i, int n);

/* Fills row r (T tokens) of a batch from the window at offset off. */
void train_window(const tokfile *tf, size_t off, int T, uint16_t *inputs, int *targets);

#endif
