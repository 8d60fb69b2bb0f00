/* cmd_tokens.c — PLACEHOLDER until its issue lands: replace this whole file. */
#include <stdio.h>
#include "commands.h"

int cmd_tokens(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "continuo tokens: not built yet\n");
    return 2;
}
