/* cli_number.h — the command line's decimal options, all read by one
 * GOption callback through settings_parse_number (engine/settings.h), so NaN,
 * infinities and stray text are refused with one line, and a value that is
 * a session setting is checked against the settings table's range.
 *
 * A command lists its decimal options in a cli_number table (ending with a
 * NULL long_name), gives its entries G_OPTION_ARG_CALLBACK with
 * cli_number_cb, and makes the table the user data of their group
 * (cli_number_group). Not real-time safe. */
#ifndef CONTINUO_CLI_NUMBER_H
#define CONTINUO_CLI_NUMBER_H

#include <stdbool.h>
#include <glib.h>

typedef struct {
    const char *long_name; /* without "--" */
    char short_name;       /* 0: none */
    double *out;
    int setting;           /* a setting_id (its name, range and unit), or -1: lo/hi below */
    double lo, hi;         /* setting -1: the range, [lo, hi] (hi may be INFINITY) */
    bool lo_open;          /* lo itself excluded */
} cli_number;

/* The GOption callback for every entry of a cli_number table (data: the table). */
gboolean cli_number_cb(const gchar *option_name, const gchar *value, gpointer data, GError **err);

/* A main group holding `entries` whose callbacks get `numbers` as data. */
GOptionGroup *cli_number_group(const char *name, const GOptionEntry *entries,
                               const cli_number *numbers);

#endif
