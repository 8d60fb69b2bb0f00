/* commands.h — the subcommands of the `continuo` program, one file each
 * (plugin/cli/cmd_NAME.c). Each takes argc/argv with argv[0] = the subcommand
 * name and returns the process exit status (0 ok, 1 runtime error, 2 usage). */
#ifndef CONTINUO_COMMANDS_H
#define CONTINUO_COMMANDS_H

int cmd_tokens(int argc, char **argv);   /* cmd_tokens.c:   MIDI <-> token text */
int cmd_info(int argc, char **argv);     /* cmd_info.c:     print a weights file's header */
int cmd_continue(int argc, char **argv); /* cmd_continue.c: offline continuation of a .mid */
int cmd_jam(int argc, char **argv);      /* cmd_jam.c:      the live JACK / ALSA client */

#endif
