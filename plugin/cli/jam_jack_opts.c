/* jam_jack_opts.c — `continuo jam` (over JACK): its --help text, its own
 * options on top of the shared group (jam_opts.c) and their checks. */
#include <stdio.h>
#include <string.h>
#include "error.h"
#include "jam_opts.h"
#include "settings.h"

static const char *jam_summary =
    "Plays with a performer over JACK. Ports: midi_in (the performer's notes), midi_out\n"
    "(the model's notes, on the preset's model_channel), out_L/out_R (piano audio from\n"
    "FluidSynth: the model's notes, and the performer's unless the preset sets\n"
    "[output] performer_audio = false).\n"
    "\n"
    "Connections: --connect-in/--connect-out/--audio-out as given, made before the model's\n"
    "first note; without --audio-out the audio ports go to the first two physical playback\n"
    "ports, if the server has any.\n"
    "\n"
    "Stopping: SIGINT, SIGTERM or the end of --duration end every sounding note\n"
    "(note-offs on midi_out and in the synth), write --record, the last --record-dir file\n"
    "and --wav, print a summary (name: value unit lines on stdout) and exit 0. CC 120 or\n"
    "123 on midi_in is a panic: the model's notes end and, in duet, it waits for the\n"
    "performer's next phrase. SIGHUP re-reads the preset file (with this command line's\n"
    "overrides) and applies it between two generation steps, without a gap (logged);\n"
    "[output] audio and performer_audio take effect at the next start, except that a\n"
    "SoundFont missing so far is looked for again.\n"
    "\n"
    "If the JACK server shuts down during the jam, continuo ends its notes in the\n"
    "recording. Then, without reconnect, it writes --record and --wav, prints 'continuo\n"
    "jam: the JACK server ... shut down' with the server's reason and exits with status 1.\n"
    "Reconnect is on with --reconnect, or when the preset sets [output] reconnect = true\n"
    "(the solo preset does; --no-reconnect turns it off). The jam then logs a warning and\n"
    "waits for a server of the same name to come back (it tries every 0.5 s; SIGINT and\n"
    "SIGTERM still stop it), registers its ports again, makes the --connect-in,\n"
    "--connect-out and --audio-out connections (retrying each second those whose other\n"
    "port is not there yet), re-creates the synth if the sample rate changed, and carries\n"
    "on with the same session and recording: times go on from where they were, plus the\n"
    "time the server was away. The WAV holds only the time a server ran (and ends if the\n"
    "sample rate changed).\n"
    "\n"
    "SoundFont: without one the default (duet) jam fails with an error; in solo mode or\n"
    "with reconnect it plays MIDI only with a logged warning, and SIGHUP looks again.\n"
    "\n"
    "The installation: --record-dir DIR writes one .mid per --rotate-minutes (checkpointed\n"
    "every minute, from a thread of its own), keeping at most --keep-files files and\n"
    "--keep-mb MiB. The health watch (unless --no-health) raises density after a long\n"
    "silence and temperature when the music loops; a model that turns non-finite for\n"
    "good stops the jam with status 1, for the service manager to restart it.\n"
    "Logs: stderr, with levels and timestamps; CONTINUO_LOG=error|warn|info|debug.\n"
    "\n"
    JAM_FILES_HELP
    "\n"
    "Exit status: 0 done, 1 runtime error (no preset, model, server), broken model, or\n"
    "server gone without reconnect, 2 bad usage.\n"
    "\n"
    "Tempo sync: --sync auto (the default) follows the JACK transport while a timebase\n"
    "master gives bar/beat/tempo, else MIDI clock (0xF8 with 0xFA/0xFB/0xFC, 0xF2) arriving\n"
    "on midi_in; transport or midi-clock follow only that; none ignores both (clock bytes\n"
    "are dropped). A known tempo changes nothing by itself: --quantize GRID[:STRENGTH]\n"
    "moves the model's onsets toward the beat grid (GRID in beats, 0.25 = sixteenths at a\n"
    "quarter-note beat; STRENGTH 0..1, default 1 = exactly on the grid; note lengths kept),\n"
    "and --bars N makes the duet turn on bar lines (the performer plays N bars, the model\n"
    "answers the next N). Without a tempo both fall back to free time and the silence duet.\n"
    "The preset's [tempo] group sets the same (grid, strength, duet_bars).\n"
    "\n"
    "With --alsa the jam runs over the ALSA sequencer instead of JACK (its own options:\n"
    "continuo jam --alsa --help).";

/* --quantize GRID[:STRENGTH] (beats, 0..1) into the overrides. */
static gboolean parse_quantize(const char *arg, jam_overrides *ov, GError **err)
{
    gchar **parts = g_strsplit(arg, ":", 3);
    gboolean ok = parts[0] && (!parts[1] || !parts[2]) &&
                  settings_parse(SET_QUANTIZE_GRID, parts[0], "--quantize GRID", &ov->quantize_grid, err);
    ov->quantize_strength = 1.0;
    if (ok && parts[1])
        ok = settings_parse(SET_QUANTIZE_STRENGTH, parts[1], "--quantize STRENGTH",
                            &ov->quantize_strength, err);
    else if (!ok && err && !*err)
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "--quantize '%s': want GRID[:STRENGTH]", arg);
    g_strfreev(parts);
    return ok;
}

int jam_parse_jack(int argc, char **argv, jack_opts *o)
{
    GOptionGroup *g = jam_opts_group(&o->c);
    o->bars = -1;
    const GOptionEntry entries[] = {
        {"audio-out", 'a', 0, G_OPTION_ARG_STRING_ARRAY, &o->audio_out, "connect out_L, then out_R, to these audio ports (repeatable; given once, both go there)", "PORT"},
        {"no-auto-connect", 0, 0, G_OPTION_ARG_NONE, &o->no_auto_connect, "leave the audio ports unconnected unless --audio-out", NULL},
        {"wav", 'w', 0, G_OPTION_ARG_FILENAME, &o->wav, "write out_L/out_R to this 16-bit WAV as the jam goes", "FILE.wav"},
        {"start-server", 0, 0, G_OPTION_ARG_NONE, &o->start_server, "if no JACK server runs, start `jackd -d dummy -r 48000 -p 128` (stopped on exit)", NULL},
        {"reconnect", 0, 0, G_OPTION_ARG_NONE, &o->reconnect, "when the JACK server shuts down, wait for it to come back and carry on (default: the preset's [output] reconnect; else exit 1)", NULL},
        {"no-reconnect", 0, 0, G_OPTION_ARG_NONE, &o->no_reconnect, "when the JACK server shuts down, exit 1 even if the preset says reconnect", NULL},
        {"server", 0, 0, G_OPTION_ARG_STRING, &o->server, "JACK server name (default: $JACK_DEFAULT_SERVER or 'default')", "NAME"},
        {"sync", 0, 0, G_OPTION_ARG_STRING, &o->sync, "follow a tempo: auto (default: JACK transport with BBT, else MIDI clock on midi_in), transport, midi-clock or none", "MODE"},
        {"quantize", 0, 0, G_OPTION_ARG_STRING, &o->quantize, "move the model's onsets toward the beat grid: GRID in beats (0.25 = sixteenths; 0 = off), STRENGTH 0..1 (default 1); needs a tempo (default: the preset's [tempo])", "GRID[:STRENGTH]"},
        {"bars", 0, 0, G_OPTION_ARG_INT, &o->bars, "duet in bars when a tempo is known: the performer plays N bars, the model answers N (0: the silence duet; default: the preset's [tempo] duet_bars, 0)", "N"},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GError *err = NULL;
    bool usage = true;
    gboolean ok = jam_opts_parse(g, entries, "- play live with a performer over JACK",
                                 jam_summary, "--help", argc, argv, &err);
    if (ok && o->sync && strcmp(o->sync, "auto") && strcmp(o->sync, "transport") &&
        strcmp(o->sync, "midi-clock") && strcmp(o->sync, "none")) {
        g_set_error(&err, CN_ERROR, CN_ERR_ARG, "--sync '%s': use auto, transport, midi-clock or none", o->sync);
        ok = FALSE;
    }
    if (ok && (o->bars < -1 || o->bars > 64)) {
        g_set_error(&err, CN_ERROR, CN_ERR_ARG, "--bars must be in 0..64");
        ok = FALSE;
    }
    if (ok && o->reconnect && o->no_reconnect) {
        g_set_error(&err, CN_ERROR, CN_ERR_ARG, "--reconnect and --no-reconnect contradict each other");
        ok = FALSE;
    }
    ok = ok && jam_opts_check(&o->c, &usage, &err);
    if (ok && o->quantize) {
        usage = true;
        ok = parse_quantize(o->quantize, &o->c.ov, &err);
    }
    o->c.ov.duet_bars = o->bars;
    o->c.ov.reconnect = o->reconnect;
    o->c.ov.no_reconnect = o->no_reconnect;
    if (ok) return 0;
    fprintf(stderr, "continuo jam: %s\n", err ? err->message : "bad usage (see --help)");
    g_clear_error(&err);
    return usage ? 2 : 1;
}

