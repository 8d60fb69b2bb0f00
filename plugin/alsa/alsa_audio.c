/* alsa_audio.c — FluidSynth through its ALSA audio driver, with a timed
 * queue for the model's notes (see alsa_audio.h). */
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <fluidsynth.h>
#include "alsa_audio.h"
#include "error.h"
#include "log.h"
#include "synth.h"

struct alsa_audio {
    fluid_settings_t *settings;
    fluid_synth_t *synth;
    fluid_audio_driver_t *driver;
    fluid_sequencer_t *seq;
    fluid_seq_id_t dest;
    fluid_event_t *ev;
};

static void audio_log_sink(int level, const char *message, void *data)
{
    (void)data;
    if (level <= FLUID_ERR) log_warn("fluidsynth: %s", message);
    else log_debug("fluidsynth: %s", message);
}

alsa_audio *alsa_audio_new(const char *sf_path, const char *driver, const char *pcm, int rate,
                           GError **err)
{
    for (int level = FLUID_PANIC; level < LAST_LOG_LEVEL; level++)
        fluid_set_log_function(level, audio_log_sink, NULL);
    alsa_audio *a = g_new0(alsa_audio, 1);
    a->settings = new_fluid_settings();
    if (!a->settings) goto fail_synth;
    bool jack = driver && !strcmp(driver, "jack");
    fluid_settings_setstr(a->settings, "audio.driver", jack ? "jack" : "alsa");
    fluid_settings_setstr(a->settings, "audio.alsa.device", pcm && *pcm ? pcm : "default");
    fluid_settings_setstr(a->settings, "audio.jack.id", "continuo-synth");
    fluid_settings_setint(a->settings, "audio.jack.autoconnect", 1);
    fluid_settings_setnum(a->settings, "synth.sample-rate", rate);
    fluid_settings_setnum(a->settings, "synth.gain", SYNTH_GAIN);
    fluid_settings_setint(a->settings, "synth.dynamic-sample-loading", 0);
    /* 4 periods of 256 frames at 48 kHz: ~21 ms of buffer, safe without RT privileges */
    fluid_settings_setint(a->settings, "audio.period-size", 256);
    fluid_settings_setint(a->settings, "audio.periods", 4);
    a->synth = new_fluid_synth(a->settings);
    if (!a->synth) goto fail_synth;
    if (fluid_synth_sfload(a->synth, sf_path, 1) == FLUID_FAILED) {
        g_set_error(err, CN_ERROR, CN_ERR_SYNTH, "%s: FluidSynth cannot load this SoundFont", sf_path);
        alsa_audio_free(a);
        return NULL;
    }
    /* Driven by the synth's sample clock, not the system timer: events land
     * on the audio they belong to. */
    a->seq = new_fluid_sequencer2(0);
    a->ev = new_fluid_event();
    if (!a->seq || !a->ev) goto fail_synth;
    a->dest = fluid_sequencer_register_fluidsynth(a->seq, a->synth);
    if (a->dest == FLUID_FAILED) goto fail_synth;
    fluid_event_set_source(a->ev, -1);
    fluid_event_set_dest(a->ev, a->dest);
    a->driver = new_fluid_audio_driver(a->settings, a->synth);
    if (!a->driver) {
        if (jack)
            g_set_error(err, CN_ERROR, CN_ERR_SYNTH,
                        "FluidSynth: cannot open its JACK audio client (--audio-driver alsa "
                        "plays through ALSA instead)");
        else
            g_set_error(err, CN_ERROR, CN_ERR_SYNTH,
                        "FluidSynth: cannot open the ALSA audio device '%s' (see `aplay -L`; "
                        "--audio-device picks another, --no-audio plays MIDI only)",
                        pcm && *pcm ? pcm : "default");
        alsa_audio_free(a);
        return NULL;
    }
    return a;
fail_synth:
    g_set_error(err, CN_ERROR, CN_ERR_SYNTH, "FluidSynth: cannot create the synth");
    alsa_audio_free(a);
    return NULL;
}

void alsa_audio_free(alsa_audio *a)
{
    if (!a) return;
    if (a->driver) delete_fluid_audio_driver(a->driver); /* first: stops its thread */
    if (a->ev) delete_fluid_event(a->ev);
    if (a->seq) delete_fluid_sequencer(a->seq);
    if (a->synth) delete_fluid_synth(a->synth);
    if (a->settings) delete_fluid_settings(a->settings);
    g_free(a);
}

void alsa_audio_play_now(alsa_audio *a, const cn_event *e)
{
    switch (e->type) {
    case CN_EV_NOTE_ON: fluid_synth_noteon(a->synth, e->channel, e->a, e->b); break;
    case CN_EV_NOTE_OFF: fluid_synth_noteoff(a->synth, e->channel, e->a); break;
    case CN_EV_CC: fluid_synth_cc(a->synth, e->channel, e->a, e->b); break;
    case CN_EV_PROGRAM: fluid_synth_program_change(a->synth, e->channel, e->a); break;
    default: break;
    }
}

void alsa_audio_schedule(alsa_audio *a, const cn_event *e, double delay)
{
    switch (e->type) {
    case CN_EV_NOTE_ON: fluid_event_noteon(a->ev, e->channel, e->a, e->b); break;
    case CN_EV_NOTE_OFF: fluid_event_noteoff(a->ev, e->channel, e->a); break;
    case CN_EV_CC: fluid_event_control_change(a->ev, e->channel, e->a, e->b); break;
    case CN_EV_PROGRAM: fluid_event_program_change(a->ev, e->channel, e->a); break;
    default: return;
    }
    unsigned ms = delay > 0 ? (unsigned)lround(delay * 1e3) : 0; /* sequencer ticks are ms */
    fluid_sequencer_send_at(a->seq, a->ev, ms, 0);
}

void alsa_audio_all_off(alsa_audio *a)
{
    for (int c = 0; c < 16; c++) {
        fluid_synth_cc(a->synth, c, 64, 0);
        fluid_synth_all_notes_off(a->synth, c);
    }
}
