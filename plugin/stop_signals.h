/* stop_signals.h — SIGINT / SIGTERM as a request to stop, for the JACK
 * programs (continuo jam, continuo-perform, continuo-record, the demo's
 * clients): taken by one thread that waits for them, never by surprise.
 *
 * stop_signals_init blocks both in the calling thread, so every thread it
 * starts afterwards (libjack's, the worker) inherits the mask, and the main
 * thread takes them with stop_signals_wait. Threads a library started before
 * main (OpenBLAS starts its pool from a constructor) do not block them; the
 * kernel may hand them a process-wide signal, whose default action would
 * end the process on the spot. So a handler is installed as well: it only
 * records the signal, which stop_signals_wait then reports. Not RT safe. */
#ifndef CONTINUO_STOP_SIGNALS_H
#define CONTINUO_STOP_SIGNALS_H

/* Call first thing, before any JACK client or thread is created. */
void stop_signals_init(void);
/* The same for another signal (continuo jam's SIGHUP): blocks sig in the
 * calling thread and installs note as its handler, for a thread that
 * does not block it. */
void signal_hold(int sig, void (*note)(int));
/* Waits up to ms milliseconds; returns SIGINT or SIGTERM if one came (now
 * or earlier, once per signal), else 0. */
int stop_signals_wait(int ms);

#endif
