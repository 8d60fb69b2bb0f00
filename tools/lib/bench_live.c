/* bench_live.c — PLACEHOLDER until its issue lands: replace this whole file. */
#include <stdio.h>
#include "bench.h"

int bench_live(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "continuo-bench live: not built yet\n");
    return 2;
}
