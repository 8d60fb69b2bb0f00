/* jam_opts.h — the options `continuo jam` and `continuo jam --alsa` share,
 * as one GOptionGroup (the main group of both commands' contexts; each adds
 * its own entries to it), their checks, and finding the preset and the
 * model. Decimal options go through cli_number.h. Not real-time safe. */
#ifndef CONTINUO_JAM_OPTS_H
#define CONTINUO_JAM_OPTS_H

#include <stdbool.h>
#include <glib.h>
#include "cli_number.h"
#include "paths.h"
#include "reload.h"

typedef struct {
    char *preset, *model, *device, *mode, *name, *record, *record_dir, *soundfont;
    char **connect_in, **connect_out;
    gboolean alsa, no_audio, no_health, verbose;
    double duration, temperature, horizon_ms, rotate_minutes, keep_mb;
    gint64 seed;           /* -1: the preset's */
    int keep_files;
    jam_overrides ov;      /* filled by jam_opts_check (the jam adds its own) */
    char *preset_path;     /* found by jam_opts_check */
    /* private: the decimal options' table */
    cli_number numbers[7];
} jam_opts;

/* Defaults in o and the group of the shared options over o (horizon_ms is
 * NAN until given: each host has its own default). */
GOptionGroup *jam_opts_group(jam_opts *o);

/* Adds a host's own entries to the shared group g and parses argv with g
 * as the main group (param and summary for --help); no positional argument
 * is allowed (the error names `help`, the way to the help). FALSE + a
 * one-line error in *err. */
gboolean jam_opts_parse(GOptionGroup *g, const GOptionEntry *entries, const char *param,
                        const char *summary, const char *help, int argc, char **argv,
                        GError **err);

/* After parsing: the checks of the shared options, o->ov and o->preset_path.
 * FALSE + a one-line error (bad usage: exit status 2) — except a missing
 * preset, which sets *usage = false (exit status 1). */
gboolean jam_opts_check(jam_opts *o, bool *usage, GError **err);

/* Where both jams' --help says presets and the model are found (paths.h). */
#define JAM_FILES_HELP                                                                           \
    "Files: --preset NAME is NAME.ini, found in $CONTINUO_PRESETS (a folder), then in the\n"     \
    "tree the program runs from (build/bin/../../presets, <its prefix>/share/continuo/presets),\n" \
    "then in " CONTINUO_PREFIX "/share/continuo/presets; the model: --model, else\n"           \
    "$CONTINUO_MODEL, else continuo.bin in the same places. Decimal options refuse NaN and\n"  \
    "infinities; --temperature has the presets' range.\n"

/* The preset file with the command line's overrides (at start and on SIGHUP). */
gboolean jam_opts_load(const jam_opts *o, session_config *c, host_config *hc, GError **err);

void jam_opts_free(jam_opts *o);

/* `continuo jam` over JACK: the shared options and its own (jam_jack_opts.c). */
typedef struct {
    jam_opts c;
    char *server, *wav, *sync, *quantize;
    char **audio_out;
    gboolean start_server, no_auto_connect, reconnect, no_reconnect;
    int bars; /* -1: the preset's */
} jack_opts;

/* Parses the command line into o (--quantize, --bars and --reconnect into
 * o->c.ov); 0 ok, else the exit status after a one-line error on stderr
 * (2: usage, 1: no preset). */
int jam_parse_jack(int argc, char **argv, jack_opts *o);

#endif
