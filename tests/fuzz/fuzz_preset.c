/* fuzz_preset.c — libFuzzer target: the preset loader
 * (session_config_load, engine/session_config.c) on any bytes, and a preset
 * it accepts driving a short session (a small random model) under a virtual
 * clock the way tests/test_session.c does: performer notes from the preset's
 * own bytes for 3 s, then panic and drain. Checks: a refused preset has an
 * error; an accepted one passes session_config_check and makes a session;
 * released events never go back in time nor come before the clock, and
 * after the drain no model note is left sounding. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>
#include <glib.h>
#include "session.h"
#include "session_config.h"
#include "model.h"
#include "test_models.h"

#define DT (128.0 / 48000.0)

static model *tiny_model(void)
{
    static model *m;
    if (m) return m;
    model_config c;
    model_random_default_config(&c);
    c.dim = 16;
    c.n_layers = 1;
    c.n_heads = 2;
    c.hidden_dim = 32;
    c.seq_len = 48;
    float *p = model_random_params(&c, 1, 0.1f);
    GError *err = NULL;
    char *path = test_model_write_temp(&c, p, "fuzz-preset", &err);
    g_free(p);
    if (!path || !(m = model_load(path, &err))) abort();
    unlink(path);
    g_free(path);
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz-preset-%d.ini", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    session_config c;
    session_config_defaults(&c);
    GError *err = NULL;
    if (!session_config_load(&c, path, &err)) {
        if (!err) abort();
        g_error_free(err);
        return 0;
    }
    if (!session_config_check(&c, &err)) abort(); /* load promises a checked config */
    session *s = session_new(&c, tiny_model(), &err);
    if (!s) abort();
    int sounding[16][128] = {{0}};
    double now = 0, last = -INFINITY;
    size_t k = 0;
    cn_event out[32];
    for (int tick = 0; now < 3.0; tick++, now += DT) {
        if (tick % 40 == 0 && size) { /* a performer note from the preset's bytes */
            uint8_t b = data[k++ % size];
            cn_event e = {now, (b & 1) ? CN_EV_NOTE_OFF : CN_EV_NOTE_ON, 0, (uint8_t)(36 + b % 48),
                          (uint8_t)(b & 1 ? 0 : 80)};
            session_input(s, &e);
        }
        session_step(s, now);
        int n;
        while ((n = session_take_due(s, now, now + 2 * DT, out, 32)) > 0)
            for (int i = 0; i < n; i++) {
                if (out[i].time < last - 1e-9 || out[i].time < now - 1e-9) abort();
                last = out[i].time;
                if (out[i].type == CN_EV_NOTE_ON) sounding[out[i].channel & 15][out[i].a & 127]++;
                else if (out[i].type == CN_EV_NOTE_OFF && sounding[out[i].channel & 15][out[i].a & 127])
                    sounding[out[i].channel & 15][out[i].a & 127]--;
            }
    }
    session_panic(s, now);
    int n;
    while ((n = session_take_due(s, now, INFINITY, out, 32)) > 0)
        for (int i = 0; i < n; i++) {
            if (out[i].time < last - 1e-9) abort();
            last = out[i].time;
            if (out[i].type == CN_EV_NOTE_ON) sounding[out[i].channel & 15][out[i].a & 127]++;
            else if (out[i].type == CN_EV_NOTE_OFF && sounding[out[i].channel & 15][out[i].a & 127])
                sounding[out[i].channel & 15][out[i].a & 127]--;
        }
    for (int ch = 0; ch < 16; ch++)
        for (int p = 0; p < 128; p++)
            if (sounding[ch][p]) abort(); /* a note the session left sounding */
    session_free(s);
    return 0;
}
