/* perform.c — continuo-perform FILE.mid --to PORT: a virtual performer.
 * Plays a MIDI file into JACK MIDI port(s) in real time at exact frames
 * (tools/lib/jack_player.c), then exits. Used by the e2e tests, the
 * benchmark and tools/jam-demo. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "error.h"
#include "jack_player.h"
#include "midi_msg.h"
#include "midifile.h"
#include "stop_signals.h"

static const char *type_name(uint8_t t)
{
    switch (t) {
    case CN_EV_NOTE_ON: return "on";
    case CN_EV_NOTE_OFF: return "off";
    case CN_EV_CC: return "cc";
    case CN_EV_PROGRAM: return "pc";
    default: return "?";
    }
}

int main(int argc, char **argv)
{
    char **to = NULL, **ccs = NULL, *server = NULL, *name = NULL, *log_path = NULL;
    double delay = 0.1, wait = 5.0, tail = 0.1;
    int channel = -1;
    GOptionEntry entries[] = {
        {"to", 't', 0, G_OPTION_ARG_STRING_ARRAY, &to, "JACK MIDI input port to play into (repeatable)", "PORT"},
        {"server", 's', 0, G_OPTION_ARG_STRING, &server, "JACK server name (default: $JACK_DEFAULT_SERVER or 'default')", "NAME"},
        {"name", 'n', 0, G_OPTION_ARG_STRING, &name, "JACK client name (default: perform)", "NAME"},
        {"delay", 'd', 0, G_OPTION_ARG_DOUBLE, &delay, "seconds between connecting and the first event (default 0.1)", "S"},
        {"wait", 'w', 0, G_OPTION_ARG_DOUBLE, &wait, "seconds to wait for each --to port to appear (default 5)", "S"},
        {"channel", 'c', 0, G_OPTION_ARG_INT, &channel, "send every event on this MIDI channel 0..15 (default: the file's)", "CH"},
        {"cc", 0, 0, G_OPTION_ARG_STRING_ARRAY, &ccs, "also send a control change at TIME seconds of the file (repeatable; e.g. 2.5:123:0 = all notes off)", "TIME:CC:VALUE"},
        {"log", 'l', 0, G_OPTION_ARG_FILENAME, &log_path, "write the frame of every event sent: 'FRAME p0 on|off|cc|pc CH A B' lines", "FILE"},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx = g_option_context_new("FILE.mid --to PORT");
    g_option_context_set_summary(ctx,
        "Plays a MIDI file into a JACK MIDI port in real time, each event at its exact frame\n"
        "(start frame + round(time x rate)), then exits 0. SIGINT/SIGTERM stop it early with\n"
        "note-offs for every note it left sounding. Never starts a JACK server.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc != 2 || !to || !to[0]) {
        fprintf(stderr, "continuo-perform: %s\n", err ? err->message : "need FILE.mid and --to PORT (see --help)");
        return 2;
    }
    g_option_context_free(ctx);
    if (channel > 15) {
        fprintf(stderr, "continuo-perform: --channel must be 0..15\n");
        return 2;
    }

    GArray *events = midifile_load(argv[1], &err);
    if (!events) {
        fprintf(stderr, "continuo-perform: %s\n", err->message);
        return 1;
    }
    for (int i = 0; ccs && ccs[i]; i++) {
        double t;
        int cc, val;
        char tail;
        if (sscanf(ccs[i], "%lf:%d:%d%c", &t, &cc, &val, &tail) != 3 || t < 0 || cc < 0 || cc > 127 ||
            val < 0 || val > 127) {
            fprintf(stderr, "continuo-perform: --cc '%s': want TIME:CC:VALUE (CC, VALUE 0..127)\n", ccs[i]);
            return 2;
        }
        cn_event e = {t, CN_EV_CC, 0, (uint8_t)cc, (uint8_t)val};
        g_array_append_val(events, e);
    }
    cn_events_sort(events);
    if (channel >= 0)
        for (guint i = 0; i < events->len; i++) g_array_index(events, cn_event, i).channel = (uint8_t)channel;

    stop_signals_init(); /* before libjack starts its threads */

    jack_player *p = jack_player_new(name ? name : "perform", server, &err);
    if (!p) {
        fprintf(stderr, "continuo-perform: %s\n", err->message);
        return 1;
    }
    for (int i = 0; to[i]; i++)
        if (!jack_player_connect(p, to[i], wait, &err)) {
            fprintf(stderr, "continuo-perform: %s\n", err->message);
            jack_player_free(p);
            return 1;
        }
    jack_player_start(p, events, delay, NULL);

    int status = 0;
    bool stopped = false;
    while (!jack_player_done(p)) {
        if (stop_signals_wait(20) && !stopped) {
            jack_player_stop(p);
            stopped = true;
        }
        if (jack_player_dead(p)) {
            fprintf(stderr, "continuo-perform: the JACK server shut down; stopping\n");
            status = 1;
            break;
        }
    }
    /* let the last cycle reach its readers before the port goes away */
    g_usleep((gulong)(tail * 1e6));

    if (log_path) {
        FILE *f = fopen(log_path, "w");
        if (!f) {
            fprintf(stderr, "continuo-perform: %s: cannot write\n", log_path);
            status = 1;
        } else {
            fprintf(f, "# continuo-perform: rate %u start_frame %llu\n", jack_player_rate(p),
                    (unsigned long long)jack_player_start_frame(p));
            uint64_t sent = jack_player_sent(p);
            for (guint i = 0; i < events->len && i < sent; i++) {
                const cn_event *e = &g_array_index(events, cn_event, i);
                uint8_t msg[3] = {0, 0, 0}; /* log the bytes as sent (note-off velocity 64) */
                midi_msg_encode(e->type, e->channel, e->a, e->b, msg);
                fprintf(f, "%llu p0 %s %u %u %u\n", (unsigned long long)jack_player_event_frame(p, i),
                        type_name(e->type), e->channel, e->a, e->type == CN_EV_PROGRAM ? 0 : msg[2]);
            }
            fclose(f);
        }
    }
    fprintf(stderr, "continuo-perform: sent %llu of %u events from frame %llu (late %llu)%s\n",
            (unsigned long long)jack_player_sent(p), events->len,
            (unsigned long long)jack_player_start_frame(p), (unsigned long long)jack_player_late(p),
            stopped ? ", stopped early" : "");
    jack_player_free(p);
    g_array_free(events, TRUE);
    g_strfreev(to);
    g_strfreev(ccs);
    return status;
}
