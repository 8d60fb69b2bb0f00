/* reload.c — preset + overrides, and the box that carries a reloaded
 * preset to the session's thread (see reload.h). */
#include <math.h>
#include "error.h"
#include "reload.h"

void jam_overrides_none(jam_overrides *ov)
{
    *ov = (jam_overrides){.seed = -1, .temperature = NAN, .quantize_grid = NAN,
                          .quantize_strength = NAN, .duet_bars = -1};
}

gboolean jam_preset_load(const char *preset_path, const jam_overrides *ov, session_config *c,
                         host_config *hc, GError **err)
{
    host_config h;
    if (!preset_load(preset_path, c, &h, err)) return FALSE;
    if (ov) {
        if (ov->mode && !session_mode_parse(ov->mode, &c->mode)) {
            g_set_error(err, CN_ERROR, CN_ERR_ARG, "--mode: '%s' is not duet, accompany or solo",
                        ov->mode);
            return FALSE;
        }
        if (ov->seed >= 0) c->seed = (uint64_t)ov->seed;
        if (!isnan(ov->temperature)) c->sampling.temperature = (float)ov->temperature;
        if (!isnan(ov->quantize_grid)) c->quantize_grid = ov->quantize_grid;
        if (!isnan(ov->quantize_strength)) c->quantize_strength = ov->quantize_strength;
        if (ov->duet_bars >= 0) c->duet_bars = ov->duet_bars;
        if (ov->no_audio) h.audio = false;
        if (ov->reconnect) h.reconnect = true;
        if (ov->no_reconnect) h.reconnect = false;
    }
    if (!session_config_check(c, err)) return FALSE;
    if (hc) *hc = h;
    return TRUE;
}

struct reload_box {
    GMutex mu;
    bool full;
    session_config c;
};

reload_box *reload_box_new(void)
{
    reload_box *b = g_new0(reload_box, 1);
    g_mutex_init(&b->mu);
    return b;
}

void reload_box_free(reload_box *b)
{
    if (!b) return;
    g_mutex_clear(&b->mu);
    g_free(b);
}

void reload_box_post(reload_box *b, const session_config *c)
{
    g_mutex_lock(&b->mu);
    b->c = *c;
    b->full = true;
    g_mutex_unlock(&b->mu);
}

bool reload_box_take(reload_box *b, session_config *c)
{
    if (!g_mutex_trylock(&b->mu)) return false;
    bool got = b->full;
    if (got) {
        *c = b->c;
        b->full = false;
    }
    g_mutex_unlock(&b->mu);
    return got;
}
