/* reload.c — preset + overrides, and the box that carries a reloaded
 * preset to the session's thread (see reload.h). */
#include "error.h"
#include "reload.h"

gboolean jam_preset_load(const char *preset_path, const jam_overrides *ov, session_config *c,
                         GError **err)
{
    session_config_defaults(c);
    if (!session_config_load(c, preset_path, err)) return FALSE;
    if (ov) {
        if (ov->mode && !session_mode_parse(ov->mode, &c->mode)) {
            g_set_error(err, CN_ERROR, CN_ERR_ARG, "--mode: '%s' is not duet, accompany or solo",
                        ov->mode);
            return FALSE;
        }
        if (ov->seed >= 0) c->seed = (uint64_t)ov->seed;
        if (ov->temperature > 0) c->sampling.temperature = (float)ov->temperature;
        if (ov->no_audio) c->audio = false;
    }
    return session_config_check(c, err);
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
