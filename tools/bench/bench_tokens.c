/* bench_tokens.c — continuo-bench tokens: the tokenizer over a whole corpus
 * (by default every ASAP performance): encoder throughput in MIDI events per
 * second, decoder throughput in tokens per second, and the round-trip errors
 * file -> tokens -> events against the notes the raw events should sound
 * (tools/corpus/notecheck.c, pedal folded in): every note must come back
 * within NC_ONSET_TOL / NC_DUR_TOL (5 / 10 ms, the 10 ms grid); the
 * decoder's note cap is the one legitimate change, counted apart
 * (tokens_notes_over_cap). Exit status 1 when a note mismatches. */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "bench.h"
#include "midifile.h"
#include "notecheck.h"
#include "splitlist.h"
#include "token.h"

/* Where the encoder's clock starts (token time 0). */
static double first_note_on(const GArray *evs)
{
    for (guint i = 0; i < evs->len; i++) {
        const cn_event *e = &g_array_index(evs, cn_event, i);
        if (e->type == CN_EV_NOTE_ON && e->b) return e->time;
    }
    return 0;
}

typedef struct {
    nc_result r;
    guint64 n_events, n_tokens, n_long_gaps;
    gint64 t_load, t_enc, t_dec; /* microseconds */
    double longest;              /* seconds: the longest reference note */
    guint files, bad;
} totals;

/* One file: load, encode, decode, compare; adds to t. */
static void check_file(const char *path, double cap, gboolean verbose, totals *t)
{
    GError *err = NULL;
    gint64 t0 = g_get_monotonic_time();
    GArray *evs = midifile_load(path, &err);
    t->t_load += g_get_monotonic_time() - t0;
    if (!evs) {
        fprintf(stderr, "continuo-bench tokens: skipped %s\n", err->message);
        g_error_free(err);
        t->bad++;
        return;
    }
    /* encode (one event at a time, as the live session does), then decode
     * with the clock starting where the encoder's did: the first NOTE_ON */
    t0 = g_get_monotonic_time();
    GArray *toks = tok_encode_events(evs);
    t->t_enc += g_get_monotonic_time() - t0;
    t0 = g_get_monotonic_time();
    GArray *dec = tok_decode_tokens_full((const int *)toks->data, toks->len, first_note_on(evs),
                                         0, cap);
    t->t_dec += g_get_monotonic_time() - t0;

    GArray *ref = notecheck_reference(evs), *out = notecheck_pair(dec);
    nc_result fr = {0};
    notecheck_compare(ref, out, cap, &fr);
    notecheck_merge(&t->r, &fr);
    for (guint k = 0; k < ref->len; k++) {
        const nc_note *x = &g_array_index(ref, nc_note, k);
        if (x->off - x->on > t->longest) t->longest = x->off - x->on;
    }
    for (guint k = 0; k < toks->len; k++) /* a silence longer than one TIME_SHIFT_100 */
        t->n_long_gaps += g_array_index(toks, int, k) == TOK_TIME_SHIFT + TOK_MAX_SHIFT &&
                          (k == 0 || !tok_is_shift(g_array_index(toks, int, k - 1)));
    if (verbose)
        fprintf(stderr, "%s: %u events, %u tokens, %zu notes, onset %.2f ms, duration %.2f ms, "
                "%zu mismatches\n", path, evs->len, toks->len, fr.n_ref, fr.max_onset_err * 1e3,
                fr.max_dur_err * 1e3, notecheck_mismatches(&fr));
    t->n_events += evs->len;
    t->n_tokens += toks->len;
    t->files++;
    g_array_free(ref, TRUE);
    g_array_free(out, TRUE);
    g_array_free(dec, TRUE);
    g_array_free(toks, TRUE);
    g_array_free(evs, TRUE);
}

static void print_totals(const totals *t, const char *corpus, double cap)
{
    const nc_result *r = &t->r;
    printf("tokens_corpus: %s\n", corpus);
    printf("tokens_files: %u files\n", t->files);
    printf("tokens_bad_files: %u files\n", t->bad);
    printf("tokens_events: %" G_GUINT64_FORMAT " events\n", t->n_events);
    printf("tokens_notes: %zu notes\n", r->n_ref);
    printf("tokens_tokens: %" G_GUINT64_FORMAT " tokens\n", t->n_tokens);
    printf("tokens_load_rate: %.0f events/s\n", t->t_load ? t->n_events * 1e6 / t->t_load : 0.0);
    printf("tokens_encode_rate: %.0f events/s\n", t->t_enc ? t->n_events * 1e6 / t->t_enc : 0.0);
    printf("tokens_decode_rate: %.0f tokens/s\n", t->t_dec ? t->n_tokens * 1e6 / t->t_dec : 0.0);
    printf("tokens_roundtrip_notes_checked: %zu notes\n", r->n_ref - MIN(r->n_ref, r->n_missing));
    printf("tokens_roundtrip_max_onset_error: %.3f ms\n", r->max_onset_err * 1e3);
    printf("tokens_roundtrip_max_duration_error: %.3f ms\n", r->max_dur_err * 1e3);
    printf("tokens_roundtrip_missing_notes: %zu notes\n", r->n_missing);
    printf("tokens_roundtrip_onset_over_5ms: %zu notes\n", r->n_onset_over);
    printf("tokens_roundtrip_duration_over_10ms: %zu notes\n", r->n_dur_over);
    printf("tokens_roundtrip_velocity_bin_errors: %zu notes\n", r->n_vel_bin_wrong);
    printf("tokens_roundtrip_mismatches: %zu notes\n", notecheck_mismatches(r));
    printf("tokens_notes_ended_by_file_end: %zu notes\n", r->n_at_end);
    printf("tokens_silences_over_max_shift: %" G_GUINT64_FORMAT " gaps\n", t->n_long_gaps);
    printf("tokens_longest_note: %.2f s\n", t->longest);
    printf("tokens_notes_over_cap: %zu notes (cap %g s)\n", r->n_capped, cap);
}

int bench_tokens(int argc, char **argv)
{
    char *data = NULL, *split_file = NULL, *kind = NULL;
    gboolean verbose = FALSE;
    double cap = TOK_DEC_DEFAULT_MAX_NOTE_LEN;
    GOptionEntry entries[] = {
        {"data", 'd', 0, G_OPTION_ARG_FILENAME, &data,
         "corpus folder (default $CONTINUO_DATA/asap, else ../shared/data/asap)", "DIR"},
        {"split-file", 's', 0, G_OPTION_ARG_FILENAME, &split_file,
         "file list (default DIR/SPLITS.tsv; without one, every MIDI file under DIR)", "TSV"},
        {"kind", 'k', 0, G_OPTION_ARG_STRING, &kind, "rows of this kind (default performance)",
         "K"},
        {"max-note-len", 0, 0, G_OPTION_ARG_DOUBLE, &cap,
         "decoder note cap in seconds (default 120, token.h; 0 = none)", "S"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "one line per file on stderr", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx = g_option_context_new("");
    g_option_context_set_summary(ctx, "Tokenizer throughput and round-trip errors over a corpus.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    GPtrArray *list = NULL;
    int status = 0;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "continuo-bench tokens: %s\n", err->message);
        status = 2;
        goto out;
    }
    if (!data) {
        const char *env = g_getenv("CONTINUO_DATA");
        data = g_build_filename(env && *env ? env : "../shared/data", "asap", NULL);
    }
    if (!split_file) {
        split_file = g_build_filename(data, "SPLITS.tsv", NULL);
        if (!g_file_test(split_file, G_FILE_TEST_EXISTS)) g_clear_pointer(&split_file, g_free);
    }
    list = split_file ? splitlist_read(split_file, data, kind ? kind : "performance", NULL, &err)
                      : splitlist_scan(data, &err);
    if (!list) {
        fprintf(stderr, "continuo-bench tokens: %s\n", err->message);
        status = 1;
        goto out;
    }

    totals t = {0};
    for (guint i = 0; i < list->len; i++)
        check_file(((const splitlist_entry *)g_ptr_array_index(list, i))->path, cap, verbose, &t);
    print_totals(&t, split_file ? split_file : data, cap);
    if (t.files == 0 || notecheck_mismatches(&t.r)) status = 1;
out:
    if (err) g_error_free(err);
    if (list) g_ptr_array_unref(list);
    g_free(data);
    g_free(split_file);
    g_free(kind);
    g_option_context_free(ctx);
    return status;
}
