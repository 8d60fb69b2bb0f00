/* train_rng.c — xoshiro256** (Blackman & Vigna) with a splitmix64 seeder. */
#include <math.h>
#include "sample.h" /* rng_splitmix64 */
#include "train_rng.h"

void train_rng_seed(train_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = rng_splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t train_rng_next(train_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t train_rng_below(train_rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* values >= limit would bias */
    uint64_t x;
    do x = train_rng_next(r);
    while (x >= limit);
    return x % n;
}

double train_rng_uniform(train_rng *r)
{
    return (double)(train_rng_next(r) >> 11) * 0x1.0p-53;
}

double train_rng_normal(train_rng *r)
{
    double u1 = train_rng_uniform(r), u2 = train_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
