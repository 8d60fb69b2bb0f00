/* record.c — continuo-record: records JACK MIDI ports with their frame times
 * (to a text log and/or a .mid) and the RMS level of audio ports; the ears of
 * the e2e tests. Runs until SIGINT/SIGTERM, --duration, or the server goes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "error.h"
#include "jack_recorder.h"
#include "midifile.h"
#include "stop_signals.h"

static void write_items(FILE *f, const GArray *items, guint from)
{
    for (guint i = from; i < items->len; i++) {
        const jrec_item *it = &g_array_index(items, jrec_item, i);
        if (it->kind == JREC_MIDI)
            fprintf(f, "%llu m%u %s %u %u %u\n", (unsigned long long)it->frame, it->port,
                    cn_event_type_name(it->type), it->channel, it->a, it->b);
        else if (it->kind == JREC_RMS)
            fprintf(f, "%llu a%u rms %.6f\n", (unsigned long long)it->frame, it->port, it->value);
        else if (it->kind == JREC_SKIP)
            fprintf(f, "%llu skip %.0f\n", (unsigned long long)it->frame, it->value);
        else
            fprintf(f, "%llu xrun\n", (unsigned long long)it->frame);
    }
    fflush(f);
}

/* --dump: a .mid in the log format, so the same checks read a recording
 * written by continuo jam and a log written by this recorder. */
static int dump_mid(const char *path, const char *log_path)
{
    GError *err = NULL;
    GArray *ev = midifile_load(path, &err);
    if (!ev) {
        fprintf(stderr, "continuo-record: %s\n", err->message);
        g_error_free(err);
        return 1;
    }
    FILE *f = log_path && strcmp(log_path, "-") ? fopen(log_path, "w") : stdout;
    if (!f) {
        fprintf(stderr, "continuo-record: %s: cannot write\n", log_path);
        return 1;
    }
    fprintf(f, "# continuo-record --dump %s: rate 48000 start_frame 0\n", path);
    for (guint i = 0; i < ev->len; i++) {
        const cn_event *e = &g_array_index(ev, cn_event, i);
        fprintf(f, "%llu mid %s %u %u %u\n", (unsigned long long)llround(e->time * 48000.0),
                cn_event_type_name(e->type), e->channel, e->a, e->b);
    }
    if (f != stdout) fclose(f);
    g_array_free(ev, TRUE);
    return 0;
}

int main(int argc, char **argv)
{
    char **midi = NULL, **audio = NULL, *server = NULL, *name = NULL, *mid_path = NULL, *log_path = NULL;
    char *dump = NULL;
    double duration = 0, wait = 5.0, window_ms = 100;
    GOptionEntry entries[] = {
        {"midi", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &midi, "JACK MIDI output port to record (repeatable; port N is m<N> in the log)", "PORT"},
        {"audio", 'a', 0, G_OPTION_ARG_STRING_ARRAY, &audio, "JACK audio output port whose RMS to log (repeatable; a<N>)", "PORT"},
        {"mid", 0, 0, G_OPTION_ARG_FILENAME, &mid_path, "write the MIDI events to this .mid (time 0 = our first cycle)", "FILE"},
        {"log", 'l', 0, G_OPTION_ARG_FILENAME, &log_path, "write 'FRAME m<N> on|off|cc|pc CH A B', 'FRAME a<N> rms VALUE' and 'FRAME skip FRAMES' (the server ran those frames without us) and 'FRAME xrun' (the server reported an xrun) lines (- = stdout)", "FILE"},
        {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &duration, "stop after this many seconds (default: until SIGINT/SIGTERM)", "S"},
        {"rms-window", 0, 0, G_OPTION_ARG_DOUBLE, &window_ms, "RMS window in ms (default 100)", "MS"},
        {"server", 's', 0, G_OPTION_ARG_STRING, &server, "JACK server name (default: $JACK_DEFAULT_SERVER or 'default')", "NAME"},
        {"name", 'n', 0, G_OPTION_ARG_STRING, &name, "JACK client name (default: record)", "NAME"},
        {"wait", 'w', 0, G_OPTION_ARG_DOUBLE, &wait, "seconds to wait for each port to appear (default 5)", "S"},
        {"dump", 0, 0, G_OPTION_ARG_FILENAME, &dump, "no JACK: print FILE.mid in the log format (port 'mid', frames at 48 kHz from time 0) to --log or stdout", "FILE.mid"},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx = g_option_context_new("--midi PORT [--audio PORT] [--mid FILE] [--log FILE]");
    g_option_context_set_summary(ctx,
        "Records JACK MIDI ports with absolute frame times (the server's frame clock, so\n"
        "several clients' logs compare directly) and audio ports' RMS per window. The log is\n"
        "written as it goes; the .mid when recording stops. Exit 0 after SIGINT/SIGTERM or\n"
        "--duration; 1 if the server shuts down (files are still written).");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc != 1 || (!midi && !audio && !dump)) {
        fprintf(stderr, "continuo-record: %s\n", err ? err->message : "nothing to record (see --help)");
        return 2;
    }
    g_option_context_free(ctx);
    if (dump) return dump_mid(dump, log_path);
    int n_midi = midi ? (int)g_strv_length(midi) : 0, n_audio = audio ? (int)g_strv_length(audio) : 0;

    stop_signals_init(); /* before libjack starts its threads */

    FILE *log = NULL;
    if (log_path) {
        log = strcmp(log_path, "-") ? fopen(log_path, "w") : stdout;
        if (!log) {
            fprintf(stderr, "continuo-record: %s: cannot write\n", log_path);
            return 1;
        }
    }
    jack_recorder *r = jack_recorder_new(name ? name : "record", server, n_midi, n_audio,
                                         window_ms / 1000.0, &err);
    if (!r) {
        fprintf(stderr, "continuo-record: %s\n", err->message);
        return 1;
    }
    for (int i = 0; i < n_midi; i++)
        if (!jack_recorder_connect_midi(r, i, midi[i], wait, &err)) goto fail;
    for (int i = 0; i < n_audio; i++)
        if (!jack_recorder_connect_audio(r, i, audio[i], wait, &err)) goto fail;
    if (log)
        fprintf(log, "# continuo-record: rate %u period %u start_frame %llu\n", jack_recorder_rate(r),
                jack_recorder_period(r), (unsigned long long)jack_recorder_start_frame(r));

    GArray *items = g_array_new(FALSE, FALSE, sizeof(jrec_item));
    gint64 t_end = duration > 0 ? g_get_monotonic_time() + (gint64)(duration * 1e6) : 0;
    int status = 0;
    for (;;) {
        int sig = stop_signals_wait(20);
        guint from = items->len;
        jack_recorder_drain(r, items);
        if (log) write_items(log, items, from);
        if (sig) break;
        if (t_end && g_get_monotonic_time() >= t_end) break;
        if (jack_recorder_dead(r)) {
            fprintf(stderr, "continuo-record: the JACK server shut down; writing what was recorded\n");
            status = 1;
            break;
        }
    }
    guint from = items->len;
    jack_recorder_drain(r, items);
    if (log) write_items(log, items, from);
    uint64_t start = jack_recorder_start_frame(r);
    uint32_t rate = jack_recorder_rate(r);
    long n_events = 0;
    GArray *events = cn_events_new();
    for (guint i = 0; i < items->len; i++) {
        const jrec_item *it = &g_array_index(items, jrec_item, i);
        if (it->kind != JREC_MIDI) continue;
        cn_event e = {(double)(it->frame - start) / rate, it->type, it->channel, it->a, it->b};
        g_array_append_val(events, e);
        n_events++;
    }
    if (mid_path && !midifile_save(mid_path, events, TRUE, &err)) {
        fprintf(stderr, "continuo-record: %s\n", err->message);
        g_clear_error(&err);
        status = 1;
    }
    fprintf(stderr, "continuo-record: %ld MIDI events, %llu dropped\n", n_events,
            (unsigned long long)jack_recorder_drops(r));
    if (log && log != stdout) fclose(log);
    g_array_free(events, TRUE);
    g_array_free(items, TRUE);
    jack_recorder_free(r);
    return status;

fail:
    fprintf(stderr, "continuo-record: %s\n", err->message);
    jack_recorder_free(r);
    return 1;
}
