/* synth.h — the FluidSynth glue, offline and live (a SoundFont is found by
 * paths_find, plugin/paths.h): a synth with no audio driver of its own (we pull its audio), events in,
 * float audio out, and an offline render of an event list to a WAV file.
 *
 * Threads: synth_new / synth_free /
 * synth_render_events_to_wav are setup code (allocate, read files). The synth
 * is made with FluidSynth's thread-safe API off (no mutex per call), so
 * synth_event, synth_render and synth_all_off must all be called from ONE
 * thread at a time — in `continuo jam` the JACK process callback, which both
 * feeds the events of the cycle and renders it; there they are real-time
 * safe. */
#ifndef CONTINUO_SYNTH_H
#define CONTINUO_SYNTH_H

#include <stdbool.h>
#include <glib.h>
#include "events.h"

typedef struct synth synth;

/* Master gain (FluidSynth's synth.gain; its default 0.2 leaves a solo piano
 * near -40 dBFS RMS). */
#define SYNTH_GAIN 0.5
/* Seconds rendered after the last event by synth_render_events_to_wav. */
#define SYNTH_WAV_TAIL 2.0

/* A synth at sample_rate (Hz) with the SoundFont at sf_path loaded (all its
 * samples in memory, so rendering never reads the disk), FluidSynth's log
 * messages kept off stdout/stderr (a loading error comes back in *err), no
 * audio or MIDI driver, no extra threads. GM program 0 (piano) on every
 * channel but 10 (drums) until a program change says otherwise.
 * NULL with *err set (CN_ERR_SYNTH) on failure. Not RT safe. */
synth *synth_new(const char *sf_path, int sample_rate, GError **err);
void synth_free(synth *s); /* s may be NULL. Not RT safe. */

/* Plays one event now (its time field is ignored: the caller splits the
 * rendering at the event's frame; FluidSynth starts it at its next 64-frame
 * internal block boundary). Note on/off, CC (64 sustain, 120 all
 * sound off, 123 all notes off, ...) and program change.
 * REAL-TIME SAFE (no allocation, no lock, no I/O); same thread as synth_render. */
void synth_event(synth *s, const cn_event *ev);

/* Renders nframes of audio into L and R (overwritten, not mixed; float,
 * full scale +-1). REAL-TIME SAFE; same thread as synth_event. */
void synth_render(synth *s, float *L, float *R, int nframes);

/* Panic: lifts every channel's sustain and sostenuto pedal and releases
 * every sounding note (release tails ring out naturally, no click).
 * REAL-TIME SAFE; same thread as synth_render. */
void synth_all_off(synth *s);

/* Offline: renders events (any order, times in seconds from 0) with the
 * SoundFont at sf_path into a 16-bit stereo PCM WAV at rate Hz, sample
 * accurate up to FluidSynth's 64-frame internal block (an event at frame
 * round(time * rate) sounds from the first block boundary at or after it:
 * at most 1.5 ms late at 44.1 kHz), ending SYNTH_WAV_TAIL
 * seconds after the last event. Not RT safe. */
gboolean synth_render_events_to_wav(const GArray *events, const char *sf_path,
                                    const char *wav_path, int rate, GError **err);

#endif
