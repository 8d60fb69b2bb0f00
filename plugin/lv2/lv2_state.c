/* lv2_state.c — the LV2 plugin's engine setup and its saved state: finding
 * the model and the preset from the bundle's place, building the session,
 * and the state extension (preset, model path and seed saved with the
 * host's project; the control ports are saved by the host itself).
 * Nothing here is real-time safe; it runs in instantiate() and in the
 * host's state save/restore (never concurrently with run()'s pass: the
 * session is swapped under mu). */
#include <math.h>
#include <string.h>
#include <lv2/core/lv2_util.h>
#include <lv2/state/state.h>
#include "error.h"
#include "lv2_plugin.h"
#include "host_config.h"
#include "paths.h"

/* ----------------------------------------------------------------------------
 * Finding files */

char *lv2_find_model(const char *bundle, const char *option, GError **err)
{
    return paths_find(PATHS_MODEL, NULL, option, bundle, err);
}

char *lv2_find_preset(const char *bundle, const char *name, GError **err)
{
    return paths_find(PATHS_PRESET, name, NULL, bundle, err);
}

/* ----------------------------------------------------------------------------
 * The engine */

gboolean lv2_engine_load(lv2_plugin *p, const char *preset, const char *model_path, GError **err)
{
    if (!preset) preset = p->preset ? p->preset : LV2_DEFAULT_PRESET;
    char *preset_path = lv2_find_preset(p->bundle, preset, err);
    if (!preset_path) return FALSE;
    session_config c; /* the preset's [output] is checked; the ports say audio and thru */
    if (!preset_load(preset_path, &c, NULL, err)) {
        g_free(preset_path);
        return FALSE;
    }
    if (p->seed) c.seed = p->seed;

    char *mpath = model_path ? g_strdup(model_path)
                  : p->model_path ? g_strdup(p->model_path)
                                  : lv2_find_model(p->bundle, NULL, err);
    if (!mpath) {
        g_free(preset_path);
        return FALSE;
    }
    /* Same file: keep the loaded weights (the old session goes first). */
    model *m = NULL;
    bool same = p->m && p->model_path && !strcmp(p->model_path, mpath);
    if (!same && !(m = model_load(mpath, err))) {
        g_free(preset_path);
        g_free(mpath);
        return FALSE;
    }
    session *s = session_new(&c, same ? p->m : m, err);
    if (!s) {
        model_free(m);
        g_free(preset_path);
        g_free(mpath);
        return FALSE;
    }
    cn_event *take = g_new0(cn_event, 256);

    g_mutex_lock(&p->mu);
    session *old_s = p->sess;
    model *old_m = same ? NULL : p->m;
    cn_event *old_take = p->take_ev;
    p->sess = s;
    if (!same) p->m = m;
    p->take_ev = take;
    p->cfg = c;
    char *t = p->preset;
    p->preset = g_strdup(preset);
    g_free(t);
    g_free(p->preset_path);
    p->preset_path = preset_path;
    g_free(p->model_path);
    p->model_path = mpath;
    for (int i = 0; i < PORT_COUNT; i++) p->applied[i] = NAN; /* the ports apply at the next pass */
    memset(&p->position, 0, sizeof p->position);
    p->position_bar_known = false;
    g_mutex_unlock(&p->mu);

    if (old_s) {
        session_free(old_s);
        /* the old session's notes may sound at the output: run() ends them */
        atomic_store_explicit(&p->flush_request, true, memory_order_release);
    }
    model_free(old_m);
    g_free(old_take);
    return TRUE;
}

void lv2_engine_free(lv2_plugin *p)
{
    session_free(p->sess);
    model_free(p->m);
    g_free(p->take_ev);
    g_free(p->preset);
    g_free(p->preset_path);
    g_free(p->model_path);
    p->sess = NULL;
    p->m = NULL;
}

/* ----------------------------------------------------------------------------
 * The state extension */

/* path as the host maps it (abstract: relative to its project, for saving;
 * else absolute, for restoring), a g_malloc'd copy; path itself when the
 * host offers no mapPath. */
static char *host_path(const LV2_Feature *const *features, const char *path, bool abstract)
{
    const LV2_State_Map_Path *map = lv2_features_data(features, LV2_STATE__mapPath);
    const LV2_State_Free_Path *free_path = lv2_features_data(features, LV2_STATE__freePath);
    char *mapped = !map ? NULL
                   : abstract ? map->abstract_path(map->handle, path)
                              : map->absolute_path(map->handle, path);
    char *out = g_strdup(mapped ? mapped : path);
    if (mapped) {
        if (free_path) free_path->free_path(free_path->handle, mapped);
        else free(mapped);
    }
    return out;
}

static LV2_State_Status save(LV2_Handle instance, LV2_State_Store_Function store,
                             LV2_State_Handle handle, uint32_t flags,
                             const LV2_Feature *const *features)
{
    lv2_plugin *p = instance;
    const uint32_t pod = LV2_STATE_IS_POD | LV2_STATE_IS_PORTABLE;

    g_mutex_lock(&p->mu);
    char *preset = g_strdup(p->preset);
    char *model_path = g_strdup(p->model_path);
    int64_t seed = (int64_t)(p->seed ? p->seed : p->cfg.seed); /* the one in use */
    g_mutex_unlock(&p->mu);

    LV2_State_Status st = LV2_STATE_SUCCESS;
    if (preset)
        st = store(handle, p->uris.cn_preset, preset, strlen(preset) + 1, p->uris.atom_String, pod);
    if (st == LV2_STATE_SUCCESS && model_path) {
        /* The host's abstract form (relative to its project) when it offers one. */
        char *v = host_path(features, model_path, true);
        st = store(handle, p->uris.cn_model, v, strlen(v) + 1, p->uris.atom_Path, pod);
        g_free(v);
    }
    if (st == LV2_STATE_SUCCESS && seed)
        st = store(handle, p->uris.cn_seed, &seed, sizeof seed, p->uris.atom_Long, pod);
    g_free(preset);
    g_free(model_path);
    return st;
}

static LV2_State_Status restore(LV2_Handle instance, LV2_State_Retrieve_Function retrieve,
                                LV2_State_Handle handle, uint32_t flags,
                                const LV2_Feature *const *features)
{
    lv2_plugin *p = instance;
    size_t size;
    uint32_t type, vflags;

    const char *preset = retrieve(handle, p->uris.cn_preset, &size, &type, &vflags);
    char *preset_s = preset && type == p->uris.atom_String && size > 1 ? g_strndup(preset, size) : NULL;
    const char *mp = retrieve(handle, p->uris.cn_model, &size, &type, &vflags);
    char *model_s = NULL;
    if (mp && type == p->uris.atom_Path && size > 1) {
        model_s = host_path(features, mp, false);
    }
    const int64_t *seed = retrieve(handle, p->uris.cn_seed, &size, &type, &vflags);
    uint64_t new_seed = seed && type == p->uris.atom_Long && size == sizeof *seed ? (uint64_t)*seed : 0;

    /* A project moved to another machine: its model path may not exist
     * there; the shipped model is the best guess (said in the log). */
    if (model_s && !g_file_test(model_s, G_FILE_TEST_IS_REGULAR)) {
        lv2_log_warning(&p->logger, "continuo: saved model %s not found; using the default\n", model_s);
        g_free(model_s);
        model_s = lv2_find_model(p->bundle, NULL, NULL);
    }
    p->seed = new_seed;
    GError *err = NULL;
    gboolean ok = lv2_engine_load(p, preset_s ? preset_s : LV2_DEFAULT_PRESET, model_s, &err);
    if (!ok) {
        lv2_log_error(&p->logger, "continuo: state restore: %s\n", err->message);
        g_error_free(err);
    }
    g_free(preset_s);
    g_free(model_s);
    return ok ? LV2_STATE_SUCCESS : LV2_STATE_ERR_UNKNOWN;
}

static const LV2_State_Interface state_iface = {save, restore};

const void *lv2_state_interface(void) { return &state_iface; }
