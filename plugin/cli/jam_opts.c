/* jam_opts.c — the options both jams share (see jam_opts.h). */
#include <math.h>
#include <string.h>
#include "error.h"
#include "jam_opts.h"
#include "paths.h"
#include "settings.h"

GOptionGroup *jam_opts_group(jam_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = -1;
    o->temperature = NAN;
    o->horizon_ms = NAN;
    o->rotate_minutes = 60;
    o->keep_files = 168;
    o->keep_mb = 1024;
    const cli_number numbers[] = {
        {"temperature", 't', &o->temperature, SET_TEMPERATURE, 0, 0, false},
        {"duration", 'd', &o->duration, -1, 0, INFINITY, false},
        {"horizon", 0, &o->horizon_ms, -1, 0, INFINITY, true},
        {"rotate-minutes", 0, &o->rotate_minutes, -1, 0, 600, true},
        {"keep-mb", 0, &o->keep_mb, -1, 0, INFINITY, true},
        {NULL, 0, NULL, -1, 0, 0, false}};
    G_STATIC_ASSERT(G_N_ELEMENTS(numbers) <= G_N_ELEMENTS(o->numbers));
    memcpy(o->numbers, numbers, sizeof numbers);
    const gpointer num = (gpointer)cli_number_cb;
    const GOptionEntry entries[] = {
        {"alsa", 0, 0, G_OPTION_ARG_NONE, &o->alsa, "play over the ALSA sequencer instead of JACK (continuo jam --alsa --help lists its options)", NULL},
        {"preset", 'p', 0, G_OPTION_ARG_STRING, &o->preset, "preset name (duet, accompany, solo, daw) or .ini file (default duet)", "NAME|FILE"},
        {"model", 'm', 0, G_OPTION_ARG_FILENAME, &o->model, "model weights file (default: the shipped model)", "FILE"},
        {"device", 0, 0, G_OPTION_ARG_STRING, &o->device, "where the model runs: cpu (default) or cuda (the GPU decoder)", "DEV"},
        {"mode", 0, 0, G_OPTION_ARG_STRING, &o->mode, "override the preset's mode: duet, accompany or solo", "MODE"},
        {"seed", 0, 0, G_OPTION_ARG_INT64, &o->seed, "sampling seed >= 0 (default: the preset's)", "N"},
        {"temperature", 't', 0, G_OPTION_ARG_CALLBACK, num, "sampling temperature in [0, 10], 0 = always the likeliest token (default: the preset's)", "T"},
        {"connect-in", 'i', 0, G_OPTION_ARG_STRING_ARRAY, &o->connect_in, "connect this MIDI port to midi_in (repeatable)", "PORT"},
        {"connect-out", 'o', 0, G_OPTION_ARG_STRING_ARRAY, &o->connect_out, "connect midi_out to this MIDI port (repeatable)", "PORT"},
        {"no-audio", 0, 0, G_OPTION_ARG_NONE, &o->no_audio, "MIDI only: no synth (over JACK: no out_L/out_R either)", NULL},
        {"soundfont", 0, 0, G_OPTION_ARG_FILENAME, &o->soundfont, "SoundFont for the synth (default: found as soundfonts/README.md says)", "FILE"},
        {"record", 'r', 0, G_OPTION_ARG_FILENAME, &o->record, "write the jam (performer and model, one track per channel) to this .mid on exit", "FILE.mid"},
        {"record-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->record_dir, "rotating recording: one .mid per --rotate-minutes in DIR (the installation)", "DIR"},
        {"rotate-minutes", 0, 0, G_OPTION_ARG_CALLBACK, num, "length of one rotated file, at most 600 (60)", "MIN"},
        {"keep-files", 0, 0, G_OPTION_ARG_INT, &o->keep_files, "most rotated files kept (168)", "N"},
        {"keep-mb", 0, 0, G_OPTION_ARG_CALLBACK, num, "most MiB of rotated files kept (1024)", "MIB"},
        {"no-health", 0, 0, G_OPTION_ARG_NONE, &o->no_health, "no silence/loop/crowding responses", NULL},
        {"duration", 'd', 0, G_OPTION_ARG_CALLBACK, num, "stop after this many seconds (default: until SIGINT/SIGTERM)", "S"},
        {"name", 'n', 0, G_OPTION_ARG_STRING, &o->name, "client name (default continuo)", "NAME"},
        {"horizon", 0, 0, G_OPTION_ARG_CALLBACK, num, "ms of due events handed ahead of time (default: JACK one period, ALSA 50)", "MS"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &o->verbose, "debug logging (JACK: also counters every 5 s and JACK's messages)", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    return cli_number_group("jam", entries, o->numbers);
}

gboolean jam_opts_parse(GOptionGroup *g, const GOptionEntry *entries, const char *param,
                        const char *summary, const char *help, int argc, char **argv,
                        GError **err)
{
    g_option_group_add_entries(g, entries);
    GOptionContext *ctx = g_option_context_new(param);
    g_option_context_set_summary(ctx, summary);
    g_option_context_set_main_group(ctx, g);
    gboolean ok = g_option_context_parse(ctx, &argc, &argv, err);
    g_option_context_free(ctx);
    if (ok && argc != 1) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "unexpected arguments (see %s)", help);
        ok = FALSE;
    }
    return ok;
}

gboolean jam_opts_check(jam_opts *o, bool *usage, GError **err)
{
    *usage = true;
    if (o->seed < -1) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "--seed must be >= 0");
        return FALSE;
    }
    if (o->keep_files < 1) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "--keep-files must be >= 1");
        return FALSE;
    }
    jam_overrides_none(&o->ov);
    o->ov.mode = o->mode;
    o->ov.seed = o->seed;
    o->ov.temperature = o->temperature;
    o->ov.no_audio = o->no_audio;
    *usage = false;
    o->preset_path = paths_find_preset(o->preset ? o->preset : "duet", err);
    return o->preset_path != NULL;
}

gboolean jam_opts_load(const jam_opts *o, session_config *c, host_config *hc, GError **err)
{
    return jam_preset_load(o->preset_path, &o->ov, c, hc, err);
}

void jam_opts_free(jam_opts *o)
{
    g_free(o->preset_path);
    o->preset_path = NULL;
}
