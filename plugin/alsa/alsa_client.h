/* alsa_client.h — the ALSA sequencer side of `continuo jam --alsa`: a
 * sequencer client "continuo" with two ports that `aconnect -l` lists as
 *     client N: 'continuo' [type=user,...]
 *         0 'midi_in         '   (the performer's notes come in here)
 *         1 'midi_out        '   (the model's notes go out from here)
 * a queue whose real-time clock is the session's clock (seconds since the
 * queue started), input stamped by that queue on arrival, and output
 * scheduled on it at each event's time (absolute real-time timestamps), so
 * the sequencer's own timer plays them.
 *
 * Used through pump.h's host table (alsa_host_pump_host); nothing here knows
 * the session. Needs /dev/snd/seq: alsa_host_new fails with one line when
 * it is absent. Not real-time safe (ALSA calls may block briefly); one
 * thread (the pump's) calls everything after alsa_host_new. */
#ifndef CONTINUO_ALSA_CLIENT_H
#define CONTINUO_ALSA_CLIENT_H

#include <stdbool.h>
#include <glib.h>
#include "events.h"
#include "pump.h"

typedef struct alsa_host alsa_host;

/* Called for every input event as it is read (e.g. to sound the performer's
 * notes on the synth at once); may be NULL. */
typedef void (*alsa_monitor_fn)(void *arg, const cn_event *ev);
/* Called for every output event as it is scheduled (e.g. the synth's own
 * timed queue); may be NULL. */
typedef void (*alsa_schedule_fn)(void *arg, const cn_event *ev, double now);

typedef struct {
    const char *client_name; /* "continuo" */
    const char *device;      /* sequencer device, "default" */
    int output_pool;         /* events the kernel may hold scheduled for us (2000) */
    alsa_monitor_fn monitor;
    alsa_schedule_fn schedule;
    void *cb_arg;
} alsa_host_config;

void alsa_host_config_defaults(alsa_host_config *c);

/* Opens the sequencer, creates the client, its two ports and the queue, and
 * starts the queue. NULL + err (CN_ERR_IO), one line, e.g. "ALSA sequencer:
 * cannot open 'default' (/dev/snd/seq is missing: no ALSA sequencer on this
 * machine)". Not RT safe. */
alsa_host *alsa_host_new(const alsa_host_config *c, GError **err);
/* Stops the queue and closes the client. */
void alsa_host_free(alsa_host *h);

/* Subscribes CLIENT:PORT (a number or a client name, as aconnect takes it)
 * to midi_in, or midi_out to it. err names the address and the problem. */
gboolean alsa_host_connect_in(alsa_host *h, const char *addr, GError **err);
gboolean alsa_host_connect_out(alsa_host *h, const char *addr, GError **err);

/* Our client number and "continuo:midi_in"-style names (owned by h). */
int alsa_host_client_id(const alsa_host *h);
const char *alsa_host_port_name(const alsa_host *h, bool out);

/* The host table for pump_new (ctx = h). */
void alsa_host_pump_host(alsa_host *h, pump_host *out);

typedef struct {
    long events_in, events_out, ignored_in, send_errors;
} alsa_host_stats;
void alsa_host_get_stats(const alsa_host *h, alsa_host_stats *st);

/* Pure conversions, tested without a device (tests/test_pump.c). */
/* An ALSA sequencer event -> cn_event (time left 0); FALSE if not a note,
 * controller or program change (or out of range). Note-on velocity 0 is a
 * note-off. Takes the event's fields, not the libasound type, so that it can
 * be tested without the library's structures: */
bool alsa_event_to_cn(int seq_type, int channel, int note_or_param, int velocity_or_value,
                      cn_event *out);
/* Seconds <-> the sequencer's real time (sec, nsec), rounded to 1 ns. */
void alsa_seconds_to_real(double t, unsigned *sec, unsigned *nsec);
double alsa_real_to_seconds(unsigned sec, unsigned nsec);

#endif
