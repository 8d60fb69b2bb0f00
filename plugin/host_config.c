/* host_config.c — the preset's [output] group (see host_config.h). */
#include <stddef.h>
#include <string.h>
#include "error.h"
#include "read_file.h"
#include "host_config.h"

void host_config_defaults(host_config *h)
{
    h->audio = true;
    h->performer_audio = true;
    h->reconnect = false;
}

static const struct {
    const char *key;
    size_t offset;
} keys[] = {
    {"audio", offsetof(host_config, audio)},
    {"performer_audio", offsetof(host_config, performer_audio)},
    {"reconnect", offsetof(host_config, reconnect)},
};

gboolean host_config_load(host_config *h, const char *path, GError **err)
{
    GKeyFile *kf = g_key_file_new();
    if (!cn_read_keyfile(kf, path, err)) {
        g_key_file_free(kf);
        return FALSE;
    }
    host_config n = *h; /* all or nothing */
    gboolean ok = TRUE;
    const char *g = SESSION_CONFIG_HOST_GROUP;
    gchar **names = g_key_file_get_keys(kf, g, NULL, NULL); /* NULL: no such group */
    for (int i = 0; ok && names && names[i]; i++) {
        size_t k = 0;
        while (k < G_N_ELEMENTS(keys) && strcmp(keys[k].key, names[i])) k++;
        if (k == G_N_ELEMENTS(keys)) {
            char *shown = cn_printable(names[i], 60);
            g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "%s: [%s] %s: unknown key", path, g, shown);
            g_free(shown);
            ok = FALSE;
            break;
        }
        gchar *raw = g_key_file_get_value(kf, g, names[i], NULL);
        const char *val = g_strstrip(raw);
        bool *f = (bool *)((char *)&n + keys[k].offset);
        if (!strcmp(val, "true")) *f = true;
        else if (!strcmp(val, "false")) *f = false;
        else {
            char *shown = cn_printable(val, 60);
            g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "%s: [%s] %s: '%s' is not true or false", path,
                        g, names[i], shown);
            g_free(shown);
            ok = FALSE;
        }
        g_free(raw);
    }
    g_strfreev(names);
    g_key_file_free(kf);
    if (ok) *h = n;
    return ok;
}

gboolean preset_load(const char *path, session_config *c, host_config *h, GError **err)
{
    session_config nc;
    host_config nh;
    session_config_defaults(&nc);
    host_config_defaults(&nh);
    if (!session_config_load(&nc, path, err) || !host_config_load(&nh, path, err)) return FALSE;
    *c = nc;
    if (h) *h = nh;
    return TRUE;
}
