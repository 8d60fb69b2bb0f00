/* cli_number.c — decimal options through the one number parser (see cli_number.h). */
#include <math.h>
#include <string.h>
#include "cli_number.h"
#include "error.h"
#include "settings.h"

static const cli_number *find(const cli_number *t, const char *option_name)
{
    for (; t->long_name; t++) {
        if (option_name[0] == '-' && option_name[1] == '-' && !strcmp(option_name + 2, t->long_name))
            return t;
        if (t->short_name && option_name[0] == '-' && option_name[1] == t->short_name &&
            !option_name[2])
            return t;
    }
    return NULL;
}

gboolean cli_number_cb(const gchar *option_name, const gchar *value, gpointer data, GError **err)
{
    const cli_number *n = find(data, option_name);
    if (!n) {
        g_set_error(err, CN_ERROR, CN_ERR_ARG, "%s: not a decimal option", option_name);
        return FALSE;
    }
    gchar *who = g_strconcat("--", n->long_name, NULL);
    double x;
    gboolean ok = n->setting >= 0 ? settings_parse((setting_id)n->setting, value, who, &x, err)
                                  : settings_parse_number(value, who, &x, err);
    if (ok && n->setting < 0 && ((n->lo_open ? !(x > n->lo) : !(x >= n->lo)) || !(x <= n->hi))) {
        if (isinf(n->hi))
            g_set_error(err, CN_ERROR, CN_ERR_ARG, "%s must be %s %g", who, n->lo_open ? ">" : ">=",
                        n->lo);
        else
            g_set_error(err, CN_ERROR, CN_ERR_ARG, "%s must be in %c%g, %g]", who,
                        n->lo_open ? '(' : '[', n->lo, n->hi);
        ok = FALSE;
    }
    if (ok) *n->out = x;
    g_free(who);
    return ok;
}

GOptionGroup *cli_number_group(const char *name, const GOptionEntry *entries,
                               const cli_number *numbers)
{
    GOptionGroup *g = g_option_group_new(name, "", "", (gpointer)numbers, NULL);
    g_option_group_add_entries(g, entries);
    return g;
}
