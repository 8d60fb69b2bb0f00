/* bench_model.c — PLACEHOLDER until its issue lands: replace this whole file. */
#include <stdio.h>
#include "bench.h"

int bench_model(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "continuo-bench model: not built yet\n");
    return 2;
}
