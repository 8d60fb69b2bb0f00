/* main.c — `continuo COMMAND ...`: dispatches to plugin/cli/cmd_*.c. */
#include <stdio.h>
#include <string.h>
#include "commands.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} commands[] = {
    {"jam", cmd_jam, "play live with a performer over JACK (or --alsa)"},
    {"continue", cmd_continue, "continue a MIDI file offline (MIDI and optional WAV out)"},
    {"tokens", cmd_tokens, "print a MIDI file as tokens, or --decode tokens to MIDI"},
    {"info", cmd_info, "print a model file's header and check its checksum"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: continuo COMMAND [options]   (continuo COMMAND --help for each)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "continuo: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
