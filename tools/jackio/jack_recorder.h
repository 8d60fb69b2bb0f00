/* jack_recorder.h — a JACK client that records MIDI ports with their frame
 * times, and the RMS level of audio ports per window: the ears of the e2e
 * tests (continuo-record) and of continuo-bench live.
 *
 * The process callback stamps each MIDI event cycle_start + event.time
 * (absolute, unwrapped frames) and pushes it to a lock-free ring; every
 * `rms_window` frames it pushes one RMS item per audio port (a window that
 * cycles the server skipped would cut ends there, shorter, so that a window
 * spans exactly the frames from its stamp to the next item). Another thread
 * drains the ring with jack_recorder_drain. */
#ifndef CONTINUO_JACK_RECORDER_H
#define CONTINUO_JACK_RECORDER_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

enum { JREC_MIDI = 0, JREC_RMS = 1, JREC_SKIP = 2, JREC_XRUN = 3 };

typedef struct {
    uint64_t frame;  /* MIDI: the event's frame; RMS: the window's first frame;
                      * SKIP: the first frame of cycles the server ran without us
                      * (an xrun: whatever our ports carried then is lost);
                      * XRUN: about when the server reported an xrun of any
                      * client (jack_frame_time in the notification; a late
                      * client's output may then be lost or repeated) */
    uint8_t kind;    /* JREC_MIDI, JREC_RMS, JREC_SKIP or JREC_XRUN */
    uint8_t port;    /* index among the MIDI ports (midi_N) or audio ports (audio_N) */
    uint8_t type, channel, a, b; /* MIDI: cn_event_type and its fields */
    float value;     /* RMS: root mean square of the window's samples (full scale 1);
                      * SKIP: the number of frames skipped */
} jrec_item;

typedef struct jack_recorder jack_recorder;

/* Opens and activates client `name` with MIDI inputs midi_0..midi_{n_midi-1}
 * and audio inputs audio_0..; rms_window in seconds (<= 0: 0.1 s). Never
 * starts a server. Not RT safe. */
jack_recorder *jack_recorder_new(const char *name, const char *server, int n_midi, int n_audio,
                                 double rms_window, GError **err);
void jack_recorder_free(jack_recorder *r);

/* Connects a foreign port to our midi_i / audio_i, waiting up to `wait` s for it. */
gboolean jack_recorder_connect_midi(jack_recorder *r, int i, const char *port, double wait, GError **err);
gboolean jack_recorder_connect_audio(jack_recorder *r, int i, const char *port, double wait, GError **err);

/* Appends every recorded item so far to items (GArray of jrec_item). */
size_t jack_recorder_drain(jack_recorder *r, GArray *items);

uint32_t jack_recorder_rate(jack_recorder *r);
uint32_t jack_recorder_period(jack_recorder *r);
uint64_t jack_recorder_start_frame(jack_recorder *r); /* first cycle's frame */
uint64_t jack_recorder_drops(jack_recorder *r);       /* items lost to a full ring */
bool jack_recorder_dead(jack_recorder *r);            /* the server went away */

#endif
