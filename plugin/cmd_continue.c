/* cmd_continue.c — PLACEHOLDER until its issue lands: replace this whole file. */
#include <stdio.h>
#include "commands.h"

int cmd_continue(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "continuo continue: not built yet\n");
    return 2;
}
