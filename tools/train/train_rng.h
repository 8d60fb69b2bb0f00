/* train_rng.h — the trainer's random numbers: xoshiro256** seeded by
 * splitmix64. Its whole state is 4 words, saved in checkpoints so that a
 * resumed run draws exactly the batches an uninterrupted one would.
 * Plain arithmetic on the caller's state: safe anywhere, no global state. */
#ifndef CONTINUO_TRAIN_RNG_H
#define CONTINUO_TRAIN_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} train_rng;

void train_rng_seed(train_rng *r, uint64_t seed);
uint64_t train_rng_next(train_rng *r);
/* Uniform integer in [0, n), n > 0 (rejection sampling, no modulo bias). */
uint64_t train_rng_below(train_rng *r, uint64_t n);
/* Uniform double in [0, 1) (53 bits). */
double train_rng_uniform(train_rng *r);
/* Standard normal (Box-Muller, one value per call). */
double train_rng_normal(train_rng *r);

#endif
