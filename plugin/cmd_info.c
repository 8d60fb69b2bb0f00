/* cmd_info.c — PLACEHOLDER until its issue lands: replace this whole file. */
#include <stdio.h>
#include "commands.h"

int cmd_info(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "continuo info: not built yet\n");
    return 2;
}
