/* splitlist.c — file lists for the corpus tools: SPLITS.tsv by column name,
 * or a recursive scan of a folder for MIDI files. */
#include <string.h>
#include "error.h"
#include "splitlist.h"

static void entry_free(gpointer p)
{
    splitlist_entry *e = p;
    g_free(e->path);
    g_free(e->split);
    g_free(e);
}

static void add_entry(GPtrArray *list, char *path, const char *split)
{
    splitlist_entry *e = g_new(splitlist_entry, 1);
    e->path = path;
    e->split = g_strdup(split);
    g_ptr_array_add(list, e);
}

static int column(char **names, const char *name)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(g_strstrip(names[i]), name)) return i;
    return -1;
}

GPtrArray *splitlist_read(const char *tsv, const char *dir, const char *kind,
                          gboolean *had_kind, GError **err)
{
    char *text = NULL;
    if (!g_file_get_contents(tsv, &text, NULL, NULL)) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot read the split file", tsv);
        return NULL;
    }
    char **lines = g_strsplit(text, "\n", -1);
    g_free(text);
    GPtrArray *list = g_ptr_array_new_with_free_func(entry_free);
    char **head = lines[0] ? g_strsplit(lines[0], "\t", -1) : g_new0(char *, 1);
    int c_path = column(head, "path"), c_split = column(head, "split"), c_kind = column(head, "kind");
    int n_cols = (int)g_strv_length(head);
    g_strfreev(head);
    if (had_kind) *had_kind = c_kind >= 0;
    if (c_path < 0 || c_split < 0) {
        g_set_error(err, CN_ERROR, CN_ERR_FORMAT,
                    "%s: the header row must name a 'path' and a 'split' column (tab-separated)",
                    tsv);
        goto fail;
    }
    for (int ln = 1; lines[ln]; ln++) {
        char *line = g_strchomp(lines[ln]); /* also drops a \r */
        if (!*line) continue;
        char **f = g_strsplit(line, "\t", -1);
        if ((int)g_strv_length(f) < n_cols) {
            g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "%s:%d: %u columns, the header has %d", tsv,
                        ln + 1, g_strv_length(f), n_cols);
            g_strfreev(f);
            goto fail;
        }
        if (!kind || c_kind < 0 || !strcmp(f[c_kind], kind))
            add_entry(list, g_build_filename(dir, f[c_path], NULL), f[c_split]);
        g_strfreev(f);
    }
    g_strfreev(lines);
    return list;
fail:
    g_strfreev(lines);
    g_ptr_array_unref(list);
    return NULL;
}

static gboolean is_midi_name(const char *name)
{
    char *low = g_ascii_strdown(name, -1);
    gboolean ok = g_str_has_suffix(low, ".mid") || g_str_has_suffix(low, ".midi");
    g_free(low);
    return ok;
}

static gboolean scan(const char *dir, GPtrArray *list, GError **err)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot read the folder", dir);
        return FALSE;
    }
    const char *name;
    gboolean ok = TRUE;
    while (ok && (name = g_dir_read_name(d))) {
        char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
            ok = scan(path, list, err);
            g_free(path);
        } else if (is_midi_name(name) && g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            add_entry(list, path, "train");
        } else {
            g_free(path);
        }
    }
    g_dir_close(d);
    return ok;
}

static gint by_path(gconstpointer a, gconstpointer b)
{
    const splitlist_entry *x = *(splitlist_entry *const *)a, *y = *(splitlist_entry *const *)b;
    return strcmp(x->path, y->path);
}

GPtrArray *splitlist_scan(const char *dir, GError **err)
{
    GPtrArray *list = g_ptr_array_new_with_free_func(entry_free);
    if (!scan(dir, list, err)) {
        g_ptr_array_unref(list);
        return NULL;
    }
    g_ptr_array_sort(list, by_path);
    return list;
}
