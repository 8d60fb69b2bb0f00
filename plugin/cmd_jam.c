/* cmd_jam.c — PLACEHOLDER until its issue lands: replace this whole file. */
#include <stdio.h>
#include "commands.h"

int cmd_jam(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "continuo jam: not built yet\n");
    return 2;
}
