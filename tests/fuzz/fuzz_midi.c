/* fuzz_midi.c — libFuzzer target: the Standard MIDI File reader
 * (midifile_load, engine/smf_check.c underneath) on any bytes. Checks what
 * midifile.h promises of a file it accepts: events sorted by time, times
 * finite in 0..CN_SMF_MAX_SECONDS, channels and data bytes in range; a
 * refused file always comes with an error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <math.h>
#include <glib.h>
#include "midifile.h"
#include "smf_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz-midi-%d.mid", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    GError *err = NULL;
    GArray *ev = midifile_load(path, &err);
    if (!ev) {
        if (!err) abort();
        g_error_free(err);
        return 0;
    }
    double last = 0;
    for (guint i = 0; i < ev->len; i++) {
        const cn_event *e = &g_array_index(ev, cn_event, i);
        if (!(e->time >= last && e->time <= CN_SMF_MAX_SECONDS + 1e-6)) abort();
        if (e->channel > 15 || e->a > 127 || e->b > 127) abort();
        last = e->time;
    }
    g_array_free(ev, TRUE);
    return 0;
}
