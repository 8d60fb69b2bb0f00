/* bench.c — continuo-bench WHAT [options]: benchmark programs that print
 * `name: value unit` lines. Tests never time anything; this does. */
#include <stdio.h>
#include <string.h>
#include "bench.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} benches[] = {
    {"model", bench_model, "decode latency p50/p99/max by context, prefill speed, RSS"},
    {"live", bench_live, "against a dummy jackd: response latency, callback time, late events"},
    {"tokens", bench_tokens, "tokenizer over every ASAP performance: events/s, round-trip errors"},
    {"soak", bench_soak, "installation (solo) for N simulated hours: RSS, silence, repetition, resets"},
};

int main(int argc, char **argv)
{
    size_t n = sizeof benches / sizeof benches[0];
    if (argc >= 2)
        for (size_t i = 0; i < n; i++)
            if (!strcmp(argv[1], benches[i].name)) return benches[i].run(argc - 1, argv + 1);
    FILE *f = argc >= 2 && strcmp(argv[1], "--help") ? stderr : stdout;
    fprintf(f, "usage: continuo-bench WHAT [options]   (continuo-bench WHAT --help)\n\n");
    for (size_t i = 0; i < n; i++) fprintf(f, "  %-8s %s\n", benches[i].name, benches[i].summary);
    return f == stdout ? 0 : 2;
}
