/* alsa_audio.h — piano audio for `continuo jam --alsa`: FluidSynth playing
 * through its own audio driver (its thread): ALSA (a PCM device) when there
 * is no JACK server, or JACK (ports auto-connected) when one runs, with the model's notes timed by FluidSynth's sequencer
 * (clocked by the synth's own sample counter, so a note sounds at its time
 * to within one audio period, whatever the pump's wake-ups). The performer's
 * notes are played at once.
 *
 * FluidSynth's thread-safe API is on here (its audio thread renders while
 * ours sends), so every call may come from any one non-RT thread.
 * Not real-time safe. */
#ifndef CONTINUO_ALSA_AUDIO_H
#define CONTINUO_ALSA_AUDIO_H

#include <glib.h>
#include "events.h"

typedef struct alsa_audio alsa_audio;

/* sf_path: a SoundFont (paths_find_soundfont), loaded whole into memory (so
 * the file may disappear later without harm); driver: "alsa" or "jack";
 * pcm: the ALSA PCM device ("default"; ignored for jack). NULL + err
 * (CN_ERR_SYNTH), one line, if FluidSynth, the SoundFont or the audio
 * device fails. */
alsa_audio *alsa_audio_new(const char *sf_path, const char *driver, const char *pcm, int rate,
                           GError **err);
void alsa_audio_free(alsa_audio *a);

/* Plays ev now (the performer's note). */
void alsa_audio_play_now(alsa_audio *a, const cn_event *ev);
/* Plays ev `delay` s from now (>= 0; the model's note, scheduled ahead). */
void alsa_audio_schedule(alsa_audio *a, const cn_event *ev, double delay);
/* Every note off, pedals up (release tails ring out). */
void alsa_audio_all_off(alsa_audio *a);

#endif
