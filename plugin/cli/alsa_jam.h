/* alsa_jam.h — `continuo jam --alsa`: the jam over the ALSA sequencer
 * (plugin/cli/alsa_jam.c), entered from cmd_jam when --alsa is on the command
 * line. Same session, presets and recording as the JACK jam; the host is
 * plugin/alsa/alsa_client.c driven by plugin/pump.c. */
#ifndef CONTINUO_ALSA_JAM_H
#define CONTINUO_ALSA_JAM_H

#include <stdbool.h>

/* argv[0] = "jam"; returns the exit status (0 ok, 1 runtime error, 2 usage). */
int cmd_jam_alsa(int argc, char **argv);
/* TRUE if argv holds "--alsa" (before a "--"). */
bool jam_wants_alsa(int argc, char **argv);

#endif
