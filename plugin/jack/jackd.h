/* jackd.h — finding a running JACK server, or starting a dummy-backend one.
 *
 * Used by `continuo jam --start-server`, continuo-bench live and the tools.
 * Nothing here is real-time safe (process spawning, sleeping, sockets). */
#ifndef CONTINUO_JACKD_H
#define CONTINUO_JACKD_H

#include <stdbool.h>
#include <glib.h>

/* The server a client opened with `name` talks to: name itself when given,
 * else $JACK_DEFAULT_SERVER, else "default". Returns a static or env string. */
const char *jackd_server_name(const char *name);

/* True when a JACK server of that name accepts clients (never starts one;
 * prints nothing). */
bool jackd_running(const char *name);

/* Starts `jackd -n NAME -d dummy -r RATE -p PERIOD` in its own session (so a
 * terminal's Ctrl-C reaches only us, and we stop it in order), its output
 * to /dev/null unless `verbose`, and waits up to `timeout` seconds until it
 * accepts clients. Fills *pid for jackd_stop. */
gboolean jackd_start(const char *name, int rate, int period, double timeout, bool verbose,
                     GPid *pid, GError **err);

/* SIGTERM, wait up to 3 s, then SIGKILL; reaps the process. */
void jackd_stop(GPid pid);

#endif
